"""Requests that make sense: a second request for one edition, how the reader gets the book, the need-before
date (routing, forwarding, the clock closing with a notice), and routing a citation to an edition that is not
the reader's; on SQLite and PostgreSQL (the `store` fixture)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from ill import Duplicate, InvalidRequest, RuleViolation, outbox
from ill import machine as m
from ill.rota import Lender
from members import load_registry

REGISTRY = '''
[[member]]
code = "THU"
name = "清华大学"
name_en = "Tsinghua University"
[[member.pickup]]
code = "main"
name = "逸夫馆 馆际互借处"
[[member.pickup]]
code = "north"
name = "北馆总服务台"
[[member.delivery]]
code = "department"
name = "送书到院系"
days = 2

[[member]]
code = "PKU"
name = "北京大学"
name_en = "Peking University"

[[member]]
code = "RUC"
name = "中国人民大学"
name_en = "Renmin University of China"

[[member]]
code = "CUPL"
name = "中国政法大学"
name_en = "China University of Political Science and Law"
'''


@pytest.fixture
def registered(store, tmp_path):
    """The test cast's store, knowing the members' pick-up points and delivery methods."""
    path = tmp_path / "members.toml"
    path.write_text(REGISTRY, encoding="utf-8")
    store.registry = load_registry(path)
    return store


def untouched(store, reader="r1"):
    return [(r["id"], r["status"], r["version"]) for r in store.list_requests(reader=reader)]


# ---- duplicates -------------------------------------------------------------------------------------

def test_an_open_request_for_the_same_edition_is_refused_naming_it(store):
    first = store.submit("r1", kind="loan", title="数据结构", work_id="W1", isbn="9787302023685", rota=["PKU"])
    before = untouched(store)
    with pytest.raises(Duplicate, match=f"申请单 {first['id']}.*/requests/{first['id']}") as err:
        store.submit("r1", kind="copy", title="数据结构", work_id="W1", rota=["RUC"])
    assert (err.value.request_id, err.value.confirmable, err.value.code) == (first["id"], False, "duplicate_open")
    # the same ISBN, written as an ISBN-10 with hyphens, from a manual citation: the same edition
    with pytest.raises(Duplicate):
        store.submit("r1", title="数据结构 (C语言版)", isbn="7-302-02368-9")
    with pytest.raises(Duplicate):  # confirming does not pass an open request
        store.submit("r1", work_id="W1", title="x", rota=["PKU"], confirm_duplicate=True)
    assert untouched(store) == before
    # another reader, or another edition, is not a duplicate
    assert store.submit("r2", title="数据结构", work_id="W1", rota=["PKU"])["status"] == m.REQUEST_RECEIVED
    assert store.submit("r1", title="数据结构 第二版", work_id="W2", rota=["PKU"])["isbn"] == ""


def test_a_request_closed_in_the_last_30_days_asks_for_confirmation(store, clock):
    first = store.submit("r1", title="红楼梦", isbn="978-7-02-000220-7")
    store.cancel(first["id"], "r1")
    clock.advance(days=29)
    with pytest.raises(Duplicate, match="30 天内.*确认") as err:
        store.submit("r1", title="红楼梦", isbn="9787020002207")
    assert (err.value.request_id, err.value.confirmable, err.value.code) == (first["id"], True, "duplicate_recent")
    again = store.submit("r1", title="红楼梦", isbn="9787020002207", confirm_duplicate=True)
    assert again["isbn"] == "9787020002207" and again["status"] == m.PENDING
    assert [r["id"] for r in store.possible_duplicates(again["id"])] == [first["id"]]
    assert [r["id"] for r in store.possible_duplicates(first["id"])] == [again["id"]]


def test_a_request_closed_more_than_30_days_ago_is_no_duplicate(store, clock):
    first = store.submit("r1", title="红楼梦", work_id="W9", rota=["PKU"])
    store.act(first["id"], m.ANSWER_UNFILLED, "pku", reason="在架未找到")
    clock.advance(days=31)
    assert store.submit("r1", title="红楼梦", work_id="W9", rota=["RUC"])["status"] == m.REQUEST_RECEIVED


def test_a_bad_isbn_is_a_clear_error(store):
    with pytest.raises(InvalidRequest, match="not a valid ISBN"):
        store.submit("r1", title="x", isbn="978-7-02-000220-8")


# ---- delivery ---------------------------------------------------------------------------------------

def test_delivery_and_pickup_are_checked_against_the_readers_library(registered):
    s = registered
    r = s.submit("r1", title="书一", work_id="W1", rota=["PKU"])
    assert (r["delivery"], r["pickup"]) == ("desk", "main")  # the library's first pick-up point
    assert s.submit("r1", title="书二", work_id="W2", rota=["PKU"], pickup="north")["pickup"] == "north"
    r = s.submit("r1", kind="copy", title="书三", work_id="W3", rota=["PKU"], delivery="department")
    assert (r["delivery"], r["pickup"]) == ("department", "")
    with pytest.raises(InvalidRequest, match="没有取书点 'gate'.*main（逸夫馆 馆际互借处）.*north"):
        s.submit("r1", kind="copy", title="书四", work_id="W4", rota=["PKU"], pickup="gate")
    with pytest.raises(InvalidRequest, match="不提供送书方式 'post'.*department（送书到院系）"):
        s.submit("r1", kind="copy", title="书四", work_id="W4", rota=["PKU"], delivery="post")
    # PKU offers nothing but its ILL desk
    assert s.submit("p1", title="书", work_id="W5", rota=["RUC"])["pickup"] == "desk"


# ---- need-before ------------------------------------------------------------------------------------

def test_the_need_before_date_is_checked(store, clock):
    today = date(2025, 9, 30)  # T0 in Beijing
    for bad, why in (("2025-09-29", "已过"), ("2025-02-30", "有效日期"), ("30/10/2025", "YYYY-MM-DD"),
                     (today + timedelta(days=400), "一年以后")):
        with pytest.raises(InvalidRequest, match=why):
            store.submit("r1", title="x", work_id="W1", rota=["PKU"], need_before=bad)
    assert store.list_requests(reader="r1") == []
    r = store.submit("r1", title="x", work_id="W1", rota=["PKU"], need_before="2025-09-30")
    assert r["need_before"] == today


def test_lenders_that_cannot_meet_the_date_go_last(store):
    # National Day: 10-01..08 are holidays. RUC ships in about 1 day, PKU in about 12; the reader needs it by
    # 10-12, so PKU (expected about 10-13) goes last, saying why
    rota = [Lender("PKU", "在架", days=12.0), Lender("RUC", "在架", days=1.0)]
    r = store.submit("r1", title="x", work_id="W1", rota=rota, need_before="2025-10-12")
    assert [e["member"] for e in r["rota"]] == ["RUC", "PKU"] and r["lender"] == "RUC"
    assert "晚于读者的需要日期 2025-10-12" in r["rota"][1]["reason"] and "在架" in r["rota"][1]["reason"]
    # without a date the routing order stands
    r = store.submit("r1", title="x", work_id="W2", rota=rota)
    assert [e["member"] for e in r["rota"]] == ["PKU", "RUC"]


def test_forwarding_skips_lenders_that_cannot_meet_the_date(store):
    rota = [Lender("PKU", days=0.5), Lender("RUC", days=2.0), Lender("CUPL", days=0.5)]
    rid = store.submit("r1", title="x", work_id="W1", rota=rota, need_before="2025-10-10")["id"]
    # the order fits at first (each expected by 10-09 with the courier); after PKU answers late on 10-08, RUC
    # would arrive on 10-11 (a swapped working Saturday), too late
    store.act(rid, m.ANSWER_UNFILLED, "pku", reason="在架未找到", now=store.clock() + timedelta(days=8, hours=12))
    r = store.get(rid)
    assert r["lender"] == "CUPL" and [leg["lender"] for leg in store.legs(rid)] == ["PKU", "CUPL"]
    assert "跳过" in store.history(rid)[-1]["reason"] and "RUC" in store.history(rid)[-1]["reason"]


def test_forwarding_closes_when_no_lender_left_can_meet_the_date(store, clock):
    rota = [Lender("PKU", days=0.5), Lender("RUC", days=5.0)]
    rid = store.submit("r1", title="x", work_id="W1", rota=rota, need_before="2025-10-10")["id"]
    clock.advance(days=9)
    r = store.act(rid, m.ANSWER_UNFILLED, "pku", reason="在架未找到")
    assert r["status"] == m.UNFILLED and "无法在需要日期前送达" in r["reader_message"]
    assert [leg["lender"] for leg in store.legs(rid)] == ["PKU"]


def test_the_clock_closes_a_request_past_its_need_before_date_with_a_notice(store, clock):
    waiting = store.submit("r1", title="等待中的书", work_id="W1", rota=["PKU", "RUC"], need_before="2025-10-02")["id"]
    shipped = store.submit("r1", title="已寄出的书", work_id="W2", rota=["RUC"], need_before="2025-10-02")["id"]
    store.act(shipped, m.WILL, "ruc")
    store.act(shipped, m.SHIP, "ruc")
    clock.advance(days=2)  # 10-02 in Beijing: the last day it is needed; nothing happens yet
    assert [c["action"] for c in store.tick()] == []
    clock.advance(days=1)
    changes = store.tick()
    assert [(c["id"], c["action"], c["to"]) for c in changes] == [(waiting, m.NEED_BEFORE, m.UNFILLED)]
    r = store.get(waiting)
    assert r["status"] == m.UNFILLED and "已过读者的需要日期 2025-10-02" in r["reader_message"]
    assert store.legs(waiting)[0]["outcome"] == "cancelled"
    assert store.history(waiting)[-1]["actor"] == "system"
    notes = [n for n in outbox.outbox(store, user="r1", request_id=waiting)]
    assert [n["kind"] for n in notes][:1] == ["need_before"]
    assert "2025-10-02" in notes[0]["body"] and "unfilled" not in [n["kind"] for n in notes]
    assert store.get(shipped)["status"] == m.LOANED  # on its way: the date no longer closes it
    assert store.tick() == []  # once


def test_a_rollback_restores_the_need_before_date(store, clock):
    rid = store.submit("r1", title="x", work_id="W1", rota=["PKU"], need_before="2025-10-09")["id"]
    store.act(rid, m.WILL, "pku")
    assert store.rollback(rid, "admin", "误操作")["need_before"] == date(2025, 10, 9)


# ---- routing a manual citation to an edition ---------------------------------------------------------

def test_routing_to_an_edition_that_is_not_the_readers_asks_for_confirmation(store):
    rid = store.submit("r1", title="红楼梦", isbn="9787020002207")["id"]
    before = untouched(store)
    with pytest.raises(RuleViolation, match="ISBN 不符") as err:
        store.act(rid, m.ROUTE, "thu", rota=["PKU"], work_id="W7",
                  edition={"title": "红楼梦", "isbns": ["9787532542007"], "year": "2005"})
    assert err.value.code == "edition_mismatch" and untouched(store) == before
    with pytest.raises(RuleViolation, match="题名不符"):
        store.act(rid, m.ROUTE, "thu", rota=["PKU"], work_id="W8", edition={"title": "三国演义", "isbns": []})
    r = store.act(rid, m.ROUTE, "thu", rota=["PKU"], work_id="W7", confirm_edition=True,
                  edition={"title": "红楼梦", "isbns": ["9787532542007"], "year": "2005"})
    assert (r["status"], r["work_id"], r["isbn"], r["year"]) == (m.REQUEST_RECEIVED, "W7", "9787020002207", "2005")
    other = store.submit("r2", title="红楼梦（上）")["id"]  # the title as the catalogue writes it: no question
    r = store.act(other, m.ROUTE, "thu", rota=["PKU"], work_id="W7",
                  edition={"title": "红楼梦", "isbns": ["9787532542007"], "year": "2005"})
    assert (r["isbn"], r["year"]) == ("9787532542007", "2005")


def test_the_ready_notice_names_the_readers_pick_up_point_or_delivery_method(registered):
    s = registered
    north = s.submit("r1", title="书北", work_id="W61", rota=["PKU"], pickup="north")["id"]
    sent = s.submit("r1", kind="loan", title="书送", work_id="W62", rota=["PKU"], delivery="department")["id"]
    for rid in (north, sent):
        for actor, action in (("pku", m.WILL), ("pku", m.SHIP), ("thu", m.RECEIVED)):
            s.act(rid, action, actor)
    ready = {n["request_id"]: n["body"] for n in outbox.outbox(s, user="r1") if n["kind"] == "ready"}
    assert "请到北馆总服务台取书" in ready[north] and "collect it at 北馆总服务台" in ready[north]
    assert "按您选择的方式（送书到院系）送达" in ready[sent] and "it will reach you by 送书到院系" in ready[sent]
