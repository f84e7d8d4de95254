"""The reader's need-before date (ISO 18626 NeedBeforeDate): which lenders can still meet it, and when it has passed.

Pure over values. A lender's expected supply time is what lender routing estimated for it (the rota entry's
`days`: its smoothed mean days from arrival to shipping), else the service standard (ship within 3 working
days); a returnable loan then spends TRANSIT_WORKING_DAYS with the courier, and the reader's delivery method
may add its own working days. Lenders that cannot meet the date go last in a new rota, and are skipped when
the request is forwarded; the clock closes a request still unsupplied after the date (`passed`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ill import machine as m
from ill.errors import InvalidRequest
from ill.workdays import local_date, working_days_after

SHIP_WORKING_DAYS = 3  # the service standard when routing has no estimate for a lender
TRANSIT_WORKING_DAYS = 1  # the courier between member libraries (returnable loans)
MAX_AHEAD = timedelta(days=366)  # a need-before date is at most a year ahead
# states in which nothing has been shipped yet: a request still in them after its date is closed
WAITING = frozenset({m.PENDING, m.REQUEST_RECEIVED, m.EXPECT_TO_SUPPLY, m.WILL_SUPPLY})


def parse(value: date | str | None, now: datetime) -> date | None:
    """A need-before date as given (a date or YYYY-MM-DD), checked: a real date, not before today (Beijing), at
    most a year ahead. InvalidRequest says what is wrong."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        value = local_date(value)
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip()) if len(value.strip()) == 10 else None
        except ValueError:
            value = None
        if value is None:
            raise InvalidRequest("需要日期不是有效日期，请写作 YYYY-MM-DD (the need-before date must be a real date, "
                                 "written YYYY-MM-DD)")
    today = local_date(now)
    if value < today:
        raise InvalidRequest(f"需要日期 {value.isoformat()} 已过，请填写今天 ({today.isoformat()}) 或以后的日期 "
                             f"(the need-before date is in the past)")
    if value > today + MAX_AHEAD:
        raise InvalidRequest(f"需要日期 {value.isoformat()} 超过一年以后；不填表示没有期限 (the need-before date is "
                             f"more than a year ahead: leave it empty for no date)")
    return value


def _end_day(moment: datetime) -> date:
    return local_date(moment - timedelta(microseconds=1))


def expected(entry: dict, now: datetime, kind: str, extra_days: int = 0) -> date:
    """The day a lender entered now is expected to have the item with the reader."""
    days = entry.get("days")
    if isinstance(days, (int, float)) and not isinstance(days, bool) and days >= 0:
        at, end_of_day = now + timedelta(days=float(days)), False
    else:
        at, end_of_day = working_days_after(now, SHIP_WORKING_DAYS), True
    working = (TRANSIT_WORKING_DAYS if kind == m.LOAN else 0) + max(int(extra_days or 0), 0)
    if working:
        at, end_of_day = working_days_after(at - timedelta(microseconds=1) if end_of_day else at, working), True
    return _end_day(at) if end_of_day else local_date(at)


def late_text(member: str, when: date, need_before: date) -> str:
    return (f"{member} 预计 {when.isoformat()} 才能送达，晚于读者的需要日期 {need_before.isoformat()} "
            f"(expected {when.isoformat()}, after the need-before date)")


def order(rota: list[dict], now: datetime, need_before: date | None, kind: str, extra_days: int = 0) -> list[dict]:
    """The rota with lenders that cannot meet `need_before` moved last (in their order), each saying why."""
    if need_before is None:
        return rota
    fast, slow = [], []
    for e in rota:
        when = expected(e, now, kind, extra_days)
        if when <= need_before:
            fast.append(e)
        else:
            why = late_text(e["member"], when, need_before)
            slow.append({**e, "reason": "; ".join(x for x in (e.get("reason") or "", why) if x)})
    return fast + slow


def next_in_time(rota: list[dict], start: int, now: datetime, need_before: date | None, kind: str,
                 extra_days: int = 0) -> tuple[int | None, list[str]]:
    """The index of the first lender from `start` on that can still meet `need_before` (None: none can), and
    why each lender before it was skipped."""
    skipped: list[str] = []
    for i in range(start, len(rota)):
        if need_before is None:
            return i, skipped
        when = expected(rota[i], now, kind, extra_days)
        if when <= need_before:
            return i, skipped
        skipped.append(late_text(rota[i]["member"], when, need_before))
    return None, skipped


def passed(request: dict, today: date) -> bool:
    """Whether a request still waiting for a lender is past its need-before date on `today` (Beijing)."""
    nb = request.get("need_before")
    return nb is not None and request["status"] in WAITING and today > nb


def passed_text(need_before: date) -> str:
    return (f"已过读者的需要日期 {need_before.isoformat()}，图书仍未寄出，申请单关闭 (past the need-before date "
            f"{need_before.isoformat()} with nothing shipped: closed)")

