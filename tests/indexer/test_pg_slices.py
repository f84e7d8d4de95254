"""A broad page of the PostgreSQL union index split into slices scored at once, each on a connection of its own:
the same page, hit counts and exact facets as one statement gives, in every sort and on later pages; estimated
facets still said to be estimates; a narrow query not split (the word statistics tell), a query they cannot
judge counted first; a slice that fails is the search's clear error, and the next search works.

The generated consortium of test_pg_many_hits (a few thousand editions); the searchers' thresholds are lowered so
that its broad queries take the path a broad query takes at millions of holdings.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future

import psycopg
import pytest

from connectors.query import parse
from indexer.backend import open_searcher
from indexer.errors import LocalIndexError
from indexer.pg.search import SLICED_ROWS, PgSearcher, default_slices
from indexer.pg.sql import Sql

BROAD = ["中国", "管理", "研究", "中国 OR history", "ti:中国 NOT 历史", '"中国历史"', "发展 报告", "hist*"]
SORTS = ["relevance", "year", "year_asc", "title"]


@pytest.fixture(scope="module")
def works(broad_works):
    return broad_works


@pytest.fixture(scope="module")
def db(broad_database):
    return broad_database


@pytest.fixture(scope="module")
def one(db):
    s = open_searcher(db, slices=1)
    yield s
    s.close()


@pytest.fixture(scope="module", params=[2, 3])
def sliced(db, request):
    s = open_searcher(db, slices=request.param)
    s.slice_from = 1  # every query with a match is split
    yield s
    s.close()


@pytest.fixture
def parts(sliced, monkeypatch):
    """The (slice, of k) of every statement the sliced searcher runs."""
    seen: list[tuple[int, int]] = []
    answer = sliced._answer

    def recorded(*args):
        seen.append(args[6])  # (reads, query, selected, sort, limit, offset, part, server)
        return answer(*args)

    monkeypatch.setattr(sliced, "_answer", recorded)
    return seen


def _ids(result):
    return [w.work_id for w in result.works]


@pytest.mark.parametrize("text", BROAD)
@pytest.mark.parametrize("sort", SORTS)
def test_a_sliced_page_is_the_single_statements_page(one, sliced, parts, text, sort):
    for page in (1, 2, 3):
        whole = one.search(parse(text), sort=sort, page=page, size=20)
        split = sliced.search(parse(text), sort=sort, page=page, size=20)
        assert _ids(split) == _ids(whole), f"page {page}"
        assert (split.matched, split.total) == (whole.matched, whole.total)
        assert split.facets["member"] == whole.facets["member"]  # always exact
        assert split.harvested == whole.harvested
    k = sliced.slices
    assert sorted(set(parts)) == [(i, k) for i in range(k)]  # every slice ran, for every page
    assert whole.matched > 20  # more than a page


def test_exact_facets_add_up_to_the_single_statements(one, sliced, parts, monkeypatch):
    for s in (one, sliced):
        monkeypatch.setattr(s, "exact_facets", 10**6)
    for text in ("中国", "管理 OR history", "ti:中国 NOT 历史"):
        whole, split = one.search(parse(text), size=20), sliced.search(parse(text), size=20)
        assert split.facets == whole.facets
        assert all("estimated" not in r for rows in split.facets.values() for r in rows)
    assert parts


def test_selected_facets_give_the_same_page_and_counts(one, sliced, parts):
    whole = one.search(parse("中国"), size=20)
    member = whole.facets["member"][1]["value"]
    language = whole.facets["language"][0]["value"]
    chosen = {"member": [member], "language": [language]}
    for sort in ("relevance", "title"):
        a = one.search(parse("中国"), selected=chosen, sort=sort, size=20)
        b = sliced.search(parse("中国"), selected=chosen, sort=sort, size=20)
        assert _ids(b) == _ids(a) and (b.total, b.matched) == (a.total, a.matched) and a.total < a.matched
        assert b.facets["member"] == a.facets["member"]


def test_estimated_facets_are_marked_and_near(one, sliced, parts, monkeypatch):
    for s in (one, sliced):
        monkeypatch.setattr(s, "exact_facets", 100)
        monkeypatch.setattr(s, "sample", 50)
    whole = one.search(parse("中国"), size=20)
    split = sliced.search(parse("中国"), size=20)
    assert _ids(split) == _ids(whole) and split.facets["member"] == whole.facets["member"]
    rows = [r for f, rs in split.facets.items() if f != "member" for r in rs]
    assert rows and all(r["estimated"] is True for r in rows)
    assert abs(sum(r["count"] for r in split.facets["year"]) - whole.matched) <= 0.35 * whole.matched


def test_a_search_beside_another_of_the_process_is_one_statement(one, sliced, parts):
    """Another search running (a busy portal): its statement keeps a core busy already, so this one is not split."""
    from indexer.pg.search import RUNNING

    with RUNNING:
        b = sliced.search(parse("中国"), size=20)
    assert parts == [(0, 1)] and _ids(b) == _ids(one.search(parse("中国"), size=20))
    sliced.search(parse("中国"), size=20)  # alone again: split
    assert len(parts) == 1 + sliced.slices


def test_a_deep_page_is_one_statement(one, sliced, parts):
    page = SLICED_ROWS // 20 + 1
    a = one.search(parse("中国"), page=page, size=20)
    b = sliced.search(parse("中国"), page=page, size=20)
    assert _ids(b) == _ids(a) and a.works and parts == [(0, 1)]


def test_the_word_statistics_decide_without_asking_the_database(db, one, monkeypatch):
    broad = one.search(parse("中国"), size=1).matched
    s = open_searcher(db, slices=2)
    try:
        assert s._words, "the statistics of the match vector were read"
        s.slice_from = broad // 2
        probes = []
        read = s.reads.run

        def counted(fn, first=None):
            probes.append(fn)
            return read(fn, first)

        seen = []
        answer = s._answer
        monkeypatch.setattr(s.reads, "run", counted)
        monkeypatch.setattr(s, "_answer", lambda *a: seen.append(a[6]) or answer(*a))
        s.search(parse("中国"), size=20)
        assert sorted(seen) == [(0, 2), (1, 2)]
        seen.clear()
        isbn = next(w.isbns[0] for w in s.search(parse("中国"), size=20).works if w.isbns)
        seen.clear()
        probes.clear()
        s.search(parse(f"isbn:{isbn}"), size=20)
        assert seen == [(0, 1)]
        assert len(probes) == 1  # the page's statement only: no count first
        seen.clear()
        probes.clear()
        s.search(parse("manag*"), size=20)  # a truncated word: counted first, up to slice_from
        assert seen == [(0, 1)] and len(probes) == 2
    finally:
        s.close()


def test_a_failing_slice_is_the_searchs_clear_error(one, sliced, monkeypatch):
    sliced.search(parse("中国"), size=20)  # the other slices' connections exist
    other = sliced._slice_reads[0]
    real = other.run

    def cancelled(fn, first=None):
        raise psycopg.errors.QueryCanceled("canceling statement due to statement timeout")

    monkeypatch.setattr(other, "run", cancelled)
    with pytest.raises(LocalIndexError, match="could not run this query"):
        sliced.search(parse("管理"), size=20)
    monkeypatch.setattr(other, "run", real)
    assert _ids(sliced.search(parse("管理"), size=20)) == _ids(one.search(parse("管理"), size=20))


@pytest.mark.parametrize(("value", "expected", "warned"), [("", 2, False), ("1", 1, False), ("4", 4, False),
                                                            ("0", 2, True), ("two", 2, True)])
def test_the_default_comes_from_the_environment(monkeypatch, caplog, value, expected, warned):
    monkeypatch.setenv("BALIS_INDEX_SLICES", value)
    with caplog.at_level(logging.WARNING, logger="balis.index"):
        assert default_slices() == expected
    assert ("BALIS_INDEX_SLICES" in caplog.text) is warned


def test_the_searcher_takes_the_default(db, monkeypatch):
    monkeypatch.setenv("BALIS_INDEX_SLICES", "3")
    with PgSearcher.open(db) as s:
        assert s.slices == 3
    with PgSearcher.open(db, slices=1) as s:
        assert s.slices == 1 and not s._words  # no statistics read when never split


# -- the estimate (pure) -------------------------------------------------------------------------------------
WORDS = {"中国": 5000.0, "国历": 900.0, "历史": 3000.0, "管理": 4000.0, "history": 700.0}


def _estimate(text: str, total: float = 10000.0, unknown: float | None = 10.0):
    return Sql().estimate(parse(text), lambda w: WORDS.get(w, unknown), total)


def test_a_chinese_words_bigrams_count_as_found_together():
    assert _estimate("中国") == 5000
    assert _estimate("中国历史") == 900  # 中国, 国历, 历史: the rarest
    assert _estimate("ti:中国历史") == 900  # a field as any


def test_different_words_count_as_independent_and_or_adds():
    assert _estimate("中国 管理") == pytest.approx(5000 * 4000 / 10000)
    assert _estimate("中国 OR history") == 5700
    assert _estimate("中国 OR 管理 OR 历史") == 10000  # never more than the index
    assert _estimate("中国 NOT 管理") == 5000


def test_what_the_statistics_cannot_judge_is_unknown():
    assert _estimate("manag*") is None
    assert _estimate("pub:中国") is None
    assert _estimate("中国 AND year:>=2013") == 5000  # at most the side it knows
    assert _estimate("中国 OR year:>=2013") is None
    assert _estimate("isbn:9787111111111") == 1
    assert _estimate("zzz", unknown=None) is None


@pytest.mark.parametrize("n", ["0", "33"])
def test_serve_refuses_a_number_of_slices_it_cannot_use(n, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "index").mkdir()
    r = subprocess.run([sys.executable, "-m", "balis.cli", "serve", "--index", str(tmp_path / "index"),
                        "--index-slices", n], cwd=Path(__file__).resolve().parents[2], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "BALIS_INDEX_REPLICAS": ""})
    assert r.returncode == 2 and f"--index-slices must be between 1 and 32, not {n}" in r.stderr
    assert "Traceback" not in r.stderr


def test_every_slice_of_a_page_asks_the_same_server_first():
    from indexer.pg.reads import ReadConnections

    a, b, primary = "postgresql://a/x", "postgresql://b/x", "postgresql://p/x"
    clock = [100.0]
    reads = ReadConnections(primary, [a, b], clock=lambda: clock[0])
    assert reads.order(first=b)[0] == b and reads.order(first=a)[0] == a
    assert reads.order(first=primary)[0] == primary
    turns = [reads.order()[0] for _ in range(4)]  # the page's own choice moves the turn on; its slices do not
    assert turns == [a, b, a, b] or turns == [b, a, b, a]
    reads.order(first=b)
    assert reads.order()[0] == turns[0]
    reads._down[b] = clock[0]  # b failed just now: not asked first, whoever wants it
    assert reads.order(first=b)[-1] == b and reads.order(first=b)[0] == a


def test_without_readable_statistics_a_broad_search_is_counted_first(db, one, monkeypatch, caplog):
    read = PgSearcher._read

    def refused(self, sql, params=()):
        if "pg_stats" in sql:
            raise psycopg.errors.InsufficientPrivilege("permission denied for view pg_stats")
        return read(self, sql, params)

    monkeypatch.setattr(PgSearcher, "_read", refused)
    with caplog.at_level(logging.WARNING, logger="balis.index"):
        s = open_searcher(db, slices=2)
    try:
        assert "word statistics cannot be read" in caplog.text and not s._words
        s.slice_from = 100
        assert s._parts(parse("中国"), 20) == 2 and s._parts(parse("isbn:9780000000002"), 20) == 1
        assert _ids(s.search(parse("中国"), size=20)) == _ids(one.search(parse("中国"), size=20))
    finally:
        s.close()


def test_every_slice_of_a_page_reads_one_snapshot(db, works, one, monkeypatch):
    """A harvest commit landing after slice 0 began, before slice 1 starts: slice 1 does not see it either."""
    from dataclasses import replace

    from indexer.backend import open_index
    from indexer.pg import search as pg_search
    from indexer.pg.search import slice_of

    template = next(w for w in works if "中国" in w.display.title)
    with psycopg.connect(db) as conn:  # a new edition's id that falls into slice 1 of 2
        work_id = next(w for w in (f"W{n:015d}" for n in range(100))
                       if conn.execute(f"SELECT {slice_of('x', 2)} FROM (SELECT %s AS work_id) x", (w,)).fetchone()[0])
    title = "中国蝾螈志"
    new = replace(template, work_id=work_id, group_id=f"G-{work_id}",
                  display=replace(template.display, title=title),
                  records=[replace(r, title=title) for r in template.records])
    before = one.search(parse("中国"), size=20).matched

    class WriteOnExport(Future):
        def set_result(self, result):  # slice 0 has exported its snapshot: a harvest commits now
            with open_index(db) as ix:
                ix.write(upsert=[new])
            super().set_result(result)

    monkeypatch.setattr(pg_search, "Future", WriteOnExport)
    s = open_searcher(db, slices=2)
    try:
        s.slice_from = 1
        r = s.search(parse("中国"), size=20)
        assert r.matched == before  # the page's one snapshot: without the new edition, in both slices
        monkeypatch.undo()
        assert s.search(parse("中国"), size=20).matched == before + 1  # the next search sees it
    finally:
        s.close()
        with open_index(db) as ix:
            ix.write(delete=[work_id])
    assert one.search(parse("中国"), size=20).matched == before
