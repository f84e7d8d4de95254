"""The query model as SQL over the `editions` table (pure: text and parameters, no I/O).

`Sql.match(query)` is a condition that holds for exactly the editions the whoosh index matches (the same
tokens per field, AND/OR/NOT, phrases as runs of positions, truncation, years, identifiers). `Sql.score(query)`
is `federator.rank`'s relevance written in SQL over the `rk` and `pub` vectors and the title columns: per
clause the share of its tokens found in each field times the field's weight, the phrase, exact-title and
title-density boosts, the other fields' tenth, identifiers, years and holders. A token is "in a field" when
the field's vector has it (federator.rank asks the folded text for it as a substring or a whole word: the
same answer but for a phrase joined to a longer word, "c语言" in "abc语言"). `Sql.selected(...)` is
`federator.facets.apply` as a condition. Parameters are psycopg's `%(name)s`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from connectors.query import Bool, Clause, Query
from federator import facets as facet_mod
from federator.rank import (
    EXACT_TITLE,
    HOLDERS,
    IDENTIFIER,
    OTHER_FIELDS,
    PHRASE_BOOST,
    TEXT_FIELDS,
    TITLE_DENSITY,
    UNPHRASED,
    WEIGHTS,
    YEAR_MATCH,
    positive_title_terms,
    tokens,
)
from indexer.analysis import _CJK_RUN, query_positions
from indexer.pg.rows import FIELD_WEIGHT, quote
from indexer.schema import isbn_query_term, issn_term
from records.fold import fold

ANY_FIELDS = ("title", "author", "subject", "other")
ALL_WEIGHTS = "".join(FIELD_WEIGHT[f] for f in ANY_FIELDS)
FACET_COLUMNS = {"member": "f_member", "language": "f_language", "material_type": "f_material_type", "clc": "f_clc"}
_RANGE = re.compile(r"^(\d{1,4})?-(\d{1,4})?$")  # a year facet value: 1990-1999, -1949, 2020-
_YEAR_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "<>": "<>"}


class Sql:
    """Builds conditions and expressions; `params` collects their values."""

    def __init__(self, alias: str = "e") -> None:
        self.e = alias
        self.params: dict[str, object] = {}
        self.tests: dict[str, str] = {}  # per-row expression → its column name (`tested`)
        self.gates: dict[str, str] = {}  # per-row tests the tested columns depend on → column name (`gate`)
        self.fields: dict[str, str] = {}  # a field's score over the tests → its column name (`field_score`)

    def param(self, value: object) -> str:
        """A placeholder for `value` (kept in `params`)."""
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"%({name})s"

    # ---------------------------------------------------------------- matching (as the whoosh index)
    def match(self, node: Query) -> str:
        if isinstance(node, Clause):
            return self._clause(node)
        assert isinstance(node, Bool)
        left, right = self.match(node.left), self.match(node.right)
        if node.op == "and":
            return f"({left} AND {right})"
        if node.op == "or":
            return f"({left} OR {right})"
        return f"({left} AND NOT COALESCE({right}, false))"

    def _tsq(self, column: str, tsquery: str) -> str:
        return f"({self.e}.{column} @@ CAST({self.param(tsquery)} AS tsquery))"

    def _suffix(self, column: str, token: str, weights: str) -> str:
        """A word of the field ends with `token` (left truncation, which tsquery cannot say)."""
        pattern = "%" + token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where = f"u.lexeme LIKE {self.param(pattern)}"
        if weights:
            where += f" AND u.weights && CAST({self.param(list(weights))} AS text[])"
        return f"EXISTS (SELECT 1 FROM unnest({self.e}.{column}) u WHERE {where})"

    def _text_clause(self, c: Clause, fields: tuple[str, ...]) -> str:
        toks = [t for t, _ in query_positions(c.stem)]
        if not toks:
            return "false"
        column = "pub" if fields == ("publisher",) else "doc"
        fielded = "" if column == "pub" else "".join(FIELD_WEIGHT[f] for f in fields)
        # every lexeme of `doc` has one of the four weights: asking for all four is asking for none, and a word
        # asked without a weight is answered by the GIN index alone (a weight makes it read each row's vector)
        weights = "" if fielded == ALL_WEIGHTS else fielded
        trunc = c.truncation
        joiner = " | " if c.relation == "any" else " & "
        if trunc:
            terms, extra = [], []
            last = len(toks) - 1
            for i, t in enumerate(toks):
                if trunc in ("right", "both") and i == last and t.isascii():
                    terms.append(f"{quote(t)}:*{weights}")
                elif trunc in ("left", "both") and i == 0 and t.isascii():
                    extra.append(self._suffix(column, t, weights))
                else:
                    terms.append(f"{quote(t)}:{weights}" if weights else quote(t))
            parts = ([self._tsq(column, joiner.join(terms))] if terms else []) + extra
            return "(" + (" OR " if c.relation == "any" else " AND ").join(parts) + ")"
        words = self._tsq(column, joiner.join(f"{quote(t)}:{weights}" if weights else quote(t) for t in toks))
        if (c.phrase or c.relation in ("adj", "==")) and len(toks) > 1 and c.relation != "any":
            runs = [" <-> ".join(f"{quote(t)}:{w}" if w else quote(t) for t in toks) for w in (fielded or [""])]
            return f"({words} AND {self._tsq(column, ' | '.join(f'({r})' for r in runs))})"
        return words

    def _clause(self, c: Clause) -> str:
        if c.field == "any":
            return self._text_clause(c, ANY_FIELDS)
        if c.field in ("title", "author", "subject", "publisher"):
            return self._text_clause(c, (c.field,))
        if c.field in ("isbn", "issn", "id"):
            term = self._identifier(c)
            return f"({self.e}.{c.field}s @> CAST({self.param([term])} AS text[]))" if term else "false"
        if c.field == "year":
            return self._year(c) or "false"
        return "false"

    @staticmethod
    def _identifier(c: Clause) -> str:
        if c.field == "isbn":
            return isbn_query_term(c.stem)
        if c.field == "issn":
            return issn_term(c.stem)
        return c.stem.strip().lower()

    def _year(self, c: Clause) -> str | None:
        try:
            v = int(c.stem.strip()[:4])
        except ValueError:
            return None
        op = _YEAR_OPS.get(c.relation, "=")
        return f"({self.e}.year IS NOT NULL AND {self.e}.year {op} {self.param(v)})"

    def estimate(self, node: Query, editions: Callable[[str], float | None], total: float) -> float | None:
        """About how many of the `total` editions `match(node)` holds, from how many hold each word
        (`editions(lexeme)`, None when it cannot tell): a word's tokens (a Chinese word's bigrams) as if always
        found together, different words as if found independently, a field as any. It decides how a page is
        run, never what it holds. None when it cannot tell (a truncated word, a publisher, a year: an AND with
        a known side is taken as at most that side)."""
        if isinstance(node, Clause):
            return self._clause_estimate(node, editions, total)
        assert isinstance(node, Bool)
        left = self.estimate(node.left, editions, total)
        if node.op == "not":
            return left
        right = self.estimate(node.right, editions, total)
        if node.op == "or":
            return None if left is None or right is None else min(total, left + right)
        return _together([left, right], total)

    @staticmethod
    def _clause_estimate(c: Clause, editions: Callable[[str], float | None], total: float) -> float | None:
        if c.field in ("isbn", "issn", "id"):
            return 1.0
        if c.field not in ("any", "title", "author", "subject") or c.truncation:
            return None
        words = []  # per word: the fewest editions any of its tokens is in
        for word in c.stem.split():
            counts = [editions(t) for t, _ in query_positions(word)]
            known = [n for n in counts if n is not None]
            if counts:
                words.append(min(known) if known and (c.relation != "any" or len(known) == len(counts)) else None)
        if not words:
            return 0.0
        if c.relation == "any":
            return None if None in words else min(total, sum(words))
        return _together(words, total)

    # ---------------------------------------------------------------- relevance (as federator.rank)
    def tested(self, expr: str) -> str:
        """A per-row test or count, evaluated once per row: a column of the inner projection (`projected`);
        the same expression asked for twice is one column."""
        name = self.tests.get(expr)
        if name is None:
            name = self.tests[expr] = f"k{len(self.tests)}"
        return f"{self.e}.{name}"

    def gate(self, expr: str) -> str:
        """A per-row test the `tested` columns depend on (whether a field has any of a clause's words), evaluated
        once per row in the select under theirs (`gates`)."""
        name = self.gates.get(expr)
        if name is None:
            name = self.gates[expr] = f"g{len(self.gates)}"
        return f"{self.e}.{name}"

    def gated(self) -> str:
        """The columns `gate` asked for, as a select list, or '' when none."""
        return ", ".join(f"{expr} AS {name}" for expr, name in self.gates.items())

    def projected(self) -> str:
        """The columns `tested` asked for, as a select list (`expression AS name, ...`), or '' when none."""
        return ", ".join(f"{expr} AS {name}" for expr, name in self.tests.items())

    def field_score(self, expr: str) -> str:
        """A field's score, or any part of the score that reads `tested` columns (only arithmetic over them),
        computed once per row in the select over the tests (`field_scores`), though the sum of fields reads it
        twice. The score reads the tests only through these."""
        name = self.fields.get(expr)
        if name is None:
            name = self.fields[expr] = f"s{len(self.fields)}"
        return f"{self.e}.{name}"

    def field_scores(self) -> str:
        """The columns `field_score` asked for, as a select list, or '' when none."""
        return ", ".join(f"{expr} AS {name}" for expr, name in self.fields.items())

    def score(self, query: Query) -> str:
        """federator.rank's score, rounded as rank() rounds it: arithmetic over the columns of `projected`
        (each vector test made once per row, in the projection of the inner select that finds the matches)."""
        s = self._node_score(query)
        terms = positive_title_terms(query)
        if len(terms) > 1:
            joined = fold(" ".join(c.stem for c in terms))
            if joined:
                exact = self.tested(f"{self.param(joined.replace(' ', ''))} = ANY({self.e}.exact_titles)")
                contains = self.tested(self._contains("title", joined))
                s += " + " + self.field_score(
                    f"CASE WHEN {exact} THEN {EXACT_TITLE} WHEN {contains} THEN {PHRASE_BOOST} ELSE 0 END")
        s += f" + {HOLDERS} * ln(1 + {self.e}.holders) / ln(2)"
        return f"round(CAST(({s}) AS numeric), 9)"

    def _node_score(self, node: Query) -> str:
        if isinstance(node, Clause):
            return self._clause_score(node)
        if node.op == "not":
            return self._node_score(node.left)
        return f"({self._node_score(node.left)} + {self._node_score(node.right)})"

    def _clause_score(self, c: Clause) -> str:
        if c.field == "any":
            return self._text_score(c, TEXT_FIELDS)
        if c.field in ("title", "author", "subject", "publisher"):
            return self._text_score(c, (c.field,))
        if c.field in ("isbn", "issn", "id"):
            return self.field_score(f"CASE WHEN {self.tested(self._clause(c))} THEN {IDENTIFIER} ELSE 0 END")
        if c.field == "year":
            cond = self._year(c)
            return f"CASE WHEN {cond} THEN {YEAR_MATCH} ELSE 0 END" if cond else "0"
        return "0"

    def _present(self, field: str, token: str, mode: str = "") -> str:
        column, weight = ("pub", "") if field == "publisher" else ("rk", FIELD_WEIGHT[field])
        if mode == "suffix":
            return self._suffix(column, token, weight)
        star = "*" if mode == "prefix" else ""
        return self._tsq(column, f"{quote(token)}:{star}{weight}" if star or weight else quote(token))

    def _contains(self, field: str, folded: str) -> str:
        """The folded phrase is in the field as written: its tokens at their distances."""
        positions = query_positions(folded)
        if not positions:
            return "true"
        column, weight = ("pub", "") if field == "publisher" else ("rk", FIELD_WEIGHT[field])
        out, last = [], None
        for t, pos in positions:
            if last is not None:
                out.append("<->" if pos - last == 1 else f"<{pos - last}>")
            out.append(f"{quote(t)}:{weight}" if weight else quote(t))
            last = pos
        return self._tsq(column, " ".join(out))

    def _text_score(self, c: Clause, fields: tuple[str, ...]) -> str:
        """Per field: its weight × the share of the clause's tokens it has (× the phrase factor), + for the title
        the exact-title and density boosts; the best field plus a tenth of the others (summed in field order,
        as federator.rank sums them). Each field's share, phrase test and title counts are columns of the
        inner projection (`tested`): read once per row, then only arithmetic."""
        folded = fold(c.stem)
        probes = [(t, not t.isascii() and bool(_CJK_RUN.fullmatch(t))) for t in tokens(c.stem)]
        if not probes:
            return "0"
        n = len(probes)
        phrased = n > 1 and not c.truncation
        trunc = c.truncation
        scores = []
        for f in fields:
            column = "pub" if f == "publisher" else "rk"
            hits = []
            for i, (tok, cjk) in enumerate(probes):
                mode = ""
                if not cjk and trunc and i == n - 1 and trunc in ("right", "both"):
                    mode = "prefix"
                elif not cjk and trunc and i == 0 and trunc in ("left", "both"):
                    mode = "suffix"
                hits.append(f"CAST({self._present(f, tok, mode)} AS integer)")
            counted = " + ".join(hits)
            gate = ""  # whether the field has any of the words: most fields of most matches have none, and then
            if not trunc:  # the field's other tests (counts, phrase, exact title, density) are not asked
                either = " | ".join(f"{quote(t)}:{FIELD_WEIGHT[f]}" if f != "publisher" else quote(t)
                                    for t, _ in probes)
                gate = self.gate(self._tsq(column, either))
                counted = f"CASE WHEN {gate} THEN {'1' if n == 1 else counted} ELSE 0 END"
            cov = self.tested(f"CAST({counted} AS float8) / {n}")
            s = f"{WEIGHTS[f]} * {cov}"
            if phrased:  # a phrase test reads positions: asked only of rows that have every word in the field
                every = " & ".join(f"{quote(t)}:{FIELD_WEIGHT[f]}" if f != "publisher" else quote(t)
                                   for t, _ in probes)
                other = UNPHRASED if c.phrase else 1
                factor = self.tested(f"CASE WHEN {gate} AND {self._tsq(column, every)} AND "
                                     f"{self._contains(f, folded)} THEN {PHRASE_BOOST} ELSE {other} END")
                s = f"{s} * {factor}"
            if f == "title":
                when = f"{gate} AND " if gate else ""
                exact = self.tested(f"{when}{self.param(folded.replace(' ', ''))} = ANY({self.e}.exact_titles)")
                found = " + ".join(
                    f"cardinality(array_positions({self.e}.title_tokens, CAST({self.param(t)} AS text)))"
                    for t in sorted({t for t, _ in probes}))
                size = f"cardinality({self.e}.title_tokens)"
                density = self.tested(f"CASE WHEN {when}{size} > 0 THEN {TITLE_DENSITY} * CAST({found} AS float8) / "
                                      f"{size} ELSE 0 END")
                s += f" + CASE WHEN {cov} = 1 AND {exact} THEN {EXACT_TITLE} ELSE 0 END + {density}"
            scores.append(self.field_score(f"CASE WHEN {cov} > 0 THEN {s} ELSE 0 END"))
        if len(scores) == 1:
            return f"({scores[0]})"
        best = f"GREATEST({', '.join(scores)})"
        return f"({best} + {OTHER_FIELDS} * (({' + '.join(scores)}) - {best}))"

    # ---------------------------------------------------------------- facets (as federator.facets)
    def selected(self, selected: Mapping[str, list[str]], prefix: str = "") -> str | None:
        """Editions having every selected facet (OR among one facet's values); None when nothing is selected."""
        unknown = [f for f in selected if f not in facet_mod.FACETS]
        if unknown:
            raise ValueError(f"unknown facet {unknown[0]!r}; use one of {', '.join(facet_mod.FACETS)}")
        active = {f: [str(v) for v in vs] for f, vs in selected.items() if vs}
        if not active:
            return None
        facet_mod.check_years(active.get("year", []))
        parts = []
        for facet, wanted in active.items():
            if facet == "year":
                parts.append(self._years(wanted, prefix))
                continue
            if facet == "clc":
                wanted = [w.strip()[:1].upper() if w != facet_mod.UNKNOWN else w for w in wanted]
            parts.append(f"({prefix}{FACET_COLUMNS[facet]} && CAST({self.param(wanted)} AS text[]))")
        return "(" + " AND ".join(parts) + ")"

    def _years(self, wanted: list[str], prefix: str) -> str:
        """federator.facets.year_selected as a condition on the year column."""
        year = f"{prefix}year"
        parts = []
        for v in wanted:
            if v == facet_mod.UNKNOWN:
                parts.append(f"{year} IS NULL")
                continue
            m = _RANGE.match(v.strip())
            if m:
                lo = f"{year} >= {self.param(int(m.group(1)))}" if m.group(1) else "true"
                hi = f"{year} <= {self.param(int(m.group(2)))}" if m.group(2) else "true"
                parts.append(f"({year} IS NOT NULL AND {lo} AND {hi})")
            elif v.strip().isdigit():
                parts.append(f"{year} = {self.param(int(v))}")
        return "(" + (" OR ".join(parts) or "false") + ")"


def _together(counts: list[float | None], total: float) -> float | None:
    """How many of `total` editions hold every one of words held by `counts` editions each, as if independent;
    the unknown (None) left out: None when none is known."""
    known = [n for n in counts if n is not None]
    if not known or total <= 0:
        return min(known) if known else None
    share = 1.0
    for n in known:
        share *= min(1.0, n / total)
    return share * total


ORDER = {
    "relevance": "score DESC, e.holders DESC, e.title_fold, e.work_id",
    "year": "(e.year IS NULL), e.year DESC, score DESC, e.title_fold, e.work_id",
    "year_asc": "(e.year IS NULL), e.year ASC, score DESC, e.title_fold, e.work_id",
    "title": "e.title_key, score DESC, e.work_id",
}
