"""The portal answering from the local union index first: a real index harvested from the session test bed
(Zebra over Z39.50 / SRU and the test bed's OAI-PMH), live availability from the real members over the
event stream, `source=live`, the API's `source`, a missing or broken index, and a new harvest seen without
a restart; on both backends of the index (a whoosh folder, a PostgreSQL database)."""

from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import replace
from html import unescape
from pathlib import Path

import pytest

from connectors.query import parse
from dedup.work import Work
from indexer.backend import open_index, open_searcher
from indexer.harvest import HarvestOptions, run_harvest
from indexer.index import LocalIndex
from indexer.schema import load_work
from members import load_registry
from portal.api import openapi
from portal.keys import CATALOGUE
from records.model import AVAILABLE, ON_LOAN
from tests.portal.helpers import attrs, read_events, states
from tests.portal.test_portal_api import _validator

SEARCHED = {"THU", "PKU", "RUC", "BUAA", "USTB", "BNU", "NCEPU", "BUPT"}


@pytest.fixture(scope="module")
def harvested_folder(testbed, tmp_path_factory) -> Path:
    """The session test bed harvested into a union index folder (what `balis harvest` writes)."""
    path = tmp_path_factory.mktemp("portal-index")
    result = run_harvest(load_registry(testbed.registry_path), path, HarvestOptions(rate=0))
    assert {r.member for r in result.members if r.status == "ok"} == SEARCHED, result.members
    return path


@pytest.fixture(scope="module", params=["whoosh", "postgresql"])
def harvested(request, harvested_folder) -> Path | str:
    """The harvested union index in each backend: the folder, or a PostgreSQL database holding the same
    editions and harvest times (its URL)."""
    if request.param == "whoosh":
        return harvested_folder
    url = request.getfixturevalue("new_database")("portal_index")
    with LocalIndex.open(harvested_folder) as src, src.whoosh.searcher() as s, open_index(url, create=True) as ix:
        ix.rebuild([load_work(d["work"]) for d in s.documents()], harvested=src.harvested())
    return url


@pytest.fixture
def index_dir(request, harvested, tmp_path) -> Path | str:
    """A copy of the harvested index that one test may change (a folder, or a database made from it)."""
    if isinstance(harvested, str):
        return request.getfixturevalue("new_database")("portal_copy", template=harvested)
    path = tmp_path / "index"
    shutil.copytree(harvested, path)
    return path


def local_works(index_dir: Path | str, text: str, **kw) -> list[Work]:
    with open_searcher(index_dir) as s:
        return s.search(parse(text), size=20, **kw).works


def local_total(index_dir: Path | str, text: str, **kw) -> int:
    with open_searcher(index_dir) as s:
        return s.search(parse(text), size=20, **kw).total


async def test_complete_page_comes_from_the_index_at_once(make_client, index_dir):
    client = await make_client(index_dir=index_dir)
    r = await client.get("/search", params={"q": "中国"})
    assert r.status == 200
    html = unescape(await r.text())
    expected = [w.work_id for w in local_works(index_dir, "中国")]
    assert attrs(html, "data-work") == expected and len(expected) == 20
    assert 'data-source="local"' in html and 'data-availability="harvested"' in html
    assert "结果来自联合目录索引" in html and "最近采集于 20" in html
    assert "馆藏状态为采集时的状态，未向成员馆实时查询" in html
    assert f"共 {local_total(index_dir, '中国')} 种版本" in html
    strip = states(html)
    assert {strip[c] for c in SEARCHED} == {"not_asked"} and "未实时查询" in html
    assert client.app[CATALOGUE].stats["searches"] == 0  # no member was asked
    link = unescape(re.search(r'data-source-switch="live" href="([^"]+)"', html).group(1))
    assert "source=live" in link


