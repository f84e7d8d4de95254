"""Statistics per member and month, one function per figure, so a figure is the same wherever it is read.

Months are calendar months in Beijing time. `member=None` means the whole consortium. Each figure is
dated by its own event: a request by its submission, a shipment by its shipping, a violation by its report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import and_, func, select, true, union
from sqlalchemy.engine import Connection

from ill import machine as m
from ill.schema import audit, legs, requests, violations
from ill.store import Store
from ill.workdays import BEIJING

Bounds = tuple[datetime, datetime]  # naive UTC [start, end), as stored
DEMO_ACTOR = "demo-data"  # who imports the demo test bed's generated history (testbed/ill_history.py)
DEMO_NOTE = "演示数据 demo data"


def month_bounds(month: str) -> Bounds:
    """'2025-10' -> the month's start and end in stored (naive UTC) time."""
    try:
        year, mon = (int(x) for x in month.split("-"))
        start = date(year, mon, 1)
    except ValueError:
        raise ValueError(f"month {month!r}: write it as YYYY-MM, e.g. 2025-10") from None
    end = date(year + 1, 1, 1) if mon == 12 else date(year, mon + 1, 1)

    def utc(d: date) -> datetime:
        return datetime.combine(d, time(0), BEIJING).astimezone(UTC).replace(tzinfo=None)

    return utc(start), utc(end)


def _in(col, bounds: Bounds):
    return and_(col >= bounds[0], col < bounds[1])


def _member(col, member: str | None):
    return true() if member is None else col == member


def _count(conn: Connection, table, *where) -> int:
    return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


# ---- the figures ------------------------------------------------------------------------------------

def requests_sent(conn: Connection, member: str | None, bounds: Bounds) -> int:
    """Requests the member's readers submitted in the month."""
    return _count(conn, requests, _member(requests.c.borrower, member), _in(requests.c.submitted_at, bounds))


def requests_received(conn: Connection, member: str | None, bounds: Bounds) -> int:
    """Requests that reached the member as a lender in the month (a forwarded request counts at each lender)."""
    return _count(conn, legs, _member(legs.c.lender, member), _in(legs.c.arrived_at, bounds))


def processed(conn: Connection, member: str | None, bounds: Bounds) -> int:
    """Of the requests sent in the month, those with an outcome: supplied, or unfilled at the rota's end."""
    return _count(conn, requests, _member(requests.c.borrower, member), _in(requests.c.submitted_at, bounds),
                  (requests.c.shipped_at.is_not(None)) | (requests.c.status == m.UNFILLED))


def filled(conn: Connection, member: str | None, bounds: Bounds) -> int:
    """Of the requests sent in the month, those a lender supplied (book shipped or copy delivered)."""
    return _count(conn, requests, _member(requests.c.borrower, member), _in(requests.c.submitted_at, bounds),
                  requests.c.shipped_at.is_not(None))


def fill_rate(conn: Connection, member: str | None, bounds: Bounds) -> float | None:
    """filled / processed (the consortium's own definition: 2009, 2,221 of 3,836 = 57.9%); None if none."""
    done = processed(conn, member, bounds)
    return None if done == 0 else round(filled(conn, member, bounds) / done, 4)


def supplied(conn: Connection, member: str | None, bounds: Bounds) -> int:
    """Requests the member supplied as a lender, by shipping date."""
    return _count(conn, legs, _member(legs.c.lender, member), legs.c.outcome == "supplied",
                  _in(legs.c.shipped_at, bounds))


def mean_days_to_complete(conn: Connection, member: str | None, bounds: Bounds) -> float | None:
    """Mean calendar days from submission to supply, over the requests sent in the month that were filled."""
    rows = conn.execute(select(requests.c.submitted_at, requests.c.shipped_at).where(
        _member(requests.c.borrower, member), _in(requests.c.submitted_at, bounds),
        requests.c.shipped_at.is_not(None))).all()
    if not rows:
        return None
    return round(sum((b - a).total_seconds() for a, b in rows) / len(rows) / 86400, 2)


def books_lent(conn: Connection, member: str | None, bounds: Bounds) -> int:
    """Returnable loans the member shipped as a lender in the month."""
    return _count(conn, legs.join(requests, legs.c.request_id == requests.c.id), _member(legs.c.lender, member),
                  legs.c.outcome == "supplied", requests.c.kind == m.LOAN, _in(legs.c.shipped_at, bounds))


