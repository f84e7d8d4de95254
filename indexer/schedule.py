"""The nightly harvest inside a long-running process (`balis serve --harvest-at 02:00`): an asyncio task that
runs the harvest every day at HH:MM local time, and on one day of the week (`--full-harvest-on`, default
Sunday) a full one (`balis harvest --full`), which compares every record and so also finds what the nightly
count check cannot see (docs/harvest.md).

The harvest itself runs in a worker thread with its own event loop, so the serving loop keeps answering
while records are normalised and merged. A run that is still going at the next HH:MM is not started twice;
a failed run is logged and the schedule goes on. For a harvest outside any server use cron or a systemd
timer (docs/harvest.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

log = logging.getLogger("balis.harvest")

MAX_SLEEP = 60.0  # seconds: long waits are cut into steps so a changed clock (NTP, suspend) is noticed


def parse_at(text: str) -> time:
    """`02:00` (or `02:00:30`) as a time of day; ValueError with a message for people otherwise."""
    parts = text.strip().split(":")
    try:
        if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
            raise ValueError
        return time(*(int(p) for p in parts))
    except ValueError:
        raise ValueError(f"harvest time {text!r} is not a time of day; write HH:MM, e.g. 02:00") from None


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = {**{d: i for i, d in enumerate(WEEKDAYS)},
                  **{n: i for i, n in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                                  "sunday"))},
                  **{f"周{c}": i for i, c in enumerate("一二三四五六日")}, "周天": 6}


def parse_weekday(text: str) -> int | None:
    """`sun`, `sunday` or `周日` as a weekday (Monday 0 … Sunday 6); `never` as None; ValueError otherwise."""
    key = text.strip().lower()
    if key in ("never", "none", "off"):
        return None
    if key not in _WEEKDAY_NAMES:
        raise ValueError(f"{text!r} is not a day of the week; write mon, tue, wed, thu, fri, sat or sun "
                         "(or never)")
    return _WEEKDAY_NAMES[key]


def next_run(now: datetime, at: time) -> datetime:
    """The first moment after `now` whose local wall-clock time is `at` (today if still ahead, else tomorrow).

    `now` is naive local time or aware; the answer has the same kind.
    """
    candidate = now.replace(hour=at.hour, minute=at.minute, second=at.second, microsecond=0)
    if candidate <= now:
        candidate += timedelta(days=1)  # wall-clock arithmetic: a zoneinfo zone gives that day's own offset
    return candidate


class HarvestSchedule:
    """Runs `job` every day at `at` (local time) until cancelled; `runs` counts the runs started."""

    def __init__(self, at: time, job: Callable[[], Awaitable[object]], *,
                 clock: Callable[[], datetime] = datetime.now,
                 on_result: Callable[[object], None] | None = None) -> None:
        self.at = at
        self.job = job
        self.clock = clock
        self.on_result = on_result
        self.runs = 0
        self.next: datetime | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> asyncio.Task:
        """Start the schedule as a task of the running loop (cancel it, or call stop(), to end it)."""
        self._task = asyncio.get_running_loop().create_task(self.run_forever(), name="balis-harvest-schedule")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def run_forever(self) -> None:
        while True:
            self.next = next_run(self.clock(), self.at)
            log.info("next harvest at %s", self.next.isoformat(timespec="seconds"))
            while (wait := (self.next - self.clock()).total_seconds()) > 0:
                await asyncio.sleep(min(wait, MAX_SLEEP))
            await self.run_once()

    async def run_once(self) -> object | None:
        """Run the job now; its failure is logged, never raised into the serving process."""
        self.runs += 1
        try:
            result = await self.job()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one failed night must not stop the schedule or the server
            log.exception("the scheduled harvest failed; the next one runs as planned")
            return None
        if self.on_result is not None:
            self.on_result(result)
        return result


def harvest_job(registry_path: str | Path | None, index_dir: str | Path | None, *, full_on: int | None = None,
                today: Callable[[], date] = date.today, after: Callable[[object], object] | None = None, **options):
    """A job for HarvestSchedule: every run reads the registry again and harvests into the index folder; a run
    that starts on weekday `full_on` (Monday 0 … Sunday 6; None: never) is a full one. `after(result)` runs next
    in the same thread (the saved searches' alerts); its failure is logged and the harvest's result stands."""
    from indexer.backend import resolve_location
    from indexer.harvest import HarvestOptions, run_harvest
    from members import load_registry

    def run():
        registry = load_registry(registry_path)
        full = full_on is not None and today().weekday() == full_on
        if full:
            log.info("the weekly full harvest: every record of every member is compared")
        result = run_harvest(registry, resolve_location(index_dir), HarvestOptions(**options, full=full))
        for r in result.members:
            log.info("harvest %s: %s, %d records, +%d ~%d -%d, %d errors%s", r.member, r.status, r.records,
                     r.added, r.changed, r.deleted, r.errors, f" ({r.message})" if r.message else "")
        if after is not None:
            try:
                after(result)
            except Exception:  # noqa: BLE001 - the night's harvest is done; what follows it may fail alone
                log.exception("after the harvest: failed; it runs again after the next one")
        return result

    async def job():
        return await asyncio.to_thread(run)

    return job