async def test_facets_sorts_and_pages_from_the_index(make_client, index_dir):
    client = await make_client(index_dir=index_dir)
    one = await (await client.get("/api/search", params={"q": "中国"})).json()
    assert one["source"] == "local" and one["has_more"] and len(one["works"]) == 20
    two = await (await client.get("/api/search", params={"q": "中国", "page": "2"})).json()
    assert two["works"] and not {w["work_id"] for w in one["works"]} & {w["work_id"] for w in two["works"]}
    assert two["total_hits"] == one["total_hits"] == local_total(index_dir, "中国")
    html = await (await client.get("/search", params={"q": "中国", "page": "2"})).text()
    assert 'rel="prev"' in html and 'rel="next"' in html and "第 2 页" in html
    # a facet value: every edition shown has it, and the count is the number a click shows
    member = one["facets"]["member"][1]
    chosen = await (await client.get("/api/search", params={"q": "中国", "facet": f"member:{member['value']}"})).json()
    assert chosen["total_hits"] == member["count"]
    assert all(member["value"] in w["members"] for w in chosen["works"])
    html = await (await client.get("/search", params={"q": "中国", "facet": f"member:{member['value']}"})).text()
    assert 'class="selected"' in html and attrs(html, "data-work") == [w["work_id"] for w in chosen["works"]]
    # sorts: newest first, as the index orders them
    by_year = await (await client.get("/api/search", params={"q": "中国", "sort": "year"})).json()
    years = [w["year"] for w in by_year["works"]]
    dated = [y for y in years if y is not None]
    assert dated == sorted(dated, reverse=True) and years[:len(dated)] == dated
    assert [w["work_id"] for w in by_year["works"]] == [w.work_id for w in local_works(index_dir, "中国", sort="year")]


def _group_with_editions(index_dir: Path | str) -> list[str]:
    """Work ids of one group that has two or more editions in the index."""
    if isinstance(index_dir, str):
        import psycopg

        with psycopg.connect(index_dir) as conn:
            return conn.execute("SELECT array_agg(work_id ORDER BY work_id) FROM editions GROUP BY group_id "
                                "HAVING count(*) > 1 ORDER BY 1 LIMIT 1").fetchone()[0]
    from whoosh import index as whoosh_index

    ix = whoosh_index.open_dir(str(index_dir / "whoosh"))
    try:
        with ix.searcher() as s:
            groups: dict[str, list[str]] = {}
            for d in s.documents():
                groups.setdefault(d["group_id"], []).append(d["work_id"])
    finally:
        ix.close()
    return next(ids for ids in groups.values() if len(ids) > 1)


async def test_edition_pages_and_other_editions_come_from_the_index(make_client, index_dir):
    first, second, *_ = _group_with_editions(index_dir)
    client = await make_client(index_dir=index_dir)  # a fresh portal: nothing searched, nothing remembered
    catalogue = client.app[CATALOGUE]
    assert catalogue.works.find(first) is None
    r = await client.get(f"/work/{first}")
    assert r.status == 200
    html = await r.text()
    assert f'data-work="{first}"' in html and f'href="/work/{second}"' in html
    doc = await (await client.get(f"/api/works/{second}")).json()
    assert doc["work"]["work_id"] == second and first in {w["work_id"] for w in doc["other_editions"]}
    # found from the index, not a recent search: also after the recent caches are cleared
    catalogue.works.clear()
    catalogue.groups.clear()
    assert (await client.get(f"/work/{first}")).status == 200
    assert catalogue.stats["searches"] == 0
    r = await client.get("/work/W0123456789abcdef")
    assert r.status == 404 and "请重新检索" in await r.text()


def _as_harvested_on_loan(work: Work) -> Work:
    """The work as if every copy had been on loan at the last harvest."""
    def lent(hs):
        return [replace(h, status=ON_LOAN, due_date="2026-12-31") for h in hs]
    records = [replace(r, holdings=lent(r.holdings)) for r in work.records]
    holdings = lent(work.holdings)
    return Work(work_id=work.work_id, display=replace(work.display, holdings=holdings), records=records,
                holdings=holdings, isbns=list(work.isbns), group_id=work.group_id)


