"""Relevance ranking and sorts over merged editions (pure functions, no I/O).

Each work's text is folded (`records.fold.fold`: traditional → simplified, full-width, punctuation, case)
and cut into tokens once: Latin words, and CJK runs as bigrams (plus single characters), the way discovery
layers index Chinese without a dictionary. A query clause scores by the share of its tokens found in each
field, weighted title > author > subject > other, with boosts for a phrase found as written and for an
exact title, and a small boost for the number of members holding the edition. See docs/ranking.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from connectors.query import Clause, Query
from dedup.work import Work
from records.fold import fold
from records.identifiers import isbn13 as to_isbn13
from records.tables import Style, lazy_pinyin

__all__ = ["SORTS", "WEIGHTS", "WorkText", "rank", "score", "title_sort_key", "tokens", "work_text"]

SORTS = ("relevance", "year", "year_asc", "title")
# Field weights: a clause matching the title counts more than one matching an author, and so on.
WEIGHTS = {"title": 3.0, "author": 2.0, "subject": 1.5, "other": 0.5, "publisher": 1.0}
TEXT_FIELDS = ("title", "author", "subject", "other")
PHRASE_BOOST = 1.5  # a multi-token clause found as written (adjacent, in order) in a field
UNPHRASED = 0.5  # a quoted phrase whose words are in the field, but not together
EXACT_TITLE = 3.0  # the clause (or the whole query) is the title proper, or title + subtitle
TITLE_DENSITY = 0.5  # × the share of the title's tokens the query covers (shorter, closer titles first)
OTHER_FIELDS = 0.1  # × the scores of the other fields an `any` clause also matches
IDENTIFIER = 5.0  # isbn:, issn:, id: equal
YEAR_MATCH = 0.2
HOLDERS = 0.05  # × log2(1 + members holding the edition)

_CJK_RUN = re.compile(
    r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]+)")
_SPACED = r" \1 "
_ARTICLE = re.compile(r"^(?:the|a|an) (?=\S)")


def _cut(folded: str, *, document: bool) -> list[str]:
    """Tokens of a folded text: words for Latin runs, bigrams for CJK runs (documents also keep unigrams)."""
    out: list[str] = []
    for chunk in folded.split():
        if chunk.isascii():
            out.append(chunk)
            continue
        for i, part in enumerate(_CJK_RUN.split(chunk)):
            if not part:
                continue
            if i % 2 == 0:  # non-CJK between CJK runs
                out.append(part)
            elif len(part) == 1:
                out.append(part)
            else:
                out.extend(part[j:j + 2] for j in range(len(part) - 1))
                if document:
                    out.extend(part)
    return out


def tokens(text: str, *, document: bool = False) -> list[str]:
    """Search tokens of a text (folded; CJK as overlapping bigrams)."""
    return _cut(fold(text), document=document)


class WorkText:
    """What ranking needs from a work: its fields folded once; the rest is worked out only when used.

    Token presence is a substring test on the folded text (a CJK bigram is in the text exactly when it
    is one of the text's bigrams; a Latin word is looked up between spaces), so no per-work token sets
    are built: ranking thousands of works stays cheap.
    """

    __slots__ = ("work", "texts", "_padded", "_exact", "_title_tokens", "year", "holders")

    def __init__(self, work: Work) -> None:
        d = work.display
        recs = work.records or [d]
        titles: list[str | None] = []
        for r in recs:  # the display record is a merged copy of one of them
            titles.append(r.title)
            if r.subtitle:
                titles.append(r.subtitle)
            if r.part:
                titles.append(r.part)
            titles.extend(r.parallel_titles)
            titles.extend(r.vernacular_titles)
        other: list[str | None] = [d.publisher, d.place, d.edition, *d.series,
                                   *(c for cs in d.classification.values() for c in cs)]
        other += [r.title_pinyin for r in recs]
        self.work = work
        self.texts = {
            "title": _joined(titles),
            "author": _joined([a.name for r in recs for a in r.authors]),
            "subject": _joined(d.subjects),
            "other": _joined(other),
        }
        self._padded: dict[str, str] = {}
        self._exact: frozenset[str] | None = None
        self._title_tokens: tuple[str, ...] | None = None
        self.year = d.year if d.year is not None else next((r.year for r in recs if r.year is not None), None)
        self.holders = len(work.members)

    def text(self, name: str) -> str:
        t = self.texts.get(name)
        if t is None:  # fields few queries ask for
            if name == "publisher":
                t = _joined([r.publisher for r in self.work.records or [self.work.display]])
            else:
                raise KeyError(name)
            self.texts[name] = t
        return t

    def padded(self, name: str) -> str:
        """The field with spaces around every word and CJK run, for whole-word lookups."""
        p = self._padded.get(name)
        if p is None:
            t = self.text(name)
            if not t.isascii():
                t = _CJK_RUN.sub(_SPACED, t)
            p = f" {t} ".replace(" | ", "   ")
            self._padded[name] = p
        return p

    @property
    def exact_titles(self) -> frozenset[str]:
        """Folded title proper, and title + subtitle, of every record, spaces dropped."""
        if self._exact is None:
            out = set()
            for r in self.work.records or [self.work.display]:
                for t in (r.title, f"{r.title} {r.subtitle}" if r.subtitle else None, *r.parallel_titles,
                          *r.vernacular_titles):
                    if t and (f := fold(t)):
                        out.add(f.replace(" ", ""))
            self._exact = frozenset(out)
        return self._exact

    @property
    def title_tokens(self) -> tuple[str, ...]:
        """Tokens of the display title proper + subtitle (for title density)."""
        if self._title_tokens is None:
            d = self.work.display
            self._title_tokens = tuple(tokens(f"{d.title} {d.subtitle}" if d.subtitle else d.title))
        return self._title_tokens


def _joined(texts: Iterable[str | None]) -> str:
    return " | ".join(dict.fromkeys(f for t in texts if t and (f := fold(t))))


def work_text(work: Work) -> WorkText:
    """The folded fields of a work (all its member records), ready for scoring many queries."""
    return WorkText(work)


# --------------------------------------------------------------------------- scoring


@lru_cache(maxsize=4096)
def _probes(stem: str) -> tuple[str, tuple[tuple[str, bool], ...]]:
    """A clause value folded, and its tokens each marked CJK (substring test) or not (whole word)."""
    folded = fold(stem)
    return folded, tuple((t, not t.isascii() and bool(_CJK_RUN.fullmatch(t))) for t in _cut(folded, document=False))


def _coverage(probes: tuple[tuple[str, bool], ...], wt: WorkText, field: str, truncation: str | None) -> float:
    text = wt.text(field)
    if not text:
        return 0.0
    hit = 0
    last = len(probes) - 1
    for i, (tok, cjk) in enumerate(probes):
        if cjk:
            hit += tok in text
            continue
        padded = wt.padded(field)
        if truncation and i == last and truncation in ("right", "both"):
            hit += f" {tok}" in padded
        elif truncation and i == 0 and truncation in ("left", "both"):
            hit += f"{tok} " in padded
        else:
            hit += f" {tok} " in padded
    return hit / len(probes)


def _contains(wt: WorkText, field: str, phrase: str) -> bool:
    if phrase.isascii():
        return f" {phrase} " in wt.padded(field)
    return phrase in wt.text(field)


def _text_score(c: Clause, wt: WorkText, fields: tuple[str, ...]) -> float:
    folded, probes = _probes(c.stem)
    if not probes:
        return 0.0
    multi = len(probes) > 1
    best = total = 0.0
    for f in fields:
        cov = _coverage(probes, wt, f, c.truncation)
        if not cov:
            continue
        s = WEIGHTS[f] * cov
        if multi and not c.truncation:
            if _contains(wt, f, folded):
                s *= PHRASE_BOOST
            elif c.phrase:
                s *= UNPHRASED
        if f == "title":
            if cov == 1.0 and folded.replace(" ", "") in wt.exact_titles:
                s += EXACT_TITLE
            title_tokens = wt.title_tokens
            if title_tokens:
                q = {t for t, _ in probes}
                s += TITLE_DENSITY * sum(1 for t in title_tokens if t in q) / len(title_tokens)
        total += s
        best = max(best, s)
    return best + OTHER_FIELDS * (total - best)


def _digits(text: str) -> str:
    return re.sub(r"[^0-9Xx]", "", text).upper()


def _year_match(c: Clause, year: int | None) -> bool:
    if year is None:
        return False
    try:
        v = int(c.stem.strip()[:4])
    except ValueError:
        return False
    return {"<": year < v, "<=": year <= v, ">": year > v, ">=": year >= v, "<>": year != v}.get(
        c.relation, year == v)


def _clause_score(c: Clause, wt: WorkText) -> float:
    if c.field == "any":
        return _text_score(c, wt, TEXT_FIELDS)
    if c.field in ("title", "author", "subject", "publisher"):
        return _text_score(c, wt, (c.field,))
    recs = wt.work.records or [wt.work.display]
    if c.field == "isbn":
        v = to_isbn13(c.stem) or _digits(c.stem)
        have = set(wt.work.isbns) | {i.isbn13 for r in recs for i in r.isbns if i.isbn13}
        have |= {_digits(i.raw) for r in recs for i in r.isbns}
        return IDENTIFIER if v in have else 0.0
    if c.field == "issn":
        return IDENTIFIER if _digits(c.stem) in {_digits(x) for r in recs for x in r.issns} else 0.0
    if c.field == "id":
        v = c.stem.strip()
        return IDENTIFIER if any(v in (r.record_id, f"{r.member}:{r.record_id}") for r in recs) else 0.0
    if c.field == "year":
        return YEAR_MATCH if _year_match(c, wt.year) else 0.0
    return 0.0


def _node_score(node: Query, wt: WorkText) -> float:
    if isinstance(node, Clause):
        return _clause_score(node, wt)
    if node.op == "not":  # and-not: the excluded part adds nothing
        return _node_score(node.left, wt)
    return _node_score(node.left, wt) + _node_score(node.right, wt)


def positive_title_terms(node: Query) -> list[Clause]:
    """Clauses a reader typed as title words, in order (the right side of NOT is left out); the union index's
    SQL ranking reads them by the same rule."""
    if isinstance(node, Clause):
        return [node] if node.field in ("any", "title") and node.relation in ("=", "==", "all", "adj") else []
    if node.op == "not":
        return positive_title_terms(node.left)
    if node.op == "or":
        return []
    return positive_title_terms(node.left) + positive_title_terms(node.right)


@dataclass(frozen=True, slots=True)
class _Prepared:
    query: Query
    joined: str  # folded words of the title-like clauses, in order, when there are two or more


def _prepare(query: Query) -> _Prepared:
    terms = positive_title_terms(query)
    joined = fold(" ".join(c.stem for c in terms)) if len(terms) > 1 else ""
    return _Prepared(query, joined)


def _score(wt: WorkText, p: _Prepared) -> float:
    s = _node_score(p.query, wt)
    if p.joined:  # words typed apart that make up a phrase, or the whole title
        if p.joined.replace(" ", "") in wt.exact_titles:
            s += EXACT_TITLE
        elif _contains(wt, "title", p.joined):
            s += PHRASE_BOOST
    return s + HOLDERS * math.log2(1 + wt.holders)


def score(work: Work, query: Query) -> float:
    """Relevance of one work to a query (higher is better; 0 when nothing in it matches)."""
    return _score(work_text(work), _prepare(query))


# --------------------------------------------------------------------------- sorting


@lru_cache(maxsize=65536)
def title_sort_key(title: str) -> str:
    """A title's sort key: folded, a leading English article dropped, Chinese in toned pinyin order."""
    f = _ARTICLE.sub("", fold(title))
    if f.isascii():
        return f
    return " ".join(lazy_pinyin(f, style=Style.TONE3)).lower()


def rank(works: Iterable[Work], query: Query | None = None, sort: str = "relevance") -> list[Work]:
    """Works in the order asked for: relevance (best first), year (newest first), year_asc, or title.

    Ties are broken by relevance, then holders, then title, then work id, so the order is deterministic.
    Works without a year sort after the dated ones in both year orders.
    """
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
    works = list(works)
    prepared = _prepare(query) if query is not None else None
    keyed = []
    for w in works:
        wt = work_text(w)
        s = _score(wt, prepared) if prepared is not None else 0.0
        keyed.append((w, wt, round(s, 9)))
    if sort == "title":
        keys = [(title_sort_key(w.display.title), -s, w.work_id) for w, _wt, s in keyed]
    elif sort == "relevance":
        keys = [(-s, -wt.holders, fold(w.display.title), w.work_id) for w, wt, s in keyed]
    else:
        sign = -1 if sort == "year" else 1
        keys = [(wt.year is None, sign * (wt.year or 0), -s, fold(w.display.title), w.work_id)
                for w, wt, s in keyed]
    order = sorted(range(len(works)), key=keys.__getitem__)
    return [works[i] for i in order]
