"""The lender's own copy on the desk: its request page, its queue rows and the API show the call number,
location and barcode of the lender's holding and what its own catalogue (a real Zebra server of the test bed)
says of that copy now; a catalogue that does not answer in time leaves the status "unknown" and the page
stands; the label says whether the citation is a catalogue record or the reader's own words."""

from __future__ import annotations

import re
from html import unescape

import pytest

from ill import machine as m
from ill.rota import Lender
from ill.store import Store
from portal.keys import CATALOGUE
from records.model import UNKNOWN
from services.copies import ANSWERED, NO_ANSWER, NOT_ASKED, own_copy, pick
from tests.portal.deskkit import response_schema, sign_in, users


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


async def _held_edition(client, registry):
    """An edition of a live search held by a searched member, with a copy that has call number and barcode:
    (work, holder code, that holder's record id, the holding)."""
    queryable = {mem.code for mem in registry.members if mem.queryable}
    doc = await (await client.get("/api/search", params={"q": "中国", "source": "live"})).json()
    catalogue = client.app[CATALOGUE]
    for w in doc["works"]:
        work = catalogue.work(w["work_id"])
        for h in work.holdings:
            if h.member in queryable and h.call_number and h.barcode and h.location:
                record = next(r for r in work.records if r.member == h.member)
                return work, h.member, record.record_id, h
    raise AssertionError("no edition with a full holding in the test bed's answer")


def _codes(registry, holder: str) -> tuple[str, str, str]:
    others = [mem.code for mem in registry.members if mem.queryable and mem.code != holder]
    return others[0], holder, others[1]


async def test_the_lenders_page_and_queue_show_its_copy_and_its_status_now(make_client, registry):
    finder = await make_client()
    work, holder, record_id, holding = await _held_edition(finder, registry)
    a, b, c = _codes(registry, holder)
    store = Store()
    users(store, a, b, c)
    rid = store.submit("ra1", title="书 from the catalogue", work_id=work.work_id,
                       rota=[Lender(b, "在架", record_id=record_id, holding=holding.call_number)])["id"]
    desk = await make_client(store=store, logins_per_minute=10_000)
    await sign_in(desk, "sb")

    html = await (await desk.get(f"/desk/requests/{rid}")).text()
    block = re.search(r'<section class="own-copy" id="own-copy"(.*?)</section>', html, re.S).group(0)
    assert 'data-live="answered"' in block and 'data-source="rota"' in block
    text = _text(block)
    assert holding.call_number in text and holding.barcode in text and holding.location in text
    assert "书目：来自联合目录" in text
    shown = re.search(r'class="copy-status [a-z_]+" data-status="([a-z_]+)"', block).group(1)
    assert shown != UNKNOWN  # the member answered: the status is its word now, not "unknown"

    doc = await (await desk.get(f"/api/desk/requests/{rid}")).json()
    copy = doc["request"]["copy"]
    assert (copy["live"], copy["call_number"], copy["barcode"], copy["status"]) == (
        ANSWERED, holding.call_number, holding.barcode, shown)
    assert doc["request"]["citation_source"] == "edition"

    queues = await (await desk.get("/api/desk/queues")).json()
    response_schema("/api/desk/queues").validate(queues)
    row = next(r for r in queues["queues"]["answer"]["requests"] if r["id"] == rid)
    assert row["copy"]["call_number"] == holding.call_number and row["copy"]["live"] == ANSWERED
    page = await (await desk.get("/desk")).text()
    cell = re.search(rf'<tr data-request="{rid}".*?</tr>', page, re.S).group(0)
    assert holding.call_number in cell and 'data-live="answered"' in cell

    # the borrowing library's staff do not get the lender's shelf
    await sign_in(desk, "sa")
    assert 'id="own-copy"' not in await (await desk.get(f"/desk/requests/{rid}")).text()
    assert (await (await desk.get(f"/api/desk/requests/{rid}")).json())["request"]["copy"] is None


async def test_a_catalogue_that_does_not_answer_in_time_leaves_the_status_unknown(make_client, registry, bed):
    finder = await make_client()
    work, holder, record_id, holding = await _held_edition(finder, registry)
    a, b, c = _codes(registry, holder)
    store = Store()
    users(store, a, b, c)
    rid = store.submit("ra1", title="书 slow", work_id=work.work_id,
                       rota=[Lender(b, "", record_id=record_id, holding=holding.call_number)])["id"]
    bed.set_fault(b, latency_ms=8000)  # far past the desk's deadline (services.copies.LIVE_DEADLINE)
    desk = await make_client(store=store, logins_per_minute=10_000)  # its own connections: the fault applies
    await sign_in(desk, "sb")
    r = await desk.get(f"/desk/requests/{rid}")
    html = await r.text()
    assert r.status == 200
    block = re.search(r'<section class="own-copy" id="own-copy"(.*?)</section>', html, re.S).group(0)
    assert 'data-live="no_answer"' in block and 'data-status="unknown"' in block
    text = _text(block)
    assert "未知：本馆系统未及时响应" in text
    assert holding.call_number in text  # the rota's copy is still shown


async def test_a_manual_citation_says_so_and_has_no_copy_to_ask_for(make_client, registry):
    a, b, c = [mem.code for mem in registry.members if mem.queryable][:3]
    store = Store()
    users(store, a, b, c)
    rid = store.submit("ra1", title="手工 书名", citation="某某. 手工书名. 北京: 出版社, 2001")["id"]
    store.act(rid, m.ROUTE, "sa", rota=[b])
    desk = await make_client(store=store, logins_per_minute=10_000)
    await sign_in(desk, "sb")
    html = await (await desk.get(f"/desk/requests/{rid}")).text()
    block = re.search(r'<section class="own-copy" id="own-copy"(.*?)</section>', html, re.S).group(0)
    assert 'data-citation="manual"' in block and 'data-live="not_asked"' in block
    assert "读者手工填写，请核对" in _text(block)
    page = await (await desk.get("/desk")).text()
    assert "书目：读者手工填写" in _text(re.search(rf'<tr data-request="{rid}".*?</tr>', page, re.S).group(0))


def test_the_copy_meant_is_the_rotas_else_the_first_on_the_shelf():
    from records.model import AVAILABLE, ON_LOAN, Holding

    shelf = [Holding("PKU", "TP311/1", "总馆三层", ON_LOAN, barcode="111"),
             Holding("PKU", "TP311/2", "总馆四层", AVAILABLE, barcode="222"),
             Holding("PKU", "TP311/3", "分馆", AVAILABLE, barcode="333")]
    assert pick(shelf, None).barcode == "222"
    assert pick(shelf, "TP311/3").barcode == "333"
    assert pick(shelf, "TP311/9").barcode == "222"  # the rota's call number is gone: the first on the shelf
    assert pick([], "TP311/1") is None
    req = {"id": 1, "work_id": None, "rota": [{"member": "PKU", "holding": "TP311/1"}], "rota_index": 0}
    copy = own_copy(req, "PKU", None, live=ANSWERED, live_holdings=shelf)
    assert (copy.call_number, copy.barcode, copy.status, copy.source, copy.citation) == (
        "TP311/1", "111", ON_LOAN, "rota", "manual")
    unknown = own_copy(req, "PKU", None, live=NO_ANSWER, why="PKU: timeout")
    assert (unknown.status, unknown.call_number, unknown.why) == (UNKNOWN, "TP311/1", "PKU: timeout")
    assert own_copy({"id": 2, "work_id": None, "rota": []}, "PKU").live == NOT_ASKED


@pytest.fixture(autouse=True)
def _no_faults_left(bed):
    yield
    bed.clear_faults()