async def test_events_fill_in_live_availability_from_the_holding_members(make_client, index_dir):
    shown = local_works(index_dir, "历史")
    target = next(w for w in shown if any(h.status == AVAILABLE for h in w.holdings))
    really = sum(h.status == AVAILABLE for h in target.holdings)
    with open_index(index_dir) as ix:  # the harvest saw every copy of it on loan
        ix.write(upsert=[_as_harvested_on_loan(target)])
    client = await make_client(index_dir=index_dir, slow_after=5.0)
    r = await client.get("/search", params={"q": "历史", "live": "1"})
    html = unescape(await r.text())
    assert attrs(html, "data-work") == [w.work_id for w in shown]  # the results are on the page at once
    block = html[html.index(f'data-work="{target.work_id}"'):]
    assert "0 册可借" in block[:block.index("</li>")]
    assert "正在向收藏馆实时查询本页馆藏状态" in html
    holders = {r.member for w in shown for r in w.records}
    strip = states(html)
    assert {c for c, s in strip.items() if s == "asking"} == holders
    assert all(strip[c] == "not_asked" for c in SEARCHED - holders)
    events_url = unescape(attrs(html, "data-events")[0])
    events = await read_events(await client.get(events_url))
    names = [e for e, _ in events]
    assert names[-1] == "done" and names.count("results") == len(holders) + 1
    final = next(d for e, d in events if e == "results" and d["done"])
    assert re.findall(r'data-work="(W\w+)"', final["html"]) == [w.work_id for w in shown]
    block = final["html"][final["html"].index(f'data-work="{target.work_id}"'):]
    assert f"{really} 册可借" in block[:block.index("</li>")] and really > 0
    assert "本页馆藏状态已向收藏馆实时查询" in final["html"]
    last = [d["states"] for e, d in events if e == "status"][-1]
    assert {c for c, s in last.items() if s == "answered"} == holders
    assert {c for c, s in last.items() if s == "not_asked"} == (SEARCHED - holders) | {"NLC", "CUPL"}
    # the checked edition's page shows what the members said now
    doc = await (await client.get(f"/api/works/{target.work_id}")).json()
    assert sum(h["status"] == "available" for h in doc["work"]["holdings"]) == really
    assert client.app[CATALOGUE].stats["searches"] == 0  # no federated search of the words


async def test_a_slow_and_a_down_member_during_the_availability_check(make_client, bed, index_dir):
    shown = local_works(index_dir, "文学")
    holders = sorted({r.member for w in shown for r in w.records})
    slow, down = holders[0], holders[1]
    bed.set_fault(slow, latency_ms=1200)
    bed.set_fault(down, mode="refuse")
    client = await make_client(index_dir=index_dir, slow_after=0.5)
    events = await read_events(await client.get("/search/events", params={"q": "文学"}))
    seen = [d["states"] for e, d in events if e == "status"]
    assert "slow" in [s[slow] for s in seen] and seen[-1][slow] == "answered"
    assert seen[-1][down] == "down"
    final = next(d for e, d in events if e == "results" and d["done"])
    assert "连接出错" in final["status"]
    # the member that is down keeps its harvested holdings; the page still lists every edition
    assert re.findall(r'data-work="(W\w+)"', final["html"]) == [w.work_id for w in shown]


async def test_source_live_asks_every_member(make_client, index_dir):
    client = await make_client(index_dir=index_dir)
    html = unescape(await (await client.get("/search", params={"q": "中国", "source": "live"})).text())
    assert 'data-source="live"' in html and "实时检索：结果由各成员馆当场返回" in html
    assert {c for c, s in states(html).items() if s == "answered"} == SEARCHED
    assert 'data-source-switch="local"' in html
    doc = await (await client.get("/api/search", params={"q": "中国", "source": "live"})).json()
    assert doc["source"] == "live" and doc["availability"] == "live" and doc["index"]["available"]
    assert client.app[CATALOGUE].stats["searches"] == 1  # the page, then the API from the recent search
    r = await client.get("/search", params={"q": "数据", "source": "live", "live": "1"})
    events = await read_events(await client.get(unescape(attrs(await r.text(), "data-events")[0])))
    final = next(d for e, d in events if e == "results" and d["done"])
    assert sum(s == "answered" for s in [d for e, d in events if e == "status"][-1]["states"].values()) == 8
    assert 'data-source="live"' in final["html"]


