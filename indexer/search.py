"""Search the local index with the live search's query model, result model, facets and sorts.

Matching works on bit sets (a Python int per set, bit d = document d): each query word's documents come from
its postings (cached per searcher, since a catalogue's popular words repeat), clauses AND their words (a
word of an `any` clause may be in the title, author, subject or other text), AND/OR/NOT are &, |, & ~. Phrases
and truncation are checked by whoosh; years come from the year facet's bit sets. Facets count every match:
each facet value's documents are a bit set built once per searcher, so a count is one AND and a popcount.

A page is then cut from an order of candidates: for relevance, every hit when there are at most `BLOCK`,
otherwise hits whose titles hold the query's words first, shortest titles first (what ranking favours); for
year and title sorts, by the sort key. Candidates are loaded back into Works in blocks of `BLOCK` and each
block is ordered by `federator.rank.rank`, the live search's own ranking. See docs/local-search.md.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from whoosh import query as wq
from whoosh.reading import TermNotFound

from connectors.query import Bool, Clause, Query
from dedup.work import Work
from federator import facets as facet_mod
from federator.rank import SORTS, rank
from indexer import spelling
from indexer.analysis import query_positions
from indexer.errors import LocalIndexError, NoIndexError
from indexer.index import LocalIndex
from indexer.schema import FACET_FIELDS, isbn_query_term, issn_term, load_work

BLOCK = 100  # candidates loaded and ordered together by federator.rank
ANY_FIELDS = ("title", "author", "subject", "other")


# --------------------------------------------------------------------------- query translation


def _clause_text(c: Clause, fields: tuple[str, ...]) -> wq.Query:
    """A text clause: every token in one of `fields` (CQL `any`: one of them); phrases in one field."""
    toks = [t for t, _ in query_positions(c.stem)]
    if not toks:
        return wq.NullQuery
    trunc = c.truncation

    def either(make) -> wq.Query:
        return make(fields[0]) if len(fields) == 1 else wq.Or([make(f) for f in fields])

    if (c.phrase or c.relation in ("adj", "==")) and len(toks) > 1 and not trunc:
        return either(lambda f: wq.Phrase(f, toks, char_ranges=None))
    parts: list[wq.Query] = []
    last = len(toks) - 1
    for i, t in enumerate(toks):
        if trunc in ("right", "both") and i == last and t.isascii():
            parts.append(either(lambda f, t=t: wq.Prefix(f, t)))
        elif trunc in ("left", "both") and i == 0 and t.isascii():
            parts.append(either(lambda f, t=t: wq.Wildcard(f, "*" + t)))
        else:
            parts.append(either(lambda f, t=t: wq.Term(f, t)))
    if len(parts) == 1:
        return parts[0]
    return wq.Or(parts) if c.relation == "any" else wq.And(parts)


def _year_query(c: Clause) -> wq.Query:
    try:
        v = int(c.stem.strip()[:4])
    except ValueError:
        return wq.NullQuery
    rel = c.relation
    if rel == "<":
        return wq.NumericRange("year", None, v, endexcl=True)
    if rel == "<=":
        return wq.NumericRange("year", None, v)
    if rel == ">":
        return wq.NumericRange("year", v, None, startexcl=True)
    if rel == ">=":
        return wq.NumericRange("year", v, None)
    if rel == "<>":  # dated works of another year (an undated work is not "another year")
        return wq.Or([wq.NumericRange("year", None, v, endexcl=True), wq.NumericRange("year", v, None, startexcl=True)])
    return wq.NumericRange("year", v, v)


def clause_query(c: Clause) -> wq.Query:
    """One clause as a whoosh query."""
    if c.field == "any":
        return _clause_text(c, ANY_FIELDS)
    if c.field in ("title", "author", "subject", "publisher"):
        return _clause_text(c, (c.field,))
    if c.field == "isbn":
        term = isbn_query_term(c.stem)
        return wq.Term("isbn", term) if term else wq.NullQuery
    if c.field == "issn":
        term = issn_term(c.stem)
        return wq.Term("issn", term) if term else wq.NullQuery
    if c.field == "id":
        return wq.Term("id", c.stem.strip().lower())
    if c.field == "year":
        return _year_query(c)
    return wq.NullQuery  # pragma: no cover - Clause refuses unknown fields


def to_whoosh(query: Query) -> wq.Query:
    """The query AST as a whoosh query (NOT is and-not, as in Z39.50)."""
    if isinstance(query, Clause):
        return clause_query(query)
    assert isinstance(query, Bool)
    left, right = to_whoosh(query.left), to_whoosh(query.right)
    if query.op == "and":
        return wq.And([left, right])
    if query.op == "or":
        return wq.Or([left, right])
    return wq.AndNot(left, right)


# --------------------------------------------------------------------------- bit sets


def _bits(ids, nbytes: int) -> int:
    """A bit set (an int, bit d = document d) from document numbers."""
    buf = bytearray(nbytes)
    for d in ids:
        buf[d >> 3] |= 1 << (d & 7)
    return int.from_bytes(buf, "little")


_NONZERO = re.compile(rb"[^\x00]")
_BYTE_BITS = tuple(tuple(b for b in range(8) if byte >> b & 1) for byte in range(256))


def docnums(bits: int) -> list[int]:
    """The document numbers of a bit set, ascending (zero bytes are skipped by the regex engine, not in Python)."""
    out = []
    data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
    for m in _NONZERO.finditer(data):
        i = m.start()
        base = i << 3
        out.extend(base + b for b in _BYTE_BITS[data[i]])
    return out


WORK_CACHE = 4096  # stored editions kept decoded per searcher (about 40 MB)
TERM_CACHE = 2048  # term bit sets kept per searcher (popular words repeat; at most ~64 MB at 250,000 editions)
TITLE_BUCKET = 512  # documents per bucket of the title order


class _Bits:
    """Bit sets over one searcher's documents: terms (cached), facet values, and the sort orders in buckets.

    Built lazily from postings and columns, once per searcher, so a long-lived searcher (the portal, a server)
    pays for each only once; every query is then a few ANDs, ORs and popcounts.
    """

    def __init__(self, searcher) -> None:
        self.searcher = searcher
        self.reader = searcher.reader()
        self.nbytes = (self.reader.doc_count_all() >> 3) + 1
        self._facets: dict[str, dict[str, int]] = {}
        self._terms: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.works: OrderedDict[int, Work] = OrderedDict()  # decoded stored editions (LocalSearcher._load)
        self._all: int | None = None
        self._lengths: list[tuple[int, int]] | None = None
        self._titles: list[tuple[int, list[int]]] | None = None

    def all(self) -> int:
        if self._all is None:
            self._all = _bits(self.reader.all_doc_ids(), self.nbytes)
        return self._all

    def term(self, field: str, text: str) -> int:
        key = (field, text)
        got = self._terms.get(key)
        if got is not None:
            self._terms.move_to_end(key)
            return got
        try:
            got = _bits(self.reader.postings(field, text).all_ids(), self.nbytes)
        except TermNotFound:
            got = 0
        self._terms[key] = got
        if len(self._terms) > TERM_CACHE:
            self._terms.popitem(last=False)
        return got

    def whoosh(self, q: wq.Query) -> int:
        return _bits(self.searcher.docs_for_query(q), self.nbytes)

    def facet(self, facet: str) -> dict[str, int]:
        got = self._facets.get(facet)
        if got is None:
            name = FACET_FIELDS[facet]
            got = {}
            for term in self.reader.lexicon(name):
                text = term.decode("utf-8") if isinstance(term, bytes) else term
                bits = _bits(self.reader.postings(name, text).all_ids(), self.nbytes)
                if bits:
                    got[text] = bits
            self._facets[facet] = got
        return got

    def title_lengths(self) -> list[tuple[int, int]]:
        """(title length in tokens, documents) ascending: shorter titles first, the way ranking leans."""
        if self._lengths is None:
            by_len: dict[int, list[int]] = {}
            r = self.reader
            for d in r.all_doc_ids():
                by_len.setdefault(r.doc_field_length(d, "title", 0) or 0, []).append(d)  # None: no title words
            self._lengths = [(n, _bits(ds, self.nbytes)) for n, ds in sorted(by_len.items())]
        return self._lengths

    def title_order(self) -> list[tuple[int, list[int]]]:
        """Buckets of TITLE_BUCKET documents in title sort-key order: (bits, documents in order)."""
        if self._titles is None:
            col = self.reader.column_reader("title_key")
            ordered = sorted(self.reader.all_doc_ids(), key=lambda d: (col[d], d))
            self._titles = [(_bits(chunk, self.nbytes), chunk)
                            for chunk in (ordered[i:i + TITLE_BUCKET] for i in range(0, len(ordered), TITLE_BUCKET))]
        return self._titles


# --------------------------------------------------------------------------- evaluation


def _token_bits(bits: _Bits, fields: tuple[str, ...], token: str) -> int:
    out = 0
    for f in fields:
        out |= bits.term(f, token)
    return out


def _clause_bits(bits: _Bits, c: Clause) -> int:
    if c.field in ("any", "title", "author", "subject", "publisher"):
        fields = ANY_FIELDS if c.field == "any" else (c.field,)
        toks = [t for t, _ in query_positions(c.stem)]
        if not toks:
            return 0
        trunc = c.truncation
        phrase = (c.phrase or c.relation in ("adj", "==")) and len(toks) > 1 and not trunc
        if trunc:
            return bits.whoosh(clause_query(c))
        if c.relation == "any" and len(toks) > 1:
            out = 0
            for t in toks:
                out |= _token_bits(bits, fields, t)
            return out
        out = -1
        for t in toks:
            out &= _token_bits(bits, fields, t)
            if not out:
                return 0
        if phrase:
            out &= bits.whoosh(clause_query(c))
        return out
    if c.field == "year":
        try:
            v = int(c.stem.strip()[:4])
        except ValueError:
            return 0
        out = 0
        for value, b in bits.facet("year").items():
            if value == facet_mod.UNKNOWN:
                continue
            y = int(value)
            if {"<": y < v, "<=": y <= v, ">": y > v, ">=": y >= v, "<>": y != v}.get(c.relation, y == v):
                out |= b
        return out
    q = clause_query(c)
    if isinstance(q, wq.Term):
        return bits.term(q.fieldname, q.text)
    return 0


def match_bits(bits: _Bits, node: Query) -> int:
    """The documents matching a query AST, as a bit set."""
    if isinstance(node, Clause):
        return _clause_bits(bits, node)
    left = match_bits(bits, node.left)
    if node.op == "and":
        return left & match_bits(bits, node.right) if left else 0
    if node.op == "or":
        return left | match_bits(bits, node.right)
    return left & ~match_bits(bits, node.right) if left else 0


def _title_bits(bits: _Bits, node: Query) -> int | None:
    """Documents whose titles hold the query's positive title-like words (None when the query has none)."""
    if isinstance(node, Clause):
        if node.field not in ("any", "title") or node.relation not in ("=", "==", "all", "adj"):
            return None
        return _clause_bits(bits, Clause("title", node.relation, node.value, node.phrase))
    if node.op == "not":
        return _title_bits(bits, node.left)
    left, right = _title_bits(bits, node.left), _title_bits(bits, node.right)
    if left is None or right is None:
        return right if left is None else left
    return left & right if node.op == "and" else left | right


