"""POST /iso18626: balis's ISO 18626 endpoint for other ILL networks (docs/iso18626.md), and the background
sender of the peer outbox. Machine to machine: no session, no CSRF token; each peer is authenticated by its
shared secret (Authorization: Bearer …, or TLS client certificates at the proxy in front)."""

from __future__ import annotations

import asyncio
import logging
import os

from aiohttp import web

from ill.peers import receive, secret_of
from portal.background import repeat
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
    session: dict = {}

    async def send_once() -> None:
        import aiohttp

        from services.peers import send

        if "http" not in session:  # one HTTP client for the portal's life, closed with it
            session["http"] = aiohttp.ClientSession()
        report = await send(app[STORE], app[REGISTRY], session=session["http"])
        if report.sent or report.failed:
            log.info("ISO 18626: %d message(s) sent, %d refused by peers", report.sent, report.failed)
        for error in report.errors:
            log.warning("ISO 18626 message waits: %s", error)

    async def close(app: web.Application) -> None:
        if "http" in session:
            await session.pop("http").close()

    every = float(os.environ.get("BALIS_PEER_SEND_EVERY") or SEND_EVERY)
    repeat(app, SENDER, send_once, every, what="sending ISO 18626 messages", log=log,
           when=lambda app: bool(app[REGISTRY].peers))
    app.on_cleanup.append(close)
