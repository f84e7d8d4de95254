"""Money and figures of document delivery (原文传递) per month: the settlement between libraries, the statistics
per member, and a reader's account of what they paid (docs/document-delivery.md, docs/statistics.md).

A delivered copy carries, in fen, the supplier's price (`fee_fen`), the centre's subsidy (`subsidy_fen`) and
the reader's share (`reader_fen` = price - subsidy), fixed when it was delivered (ill/copyrules.py). The
borrowing library collects the reader's share and owes it to the supplier; the centre pays the subsidy to the
supplier. A month's settlement counts the copies delivered in that month (Beijing time), pair by pair, and nets
each pair: who owes whom, after subsidies. The statistics use one rule per figure, as ill/stats.py does:
requests, filled, fill rate and mean completion days by the month the request was submitted; pages, fees and
subsidy by the month the copy was delivered, so they add up to the settlement of that month.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC

from sqlalchemy import and_, func, select

from ill import machine as m
from ill.accounts import yuan
from ill.schema import requests
from ill.stats import Bounds, month_bounds
from ill.store import Store
from ill.workdays import local_date


def _delivered(bounds: Bounds):
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
         .where(_delivered(bounds)).group_by(requests.c.borrower, requests.c.lender)
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


# ---- statistics per member and month --------------------------------------------------------------------

FIGURES = ("requests", "filled", "unfilled", "fill_rate", "mean_days", "pages", "fee_fen", "subsidy_fen",
           "supplied", "supplied_pages", "earned_fen")
LABELS = {"requests": "原文传递申请", "filled": "满足", "unfilled": "未满足", "fill_rate": "满足率",
          "mean_days": "平均完成天数", "pages": "页数", "fee_fen": "费用(分)", "subsidy_fen": "补贴(分)",
          "supplied": "提供", "supplied_pages": "提供页数", "earned_fen": "供应收入(分)"}


def dd_month(store: Store, member: str | None, month: str) -> dict:
    """Document delivery figures of `member` (None: the consortium) in `month`.

    As a borrowing library: requests its readers submitted, of those filled and unfilled, the fill rate (filled /
    (filled + unfilled), as the centre counts it), the mean calendar days from submission to delivery (the centre's
    headline figure); pages, price and subsidy of copies delivered to its readers in the month. As a supplier:
    copies it delivered in the month, their pages and their price."""
    bounds = month_bounds(month)
    mine = requests.c.borrower == member if member else requests.c.borrower.is_not(None)
    submitted = and_(requests.c.kind == m.COPY, mine, requests.c.submitted_at >= bounds[0],
                     requests.c.submitted_at < bounds[1])
    with store.read() as conn:
        rows = conn.execute(select(requests.c.status, requests.c.submitted_at, requests.c.shipped_at)
                            .where(submitted)).all()
        got = conn.execute(select(func.coalesce(func.sum(requests.c.pages), 0), func.coalesce(func.sum(
            requests.c.fee_fen), 0), func.coalesce(func.sum(requests.c.subsidy_fen), 0))
            .where(_delivered(bounds), mine)).one()
        theirs = requests.c.lender == member if member else requests.c.lender.is_not(None)
        gave = conn.execute(select(func.count(), func.coalesce(func.sum(requests.c.pages), 0),
                                   func.coalesce(func.sum(requests.c.fee_fen), 0))
                            .where(_delivered(bounds), theirs)).one()
    filled = [r for r in rows if r.shipped_at is not None]
    unfilled = sum(1 for r in rows if r.status == m.UNFILLED)
    days = [(r.shipped_at - r.submitted_at).total_seconds() / 86400 for r in filled]
    return {"member": member or "ALL", "month": month, "requests": len(rows), "filled": len(filled),
            "unfilled": unfilled,
            "fill_rate": round(len(filled) / (len(filled) + unfilled), 4) if filled or unfilled else None,
            "mean_days": round(sum(days) / len(days), 2) if days else None,
            "pages": int(got[0]), "fee_fen": int(got[1]), "subsidy_fen": int(got[2]),
            "supplied": int(gave[0]), "supplied_pages": int(gave[1]), "earned_fen": int(gave[2])}


def dd_members(store: Store) -> list[str]:
    """Members with any copy request, as borrowing library or supplier."""
    with store.read() as conn:
        codes = {r[0] for r in conn.execute(select(requests.c.borrower).where(requests.c.kind == m.COPY))}
        codes |= {r[0] for r in conn.execute(select(requests.c.lender).where(requests.c.kind == m.COPY,
                                                                             requests.c.lender.is_not(None)))}
    return sorted(codes)


def dd_table(store: Store, months: Iterable[str], members: Iterable[str] | None = None) -> list[dict]:
    """Rows per member and month, and the consortium's row per month."""
    codes = list(members) if members else dd_members(store)
    out = []
    for month in months:
        out.extend(dd_month(store, code, month) for code in codes)
        out.append(dd_month(store, None, month))
    return out


def dd_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=["member", "month", *FIGURES], lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: "" if v is None else v for k, v in row.items()})
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