# --------------------------------------------------------------------------- results


@dataclass(slots=True)
class LocalResult:
    """One page of a local search, shaped like a live FederatedResult where the two meet."""

    query: Query
    page: int
    size: int
    sort: str
    works: list[Work]  # this page, in order
    total: int  # works matching the query and the selected facets
    matched: int  # works matching the query (what the facets count)
    facets: dict[str, list[dict]]
    index: str  # the index folder
    harvested: dict[str, str] = field(default_factory=dict)  # member → last harvest (ISO time), when known
    ms: int = 0

    @property
    def has_more(self) -> bool:
        return self.page * self.size < self.total


def facet_counts(bits: _Bits, match: int, names: Mapping[str, str],
                 selected: Mapping[str, list[str]] | None = None) -> dict[str, list[dict]]:
    """The facets of the matching works, exactly as `federator.facets.counts` gives them for those works: with
    values selected, each facet counts the works the *other* selections keep (what a click on it gives), and a
    selected value stays listed."""
    selected = {f: vs for f, vs in (selected or {}).items() if vs}
    if not selected:
        return _facet_rows(bits, match, names, facet_mod.FACETS)
    out: dict[str, list[dict]] = {}
    for facet in facet_mod.FACETS:
        others = {f: vs for f, vs in selected.items() if f != facet}
        chosen = _selected_bits(bits, others) if others else None
        kept = match if chosen is None else match & chosen
        rows = _facet_rows(bits, kept, names, (facet,))[facet]
        shown = {r["value"] for r in rows}
        for value in selected.get(facet, []):
            if value not in shown:
                count = (kept & (_selected_bits(bits, {facet: [value]}) or 0)).bit_count()
                rows.append({"value": value, "label": value, "count": count})
        out[facet] = rows
    return out


