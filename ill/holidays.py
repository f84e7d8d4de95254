"""The centre's holiday calendar: each year's official holidays and swapped working days (调休), as the State
Council's notice gives them, entered by centre administrators.

The working-day library (chinesecalendar) learns a year only when a new version of it is installed after the
notice (published each November); until then balis would count Monday to Friday and the Spring Festival
week as working days. Days listed here take precedence over the library. Two files, the later winning for a
year both list: `holidays.toml` shipped in config/ (package `balis_config`), and `holidays.toml` in the home
folder, written by the administration page (/admin/holidays). The format is in config/holidays.toml.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

FILE_NAME = "holidays.toml"
MAX_RANGE_DAYS = 31  # the longest holiday of a notice is 8 days; a longer range is a typing error


class CalendarError(ValueError):
    """A holiday calendar entry that cannot be read: the file, the year and the entry, and why."""


@dataclass(frozen=True, slots=True)
class YearCalendar:
    """One year of the official calendar: days off (holidays) and weekend days worked (workdays)."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    source: str = ""  # the notice it follows, e.g. 国办发明电〔2026〕N号
    origin: str = ""  # the file it was read from

    def day_texts(self, which: str) -> list[str]:
        """The holidays or workdays as entered: single days and ranges ('2027-02-05..2027-02-11'), in order."""
        return compact(getattr(self, which))


def _day(value, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise CalendarError(f"{where}: {value!r} is not a date (YYYY-MM-DD)") from None


def parse_days(entries: Iterable, where: str) -> frozenset[date]:
    """Days from entries that are dates, 'YYYY-MM-DD' or ranges 'YYYY-MM-DD..YYYY-MM-DD' (both ends included)."""
    days: set[date] = set()
    for entry in entries:
        text = entry if isinstance(entry, str) else None
        if text is not None and ".." in text:
            first, last = (_day(x, where) for x in text.split("..", 1))
            if last < first or (last - first).days >= MAX_RANGE_DAYS:
                raise CalendarError(f"{where}: {text!r} is not a range of at most {MAX_RANGE_DAYS} days")
            days.update(first + timedelta(days=i) for i in range((last - first).days + 1))
        elif text is not None and not text.strip():
            continue
        else:
            days.add(_day(entry, where))
    return frozenset(days)


def year_calendar(entry: dict, origin: str) -> YearCalendar:
    """One `[[year]]` table → YearCalendar; CalendarError says what is wrong."""
    year = entry.get("year")
    if not isinstance(year, int) or not 2000 <= year <= 2200:
        raise CalendarError(f"{origin}: a [[year]] needs year = YYYY (got {year!r})")
    where = f"{origin}, year {year}"
    holidays = parse_days(entry.get("holidays") or [], f"{where}, holidays")
    workdays = parse_days(entry.get("workdays") or [], f"{where}, workdays")
    both = holidays & workdays
    if both:
        raise CalendarError(f"{where}: {min(both).isoformat()} is listed both as a holiday and as a working day")
    near = range(year - 1, year + 2)  # a notice may touch the days around its year (a swapped day in December)
    for day in holidays | workdays:
        if day.year not in near:
            raise CalendarError(f"{where}: {day.isoformat()} is not in or next to {year}")
    return YearCalendar(year, holidays, workdays, str(entry.get("source") or "").strip(), origin)


def parse(text: str, origin: str) -> dict[int, YearCalendar]:
    """The years of one holidays.toml text."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{origin}: not valid TOML ({exc})") from None
    years: dict[int, YearCalendar] = {}
    for entry in doc.get("year") or []:
        if not isinstance(entry, dict):
            raise CalendarError(f"{origin}: 'year' must be [[year]] tables")
        cal = year_calendar(entry, origin)
        if cal.year in years:
            raise CalendarError(f"{origin}: year {cal.year} is listed twice")
        years[cal.year] = cal
    return years


def compact(days: Iterable[date]) -> list[str]:
    """Days as the shortest list of single days and ranges."""
    out: list[str] = []
    run: list[date] = []
    for day in sorted(days):
        if run and day != run[-1] + timedelta(days=1):
            out.append(_run_text(run))
            run = []
        run.append(day)
    if run:
        out.append(_run_text(run))
    return out


def _run_text(run: list[date]) -> str:
    return run[0].isoformat() if len(run) == 1 else f"{run[0].isoformat()}..{run[-1].isoformat()}"


def dump(calendars: Iterable[YearCalendar]) -> str:
    """A holidays.toml text for `calendars` (what the administration page writes)."""
    def strings(items: list[str]) -> str:
        return "[" + ", ".join(f'"{s}"' for s in items) + "]"

    lines = ["# 节假日安排 (the official holidays and swapped working days), entered on /admin/holidays.",
             "# They take precedence over the working-day library; format: config/holidays.toml.", ""]
    for cal in sorted(calendars, key=lambda c: c.year):
        lines += ["[[year]]", f"year = {cal.year}", f"source = {json.dumps(cal.source, ensure_ascii=False)}",
                  f"holidays = {strings(cal.day_texts('holidays'))}",
                  f"workdays = {strings(cal.day_texts('workdays'))}", ""]
    return "\n".join(lines)