def books_borrowed(conn: Connection, member: str | None, bounds: Bounds) -> int:
    """Returnable loans shipped to the member for its readers in the month."""
    return _count(conn, requests, _member(requests.c.borrower, member), requests.c.kind == m.LOAN,
                  _in(requests.c.shipped_at, bounds))


def parcels(conn: Connection, member: str | None, bounds: Bounds) -> int:
    """Courier parcels the member sent in the month: books shipped as lender plus books shipped back."""
    returns = _count(conn, requests, _member(requests.c.borrower, member), _in(requests.c.return_shipped_at, bounds))
    return books_lent(conn, member, bounds) + returns


def violations_count(conn: Connection, member: str | None, bounds: Bounds) -> int:
    """Violations (overdue, lost, damaged) reported in the month against the member's readers (not rolled back)."""
    return _count(conn, violations, _member(violations.c.borrower, member), violations.c.void.is_(False),
                  _in(violations.c.at, bounds))


def fines_yuan(conn: Connection, member: str | None, bounds: Bounds) -> float:
    """Fines (yuan) owed by the member's side for those violations, under each lender's rule."""
    fen = conn.execute(select(func.coalesce(func.sum(violations.c.fine_fen), 0)).where(
        _member(violations.c.borrower, member), violations.c.void.is_(False), _in(violations.c.at, bounds))
    ).scalar_one()
    return round(int(fen) / 100, 2)


FIGURES: dict[str, Callable[[Connection, str | None, Bounds], Any]] = {
    "requests_sent": requests_sent,
    "requests_received": requests_received,
    "processed": processed,
    "filled": filled,
    "fill_rate": fill_rate,
    "supplied": supplied,
    "mean_days_to_complete": mean_days_to_complete,
    "books_lent": books_lent,
    "books_borrowed": books_borrowed,
    "parcels": parcels,
    "violations": violations_count,
    "fines_yuan": fines_yuan,
}

LABELS = {
    "requests_sent": "发出申请", "requests_received": "收到申请", "processed": "已处理", "filled": "满足",
    "fill_rate": "满足率", "supplied": "提供", "mean_days_to_complete": "平均完成天数", "books_lent": "借出册数",
    "books_borrowed": "借入册数", "parcels": "快递包裹", "violations": "违规", "fines_yuan": "罚款(元)",
}


def figure(store: Store, name: str, member: str | None, month: str) -> Any:
    """One figure for one member (None: the consortium) and month."""
    with store.read() as conn:
        return FIGURES[name](conn, member, month_bounds(month))


def member_month(store: Store, member: str | None, month: str) -> dict:
    bounds = month_bounds(month)
    with store.read() as conn:
        return {"member": member or "ALL", "month": month,
                **{name: fn(conn, member, bounds) for name, fn in FIGURES.items()}}


def active_members(store: Store) -> list[str]:
    """Every member that appears in the store as a borrowing library or a lender."""
    q = union(select(requests.c.borrower.label("code")), select(legs.c.lender.label("code")))
    with store.read() as conn:
        return sorted(r.code for r in conn.execute(q))


def active_months(store: Store) -> list[str]:
    """Months (YYYY-MM, Beijing time) with any submission."""
    with store.read() as conn:
        lo, hi = conn.execute(select(func.min(requests.c.submitted_at), func.max(requests.c.submitted_at))).one()
    if lo is None:
        return []
    first, last = (v.replace(tzinfo=UTC).astimezone(BEIJING).date() for v in (lo, hi))
    months, y, mo = [], first.year, first.month
    while (y, mo) <= (last.year, last.month):
        months.append(f"{y:04d}-{mo:02d}")
        y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    return months


def table(store: Store, members: Iterable[str] | None = None, months: Iterable[str] | None = None,
          total: bool = True) -> list[dict]:
    """Rows of figures per member and month (plus the consortium's row per month when `total`)."""
    months = list(months) if months else active_months(store)
    members = list(members) if members else active_members(store)
    rows = []
    for month in months:
        for code in members:
            rows.append(member_month(store, code.upper(), month))
        if total and len(members) > 1:
            rows.append(member_month(store, None, month))
    return rows


