"""The in-process nightly schedule: when the next run is, and one real run against a test bed."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from indexer.schedule import HarvestSchedule, harvest_job, next_run, parse_at, parse_weekday
from testbed.bed import Testbed


@pytest.mark.parametrize("now, expected", [
    (datetime(2026, 11, 20, 1, 59, 59), datetime(2026, 11, 20, 2, 0)),  # later today
    (datetime(2026, 11, 20, 2, 0), datetime(2026, 11, 21, 2, 0)),  # exactly now: it has just run
    (datetime(2026, 11, 20, 2, 0, 0, 1), datetime(2026, 11, 21, 2, 0)),
    (datetime(2026, 11, 20, 23, 30), datetime(2026, 11, 21, 2, 0)),  # tomorrow
    (datetime(2026, 12, 31, 3, 0), datetime(2027, 1, 1, 2, 0)),  # over the year end
    (datetime(2028, 2, 28, 22, 0), datetime(2028, 2, 29, 2, 0)),  # leap day
])
def test_next_run_local_time(now, expected):
    assert next_run(now, time(2, 0)) == expected


def test_next_run_keeps_the_time_zone_and_wall_clock():
    beijing = timezone(timedelta(hours=8))
    assert next_run(datetime(2026, 11, 20, 3, 0, tzinfo=beijing), time(2, 0)) == \
        datetime(2026, 11, 21, 2, 0, tzinfo=beijing)
    berlin = ZoneInfo("Europe/Berlin")  # summer time ends on 2026-10-25: still 04:00 on the wall clock
    now = datetime(2026, 10, 24, 12, 0, tzinfo=berlin)
    nxt = next_run(now, time(4, 0))
    assert (nxt.day, nxt.hour, now.utcoffset(), nxt.utcoffset()) == (25, 4, timedelta(hours=2), timedelta(hours=1))


def test_parse_at():
    assert parse_at("02:00") == time(2, 0) and parse_at("23:59:30") == time(23, 59, 30)
    for bad in ("2am", "25:00", "02", "02:60", ""):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_at(bad)


def test_parse_weekday():
    assert [parse_weekday(d) for d in ("mon", "Sun", " sunday ", "周日", "周一", "周天")] == [0, 6, 6, 6, 0, 6]
    assert parse_weekday("never") is None
    for bad in ("", "someday", "7", "sonntag"):
        with pytest.raises(ValueError, match="day of the week"):
            parse_weekday(bad)


async def test_a_failed_run_is_logged_and_the_schedule_goes_on(caplog):
    calls = []

    async def job():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("member registry unreadable")
        return "ok"

    results = []
    schedule = HarvestSchedule(time(2, 0), job, on_result=results.append)
    assert await schedule.run_once() is None
    assert await schedule.run_once() == "ok"
    assert results == ["ok"] and schedule.runs == 2
    assert "the scheduled harvest failed" in caplog.text


@pytest.mark.integration
async def test_one_real_scheduled_run(tmp_path):
    with Testbed(tmp_path / "bed", seed=99).running(members=2, records=10) as bed:
        registry = bed.registry_path
        results = []
        at = (datetime.now() + timedelta(seconds=5)).time().replace(microsecond=0)  # 4-5 s ahead: the task starts first
        schedule = HarvestSchedule(at, harvest_job(registry, tmp_path / "index", rate=0),
                                   on_result=results.append)
        task = schedule.start()
        assert schedule.next is None or schedule.next.time() == at
        for _ in range(600):
            if results:
                break
            await asyncio.sleep(0.1)
        await schedule.stop()
        assert task.done()
        [result] = results
        assert result.ok and {r.member for r in result.members} == {"THU", "PKU"}
        assert result.index["mode"] == "rebuild" and (tmp_path / "index" / "harvest.sqlite").exists()
        assert schedule.runs == 1 and schedule.next > datetime.now() + timedelta(hours=23)


@pytest.mark.integration
async def test_the_run_on_the_full_harvest_day_compares_everything(tmp_path):
    with Testbed(tmp_path / "bed", seed=98).running(members=2, records=10) as bed:
        registry = bed.registry_path
        sunday, monday = date(2026, 11, 22), date(2026, 11, 23)
        first = await harvest_job(registry, tmp_path / "index", rate=0, full_on=6, today=lambda: monday)()
        assert first.index["mode"] == "rebuild"  # the first run builds the index
        weekday = await harvest_job(registry, tmp_path / "index", rate=0, full_on=6, today=lambda: monday)()
        assert weekday.index["mode"] == "unchanged"
        full = await harvest_job(registry, tmp_path / "index", rate=0, full_on=6, today=lambda: sunday)()
        assert full.index["mode"] == "rebuild" and all(r.mode == "full" for r in full.members), \
            [(r.member, r.mode) for r in full.members]
        never = await harvest_job(registry, tmp_path / "index", rate=0, full_on=None, today=lambda: sunday)()
        assert never.index["mode"] == "unchanged"
