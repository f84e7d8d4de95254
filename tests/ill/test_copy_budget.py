"""The centre's yearly subsidy budget under concurrency: many copies for one borrowing member delivered at the same
moment, against a budget that covers only some of them, on SQLite and PostgreSQL. The subsidies granted add up to
the budget and never more; each delivery gets its subsidy, the last of it, or is told the budget is spent."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from ill import Store
from ill import machine as m
from ill.settlement import settlement
from members import load_registry

REGISTRY = load_registry(Path(__file__).resolve().parents[2] / "config" / "members.toml")
# 10.00 yuan a year; a 10-page copy from PKU costs 1.00 + 10 x 0.30 = 4.00, of which the centre pays 3.00
BUDGET = replace(REGISTRY, copy=replace(REGISTRY.copy, subsidy_per_request=3.0, subsidy_budget=10.0))
N = 16


@pytest.fixture
def dd(db_url, clock, tmp_path):
    s = Store(db_url, clock=clock, registry=BUDGET, copies=tmp_path / "copies")
    for uid, role, member in (("r1", "reader", "THU"), ("r2", "reader", "THU"), ("pku", "staff", "PKU")):
        s.add_user(uid, role, member, now=clock.now)
    yield s
    s.close()


def _ship(store: Store, rid: int, results: dict, barrier: threading.Barrier) -> None:
    barrier.wait()
    results[rid] = store.act(rid, m.SHIP, "pku")


def test_simultaneous_deliveries_never_spend_more_than_the_budget(dd):
    ids = []
    for i in range(N):  # two readers of THU, each copy a different article, all promised by PKU
        citation = {"kind": "article", "journal": "图书情报工作", "issn": "0252-3116", "year": 2003,
                    "pages": "1-10", "article": f"第 {i} 篇"}
        rid = dd.submit(f"r{1 + i % 2}", kind="copy", title=f"第 {i} 篇", rota=["PKU"], citation_data=citation,
                        copy_method="post")["id"]
        dd.act(rid, m.WILL, "pku")
        ids.append(rid)
    results: dict = {}
    barrier = threading.Barrier(N)
    threads = [threading.Thread(target=_ship, args=(dd, rid, results, barrier)) for rid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == ids and all(r["status"] == m.COPY_COMPLETED for r in results.values())
    granted = sorted((r["subsidy_fen"] for r in results.values()), reverse=True)
    assert granted == [300, 300, 300, 100] + [0] * (N - 4)  # 10.00 = 3 x 3.00 + the last 1.00
    for r in results.values():
        assert r["fee_fen"] == 400 and r["reader_fen"] == 400 - r["subsidy_fen"]
        if r["subsidy_fen"] == 0:
            assert "补贴预算已用完" in r["reader_message"] and "spent" in r["reader_message"]
        elif r["subsidy_fen"] == 100:
            assert "仅余 ¥1.00" in r["reader_message"]
        else:
            assert r["reader_message"] == "文献已传递 (the copy was delivered)"
    assert settlement(dd, "2025-09")["totals"]["subsidy_fen"] == 1000
    assert dd.quote_copy("THU", "PKU", 10).subsidy_fen == 0  # what the next reader is shown
