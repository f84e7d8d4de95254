"""Search the PostgreSQL union index: the same result model, facets, sorts and paging as the whoosh searcher.

A page is one statement in a read-only snapshot (`_search_sql`): the matching editions are found once, with
their facet values, sort keys and relevance (`federator.rank`'s, over every match: `indexer.pg.sql`); from them
the match and hit counts, every facet's counts (each counting what the *other* selected facets keep, as
`federator.facets.counts`), and the page ordered by relevance, or by year or title with relevance breaking
ties, as `federator.rank.rank` orders. Reads go to the primary or its standbys (`indexer.pg.reads`).

A broad page (`slice_from` matches or more, as the word statistics estimate them) is split into `slices`
statements run at once on connections of their own, each over the editions of one slice (a hash of the work
id): the searcher adds their counts and merges their pages by the same sort keys (decision 0025).

What is exact: the order of every page, the counts of hits and the member facet (`ALWAYS_EXACT`), always. The
other facets' counts are exact up to `EXACT_FACETS` matches; above, they are counted on a sample of the matches
(those whose work id hashes into one bucket of 2, 4, 8, ...: at least `SAMPLE` editions), scaled back, shown to
two significant digits, and each such row says `"estimated": True` (the portal writes 约 before it). A value no
sampled edition has is not listed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg

from connectors.query import Query
from dedup.work import Work
from federator import facets as facet_mod
from federator.rank import SORTS
from indexer.errors import LocalIndexError, NoIndexError
from indexer.pg.index import PgIndex, import_snapshot, shown
from indexer.pg.reads import ReadConnections
from indexer.pg.sql import FACET_COLUMNS, ORDER, Sql
from indexer.schema import load_work
from indexer.search import LocalResult

MAX_OTHER_EDITIONS = 51
EXACT_FACETS = 1000  # matches up to which facet counts are exact; above, estimated from a sample of them
SAMPLE = 500  # matches (at least) the estimate counts
ALWAYS_EXACT = frozenset({"member"})  # counted over every match whatever the hits: which libraries hold a
# broad query's books is what a reader narrows to, and a small library must not drop out of a sample
# what a page keeps of each match besides its score: facet values, sort keys, and the columns the score reads
MATCH_COLUMNS = ("work_id", "year", "holders", "title_fold", "title_key", *FACET_COLUMNS.values())
# a page's editions come with the keys ORDER sorts by, so that the pages of slices can be merged in Python
PAGE_KEYS = "e.work_id, e.score, e.holders, e.year, e.title_fold, e.title_key"
NO_KEYS = ("CAST(NULL AS numeric), CAST(NULL AS integer), CAST(NULL AS integer), CAST(NULL AS text), "
           "CAST(NULL AS text)")
# per sort but relevance: the leading sort key, one value ordered as ORDER orders its leading keys
LEADS = {"year": "COALESCE(-e.year, 2147483647)", "year_asc": "COALESCE(e.year, 2147483647)", "title": "e.title_key"}
SLICES = 2  # slices a broad page is split into, each scored on a connection of its own at once (1: never split)
SLICE_FROM = 2000  # matches from which a page is split: below, one statement is quicker than several
SLICED_ROWS = 200  # a page that ends deeper than this many editions is not split (each slice would send them all)
SNAPSHOT_WAIT = 10.0  # seconds a slice waits for slice 0's snapshot (it connects first, 3 s at most per server)
_SNAPSHOT_NAME = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")  # what pg_export_snapshot returns
log = logging.getLogger("balis.index")


class _Running:
    """How many searches of this process's searchers are running now (a portal runs several at once)."""

    def __init__(self) -> None:
        self.now = 0
        self._lock = threading.Lock()

    def __enter__(self) -> int:
        with self._lock:
            self.now += 1
            return self.now

    def __exit__(self, *exc) -> None:
        with self._lock:
            self.now -= 1


RUNNING = _Running()