async def test_api_says_where_the_answer_came_from(make_client, index_dir):
    client = await make_client(index_dir=index_dir)
    doc = await (await client.get("/api/search", params={"q": "中国"})).json()
    _validator(openapi(), "/components/schemas/SearchResult").validate(doc)
    assert doc["source"] == "local" and doc["availability"] == "harvested"
    assert doc["index"]["available"] and set(doc["index"]["members"]) == SEARCHED
    assert doc["index"]["harvested"] == max(doc["index"]["members"].values())
    assert [w["work_id"] for w in doc["works"]] == [w.work_id for w in local_works(index_dir, "中国")]
    r = await client.get("/api/search", params={"q": "中国", "source": "cache"})
    assert r.status == 400 and (await r.json())["error"]["parameter"] == "source"
    spec = openapi()
    source = next(p for p in spec["paths"]["/api/search"]["get"]["parameters"] if p["name"] == "source")
    assert source["schema"]["enum"] == ["local", "live"]


async def test_no_index_is_live_search_and_says_so_when_the_index_was_asked_for(make_client, tmp_path):
    client = await make_client(index_dir=tmp_path / "nothing-harvested-yet")
    html = unescape(await (await client.get("/search", params={"q": "中国"})).text())
    assert 'data-source="live"' in html and "暂时不可用" not in html  # no index: today's live search
    assert {c for c, s in states(html).items() if s == "answered"} == SEARCHED
    html = unescape(await (await client.get("/search", params={"q": "中国", "source": "local"})).text())
    assert "联合目录索引暂时不可用，已改为实时检索所有成员馆" in html and 'data-source="live"' in html
    doc = await (await client.get("/api/search", params={"q": "中国", "source": "local"})).json()
    assert doc["source"] == "live" and not doc["index"]["available"] and "暂时不可用" in doc["index"]["note"]


async def test_a_damaged_index_falls_back_to_live_search_with_a_note(make_client, index_dir, caplog):
    if isinstance(index_dir, str):  # a database whose table of editions is gone
        import psycopg

        with psycopg.connect(index_dir, autocommit=True) as conn:
            conn.execute("DROP TABLE editions CASCADE")
    else:
        for f in (index_dir / "whoosh").glob("*.toc"):
            f.write_bytes(b"not a table of contents")
    client = await make_client(index_dir=index_dir)
    r = await client.get("/search", params={"q": "中国"})
    html = unescape(await r.text())
    assert r.status == 200 and "Traceback" not in html
    assert "联合目录索引暂时不可用" in html and 'data-source="live"' in html
    assert {c for c, s in states(html).items() if s == "answered"} == SEARCHED
    assert "balis harvest --full" in caplog.text  # the operator's message is in the log


async def test_a_new_harvest_is_seen_without_a_restart(make_client, index_dir):
    client = await make_client(index_dir=index_dir, index_refresh=0.1)
    before = await (await client.get("/api/search", params={"q": "中国"})).json()
    assert before["source"] == "local"
    nothing = await (await client.get("/api/search", params={"q": "ti:蝾螈"})).json()
    assert nothing["works"] == [] and nothing["source"] == "local"
    template = local_works(index_dir, "中国")[0]
    display = replace(template.display, title="蝾螈的一生")
    new = Work(work_id="W000000000000beef", display=display,
               records=[replace(r, title="蝾螈的一生") for r in template.records], holdings=list(template.holdings),
               isbns=[], group_id="G-new")
    with open_index(index_dir) as ix:  # another process's harvest commits
        ix.write(upsert=[new], harvested={"THU": "2026-11-22T02:00:00+00:00"})
    for _ in range(50):
        await asyncio.sleep(0.1)
        doc = await (await client.get("/api/search", params={"q": "ti:蝾螈", "page": "1"})).json()
        if doc["works"]:
            break
    assert [w["work_id"] for w in doc["works"]] == ["W000000000000beef"]
    assert doc["index"]["members"]["THU"] == "2026-11-22T02:00:00+00:00"
    assert (await client.get("/work/W000000000000beef")).status == 200