def _facet_rows(bits: _Bits, match: int, names: Mapping[str, str], facets) -> dict[str, list[dict]]:
    """`federator.facets.compute` of the `facets` over the documents in `match`."""
    out: dict[str, list[dict]] = {}
    unknown = facet_mod.UNKNOWN
    for facet in facets:
        counts = {v: n for v, b in bits.facet(facet).items() if (n := (b & match).bit_count())}
        if facet == "year":
            years = {int(v): n for v, n in counts.items() if v != unknown}
            bins = facet_mod.year_bins(years)
            binned: dict[str, int] = {}
            for y, n in years.items():
                key = facet_mod.year_value(y, bins)
                binned[key] = binned.get(key, 0) + n
            order = [f"{a}-{b}" for a, b in reversed(bins)] + [facet_mod.BEFORE_VALUE]
            values = [v for v in order if binned.get(v)]
            if counts.get(unknown):
                binned[unknown] = counts[unknown]
                values.append(unknown)
            counts = binned
        else:
            values = sorted((v for v in counts if v != unknown), key=lambda v: (-counts[v], v))
            if counts.get(unknown):
                values.append(unknown)
        out[facet] = [{"value": v, "label": facet_mod.label(facet, v, names), "count": counts[v]}
                      for v in values]
    return out


