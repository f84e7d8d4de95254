"""Search the PostgreSQL union index: the same result model, facets, sorts and paging as the whoosh searcher.

A page is two statements in one read-only snapshot: the facet counts (every facet over all matching editions,
each counting what the *other* selected facets keep, as `federator.facets.counts`) with the match and hit
counts, then the page itself ordered in SQL by `federator.rank`'s relevance over every match, or by year or
title with relevance breaking ties, as `federator.rank.rank` orders (`indexer.pg.sql`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import psycopg

from connectors.query import Query
from dedup.work import Work
from federator import facets as facet_mod
from federator.rank import SORTS
from indexer.errors import LocalIndexError, NoIndexError
from indexer.pg.index import PgIndex
from indexer.pg.sql import FACET_COLUMNS, ORDER, Sql
from indexer.schema import load_work
from indexer.search import LocalResult

MAX_OTHER_EDITIONS = 51


class PgSearcher:
    """A searcher over the PostgreSQL union index; each search sees the latest commit."""

    def __init__(self, index: PgIndex) -> None:
        self.index = index
        self.conn = index.conn

    @classmethod
    def open(cls, location: str) -> PgSearcher:
        """Open the index in the database for searching; NoIndexError when it is missing or empty."""
        ix = PgIndex.open(location)
        if ix.doc_count() == 0:
            ix.close()
            raise NoIndexError(f"the union index in {ix.index_dir} is empty; fill it with 'balis harvest'")
        return cls(ix)

    def refresh(self) -> None:
        """Nothing to do: every search reads the latest committed state."""

    def warm(self) -> None:
        """Nothing to build: facets and sorts are read from the database's indexes."""

    def forget_terms(self) -> None:
        """Nothing is cached in the process."""

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> PgSearcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def doc_count(self) -> int:
        return self.index.doc_count()

    def generation(self) -> int:
        return self.index.generation()

    def work(self, work_id: str) -> Work | None:
        got = self.conn.execute("SELECT work FROM editions WHERE work_id = %s", (work_id,)).fetchone()
        return load_work(got[0]) if got else None

    def group(self, group_id: str) -> list[Work]:
        rows = self.conn.execute("SELECT work FROM editions WHERE group_id = %s ORDER BY work_id LIMIT %s",
                                 (group_id, MAX_OTHER_EDITIONS)).fetchall()
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
        facets_sql = Sql()
        facets_sql.selected(selected)  # unknown facets and bad years raise ValueError before any I/O
        counted = _count_sql(facets_sql, query, selected)
        page_sql = Sql()
        where = page_sql.match(query)
        chosen = page_sql.selected(selected, prefix="e.")
        if chosen:
            where = f"{where} AND {chosen}"
        score = page_sql.score(query)
        page_params = {**page_sql.params, "limit": size, "offset": (page - 1) * size}
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                counts = cur.execute(counted, facets_sql.params).fetchall()
                rows = cur.execute(f"SELECT e.work, {score} AS score FROM editions e WHERE {where} "
                                   f"ORDER BY {ORDER[sort]} LIMIT %(limit)s OFFSET %(offset)s", page_params).fetchall()
                harvested = self.index.harvested(cur)
        except psycopg.Error as exc:
            raise LocalIndexError(f"the union index could not run this query ({str(exc).strip()}); "
                                  "simplify it") from None
        matched = total = 0
        by_facet: dict[str, dict[str, int]] = {f: {} for f in facet_mod.FACETS}
        also: dict[str, dict[str, int]] = {f: {} for f in facet_mod.FACETS}
        for kind, value, n in counts:
            if kind == "matched":
                matched = n
            elif kind == "total":
                total = n
            elif kind.startswith("+"):
                also[kind[1:]][value] = n
            elif n:
                by_facet[kind][value] = n
        facets = {}
        for facet in facet_mod.FACETS:
            rows_of = facet_rows(facet, by_facet[facet], names or {})
            shown = {r["value"] for r in rows_of}
            for value in selected.get(facet, []):
                if value not in shown:
                    rows_of.append({"value": value, "label": value, "count": also[facet].get(value, 0)})
            facets[facet] = rows_of
        works = [load_work(r[0]) for r in rows]
        return LocalResult(query=query, page=page, size=size, sort=sort, works=works, total=total, matched=matched,
                           facets=facets, index=self.index.index_dir, harvested=harvested,
                           ms=round((time.perf_counter() - t0) * 1000))


def _count_sql(q: Sql, query: Query, selected: dict[str, list[str]]) -> str:
    """One statement: the matching editions' count, the hits' count, and every facet's counts."""
    match = q.match(query)
    parts = ["SELECT 'matched', '', count(*) FROM m"]
    parts.append(f"SELECT 'total', '', count(*) FROM m WHERE {q.selected(selected, prefix='m.') or 'true'}")
    for facet in facet_mod.FACETS:
        others = {f: vs for f, vs in selected.items() if f != facet}
        where = q.selected(others, prefix="m.") or "true"
        if facet == "year":
            parts.append(f"SELECT 'year', COALESCE(CAST(m.year AS text), '{facet_mod.UNKNOWN}'), count(*) FROM m "
                         f"WHERE {where} GROUP BY 2")
        else:
            parts.append(f"SELECT '{facet}', v, count(*) FROM m, unnest(m.{FACET_COLUMNS[facet]}) v "
                         f"WHERE {where} GROUP BY v")
        for value in selected.get(facet, []):  # counted in case the value is not among the facet's rows
            one = q.selected({**others, facet: [value]}, prefix="m.")
            parts.append(f"SELECT '+{facet}', {q.param(value)}, count(*) FROM m WHERE {one}")
    cols = ", ".join(f"e.{c}" for c in ("year", *FACET_COLUMNS.values()))
    body = "\nUNION ALL ".join(parts)
    return f"WITH m AS MATERIALIZED (SELECT {cols} FROM editions e WHERE {match})\n{body}"


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
