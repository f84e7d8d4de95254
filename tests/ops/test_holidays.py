"""The holiday calendar outlives its library: years the working-day library does not know yet are entered by
centre administrators (a file, the administration page), take precedence over the library, and the admin
pages and `balis request tick` warn when the coming year has none."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ill import Store, workdays
from ill.holidays import CalendarError, compact, dump, parse, parse_days
from ill.workdays import BEIJING, is_workday, library_knows, missing_year, working_days_after
from members import load_registry, paths

ROOT = Path(__file__).resolve().parents[2]
FIRST_UNKNOWN = next(y for y in range(2020, 2200) if not library_knows(y))  # 2027 with chinesecalendar 1.11


def spring_festival_text(year: int) -> str:
    """A made-up calendar for `year` (shapes of a real notice; the test needs no real dates)."""
    return f"""
[[year]]
year = {year}
source = "测试用通知"
holidays = ["{year}-01-01", "{year}-02-06..{year}-02-12"]
workdays = ["{year}-02-14"]
"""


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("BALIS_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=BEIJING)


def test_days_ranges_and_the_file_format():
    assert parse_days(["2027-02-06..2027-02-08", "2027-01-01", ""], "t") == {
        date(2027, 1, 1), date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8)}
    assert compact([date(2027, 2, 8), date(2027, 2, 6), date(2027, 2, 7), date(2027, 1, 1)]) == [
        "2027-01-01", "2027-02-06..2027-02-08"]
    years = parse(spring_festival_text(2031), "x.toml")
    again = parse(dump(years.values()), "y.toml")
    assert again[2031].holidays == years[2031].holidays and again[2031].workdays == {date(2031, 2, 14)}
    assert again[2031].source == "测试用通知"
    for bad, words in ((["2027-02-30"], "not a date"), (["2027-03-01..2027-02-01"], "range"),
                       (["2027-01-01..2027-03-01"], "at most 31 days")):
        with pytest.raises(CalendarError, match=words):
            parse_days(bad, "holidays.toml, year 2027")
    with pytest.raises(CalendarError, match="both as a holiday and as a working day"):
        parse('[[year]]\nyear = 2031\nholidays = ["2031-02-14"]\nworkdays = ["2031-02-14"]\n', "x")
    with pytest.raises(CalendarError, match="listed twice"):
        parse(spring_festival_text(2031) * 2, "x")


def test_the_shipped_file_reads_and_its_commented_example_is_the_documented_format():
    text = paths.config_file("holidays.toml").read_text(encoding="utf-8")
    assert parse(text, "config") == {} or all(y > 2026 for y in parse(text, "config"))
    lines = text.splitlines()
    example = "\n".join(line[2:] for line in lines[lines.index("# [[year]]"):])
    years = parse(example, "the example")
    assert len(years) == 1 and next(iter(years.values())).holidays


def test_a_year_the_library_does_not_know_counts_monday_to_friday_until_entered(home):
    y = FIRST_UNKNOWN
    friday = next(date(y, 2, 5) + timedelta(days=i) for i in range(7) if (date(y, 2, 5) + timedelta(days=i))
                  .weekday() == 4)
    assert is_workday(friday + timedelta(days=3))  # the Monday after counts: nobody said it is a holiday
    (home / "holidays.toml").write_text(f"""
