"""Money and figures of document delivery (原文传递) per month: the settlement between libraries, the statistics
per member, and a reader's account of what they paid (docs/document-delivery.md, docs/statistics.md).

A delivered copy carries, in fen, the supplier's price (`fee_fen`), the centre's subsidy (`subsidy_fen`) and
the reader's share (`reader_fen` = price - subsidy), fixed when it was delivered (ill/copyrules.py). The
borrowing library collects the reader's share and owes it to the supplier; the centre pays the subsidy to the
supplier. A month's settlement counts the copies delivered in that month (Beijing time), pair by pair, and nets
each pair: who owes whom, after subsidies. The statistics use one rule per figure, as ill/stats.py does:
requests, filled, fill rate and mean completion days by the month the request was submitted; pages, fees and
subsidy by the month the copy was delivered, so they add up to the settlement of that month (the figures are
ill/stats.py's `dd_month`).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC

from sqlalchemy import and_, func, select

from ill import machine as m
from ill.accounts import yuan
from ill.schema import requests
from ill.stats import Bounds, month_bounds
from ill.store import Store
from ill.workdays import local_date


def delivered(bounds: Bounds):
    return and_(requests.c.kind == m.COPY, requests.c.status == m.COPY_COMPLETED, requests.c.fee_fen.is_not(None),
                requests.c.completed_at >= bounds[0], requests.c.completed_at < bounds[1])


def settlement(store: Store, month: str) -> dict:
    """The month's settlement: `pairs` (borrowing library -> supplier: copies, pages, price, subsidy and what the
    borrower owes), `net` (each pair of libraries netted: payer, payee, amount), `centre` (the subsidy the centre
    pays each supplier) and the month's `totals`; amounts in fen."""
    bounds = month_bounds(month)
    q = (select(requests.c.borrower, requests.c.lender, func.count().label("copies"),
                func.coalesce(func.sum(requests.c.pages), 0).label("pages"),
                func.sum(requests.c.fee_fen).label("fee"), func.sum(requests.c.subsidy_fen).label("subsidy"),
                func.sum(requests.c.reader_fen).label("owed"))
         .where(delivered(bounds)).group_by(requests.c.borrower, requests.c.lender)
         .order_by(requests.c.borrower, requests.c.lender))
    with store.read() as conn:
        rows = conn.execute(q).all()
    pairs = [{"month": month, "borrower": r.borrower, "supplier": r.lender, "copies": int(r.copies),
              "pages": int(r.pages), "fee_fen": int(r.fee), "subsidy_fen": int(r.subsidy), "owed_fen": int(r.owed)}
             for r in rows]
    owed: dict[tuple[str, str], int] = defaultdict(int)
    for p in pairs:
        owed[(p["borrower"], p["supplier"])] += p["owed_fen"]
    net = []
    for a, b in sorted({tuple(sorted(k)) for k in owed}):
        amount = owed.get((a, b), 0) - owed.get((b, a), 0)
        if amount:
            payer, payee = (a, b) if amount > 0 else (b, a)
            net.append({"month": month, "payer": payer, "payee": payee, "amount_fen": abs(amount)})
    centre: dict[str, int] = defaultdict(int)
    for p in pairs:
        centre[p["supplier"]] += p["subsidy_fen"]
    totals = {k: sum(p[k] for p in pairs) for k in ("copies", "pages", "fee_fen", "subsidy_fen", "owed_fen")}
    return {"month": month, "pairs": pairs, "net": net,
            "centre": [{"month": month, "supplier": s, "subsidy_fen": v} for s, v in sorted(centre.items()) if v],
            "totals": totals}


def settlement_csv(report: dict) -> str:
    """The settlement as CSV in yuan (two decimals): one row per pair and direction, then the netted rows and
    the centre's subsidies, each row saying what it is in its first column."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["row", "month", "from", "to", "copies", "pages", "price_yuan", "subsidy_yuan", "amount_yuan"])
    for p in report["pairs"]:
        w.writerow(["owed", p["month"], p["borrower"], p["supplier"], p["copies"], p["pages"], yuan(p["fee_fen"]),
                    yuan(p["subsidy_fen"]), yuan(p["owed_fen"])])
    for n in report["net"]:
        w.writerow(["net", n["month"], n["payer"], n["payee"], "", "", "", "", yuan(n["amount_fen"])])
    for c in report["centre"]:
        w.writerow(["subsidy", c["month"], "CENTRE", c["supplier"], "", "", "", yuan(c["subsidy_fen"]),
                    yuan(c["subsidy_fen"])])
    t = report["totals"]
    w.writerow(["total", report["month"], "", "", t["copies"], t["pages"], yuan(t["fee_fen"]), yuan(t["subsidy_fen"]),
                yuan(t["owed_fen"])])
    return out.getvalue()


# ---- a reader's account --------------------------------------------------------------------------------

def reader_account(store: Store, reader_id: str) -> dict:
    """What a reader paid for copies: each delivered copy with its price, subsidy and share, newest first, and the
    totals per calendar year (Beijing); amounts in fen."""
    with store.read() as conn:
        rows = conn.execute(select(requests.c.id, requests.c.title, requests.c.lender, requests.c.pages,
                                   requests.c.fee_fen, requests.c.subsidy_fen, requests.c.reader_fen,
                                   requests.c.completed_at)
                            .where(requests.c.reader_id == reader_id, requests.c.kind == m.COPY,
                                   requests.c.fee_fen.is_not(None))
                            .order_by(requests.c.completed_at.desc(), requests.c.id.desc())).all()
    items, years = [], defaultdict(lambda: {"copies": 0, "fee_fen": 0, "subsidy_fen": 0, "reader_fen": 0})
    for r in rows:
        day = local_date(r.completed_at.replace(tzinfo=UTC))
        items.append({"id": r.id, "title": r.title, "supplier": r.lender, "pages": r.pages, "fee_fen": r.fee_fen,
                      "subsidy_fen": r.subsidy_fen, "reader_fen": r.reader_fen, "date": day.isoformat()})
        y = years[day.year]
        y["copies"] += 1
        for k in ("fee_fen", "subsidy_fen", "reader_fen"):
            y[k] += getattr(r, k)
    return {"reader": reader_id, "items": items,
            "years": [{"year": year, **v} for year, v in sorted(years.items(), reverse=True)]}