async def test_the_event_loop_answers_while_the_index_searches(make_client, index_dir):
    client = await make_client(index_dir=index_dir)
    searches = [client.get("/api/search", params={"q": w, "sort": s})
                for w in ("中国", "历史", "文学", "经济", "管理") for s in ("relevance", "year", "title")]
    searching = [asyncio.ensure_future(c) for c in searches]
    members = await client.get("/api/members")  # served by the loop while searches run in the index thread
    assert members.status == 200
    for r in await asyncio.gather(*searching):
        assert r.status == 200 and (await r.json())["source"] == "local"


def test_serve_answers_from_the_index_with_two_workers(harvested, portal_registry_path, tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    from tests.portal.test_portal_serve import ROOT, _wait_for_url

    env = {**os.environ, "BALIS_INDEX": str(harvested)}  # the default index comes from the environment
    proc = subprocess.Popen([sys.executable, "-m", "balis.cli", "serve", "--port", "0", "--workers", "2",
                             "--registry", str(portal_registry_path), "--db", str(tmp_path / "ill.sqlite")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        url = _wait_for_url(proc, timeout=60)
        assert "2 worker processes" in proc.first_line
        assert proc.stdout.readline().startswith(f"union index: {harvested} ")  # a database: it has no password
        assert len(_children(proc.pid)) == 2
        firsts = set()
        for _ in range(12):  # new connections: the kernel spreads them over both workers
            with urllib.request.urlopen(url + "api/search?q=%E4%B8%AD%E5%9B%BD", timeout=30) as r:
                doc = json.loads(r.read())
                assert doc["source"] == "local" and doc["works"]
            with urllib.request.urlopen(url + f"work/{doc['works'][0]['work_id']}", timeout=30) as r:
                assert r.status == 200
            firsts.add(doc["works"][0]["work_id"])
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopping" in out and "Traceback" not in err
    assert len(firsts) == 1  # every worker gives the same first edition
    assert not _children(proc.pid)


def _children(pid: int) -> list[int]:
    """Live child processes of `pid` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def test_serve_refuses_a_bad_worker_count(portal_registry_path):
    import subprocess
    import sys

    from tests.portal.test_portal_serve import ROOT

    r = subprocess.run([sys.executable, "-m", "balis.cli", "serve", "--workers", "0", "--registry",
                        str(portal_registry_path)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--workers must be between 1 and 64" in r.stderr and "Traceback" not in r.stderr


async def test_where_results_come_from_is_said_in_english_too(make_client, index_dir):
    client = await make_client(index_dir=index_dir)
    html = unescape(await (await client.get("/search", params={"q": "中国", "lang": "en"})).text())
    assert "Results from the union index" in html and "last harvested 20" in html
    assert "Search every library live" in html and "not asked now" in html
    html = unescape(await (await client.get("/search", params={"q": "中国", "lang": "en", "source": "live"})).text())
    assert "Live search: results come from the libraries now." in html and "Search the union index instead" in html


async def test_an_empty_database_is_live_search_until_a_harvest_fills_it(make_client, new_database):
    client = await make_client(index_dir=new_database("portal_empty"))  # no union index in it yet
    html = unescape(await (await client.get("/search", params={"q": "中国"})).text())
    assert 'data-source="live"' in html and "暂时不可用" not in html
    assert {c for c, s in states(html).items() if s == "answered"} == SEARCHED
