"""我的消息: a signed-in reader's or staff member's notices, their mail setting, and the portal's mailer that sends
the outbox continuously (docs/notices.md). The notices themselves are written by the ILL store (ill/notices.py)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from ill import outbox
from ill.errors import InvalidRequest
from ill.mail import MailConfig, deliver
from ill.notices import SUBJECT_PREFIX
from ill.workdays import BEIJING
from portal.auth import require
from portal.background import repeat
from portal.keys import STORE
from portal.render import private_page

log = logging.getLogger("balis.notices")

MAILER = web.AppKey("mailer", object)
MAIL_CONFIG = web.AppKey("mail_config", object)
SEND_EVERY = 15.0  # seconds between two looks at the outbox
PAGE = 100


def add_routes(app: web.Application) -> None:
    app.router.add_get("/messages", messages_page, name="messages")
    app.router.add_post("/messages/read", mark_all_read, name="messages_read")
    app.router.add_post("/messages/settings", save_settings, name="messages_settings")


def notice_view(x: dict) -> dict:
    return {"id": x["id"], "kind": x["kind"], "subject": x["subject"].removeprefix(SUBJECT_PREFIX).strip(),
            "body": x["body"], "link": x["link"],
            "request_id": x["request_id"], "unread": x["read_at"] is None, "email": x["email"],
            "at": x["created_at"].astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")}


async def _page(request: web.Request, *, status: int = 200, error: str | None = None, saved: bool = False):
    user = require(request, "reader", "staff")
    store = request.app[STORE]
    rows, me = await asyncio.to_thread(lambda: (outbox.for_user(store, user["id"], limit=PAGE), store.user(user["id"])))
    return private_page(request, "messages.html", status=status, notices=[notice_view(x) for x in rows],
                        me=me, error=error, saved=saved or request.query.get("saved") == "1",
                        unread=sum(x["read_at"] is None for x in rows))


async def messages_page(request: web.Request) -> web.Response:
    return await _page(request)


async def mark_all_read(request: web.Request) -> web.Response:
    user = require(request, "reader", "staff")
    await asyncio.to_thread(outbox.mark_read, request.app[STORE], user["id"])
    raise web.HTTPSeeOther("/messages")


async def save_settings(request: web.Request) -> web.Response:
    user = require(request, "reader", "staff")
    form = await request.post()
    address = str(form.get("email", ""))[:300]
    enabled = form.get("email_notices") == "on"
    try:
        await asyncio.to_thread(outbox.set_email, request.app[STORE], user["id"], address=address, enabled=enabled)
    except InvalidRequest as exc:
        return await _page(request, status=422, error=str(exc))
    raise web.HTTPSeeOther("/messages?saved=1")


async def recent_for_desk(request: web.Request, user_id: str, limit: int = 5) -> tuple[list[dict], int]:
    """A staff member's newest unread notices for the desk, and how many are unread in all."""
    store = request.app[STORE]
    rows, count = await asyncio.to_thread(lambda: (outbox.for_user(store, user_id, limit=limit, unread_only=True),
                                                   outbox.unread(store, user_id)))
    return [notice_view(x) for x in rows], count


# ---- the mailer: the outbox is sent continuously while the portal runs --------------------------------------

def setup_mailer(app: web.Application, config: MailConfig | None, every: float | None = None) -> None:
    """With a mail server, send the outbox every `every` seconds (SEND_EVERY) from start-up to shut-down; while
    the server cannot be reached, four times as seldom (and said once)."""
    app[MAIL_CONFIG] = config
    if config is None:
        return
    every = every or SEND_EVERY
    state = {"down": False}

    async def send_once() -> float:
        report = await asyncio.to_thread(deliver, app[STORE], config)
        if report.error and not state["down"]:
            log.warning("mail server %s cannot be reached: %s; notices wait and are tried again",
                        config.safe_url, report.error)
        elif report.sent:
            log.info("mailed %d notice(s) through %s", report.sent, config.safe_url)
        state["down"] = bool(report.error)
        return every * 4 if state["down"] else every

    repeat(app, MAILER, send_once, every, what="sending notices", log=log)
