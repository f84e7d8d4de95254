"""China's working-day calendar for ILL service deadlines (遇节假日顺延: holidays push deadlines back).

A day is a working day by, in this order: the centre's holiday calendar (ill/holidays.py: the official
holidays and swapped working days administrators entered), the working-day library (chinesecalendar), and
for a year neither knows, Monday to Friday. `missing_year` says when the coming year has no calendar yet.
"""

from __future__ import annotations

import calendar
import logging
import os
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from pathlib import Path

import chinese_calendar

from ill.holidays import FILE_NAME, CalendarError, YearCalendar, parse
from members import paths

# Beijing time; China has had no daylight saving time since 1991, so a fixed offset is exact.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
WARN_FROM_MONTH = 12  # from December on, the coming year's calendar is expected (the notice comes in November)

log = logging.getLogger("balis.ill")


def calendar_files() -> tuple[Path, Path]:
    """The shipped calendar (config/holidays.toml) and the one administrators enter (home folder), in the order
    they apply: the later wins for a year both list."""
    return paths.config_file(FILE_NAME), paths.holidays_file()


class Calendar:
    """The centre's calendar as read from its files: years, per-day decisions, and what could not be read."""

    def __init__(self, years: dict[int, YearCalendar], problems: tuple[str, ...] = ()) -> None:
        self.years = years
        self.problems = problems
        self.days: dict[date, bool] = {}
        for cal in sorted(years.values(), key=lambda c: c.year):
            self.days.update(dict.fromkeys(cal.holidays, False))
            self.days.update(dict.fromkeys(cal.workdays, True))

    def is_workday(self, day: date) -> bool:
        decided = self.days.get(day)
        if decided is not None:
            return decided
        if library_knows(day.year):
            return chinese_calendar.is_workday(day)
        return day.weekday() < 5

    def knows(self, year: int) -> bool:
        """True when the year's holidays are known: entered by the centre or in the working-day library."""
        return year in self.years or library_knows(year)


_loaded: tuple[tuple, Calendar] | None = None


def current() -> Calendar:
    """The calendar from its files, read again when one of them changed (an administrator saved a year)."""
    global _loaded
    files = calendar_files()
    key = tuple((str(f), _mtime(f)) for f in files)
    if _loaded is not None and _loaded[0] == key:
        return _loaded[1]
    years: dict[int, YearCalendar] = {}
    problems = []
    for f, (_, mtime) in zip(files, key, strict=True):
        if mtime is None:
            continue
        try:
            years.update(parse(f.read_text(encoding="utf-8"), str(f)))
        except (OSError, UnicodeDecodeError, CalendarError) as exc:
            problems.append(str(exc))
            log.warning("holiday calendar not used: %s", exc)
    cal = Calendar(years, tuple(problems))
    _loaded = (key, cal)
    return cal


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


@cache
def library_knows(year: int) -> bool:
    """Whether the installed working-day library has the year's official holidays."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def is_workday(day: date) -> bool:
    """True on China's working days: weekdays that are not public holidays, plus swapped working weekends.

    The centre's holiday calendar decides first, then the working-day library; for a year neither has
    data for yet (the State Council publishes each year's holidays in November), Monday to Friday count.
    """
    return current().is_workday(day)


def missing_year(today: date) -> int | None:
    """The year whose holidays are not known and soon needed: this year, or from December on the next one."""
    cal = current()
    if not cal.knows(today.year):
        return today.year
    if today.month >= WARN_FROM_MONTH and not cal.knows(today.year + 1):
        return today.year + 1
    return None


def missing_year_text(year: int) -> str:
    """The warning staff and administrators read when `missing_year` names a year."""
    return (f"{year} 年的节假日安排尚未录入：期限将按周一至周五计算，春节等假期会被算作工作日。"
            f"请中心管理员在 /admin/holidays 录入国务院公布的节假日和调休。 / The {year} holiday calendar is "
            f"missing: deadlines count Monday to Friday and the Spring Festival would count as working days; "
            f"a centre administrator enters the official holidays and swapped working days at /admin/holidays.")


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
    cal = current()
    counted = 0
    while counted < n:
        day += timedelta(days=1)
        if cal.is_workday(day):
            counted += 1
    return end_of_day(day)


def next_workday_on_or_after(day: date) -> date:
    cal = current()
    while not cal.is_workday(day):
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
