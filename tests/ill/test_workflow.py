"""Rules and transitions of the ILL workflow, each on SQLite and on PostgreSQL (the `store` fixture)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from ill import InvalidRequest, InvalidTransition, NotAllowed, RuleViolation
from ill import machine as m
from ill.rota import Lender
from ill.workdays import BEIJING
from tests.ill.conftest import T0


def bj_day(moment) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


_EDITIONS = itertools.count(1)


def loan(store, reader="r1", rota=("PKU", "RUC", "CUPL"), **kw):
    """A loan request for a new edition each time (asking twice for one edition is the duplicates rule's)."""
    kw.setdefault("work_id", f"w-{next(_EDITIONS)}")
    return store.submit(reader, kind="loan", title="数据结构 (C语言版)", author="严蔚敏", rota=list(rota), **kw)


def state(store, rid):
    """Everything a refused action must leave untouched."""
    return store.get(rid), store.history(rid), store.legs(rid), store.violations(rid)


# ---- a full returnable loan ---------------------------------------------------------------------------

def test_returnable_loan_from_submission_to_loan_completed(store, clock):
    r = loan(store)
    assert (r["status"], r["lender"], r["phase"]) == (m.REQUEST_RECEIVED, "PKU", m.NONE)
    # submitted 2025-09-30 10:00 Beijing: answer by the end of 10-09, ship by the end of 10-11 (working Sat)
    assert bj_day(r["answer_due"]) == "2025-10-10 00:00" and bj_day(r["ship_due"]) == "2025-10-12 00:00"
    rid = r["id"]
    steps = [("pku", m.WILL, m.WILL_SUPPLY, m.NONE), ("pku", m.SHIP, m.LOANED, m.TRANSIT),
             ("thu", m.RECEIVED, m.LOANED, m.LIBRARY), ("thu", m.LEND, m.LOANED, m.READER),
             ("thu", m.TAKE_BACK, m.LOANED, m.RETURNED), ("thu", m.SHIPPED_RETURN, m.LOANED, m.RETURN_TRANSIT),
             ("pku", m.CHECK_IN, m.LOAN_COMPLETED, m.NONE)]
    for actor, action, status, phase in steps:
        clock.advance(hours=5)
        r = store.act(rid, action, actor)
        assert (r["status"], r["phase"]) == (status, phase), action
    assert r["completed_at"] == clock.now and r["allowed"] == []
    hist = store.history(rid)
    assert [h["action"] for h in hist] == ["submit"] + [s[1] for s in steps]
    # every change is an audit entry: who, when, from, to
    assert [(h["from_status"], h["to_status"]) for h in hist[1:3]] == [(m.REQUEST_RECEIVED, m.WILL_SUPPLY),
                                                                        (m.WILL_SUPPLY, m.LOANED)]
    assert hist[-1]["actor"] == "pku" and hist[-1]["actor_role"] == "lender" and hist[-1]["at"] == clock.now
    assert store.open_loans("r1") == 0


def test_lend_sets_the_due_date_one_month_later(store, clock):
    rid = loan(store)["id"]
    for actor, action in (("pku", m.WILL), ("pku", m.SHIP), ("thu", m.RECEIVED)):
        store.act(rid, action, actor)
    # lent on 2025-10-02 10:00 Beijing (the desk was open in the holiday): due 11-02, a Sunday,
    # so due at the end of Monday 11-03
    clock.now = T0 + timedelta(days=2)
    r = store.act(rid, m.LEND, "thu")
    assert bj_day(r["due_back"]) == "2025-11-04 00:00"
    # the loan period is fixed at lending; a one-month period ending on 10-01 (a holiday) moves to 10-09
    from ill.workdays import loan_due

    r = {"due_back": loan_due(T0 - timedelta(days=29))}  # lent 2025-09-01
    # due 10-01, a holiday: moved to the end of the first working day after, 10-09
    assert bj_day(r["due_back"]) == "2025-10-10 00:00"


def test_document_delivery_completes_when_the_copy_is_sent(store):
    r = store.submit("r1", kind="copy", title="论文", work_id="w-2", rota=["PKU"])
    store.act(r["id"], m.EXPECT, "pku")
    r = store.act(r["id"], m.SHIP, "pku")
    assert r["status"] == m.COPY_COMPLETED and r["allowed"] == []
    with pytest.raises(InvalidTransition):
        store.act(r["id"], m.LEND, "thu")


# ---- invalid transitions and permissions change nothing ---------------------------------------------

def test_invalid_transition_is_refused_with_a_clear_message_and_changes_nothing(store):
    rid = loan(store)["id"]
    before = state(store, rid)
    with pytest.raises(InvalidTransition) as err:
        store.act(rid, m.CHECK_IN, "pku")
    text = str(err.value)
    assert f"申请单 {rid}" in text and "RequestReceived" in text and "check_in" in text
    assert "WillSupply" in text and "Unfilled" in text  # the actions possible now
    assert err.value.allowed == m.allowed_actions(m.REQUEST_RECEIVED, m.NONE, m.LOAN)
    assert state(store, rid) == before


def test_staff_act_only_for_their_own_library(store):
    rid = loan(store)["id"]
    before = state(store, rid)
    with pytest.raises(NotAllowed, match="staff of the lender \\(PKU\\)"):
        store.act(rid, m.WILL, "ruc")  # RUC is later in the rota, not the lender now
    with pytest.raises(NotAllowed):
        store.act(rid, m.WILL, "thu")  # the borrowing library cannot answer for the lender
    with pytest.raises(NotAllowed):
        store.act(rid, m.CANCEL, "r2")  # another reader of the same library
    with pytest.raises(NotAllowed):
        store.act(rid, m.TIMEOUT, "pku")  # the clock's action
    assert state(store, rid) == before
    store.act(rid, m.WILL, "pku")
    store.act(rid, m.SHIP, "pku")
    with pytest.raises(NotAllowed, match="borrowing library \\(THU\\)"):
        store.act(rid, m.RECEIVED, "pku")


def test_unknown_action_and_unknown_request(store):
    from ill import NotFound

    with pytest.raises(InvalidRequest, match="unknown action"):
        store.act(loan(store)["id"], "renew", "thu")
    with pytest.raises(NotFound, match="no request 999"):
        store.act(999, m.WILL, "pku")
    with pytest.raises(NotFound, match="no user"):
        store.submit("nobody", title="x", work_id="w", rota=["PKU"])


# ---- the 3-books rule -----------------------------------------------------------------------------

def test_at_most_three_books_out(store, clock):
    ids = [loan(store)["id"] for _ in range(3)]
    with pytest.raises(RuleViolation, match="已有 3 册") as err:
        loan(store)
    assert all(str(i) in str(err.value) for i in ids)
    assert len(store.list_requests(reader="r1")) == 3
    # copies are not books out; another reader is not affected
    store.submit("r1", kind="copy", title="论文", work_id="w-9", rota=["PKU"])
    loan(store, reader="r2")
    # a finished loan frees a place
    store.act(ids[0], m.ANSWER_UNFILLED, "pku", reason="在架未找到")
    store.act(ids[0], m.ANSWER_UNFILLED, "ruc", reason="在架未找到")
    r = store.act(ids[0], m.ANSWER_UNFILLED, "cupl", reason="在架未找到")
    assert r["status"] == m.UNFILLED
    assert loan(store)["status"] == m.REQUEST_RECEIVED
    with pytest.raises(RuleViolation):
        loan(store)


# ---- cancelling ------------------------------------------------------------------------------------

def test_cancel_window_is_one_hour_inclusive(store, clock):
    first, second = loan(store)["id"], loan(store)["id"]
    clock.advance(hours=1)
    r = store.cancel(first, "r1")  # exactly one hour after submitting: still allowed
    assert r["status"] == m.CANCELLED
    assert store.legs(first)[0]["outcome"] == "cancelled"
    clock.advance(microseconds=1)
    before = state(store, second)
    with pytest.raises(RuleViolation, match="within 1 hour"):
        store.cancel(second, "r1")
    assert state(store, second) == before
    # the reader's library may still cancel it for them while no lender has answered
    clock.advance(hours=5)
    assert store.cancel(second, "thu", reason="读者来电取消")["status"] == m.CANCELLED
    assert store.history(second)[-1]["actor_role"] == "borrower"


def test_cancel_only_before_the_lender_answered(store, clock):
    rid = loan(store)["id"]
    clock.advance(minutes=10)
    store.act(rid, m.EXPECT, "pku")
    clock.advance(minutes=10)
    with pytest.raises(InvalidTransition):
        store.cancel(rid, "r1")
    # PKU answered Unfilled and the request moved on to RUC, which has not answered: within the hour the
    # reader may cancel it (the current lender has not answered), and so may the borrowing library's staff
    other = loan(store)["id"]
    store.act(other, m.ANSWER_UNFILLED, "pku", reason="在架未找到")
    assert store.get(other)["lender"] == "RUC"
    assert store.cancel(other, "r1")["status"] == m.CANCELLED
    third = loan(store)["id"]
    store.act(third, m.ANSWER_UNFILLED, "pku", reason="在架未找到")
    clock.advance(hours=2)
    with pytest.raises(RuleViolation, match="1 小时"):
        store.cancel(third, "r1")
    assert store.cancel(third, "thu", reason="读者来电取消")["status"] == m.CANCELLED


# ---- forwarding along the rota ------------------------------------------------------------------

def test_unfilled_answer_moves_to_the_next_lender(store, clock):
    rid = loan(store)["id"]
    clock.advance(hours=2)
    r = store.act(rid, m.ANSWER_UNFILLED, "pku", reason="已外借")
    assert (r["status"], r["lender"], r["rota_index"]) == (m.REQUEST_RECEIVED, "RUC", 1)
    # the new lender's deadlines run from when the request reached it
    assert r["answer_due"] > T0
    legs = store.legs(rid)
    assert [(leg["lender"], leg["outcome"], leg["note"]) for leg in legs] == [
        ("PKU", "unfilled", "已外借"), ("RUC", "open", "")]
    assert store.history(rid)[-1]["reason"] == "PKU 无法提供: 已外借"


def test_unanswered_request_moves_on_at_the_deadline(store, clock):
    rid = loan(store)["id"]
    # answer due at the end of 2025-10-09 (the holiday in between): nothing happens before it
    clock.now = T0 + timedelta(days=9, hours=13, minutes=59)  # 2025-10-09 23:59 Beijing
    assert store.tick() == []
    assert store.get(rid)["lender"] == "PKU"
    clock.advance(minutes=2)
    changes = store.tick()
    assert [(c["id"], c["action"], c["to"]) for c in changes] == [(rid, m.TIMEOUT, m.REQUEST_RECEIVED)]
    r = store.get(rid)
    assert r["lender"] == "RUC"
    assert store.legs(rid)[0]["outcome"] == "timeout"
    assert "PKU 未在 1 个工作日内答复" in store.history(rid)[-1]["reason"]
    assert store.tick() == []  # idempotent


def test_a_swapped_working_sunday_is_a_working_day_for_the_lender(store, clock):
    clock.now = T0 - timedelta(days=3)  # Saturday 2025-09-27 10:00 Beijing, a rest day
    rid = loan(store)["id"]
    assert bj_day(store.get(rid)["answer_due"]) == "2025-09-29 00:00"  # the end of working Sunday 09-28
    clock.now = T0 - timedelta(days=1, hours=10, minutes=1)  # Sunday 09-28 23:59 Beijing
    assert store.tick() == []
    clock.advance(minutes=2)  # Monday 09-29 00:01
    assert store.tick()[0]["lender"] == "RUC"


def test_will_supply_but_not_shipped_in_three_working_days_moves_on(store, clock):
    rid = loan(store)["id"]
    store.act(rid, m.WILL, "pku")
    clock.now = T0 + timedelta(days=11, hours=13, minutes=59)  # 2025-10-11 23:59: the working Saturday
    assert store.tick() == []
    clock.advance(minutes=2)
    assert store.tick()[0]["lender"] == "RUC"


def test_end_of_the_rota_is_unfilled_and_the_reader_is_told_why(store, clock):
    rid = loan(store, rota=("PKU", "RUC"))["id"]
    store.act(rid, m.ANSWER_UNFILLED, "pku", reason="已丢失")
    clock.advance(days=30)
    changes = store.tick()
    assert changes[0]["to"] == m.UNFILLED
    r = store.get(rid)
    assert r["status"] == m.UNFILLED and r["allowed"] == []
    assert "PKU: 已丢失" in r["reader_message"] and "RUC 未在 1 个工作日内答复" in r["reader_message"]
    assert store.open_loans("r1") == 0


def test_retry_possible_also_moves_on(store):
    rid = loan(store)["id"]
    r = store.act(rid, m.ANSWER_RETRY, "pku", reason="修补中")
    assert r["lender"] == "RUC"


# ---- loans out: overdue, recall, lost, damaged ----------------------------------------------------

def _lent(store, clock):
    rid = loan(store)["id"]
    for actor, action in (("pku", m.WILL), ("ruc", None)):
        if action:
            store.act(rid, action, actor)
    store.act(rid, m.SHIP, "pku")
    store.act(rid, m.RECEIVED, "thu")
    return rid, store.act(rid, m.LEND, "thu")


def test_overdue_by_the_clock_and_no_renewal(store, clock):
    rid, r = _lent(store, clock)
    clock.now = r["due_back"] - timedelta(seconds=1)
    assert store.tick() == []
    clock.now = r["due_back"] + timedelta(seconds=1)
    assert store.tick()[0]["to"] == m.OVERDUE
    assert "renew" not in store.get(rid)["allowed"]


def test_overdue_fine_by_the_lenders_rule_on_return(store, clock, db_url):
    rid, r = _lent(store, clock)
    store.tick(now=r["due_back"] + timedelta(days=1))
    clock.now = r["due_back"] + timedelta(days=3, hours=2)  # taken back 4 calendar days late
    store.act(rid, m.TAKE_BACK, "thu")
    store.act(rid, m.SHIPPED_RETURN, "thu")
    r = store.act(rid, m.CHECK_IN, "pku")
    assert r["status"] == m.LOAN_COMPLETED
    # PKU has no fine rule in this registry: the violation is kept, the fine is 0 and says why
    (v,) = store.violations(rid)
    assert (v["kind"], v["fine_fen"], v["lender"], v["borrower"]) == ("overdue", 0, "PKU", "THU")
    assert "4 day(s) late" in v["note"] and "no fine rule" in v["note"]


def test_recall_then_return(store, clock):
    rid, _ = _lent(store, clock)
    r = store.act(rid, m.RECALL, "pku", reason="本馆读者急需")
    assert (r["status"], r["phase"]) == (m.RECALLED, m.READER)
    store.act(rid, m.TAKE_BACK, "thu")
    store.act(rid, m.SHIPPED_RETURN, "thu")
    assert store.act(rid, m.CHECK_IN, "pku")["status"] == m.LOAN_COMPLETED
    assert store.violations(rid) == []


def test_lost_and_damaged_fined_by_the_lenders_rule(store, clock):
    # RUC's rule: lost = price x 2 (10 yuan flat when the price is unknown); damaged = 0.3 of lost
    lost = loan(store, rota=("RUC",), price=45.5)["id"]
    for actor, action in (("ruc", m.WILL), ("ruc", m.SHIP), ("thu", m.RECEIVED), ("thu", m.LEND)):
        store.act(lost, action, actor)
    r = store.act(lost, m.REPORT_LOST, "thu", reason="读者遗失")
    assert r["status"] == m.COMPLETED_WITHOUT_RETURN
    (v,) = store.violations(lost)
    assert (v["kind"], v["fine_fen"], v["note"]) == ("lost", 9100, "读者遗失")

    damaged = loan(store, rota=("RUC",))["id"]
    for actor, action in (("ruc", m.WILL), ("ruc", m.SHIP), ("thu", m.RECEIVED), ("thu", m.LEND),
                          ("thu", m.TAKE_BACK), ("thu", m.SHIPPED_RETURN)):
        store.act(damaged, action, actor)
    r = store.act(damaged, m.REPORT_DAMAGED, "ruc", reason="水渍")  # price unknown: 0.3 x 10 yuan
    assert (r["status"], r["phase"]) == (m.LOANED, m.RETURN_TRANSIT)
    r = store.act(damaged, m.REPORT_DAMAGED, "ruc", price=30, reason="又发现缺页")  # 0.3 x 60 yuan
    assert [v["fine_fen"] for v in store.violations(damaged)] == [300, 1800]
    assert store.get(damaged)["price"] == 30
    assert store.act(damaged, m.CHECK_IN, "ruc")["status"] == m.LOAN_COMPLETED


# ---- rollback -------------------------------------------------------------------------------------

def test_administrator_rolls_back_the_last_change_with_a_reason(store, clock):
    rid = loan(store, rota=("RUC",), price=20)["id"]
    for actor, action in (("ruc", m.WILL), ("ruc", m.SHIP), ("thu", m.RECEIVED)):
        store.act(rid, action, actor)
    before = store.get(rid)
    legs_before = store.legs(rid)
    clock.advance(hours=1)
    store.act(rid, m.REPORT_LOST, "thu", reason="误报")
    assert store.violations(rid)[0]["void"] is False
    with pytest.raises(NotAllowed, match="only centre administrators"):
        store.rollback(rid, "thu", "oops")
    with pytest.raises(InvalidRequest, match="reason"):
        store.rollback(rid, "admin", "  ")
    r = store.rollback(rid, "admin", "馆员误报丢失，书已在馆")
    for key in ("status", "phase", "lender", "completed_at", "received_at", "shipped_at", "rota_index"):
        assert r[key] == before[key], key
    assert store.legs(rid) == legs_before
    assert store.violations(rid)[0]["void"] is True
    last = store.history(rid)[-1]
    assert (last["action"], last["actor"], last["from_status"], last["to_status"]) == (
        m.ROLLBACK, "admin", m.COMPLETED_WITHOUT_RETURN, m.LOANED)
    assert "馆员误报丢失" in last["reason"]
    assert store.history(rid)[-2]["rolled_back_by"] == last["id"]
    # a second rollback undoes the change before (Received), not the rollback
    assert store.rollback(rid, "admin", "收货登记错误")["phase"] == m.TRANSIT


def test_rollback_of_a_forward_restores_the_earlier_lender(store):
    rid = loan(store)["id"]
    store.act(rid, m.ANSWER_UNFILLED, "pku", reason="误操作")
    r = store.rollback(rid, "admin", "PKU 误点了无法提供")
    assert (r["status"], r["lender"]) == (m.REQUEST_RECEIVED, "PKU")
    assert [leg["lender"] for leg in store.legs(rid)] == ["PKU"]
    assert store.legs(rid)[0]["outcome"] == "open"
    with pytest.raises(RuleViolation, match="nothing to roll back"):
        store.rollback(rid, "admin", "again")


# ---- manual citations -----------------------------------------------------------------------------

def test_manual_citation_waits_for_staff_to_route_it(store):
    r = store.submit("r1", title="", citation="王力. 古代汉语. 中华书局, 1999")
    assert (r["status"], r["source"], r["lender"]) == (m.PENDING, "manual", None)
    assert r["title"].startswith("王力")
    with pytest.raises(NotAllowed):
        store.act(r["id"], m.ROUTE, "pku", rota=["RUC"])
    with pytest.raises(InvalidRequest, match="rota"):
        store.act(r["id"], m.ROUTE, "thu")
    r = store.act(r["id"], m.ROUTE, "thu", rota=[Lender("RUC", "馆员判断")], work_id="w-77")
    assert (r["status"], r["lender"], r["work_id"]) == (m.REQUEST_RECEIVED, "RUC", "w-77")
    assert r["rota"][0]["reason"] == "馆员判断"


def test_submission_input_errors(store):
    with pytest.raises(InvalidRequest, match="kind"):
        store.submit("r1", kind="book", title="x", work_id="w", rota=["PKU"])
    with pytest.raises(InvalidRequest, match="no lender"):
        store.submit("r1", title="x", work_id="w", rota=[])
    with pytest.raises(InvalidRequest, match="own library THU"):
        store.submit("r1", title="x", work_id="w", rota=["PKU", "thu"])
    with pytest.raises(InvalidRequest, match="price -3"):
        store.submit("r1", title="x", work_id="w", rota=["PKU"], price=-3)
    with pytest.raises(NotAllowed, match="not a reader"):
        store.submit("pku", title="x", work_id="w", rota=["RUC"])
    assert store.list_requests() == []


# ---- readers' history (申请单查询) ------------------------------------------------------------------

def test_reader_history_by_title_status_and_date(store, clock):
    a = loan(store)["id"]
    clock.advance(days=20)
    b = store.submit("r1", kind="copy", title="计算机网络", work_id="w-3", rota=["RUC"])["id"]
    store.submit("r2", kind="copy", title="计算机网络", work_id="w-3", rota=["RUC"])
    assert [r["id"] for r in store.list_requests(reader="r1")] == [b, a]
    assert [r["id"] for r in store.list_requests(reader="r1", title="网络")] == [b]
    assert [r["id"] for r in store.list_requests(reader="r1", title="严蔚敏")] == [a]
    assert [r["id"] for r in store.list_requests(reader="r1", since=T0 + timedelta(days=1))] == [b]
    assert [r["id"] for r in store.list_requests(reader="r1", until=T0 + timedelta(days=1))] == [a]
    store.act(b, m.ANSWER_UNFILLED, "ruc", reason="在架未找到")
    assert [r["id"] for r in store.list_requests(reader="r1", status=m.UNFILLED)] == [b]
    # a library's queues
    assert len(store.list_requests(member="RUC", side="lender", open_only=True)) == 1
    assert len(store.list_requests(member="THU", side="borrower")) == 3


# ---- notifications --------------------------------------------------------------------------------

def test_notification_is_logged_and_changes_no_state(store):
    rid = loan(store)["id"]
    before = store.get(rid)
    with pytest.raises(InvalidRequest, match="message text"):
        store.act(rid, m.NOTIFY, "r1")
    for actor, text in (("r1", "请尽快"), ("pku", "正在查找"), ("thu", "读者已催")):
        r = store.act(rid, m.NOTIFY, actor, reason=text)
        assert (r["status"], r["phase"], r["lender"]) == (before["status"], before["phase"], before["lender"])
    hist = store.history(rid)[-3:]
    assert [(h["actor_role"], h["reason"]) for h in hist] == [("reader", "请尽快"), ("lender", "正在查找"),
                                                              ("borrower", "读者已催")]
    with pytest.raises(NotAllowed):
        store.act(rid, m.NOTIFY, "cupl", reason="not ours")


def test_a_book_recalled_on_its_way_goes_straight_back(store):
    rid = loan(store)["id"]
    store.act(rid, m.WILL, "pku")
    store.act(rid, m.SHIP, "pku")
    assert store.act(rid, m.RECALL, "pku")["phase"] == m.TRANSIT
    assert store.act(rid, m.RECEIVED, "thu")["status"] == m.RECALLED
    with pytest.raises(InvalidTransition):
        store.act(rid, m.LEND, "thu")  # a recalled book is not lent to the reader
    store.act(rid, m.SHIPPED_RETURN, "thu")
    assert store.act(rid, m.CHECK_IN, "pku")["status"] == m.LOAN_COMPLETED
