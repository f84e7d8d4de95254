"""The staff desk against a real SQLite ILL store and the session test bed: every queue, every staff action
through the page (two steps, CSRF) and through the API, refusals across libraries and roles, locating
lenders, and the API's answers checked against its OpenAPI description."""

from __future__ import annotations

import re

import pytest

from ill import machine as m
from ill.store import Store
from portal.desk import QUEUES, queues_of, staff_actions
from tests.portal.deskkit import (
    act_api,
    act_page,
    ago,
    response_schema,
    scenario,
    sign_in,
    token_of,
    users,
    validator,
)


@pytest.fixture
def codes(registry):
    """Three searchable members of the test bed: A (the readers' library), lenders B and C."""
    a, b, c = [mem.code for mem in registry.members if mem.queryable][:3]
    return a, b, c


@pytest.fixture
def store(codes):
    s = Store()  # $BALIS_DB: this test's own file (tests/conftest.py)
    users(s, *codes)
    yield s
    s.close()


@pytest.fixture
async def desk(make_client, store):
    return await make_client(store=store, logins_per_minute=10_000)


# -- the queues ----------------------------------------------------------------------------------------
async def test_every_queue_for_the_borrowing_library_and_the_lender(desk, store, codes):
    a, b, c = codes
    ids = scenario(store, a, b, c)
    await sign_in(desk, "sa")
    doc = await (await desk.get("/api/desk/queues")).json()
    response_schema("/api/desk/queues").validate(doc)
    got = {q: [r["id"] for r in doc["queues"][q]["requests"]] for q in QUEUES}
    assert got == {"answer": [], "ship": [], "route": [ids["route"]], "receive": [ids["receive"]],
                   "lend": [ids["lend"]], "returns_out": [ids["returns_out"]], "loans_out": [], "returns_in": [],
                   "overdue": [ids["overdue"]], "waiting": [ids["answer_late"], ids["answer"], ids["ship"]]}
    assert {q: doc["queues"][q]["count"] for q in QUEUES} == {q: len(v) for q, v in got.items()}
    assert doc["queues"]["route"]["label"] == "手工申请待分派"
    mine = doc["queues"]["receive"]["requests"][0]
    assert mine["reader_id"] == "ra2" and mine["actions"] == ["Received", "report_lost", "Notification"]

    await sign_in(desk, "sb")
    doc = await (await desk.get("/api/desk/queues")).json()
    got = {q: [r["id"] for r in doc["queues"][q]["requests"]] for q in QUEUES}
    assert got["answer"] == [ids["answer_late"], ids["answer"]]  # the oldest deadline first
    assert got["ship"] == [ids["ship"]] and got["returns_in"] == [ids["returns_in"]]
    assert sorted(got["loans_out"]) == sorted(ids[k] for k in ("overdue", "receive", "lend", "reader",
                                                               "returns_out"))
    assert got["overdue"] == [ids["overdue"]]
    assert got["route"] == got["receive"] == got["lend"] == got["returns_out"] == got["waiting"] == []
    late = {r["id"]: r["late"] for r in doc["queues"]["answer"]["requests"]}
    assert late == {ids["answer_late"]: True, ids["answer"]: False}
    assert all(r["reader_id"] is None for q in QUEUES for r in doc["queues"][q]["requests"])  # not B's readers
    assert ids["done"] not in {i for v in got.values() for i in v}

    page = await desk.get("/desk")
    html = await page.text()
    assert page.status == 200
    counts = dict(re.findall(r'data-queue-count="(\w+)"[^>]*>[^<]*<span class="n">(\d+)</span>', html))
    assert counts == {q: str(len(got[q])) for q in QUEUES}
    late_row = re.search(rf'<tr data-request="{ids["answer_late"]}" class="late">.*?</tr>', html, re.S).group(0)
    assert "已超期" in late_row and "24:00" in late_row  # due-by on the working-day calendar
    assert 'data-action="WillSupply"' in late_row and "待答复" in html

    r = await desk.get("/desk/requests", params={"id": str(ids["ship"])}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == f"/desk/requests/{ids['ship']}"
    assert (await desk.get("/desk/requests", params={"id": "x1"})).status == 400

    await sign_in(desk, "sc")
    doc = await (await desk.get("/api/desk/queues")).json()
    assert all(doc["queues"][q]["count"] == 0 for q in QUEUES)


def test_queue_rules_follow_the_state_machine():
    base = {"lender": "B", "borrower": "A", "kind": "loan", "answered_at": None}
    assert queues_of({**base, "status": m.REQUEST_RECEIVED, "phase": ""}, "B") == ["answer"]
    assert queues_of({**base, "status": m.REQUEST_RECEIVED, "phase": ""}, "A") == ["waiting"]
    assert queues_of({**base, "status": m.OVERDUE, "phase": m.READER}, "B") == ["loans_out", "overdue"]
    assert queues_of({**base, "status": m.RECALLED, "phase": m.TRANSIT}, "A") == ["receive"]
    assert queues_of({**base, "status": m.LOANED, "phase": m.RETURN_TRANSIT}, "B") == ["returns_in"]
    assert queues_of({**base, "status": m.PENDING, "phase": "", "lender": None}, "A") == ["route"]
    req = {**base, "status": m.REQUEST_RECEIVED, "phase": ""}
    assert staff_actions(req, "B") == [m.EXPECT, m.WILL, m.ANSWER_UNFILLED, m.ANSWER_RETRY, m.NOTIFY]
    assert staff_actions(req, "A") == [m.CANCEL, m.NOTIFY]
    # an earlier lender answered and the request moved on: the current lender has not, so A may still cancel
    assert staff_actions({**req, "answered_at": ago(hours=1)}, "A") == [m.CANCEL, m.NOTIFY]
    assert staff_actions({**req, "status": m.EXPECT_TO_SUPPLY}, "A") == [m.NOTIFY]  # the lender answered
    assert staff_actions(req, "C") == []


# -- every action, through the page and through the API ---------------------------------------------------
@pytest.mark.parametrize("transport", ["page", "api"])
async def test_every_staff_action(desk, store, codes, transport):
    a, b, c = codes
    tokens = {}

    async def do(user: str, rid: int, action: str, **values) -> None:
        if tokens.get("who") != user:
            tokens["token"] = await sign_in(desk, user)
            tokens["who"] = user
        if transport == "page":
            status, text = await act_page(desk, rid, action, **values)
            assert status == 303, text
            assert "已执行" in text
        else:
            status, doc = await act_api(desk, tokens["token"], rid, action, **values)
            assert status == 200, doc
        history = store.history(rid)
        assert history[-1]["action"] == action and history[-1]["actor"] == user

    loan = store.submit("ra1", title="借书 全程", work_id="W0123456789abcdef", rota=[b])["id"]
    for user, action, values in (
            ("sb", "ExpectToSupply", {}), ("sb", "WillSupply", {}), ("sb", "ship", {}), ("sa", "Received", {}),
            ("sa", "lend", {}), ("sb", "Recalled", {"reason": "本馆读者急需"}), ("sa", "take_back", {}),
            ("sa", "report_damaged", {"price": "38.5", "reason": "水渍"}),
            ("sa", "Notification", {"reason": "已寄出，请查收"}), ("sa", "ShippedReturn", {}),
            ("sb", "check_in", {})):
        await do(user, loan, action, **values)
    assert store.get(loan)["status"] == m.LOAN_COMPLETED
    assert [v["kind"] for v in store.violations(loan)] == ["damaged"]

    two = store.submit("ra2", title="借书 转馆", work_id="W0123456789abcdef", rota=[b, c])["id"]
    await do("sb", two, "Unfilled", reason="在架未找到")
    assert store.get(two)["lender"] == c
    await do("sc", two, "RetryPossible", reason="修补中")
    assert store.get(two)["status"] == m.UNFILLED

    manual = store.submit("ra3", title="手工申请", citation="某书, 2001")["id"]
    rota = f"{b},{c}" if transport == "page" else [b, c]
    await do("sa", manual, "route", rota=rota)
    assert store.get(manual)["lender"] == b and [e["member"] for e in store.get(manual)["rota"]] == [b, c]
    await do("sa", manual, "Cancel", reason="读者来电取消")
    assert store.get(manual)["status"] == m.CANCELLED

    lost = store.submit("ra4", title="借书 丢失", work_id="W0123456789abcdef", rota=[b])["id"]
    await do("sb", lost, "WillSupply")
    await do("sb", lost, "ship")
    await do("sa", lost, "report_lost", price="45.5", reason="读者遗失")
    assert store.get(lost)["status"] == m.COMPLETED_WITHOUT_RETURN


async def test_page_keeps_what_was_typed_and_says_what_is_missing(desk, store, codes):
    a, b, c = codes
    rid = store.submit("ra1", title="书 缺原因", work_id="W0123456789abcdef", rota=[b, c])["id"]
    await sign_in(desk, "sb")
    confirm = await (await desk.get(f"/desk/requests/{rid}/confirm", params={"action": "Unfilled"})).text()
    assert 'id="confirm-reason"' in confirm and "required" in confirm
    form = {"csrf_token": token_of(confirm), "action": "Unfilled", "reason": "   "}
    r = await desk.post(f"/desk/requests/{rid}/act", data=form, allow_redirects=False)
    text = await r.text()
    assert r.status == 400 and "此操作需要填写原因" in text and 'id="confirm-reason"' in text
    assert store.get(rid)["status"] == m.REQUEST_RECEIVED  # nothing changed
    # price: a word instead of a number keeps the reason typed
    store.act(rid, "WillSupply", "sb")
    store.act(rid, "ship", "sb")
    await sign_in(desk, "sa")
    store.act(rid, "Received", "sa")
    confirm = await (await desk.get(f"/desk/requests/{rid}/confirm", params={"action": "report_lost"})).text()
    r = await desk.post(f"/desk/requests/{rid}/act", data={"csrf_token": token_of(confirm), "action": "report_lost",
                                                           "price": "很贵", "reason": "读者遗失在地铁"})
    text = await r.text()
    assert r.status == 400 and "读者遗失在地铁" in text and "很贵" in text and "price" in text
    assert store.get(rid)["status"] == m.LOANED


async def test_an_action_on_a_request_changed_meanwhile_is_refused(desk, store, codes):
    a, b, c = codes
    rid = store.submit("ra1", title="书 并发", work_id="W0123456789abcdef", rota=[b])["id"]
    token = await sign_in(desk, "sb")
    confirm = await (await desk.get(f"/desk/requests/{rid}/confirm", params={"action": "WillSupply"})).text()
    store.act(rid, "ExpectToSupply", "sb")  # a colleague answered in the meantime
    r = await desk.post(f"/desk/requests/{rid}/act", data={
        "csrf_token": token_of(confirm), "action": "WillSupply",
        "expect": re.search(r'name="expect" value="([^"]*)"', confirm).group(1)})
    assert r.status == 409 and "已被他人处理" in await r.text()
    assert store.get(rid)["status"] == m.EXPECT_TO_SUPPLY
    stale = await desk.post(f"/api/desk/requests/{rid}/actions", json={"action": "ship", "expect": "old"},
                            headers={"X-CSRF-Token": token})
    assert stale.status == 409
    validator("/components/schemas/Error").validate(await stale.json())
    # an action the state does not allow: 409, in words, nothing changed
    r = await desk.post(f"/api/desk/requests/{rid}/actions", json={"action": "check_in"},
                        headers={"X-CSRF-Token": token})
    assert r.status == 409 and "check_in" in (await r.json())["error"]["message"]
    r = await desk.get(f"/desk/requests/{rid}/confirm", params={"action": "check_in"})
    assert r.status == 409 and "不能执行" in await r.text()
    bad = await desk.post(f"/api/desk/requests/{rid}/actions", json={"action": "explode"},
                          headers={"X-CSRF-Token": token})
    assert bad.status == 400 and (await bad.json())["error"]["parameter"] == "action"
    assert store.get(rid)["status"] == m.EXPECT_TO_SUPPLY


# -- refusals ---------------------------------------------------------------------------------------------
async def test_other_libraries_readers_and_strangers_are_refused(desk, store, codes):
    a, b, c = codes
    rid = store.submit("ra1", title="保密的书名", work_id="W0123456789abcdef", rota=[b])["id"]
    token = await sign_in(desk, "sc")  # staff of C: neither lender nor borrowing library
    for path in (f"/desk/requests/{rid}", f"/desk/requests/{rid}/confirm?action=WillSupply",
                 f"/api/desk/requests/{rid}"):
        r = await desk.get(path)
        assert r.status == 403, path
        assert "保密的书名" not in await r.text()
    page = await (await desk.get("/desk")).text()
    r = await desk.post(f"/desk/requests/{rid}/act", data={"csrf_token": token_of(page), "action": "WillSupply"})
    assert r.status == 403 and "保密的书名" not in await r.text()
    r = await desk.post(f"/api/desk/requests/{rid}/actions", json={"action": "WillSupply"},
                        headers={"X-CSRF-Token": token})
    assert r.status == 403
    validator("/components/schemas/Error").validate(await r.json())
    assert (await desk.get("/api/desk/requests/999999")).status == 404
    # the borrowing library may not answer for the lender: the workflow's NotAllowed, as in the store
    token = await sign_in(desk, "sa")
    r = await desk.post(f"/api/desk/requests/{rid}/actions", json={"action": "WillSupply"},
                        headers={"X-CSRF-Token": token})
    assert r.status == 403 and "借出馆馆员" in (await r.json())["error"]["message"]
    # no CSRF token: refused before anything is looked at
    r = await desk.post(f"/api/desk/requests/{rid}/actions", json={"action": "Cancel"})
    assert r.status == 403
    assert store.get(rid)["status"] == m.REQUEST_RECEIVED

    await sign_in(desk, "ra1")  # a reader, even the one who asked
    assert (await desk.get("/desk")).status == 403
    assert (await desk.get(f"/api/desk/requests/{rid}")).status == 403
    assert (await desk.get("/api/desk/queues")).status == 403
    await sign_in(desk, "adm")  # the desk is for a library's staff
    assert (await desk.get("/api/desk/queues")).status == 403
    await sign_in(desk, None)
    r = await desk.get("/desk", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/login?next=")
    assert (await desk.get("/api/desk/queues")).status == 401
    assert (await desk.get(f"/api/desk/requests/{rid}")).status == 401


async def test_request_page_shows_legs_history_and_actions(desk, store, codes):
    a, b, c = codes
    rid = store.submit("ra1", title="书 详情", author="某作者", work_id="W0123456789abcdef", rota=[b, c])["id"]
    store.act(rid, "Unfilled", "sb", reason="在架未找到")
    await sign_in(desk, "sa")
    html = await (await desk.get(f"/desk/requests/{rid}")).text()
    assert f'data-lender="{b}" data-outcome="unfilled"' in html and f'data-lender="{c}" data-outcome="open"' in html
    assert "在架未找到" in html and "ra1" in html  # the borrowing library sees its reader
    assert 'data-action="Cancel"' in html  # the current lender has not answered: the library may cancel
    assert 'data-action="Notification"' in html
    doc = await (await desk.get(f"/api/desk/requests/{rid}")).json()
    response_schema("/api/desk/requests/{id}").validate(doc)
    assert [leg["outcome"] for leg in doc["legs"]] == ["unfilled", "open"]
    assert [h["action"] for h in doc["history"]] == ["submit", "Unfilled"]
    english = await (await desk.get(f"/desk/requests/{rid}", params={"lang": "en"})).text()
    assert "Lenders tried" in english and "Cannot supply" in english and "申请单" not in english
    assert "Manual requests to route" in await (await desk.get("/desk", params={"lang": "en"})).text()
    await sign_in(desk, "sc")
    html = await (await desk.get(f"/desk/requests/{rid}")).text()
    assert "ra1" not in html  # the lender does not see the reader's card number
    assert (await (await desk.get(f"/api/desk/requests/{rid}")).json())["request"]["reader_id"] is None


# -- locating lenders -------------------------------------------------------------------------------------
async def test_locate_lenders_and_route_a_manual_request_with_the_rota(desk, store, codes):
    a, b, c = codes
    token = await sign_in(desk, "sa")
    found = await (await desk.get("/api/search", params={"q": "中国", "source": "live"})).json()
    # an edition other libraries hold, and A does not: it has lenders
    work = next(w for w in found["works"] if w["isbns"] and a not in w["members"] and len(w["members"]) >= 2)
    r = await desk.get("/api/desk/locate", params={"isbn": work["isbns"][0]})
    doc = await r.json()
    assert r.status == 200, doc
    response_schema("/api/desk/locate").validate(doc)
    assert doc["work"]["work_id"] == work["work_id"] and doc["home"] == a
    rota = doc["rota"]
    assert rota["lenders"], rota
    assert all(e["member"] != a for e in rota["lenders"])
    assert all(e["reasons"] for e in rota["lenders"])
    holders = set(doc["work"]["members"]) - {a}
    listed = {e["member"] for e in rota["lenders"]} | {e["member"] for e in rota["spare"]} | \
        {x["member"] for x in rota["excluded"]}
    assert holders <= listed  # every holder is either asked or said why not

    manual = store.submit("ra1", title="中国", citation="中国（手工填写）")["id"]
    page = await desk.get("/desk/locate", params={"request": str(manual), "isbn": work["isbns"][0]})
    html = await page.text()
    assert page.status == 200 and 'id="rota"' in html and 'id="route-with-rota"' in html
    codes_in_form = re.search(r'name="rota" value="([^"]+)"', html).group(1)
    work = re.search(r'name="work_id" value="(W[0-9a-f]{16})"', html).group(1)
    assert codes_in_form.split(",") == [e["member"] for e in rota["lenders"]]
    confirm = await (await desk.get(f"/desk/requests/{manual}/confirm",
                                    params={"action": "route", "rota": codes_in_form, "work_id": work})).text()
    assert f'value="{codes_in_form}"' in confirm
    r = await desk.post(f"/desk/requests/{manual}/act", data={
        "csrf_token": token_of(confirm), "action": "route", "rota": codes_in_form, "work_id": work},
        allow_redirects=False)
    assert r.status == 303
    routed = store.get(manual)
    assert routed["status"] == m.REQUEST_RECEIVED and routed["work_id"] == work
    assert [e["member"] for e in routed["rota"]] == codes_in_form.split(",")

    bad = await desk.get("/api/desk/locate", params={"isbn": "12-34"})
    assert bad.status == 400 and (await bad.json())["error"]["parameter"] == "isbn"
    assert (await desk.get("/api/desk/locate")).status == 400
    html = await (await desk.get("/desk/locate", params={"q": "zzqqxxnothing"})).text()
    assert 'id="locate-nothing"' in html
    assert token
