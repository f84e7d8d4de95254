"""The two union index backends give the same editions, facets, sorts and pages; PostgreSQL ranks every match.

A generated consortium (the test bed's generator, no member servers) is written into a whoosh folder and into
a fresh PostgreSQL database; every query is asked of both.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from connectors.query import parse
from dedup import merge
from federator import facets as facet_mod
from federator.rank import rank, score
from indexer.backend import open_index, open_searcher, resolve_location
from indexer.errors import IndexBusyError, NoIndexError
from indexer.search import BLOCK
from records.model import UNKNOWN
from testbed.bed import Testbed
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ["中国", "管理", "history", "ti:中国", "au:德鲁克", '"中国历史"', "中国 NOT 历史", "ti:管理 OR au:德鲁克",
           "hist*", "*story", "year:<2000 AND 中国", "su:经济学 NOT year:2001", "any:(管理 实践)", "数据结构",
           "year:<>2001", 'dc.title any "管理 历史"', 'dc.title adj "发展报告"', "pub:出版社", "數據結構",
           "ti:发展 ti:报告", "year:>=1990"]


@pytest.fixture(scope="module")
def works():
    plan = plan_catalogues(31, member_profiles(6), 400)
    return merge(plan_records(plan))


@pytest.fixture(scope="module")
def whoosh(works, tmp_path_factory):
    folder = tmp_path_factory.mktemp("whoosh-index")
    ix = open_index(folder, create=True)
    ix.rebuild(works, harvested={"THU": "2026-11-21T02:00:00+00:00"})
    ix.close()
    s = open_searcher(folder)
    yield s
    s.close()


@pytest.fixture(scope="module")
def pg(works, index_database):
    ix = open_index(index_database, create=True)
    ix.rebuild(works, harvested={"THU": "2026-11-21T02:00:00+00:00"})
    ix.close()
    s = open_searcher(index_database)
    yield s
    s.close()


def everything(searcher, text: str, **kw):
    return searcher.search(parse(text), size=100000, **kw)


def ids(works) -> list[str]:
    return [w.work_id for w in works]


@pytest.mark.parametrize("text", QUERIES)
def test_same_editions_and_facets(whoosh, pg, text):
    a, b = everything(whoosh, text), everything(pg, text)
    assert b.total == a.total and b.matched == a.matched
    assert set(ids(b.works)) == set(ids(a.works))
    assert b.facets == a.facets
    assert b.harvested == a.harvested == {"THU": "2026-11-21T02:00:00+00:00"}


@pytest.mark.parametrize("text", QUERIES)
@pytest.mark.parametrize("sort", ["relevance", "year", "year_asc", "title"])
def test_postgresql_orders_every_match_as_live_ranking(pg, text, sort):
    r = everything(pg, text, sort=sort)
    assert ids(r.works) == ids(rank(r.works, parse(text), sort=sort))


@pytest.mark.parametrize("text", QUERIES)
def test_top_results_agree_with_whoosh(whoosh, pg, text):
    a, b = whoosh.search(parse(text), size=10), pg.search(parse(text), size=10)
    if a.total <= BLOCK:  # whoosh ranks one block exactly: the pages are the same
        assert ids(b.works) == ids(a.works)
    else:  # whoosh ranks its best candidates; PostgreSQL ranks every match, so its page scores no lower
        q = parse(text)
        got, theirs = [score(w, q) for w in b.works], [score(w, q) for w in a.works]
        assert all(x >= y - 1e-9 for x, y in zip(got, sorted(theirs, reverse=True), strict=True))


@pytest.mark.parametrize("sort", ["relevance", "year", "title"])
def test_pages_neither_repeat_nor_skip(pg, sort):
    whole = everything(pg, "中国", sort=sort)
    assert whole.total > BLOCK
    paged, page = [], 1
    while True:
        r = pg.search(parse("中国"), sort=sort, page=page, size=9)
        paged += r.works
        if not r.has_more:
            break
        page += 1
    assert ids(paged) == ids(whole.works)


def test_selected_facets_count_what_a_click_gives(whoosh, pg):
    all_works = everything(pg, "中国").works
    for selected in ({"member": ["THU"]}, {"year": ["2000-2009"], "language": ["chi"]}, {"clc": ["K"]},
                     {"member": ["PKU", "RUC"], "material_type": ["book"]}, {"year": [UNKNOWN]}, {"year": ["-1949"]}):
        r = everything(pg, "中国", selected=selected)
        assert set(ids(r.works)) == set(ids(facet_mod.apply(all_works, selected)))
        assert r.facets == facet_mod.counts(all_works, selected)
        assert r.facets == everything(whoosh, "中国", selected=selected).facets
    with pytest.raises(ValueError, match="unknown facet"):
        pg.search(parse("中国"), selected={"colour": ["red"]})


def test_isbn_in_any_form(pg, works):
    w = next(w for w in works if w.isbns)
    isbn = w.isbns[0]
    for form in (isbn, f"{isbn[:3]}-{isbn[3:]}"):
        assert w.work_id in ids(everything(pg, f"isbn:{form}").works)
    assert ids(everything(pg, f"id:{w.records[0].record_id}").works) == [w.work_id]
    assert pg.work(w.work_id).holdings == w.holdings


@pytest.fixture
def empty_database(index_database):
    server, name = index_database.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}_w"')
    yield f"{index_database}_w"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}_w" WITH (FORCE)')


def test_write_delete_stats_and_lookup(works, empty_database):
    url = empty_database
    with pytest.raises(NoIndexError, match="balis harvest"):
        open_searcher(url)
    ix = open_index(url, create=True)
    done = ix.write(upsert=works[:10], harvested={"PKU": "2026-11-22T02:00:00+00:00"})
    assert done == {"upserted": 10, "deleted": 0}
    ix.write(upsert=works[1:12], delete=[works[0].work_id])
    assert ix.work_ids() == {w.work_id for w in works[1:12]}
    stats = ix.stats()
    assert stats["documents"] == 11 and stats["harvested"] == {"PKU": "2026-11-22T02:00:00+00:00"}
    assert stats["holdings"] == sum(len(w.holdings) for w in works[1:12])
    assert "password" not in stats["path"]
    s = open_searcher(url)
    assert s.work(works[3].work_id).work_id == works[3].work_id and s.work("nothing") is None
    s.close()
    ix.close()


def test_a_second_writer_is_told_who_writes(works, index_database):
    first = open_index(index_database)
    second = open_index(index_database)
    with first.conn.transaction(), first.conn.cursor() as cur:
        first._lock(cur, 1)
        with pytest.raises(IndexBusyError, match="being written by database process"):
            second.write(upsert=works[:1], timeout=0.2)
    first.close()
    second.close()


_SLOW_WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from indexer.backend import open_index
ix = open_index({url!r})
with ix.conn.transaction(), ix.conn.cursor() as cur:
    ix._lock(cur, 5)
    cur.execute("DELETE FROM editions")
    print("writing", flush=True)
    time.sleep(60)
"""


