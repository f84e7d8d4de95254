"""BALIS and CALIS as ISO 18626 peers, store to store: forwarding, the whole loan, answers from the lender's
side, Unfilled, Cancel, a peer down and back, repeats and messages out of order."""

from __future__ import annotations

import contextlib

import pytest

from ill import isomessages as im
from ill import machine as m
from ill import peer_outbox, stats
from ill.peers import receive
from tests.ill.conftest import _pg_database
from tests.peers.exchange import SECRET, Exchange


@pytest.fixture(params=["sqlite", "postgresql"])
def ex(request, tmp_path, clock, monkeypatch):
    """BALIS and CALIS each on a SQLite file, or each on a new database of the session's PostgreSQL."""
    if request.param == "sqlite":
        e = Exchange(tmp_path, clock, monkeypatch)
        yield e
        e.close()
        return
    server = request.getfixturevalue("postgres_url")
    with contextlib.ExitStack() as stack:
        urls = {side: stack.enter_context(contextlib.contextmanager(_pg_database)(server)) for side in ("balis", "calis")}
        e = Exchange(tmp_path, clock, monkeypatch, urls)
        yield e
        e.close()


def _at_calis(ex: Exchange) -> tuple[int, int]:
    """A BALIS reader's request no BALIS lender can supply, forwarded to CALIS: (BALIS id, CALIS id)."""
    balis = ex.store["balis"]
    rid = balis.submit("r1", title="敦煌学概论", author="姜亮夫", work_id="w-dh", rota=["PKU"])["id"]
    balis.act(rid, m.ANSWER_UNFILLED, "s-pku", reason="已外借 (on loan)")
    r = balis.get(rid)
    assert (r["status"], r["lender"]) == (m.REQUEST_RECEIVED, "CALIS")
    assert [x["kind"] for x in ex.outbox("balis")] == ["request"]
    ex.send()
    theirs = ex.store["calis"].list_requests(member="WHU", side="lender")
    assert len(theirs) == 1 and theirs[0]["borrower"] == "BALIS" and theirs[0]["title"] == "敦煌学概论"
    return rid, theirs[0]["id"]


def test_a_request_no_member_can_supply_goes_to_calis_and_completes_the_loan(ex):
    rid, cid = _at_calis(ex)
    balis, calis = ex.store["balis"], ex.store["calis"]
    assert calis.get(cid)["peer_request_id"] == f"BALIS-{rid}"
    steps = [("calis", m.EXPECT, "s-whu", m.EXPECT_TO_SUPPLY, m.NONE),
             ("calis", m.SHIP, "s-whu", m.LOANED, m.TRANSIT),
             ("balis", m.RECEIVED, "s-thu", m.LOANED, m.LIBRARY),
             ("balis", m.LEND, "s-thu", m.LOANED, m.READER),
             ("balis", m.TAKE_BACK, "s-thu", m.LOANED, m.RETURNED),
             ("balis", m.SHIPPED_RETURN, "s-thu", m.LOANED, m.RETURN_TRANSIT),
             ("calis", m.CHECK_IN, "s-whu", m.LOAN_COMPLETED, m.NONE)]
    for side, action, who, status, phase in steps:
        ex.store[side].act(rid if side == "balis" else cid, action, who)
        ex.send()
        assert balis.get(rid)["status"] == status, action
        if side == "balis":
            assert balis.get(rid)["phase"] == phase
    assert calis.get(cid)["status"] == m.LOAN_COMPLETED
    assert calis.get(cid)["phase"] == m.NONE
    # the borrowing-side steps CALIS follows: Received, ShippedReturn
    assert [h["action"] for h in calis.history(cid)] == ["submit", m.EXPECT, m.SHIP, m.RECEIVED, m.SHIPPED_RETURN,
                                                        m.CHECK_IN]
    assert [h["action"] for h in balis.history(rid)][-3:] == [m.TAKE_BACK, m.SHIPPED_RETURN, m.CHECK_IN]
    assert all(x["state"] == "sent" for x in ex.outbox("balis") + ex.outbox("calis"))
    ex.all_valid()


