"""The portal's own clock: the ILL deadlines (`Store.tick`: late answers forwarded, loans past their due date
marked overdue) and the clock's notices (`ill.outbox.timed`: due soon, answers due today, the daily digests),
every few minutes while `balis serve` runs, as `balis request tick` does from cron. Both are idempotent, so the
portal's clock and a cron line may run side by side; the portal's mailer then sends what they wrote.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from portal.background import repeat
from portal.keys import STORE

TICK_EVERY = 600.0  # seconds between two ticks (`balis serve --tick-every MINUTES`)
CLOCK = web.AppKey("clock", asyncio.Task)

log = logging.getLogger("balis.portal")


def tick_once(store) -> tuple[list[dict], int]:
    """One tick: the changes the deadlines made, and how many of the clock's notices were written."""
    from ill import outbox

    changes = store.tick()
    return changes, outbox.timed(store)


def setup_clock(app: web.Application, every: float | None = TICK_EVERY) -> None:
    """Tick every `every` seconds from start-up to shut-down (the first at once); None or 0: no clock."""
    if not every:
        return

    async def tick() -> None:
        changes, written = await asyncio.to_thread(tick_once, app[STORE])
        if changes or written:
            overdue = sum(c["to"] == "Overdue" for c in changes)
            log.info("clock: %d request(s) forwarded or closed, %d loan(s) overdue, %d notice(s) written",
                     len(changes) - overdue, overdue, written)

    repeat(app, CLOCK, tick, every, what="the clock's tick", log=log)
