"""Read scaling of the PostgreSQL union index: a real primary and a real streaming-replication hot standby
(`pg_basebackup -R`, loopback, own ports and folders). The portal searches the standby, a write on the primary
becomes visible there, a standby that fails is skipped with a warning and the primary answers, and when the
primary stops the portal and its SRU server keep answering."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import urllib.request
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.query import parse
from dedup import merge
from dedup.work import Work
from indexer.backend import open_index, open_searcher
from indexer.pg.reads import RETRY_AFTER, ReadConnections
from members import DEFAULT_REGISTRY, load_registry
from portal import create_app
from portal.app import HTTP_LIMITS
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles
from tests.pg_cluster import in_recovery, wait_for_replay

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "union_index"


@pytest.fixture(scope="module")
def works():
    return merge(plan_records(plan_catalogues(7, member_profiles(4), 60)))


@pytest.fixture(scope="module")
def pair(replicated_postgres, works):
    """(primary URL, standby URL) of the union index, written on the primary and replayed on the standby."""
    primary, standby = replicated_postgres
    with psycopg.connect(primary.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {DATABASE}")
    with open_index(primary.url(DATABASE), create=True) as ix:
        ix.rebuild(works, harvested={"THU": "2026-12-01T02:00:00+00:00"})
    wait_for_replay(primary.url(), standby.url())
    assert not in_recovery(primary.url()) and in_recovery(standby.url())
    return primary.url(DATABASE), standby.url(DATABASE)


@pytest.fixture
async def portal(pair):
    """A portal over the primary with the standby as its replica (new index states looked for every 0.1 s)."""
    clients: list[TestClient] = []

    async def make(replicas) -> TestClient:
        app = create_app(load_registry(DEFAULT_REGISTRY), index_dir=pair[0], index_replicas=replicas,
                         index_refresh=0.1)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server(**HTTP_LIMITS)
        client = TestClient(server)
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.close()


def search_connections(url: str) -> list[tuple[str, str]]:
    """(state, last query) of the portal's search connections to the server at `url`."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT state, query FROM pg_stat_activity WHERE application_name = 'balis search' "
                            "AND pid <> pg_backend_pid()").fetchall()


def _new_edition(template: Work, title: str, work_id: str) -> Work:
    display = replace(template.display, title=title)
    return Work(work_id=work_id, display=display, records=[replace(r, title=title) for r in template.records],
                holdings=list(template.holdings), isbns=[], group_id=f"G-{work_id}")


async def _titles(client: TestClient, query: str) -> list[str]:
    doc = await (await client.get("/api/search", params={"q": query})).json()
    assert doc["source"] == "local", doc.get("index")
    return [w["title"] for w in doc["works"]]


async def test_searches_are_served_by_the_standby_and_see_the_primarys_writes(pair, portal, works):
    primary, standby = pair
    client = await portal([standby])
    assert await _titles(client, works[0].display.title.split()[0])
    # the standby answered: its pg_stat_activity holds the portal's search connections, the primary's none
    assert search_connections(standby)
    assert not search_connections(primary)
    with open_searcher(primary, [standby]) as s:  # the interface says so too: which server answered
        s.search(parse("中国"))
        assert s.served_by == standby and in_recovery(standby)
    # a write on the primary (what a harvest commits) becomes visible on the standby, and so in the portal
    with open_index(primary) as ix:
        ix.write(upsert=[_new_edition(works[0], "蝾螈的一生", "W000000000000feed")],
                 harvested={"THU": "2026-12-02T02:00:00+00:00"})
    wait_for_replay(primary, standby)
    for _ in range(100):  # the portal looks for a new state every 0.1 s
        if await _titles(client, "ti:蝾螈"):
            break
        await asyncio.sleep(0.1)
    assert await _titles(client, "ti:蝾螈") == ["蝾螈的一生"]
    assert (await client.get("/work/W000000000000feed")).status == 200
    assert not search_connections(primary)


def test_a_sliced_search_reads_every_slice_from_the_standby(pair):
    primary, standby = pair
    with open_searcher(primary, [standby], slices=1) as one, open_searcher(primary, [standby], slices=2) as two:
        two.slice_from = 1  # every query split
        whole, split = one.search(parse("中国"), size=20), two.search(parse("中国"), size=20)
        assert [w.work_id for w in split.works] == [w.work_id for w in whole.works] and whole.works
        assert (split.matched, split.facets["member"]) == (whole.matched, whole.facets["member"])
        assert two._slice_reads and all(r.served_by == standby for r in [two.reads, *two._slice_reads])
        assert len(search_connections(standby)) >= 3 and not search_connections(primary)


