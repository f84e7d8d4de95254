"""POST /iso18626: balis's ISO 18626 endpoint for other ILL networks (docs/iso18626.md), and the background
sender of the peer outbox. Machine to machine: no session, no CSRF token; each peer is authenticated by its
shared secret (Authorization: Bearer …, or TLS client certificates at the proxy in front)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from aiohttp import web

from ill.peers import receive, secret_of
from portal.keys import REGISTRY, STORE

log = logging.getLogger(__name__)

PATH = "/iso18626"
MAX_MESSAGE = 1024 * 1024
SEND_EVERY = 10.0  # seconds between looks at the peer outbox ($BALIS_PEER_SEND_EVERY)
SENDER = web.AppKey("peer_sender", object)
CONTENT_TYPE = "application/xml"


async def endpoint(request: web.Request) -> web.Response:
    body = await request.content.read(MAX_MESSAGE + 1)
    store, registry = request.app[STORE], request.app[REGISTRY]
    if len(body) > MAX_MESSAGE:
        body = b"<too-large/>"
    answer = await asyncio.to_thread(receive, store, registry, body, secret_of(request.headers.get("Authorization")))
    return web.Response(status=answer.status, body=answer.body, content_type=CONTENT_TYPE, charset="utf-8")


def add_routes(app: web.Application) -> None:
    app.router.add_post(PATH, endpoint, name="iso18626")

    async def start(app: web.Application) -> None:
        if app[REGISTRY].peers:
            every = float(os.environ.get("BALIS_PEER_SEND_EVERY") or SEND_EVERY)
            app[SENDER] = asyncio.create_task(_send_forever(app, every))

    async def stop(app: web.Application) -> None:
        task = app.get(SENDER)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.on_startup.append(start)
    app.on_cleanup.append(stop)


async def _send_forever(app: web.Application, every: float) -> None:
    import aiohttp

    from services.peers import send

    async with aiohttp.ClientSession() as session:
        while True:
            try:
                report = await send(app[STORE], app[REGISTRY], session=session)
                if report.sent or report.failed:
                    log.info("ISO 18626: %d message(s) sent, %d refused by peers", report.sent, report.failed)
                for error in report.errors:
                    log.warning("ISO 18626 message waits: %s", error)
            except Exception:  # a store briefly unavailable must not end the sender
                log.exception("sending ISO 18626 messages failed; trying again in %.0f s", every)
            await asyncio.sleep(every)
