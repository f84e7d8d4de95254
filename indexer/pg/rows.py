"""A Work as a row of the PostgreSQL union index (pure functions, no I/O).

Two `tsvector`s are made in Python with `indexer.analysis` (no PostgreSQL text search configuration is used):
`doc`, what matching reads, holds the same tokens and positions as the whoosh index's title, author, subject
and other fields (weights A, B, C, D); `rk`, what ranking reads, holds the fields `federator.rank` scores
(its `WorkText`), each text of a field apart from the next so that a phrase never spans two of them. `pub`
holds the publishers. Facet values are those of `federator.facets`; sort keys those of `federator.rank`.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import islice

from dedup.work import Work
from federator.rank import WorkText, title_sort_key, work_text
from indexer.analysis import positioned_tokens
from indexer.schema import facet_values, load_work, search_fields, work_year
from records.fold import fold

FIELD_WEIGHT = {"title": "A", "author": "B", "subject": "C", "other": "D"}
MAX_POSITION = 16383  # PostgreSQL keeps positions up to this; later ones are stored as this
MAX_POSITIONS = 250  # positions kept per lexeme (PostgreSQL keeps 256), and each field's first
MAX_LEXEME = 500  # characters; longer tokens (never a word a reader types) are left out
FACETS = ("member", "language", "material_type", "clc")  # kept as arrays; the year facet reads `year`
COLUMNS = ("work_id", "group_id", "year", "holders", "title_fold", "title_key", "exact_titles", "title_tokens",
           "isbns", "issns", "ids", "f_member", "f_language", "f_material_type", "f_clc", "doc", "pub", "rk",
           "work")
HOLDING_COLUMNS = ("work_id", "member", "library", "call_number", "status", "barcode")


@dataclass(frozen=True, slots=True)
class Row:
    """One edition's row (values in COLUMNS order, as COPY takes them: arrays and vectors as their literals) and
    its holdings' rows."""

    values: tuple
    holdings: list[tuple]


@cache
def _entries(weight: str) -> list[str]:
    """A weight's position entries as tsvector text ("12A"), made once by a process that writes rows (a row names
    thousands of them); searching processes never make them."""
    return [f"{p}{weight}" for p in range(MAX_POSITION + 1)]


class _Vector:
    """Lexemes with their positions and weights, written as a tsvector literal.

    Texts are added in position order. PostgreSQL merges a lexeme's entries when it reads the literal, so a
    vector within the limits (no lexeme past MAX_POSITIONS, no position past MAX_POSITION: nearly every
    edition) is written as one entry per token ("'word':12A") without grouping here; a larger one is grouped
    here, keeping each field's first position of a lexeme past the limit.
    """

    def __init__(self) -> None:
        self.added: list[tuple[tuple[tuple[str, int], ...], int, str]] = []  # (tokens, base, weight) per text
        self.tokens = 0
        self.next = 1  # PostgreSQL positions start at 1

    def add(self, text: str, weight: str, *, apart: bool) -> None:
        """Tokens of `text` from the next free position; `apart` leaves a gap so no phrase reaches it."""
        base = self.next + (1 if apart and self.next > 1 else 0)
        tokens, width = _tokens(text)
        if tokens:
            self.added.append((tokens, base, weight))
            self.tokens += len(tokens)
        self.next = base + width

    def literal(self) -> str:
        if self.tokens <= MAX_POSITIONS and self.next <= MAX_POSITION:
            out: list[str] = []
            for tokens, base, weight in self.added:
                entries = _entries(weight)
                out += [f"{t}:{entries[base + p]}" for t, p in tokens]
            return " ".join(out)
        return self._grouped()

    def _grouped(self) -> str:
        lexemes: dict[str, list[str]] = {}
        for tokens, base, weight in self.added:
            entries = _entries(weight)
            for token, pos in tokens:
                p = base + pos
                entry = entries[p if p < MAX_POSITION else MAX_POSITION]
                slots = lexemes.get(token)
                if slots is None:
                    lexemes[token] = [entry]
                elif slots[-1] is not entry and (len(slots) < MAX_POSITIONS or slots[-1][-1] != weight):
                    slots.append(entry)  # past the limit, only a field's first position (the match needs it)
        return " ".join([f"{lexeme}:{','.join(ps)}" for lexeme, ps in lexemes.items()])


@lru_cache(maxsize=65536)
def _tokens(text: str) -> tuple[tuple[tuple[str, int], ...], int]:
    """A text's document tokens that fit a tsvector, quoted, and the positions it takes (publishers, subjects,
    names and series come again and again: analysed once)."""
    tokens = tuple(positioned_tokens(text, document=True))
    width = max(pos for _, pos in tokens) + 1 if tokens else 0
    return tuple((quote(t), p) for t, p in tokens if len(t) <= MAX_LEXEME), width


@lru_cache(maxsize=131072)
def quote(lexeme: str) -> str:
    """A lexeme in tsvector / tsquery input syntax (quoted; no parsing or normalising by PostgreSQL)."""
    if "'" in lexeme or "\\" in lexeme:
        lexeme = lexeme.replace("\\", "\\\\").replace("'", "''")
    return f"'{lexeme}'"