async def test_a_standby_that_fails_is_skipped_and_the_primary_answers(pair, portal, replicated_postgres, works,
                                                                       caplog):
    primary, standby = pair
    client = await portal([standby])
    word = works[0].display.title.split()[0]
    expected = await _titles(client, word)
    replicated_postgres[1].stop()
    try:
        with caplog.at_level(logging.WARNING, logger="balis.index"):
            assert await _titles(client, word) == expected  # the same page, from the primary
            assert (await client.get(f"/work/{works[0].work_id}")).status == 200
        warned = [r.getMessage() for r in caplog.records if r.name == "balis.index"]
        assert any("standby" in m and "does not answer" in m for m in warned), warned
        assert search_connections(primary)
    finally:
        replicated_postgres[1].start()
    wait_for_replay(primary, standby)


async def test_when_the_primary_stops_the_portal_keeps_answering(pair, portal, replicated_postgres, works):
    primary, standby = pair
    client = await portal([standby])
    word = works[0].display.title.split()[0]
    expected = await _titles(client, word)
    isbn = next(w.isbns[0] for w in works[1:] if w.isbns)  # works[0] has a copy since the first test
    replicated_postgres[0].stop()
    try:
        for _ in range(3):  # searches, new ones and facets, and an edition page: all from the standby
            assert await _titles(client, word) == expected
        doc = await (await client.get("/api/search", params={"q": word, "facet": "language:chi"})).json()
        assert doc["source"] == "local"
        assert (await client.get(f"/work/{works[1].work_id}")).status == 200
        sru = await client.get("/sru", params={"version": "1.2", "operation": "searchRetrieve",
                                               "query": f"bath.isbn={isbn}"})
        body = await sru.text()
        assert sru.status == 200 and "numberOfRecords>1</" in body, body
        # a portal started while the primary is down answers from the standby too
        fresh = await portal([standby])
        assert await _titles(fresh, word) == expected
    finally:
        replicated_postgres[0].start()


def test_reads_take_the_standbys_in_turn_and_try_a_failed_one_again_later(pair, caplog):
    primary, standby = pair
    dead = "postgresql://postgres@127.0.0.1:1/union_index"  # nothing listens there
    now = [0.0]
    reads = ReadConnections(primary, [dead, standby], clock=lambda: now[0])
    try:
        assert reads.order() == [dead, standby, primary] and reads.order() == [standby, dead, primary]
        with caplog.at_level(logging.WARNING, logger="balis.index"):
            for _ in range(4):
                assert reads.run(lambda conn: conn.execute("SELECT pg_is_in_recovery()").fetchone()[0])
                assert reads.served_by == standby
        warned = [r.getMessage() for r in caplog.records if r.name == "balis.index"]
        assert len(warned) == 1 and "standby postgresql://postgres@127.0.0.1:1/union_index does not answer" in warned[0]
        assert reads.order() == [standby, primary, dead]  # left out, but still tried when nothing else answers
        now[0] += RETRY_AFTER
        assert dead in reads.order()[:2]  # tried again after RETRY_AFTER seconds
    finally:
        reads.close()


def test_balis_serve_reads_from_its_standby(pair, tmp_path):
    primary, standby = pair
    env = {**os.environ, "BALIS_INDEX": primary, "BALIS_INDEX_REPLICAS": ""}
    proc = subprocess.Popen([sys.executable, "-m", "balis.cli", "serve", "--port", "0", "--index-replica", standby,
                             "--index-slices", "3", "--db", str(tmp_path / "ill.sqlite")], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()
        url = first.split("http://", 1)[1].split("/", 1)[0]
        banner = proc.stdout.readline()
        assert banner.startswith(f"union index: {primary} (PostgreSQL; searches read from its standbys {standby}")
        assert "a broad search split into 3 slices" in banner
        with urllib.request.urlopen(f"http://{url}/api/search?q=ti%3Ahistory", timeout=30) as r:
            assert r.status == 200
        assert search_connections(standby) and not search_connections(primary)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in err, err


@pytest.mark.parametrize("args, message", [
    (["--index-replica", "/srv/standby"], "--index-replica /srv/standby: not a PostgreSQL URL"),
    (["--index-replica", "postgresql://127.0.0.1:1/x"], "--index-replica needs --index postgresql://…"),
])
def test_serve_refuses_standbys_it_cannot_use(args, message, tmp_path):
    (tmp_path / "index").mkdir()
    r = subprocess.run([sys.executable, "-m", "balis.cli", "serve", "--index", str(tmp_path / "index"), *args],
                       cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "BALIS_INDEX_REPLICAS": ""})
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr


async def test_the_portals_searchers_split_broad_searches_as_told(pair):
    from portal.keys import CATALOGUE

    app = create_app(load_registry(DEFAULT_REGISTRY), index_dir=pair[0], index_replicas=[pair[1]], index_slices=3)
    local = app[CATALOGUE].local
    await local.start()
    try:
        with local._open.borrowed() as searcher:
            assert searcher.slices == 3
    finally:
        await asyncio.to_thread(local.close)
