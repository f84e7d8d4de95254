"""The money of document delivery (原文传递) sums up: a month's settlement per pair of libraries (who owes whom,
after the centre's subsidy), the document-delivery statistics per member and month (requests, filled, fill rate,
mean completion days, pages, fees, subsidy) agree with it, the CSV says the same in yuan, and a reader's account
lists what they paid. Real stores (SQLite file, PostgreSQL), the shipped registry's prices."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import pytest

from ill import Store
from ill import machine as m
from ill.settlement import reader_account, settlement, settlement_csv
from ill.stats import dd_csv, dd_month, dd_table
from members import load_registry

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "config" / "members.toml")


def cited(pages: str) -> dict:
    return {"kind": "article", "journal": "图书情报工作", "issn": "0252-3116", "year": 2003, "pages": pages}


@pytest.fixture
def dd(db_url, clock, tmp_path):
    s = Store(db_url, clock=clock, registry=REGISTRY, copies=tmp_path / "copies")
    for uid, role, member in (("t1", "reader", "THU"), ("p1", "reader", "PKU"), ("thu", "staff", "THU"),
                              ("pku", "staff", "PKU"), ("ruc", "staff", "RUC")):
        s.add_user(uid, role, member, now=clock.now)
    yield s
    s.close()


def posted(store, clock, reader, supplier, staff, pages, *, days=1.0):
    """A copy asked for now and sent by `supplier` `days` later through the reader's library (no scan upload)."""
    rid = store.submit(reader, kind="copy", title="论文", rota=[supplier], citation_data=cited(pages))["id"]
    store.act(rid, m.WILL, staff)
    clock.advance(days=days)
    store.act(rid, m.SHIP, staff)
    return rid


def test_the_months_settlement_nets_each_pair_after_subsidies(dd, clock):
    # 2025-09-30 (Beijing): THU readers get 10 pages from PKU and 30 from RUC, a PKU reader 4 pages from THU
    posted(dd, clock, "t1", "PKU", "pku", "1-10", days=0.01)   # PKU 1.00 + 10 x 0.30 = 4.00; subsidy 3.00
    posted(dd, clock, "t1", "RUC", "ruc", "1-30", days=0.01)   # RUC 2.00 + 30 x 0.25 = 9.50; subsidy 3.00
    posted(dd, clock, "p1", "THU", "thu", "5-8", days=0.01)    # THU 1.00 + 4 x 0.30 = 2.20; subsidy 2.20
    report = settlement(dd, "2025-09")
    assert [(p["borrower"], p["supplier"], p["copies"], p["pages"], p["fee_fen"], p["subsidy_fen"], p["owed_fen"])
            for p in report["pairs"]] == [("PKU", "THU", 1, 4, 220, 220, 0), ("THU", "PKU", 1, 10, 400, 300, 100),
                                          ("THU", "RUC", 1, 30, 950, 300, 650)]
    assert report["net"] == [{"month": "2025-09", "payer": "THU", "payee": "PKU", "amount_fen": 100},
                             {"month": "2025-09", "payer": "THU", "payee": "RUC", "amount_fen": 650}]
    assert report["centre"] == [{"month": "2025-09", "supplier": "PKU", "subsidy_fen": 300},
                                {"month": "2025-09", "supplier": "RUC", "subsidy_fen": 300},
                                {"month": "2025-09", "supplier": "THU", "subsidy_fen": 220}]
    assert report["totals"] == {"copies": 3, "pages": 44, "fee_fen": 1570, "subsidy_fen": 820, "owed_fen": 750}
    rows = list(csv.reader(io.StringIO(settlement_csv(report))))
    assert rows[0][0] == "row" and ["net", "2025-09", "THU", "RUC", "", "", "", "", "6.50"] in rows
    assert rows[-1] == ["total", "2025-09", "", "", "3", "44", "15.70", "8.20", "7.50"]
    assert settlement(dd, "2025-10")["pairs"] == []  # delivered in September


def test_the_statistics_agree_with_the_settlement(dd, clock):
    lost = dd.submit("t1", kind="copy", title="未满足", rota=["RUC"], citation_data=cited("1-3"))
    dd.act(lost["id"], m.ANSWER_UNFILLED, "ruc", reason="缺期")
    posted(dd, clock, "t1", "PKU", "pku", "1-10", days=0.5)
    posted(dd, clock, "t1", "PKU", "pku", "11-12", days=1.5)
    thu = dd_month(dd, "THU", "2025-09")
    assert (thu["requests"], thu["filled"], thu["unfilled"], thu["fill_rate"], thu["mean_days"]) == (3, 2, 1, 0.6667,
                                                                                                     1.0)
    # pages and money by the month of delivery: the second copy was delivered on 2025-10-02
    assert (thu["pages"], thu["fee_fen"], thu["subsidy_fen"]) == (10, 400, 300)
    oct_ = dd_month(dd, "THU", "2025-10")
    assert (oct_["requests"], oct_["pages"], oct_["fee_fen"]) == (0, 2, 160)
    pku = dd_month(dd, "PKU", "2025-09")
    assert (pku["requests"], pku["supplied"], pku["supplied_pages"], pku["earned_fen"]) == (0, 1, 10, 400)
    for month in ("2025-09", "2025-10"):
        whole = dd_month(dd, None, month)
        s = settlement(dd, month)["totals"]
        assert (whole["pages"], whole["fee_fen"], whole["subsidy_fen"]) == (s["pages"], s["fee_fen"], s["subsidy_fen"])
    rows = list(csv.DictReader(io.StringIO(dd_csv(dd_table(dd, ["2025-09"])))))
    assert [r["member"] for r in rows] == ["PKU", "RUC", "THU", "ALL"]
    assert rows[2]["fill_rate"] == "0.6667" and rows[2]["mean_days"] == "1.0"


def test_a_readers_account_lists_what_they_paid(dd, clock):
    posted(dd, clock, "t1", "RUC", "ruc", "1-30", days=0.01)
    clock.advance(days=100)  # 2026
    posted(dd, clock, "t1", "PKU", "pku", "1-10", days=timedelta(hours=1).total_seconds() / 86400)
    account = reader_account(dd, "t1")
    assert [(i["supplier"], i["fee_fen"], i["subsidy_fen"], i["reader_fen"]) for i in account["items"]] == [
        ("PKU", 400, 300, 100), ("RUC", 950, 300, 650)]
    assert [(y["year"], y["copies"], y["reader_fen"]) for y in account["years"]] == [(2026, 1, 100), (2025, 1, 650)]
    assert reader_account(dd, "p1") == {"reader": "p1", "items": [], "years": []}