def _selected_bits(bits: _Bits, selected: Mapping[str, list[str]]) -> int | None:
    """Documents having every selected facet (OR among one facet's values), as federator.facets.apply."""
    unknown_facets = [f for f in selected if f not in facet_mod.FACETS]
    if unknown_facets:
        raise ValueError(f"unknown facet {unknown_facets[0]!r}; use one of {', '.join(facet_mod.FACETS)}")
    active = {f: [str(v) for v in vs] for f, vs in selected.items() if vs}
    if not active:
        return None
    facet_mod.check_years(active.get("year", []))
    result = -1  # all ones
    for facet, wanted in active.items():
        values = bits.facet(facet)
        acc = 0
        for v, b in values.items():
            if facet == "year":
                year = None if v == facet_mod.UNKNOWN else int(v)
                ok = facet_mod.year_selected(year, wanted)
            elif facet == "clc":
                ok = v in {w.strip()[:1].upper() if w != facet_mod.UNKNOWN else w for w in wanted}
            else:
                ok = v in wanted
            if ok:
                acc |= b
        result &= acc
    return result


class LocalSearcher:
    """A searcher over one state of the local index (it keeps seeing that state until `refresh`)."""

    def __init__(self, index: LocalIndex) -> None:
        self.index = index
        self._searcher = index.whoosh.searcher()
        self._bits = _Bits(self._searcher)

    @classmethod
    def open(cls, index_dir) -> LocalSearcher:
        """Open the index in `index_dir` for searching; NoIndexError when it is missing or empty."""
        ix = LocalIndex.open(index_dir)
        if ix.doc_count() == 0:
            ix.close()
            raise NoIndexError(f"the local index in {index_dir} is empty; fill it with 'balis harvest'")
        return cls(ix)

    def refresh(self) -> None:
        """Move to the latest committed state of the index."""
        if not self._searcher.up_to_date():
            # a whole new searcher: whoosh's refresh() reuses segment readers and misses new deletions
            old, self._searcher = self._searcher, self.index.whoosh.searcher()
            old.close()
            self._bits = _Bits(self._searcher)

    def warm(self) -> None:
        """Build the facet and sort bit sets now rather than on the first query that needs them."""
        for facet in facet_mod.FACETS:
            self._bits.facet(facet)
        self._bits.all()
        self._bits.title_lengths()
        self._bits.title_order()

    def forget_terms(self) -> None:
        """Drop the cached word bit sets and editions (benchmarks measure searches without them)."""
        self._bits._terms.clear()
        self._bits.works.clear()

    def suggest(self, words: list[str], limit: int = 3) -> list[str]:
        """Spellings the index knows for the words it does not (indexer/spelling.py), from whoosh's corrector
        over the title, author and subject terms."""
        s = self._searcher

        def near(field: str, token: str, n: int) -> list[tuple[str, int]]:
            return [(t, s.doc_frequency(field, t)) for t in s.corrector(field).suggest(token, limit=n,
                                                                                      maxdist=spelling.MAX_EDITS)]

        return spelling.suggestions(words, lambda t: any(s.doc_frequency(f, t) for f in spelling.FIELDS), near,
                                    limit)

    def close(self) -> None:
        self._searcher.close()
        self.index.close()

    def __enter__(self) -> LocalSearcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def doc_count(self) -> int:
        return self._searcher.doc_count()

    def work(self, work_id: str) -> Work | None:
        """The edition with this id, or None."""
        fields = self._searcher.document(work_id=work_id)
        return load_work(fields["work"]) if fields else None

    def group(self, group_id: str, limit: int = 51) -> list[Work]:
        """The editions of a group (at most `limit`)."""
        out = []
        for fields in self._searcher.documents(group_id=group_id):
            out.append(load_work(fields["work"]))
            if len(out) >= limit:
                break
        return out

    def up_to_date(self) -> bool:
        """Whether this searcher still sees the latest commit of the index."""
        return self._searcher.up_to_date()

    def harvested(self) -> dict[str, str]:
        return self.index.harvested()

    def _load(self, docnum: int) -> Work:
        """The stored edition (kept for the next searches of this index state: candidates repeat)."""
        works = self._bits.works
        w = works.get(docnum)
        if w is None:
            w = load_work(self._searcher.stored_fields(docnum)["work"])
            works[docnum] = w
            if len(works) > WORK_CACHE:
                works.popitem(last=False)
        else:
            works.move_to_end(docnum)
        return w

    def search(self, query: Query, *, sort: str = "relevance", page: int = 1, size: int = 10,
               selected: Mapping[str, list[str]] | None = None,
               names: Mapping[str, str] | None = None) -> LocalResult:
        """Page `page` (of `size` works) of the works matching `query` and the `selected` facets."""
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
        if page < 1 or size < 1:
            raise ValueError("page and size must be 1 or more")
        t0 = time.perf_counter()
        bits = self._bits
        try:
            match = match_bits(bits, query) & bits.all()
        except Exception as exc:  # whoosh raises plain Exceptions for queries it cannot run
            raise LocalIndexError(f"the local index could not run this query ({exc}); simplify it") from None
        chosen = _selected_bits(bits, selected or {})
        hits = match if chosen is None else match & chosen
        total = hits.bit_count()
        facets = facet_counts(bits, match, names or {}, selected)
        works: list[Work] = []
        start = (page - 1) * size
        if start < total:
            first_block = start // BLOCK
            last_block = (min(start + size, total) - 1) // BLOCK
            order = self._order(hits, total, sort, query, (last_block + 1) * BLOCK)
            ordered: list[Work] = []
            for b in range(first_block, last_block + 1):
                ordered += rank([self._load(d) for d in order[b * BLOCK:(b + 1) * BLOCK]], query, sort=sort)
            offset = start - first_block * BLOCK
            works = ordered[offset:offset + size]
        return LocalResult(query=query, page=page, size=size, sort=sort, works=works, total=total,
                           matched=match.bit_count(), facets=facets, index=str(self.index.index_dir),
                           harvested=self.index.harvested(), ms=round((time.perf_counter() - t0) * 1000))

    def _order(self, hits: int, total: int, sort: str, query: Query, wanted: int) -> list[int]:
        """The first `wanted` hits in candidate order (blocks of BLOCK are then ordered by federator.rank).

        Relevance: all hits when they fit in the blocks asked for; otherwise hits whose titles hold the
        query's words first, shorter titles first (what ranking favours), then the others the same way.
        Year and title sorts: by the sort key (year buckets, title-order buckets).
        """
        bits = self._bits
        if sort == "relevance":
            if total <= BLOCK:  # one block: every hit, ordered by federator.rank alone
                return docnums(hits)
            titled = _title_bits(bits, query)
            groups = [hits] if titled is None else [hits & titled, hits & ~titled]
            out: list[int] = []
            for group in groups:
                for _length, b in bits.title_lengths():
                    if len(out) >= wanted:
                        return out
                    if x := group & b:
                        out += docnums(x)
            return out
        if sort in ("year", "year_asc"):
            years = bits.facet("year")
            dated = sorted((int(v) for v in years if v != facet_mod.UNKNOWN), reverse=sort == "year")
            keys = [str(y) for y in dated] + ([facet_mod.UNKNOWN] if facet_mod.UNKNOWN in years else [])
            out = []
            for k in keys:
                if len(out) >= wanted:
                    break
                if x := hits & years[k]:
                    out += docnums(x)
            return out
        out = []
        for b, chunk in bits.title_order():
            if len(out) >= wanted:
                break
            if x := hits & b:
                inside = set(docnums(x))
                out += [d for d in chunk if d in inside]
        return out