def test_a_killed_writer_leaves_the_last_commit_and_frees_the_index(works, empty_database):
    ix = open_index(empty_database, create=True)
    ix.write(upsert=works[:10])
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER.format(root=str(ROOT), url=empty_database)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        with pytest.raises(IndexBusyError, match="being written by database process"):
            ix.write(upsert=works[10:11], timeout=0.3)
        assert ix.work_ids() == {w.work_id for w in works[:10]}  # readers see the last commit meanwhile
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    ix.write(upsert=works[10:12], timeout=10)  # the server ends the dead writer's session and its lock
    assert ix.work_ids() == {w.work_id for w in works[:12]}
    ix.close()


def test_location_chooses_the_backend(monkeypatch, tmp_path):
    monkeypatch.setenv("BALIS_INDEX", "postgresql://u@h/db")
    assert resolve_location(None) == "postgresql://u@h/db"
    assert resolve_location(str(tmp_path)) == tmp_path
    monkeypatch.delenv("BALIS_INDEX")
    assert resolve_location("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def _balis(*args: str, home) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "balis.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env={**os.environ, "BALIS_HOME": str(home)})


@pytest.mark.integration
def test_harvest_search_and_stats_with_a_database(tmp_path, empty_database):
    home = tmp_path / "home"
    with Testbed(tmp_path / "bed", seed=777).running(members=2, records=30) as bed:
        reg = str(bed.registry_path)
        out = _balis("harvest", "--registry", reg, "--index", empty_database, "--rate", "0", "--json", home=home)
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert doc["index"]["mode"] == "rebuild" and doc["totals"]["added"] == 60
        assert doc["index_dir"] == empty_database  # the harvest store is in the database too, no folder
        assert not (home / "index-databases").exists()
        assert doc["index_database"] == empty_database
        again = _balis("harvest", "--registry", reg, "--index", empty_database, "--rate", "0", "--json", home=home)
        assert json.loads(again.stdout)["index"]["mode"] == "unchanged"
        found = _balis("search", "--local", "--registry", reg, "--index", empty_database, "--json", "--max", "100",
                       "year:>0 OR year:<1", home=home)
        assert found.returncode == 0, found.stderr
        assert {h["member"] for w in json.loads(found.stdout)["works"] for h in w["holdings"]} == {"THU", "PKU"}
    stats = _balis("index", "stats", "--index", empty_database, "--json", home=home)
    assert stats.returncode == 0, stats.stderr
    got = json.loads(stats.stdout)
    assert got["documents"] > 0 and {m: v["records"] for m, v in got["members"].items()} == {"THU": 30, "PKU": 30}
    text = _balis("index", "stats", "--index", empty_database, home=home).stdout
    assert "本地索引 local index postgresql://" in text and "THU" in text