def row(work: Work) -> Row:
    """The row of a work (from a harvest's merge)."""
    return _row(work, search_fields(work))


def row_of_document(doc: dict) -> Row:
    """The row of a whoosh document (`indexer.schema.document`, as the harvest's incremental step makes)."""
    return _row(load_work(doc["work"]), doc)


def _vectors(doc: dict, wt: WorkText) -> tuple[_Vector, _Vector, _Vector]:
    """The match (`doc`), rank (`rk`) and publisher (`pub`) vectors of a work's search fields and ranking texts."""
    match = _Vector()
    for name, weight in FIELD_WEIGHT.items():
        text = doc.get(name) or ""
        match.add(text, weight, apart=True)  # texts of a field are joined by newlines, as in whoosh
    ranked = _Vector()
    for name, weight in FIELD_WEIGHT.items():
        for piece in _pieces(wt.text(name)):
            ranked.add(piece, weight, apart=True)
    pub = _Vector()
    for piece in _pieces(wt.text("publisher")):
        pub.add(piece, "D", apart=True)
    return match, ranked, pub


def _row(work: Work, doc: dict) -> Row:
    wt = work_text(work)
    match, ranked, pub = _vectors(doc, wt)
    display = work.display
    facets = facet_values(work)
    values = (
        work.work_id, work.group_id or "", work_year(work), len(work.members), fold(display.title or ""),
        title_sort_key(display.title or ""), _array(sorted(wt.exact_titles)), _array(wt.title_tokens),
        _array(doc.get("isbn", "").split()), _array(doc.get("issn", "").split()),
        _array(doc.get("id", "").lower().split()), *(_facet_array(tuple(facets[f])) for f in FACETS),
        match.literal(), pub.literal(), ranked.literal(), doc["work"],
    )
    holdings = [(work.work_id, h.member, h.library, h.call_number, h.status, h.barcode) for h in work.holdings]
    return Row(values, holdings)


def _array(values: Iterable[str]) -> str:
    """A text[] literal, every element quoted, as COPY reads it into an array column (psycopg dumps a list
    element by element in Python, at twice the cost)."""
    return "{" + ",".join(['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]) + "}"


@lru_cache(maxsize=8192)
def _facet_array(values: tuple[str, ...]) -> str:
    """A facet's values as a text[] literal (members, languages and classes come again and again)."""
    return _array(values)


PARALLEL_FROM = 4000  # works: fewer are made in this process (starting workers costs about a second)
CHUNK = 250  # works sent to a worker at a time


def rows_of(works: Iterable[Work], processes: int | None = None) -> Iterator[Row]:
    """The rows of `works`, in their order. Many works are made into rows by `processes` worker processes
    while the caller sends the rows made so far; `processes=0`, or fewer than PARALLEL_FROM works, makes them in
    this process. None: two fewer than the machine's cores (one for this process, one for the database
    server's COPY), so none on two cores, where shipping works to a worker costs more than it saves
    (docs/benchmarks.md, *Local search in PostgreSQL*)."""
    works = iter(works)
    if processes is None:
        processes = max(0, (os.cpu_count() or 1) - 2)
    first = list(islice(works, PARALLEL_FROM))
    if processes < 1 or len(first) < PARALLEL_FROM:
        yield from (row(w) for w in first)
        yield from (row(w) for w in works)
        return
    chunks = _chunks(first, works)
    # forkserver: workers are forked from a clean process, never from this one's threads; a worker that dies
    # breaks the pool (BrokenProcessPool) rather than being started again and again
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(processes, mp_context=context, initializer=gc.disable) as pool:  # no cycles made
        waiting: deque = deque()
        for chunk in chunks:  # a few chunks ahead per worker, never the whole stream in memory
            waiting.append(pool.submit(_chunk_rows, chunk))
            if len(waiting) > 3 * processes:
                yield from _unpack(waiting.popleft().result())
        while waiting:
            yield from _unpack(waiting.popleft().result())


def _chunks(first: list[Work], rest: Iterator[Work]) -> Iterator[list[Work]]:
    for i in range(0, len(first), CHUNK):
        yield first[i:i + CHUNK]
    while chunk := list(islice(rest, CHUNK)):
        yield chunk


def _chunk_rows(works: list[Work]) -> list[tuple[tuple, list[tuple]]]:
    """A worker's rows of a chunk (plain tuples: they cross the process boundary faster than Rows)."""
    out = []
    for w in works:
        r = row(w)
        out.append((r.values, r.holdings))
    return out


def _unpack(made: list[tuple[tuple, list[tuple]]]) -> Iterator[Row]:
    for values, holdings in made:
        yield Row(values, holdings)


def _pieces(joined: str) -> list[str]:
    """The texts `federator.rank` joined into one field (" | " between them)."""
    return [p for p in joined.split(" | ") if p]
