"""The staff desk: a member library's ILL queues, one request with its actions, and the locate-lenders tool.

Staff see and act only on their own library's requests: as the lender (the request is at the library now)
or as the borrowing library (the reader is theirs). The ILL store enforces the same rule again.

    GET  /desk                              the queues (counts, due-by times, late ones marked)
    GET  /desk/requests?id=N                → /desk/requests/N
    GET  /desk/requests/{id}                one request: legs, history, the actions possible now
    GET  /desk/requests/{id}/confirm        step 1 of an action: what it does, reason/price/rota fields
    POST /desk/requests/{id}/act            step 2: the action (csrf_token, action, expect, reason, ...)
    POST /desk/batch                        one action on the requests ticked in a queue (each through the
                                            workflow), or their pull slips / shipping labels (portal/slips.py)
    GET  /desk/locate                       query or ISBN → the edition and the rota for our readers
    GET  /api/desk/queues                   the same as JSON
    GET  /api/desk/requests/{id}
    POST /api/desk/requests/{id}/actions
    POST /api/desk/requests/{id}/forward    the borrowing library sends it to another ILL network (ISO 18626)
    POST /api/desk/actions                  one action on a list of requests, a result for each
    GET  /api/desk/locate

The lender's rows and request page show its own copy (services/copies.py): call number, location and barcode
from its holdings, and the status its catalogue gives now, asked with a short deadline ("unknown" after it).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urlencode

from aiohttp import web

from ill import machine as m
from ill.errors import IllError, NotFound, Refused, RuleViolation, StoreError
from ill.notices import contact_of
from ill.workdays import BEIJING, deadline_text
from portal.auth import Forbidden, require
from portal.i18n import message
from portal.ill_errors import ill_status
from portal.keys import CATALOGUE, INDEX_DIR, LANG, LIMITER, REGISTRY, STORE
from portal.messages import recent_for_desk
from portal.openapi_parts import ERROR_RESPONSE, NULL_INT, NULL_STR, REFUSED, STR, ok
from portal.params import ParamError, ascii_digits, json_body, request_number
from portal.render import json_answer, private_page

MAX_REASON = 500
MAX_ROTA = 10
MEMBER_CODE = re.compile(r"^[A-Z0-9_-]{1,32}$")

# The queues, in the order a desk works them. Each request of the library falls into zero or more.
QUEUES = ("answer", "ship", "route", "receive", "lend", "returns_out", "loans_out", "returns_in", "overdue",
          "waiting")
WAITING = (m.REQUEST_RECEIVED, m.EXPECT_TO_SUPPLY, m.WILL_SUPPLY)
LOAN_OUT_PHASES = (m.TRANSIT, m.LIBRARY, m.READER, m.RETURNED)

# what each action asks for, as the workflow says (ill/machine.py)
STAFF_ACTIONS = tuple(a for a in m.PERSON_ACTIONS if a != m.ROLLBACK)
REASON_REQUIRED = frozenset(a for a in STAFF_ACTIONS if m.reason_rule(a) == "required")
REASON_OPTIONAL = frozenset(a for a in STAFF_ACTIONS if m.reason_rule(a) == "optional")
PRICE_ACTIONS = frozenset(a for a in STAFF_ACTIONS if m.requirements(a).price)
# what may be done to several requests at once: every staff action that needs nothing per request
BATCH_ACTIONS = tuple(a for a in STAFF_ACTIONS if a not in (m.ROUTE, m.NOTIFY) and a not in PRICE_ACTIONS)
MAX_BATCH = 100
DANGER = frozenset({m.ANSWER_UNFILLED, m.ANSWER_RETRY, m.CANCEL, m.REPORT_LOST, m.REPORT_DAMAGED, m.RECALL})

log = logging.getLogger("balis.portal")


# -- pure parts: which queue, which actions ------------------------------------------------------------
def queues_of(req: dict, member: str) -> list[str]:
    """The desk queues of `member` that request `req` belongs in (empty: nothing for this desk to do)."""
    status, phase, out = req["status"], req["phase"], []
    if req.get("lender") == member:
        if status == m.REQUEST_RECEIVED:
            out.append("answer")
        elif status in (m.EXPECT_TO_SUPPLY, m.WILL_SUPPLY):
            out.append("ship")
        elif status in (m.LOANED, m.OVERDUE, m.RECALLED):
            if phase in LOAN_OUT_PHASES:
                out.append("loans_out")
            elif phase == m.RETURN_TRANSIT:
                out.append("returns_in")
    if req.get("borrower") == member:
        if status == m.PENDING:
            out.append("route")
        elif phase == m.TRANSIT:
            out.append("receive")
        elif phase == m.LIBRARY:
            out.append("lend")
        elif phase == m.RETURNED:
            out.append("returns_out")
    if status == m.OVERDUE:
        out.append("overdue")
    if req.get("borrower") == member and status in WAITING:
        out.append("waiting")
    return out


def due_of(req: dict, queue: str) -> datetime | None:
    """The deadline that matters in `queue`: answer by, ship by, or the loan's due date."""
    if queue == "answer":
        return req.get("answer_due")
    if queue == "ship":
        return req.get("ship_due")
    if queue == "waiting":
        return req.get("answer_due") if req["status"] == m.REQUEST_RECEIVED else req.get("ship_due")
    if queue in ("loans_out", "overdue", "returns_out", "lend"):
        return req.get("due_back")
    return None


def sides(req: dict, member: str | None) -> list[str]:
    """The store's roles of a staff member of `member` on `req` (lender, borrower, or both/none)."""
    out = []
    if member and req.get("lender") == member:
        out.append(m.LENDER)
    if member and req.get("borrower") == member:
        out.append(m.BORROWER)
    return out


def staff_of(member: str | None, user_id: str = "") -> dict:
    """A staff member of `member` as the workflow sees an actor."""
    return {"id": user_id, "role": "staff", "member": member}


def staff_actions(req: dict, member: str | None, now: datetime | None = None) -> list[str]:
    """The actions this library's staff may take on `req` now: exactly what the workflow's `explain` allows."""
    return m.may(req, staff_of(member), now or datetime.now(UTC))


def state_key(req: dict) -> str:
    """What the staff member saw when choosing an action (checked again when the action arrives)."""
    return f"{req['status']}/{req['phase']}/{req.get('lender') or ''}/{req.get('version', '')}"