def to_csv(rows: list[dict], figures: Sequence[str] = FIGURES) -> str:
    """Rows of figures as CSV with the JSON's column names (`--csv --machine`; people get services.spreadsheets)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["member", "month", *figures], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def demo_requests(store: Store) -> int:
    """How many requests in the store are demo data (imported by DEMO_ACTOR), so screens can say so."""
    with store.read() as conn:
        return _count(conn, audit, audit.c.actor == DEMO_ACTOR, audit.c.action == "import")


def lender_history(store: Store, kind: str | None = None) -> dict[str, dict]:
    """Per lender, over all time, for the router: requests reached it, filled, days to supply, open now.

    {code: {"requests": n, "filled": n, "supply_days_total": x, "open": n}}; supply days are calendar days
    from the request reaching the lender to its shipping. `kind` (m.LOAN or m.COPY) keeps that kind of request
    only: a lender's copy service is learned apart from its loans.
    """
    out: dict[str, dict] = {}
    query = select(legs.c.lender, legs.c.outcome, legs.c.arrived_at, legs.c.shipped_at)
    if kind is not None:
        query = query.join(requests, requests.c.id == legs.c.request_id).where(requests.c.kind == kind)
    with store.read() as conn:
        for row in conn.execute(query):
            h = out.setdefault(row.lender, {"requests": 0, "filled": 0, "supply_days_total": 0.0, "open": 0})
            h["requests"] += 1
            if row.outcome == "supplied":
                h["filled"] += 1
                h["supply_days_total"] += (row.shipped_at - row.arrived_at).total_seconds() / 86400
            elif row.outcome == "open":
                h["open"] += 1
    for h in out.values():
        h["supply_days_total"] = round(h["supply_days_total"], 4)
    return out


# ---- document delivery (原文传递) per member and month ---------------------------------------------------------

DD_FIGURES = ("requests", "filled", "unfilled", "fill_rate", "mean_days", "pages", "fee_fen", "subsidy_fen",
           "supplied", "supplied_pages", "earned_fen")
DD_LABELS = {"requests": "原文传递申请", "filled": "满足", "unfilled": "未满足", "fill_rate": "满足率",
          "mean_days": "平均完成天数", "pages": "页数", "fee_fen": "费用(分)", "subsidy_fen": "补贴(分)",
          "supplied": "提供", "supplied_pages": "提供页数", "earned_fen": "供应收入(分)"}


def dd_month(store: Store, member: str | None, month: str) -> dict:
    """Document delivery figures of `member` (None: the consortium) in `month`.

    As a borrowing library: requests its readers submitted, of those filled and unfilled, the fill rate (filled /
    (filled + unfilled), as the centre counts it), the mean calendar days from submission to delivery (the centre's
    headline figure); pages, price and subsidy of copies delivered to its readers in the month. As a supplier:
    copies it delivered in the month, their pages and their price."""
    bounds = month_bounds(month)
    mine = _member(requests.c.borrower, member)
    submitted = and_(requests.c.kind == m.COPY, mine, requests.c.submitted_at >= bounds[0],
                     requests.c.submitted_at < bounds[1])
    with store.read() as conn:
        rows = conn.execute(select(requests.c.status, requests.c.submitted_at, requests.c.shipped_at)
                            .where(submitted)).all()
        got = conn.execute(select(func.coalesce(func.sum(requests.c.pages), 0), func.coalesce(func.sum(
            requests.c.fee_fen), 0), func.coalesce(func.sum(requests.c.subsidy_fen), 0))
            .where(_copies_delivered(bounds), mine)).one()
        theirs = _member(requests.c.lender, member)
        gave = conn.execute(select(func.count(), func.coalesce(func.sum(requests.c.pages), 0),
                                   func.coalesce(func.sum(requests.c.fee_fen), 0))
                            .where(_copies_delivered(bounds), theirs)).one()
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
    return to_csv(rows, DD_FIGURES)


def _copies_delivered(bounds: Bounds):
    """Copies (原文传递) delivered in the period with their charges (ill/settlement.py settles the same rows)."""
    return and_(requests.c.kind == m.COPY, requests.c.status == m.COPY_COMPLETED, requests.c.fee_fen.is_not(None),
                _in(requests.c.completed_at, bounds))


def peer_exchange(conn: Connection, peers: Iterable[str], bounds: Bounds) -> list[dict]:
    """For each ISO 18626 peer (another ILL network): requests of our readers sent to it (a lender row for it
    arrived in the period) and requests it sent to our lenders (submitted in the period), each counted once."""
    out = []
    for code in peers:
        sent = conn.execute(select(func.count(func.distinct(legs.c.request_id))).where(
            legs.c.lender == code, _in(legs.c.arrived_at, bounds))).scalar_one()
        received = _count(conn, requests, requests.c.borrower == code, _in(requests.c.submitted_at, bounds))
        out.append({"peer": code, "sent": sent, "received": received})
    return out
