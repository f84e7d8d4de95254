"""Batch actions on the desk's queues: several ticked requests answered, shipped or received at once, each
still asked of the workflow and applied by the store on its own; the result page and the JSON API say per
request what happened and why one was refused; CSRF is needed as for every other change."""

from __future__ import annotations

import re
from html import unescape

import pytest

from ill import machine as m
from ill.store import Store
from tests.portal.deskkit import response_schema, sign_in, token_of, users


@pytest.fixture
def codes(registry):
    a, b, c = [mem.code for mem in registry.members if mem.queryable][:3]
    return a, b, c


@pytest.fixture
def store(codes):
    s = Store()
    users(s, *codes)
    yield s
    s.close()


def _new(store: Store, reader: str, lender: str, title: str) -> int:
    return store.submit(reader, title=title, author="作者", work_id="W0123456789abcdef", rota=[lender])["id"]


def _ticks(html: str, queue: str) -> dict[int, str]:
    form = re.search(rf'<form method="post" action="/desk/batch" class="batch" data-batch="{queue}">(.*?)</form>',
                     html, re.S).group(1)
    return {int(v.split("@")[0]): unescape(v) for v in re.findall(r'name="item" value="([^"]+)"', form)}


def _results(html: str) -> dict[int, tuple[str, str, str]]:
    rows = re.findall(r'<tr data-result="(\d+)" data-ok="(\d)" data-code="([^"]*)"[^>]*>(.*?)</tr>', html, re.S)
    return {int(rid): (ok, code, " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split()))
            for rid, ok, code, body in rows}


async def test_answer_several_at_once_on_the_page_and_one_is_refused_with_its_reason(make_client, store, codes):
    a, b, c = codes
    r1, r2, r3 = (_new(store, "ra1", b, "书 一"), _new(store, "ra2", b, "书 二"), _new(store, "ra3", b, "书 三"))
    desk = await make_client(store=store, logins_per_minute=10_000)
    await sign_in(desk, "sb")
    html = await (await desk.get("/desk")).text()
    ticks = _ticks(html, "answer")
    assert {r1, r2, r3} <= set(ticks)
    assert 'data-batch-action="answer"' in html and '<option value="WillSupply">' in html
    store.act(r3, m.ANSWER_UNFILLED, "sb", reason="已剔旧")  # answered elsewhere meanwhile: the page is stale
    form = {"csrf_token": token_of(html), "action": m.WILL, "do": "act"}
    data = [*form.items(), *[("item", ticks[r]) for r in (r1, r2, r3)]]
    r = await desk.post("/desk/batch", data=data)
    page = await r.text()
    assert r.status == 200, page
    got = _results(page)
    assert got[r1][:2] == ("1", "ok") and got[r2][:2] == ("1", "ok")
    assert got[r3][:2] == ("0", "changed") and "已被他人处理" in got[r3][2]
    assert 'data-done="2"' in page and 'data-refused="1"' in page
    assert store.get(r1)["status"] == store.get(r2)["status"] == m.WILL_SUPPLY
    assert store.get(r3)["status"] == m.UNFILLED  # untouched by the batch

    # without the state the desk showed, the workflow itself refuses what is not possible now
    r = await desk.post("/desk/batch", data=[*form.items(), ("item", str(r1)), ("item", str(r3))])
    got = _results(await r.text())
    assert got[r1][:2] == ("0", "not_now") and "WillSupply" in got[r1][2]
    assert got[r3][:2] == ("0", "closed")

    # ship both: the result page offers their pull slips and labels
    r = await desk.post("/desk/batch", data=[*{**form, "action": m.SHIP}.items(), ("item", str(r1)), ("item", str(r2))])
    page = await r.text()
    assert 'data-done="2"' in page and 'id="batch-slips"' in page
    assert store.get(r1)["status"] == m.LOANED and store.get(r2)["phase"] == m.TRANSIT


async def test_cannot_supply_needs_a_reason_and_no_request_is_touched_without_one(make_client, store, codes):
    a, b, c = codes
    r1, r2 = _new(store, "ra1", b, "书 一"), _new(store, "ra2", b, "书 二")
    desk = await make_client(store=store, logins_per_minute=10_000)
    await sign_in(desk, "sb")
    html = await (await desk.get("/desk")).text()
    form = [("csrf_token", token_of(html)), ("action", m.ANSWER_UNFILLED), ("do", "act"), ("item", str(r1)),
            ("item", str(r2))]
    r = await desk.post("/desk/batch", data=form)
    assert r.status == 400 and "reason" in await r.text()
    assert store.get(r1)["status"] == store.get(r2)["status"] == m.REQUEST_RECEIVED
    r = await desk.post("/desk/batch", data=[*form, ("reason", "本馆无此书")])
    assert 'data-done="2"' in await r.text()
    assert store.get(r1)["status"] == m.UNFILLED and "本馆无此书" in store.get(r1)["reader_message"]
    # nothing ticked, an action the batch does not take, no CSRF token
    r = await desk.post("/desk/batch", data=form[:3])
    assert r.status == 400 and "勾选" in await r.text()
    r = await desk.post("/desk/batch", data=[*form[:1], ("action", m.ROUTE), ("item", str(r1))])
    assert r.status == 400
    r = await desk.post("/desk/batch", data=form[1:], allow_redirects=False)
    assert r.status == 403


async def test_the_api_takes_a_list_and_answers_for_each(make_client, store, codes):
    a, b, c = codes
    mine = [_new(store, "ra1", b, "书 一"), _new(store, "ra2", b, "书 二")]
    elsewhere = _new(store, "ra3", c, "书 三")  # at another lender: not ours to answer
    for rid in (*mine, elsewhere):
        store.act(rid, m.WILL, "sb" if rid in mine else "sc")
        store.act(rid, m.SHIP, "sb" if rid in mine else "sc")
    desk = await make_client(store=store, logins_per_minute=10_000)
    token = await sign_in(desk, "sa")  # the borrowing library receives them
    detail = await (await desk.get(f"/api/desk/requests/{mine[0]}")).json()
    body = {"action": m.RECEIVED, "requests": [{"id": mine[0], "expect": detail["request"]["state"]}, mine[1],
                                               elsewhere, 999999]}
    r = await desk.post("/api/desk/actions", json=body, headers={"X-CSRF-Token": token})
    doc = await r.json()
    assert r.status == 200, doc
    response_schema("/api/desk/actions", "post").validate(doc)
    got = {x["id"]: x for x in doc["results"]}
    assert (doc["done"], doc["refused"]) == (3, 1)  # the borrowing library receives its readers' books from C too
    assert got[mine[0]]["ok"] and got[mine[0]]["request"]["phase"] == m.LIBRARY
    assert got[elsewhere]["ok"]
    assert got[999999]["code"] == "not_found"
    # the lender's staff may not receive: the workflow says whose action it is
    sb = await sign_in(desk, "sb")
    r = await desk.post("/api/desk/actions", json={"action": m.LEND, "requests": mine}, headers={"X-CSRF-Token": sb})
    doc = await r.json()
    assert [x["code"] for x in doc["results"]] == ["not_yours", "not_yours"]
    assert all(store.get(rid)["phase"] == m.LIBRARY for rid in mine)
    r = await desk.post("/api/desk/actions", json={"action": m.LEND, "requests": mine})
    assert r.status == 403  # no CSRF token
    r = await desk.post("/api/desk/actions", json={"action": m.LEND, "requests": []}, headers={"X-CSRF-Token": sb})
    assert r.status == 400
