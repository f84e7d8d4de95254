"""Search the PostgreSQL union index: the same result model, facets, sorts and paging as the whoosh searcher.

A page is one statement in a read-only snapshot (`_search_sql`): the matching editions are found once, with
their facet values, sort keys and relevance (`federator.rank`'s, over every match: `indexer.pg.sql`); from them
the match and hit counts, every facet's counts (each counting what the *other* selected facets keep, as
`federator.facets.counts`), and the page ordered by relevance, or by year or title with relevance breaking
ties, as `federator.rank.rank` orders. Reads go to the primary or its standbys (`indexer.pg.reads`).

What is exact: the order of every page, the counts of hits and the member facet (`ALWAYS_EXACT`), always. The
other facets' counts are exact up to `EXACT_FACETS` matches; above, they are counted on a sample of the matches
(those whose work id hashes into one bucket of 2, 4, 8, ...: at least `SAMPLE` editions), scaled back, shown to
two significant digits, and each such row says `"estimated": True` (the portal writes 约 before it). A value no
sampled edition has is not listed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence

import psycopg

from connectors.query import Query
from dedup.work import Work
from federator import facets as facet_mod
from federator.rank import SORTS
from indexer.errors import LocalIndexError, NoIndexError
from indexer.pg.index import PgIndex, shown
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
log = logging.getLogger("balis.index")


class PgSearcher:
    """A searcher over the PostgreSQL union index; each search sees the latest commit of the server it reads
    (the primary, or a standby: `indexer/pg/reads.py`)."""

    exact_facets = EXACT_FACETS  # facet counts are exact up to this many matches, estimated above
    sample = SAMPLE  # at least this many matches are counted for an estimate

    def __init__(self, index: PgIndex | None, reads: ReadConnections, location: str) -> None:
        self.index = index  # the primary's index, when it was reachable at open (None: standbys only)
        self.reads = reads
        self.index_dir = shown(location)
        self._seen = self.generation()

    @classmethod
    def open(cls, location: str, replicas: Sequence[str] = ()) -> PgSearcher:
        """Open the index in the database for searching; NoIndexError when it is missing or empty.

        With `replicas` (standbys of that database), searches read from them (`ReadConnections`); the primary
        is opened first to bring its schema up to date, and may be down, as long as a standby answers."""
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
            searcher = cls(index, reads, location)
            if not searcher._read("SELECT EXISTS (SELECT 1 FROM editions)")[0][0]:
                raise NoIndexError(f"the union index in {searcher.index_dir} is empty; fill it with 'balis harvest'")
        except BaseException:
            reads.close()
            raise
        return searcher

    def refresh(self) -> None:
        """Nothing to reopen: every search reads the latest committed state."""
        self._seen = self.generation()

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
        """Page `page` (of `size` works) of the works matching `query` and the `selected` facets."""
        if sort not in SORTS:
            raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
        if page < 1 or size < 1:
            raise ValueError("page and size must be 1 or more")
        t0 = time.perf_counter()
        selected = {f: [str(v) for v in vs] for f, vs in (selected or {}).items() if vs}
        q = Sql()
        q.selected(selected)  # unknown facets and bad years raise ValueError before any I/O
        statement = _search_sql(q, query, selected, sort, limit=size, offset=(page - 1) * size,
                                exact_facets=self.exact_facets, sample=self.sample)

        try:  # one statement, one round trip: its snapshot is the page's (counts, facets, page and harvest times)
            got = self.reads.run(lambda conn: conn.execute(statement, q.params).fetchall())
        except psycopg.Error as exc:
            raise LocalIndexError(f"the union index could not run this query ({str(exc).strip()}); "
                                  "simplify it") from None
        meta = next((value for kind, value, _, _, _ in got if kind == "harvested"), None)
        harvested = dict(json.loads(meta) or {}) if meta else {}
        got = [r for r in got if r[0] != "harvested"]
        counts = [(kind, value, n) for kind, value, n, _, _ in got if kind != "page"]
        scale = next((n for kind, _, n in counts if kind == "scale"), 1)
        rows = [(work,) for _, _, _, _, work in sorted((r for r in got if r[0] == "page"), key=lambda r: r[3])]
        matched = total = 0
        by_facet: dict[str, dict[str, int]] = {f: {} for f in facet_mod.FACETS}
        also: dict[str, dict[str, int]] = {f: {} for f in facet_mod.FACETS}
        for kind, value, n in counts:
            if kind == "matched":
                matched = n
            elif kind == "total":
                total = n
            elif kind == "scale":
                pass
            elif kind.startswith("+"):
                also[kind[1:]][value] = n if kind[1:] in ALWAYS_EXACT else n * scale
            elif n:
                by_facet[kind][value] = n if kind in ALWAYS_EXACT else n * scale
        facets = {}
        for facet in facet_mod.FACETS:
            rows_of = facet_rows(facet, by_facet[facet], names or {})
            shown = {r["value"] for r in rows_of}
            for value in selected.get(facet, []):
                if value not in shown:
                    rows_of.append({"value": value, "label": value, "count": also[facet].get(value, 0)})
            if scale > 1 and facet not in ALWAYS_EXACT:
                for r in rows_of:
                    r["count"], r["estimated"] = about(r["count"]), True
            facets[facet] = rows_of
        works = [load_work(r[0]) for r in rows]
        return LocalResult(query=query, page=page, size=size, sort=sort, works=works, total=total, matched=matched,
                           facets=facets, index=self.index_dir, harvested=harvested,
                           ms=round((time.perf_counter() - t0) * 1000))


def _search_sql(q: Sql, query: Query, selected: dict[str, list[str]], sort: str, *, limit: int, offset: int,
                exact_facets: int = EXACT_FACETS, sample: int = SAMPLE) -> str:
    """One statement, the match evaluated once: the matching editions with their facet values, sort keys and
    relevance (`m`); from them the matched and hit counts, every facet's counts (each counting what the *other*
    selected facets keep), and the page in `sort` order with its stored editions. Rows: (kind, value, count,
    position, work), kind 'page' for the page's editions, and one row 'harvested' (the index's harvest times, as
    JSON text)."""
    match = q.match(query)
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
            parts.append(f"SELECT '{facet}', v, count(*) FROM {rows} m, unnest(m.{FACET_COLUMNS[facet]}) v "
                         f"WHERE {where} GROUP BY v")
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
    return (f"WITH m AS MATERIALIZED (SELECT {cols}, {score} AS score FROM ({_tested(q, match, cols)}) e),\n"
            f"n AS (SELECT n, {mask} AS mask FROM (SELECT count(*) AS n FROM m) c),\n"
            "s AS MATERIALIZED (SELECT m.* FROM m, n WHERE (hashtext(m.work_id) & n.mask) = 0),\n"
            f"p AS (SELECT work_id, row_number() OVER () AS pos FROM (SELECT e.work_id FROM m e WHERE {chosen} "
            f"ORDER BY {ORDER[sort]} LIMIT {q.param(limit)} OFFSET {q.param(offset)}) o)\n"
            f"SELECT kind, value, n, CAST(NULL AS bigint), CAST(NULL AS bytea) FROM ({counts}) c(kind, value, n)\n"
            "UNION ALL SELECT 'page', p.work_id, NULL, p.pos, x.work FROM p JOIN editions x USING (work_id)\n"
            "UNION ALL SELECT 'harvested', CAST(value AS text), NULL, NULL, NULL FROM index_meta "
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
