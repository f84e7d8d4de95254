"""China's working-day calendar for ILL service deadlines (遇节假日顺延: holidays push deadlines back)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta, timezone

import chinese_calendar

# Beijing time; China has had no daylight saving time since 1991, so a fixed offset is exact.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def is_workday(day: date) -> bool:
    """True on China's working days: weekdays that are not public holidays, plus swapped working weekends.

    For a year the calendar library has no data for yet (the State Council publishes each year's
    holidays in November), Monday to Friday count as working days.
    """
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


def local_date(moment: datetime) -> date:
    """The Beijing calendar date of an aware moment."""
    return moment.astimezone(BEIJING).date()


def end_of_day(day: date) -> datetime:
    """24:00 Beijing time at the end of `day`, as an aware UTC moment."""
    return datetime.combine(day + timedelta(days=1), time(0), BEIJING).astimezone(UTC)


def working_days_after(moment: datetime, n: int) -> datetime:
    """The deadline for "within n working days" of `moment`: the end of the n-th working day after its day.

    A request submitted on Tuesday 2025-09-30 must be answered within 1 working day: 2025-10-01..08 are
    the National Day holiday, so the deadline is the end of Thursday 2025-10-09.
    """
    if n < 1:
        raise ValueError("n must be 1 or more")
    day = local_date(moment)
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if is_workday(day):
            counted += 1
    return end_of_day(day)


def next_workday_on_or_after(day: date) -> date:
    while not is_workday(day):
        day += timedelta(days=1)
    return day


def add_month(day: date) -> date:
    """The same day one month later (the 31st becomes the month's last day)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def loan_due(lent: datetime) -> datetime:
    """When a book lent to the reader at `lent` is due back: one month later, moved to the next working
    day when that is a holiday, at the end of that day (Beijing time)."""
    return end_of_day(next_workday_on_or_after(add_month(local_date(lent))))


def deadline_text(moment: datetime) -> str:
    """A deadline as staff and readers read it: '2025-10-09 24:00' for the end of that day (Beijing time)."""
    local = moment.astimezone(BEIJING)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return f"{(local.date() - timedelta(days=1)).isoformat()} 24:00"
    return local.strftime("%Y-%m-%d %H:%M")