def test_a_calis_request_is_supplied_by_a_balis_lender(ex):
    calis, balis = ex.store["calis"], ex.store["balis"]
    cid = calis.submit("c1", title="营造法式", work_id="w-yz", rota=["WHU"])["id"]
    calis.act(cid, m.ANSWER_UNFILLED, "s-whu", reason="馆藏缺失")
    assert calis.get(cid)["lender"] == "BALIS"
    ex.send()
    ours = balis.list_requests(member="THU", side="lender")
    assert len(ours) == 1
    rid = ours[0]["id"]
    assert balis.get(rid)["borrower"] == "CALIS" and balis.get(rid)["reader_id"].startswith("CALIS:")
    # the lender's desk sees it like any other: staff of THU may answer it
    assert m.WILL in [v.action for v in balis.explain(rid, "s-thu") if v.allowed]
    balis.act(rid, m.WILL, "s-thu")
    balis.act(rid, m.SHIP, "s-thu")
    ex.send()
    assert (calis.get(cid)["status"], calis.get(cid)["phase"]) == (m.LOANED, m.TRANSIT)
    calis.act(cid, m.RECEIVED, "s-zju")
    calis.act(cid, m.SHIPPED_RETURN, "s-zju")
    ex.send()
    assert balis.get(rid)["phase"] == m.RETURN_TRANSIT
    balis.act(rid, m.CHECK_IN, "s-thu")
    ex.send()
    assert calis.get(cid)["status"] == m.LOAN_COMPLETED
    ex.all_valid()
    whole = (stats.month_bounds("2025-01")[0], stats.month_bounds("2026-12")[1])
    with calis.read() as conn:
        assert stats.peer_exchange(conn, ["BALIS"], whole) == [{"peer": "BALIS", "sent": 1, "received": 0}]
    with balis.read() as conn:
        assert stats.peer_exchange(conn, ["CALIS"], whole) == [{"peer": "CALIS", "sent": 0, "received": 1}]


def test_unfilled_at_the_peer_ends_the_request_with_the_reason(ex):
    rid, cid = _at_calis(ex)
    ex.store["calis"].act(cid, m.ANSWER_UNFILLED, "s-whu", reason="破损待修 (being repaired)")
    ex.send()
    r = ex.store["balis"].get(rid)
    assert r["status"] == m.UNFILLED and "破损待修" in r["reader_message"] and "CALIS" in r["reader_message"]


def test_cancel_before_the_peer_answers(ex):
    rid, cid = _at_calis(ex)
    ex.store["balis"].act(rid, m.CANCEL, "s-thu", reason="读者不再需要")
    ex.send()
    assert ex.store["calis"].get(cid)["status"] == m.CANCELLED
    assert ex.store["balis"].get(rid)["status"] == m.CANCELLED
    kinds = [(x["kind"], x["what"]) for x in reversed(ex.outbox("calis"))]
    assert ("supplyingAgencyMessage", m.CANCELLED) in kinds  # CancelResponse Y
    ex.all_valid()


def test_the_peer_down_for_a_while_and_back(ex):
    rid, cid = _at_calis(ex)
    calis, balis = ex.store["calis"], ex.store["balis"]
    ex.down.add("balis")
    calis.act(cid, m.WILL, "s-whu")
    calis.act(cid, m.SHIP, "s-whu")
    ex.send(due_only=True)
    waiting = [x for x in ex.outbox("calis") if x["state"] == "pending"]
    assert len(waiting) == 2 and waiting[-1]["attempts"] == 1 and "down" in waiting[-1]["last_error"]
    assert balis.get(rid)["status"] == m.REQUEST_RECEIVED  # nothing arrived, nothing lost
    ex.down.clear()
    ex.send(due_only=True)  # not due yet: the back-off holds them
    assert balis.get(rid)["status"] == m.REQUEST_RECEIVED
    ex.send()  # `balis peers send --now`
    assert (balis.get(rid)["status"], balis.get(rid)["phase"]) == (m.LOANED, m.TRANSIT)
    assert [h["action"] for h in balis.history(rid)].count(m.SHIP) == 1
    assert all(x["state"] == "sent" for x in ex.outbox("calis"))


def test_the_same_message_twice_gives_the_same_confirmation_and_one_transition(ex):
    rid, cid = _at_calis(ex)
    ex.store["calis"].act(cid, m.EXPECT, "s-whu")
    (kind, body), = [(k, b) for k, b in peer_outbox.bodies(ex.store["calis"], cid) if k == "supplyingAgencyMessage"]
    first = receive(ex.store["balis"], ex.registry["balis"], body, SECRET)
    again = receive(ex.store["balis"], ex.registry["balis"], body, SECRET)
    assert first.status == again.status == 200 and first.body == again.body
    assert im.read(first.body).text("confirmationHeader/messageStatus") == "OK"
    assert [h["action"] for h in ex.store["balis"].history(rid)].count(m.EXPECT) == 1