def parse_rota(text: str | list | None) -> list[str]:
    """'PKU, RUC BNU' or ['PKU', 'RUC'] → ['PKU', 'RUC', 'BNU']; ParamError for anything else."""
    if text is None:
        return []
    items = text if isinstance(text, list) else re.split(r"[\s,，、;]+", str(text))
    codes = []
    for item in items:
        if not isinstance(item, str):
            raise ParamError("rota", "param.rota")
        code = item.strip().upper()
        if not code:
            continue
        if not MEMBER_CODE.match(code):
            raise ParamError("rota", "param.rota")
        if code not in codes:
            codes.append(code)
    if len(codes) > MAX_ROTA:
        raise ParamError("rota", "param.repeated", limit=MAX_ROTA)
    return codes


def parse_reason(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ParamError("reason", "param.json")
    text = value.strip()
    if len(text) > MAX_REASON:
        raise ParamError("reason", "param.too_long", limit=MAX_REASON)
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        raise ParamError("reason", "param.control")
    return text


def parse_price(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        price = float(str(value).strip().replace("¥", "").replace("元", ""))
    except ValueError:
        raise ParamError("price", "param.price") from None
    if not 0 <= price <= 100000:
        raise ParamError("price", "param.price")
    return price


# -- formatting ----------------------------------------------------------------------------------------
def when(moment: datetime | None) -> str:
    """A moment as staff read it: Beijing time to the minute."""
    return "" if moment is None else moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


REQUEST_FIELDS = ("id", "kind", "source", "work_id", "title", "author", "citation", "status", "phase",
                  "borrower", "lender", "rota_index", "submitted_at", "answer_due", "ship_due", "answered_at",
                  "shipped_at", "received_at", "lent_at", "due_back", "taken_back_at", "return_shipped_at",
                  "completed_at", "reader_message", "price")


def request_json(req: dict, member: str | None, *, admin: bool = False) -> dict:
    """A request as the API gives it to staff of `member` (or to an administrator). The reader's card
    number is shown to the borrowing library and administrators only."""
    doc = {k: iso(req.get(k)) for k in REQUEST_FIELDS}
    doc["reader_id"] = req["reader_id"] if admin or req.get("borrower") == member else None
    doc["rota"] = [{"member": e["member"], "reason": e.get("reason") or ""} for e in req.get("rota") or []]
    doc["version"] = req.get("version")
    doc["state"] = state_key(req)
    doc["sides"] = sides(req, member)
    doc["actions"] = [] if admin else staff_actions(req, member)
    doc["citation_source"] = "edition" if req.get("work_id") else "manual"
    return doc


def copy_json(copy) -> dict | None:
    """The lender's own copy (services.copies.OwnCopy) as the API gives it."""
    return None if copy is None else copy.to_dict()


def leg_json(leg: dict) -> dict:
    return {k: iso(leg.get(k)) for k in ("seq", "lender", "arrived_at", "answer_due", "ship_due", "answered_at",
                                         "answer", "shipped_at", "closed_at", "outcome", "note")}


def history_json(entry: dict, *, hide_reader: bool = False) -> dict:
    """An audit entry; `hide_reader`: a reader's card number is left out (for the lender's staff)."""
    doc = {k: iso(entry.get(k)) for k in ("id", "at", "actor", "actor_role", "action", "from_status",
                                          "from_phase", "to_status", "to_phase", "lender", "reason",
                                          "rolled_back_by")}
    if hide_reader and entry.get("actor_role") == m.READER_:
        doc["actor"] = m.READER_
    return doc


# -- access --------------------------------------------------------------------------------------------
def _store(request: web.Request):
    return request.app[STORE]


async def own_request(request: web.Request, user: dict, rid: int) -> dict:
    """The request, if the staff member's library is its lender or borrowing library; else 403 (no content)."""
    req = await asyncio.to_thread(_store(request).get, rid)
    if not sides(req, user["member"]):
        raise Forbidden(message("desk.not_ours", request[LANG], id=rid, member=user["member"]))
    return req


def request_id(request: web.Request) -> int:
    return request_number("id", request.match_info["id"])


async def queues(request: web.Request, member: str) -> dict[str, list[dict]]:
    """Each queue's requests for `member`, oldest deadline first."""
    store = _store(request)
    rows = await asyncio.to_thread(store.list_requests, member=member, open_only=True, limit=5000)
    now = store.clock()
    out: dict[str, list[dict]] = {q: [] for q in QUEUES}
    for req in rows:
        for q in queues_of(req, member):
            due = due_of(req, q)
            out[q].append({"req": req, "due": due, "late": due is not None and due < now})
    far = datetime.max.replace(tzinfo=BEIJING)
    for q in QUEUES:
        out[q].sort(key=lambda e: (e["due"] or far, e["req"]["id"]))
    return out


# the lender's rows whose copy is still on its shelf: asked live; the others show the copy as catalogued
LIVE_QUEUES = ("answer", "ship")
COPY_QUEUES = ("answer", "ship", "loans_out", "returns_in")


async def own_copies(request: web.Request, reqs: list[dict], member: str, *, live: bool = True) -> dict:
    """Request id → our copy (services.copies.OwnCopy) for requests at our library as lender; with `live`, one
    look at our own catalogue for all of them, cut short at services.copies.LIVE_DEADLINE."""
    from services.copies import NO_ANSWER, copies_for

    mine = [r for r in reqs if r.get("lender") == member]
    if not mine:
        return {}
    catalogue = request.app[CATALOGUE]
    try:
        us = catalogue.registry.get(member)
    except KeyError:
        return {}
    works = await catalogue.works_by_id(r["work_id"] for r in mine if r.get("work_id"))
    federator = catalogue.federator if live else None
    try:
        return await copies_for(mine, us, work_of=works.get, federator=federator)
    except Exception as exc:  # noqa: BLE001 - the page stands without the status; the cause goes to the log
        log.error("desk: the live look at %s failed", member, exc_info=True)
        copies = await copies_for(mine, us, work_of=works.get, federator=None)
        return {k: replace(c, live=NO_ANSWER, why=f"{exc.__class__.__name__}") for k, c in copies.items()}


async def queue_copies(request: web.Request, qs: dict[str, list[dict]], member: str) -> dict:
    """Our copy for every row of the lender's queues (live for those still on the shelf)."""
    def reqs(names) -> list[dict]:
        return list({e["req"]["id"]: e["req"] for q in names for e in qs[q]}.values())

    copies = await own_copies(request, reqs(LIVE_QUEUES), member)
    rest = [r for r in reqs(COPY_QUEUES) if r["id"] not in copies]
    copies.update(await own_copies(request, rest, member, live=False))
    return copies


# -- pages ---------------------------------------------------------------------------------------------
_render = private_page  # every desk and administration page is about one user's work: never cached


def _helpers(request: web.Request) -> dict:
    from portal.reader import delivery_text

    lang = request[LANG]
    registry = request.app[CATALOGUE].registry
    return {"when": when, "deadline": lambda d: deadline_text(d) if d else "",
            "delivery": lambda req: delivery_text(req, registry, lang),
            "status_label": lambda s: message(f"ill.status.{s.lower()}", lang),
            "phase_label": lambda p: message(f"ill.phase.{p or 'none'}", lang),
            "state_label": lambda st, p: "" if not st else message(f"ill.status.{st.lower()}", lang) + (
                f" · {message(f'ill.phase.{p}', lang)}" if p else ""),
            "action_label": lambda a: message(f"action.{a.lower()}", lang),
            "copy_status": lambda c: message(f"copy.status.{c.status}", lang) if c.live == "answered"
            else message(f"copy.live.{c.live}", lang)}


async def desk_page(request: web.Request) -> web.Response:
    user = require(request, "staff")
    qs = await queues(request, user["member"])
    names = request.app[CATALOGUE].names(request[LANG])
    done, gone = request.query.get("done", ""), request.query.get("request", "")
    notice = None
    if done in m.ACTIONS and ascii_digits(gone) and len(gone) <= 12:
        lang = request[LANG]
        notice = message("desk.done_gone", lang, action=message(f"action.{done.lower()}", lang), id=gone)
    staff_notices, unread = await recent_for_desk(request, user["id"])
    copies = await queue_copies(request, qs, user["member"])
    now = _store(request).clock()
    offered = {q: [a for a in BATCH_ACTIONS if any(a in staff_actions(e["req"], user["member"], now) for e in qs[q])]
               for q in QUEUES}
    return _render(request, "desk.html", offered=offered, queues=qs, order=QUEUES, member=user["member"], names=names, notice=notice,
                   staff_notices=staff_notices, unread=unread, copies=copies, copy_queues=COPY_QUEUES,
                   batch_actions=BATCH_ACTIONS, reason_required=REASON_REQUIRED, reason_optional=REASON_OPTIONAL,
                   actions_of=lambda req: staff_actions(req, user["member"]), **_helpers(request))


async def find_request(request: web.Request) -> web.Response:
    """GET /desk/requests?id=N (the desk's "open request no." form) → that request's page."""
    require(request, "staff")
    raise web.HTTPSeeOther(f"/desk/requests/{request_number('id', request.query.get('id', ''))}")


async def request_page(request: web.Request, *, status: int = 200, error: str | None = None,
                       rid: int | None = None) -> web.Response:
    user = require(request, "staff")
    rid = request_id(request) if rid is None else rid
    req = await own_request(request, user, rid)
    store = _store(request)
    legs = await asyncio.to_thread(store.legs, rid)
    history = await asyncio.to_thread(store.history, rid)
    done = request.query.get("done", "")
    done = done if done in m.ACTIONS or done in m.OPTIONAL_ACTIONS else ""
    copy = (await own_copies(request, [req], user["member"])).get(rid)
    duplicates = await asyncio.to_thread(store.possible_duplicates, rid) if req["borrower"] == user["member"] else []
    from portal.docdelivery import desk_view

    dd = await asyncio.to_thread(desk_view, req, user["member"], store, store.clock(), request[LANG])
    return _render(request, "desk_request.html", status=status, req=req, legs=legs, history=history, copy=copy,
                   duplicates=duplicates, dd=dd,
                   actions=staff_actions(req, user["member"]), member=user["member"], error=error, done=done,
                   show_reader=req["borrower"] == user["member"], danger=DANGER,
                   contacts=[(code, contact_of(request.app[REGISTRY], code)) for code in
                             dict.fromkeys((req["borrower"], req["lender"])) if code and code != user["member"]],
                   names=request.app[CATALOGUE].names(request[LANG]), forward=forward_options(request, req, user),
                   **_helpers(request))


async def confirm_page(request: web.Request) -> web.Response:
    user = require(request, "staff")
    rid = request_id(request)
    req = await own_request(request, user, rid)
    action = request.query.get("action", "")
    return await _confirm(request, user, req, action, reason=request.query.get("reason", "")[:MAX_REASON],
                          price=request.query.get("price", "")[:20], rota=request.query.get("rota", "")[:400],
                          work=request.query.get("work_id", "")[:40])


async def _confirm(request: web.Request, user: dict, req: dict, action: str, *, reason: str = "", price: str = "",
                   rota: str = "", work: str = "", error: str | None = None, status: int = 200,
                   expect: str | None = None) -> web.Response:
    now = _store(request).clock()
    allowed = staff_actions(req, user["member"], now)
    if action not in allowed:
        lang = request[LANG]
        text = message("desk.action_not_now", lang, action=action[:40], id=req["id"],
                       status=message(f"ill.status.{req['status'].lower()}", lang),
                       allowed=", ".join(message(f"action.{a.lower()}", lang) for a in allowed) or "—")
        # the status of the workflow's refusal (403: the other side's action; 409: not in this state)
        refused = ill_status(m.verdict(req, staff_of(user["member"], user["id"]), now, action).error(req)) \
            if action in STAFF_ACTIONS else 409
        return await request_page(request, status=refused, error=text, rid=req["id"])
    return _render(request, "desk_confirm.html", status=status, req=req, action=action, reason=reason,
                   price=price, rota=rota, work_id=work, error=error, expect=expect or state_key(req),
                   needs_reason=action in REASON_REQUIRED, may_reason=action in REASON_OPTIONAL,
                   needs_price=action in PRICE_ACTIONS, needs_rota=action == m.ROUTE, danger=action in DANGER,
                   **_helpers(request))


async def act_submit(request: web.Request) -> web.Response:
    user = require(request, "staff")
    rid = request_id(request)
    form = await request.post()
    field = {k: str(form.get(k, "")) for k in ("action", "reason", "price", "rota", "work_id", "expect",
                                                "confirm_edition")}
    req = await own_request(request, user, rid)
    lang = request[LANG]
    kept = dict(reason=field["reason"][:MAX_REASON], price=field["price"][:20], rota=field["rota"][:400],
                work=field["work_id"][:40])
    if field["expect"] and field["expect"] != state_key(req):
        text = message("desk.changed", lang, id=rid, status=message(f"ill.status.{req['status'].lower()}", lang))
        return await request_page(request, status=409, error=text, rid=rid)
    try:
        changed = await _act(request, user, req, field["action"], field)
    except ParamError as exc:
        text = message("error.bad_param", lang, name=exc.name, message=message(exc.key, lang, **exc.values))
        return await _confirm(request, user, req, field["action"], error=text, status=400, **kept)
    except StoreError:
        raise
    except IllError as exc:  # refused (the form shows the request as it is now), or a value missing or wrong
        current = await asyncio.to_thread(_store(request).get, rid) if isinstance(exc, (Refused, NotFound)) else req
        return await _confirm(request, user, current, field["action"], error=str(exc), status=ill_status(exc),
                              **kept)
    if not sides(changed, user["member"]):  # passed on to the next lender: no longer ours to see
        raise web.HTTPSeeOther(f"/desk?{urlencode({'done': field['action'], 'request': rid})}")
    raise web.HTTPSeeOther(f"/desk/requests/{rid}?{urlencode({'done': field['action']})}")


async def _act(request: web.Request, user: dict, req: dict, action: str, values: dict) -> dict:
    """Ask the workflow, check the values the action needs, then take it in the store (which asks again in
    the same transaction as the change)."""
    if action not in STAFF_ACTIONS:
        raise ParamError("action", "param.choice", choices=", ".join(staff_actions(req, user["member"])) or "—")
    verdict = m.verdict(req, staff_of(user["member"], user["id"]), _store(request).clock(), action)
    if not verdict.allowed:
        raise verdict.error(req)
    reason = parse_reason(values.get("reason"))
    if action in REASON_REQUIRED and not reason:
        raise ParamError("reason", "param.reason_needed")
    price = parse_price(values.get("price")) if action in PRICE_ACTIONS else None
    rota = parse_rota(values.get("rota")) if action == m.ROUTE else None
    if action == m.ROUTE and not rota:
        raise ParamError("rota", "param.rota")
    work = values.get("work_id") or None
    if work is not None:
        from portal.params import work_id as check_work_id

        work = check_work_id(str(work))
    edition = await _edition_of(request, work) if action == m.ROUTE and work else None
    return await asyncio.to_thread(_store(request).act, req["id"], action, user["id"], reason=reason, price=price,
                                   rota=rota, work_id=work if action == m.ROUTE else None, edition=edition,
                                   confirm_edition=values.get("confirm_edition") in (True, "1", "on", "true"))


async def _edition_of(request: web.Request, work_id: str) -> dict | None:
    """The title and ISBNs of the edition a manual request is routed to, for the workflow to compare."""
    from services.requests import edition_text

    work, _others = await request.app[CATALOGUE].edition(work_id)
    return edition_text(work).edition(work) if work is not None else None


# -- several requests at once ---------------------------------------------------------------------------
def parse_items(values: list, name: str = "id") -> list[tuple[int, str | None]]:
    """Ticked requests: "12" or "12@state" (the state the desk showed), or {"id", "expect"} in JSON; each once,
    in the order given, at most MAX_BATCH. ParamError naming `name` otherwise."""
    out: dict[int, str | None] = {}
    for value in values:
        if isinstance(value, dict):
            rid, expect = value.get("id"), value.get("expect")
            if isinstance(rid, bool) or not isinstance(rid, (int, str)) or not isinstance(expect, (str, type(None))):
                raise ParamError(name, "param.json")
            rid = request_number(name, str(rid))
        elif isinstance(value, (int, str)) and not isinstance(value, bool):
            text, _, expect = str(value).partition("@")
            rid, expect = request_number(name, text), expect or None
        else:
            raise ParamError(name, "param.json")
        out.setdefault(rid, expect)
    if not out:
        raise ParamError(name, "param.batch_empty")
    if len(out) > MAX_BATCH:
        raise ParamError(name, "param.repeated", limit=MAX_BATCH)
    return list(out.items())


def batch_action(action, allowed=BATCH_ACTIONS) -> str:
    if not isinstance(action, str) or action not in allowed:
        raise ParamError("action", "param.choice", choices=", ".join(allowed))
    return action


async def act_many(request: web.Request, user: dict, action: str, items: list[tuple[int, str | None]],
                   values: dict) -> list[dict]:
    """Take `action` on each request in turn, each asked of the workflow and applied by the store on its own;
    one result per request: {id, ok, code, message, title, from, to, request}. A refusal does not stop the rest."""
    lang = request[LANG]
    reason = parse_reason(values.get("reason"))
    if action in REASON_REQUIRED and not reason:
        raise ParamError("reason", "param.reason_needed")
    results = []
    for rid, expect in items:
        out: dict = {"id": rid, "ok": False, "code": "", "message": "", "title": "", "from": None, "to": None,
                     "request": None}
        try:
            req = await own_request(request, user, rid)
        except Forbidden as exc:
            results.append({**out, "code": "not_yours", "message": exc.why})
            continue
        except NotFound as exc:
            results.append({**out, "code": "not_found", "message": str(exc)})
            continue
        out.update(title=req["title"] or req["citation"], **{"from": state_key(req).rsplit("/", 2)[0]})
        if expect and expect != state_key(req):
            text = message("desk.changed", lang, id=rid, status=message(f"ill.status.{req['status'].lower()}", lang))
            results.append({**out, "code": "changed", "message": text})
            continue
        try:
            changed = await _act(request, user, req, action, {"reason": reason})
        except ParamError as exc:
            results.append({**out, "code": "bad_value", "message": message(
                "error.bad_param", lang, name=exc.name, message=message(exc.key, lang, **exc.values))})
            continue
        except StoreError:
            raise
        except IllError as exc:
            results.append({**out, "code": getattr(exc, "code", None) or type(exc).__name__, "message": str(exc)})
            continue
        results.append({**out, "ok": True, "code": "ok", "to": f"{changed['status']}/{changed['phase']}",
                        "request": changed})
    return results


async def batch_submit(request: web.Request) -> web.Response:
    """POST /desk/batch: the ticked requests of a queue: `do` = act (with action, reason) or slips / labels."""
    user = require(request, "staff")
    form = await request.post()
    items = parse_items([str(v) for v in form.getall("item", [])], "item")
    do = str(form.get("do", "act"))
    if do in ("slips", "labels"):
        from portal.slips import slips_url

        raise web.HTTPSeeOther(slips_url([rid for rid, _ in items], do))
    action = batch_action(str(form.get("action", "")))
    results = await act_many(request, user, action, items, {"reason": str(form.get("reason", ""))[:MAX_REASON]})
    done = [r["id"] for r in results if r["ok"]]
    return _render(request, "desk_batch.html", status=200, action=action, results=results, done=done,
                   refused=[r for r in results if not r["ok"]], member=user["member"],
                   reason=str(form.get("reason", ""))[:MAX_REASON], **_helpers(request))


async def api_act_many(request: web.Request) -> web.Response:
    """POST /api/desk/actions {"action", "reason", "requests": [id | {"id", "expect"}, ...]}."""
    user = require(request, "staff")
    body = await json_body(request)
    requests_ = body.get("requests")
    if not isinstance(requests_, list):
        raise ParamError("requests", "param.json")
    action = batch_action(body.get("action"))
    results = await act_many(request, user, action, parse_items(requests_, "requests"), body)
    for r in results:
        r["request"] = request_json(r["request"], user["member"]) if r["request"] else None
    return _json({"action": action, "done": sum(r["ok"] for r in results),
                  "refused": sum(not r["ok"] for r in results), "results": results})


# -- locating lenders ----------------------------------------------------------------------------------
def locate_query(text: str, isbn: str):
    """The parsed query of the locate form: an ISBN (digits, X, hyphens) or the reader query syntax."""
    from connectors.query import QueryError, parse
    from portal.params import SearchQueryError

    if isbn:
        digits = isbn.replace("-", "").replace(" ", "")
        if not (len(digits) in (10, 13) and ascii_digits(digits[:-1]) and (ascii_digits(digits[-1]) or digits[-1] in "xX")):
            raise ParamError("isbn", "param.isbn_digits")
        text = f"isbn:{digits}"
    try:
        return parse(text)
    except QueryError as exc:
        raise SearchQueryError("q" if not isbn else "isbn", exc) from None


def locate_kind(value: str | None, target: dict | None = None) -> str:
    """loan (a returnable loan: print editions first) or copy; a request being routed says which."""
    if target is not None:
        return target["kind"]
    value = (value or "").strip() or m.LOAN
    if value not in m.KINDS:
        raise ParamError("kind", "param.choice", choices=", ".join(m.KINDS))
    return value


def _union_search(catalogue):
    """The union index's editions for a query, through the portal's own index (none when it cannot answer)."""
    from portal.local import IndexUnavailable

    async def search(query) -> list:
        if catalogue.local is None or not catalogue.local.usable():
            return []
        try:
            result, _generation = await catalogue.local.search(query, size=50)
        except IndexUnavailable:
            return []
        return list(result.works)

    return search


async def locate(request: web.Request, home: str, text: str, isbn: str, *, work: str = "", kind: str = m.LOAN,
                 target: dict | None = None) -> dict:
    """The editions, the chosen one (`work`, else the best; print first for a loan) and the rota for a reader
    of `home`, as a plain document (the page and the API). With `target` (a manual request being routed), a
    chosen edition whose title or ISBN is not the reader's says why (`mismatch`)."""
    from ill.editions import mismatch
    from routing import RoutingError
    from services.lenders import Found, locate_lenders
    from services.views import locate_json

    if len(text) > 500:
        raise ParamError("q", "param.too_long", limit=500)
    if not (text or isbn):
        raise ParamError("q", "param.empty_query")
    if text and isbn:
        raise ParamError("isbn", "param.one_of", names="q, isbn")
    if work:
        from portal.params import work_id as check_work_id

        work = check_work_id(work)
    query = locate_query(text, isbn)
    request.app[LIMITER].check(request)  # it searches every member, like a reader's search
    catalogue = request.app[CATALOGUE]
    store = _store(request)
    registry = catalogue.registry  # with the portal's suspensions
    try:
        found, rota = await locate_lenders(registry, home, query=query, work_id=work or None,
                                           index_dir=request.app[INDEX_DIR], store=store,
                                           federator=catalogue.federator, union=_union_search(catalogue),
                                           kind=kind)
    except RoutingError as exc:
        found, rota = Found(why=str(exc)), None
    if found.history_problem:
        log.warning("locate for %s: %s", home, found.history_problem)
    catalogue._keep(found.editions)  # the edition pages, and routing to one, find them again by id
    doc = locate_json(found, rota, home=home, query=text or None, isbn=isbn or None, work=work or None)
    doc["kind"] = kind
    doc["mismatch"] = None
    if target is not None and found.work is not None:
        doc["mismatch"] = mismatch(target, doc["work"]["title"], list(found.work.isbns))
    return doc


async def locate_page(request: web.Request) -> web.Response:
    user = require(request, "staff")
    text = request.query.get("q", "").strip()
    isbn = request.query.get("isbn", "").strip()
    rid_text = request.query.get("request", "")
    target = None
    if rid_text:
        target = await own_request(request, user, request_number("request", rid_text))
        if m.ROUTE not in staff_actions(target, user["member"]):
            target = None
        elif not (text or isbn):
            if target.get("isbn"):  # the reader's ISBN finds the edition best
                isbn = target["isbn"]
            else:
                text = (target["title"] or target["citation"] or "")[:200]
                text = " ".join(f"ti:{w}" if i == 0 else w for i, w in enumerate(_plain(text).split()))
    kind = locate_kind(request.query.get("kind"), target)
    result = None
    if text or isbn:
        result = await locate(request, user["member"], text[:500], isbn[:40], work=request.query.get("work", "")[:40],
                              kind=kind, target=target)
    return _render(request, "desk_locate.html", q=text, isbn=isbn, result=result, target=target, kind=kind,
                   expect=state_key(target) if target else "",
                   member=user["member"], names=request.app[CATALOGUE].names(request[LANG]), **_helpers(request))


def _plain(text: str) -> str:
    """A title as search words: query syntax characters dropped."""
    return re.sub(r"[\"():*?=<>\\/]+", " ", text)


# -- the JSON API --------------------------------------------------------------------------------------
# -- forwarding to another ILL network (an ISO 18626 peer; docs/iso18626.md) -----------------------------------
def forward_options(request: web.Request, req: dict, user: dict) -> list:
    """The peers the borrowing library's staff may send `req` to now (none when the workflow says no)."""
    store = _store(request)
    if not m.verdict(req, staff_of(user["member"], user["id"]), store.clock(), m.FORWARD_PEER).allowed:
        return []
    return store.peers_for(req["kind"])


async def _forward(request: web.Request, user: dict, rid: int, peer: str, reason: str) -> dict:
    await own_request(request, user, rid)
    return await asyncio.to_thread(_store(request).forward_to_peer, rid, user["id"], peer, reason=reason)


async def forward_submit(request: web.Request) -> web.Response:
    """POST /desk/requests/{id}/forward (peer, reason): the request goes to another ILL network."""
    user = require(request, "staff")
    rid = request_id(request)
    form = await request.post()
    try:
        await _forward(request, user, rid, str(form.get("peer", ""))[:40], parse_reason(form.get("reason")))
    except StoreError:
        raise
    except IllError as exc:
        return await request_page(request, status=ill_status(exc), error=str(exc), rid=rid)
    raise web.HTTPSeeOther(f"/desk/requests/{rid}?{urlencode({'done': m.FORWARD_PEER})}")


async def api_forward(request: web.Request) -> web.Response:
    """POST /api/desk/requests/{id}/forward {"peer", "reason"}."""
    user = require(request, "staff")
    body = await json_body(request)
    if not isinstance(body.get("peer"), str):
        raise ParamError("peer", "param.json")
    changed = await _forward(request, user, request_id(request), body["peer"][:40], parse_reason(body.get("reason")))
    return _json({"request": request_json(changed, user["member"])})


def _json(data: dict, status: int = 200) -> web.Response:
    return json_answer(data, status, private=True)


async def api_queues(request: web.Request) -> web.Response:
    user = require(request, "staff")
    qs = await queues(request, user["member"])
    lang = request[LANG]
    doc = {"member": user["member"], "now": _store(request).clock().isoformat(), "queues": {}}
    copies = await queue_copies(request, qs, user["member"])
    for q in QUEUES:
        doc["queues"][q] = {"label": message(f"queue.{q}", lang), "count": len(qs[q]), "requests": [
            {**request_json(e["req"], user["member"]), "due": iso(e["due"]), "late": e["late"],
             "copy": copy_json(copies.get(e["req"]["id"]))} for e in qs[q]]}
    return _json(doc)


async def api_request(request: web.Request) -> web.Response:
    user = require(request, "staff")
    rid = request_id(request)
    req = await own_request(request, user, rid)
    store = _store(request)
    legs = await asyncio.to_thread(store.legs, rid)
    history = await asyncio.to_thread(store.history, rid)
    copy = (await own_copies(request, [req], user["member"])).get(rid)
    return _json({"request": {**request_json(req, user["member"]), "copy": copy_json(copy)},
                  "legs": [leg_json(x) for x in legs],
                  "history": [history_json(h, hide_reader=req["borrower"] != user["member"]) for h in history]})


async def api_act(request: web.Request) -> web.Response:
    user = require(request, "staff")
    rid = request_id(request)
    body = await json_body(request)
    if not isinstance(body.get("action"), str):
        raise ParamError("body", "param.json")
    req = await own_request(request, user, rid)
    expect = body.get("expect")
    if expect is not None and expect != state_key(req):
        raise RuleViolation(message("desk.changed", request[LANG], id=rid, status=req["status"]))
    price = body.get("price")
    if price is not None and not isinstance(price, (int, float, str)):
        raise ParamError("price", "param.price")
    changed = await _act(request, user, req, body["action"], body)
    return _json({"request": request_json(changed, user["member"])})


async def api_locate(request: web.Request) -> web.Response:
    user = require(request, "staff")
    text = request.query.get("q", "").strip()
    isbn = request.query.get("isbn", "").strip()[:40]
    target = None
    if request.query.get("request"):
        target = await own_request(request, user, request_number("request", request.query["request"]))
    return _json(await locate(request, user["member"], text, isbn, work=request.query.get("work", "")[:40],
                              kind=locate_kind(request.query.get("kind"), target), target=target))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/desk", desk_page, name="desk")
    app.router.add_get("/desk/locate", locate_page, name="desk_locate")
    app.router.add_get("/desk/requests", find_request, name="desk_find_request")
    app.router.add_get("/desk/requests/{id}", request_page, name="desk_request")
    app.router.add_get("/desk/requests/{id}/confirm", confirm_page, name="desk_confirm")
    app.router.add_post("/desk/requests/{id}/act", act_submit, name="desk_act")
    app.router.add_post("/desk/batch", batch_submit, name="desk_batch")
    app.router.add_post("/api/desk/actions", api_act_many, name="api_desk_act_many")
    from portal.slips import add_routes as add_slips

    add_slips(app)
    app.router.add_get("/api/desk/queues", api_queues, name="api_desk_queues")
    app.router.add_get("/api/desk/locate", api_locate, name="api_desk_locate")
    app.router.add_get("/api/desk/requests/{id}", api_request, name="api_desk_request")
    app.router.add_post("/api/desk/requests/{id}/actions", api_act, name="api_desk_act")
    app.router.add_post("/desk/requests/{id}/forward", forward_submit, name="desk_forward")
    app.router.add_post("/api/desk/requests/{id}/forward", api_forward, name="api_desk_forward")


# -- the description -----------------------------------------------------------------------------------
_S, _NS, _NI, ERROR, _ok = STR, NULL_STR, NULL_INT, ERROR_RESPONSE, ok


def _id_param() -> dict:
    return {"name": "id", "in": "path", "required": True, "description": "the request number",
            "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"}}


def openapi_parts() -> tuple[dict, dict]:
    """(paths, component schemas) this part adds to /api/openapi.json."""
    statuses = [m.PENDING, *m.ISO_STATUSES]
    ill_request = {"type": "object", "required": ["id", "kind", "status", "phase", "borrower", "lender", "title",
                                                  "state", "actions", "sides", "rota"], "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string", "enum": list(m.KINDS)},
        "source": {"type": "string", "enum": ["edition", "manual"]}, "work_id": _NS, "title": _S, "author": _S,
        "citation": _S, "status": {"type": "string", "enum": statuses},
        "phase": {"type": "string", "enum": list(m.PHASES)}, "borrower": _S, "lender": _NS,
        "reader_id": {**_NS, "description": "the reader's card number: shown to the borrowing library and "
                                            "administrators only"},
        "rota": {"type": "array", "items": {"type": "object", "required": ["member"], "properties": {
            "member": _S, "reason": _S}}},
        "rota_index": {"type": "integer"},
        **{k: {**_NS, "format": "date-time"} for k in (
            "submitted_at", "answer_due", "ship_due", "answered_at", "shipped_at", "received_at", "lent_at",
            "due_back", "taken_back_at", "return_shipped_at", "completed_at")},
        "reader_message": _S, "price": {"type": ["number", "null"]}, "version": _NI,
        "state": {**_S, "description": "status/phase/lender/version as read; send it back as `expect` so an "
                                       "action is refused (409) if someone changed the request meanwhile"},
        "sides": {"type": "array", "items": {"type": "string", "enum": [m.LENDER, m.BORROWER]}},
        "actions": {"type": "array", "items": _S, "description": "the actions this library may take now"},
        "citation_source": {"type": "string", "enum": ["edition", "manual"],
                            "description": "edition: the citation is a catalogue record; manual: the reader wrote it"},
        "copy": {"oneOf": [{"$ref": "#/components/schemas/OwnCopy"}, {"type": "null"}],
                 "description": "the lender's own copy (to the lender's staff; null elsewhere)"},
        "due": {**_NS, "description": "in a queue: the deadline that matters there"},
        "late": {"type": "boolean", "description": "in a queue: the deadline has passed"}}}
    leg = {"type": "object", "required": ["seq", "lender", "outcome"], "properties": {
        "seq": {"type": "integer"}, "lender": _S, "arrived_at": _NS, "answer_due": _NS, "ship_due": _NS,
        "answered_at": _NS, "answer": _NS, "shipped_at": _NS, "closed_at": _NS,
        "outcome": {"type": "string", "enum": ["open", "supplied", "unfilled", "timeout", "cancelled"]},
        "note": _S}}
    entry = {"type": "object", "required": ["id", "at", "actor", "action", "to_status"], "properties": {
        "id": {"type": "integer"}, "at": _S, "actor": _S, "actor_role": _S, "action": _S, "from_status": _NS,
        "from_phase": _NS, "to_status": _S, "to_phase": _S, "lender": _NS, "reason": _S, "rolled_back_by": _NI}}
    detail = {"type": "object", "required": ["request", "legs", "history"], "properties": {
        "request": {"$ref": "#/components/schemas/IllRequest"},
        "legs": {"type": "array", "items": {"$ref": "#/components/schemas/IllLeg"}},
        "history": {"type": "array", "items": {"$ref": "#/components/schemas/IllHistoryEntry"}}}}
    queue = {"type": "object", "required": ["label", "count", "requests"], "properties": {
        "label": _S, "count": {"type": "integer", "minimum": 0},
        "requests": {"type": "array", "items": {"$ref": "#/components/schemas/IllRequest"}}}}
    queues_doc = {"type": "object", "required": ["member", "now", "queues"], "properties": {
        "member": _S, "now": _S, "queues": {"type": "object", "required": list(QUEUES), "additionalProperties": False,
                                            "properties": {q: {"$ref": "#/components/schemas/DeskQueue"}
                                                           for q in QUEUES}}}}
    action_body = {"type": "object", "required": ["action"], "properties": {
        "action": {"type": "string", "enum": [a for a in m.ACTIONS if a not in m.SYSTEM_ACTIONS and a != m.ROLLBACK]},
        "reason": {"type": "string", "maxLength": MAX_REASON,
                   "description": "needed for " + ", ".join(sorted(REASON_REQUIRED))},
        "price": {"type": ["number", "null"], "minimum": 0, "description": "the book's price in yuan (lost, damaged)"},
        "rota": {"type": "array", "maxItems": MAX_ROTA, "items": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"},
                 "description": "route: the lenders to ask, in order"},
        "work_id": {"type": "string", "pattern": "^W[0-9a-f]{16}$", "description": "route: the edition found"},
        "expect": {"type": "string", "description": "the request's `state` as read"}}}
    locate_doc = {"type": "object", "required": ["home", "work", "rota"], "properties": {
        "home": _S, "query": _NS, "isbn": _NS, "source": _NS,
        "work": {"oneOf": [{"$ref": "#/components/schemas/Work"}, {"type": "null"}]},
        "other_works": {"type": "array", "items": _S},
        "rota": {"type": ["object", "null"], "description": "routing.Rota.to_dict() (docs/routing.md): lenders in "
                 "order with reasons, spare lenders, members left out and why"},
        "live_status": {"type": "array", "items": _S}, "history": _S, "error": _NS,
        "members": {"type": "array", "items": {"type": "object", "properties": {"code": _S, "status": _S}}},
        "editions": {"type": "array", "description": "every edition the query matched, the chosen one first "
                                                     "(choose another with ?work=)", "items": {
            "type": "object", "required": ["work_id", "title", "electronic", "chosen"], "properties": {
                "work_id": _S, "title": _S, "isbns": {"type": "array", "items": _S}, "material_type": _S,
                "electronic": {"type": "boolean"}, "chosen": {"type": "boolean"},
                "members": {"type": "array", "items": _S}, "copies": {"type": "integer"}}}},
        "print_preferred": {"type": "boolean", "description": "a loan: a print edition was chosen over an e-book "
                                                              "ranked above it"},
        "index_members": {"type": "array", "items": _S, "description": "holders the union index knows that the "
                                                                       "live search did not return"},
        "kind": {"type": "string", "enum": ["loan", "copy"]},
        "mismatch": {"type": ["string", "null"], "description": "with ?request=: why the chosen edition may not be "
                                                                "the reader's citation (routing then needs "
                                                                "confirm_edition)"}}}
    own_copy = {"type": "object", "required": ["member", "citation", "call_number", "status", "live"], "properties": {
        "member": _S, "citation": {"type": "string", "enum": ["edition", "manual"]}, "call_number": _S,
        "location": _S, "library": _S, "barcode": _S,
        "status": {"type": "string", "description": "records.model item status; unknown unless `live` is answered"},
        "status_word": _S, "due_date": _S, "copies": {"type": "integer", "minimum": 0},
        "source": {"type": "string", "enum": ["rota", "holdings", "none"],
                   "description": "where the call number came from"},
        "live": {"type": "string", "enum": ["answered", "no_answer", "not_asked"],
                 "description": "our catalogue asked just now (a short deadline): answered, or not in time"},
        "why": _S}}
    batch_body = {"type": "object", "required": ["action", "requests"], "properties": {
        "action": {"type": "string", "enum": list(BATCH_ACTIONS)},
        "reason": {"type": "string", "maxLength": MAX_REASON,
                   "description": "needed for " + ", ".join(sorted(REASON_REQUIRED & set(BATCH_ACTIONS)))},
        "requests": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": {"oneOf": [
            {"type": "integer", "minimum": 0},
            {"type": "object", "required": ["id"], "properties": {
                "id": {"type": "integer", "minimum": 0},
                "expect": {"type": "string", "description": "the request's `state` as read"}}}]}}}}
    batch_result = {"type": "object", "required": ["action", "done", "refused", "results"], "properties": {
        "action": _S, "done": {"type": "integer"}, "refused": {"type": "integer"},
        "results": {"type": "array", "items": {"type": "object", "required": ["id", "ok", "code", "message"],
                                               "properties": {
            "id": {"type": "integer"}, "ok": {"type": "boolean"},
            "code": {**_S, "description": "ok, or why not: the workflow's code (not_now, closed, not_yours, ...), "
                                          "changed, not_found, bad_value"},
            "message": _S, "title": _S, "from": _NS, "to": _NS,
            "request": {"oneOf": [{"$ref": "#/components/schemas/IllRequest"}, {"type": "null"}]}}}}}}
    paths = {
        "/api/desk/actions": {"post": {
            "operationId": "deskActMany", "summary": "Staff: one action on several requests of the library",
            "description": "Each request goes through the workflow on its own, in the order given; a refusal "
                           "does not stop the others, and each result says what happened or why not. Needs the "
                           "X-CSRF-Token header (GET /api/session).",
            "requestBody": {"required": True, "content": {"application/json": {"schema": batch_body}}},
            "responses": {"200": _ok("a result per request", batch_result), "400": ERROR, **REFUSED,
                          "503": ERROR}}},
        "/api/desk/queues": {"get": {
            "operationId": "deskQueues", "summary": "Staff: the library's ILL queues, with due-by times",
            "responses": {"200": _ok("the queues", {"$ref": "#/components/schemas/DeskQueues"}), **REFUSED}}},
        "/api/desk/requests/{id}": {"get": {
            "operationId": "deskRequest", "summary": "Staff: one request of the library, its legs and history",
            "parameters": [_id_param()],
            "responses": {"200": _ok("the request", detail), "400": ERROR, **REFUSED, "404": ERROR}}},
        "/api/desk/requests/{id}/actions": {"post": {
            "operationId": "deskAct", "summary": "Staff: take an action on a request of the library",
            "description": "Needs the X-CSRF-Token header (GET /api/session). 409: not possible in the request's "
                           "state (or it changed since `expect`); nothing was changed.",
            "parameters": [_id_param()],
            "requestBody": {"required": True, "content": {"application/json": {"schema": action_body}}},
            "responses": {"200": _ok("the request after the action", {
                "type": "object", "required": ["request"],
                "properties": {"request": {"$ref": "#/components/schemas/IllRequest"}}}),
                "400": ERROR, **REFUSED, "404": ERROR, "409": ERROR, "503": ERROR}}},
        "/api/desk/requests/{id}/forward": {"post": {
            "operationId": "deskForwardToPeer", "summary": "Staff of the borrowing library: send the request to "
                                                          "another ILL network (an ISO 18626 peer)",
            "description": "Needs the X-CSRF-Token header (GET /api/session). Only before a BALIS lender answered "
                           "and not while it is at a peer (409); 400 names the peers that take its service "
                           "(docs/iso18626.md).",
            "parameters": [_id_param()],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["peer"], "properties": {
                    "peer": {"type": "string", "maxLength": 40, "description": "the peer's code, e.g. CALIS"},
                    "reason": {"type": "string", "maxLength": 500}}}}}},
            "responses": {"200": _ok("the request, now at the peer", {
                "type": "object", "required": ["request"],
                "properties": {"request": {"$ref": "#/components/schemas/IllRequest"}}}),
                "400": ERROR, **REFUSED, "404": ERROR, "409": ERROR, "503": ERROR}}},
        "/api/desk/locate": {"get": {
            "operationId": "deskLocate", "summary": "Staff: find an edition and the rota of lenders for our readers",
            "parameters": [
                {"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 500},
                 "description": "a query in the reader query syntax"},
                {"name": "isbn", "in": "query", "required": False,
                 "schema": {"type": "string", "maxLength": 40, "pattern": "^[0-9Xx\\- ]*$"}},
                {"name": "work", "in": "query", "required": False, "description": "choose this edition among "
                                                                                  "those matched",
                 "schema": {"type": "string", "pattern": "^(W[0-9a-f]{16})?$"}},
                {"name": "kind", "in": "query", "required": False, "description": "loan (print first) or copy",
                 "schema": {"type": "string", "enum": ["loan", "copy"]}},
                {"name": "request", "in": "query", "required": False, "description": "a manual request being "
                                                                                     "routed: its kind, and a "
                                                                                     "mismatch check",
                 "schema": {"type": "string", "pattern": "^[0-9]{1,9}$"}}],
            "responses": {"200": _ok("the edition and the rota", locate_doc), "400": ERROR, **REFUSED, "404": ERROR,
                          "429": ERROR}}},
    }
    schemas = {"IllRequest": ill_request, "IllLeg": leg, "IllHistoryEntry": entry, "DeskQueue": queue,
               "DeskQueues": queues_doc, "OwnCopy": own_copy}
    return paths, schemas
