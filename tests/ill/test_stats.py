"""Statistics per member and month: each figure from one function, the same wherever it is read."""

from __future__ import annotations

from datetime import timedelta

from ill import machine as m
from ill import stats
from tests.ill.conftest import T0


def _traffic(store, clock):
    """September: THU sends 3 (one filled by PKU, one forwarded PKU->RUC and filled, one unfilled);
    PKU's reader sends 1 copy to RUC, filled. October (Beijing): one more from THU, still open."""
    clock.now = T0 - timedelta(days=10)  # 2025-09-20
    a = store.submit("r1", title="A", work_id="a", rota=["PKU"])["id"]
    b = store.submit("r1", title="B", work_id="b", rota=["PKU", "RUC"])["id"]
    c = store.submit("r2", title="C", work_id="c", rota=["CUPL"])["id"]
    d = store.submit("p1", kind="copy", title="D", work_id="d", rota=["RUC"])["id"]
    clock.advance(days=1)
    store.act(a, m.WILL, "pku")
    store.act(a, m.SHIP, "pku")  # 1 day after submission
    store.act(b, m.ANSWER_UNFILLED, "pku", reason="已外借")
    store.act(c, m.ANSWER_UNFILLED, "cupl", reason="在架未找到")
    clock.advance(days=2)
    store.act(b, m.WILL, "ruc")
    store.act(b, m.SHIP, "ruc")  # 3 days after submission
    store.act(d, m.EXPECT, "ruc")
    store.act(d, m.SHIP, "ruc")
    store.act(a, m.RECEIVED, "thu")
    store.act(a, m.SHIPPED_RETURN, "thu")  # a parcel back to PKU
    clock.now = T0 + timedelta(hours=17)  # 2025-10-01 03:00 Beijing (still 09-30 in UTC)
    store.submit("r2", title="E", work_id="e", rota=["PKU"])
    return a, b, c, d


def test_figures_per_member_and_month(store, clock):
    _traffic(store, clock)
    thu = stats.member_month(store, "THU", "2025-09")
    assert {k: thu[k] for k in ("requests_sent", "requests_received", "processed", "filled", "fill_rate",
                                "books_borrowed", "parcels", "violations", "fines_yuan")} == {
        "requests_sent": 3, "requests_received": 0, "processed": 3, "filled": 2, "fill_rate": round(2 / 3, 4),
        "books_borrowed": 2, "parcels": 1, "violations": 0, "fines_yuan": 0}
    assert thu["mean_days_to_complete"] == 2.0  # (1 + 3) / 2
    pku = stats.member_month(store, "PKU", "2025-09")
    assert (pku["requests_received"], pku["supplied"], pku["books_lent"], pku["parcels"]) == (2, 1, 1, 1)
    ruc = stats.member_month(store, "RUC", "2025-09")
    assert (ruc["requests_received"], ruc["supplied"], ruc["books_lent"]) == (2, 2, 1)  # one loan, one copy
    # months are Beijing months: the 10-01 03:00 submission is October's
    assert stats.member_month(store, "THU", "2025-10")["requests_sent"] == 1
    assert stats.active_months(store) == ["2025-09", "2025-10"]


def test_the_same_figure_wherever_it_is_read(store, clock):
    _traffic(store, clock)
    rows = stats.table(store, months=["2025-09"])
    total = next(r for r in rows if r["member"] == "ALL")
    members = [r for r in rows if r["member"] != "ALL"]
    for name in ("requests_sent", "requests_received", "filled", "books_lent", "books_borrowed", "parcels"):
        assert total[name] == sum(r[name] for r in members), name
        for r in members:
            assert stats.figure(store, name, r["member"], "2025-09") == r[name]
    assert total["books_lent"] == total["books_borrowed"] == 2
    csv_text = stats.to_csv(rows)
    assert csv_text.splitlines()[0] == "member,month," + ",".join(stats.FIGURES)
    assert len(csv_text.splitlines()) == len(rows) + 1


def test_lender_history_for_the_router(store, clock):
    _traffic(store, clock)
    h = stats.lender_history(store)
    assert h["PKU"] == {"requests": 3, "filled": 1, "supply_days_total": 1.0, "open": 1}
    assert h["RUC"]["requests"] == 2 and h["RUC"]["filled"] == 2 and h["RUC"]["open"] == 0
    assert h["RUC"]["supply_days_total"] == 5.0  # b reached RUC 2 days before it shipped, d 3 days
    assert h["CUPL"] == {"requests": 1, "filled": 0, "supply_days_total": 0.0, "open": 0}


def test_violations_and_fines_by_month_without_rolled_back_ones(store, clock):
    rid = store.submit("r1", title="F", work_id="f", rota=["RUC"], price=50)["id"]
    for actor, action in (("ruc", m.WILL), ("ruc", m.SHIP), ("thu", m.RECEIVED), ("thu", m.LEND)):
        store.act(rid, action, actor)
    store.act(rid, m.REPORT_LOST, "thu")
    assert stats.figure(store, "fines_yuan", "THU", "2025-09") == 100.0  # RUC: 2 x 50
    assert stats.figure(store, "violations", "THU", "2025-09") == 1
    store.rollback(rid, "admin", "找到了")
    assert stats.figure(store, "violations", "THU", "2025-09") == 0
    assert stats.figure(store, "fines_yuan", None, "2025-09") == 0