def test_a_status_out_of_order_is_refused_and_changes_nothing(ex):
    rid, cid = _at_calis(ex)
    calis = ex.store["calis"]
    calis.act(cid, m.WILL, "s-whu")
    calis.act(cid, m.SHIP, "s-whu")
    will, loaned = [b for k, b in peer_outbox.bodies(calis, cid) if k == "supplyingAgencyMessage"]
    answer = receive(ex.store["balis"], ex.registry["balis"], loaned, SECRET)  # Loaned before WillSupply
    conf = im.read(answer.body)
    assert conf.text("confirmationHeader/messageStatus") == "ERROR"
    assert conf.text("errorData/errorType") == "UnrecognisedDataValue"
    assert "Loaned" in conf.text("errorData/errorValue")
    assert ex.store["balis"].get(rid)["status"] == m.REQUEST_RECEIVED
    for body in (will, loaned):  # in order, both apply
        assert im.read(receive(ex.store["balis"], ex.registry["balis"], body, SECRET).body).text(
            "confirmationHeader/messageStatus") == "OK"
    assert ex.store["balis"].get(rid)["status"] == m.LOANED


def test_a_peer_acts_only_on_its_own_requests(ex):
    balis = ex.store["balis"]
    other = balis.submit("r1", title="史记", work_id="w-sj", rota=["PKU"])["id"]  # at PKU, not at CALIS
    rid, cid = _at_calis(ex)
    ex.store["calis"].act(cid, m.EXPECT, "s-whu")
    (body,) = [b for k, b in peer_outbox.bodies(ex.store["calis"], cid) if k == "supplyingAgencyMessage"]
    forged = body.replace(f"BALIS-{rid}<".encode(), f"BALIS-{other}<".encode())
    conf = im.read(receive(balis, ex.registry["balis"], forged, SECRET).body)
    assert conf.text("errorData/errorType") == "UnrecognisedDataValue"
    assert balis.get(other)["status"] == m.REQUEST_RECEIVED and balis.get(other)["lender"] == "PKU"


def test_badly_formed_and_unauthorised_messages_get_the_standard_error(ex):
    answer = receive(ex.store["balis"], ex.registry["balis"], b"<ISO18626Message", SECRET)
    conf = im.read(answer.body)
    assert (conf.kind, conf.text("confirmationHeader/messageStatus"), conf.text("errorData/errorType")) == (
        "requestConfirmation", "ERROR", "BadlyFormedMessage")
    rid, cid = _at_calis(ex)
    ex.store["calis"].act(cid, m.EXPECT, "s-whu")
    (body,) = [b for k, b in peer_outbox.bodies(ex.store["calis"], cid) if k == "supplyingAgencyMessage"]
    answer = receive(ex.store["balis"], ex.registry["balis"], body, "wrong")
    conf = im.read(answer.body)
    assert answer.status == 401
    assert (conf.kind, conf.text("errorData/errorType")) == ("supplyingAgencyMessageConfirmation",
                                                             "UnrecognisedDataValue")
    assert "not authenticated" in conf.text("errorData/errorValue")
    assert ex.store["balis"].get(rid)["status"] == m.REQUEST_RECEIVED


def test_a_cancel_after_the_lender_answered_and_a_status_request_are_answered_by_message(ex, clock):
    calis, balis = ex.store["calis"], ex.store["balis"]
    cid = calis.submit("c1", title="梦溪笔谈", work_id="w-mx", rota=["WHU"])["id"]
    calis.act(cid, m.ANSWER_UNFILLED, "s-whu", reason="馆藏缺失")
    ex.send()
    (rid,) = [r["id"] for r in balis.list_requests(member="THU", side="lender")]
    balis.act(rid, m.EXPECT, "s-thu")
    ex.send()
    assert calis.get(cid)["status"] == m.EXPECT_TO_SUPPLY
    peer = ex.registry["calis"].peer("BALIS")
    for action in ("Cancel", "StatusRequest"):  # as another system would send them
        body = peer_outbox._requesting(ex.registry["calis"], calis.get(cid), peer, action, "", clock())
        conf = im.read(receive(balis, ex.registry["balis"], body, SECRET).body)
        assert conf.text("confirmationHeader/messageStatus") == "OK" and conf.text("action") == action
        clock.advance(seconds=1)
    assert balis.get(rid)["status"] == m.EXPECT_TO_SUPPLY  # the lender keeps it
    answers = [im.read(b) for k, b in peer_outbox.bodies(balis, rid) if k == "supplyingAgencyMessage"]
    assert [(a.text("messageInfo/reasonForMessage"), a.text("messageInfo/answerYesNo"), a.text("statusInfo/status"))
            for a in answers] == [("RequestResponse", "Y", m.EXPECT_TO_SUPPLY), ("CancelResponse", "N", m.EXPECT_TO_SUPPLY),
                                  ("StatusRequestResponse", None, m.EXPECT_TO_SUPPLY)]
    ex.send()
    assert calis.get(cid)["status"] == m.EXPECT_TO_SUPPLY
    assert all(x["state"] == "sent" for x in ex.outbox("balis"))
