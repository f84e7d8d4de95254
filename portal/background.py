"""The portal's background work: a step run again and again from start-up to shut-down (the mailer, the clock,
the ISO 18626 sender). A step that fails is logged and tried again after the wait: a store or a server that is
briefly unavailable never ends the loop; shutting the portal down cancels it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

Step = Callable[[], Awaitable[float | None]]


def repeat(app: web.Application, key: web.AppKey, step: Step, every: float, *, what: str,
           log: logging.Logger, when: Callable[[web.Application], bool] | None = None) -> None:
    """Run `step` at start-up and then every `every` seconds (or after the seconds it returns) until the portal
    stops; the task is kept in `app[key]`. `when`: checked at start-up, False runs nothing."""

    async def forever() -> None:
        while True:
            wait = every
            try:
                wait = await step() or every
            except Exception:  # noqa: BLE001 - anything a step meets is logged and tried again
                log.exception("%s failed; trying again in %.0f s", what, every)
            await asyncio.sleep(wait)

    async def start(app: web.Application) -> None:
        if when is None or when(app):
            app[key] = asyncio.create_task(forever(), name=what)

    async def stop(app: web.Application) -> None:
        task = app.get(key)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