class PgSearcher:
    """A searcher over the PostgreSQL union index; each search sees the latest commit of the server it reads
    (the primary, or a standby: `indexer/pg/reads.py`)."""

    exact_facets = EXACT_FACETS  # facet counts are exact up to this many matches, estimated above
    sample = SAMPLE  # at least this many matches are counted for an estimate
    slice_from = SLICE_FROM  # matches from which a page is split into slices
    prune = True  # sorted pages score only the matches that can reach them (False: every match, as a check)

    def __init__(self, index: PgIndex | None, reads: ReadConnections, location: str, *,
                 replicas: Sequence[str] = (), slices: int = 1) -> None:
        self.index = index  # the primary's index, when it was reachable at open (None: standbys only)
        self.reads = reads
        self.index_dir = shown(location)
        self.slices = max(1, int(slices))
        self._location, self._replicas = location, tuple(replicas)
        self._slice_reads: list[ReadConnections] = []  # the other slices' connections, made when first needed
        self._slicer: ThreadPoolExecutor | None = None
        self._words: dict[str, float] = {}  # lexeme → editions holding it, for the words the statistics track
        self._untracked: float | None = None  # at most this many editions hold any other word (None: unknown)
        self._editions = 0.0  # editions in the index, as the statistics count them
        self._seen = self.generation()
        if self.slices > 1:
            self._read_statistics()

    @classmethod
    def open(cls, location: str, replicas: Sequence[str] = (), slices: int | None = None) -> PgSearcher:
        """Open the index in the database for searching; NoIndexError when it is missing or empty.

        With `replicas` (standbys of that database), searches read from them (`ReadConnections`); the primary
        is opened first to bring its schema up to date, and may be down, as long as a standby answers.
        `slices`: how many slices a broad page is split into (`search`); by default `BALIS_INDEX_SLICES`, or
        `SLICES`."""
        slices = default_slices() if slices is None else slices
        index = None
        try:
            index = PgIndex.open(location)
        except NoIndexError:
            raise
        except LocalIndexError as exc:
            if not replicas:
                raise
            log.warning("union index: %s; searching its standbys", exc)
        if index is not None and replicas:  # the primary is read only when no standby answers
            index.close()
            index = None
        reads = ReadConnections(location, replicas, primary_conn=index.conn if index is not None else None)
        try:
            searcher = cls(index, reads, location, replicas=replicas, slices=slices)
            if not searcher._read("SELECT EXISTS (SELECT 1 FROM editions)")[0][0]:
                raise NoIndexError(f"the union index in {searcher.index_dir} is empty; fill it with 'balis harvest'")
        except BaseException:
            reads.close()
            raise
        return searcher

    def refresh(self) -> None:
        """Nothing to reopen: every search reads the latest committed state (the word statistics are read
        again)."""
        self._seen = self.generation()
        if self.slices > 1:
            self._read_statistics()

    def up_to_date(self) -> bool:
        """Whether no commit happened since this searcher was opened (or last refreshed)."""
        return self.generation() == self._seen

    def warm(self) -> None:
        """Nothing to build: facets and sorts are read from the database's indexes."""

    def forget_terms(self) -> None:
        """Nothing is cached in the process."""

    def suggest(self, words: list[str], limit: int = 3) -> list[str]:
        """Spellings the index knows for the words it does not, as the whoosh index gives them (indexer/pg/terms.py)."""
        from indexer.pg import terms

        return self.reads.run(lambda conn: terms.suggest(conn, words, limit))

    def close(self) -> None:
        if self._slicer is not None:
            self._slicer.shutdown()
        for reads in self._slice_reads:
            reads.close()
        self.reads.close()  # the primary's connection among them

    def __enter__(self) -> PgSearcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def served_by(self) -> str | None:
        """The server (URL without password) that answered the last read."""
        return self.reads.served_by

    def _read(self, sql: str, params=()) -> list[tuple]:
        return self.reads.run(lambda conn: conn.execute(sql, params).fetchall())

    def doc_count(self) -> int:
        return self._read("SELECT count(*) FROM editions")[0][0]

    def generation(self) -> int:
        got = self._read("SELECT value FROM index_meta WHERE key = 'generation'")
        return int(got[0][0]) if got else 0

    def harvested(self) -> dict[str, str]:
        """When each member was last harvested into the index, as the server read records it."""
        got = self._read("SELECT value FROM index_meta WHERE key = 'harvested'")
        return dict(got[0][0] or {}) if got else {}

    def work(self, work_id: str) -> Work | None:
        got = self._read("SELECT work FROM editions WHERE work_id = %s", (work_id,))
        return load_work(got[0][0]) if got else None

    def group(self, group_id: str, limit: int = MAX_OTHER_EDITIONS) -> list[Work]:
        """The editions of a group (at most `limit`), by id."""
        rows = self._read("SELECT work FROM editions WHERE group_id = %s ORDER BY work_id LIMIT %s",
                          (group_id, limit))
        return [load_work(r[0]) for r in rows]

    def search(self, query: Query, *, sort: str = "relevance", page: int = 1, size: int = 10,
               selected: Mapping[str, list[str]] | None = None,
               names: Mapping[str, str] | None = None) -> LocalResult:
        """Page `page` (of `size` works) of the works matching `query` and the `selected` facets: one statement,
        or, for a broad query while no other search of this process runs (whose statements keep the server's
        cores busy already), one per slice at once (`_parts`, `_sliced`), their counts added and their pages
        merged in the same order."""
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
        if page < 1 or size < 1:
            raise ValueError("page and size must be 1 or more")
        t0 = time.perf_counter()
        selected = {f: [str(v) for v in vs] for f, vs in (selected or {}).items() if vs}
        Sql().selected(selected)  # unknown facets and bad years raise ValueError before any I/O
        offset = (page - 1) * size
        try:  # one statement per slice, one round trip each: its snapshot is the slice's page, counts and facets
            with RUNNING as running:
                parts = self._parts(query, offset + size) if running == 1 else 1
                if parts == 1:
                    answers = [self._answer(self.reads, query, selected, sort, size, offset, (0, 1))]
                else:  # every slice sends its first offset + size editions: the page is among them
                    answers = self._sliced(query, selected, sort, offset + size, parts)
        except psycopg.Error as exc:
            raise LocalIndexError(f"the union index could not run this query ({str(exc).strip()}); "
                                  "simplify it") from None
        tally = Tally.of(answers)
        rows = [r for a in answers for r in a if r[0] == "page"]
        if parts > 1:
            rows = sorted(rows, key=SORT_KEYS[sort])[offset:offset + size]
        else:
            rows.sort(key=lambda r: r[3])
        matched, total, harvested = tally.matched, tally.total, tally.harvested
        by_facet, also = tally.by_facet, tally.also
        facets = {}
        for facet in facet_mod.FACETS:
            rows_of = facet_rows(facet, by_facet[facet], names or {})
            shown = {r["value"] for r in rows_of}
            for value in selected.get(facet, []):
                if value not in shown:
                    rows_of.append({"value": value, "label": value, "count": also[facet].get(value, 0)})
            if tally.estimated and facet not in ALWAYS_EXACT:
                for r in rows_of:
                    r["count"], r["estimated"] = about(r["count"]), True
            facets[facet] = rows_of
        works = [load_work(r[4]) for r in rows]
        return LocalResult(query=query, page=page, size=size, sort=sort, works=works, total=total, matched=matched,
                           facets=facets, index=self.index_dir, harvested=harvested,
                           ms=round((time.perf_counter() - t0) * 1000))

    # -- slices: a broad page scored on several connections at once ------------------------------------------
    def _read_statistics(self) -> None:
        """The words PostgreSQL's statistics of the match vector track (its most common lexemes, from the last
        ANALYZE) with how many editions hold each, and at most how many hold any other word. None readable (no
        ANALYZE yet, or the statistics cannot be read): every broad-looking page is counted first instead."""
        try:
            got = self._read(
                "SELECT CAST(CAST(s.most_common_elems AS text) AS text[]), s.most_common_elem_freqs, c.reltuples "
                "FROM pg_stats s JOIN pg_class c ON c.oid = CAST('editions' AS regclass) "
                "WHERE s.schemaname = current_schema() AND s.tablename = 'editions' AND s.attname = 'doc'")
        except psycopg.Error as exc:
            log.warning("union index: its word statistics cannot be read (%s); broad searches are counted before "
                        "they are split", str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
            got = []
        words, freqs, rows = got[0] if got else (None, None, None)
        if not words or not freqs or len(freqs) < len(words) + 2 or not rows or rows <= 0:
            self._words, self._untracked, self._editions = {}, None, 0.0
            return
        self._editions = float(rows)
        self._words = {w: f * rows for w, f in zip(words, freqs, strict=False)}
        self._untracked = freqs[len(words)] * rows  # the least frequency tracked (then the greatest)

    def _editions_of(self, lexeme: str) -> float | None:
        """How many editions hold `lexeme` (the statistics' estimate), or at most the untracked words' bound when
        that is below `slice_from` (small enough either way); None when the statistics cannot tell."""
        n = self._words.get(lexeme)
        if n is not None:
            return n
        if self._untracked is not None and self._untracked < self.slice_from:
            return self._untracked
        return None

    def _parts(self, query: Query, rows: int) -> int:
        """Into how many slices this page is split: `slices` when the query has `slice_from` matches or more and
        the page is not deep, else 1. The matches are estimated from the word statistics (`_read_statistics`),
        or, when those cannot tell, counted up to `slice_from` from the match index (a few ms)."""
        if self.slices < 2 or rows > SLICED_ROWS:
            return 1
        q = Sql()
        guess = q.estimate(query, self._editions_of, self._editions)
        if guess is not None:
            return self.slices if guess >= self.slice_from else 1
        probe = f"SELECT count(*) FROM (SELECT 1 FROM editions e WHERE {q.match(query)} LIMIT {int(self.slice_from)}) x"
        return self.slices if self._read(probe, q.params)[0][0] >= self.slice_from else 1

    def _answer(self, reads: ReadConnections, query: Query, selected: dict[str, list[str]], sort: str, limit: int,
                offset: int, part: tuple[int, int], server: str | None = None,
                snapshot: Future | None = None) -> list[tuple]:
        """The rows of one slice's statement (`_search_sql`), read from `server` when it answers; each of k
        slices samples its facets as a k-th of the index would be sampled. With `snapshot`, the statement reads
        the page's one snapshot: slice 0 exports it (sets the future to its name), the others import it."""
        k = part[1]
        q = Sql()
        statement = _search_sql(q, query, selected, sort, limit=limit, offset=offset,
                                exact_facets=-(-self.exact_facets // k), sample=-(-self.sample // k), part=part,
                                prune=self.prune)
        if snapshot is None:
            return reads.run(lambda conn: conn.execute(statement, q.params).fetchall(), server)
        return reads.run(lambda conn: _in_snapshot(conn, statement, q.params, snapshot, lead=part[0] == 0), server)

    def _sliced(self, query: Query, selected: dict[str, list[str]], sort: str, rows: int, k: int) -> list[list]:
        """Every slice's rows, its first `rows` editions among them: slice 0 in this thread on `reads`, the
        others at the same time in the slicer's threads, each on a connection of its own to the same server
        (the next standby in turn, or the primary; another only when that one does not answer). All read one
        snapshot, slice 0's (`_in_snapshot`): a page never mixes two commits."""
        while len(self._slice_reads) < k - 1:
            self._slice_reads.append(ReadConnections(self._location, self._replicas))
        if self._slicer is None:
            self._slicer = ThreadPoolExecutor(self.slices - 1, thread_name_prefix="balis-slice")
        server = self.reads.order()[0]  # the next server in turn, for every slice of this page
        snapshot: Future = Future()  # slice 0's snapshot name, once exported (None: the others read their own)
        others = [self._slicer.submit(self._answer, self._slice_reads[i - 1], query, selected, sort, rows, 0, (i, k),
                                      server, snapshot) for i in range(1, k)]
        try:
            first = self._answer(self.reads, query, selected, sort, rows, 0, (0, k), server, snapshot)
        finally:
            if not snapshot.done():  # slice 0 failed before exporting: the others must not wait for it
                snapshot.set_result(None)
            done = [f.exception() for f in others]  # wait for all: no connection left busy for the next search
        if any(done):
            raise next(e for e in done if e)
        return [first, *(f.result() for f in others)]


def _in_snapshot(conn: psycopg.Connection, statement: str, params: dict, snapshot: Future, *, lead: bool) -> list:
    """`statement`'s rows read in a repeatable-read transaction on the page's one snapshot: the lead (slice 0)
    exports its snapshot (`pg_export_snapshot`, on a standby too) and keeps its transaction open while it runs
    its statement; the others import it (`SET TRANSACTION SNAPSHOT`) before theirs. A snapshot that cannot be
    imported (the lead already done, or it read another server after a failure) leaves that slice its own."""
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    try:
        if lead:
            name = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
            if not snapshot.done():
                snapshot.set_result(name)
        else:
            try:
                name = snapshot.result(timeout=SNAPSHOT_WAIT)
            except TimeoutError:  # slice 0 still connecting: this slice reads its own
                name = None
            if name and _SNAPSHOT_NAME.fullmatch(name):
                try:
                    import_snapshot(conn, name)
                except psycopg.Error:  # gone already, or of another server: this slice reads its own
                    conn.execute("ROLLBACK")
                    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        rows = conn.execute(statement, params).fetchall()
    except BaseException:
        if not conn.closed:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return rows


def default_slices() -> int:
    """`BALIS_INDEX_SLICES` when it is a whole number of 1 or more (a warning in the log otherwise), else SLICES."""
    text = os.environ.get("BALIS_INDEX_SLICES", "").strip()
    if not text:
        return SLICES
    if text.isdigit() and int(text) >= 1:
        return int(text)
    log.warning("union index: BALIS_INDEX_SLICES=%r is not a whole number of 1 or more; using %d", text, SLICES)
    return SLICES


def slice_of(alias: str, k: int) -> str:
    """Which of k slices an edition is in (0 … k-1): from a hash of its id under a seed of its own, so that a
    slice's editions are not those of the facet sample's buckets (`hashtext(work_id) & mask`)."""
    return f"mod(hashtextextended({alias}.work_id, 7) & 65535, {int(k)})"


# how merged slices' page rows (kind, work_id, n, position, work, score, holders, year, title_fold, title_key)
# are ordered: as ORDER orders them in SQL (title_fold, title_key and work_id in the C collation: code points)
SORT_KEYS = {
    "relevance": lambda r: (-r[5], -r[6], r[8], r[1]),
    "year": lambda r: (r[7] is None, -(r[7] or 0), -r[5], r[8], r[1]),
    "year_asc": lambda r: (r[7] is None, r[7] or 0, -r[5], r[8], r[1]),
    "title": lambda r: (r[9], -r[5], r[1]),
}


@dataclass
class Tally:
    """The counts of one or more slices' rows added up: hits, facet counts (an estimate scaled back by its
    slice's sample), whether any is an estimate, and the index's harvest times."""

    matched: int = 0
    total: int = 0
    estimated: bool = False
    harvested: dict[str, str] = field(default_factory=dict)
    by_facet: dict[str, dict[str, int]] = field(default_factory=lambda: {f: {} for f in facet_mod.FACETS})
    also: dict[str, dict[str, int]] = field(default_factory=lambda: {f: {} for f in facet_mod.FACETS})

    @classmethod
    def of(cls, answers: Sequence[Sequence[tuple]]) -> Tally:
        t = cls()
        for rows in answers:
            scale = next((r[2] for r in rows if r[0] == "scale"), 1)
            t.estimated = t.estimated or scale > 1
            for kind, value, n, *_ in rows:
                if kind == "harvested":
                    if value and not t.harvested:
                        t.harvested = dict(json.loads(value) or {})
                elif kind == "matched":
                    t.matched += n
                elif kind == "total":
                    t.total += n
                elif kind in ("scale", "page"):
                    continue
                elif kind.startswith("+"):
                    f = kind[1:]
                    t.also[f][value] = t.also[f].get(value, 0) + (n if f in ALWAYS_EXACT else n * scale)
                elif n:
                    t.by_facet[kind][value] = t.by_facet[kind].get(value, 0) + (n if kind in ALWAYS_EXACT else n * scale)
        return t


def _search_sql(q: Sql, query: Query, selected: dict[str, list[str]], sort: str, *, limit: int, offset: int,
                exact_facets: int = EXACT_FACETS, sample: int = SAMPLE, part: tuple[int, int] = (0, 1),
                prune: bool = True) -> str:
    """One statement, the match evaluated once: the matching editions with their facet values, sort keys and
    relevance (`m`); from them the matched and hit counts, every facet's counts (each counting what the *other*
    selected facets keep), and the page in `sort` order with its stored editions. Rows: (kind, value, count,
    position, work, *sort keys), kind 'page' for the page's editions (with the keys `ORDER` sorts them by:
    score, holders, year, title_fold, title_key), and one row 'harvested' (the index's harvest times, as JSON
    text). `part=(i, k)`: only the editions of slice i of k (`slice_of`), the others' matches left out.
    Sorted by year or title (with `prune`), `m` holds no relevance: only the matches up to the page's last key
    are read again and scored (`r`), the rest cannot reach the page (decision 0027)."""
    match = q.match(query)
    if part[1] > 1:
        match = f"({match} AND {slice_of(q.e, part[1])} = {int(part[0])})"
    score = q.score(query)
    parts = ["SELECT 'matched', '', n FROM n", "SELECT 'scale', '', mask + 1 FROM n"]
    if selected:
        parts.append(f"SELECT 'total', '', count(*) FROM m WHERE {q.selected(selected, prefix='m.')}")
    else:
        parts.append("SELECT 'total', '', n FROM n")
    for facet in facet_mod.FACETS:
        others = {f: vs for f, vs in selected.items() if f != facet}
        where = q.selected(others, prefix="m.") or "true"
        rows = "m" if facet in ALWAYS_EXACT else "s"  # every match, or the sample
        if facet == "year":
            parts.append(f"SELECT 'year', COALESCE(CAST(m.year AS text), '{facet_mod.UNKNOWN}'), count(*) "
                         f"FROM {rows} m WHERE {where} GROUP BY 2")
        else:
            # the values unnested in the select list (a ProjectSet), not joined to each row: half the CPU per match
            parts.append(f"SELECT '{facet}', v, count(*) FROM (SELECT unnest(m.{FACET_COLUMNS[facet]}) AS v "
                         f"FROM {rows} m WHERE {where}) u GROUP BY v")
        for value in selected.get(facet, []):  # counted in case the value is not among the facet's rows
            one = q.selected({**others, facet: [value]}, prefix="m.")
            parts.append(f"SELECT '+{facet}', {q.param(value)}, count(*) FROM {rows} m WHERE {one}")
    cols = ", ".join(f"e.{c}" for c in MATCH_COLUMNS)
    chosen = q.selected(selected, prefix="e.") or "true"
    counts = "\nUNION ALL ".join(parts)
    # the facets count every match up to EXACT_FACETS; above, the matches whose work id hashes to 0 under a mask
    # (one in 2, 4, 8, ...: at least SAMPLE of them), and the counts are scaled back (estimates, marked as such)
    mask = (f"CASE WHEN n <= {int(exact_facets)} OR n < {2 * int(sample)} THEN 0 "
            f"ELSE CAST(power(2, floor(log(2, n / {float(sample)}))) AS integer) - 1 END")
    if not prune or sort == "relevance":  # every match scored as it is found
        found = f"m AS MATERIALIZED (SELECT {cols}, {score} AS score FROM ({_tested(q, match, cols)}) e)"
        ranked = "m"
    else:  # the page is among the matches up to the deepest row's leading sort key: only those are read again
        lead = LEADS[sort]  # (by row) and scored, their relevance ordering those of one key
        found = (f"m AS MATERIALIZED (SELECT {cols}, e.ctid AS row FROM editions e WHERE {match}),\n"
                 f"k AS (SELECT {lead} AS cut FROM m e WHERE {chosen} ORDER BY 1 "
                 f"LIMIT 1 OFFSET {q.param(limit + offset - 1)}),\n")
        rows = (f"e.ctid = ANY(ARRAY(SELECT e.row FROM m e WHERE {chosen} AND "
                f"(NOT EXISTS (SELECT 1 FROM k) OR {lead} <= (SELECT cut FROM k))))")
        found += f"r AS MATERIALIZED (SELECT {cols}, {score} AS score FROM ({_tested(q, rows, cols)}) e)"
        ranked = "r"
    return (f"WITH {found},\n"
            f"n AS (SELECT n, {mask} AS mask FROM (SELECT count(*) AS n FROM m) c),\n"
            "s AS MATERIALIZED (SELECT m.* FROM m, n WHERE (hashtext(m.work_id) & n.mask) = 0),\n"
            f"p AS (SELECT o.*, row_number() OVER () AS pos FROM (SELECT {PAGE_KEYS} FROM {ranked} e WHERE {chosen} "
            f"ORDER BY {ORDER[sort]} LIMIT {q.param(limit)} OFFSET {q.param(offset)}) o)\n"
            f"SELECT kind, value, n, CAST(NULL AS bigint), CAST(NULL AS bytea), {NO_KEYS} "
            f"FROM ({counts}) c(kind, value, n)\n"
            "UNION ALL SELECT 'page', p.work_id, NULL, p.pos, x.work, p.score, p.holders, p.year, p.title_fold, "
            "p.title_key FROM p JOIN editions x USING (work_id)\n"
            f"UNION ALL SELECT 'harvested', CAST(value AS text), NULL, NULL, NULL, {NO_KEYS} FROM index_meta "
            "WHERE key = 'harvested'")


def _tested(q: Sql, match: str, cols: str) -> str:
    """The matching editions with the per-row tests the score reads (`Sql.projected`). The vectors they test are
    read once per row (an array of one copies it into memory: `(ARRAY[v])[1]`), not once per test: a vector stored out of line (TOAST)
    would otherwise be fetched and decompressed again for every token and field."""
    tests, gates = q.projected(), q.gated()
    if not tests:
        return f"SELECT {cols} FROM editions e WHERE {match} OFFSET 0"
    read = tests + gates
    used = [c for c in ("exact_titles", "title_tokens", "isbns", "issns", "ids") if f"e.{c}" in read]
    used += [f"(ARRAY[e.{c}])[1] AS {c}" for c in ("rk", "pub") if f"e.{c}" in read]
    found = f"SELECT {cols}, {', '.join(used)} FROM editions e WHERE {match} OFFSET 0"
    if gates:  # whether each field has any of a clause's words, under the tests that depend on it
        found = f"SELECT e.*, {gates} FROM ({found}) e OFFSET 0"
    tested = f"SELECT {cols}, {tests} FROM ({found}) e OFFSET 0"
    fields = q.field_scores()
    return f"SELECT {cols}, {fields} FROM ({tested}) e OFFSET 0" if fields else tested


def about(n: int) -> int:
    """An estimated count as a page shows it: two significant digits (1,208 → 1,200; 56 stays 56)."""
    if n < 100:
        return n
    return int(round(n, 2 - len(str(n))))


def facet_rows(facet: str, counts: Mapping[str, int], names: Mapping[str, str]) -> list[dict]:
    """A facet's rows from its counts per value, ordered and labelled as `federator.facets.compute` does
    (years from their counts per year, binned by `federator.facets.year_bins`)."""
    unknown = facet_mod.UNKNOWN
    counts = dict(counts)
    if facet == "year":
        years = {int(v): n for v, n in counts.items() if v != unknown}
        bins = facet_mod.year_bins(years)
        binned: dict[str, int] = {}
        for y, n in years.items():
            key = facet_mod.year_value(y, bins)
            binned[key] = binned.get(key, 0) + n
        values = [v for v in [f"{a}-{b}" for a, b in reversed(bins)] + [facet_mod.BEFORE_VALUE] if binned.get(v)]
        if counts.get(unknown):
            binned[unknown] = counts[unknown]
            values.append(unknown)
        counts = binned
    else:
        values = sorted((v for v in counts if v != unknown), key=lambda v: (-counts[v], v))
        if counts.get(unknown):
            values.append(unknown)
    return [{"value": v, "label": facet_mod.label(facet, v, names), "count": counts[v]} for v in values]