[[year]]
year = {y}
holidays = ["{(friday + timedelta(days=1)).isoformat()}..{(friday + timedelta(days=7)).isoformat()}"]
workdays = ["{(friday + timedelta(days=9)).isoformat()}"]
""", encoding="utf-8")
    # Saturday to Friday off, the second Saturday a rest day, the second Sunday worked (调休)
    assert not is_workday(friday + timedelta(days=3))
    assert working_days_after(bj(y, friday.month, friday.day, 10), 1) == \
        datetime.combine(friday + timedelta(days=10), datetime.min.time(), BEIJING)


def test_entered_days_take_precedence_over_the_library(home):
    assert workdays.library_knows(2025) and is_workday(date(2025, 10, 9))
    (home / "holidays.toml").write_text('[[year]]\nyear = 2025\nholidays = ["2025-10-09"]\n', encoding="utf-8")
    assert not is_workday(date(2025, 10, 9))
    assert is_workday(date(2025, 9, 28)) and not is_workday(date(2025, 10, 1))  # the rest from the library


def test_missing_year_this_year_always_and_the_next_from_december(home):
    y = FIRST_UNKNOWN
    assert missing_year(date(y - 1, 11, 30)) is None
    assert missing_year(date(y - 1, 12, 1)) == y
    assert missing_year(date(y, 3, 1)) == y
    (home / "holidays.toml").write_text(spring_festival_text(y), encoding="utf-8")
    assert missing_year(date(y - 1, 12, 1)) is None and missing_year(date(y, 12, 1)) == y + 1


def test_a_broken_file_is_reported_and_not_used(home):
    (home / "holidays.toml").write_text('[[year]]\nyear = 2025\nholidays = ["2025-10-99"]\n', encoding="utf-8")
    cal = workdays.current()
    assert cal.problems and "2025-10-99" in cal.problems[0] and is_workday(date(2025, 10, 9))


def _balis(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "BALIS_DB"}
    env["BALIS_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "balis.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_request_tick_warns_when_the_coming_year_has_no_calendar(home):
    today = datetime.now(BEIJING).date()
    expected = missing_year(today)
    out = _balis("request", "tick", home=home)
    assert out.returncode == 0
    assert (f"{expected} 年的节假日安排尚未录入" in out.stderr) if expected else "节假日" not in out.stderr
    (home / "holidays.toml").write_text(spring_festival_text(today.year) + spring_festival_text(today.year + 1),
                                        encoding="utf-8")
    out = _balis("request", "tick", home=home)
    assert out.returncode == 0 and "节假日" not in out.stderr


@pytest.fixture
async def admin_client(home):
    from portal import create_app
    from portal.app import HTTP_LIMITS
    from tests.portal.deskkit import sign_in, users

    store = Store(home / "ill.sqlite")
    users(store, "PKU", "THU", "RUC")
    app = create_app(load_registry(paths.config_file("members.toml")), store=store)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(**HTTP_LIMITS)
    client = TestClient(server)
    await client.start_server()
    client.store = store
    client.sign_in = lambda user: sign_in(client, user)
    await client.sign_in("adm")
    yield client
    await client.close()
    store.close()


async def test_an_administrator_enters_a_year_on_the_page_and_deadlines_follow_it(admin_client, home):
    from tests.portal.deskkit import token_of

    y = FIRST_UNKNOWN
    page = await admin_client.get("/admin/holidays")
    html = await page.text()
    assert page.status == 200 and "节假日安排" in html and 'id="library-years"' in html
    # a date that is not one: refused in words, the form comes back with what was typed, nothing saved
    r = await admin_client.post("/admin/holidays", data={"csrf_token": token_of(html), "year": str(y),
                                                        "holidays": f"{y}-02-30", "workdays": ""})
    text = await r.text()
    assert r.status == 400 and f"“{y}-02-30”不是日期" in text and "not a date" not in text  # in the page's language
    assert not (home / "holidays.toml").exists()
    r = await admin_client.post("/admin/holidays", data={
        "csrf_token": token_of(html), "year": str(y), "source": "国办发明电〔测试〕1号",
        "holidays": f"{y}-01-01\n{y}-02-06 至 {y}-02-12", "workdays": f"{y}-02-14"}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == f"/admin/holidays?done={y}"
    saved = parse((home / "holidays.toml").read_text(encoding="utf-8"), "saved")[y]
    assert len(saved.holidays) == 8 and saved.workdays == {date(y, 2, 14)} and saved.source == "国办发明电〔测试〕1号"
    html = await (await admin_client.get(f"/admin/holidays?done={y}")).text()
    assert f'data-year="{y}"' in html and f"{y}-02-06..{y}-02-12" in html and 'id="holidays-done"' in html
    # a request submitted on the Friday before the festival is answered by the end of the swapped Sunday
    admin_client.store.clock = lambda: bj(y, 2, 5, 10, 0)
    req = admin_client.store.submit("ra1", kind="copy", title="春节前的申请", rota=["THU"])
    assert req["answer_due"] == bj(y, 2, 15)  # the end of Sunday the 14th


async def test_the_admin_pages_warn_and_only_administrators_enter_years(admin_client, home):
    today = datetime.now(BEIJING).date()
    expected = missing_year(today)
    for url in ("/admin", "/admin/stats", "/admin/holidays"):
        html = await (await admin_client.get(url)).text()
        assert ('id="calendar-missing"' in html) == bool(expected), url
        if expected:
            assert f"{expected} 年的节假日安排尚未录入" in html
    (home / "holidays.toml").write_text(spring_festival_text(today.year) + spring_festival_text(today.year + 1),
                                        encoding="utf-8")
    assert 'id="calendar-missing"' not in await (await admin_client.get("/admin")).text()
    token = await admin_client.sign_in("sa")
    assert (await admin_client.get("/admin/holidays")).status == 403
    r = await admin_client.post("/admin/holidays", data={"csrf_token": token, "year": "2031",
                                                        "holidays": "2031-01-01"})
    assert r.status == 403 and 2031 not in parse((home / "holidays.toml").read_text(encoding="utf-8"), "x")
