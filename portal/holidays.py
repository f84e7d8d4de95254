"""The holiday calendar page of centre administration: the official holidays and swapped working days of each
year, entered when the State Council publishes them, before the working-day library has them (ill/holidays.py).

    GET  /admin/holidays          the years known (entered, and the library's), the warning, the form
    POST /admin/holidays          (csrf_token, year, source, holidays, workdays): enter or replace a year
"""

from __future__ import annotations

import asyncio
import os
import re
from datetime import UTC, datetime

from aiohttp import web

from ill import workdays
from ill.holidays import CalendarError, YearCalendar, dump, parse, year_calendar
from members import paths
from portal.auth import require
from portal.keys import LANG
from portal.render import calendar_error, private_page

MAX_FIELD = 4000
_SEPARATORS = re.compile(r"[\s,，、;；]+")
_RANGE = re.compile(r"\s*(?:\.\.|~|～|至)\s*")


def day_entries(text: str) -> list[str]:
    """A textarea's days: one per line or separated by commas; ranges 'A..B' (also 'A ~ B', 'A 至 B')."""
    return [t for t in _SEPARATORS.split(_RANGE.sub("..", text or "")) if t]


def calendar_missing_text(lang: str) -> str | None:
    """The warning of the administration pages when this year, or from December the next, has no calendar."""
    year = workdays.missing_year(workdays.local_date(datetime.now(UTC)))
    if year is None:
        return None
    from portal.i18n import message

    return message("holidays.missing", lang, year=year)


def library_years() -> tuple[int, int] | None:
    """The first and last year the installed working-day library knows."""
    known = [y for y in range(2000, datetime.now(UTC).year + 3) if workdays.library_knows(y)]
    return (known[0], known[-1]) if known else None


def save_year(cal: YearCalendar) -> None:
    """Enter or replace one year in the administrators' calendar file (written whole, then renamed into place)."""
    target = paths.holidays_file()
    years = parse(target.read_text(encoding="utf-8"), str(target)) if target.exists() else {}
    years[cal.year] = cal
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(dump(years.values()), encoding="utf-8")
    os.replace(tmp, target)


async def holidays_page(request: web.Request, *, status: int = 200, error: str | None = None,
                        form: dict | None = None) -> web.Response:
    require(request, "admin")
    cal = await asyncio.to_thread(workdays.current)
    admin_file = str(paths.holidays_file())
    done = request.query.get("done", "")[:4]
    return private_page(request, "admin_holidays.html", status, years=sorted(cal.years.values(),
                        key=lambda c: c.year, reverse=True), admin_file=admin_file,
                        library=library_years(), problems=cal.problems, error=error, form=form or {},
                        done=done if done.isdigit() else "", missing=calendar_missing_text(request[LANG]))


async def holidays_submit(request: web.Request) -> web.Response:
    admin = require(request, "admin")
    post = await request.post()
    form = {k: str(post.get(k, ""))[:MAX_FIELD] for k in ("year", "source", "holidays", "workdays")}
    from portal.i18n import message

    lang = request[LANG]
    try:
        year = int(form["year"].strip())
    except ValueError:
        return await holidays_page(request, status=400, form=form, error=message("holidays.bad_year", lang))
    source = " ".join(form["source"].split())[:500]
    entry = {"year": year, "source": source, "holidays": day_entries(form["holidays"]),
             "workdays": day_entries(form["workdays"])}
    try:
        cal = year_calendar(entry, f"/admin/holidays ({admin['id']})")
        if not cal.holidays:
            raise CalendarError(message("holidays.none", lang, year=year))
        await asyncio.to_thread(save_year, cal)
    except CalendarError as exc:
        return await holidays_page(request, status=400, form=form, error=calendar_error(str(exc), lang))
    raise web.HTTPSeeOther(f"/admin/holidays?done={year}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/holidays", holidays_page, name="admin_holidays")
    app.router.add_post("/admin/holidays", holidays_submit, name="admin_holidays_save")
