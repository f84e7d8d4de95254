"""Centre administration: suspend or resume a member, roll back a request's last change, statistics.

Centre administrators only (role admin); staff and readers get 403, signed-out users the sign-in page (401
on the API). Charts are SVG drawn on the server (no script, no external library).

    GET  /admin                               members (suspend / resume), the rollback form
    GET  /admin/members/{code}/confirm        step 1: suspend (with a reason) or resume
    POST /admin/members/{code}/state          step 2 (csrf_token, status, reason)
    GET  /admin/requests/{id}                 any request, the change a rollback would undo, the form
    POST /admin/requests/{id}/rollback        (csrf_token, reason)
    GET  /admin/stats?from=YYYY-MM&to=YYYY-MM the dashboard;  GET /admin/stats.csv  the same figures as CSV
    GET|POST /admin/holidays                  the holiday calendar (portal/holidays.py)
    GET  /api/admin/members                   POST /api/admin/members/{code}/state
    GET  /api/admin/requests/{id}             POST /api/admin/requests/{id}/rollback
    GET  /api/admin/stats                     GET  /api/admin/stats.csv
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web

from ill import stats
from ill.errors import IllError
from ill.workdays import local_date
from members import with_member_states
from portal import holidays
from portal.auth import require
from portal.desk import (
    MAX_REASON,
    history_json,
    iso,
    leg_json,
    parse_reason,
    request_id,
    request_json,
)
from portal.holidays import calendar_missing_text
from portal.i18n import message
from portal.ill_errors import ill_status
from portal.keys import CATALOGUE, LANG, REGISTRY, STORE
from portal.openapi_parts import ERROR_RESPONSE, NULL_STR, REFUSED, STR, ok
from portal.params import ParamError, json_body, request_number
from portal.render import json_answer, private_page, rate, said
from services.spreadsheets import ill_stats_csv

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_MONTHS = 36
STATES = ("active", "suspended")


# -- pure parts: months and charts ----------------------------------------------------------------------
def month_list(first: str, last: str) -> list[str]:
    """'2026-10', '2027-01' → every month from the first to the last; ParamError when not a valid range."""
    for name, value in (("from", first), ("to", last)):
        match = MONTH.match(value)
        if not match or not 1 <= int(match.group(2)) <= 12 or not 1990 <= int(match.group(1)) <= 2200:
            raise ParamError(name, "param.month")
    y, mo = (int(x) for x in first.split("-"))
    end = tuple(int(x) for x in last.split("-"))
    months = []
    while (y, mo) <= end:
        months.append(f"{y:04d}-{mo:02d}")
        if len(months) > MAX_MONTHS:
            raise ParamError("to", "param.month_range")
        y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    if not months:
        raise ParamError("to", "param.month_range")
    return months


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str
    value: float | None
    text: str


@dataclass(frozen=True, slots=True)
class Chart:
    """An SVG chart's geometry: bars, the value axis' ticks, and the canvas size."""

    width: int
    height: int
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, str], ...]  # (position, label) along the value axis
    horizontal: bool
    left: int  # room for labels (horizontal: member names; vertical: tick labels)


def _nice_max(value: float) -> float:
    """A round number ≥ value for the axis end (1, 2, 5 × 10^k)."""
    if value <= 0:
        return 1.0
    k = 10 ** (len(str(int(value))) - 1) if value >= 1 else 0.1
    for step in (1, 2, 5, 10):
        if step * k >= value:
            return float(step * k)
    return float(10 * k)


def column_chart(points: list[tuple[str, float]], *, width: int = 720, height: int = 240, left: int = 40,
                 bottom: int = 28, top: int = 16) -> Chart:
    """Vertical bars, one per (label, value), e.g. requests per month."""
    top_value = _nice_max(max((v for _, v in points), default=0))
    plot_w, plot_h = width - left - 10, height - top - bottom
    slot = plot_w / max(len(points), 1)
    bars = []
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top_value
        bars.append(Bar(x=round(left + i * slot + slot * 0.15, 1), y=round(top + plot_h - h, 1),
                        w=round(slot * 0.7, 1), h=round(h, 1), label=label, value=value, text=f"{value:g}"))
    ticks = tuple((round(top + plot_h - plot_h * f, 1), f"{top_value * f:g}") for f in (0, 0.5, 1))
    return Chart(width, height, tuple(bars), ticks, False, left)


def bar_chart(items: list[tuple[str, float | None, str]], *, scale_max: float | None = None, width: int = 720,
              row: int = 24, left: int = 150) -> Chart:
    """Horizontal bars, one per (label, value or None, text), e.g. fill rate per member."""
    top_value = scale_max if scale_max is not None else _nice_max(max((v or 0 for _, v, _ in items), default=0))
    plot_w = width - left - 90
    bars = []
    for i, (label, value, text) in enumerate(items):
        w = 0.0 if value is None else plot_w * min(value, top_value) / top_value
        bars.append(Bar(x=left, y=10 + i * row, w=round(w, 1), h=row - 8, label=label, value=value, text=text))
    height = 10 + len(items) * row + 20
    ticks = tuple((round(left + plot_w * f, 1), f"{top_value * f:g}") for f in (0, 0.5, 1))
    return Chart(width, height, tuple(bars), ticks, True, left)


# -- the figures ------------------------------------------------------------------------------------------
def dashboard(store, months: list[str]) -> dict:
    """The dashboard's figures for `months`: ill.stats rows per member and month, the consortium per month,
    and per member over the whole range (fill rate, mean days to complete) computed by ill.stats itself."""
    members = stats.active_members(store)
    start, end = stats.month_bounds(months[0])[0], stats.month_bounds(months[-1])[1]
    per_member = []
    with store.read() as conn:  # one connection for every figure (ill.stats.table opens one per row)
        rows = [_row(conn, code, month) for month in months for code in members]
        monthly = [_row(conn, None, month) for month in months]
        for code in members:
            per_member.append({"member": code, **{name: stats.FIGURES[name](conn, code, (start, end)) for name in (
                "requests_sent", "processed", "filled", "fill_rate", "mean_days_to_complete")}})
        total = {"member": "ALL", **{name: stats.FIGURES[name](conn, None, (start, end)) for name in (
            "requests_sent", "processed", "filled", "fill_rate", "mean_days_to_complete")}}
        peers = stats.peer_exchange(conn, [p.code for p in store.registry.peers] if store.registry else [],
                                    (start, end))  # ISO 18626 peers (docs/iso18626.md)
    return {"from": months[0], "to": months[-1], "months": months, "rows": rows, "monthly": monthly,
            "members": per_member, "total": total, "peers": peers}


def _row(conn, member: str | None, month: str) -> dict:
    """One row of ill.stats.table (ill.stats.member_month) on an open connection."""
    bounds = stats.month_bounds(month)
    return {"member": member or "ALL", "month": month,
            **{name: fn(conn, member, bounds) for name, fn in stats.FIGURES.items()}}


def csv_rows(store, months: list[str]) -> list[dict]:
    """The rows of `balis stats --csv` (ill.stats.table with the consortium's row per month)."""
    members = stats.active_members(store)
    with store.read() as conn:
        out = []
        for month in months:
            out += [_row(conn, code, month) for code in members]
            if len(members) > 1:
                out.append(_row(conn, None, month))
    return out


def default_months(store) -> list[str]:
    """The months with requests (at most the last 12), else the current month (Beijing time)."""
    active = stats.active_months(store)
    if active:
        return active[-12:]
    today = local_date(store.clock())
    return [f"{today.year:04d}-{today.month:02d}"]


def charts(doc: dict, lang: str) -> dict[str, Chart]:
    none = message("admin.stats.no_data", lang)
    monthly = column_chart([(m["month"], m["requests_sent"]) for m in doc["monthly"]])
    fill = bar_chart([(m["member"], m["fill_rate"], none if m["fill_rate"] is None else rate(m["fill_rate"]))
                      for m in doc["members"]], scale_max=1.0)
    days = bar_chart([(m["member"], m["mean_days_to_complete"],
                       none if m["mean_days_to_complete"] is None else f"{m['mean_days_to_complete']:g}")
                      for m in doc["members"]])
    return {"monthly": monthly, "fill_rate": fill, "days": days}


# -- helpers ----------------------------------------------------------------------------------------------
def _store(request: web.Request):
    return request.app[STORE]


_render = private_page  # every desk and administration page is about one user's work: never cached


def _json(data: dict, status: int = 200) -> web.Response:
    return json_answer(data, status, private=True)


def _helpers(request: web.Request) -> dict:
    from portal.desk import _helpers as desk_helpers

    return desk_helpers(request)


async def members_now(request: web.Request):
    """The registry's members with the portal's suspensions applied (what searches use)."""
    states = await asyncio.to_thread(_store(request).member_states)
    return with_member_states(request.app[REGISTRY], states), states


def _member(registry, code: str, lang: str):
    code = code.strip().upper()[:32]
    for member in registry.members:
        if member.code == code:
            return member
    raise web.HTTPNotFound(text=message("admin.unknown_member", lang, code=code))


async def set_state(request: web.Request, admin: dict, code: str, status: str, reason: str) -> dict:
    """Suspend or resume a member; the catalogue uses the new member set from the next search on."""
    if status not in STATES:
        raise ParamError("status", "param.choice", choices=", ".join(STATES))
    registry, _ = await members_now(request)
    member = _member(registry, code, request[LANG])
    store = _store(request)
    state = await asyncio.to_thread(store.set_member_state, member.code, status, admin["id"], reason)
    registry, _ = await members_now(request)
    request.app[CATALOGUE].set_registry(registry)
    return state


# -- pages ------------------------------------------------------------------------------------------------
async def admin_page(request: web.Request) -> web.Response:
    require(request, "admin")
    registry, states = await members_now(request)
    done = request.query.get("done", "")
    code = request.query.get("code", "")[:32]
    notice = None
    if done in ("suspended", "active") and code:
        notice = message("admin.suspended_done" if done == "suspended" else "admin.resumed_done", request[LANG],
                         code=code)
    return _render(request, "admin.html", members=registry.sorted_by_pinyin(), states=states, notice=notice,
                   calendar_missing=calendar_missing_text(request[LANG]))


async def member_confirm(request: web.Request) -> web.Response:
    require(request, "admin")
    registry, _ = await members_now(request)
    member = _member(registry, request.match_info["code"], request[LANG])
    status = request.query.get("status", "")
    if status not in STATES:
        raise ParamError("status", "param.choice", choices=", ".join(STATES))
    return _render(request, "admin_member.html", member=member, wanted=status,
                   reason=request.query.get("reason", "")[:MAX_REASON], error=None)


async def member_submit(request: web.Request) -> web.Response:
    admin = require(request, "admin")
    form = await request.post()
    status, reason = str(form.get("status", "")), str(form.get("reason", ""))[:MAX_REASON]
    code = request.match_info["code"]
    try:
        state = await set_state(request, admin, code, status, parse_reason(reason))
    except (IllError, ParamError) as exc:
        registry, _ = await members_now(request)
        member = _member(registry, code, request[LANG])
        lang = request[LANG]
        text = message("error.bad_param", lang, name=exc.name, message=message(exc.key, lang, **exc.values)) \
            if isinstance(exc, ParamError) else said(str(exc), lang)
        return _render_member(request, member, status, reason, text)
    raise web.HTTPSeeOther(f"/admin?{urlencode({'done': state['status'], 'code': code.upper()})}")


def _render_member(request, member, status: str, reason: str, error: str) -> web.Response:
    return _render(request, "admin_member.html", 400, member=member,
                   wanted=status if status in STATES else "suspended", reason=reason, error=error)


async def _request_parts(request: web.Request) -> tuple:
    """The request the address names, its legs, its history and the change a rollback would undo
    (administrators only)."""
    require(request, "admin")
    rid = request_id(request)
    store = _store(request)
    return await asyncio.to_thread(lambda: (store.get(rid), store.legs(rid), store.history(rid),
                                            store.undoable(rid)))


async def request_page(request: web.Request, *, status: int = 200, error: str | None = None,
                       reason: str = "") -> web.Response:
    req, legs, history, last = await _request_parts(request)
    done = request.query.get("done") == "rollback"
    return _render(request, "admin_request.html", status=status, req=req, legs=legs, history=history,
                   last=last, error=error, reason=reason, done=done, show_reader=True,
                   names=request.app[CATALOGUE].names(request[LANG]), **_helpers(request))


async def find_request(request: web.Request) -> web.Response:
    """GET /admin/requests?id=N (the rollback form) → the request's page."""
    require(request, "admin")
    raise web.HTTPSeeOther(f"/admin/requests/{request_number('id', request.query.get('id', ''))}")


async def rollback_submit(request: web.Request) -> web.Response:
    admin = require(request, "admin")
    rid = request_id(request)
    form = await request.post()
    reason = str(form.get("reason", ""))[:MAX_REASON]
    try:
        await asyncio.to_thread(_store(request).rollback, rid, admin["id"], parse_reason(reason))
    except ParamError as exc:
        lang = request[LANG]
        return await request_page(request, status=400, reason=reason, error=message(
            "error.bad_param", lang, name=exc.name, message=message(exc.key, lang, **exc.values)))
    except IllError as exc:
        return await request_page(request, status=ill_status(exc), error=said(str(exc), request[LANG]), reason=reason)
    raise web.HTTPSeeOther(f"/admin/requests/{rid}?done=rollback")


def _months(request: web.Request, store) -> list[str]:
    first, last = request.query.get("from", "")[:7], request.query.get("to", "")[:7]
    if not first and not last:
        return default_months(store)
    return month_list(first or last, last or first)


async def stats_page(request: web.Request) -> web.Response:
    require(request, "admin")
    store = _store(request)
    months = await asyncio.to_thread(_months, request, store)
    doc = await asyncio.to_thread(dashboard, store, months)
    demo = await asyncio.to_thread(stats.demo_requests, store)
    lang = request[LANG]
    return _render(request, "admin_stats.html", doc=doc, demo=demo, charts=charts(doc, lang),
                   figures=list(stats.FIGURES),
                   names=request.app[CATALOGUE].names(lang), calendar_missing=calendar_missing_text(lang),
                   csv_url=f"/admin/stats.csv?{urlencode({'from': months[0], 'to': months[-1]})}")


async def _csv(request: web.Request) -> web.Response:
    store = _store(request)
    months = await asyncio.to_thread(_months, request, store)
    rows = await asyncio.to_thread(csv_rows, store, months)
    name = f"balis-ill-stats-{months[0]}_{months[-1]}.csv"
    return web.Response(body=("\ufeff" + ill_stats_csv(rows)).encode("utf-8"), content_type="text/csv",
                        charset="utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                  "Cache-Control": "no-store"})


async def stats_csv(request: web.Request) -> web.Response:
    require(request, "admin")
    return await _csv(request)


# -- the JSON API -----------------------------------------------------------------------------------------
def _member_json(member, states: dict) -> dict:
    st = states.get(member.code) or {}
    return {"code": member.code, "name": member.name, "status": member.status,
            "reason": member.suspended_reason, "since": member.suspended_since.isoformat() if member.suspended_since else None,
            "changed_by": st.get("changed_by"), "changed_at": iso(st.get("changed_at")),
            "searched": bool(member.queryable)}


async def api_members(request: web.Request) -> web.Response:
    require(request, "admin")
    registry, states = await members_now(request)
    return _json({"members": [_member_json(m, states) for m in registry.sorted_by_pinyin()]})


async def api_member_state(request: web.Request) -> web.Response:
    admin = require(request, "admin")
    body = await _body(request)
    status = body.get("status")
    if not isinstance(status, str):
        raise ParamError("status", "param.choice", choices=", ".join(STATES))
    await set_state(request, admin, request.match_info["code"], status, parse_reason(body.get("reason")))
    registry, states = await members_now(request)
    member = _member(registry, request.match_info["code"], request[LANG])
    return _json({"member": _member_json(member, states)})


async def _body(request: web.Request) -> dict:
    return await json_body(request)


async def api_request(request: web.Request) -> web.Response:
    req, legs, history, last = await _request_parts(request)
    return _json({"request": request_json(req, None, admin=True), "legs": [leg_json(x) for x in legs],
                  "history": [history_json(h) for h in history],
                  "undoable": None if last is None else history_json(last)})


async def api_rollback(request: web.Request) -> web.Response:
    admin = require(request, "admin")
    rid = request_id(request)
    body = await _body(request)
    reason = parse_reason(body.get("reason"))
    after = await asyncio.to_thread(_store(request).rollback, rid, admin["id"], reason)
    return _json({"request": request_json(after, None, admin=True)})


async def api_stats(request: web.Request) -> web.Response:
    require(request, "admin")
    store = _store(request)
    months = await asyncio.to_thread(_months, request, store)
    doc = await asyncio.to_thread(dashboard, store, months)
    return _json(doc)


async def api_stats_csv(request: web.Request) -> web.Response:
    require(request, "admin")
    return await _csv(request)


def add_routes(app: web.Application) -> None:
    holidays.add_routes(app)
    app.router.add_get("/admin", admin_page, name="admin")
    app.router.add_get("/admin/members/{code}/confirm", member_confirm, name="admin_member_confirm")
    app.router.add_post("/admin/members/{code}/state", member_submit, name="admin_member_state")
    app.router.add_get("/admin/requests", find_request, name="admin_find_request")
    app.router.add_get("/admin/requests/{id}", request_page, name="admin_request")
    app.router.add_post("/admin/requests/{id}/rollback", rollback_submit, name="admin_rollback")
    app.router.add_get("/admin/stats", stats_page, name="admin_stats")
    app.router.add_get("/admin/stats.csv", stats_csv, name="admin_stats_csv")
    app.router.add_get("/api/admin/members", api_members, name="api_admin_members")
    app.router.add_post("/api/admin/members/{code}/state", api_member_state, name="api_admin_member_state")
    app.router.add_get("/api/admin/requests/{id}", api_request, name="api_admin_request")
    app.router.add_post("/api/admin/requests/{id}/rollback", api_rollback, name="api_admin_rollback")
    app.router.add_get("/api/admin/stats", api_stats, name="api_admin_stats")
    app.router.add_get("/api/admin/stats.csv", api_stats_csv, name="api_admin_stats_csv")


# -- the description --------------------------------------------------------------------------------------
_S, _NS, ERROR, _ok = STR, NULL_STR, ERROR_RESPONSE, ok
CSRF = "Needs the X-CSRF-Token header (GET /api/session)."


def openapi_parts() -> tuple[dict, dict]:
    """(paths, component schemas) this part adds to /api/openapi.json."""
    num = {"type": ["number", "null"]}
    figures = {name: ({"type": "integer"} if name not in ("fill_rate", "mean_days_to_complete", "fines_yuan")
                      else num) for name in stats.FIGURES}
    row = {"type": "object", "required": ["member", "month", *stats.FIGURES],
           "properties": {"member": _S, "month": {"type": "string", "pattern": "^\\d{4}-\\d{2}$"}, **figures}}
    summary = {"type": "object", "required": ["member", "requests_sent", "processed", "filled", "fill_rate",
                                              "mean_days_to_complete"], "properties": {
        "member": _S, "requests_sent": {"type": "integer"}, "processed": {"type": "integer"},
        "filled": {"type": "integer"}, "fill_rate": num, "mean_days_to_complete": num}}
    dash = {"type": "object", "required": ["from", "to", "months", "rows", "monthly", "members", "total"],
            "properties": {
                "from": _S, "to": _S, "months": {"type": "array", "items": _S},
                "rows": {"type": "array", "items": {"$ref": "#/components/schemas/StatsRow"},
                         "description": "ill.stats figures per member and month (docs/statistics.md)"},
                "monthly": {"type": "array", "items": {"$ref": "#/components/schemas/StatsRow"},
                            "description": "the whole consortium per month (member ALL)"},
                "members": {"type": "array", "items": {"$ref": "#/components/schemas/StatsSummary"},
                            "description": "per member over the whole range"},
                "total": {"$ref": "#/components/schemas/StatsSummary"},
                "peers": {"type": "array", "description": "requests sent to and received from each ISO 18626 "
                                                         "peer (docs/iso18626.md)",
                          "items": {"type": "object", "required": ["peer", "sent", "received"], "properties": {
                              "peer": _S, "sent": {"type": "integer"}, "received": {"type": "integer"}}}}}}
    member_state = {"type": "object", "required": ["code", "name", "status", "searched"], "properties": {
        "code": _S, "name": _S, "status": {"type": "string", "enum": list(STATES)}, "reason": _NS, "since": _NS,
        "changed_by": _NS, "changed_at": _NS,
        "searched": {"type": "boolean", "description": "whether searches ask this member now"}}}
    month_params = [{"name": n, "in": "query", "required": False,
                     "schema": {"type": "string", "pattern": "^\\d{4}-\\d{2}$"},
                     "description": d} for n, d in (("from", "first month (default: the months with requests, at "
                                                             "most the last 12)"), ("to", "last month"))]
    rid = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"}}
    code = {"name": "code", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 32}}
    detail = {"type": "object", "required": ["request", "legs", "history", "undoable"], "properties": {
        "request": {"$ref": "#/components/schemas/IllRequest"},
        "legs": {"type": "array", "items": {"$ref": "#/components/schemas/IllLeg"}},
        "history": {"type": "array", "items": {"$ref": "#/components/schemas/IllHistoryEntry"}},
        "undoable": {"description": "the change a rollback would undo now (null: only the submission is left)",
                     "oneOf": [{"$ref": "#/components/schemas/IllHistoryEntry"}, {"type": "null"}]}}}
    paths = {
        "/api/admin/members": {"get": {
            "operationId": "adminMembers", "summary": "Administrators: every member and whether it is suspended",
            "responses": {"200": _ok("the members", {"type": "object", "required": ["members"], "properties": {
                "members": {"type": "array", "items": {"$ref": "#/components/schemas/MemberState"}}}}), **REFUSED}}},
        "/api/admin/members/{code}/state": {"post": {
            "operationId": "adminSetMemberState", "summary": "Administrators: suspend (with a reason) or resume",
            "description": CSRF + " Searches skip a suspended member from the next search on.",
            "parameters": [code],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["status"], "properties": {
                    "status": {"type": "string", "enum": list(STATES)},
                    "reason": {"type": "string", "maxLength": MAX_REASON,
                               "description": "needed to suspend; readers and staff see it"}}}}}},
            "responses": {"200": _ok("the member now", {"type": "object", "required": ["member"], "properties": {
                "member": {"$ref": "#/components/schemas/MemberState"}}}), "400": ERROR, **REFUSED, "404": ERROR}}},
        "/api/admin/requests/{id}": {"get": {
            "operationId": "adminRequest", "summary": "Administrators: any request, its legs and history",
            "parameters": [rid], "responses": {"200": _ok("the request", detail), "400": ERROR, **REFUSED,
                                               "404": ERROR}}},
        "/api/admin/requests/{id}/rollback": {"post": {
            "operationId": "adminRollback", "summary": "Administrators: undo the request's latest change",
            "description": CSRF + " The reason is kept in the history; a fine that change recorded is voided. "
                                  "409 when only the submission is recorded.",
            "parameters": [rid],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["reason"], "properties": {
                    "reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON}}}}}},
            "responses": {"200": _ok("the request after the rollback", {
                "type": "object", "required": ["request"], "properties": {
                    "request": {"$ref": "#/components/schemas/IllRequest"}}}),
                "400": ERROR, **REFUSED, "404": ERROR, "409": ERROR}}},
        "/api/admin/stats": {"get": {
            "operationId": "adminStats", "summary": "Administrators: ILL statistics for a month range",
            "parameters": month_params,
            "responses": {"200": _ok("the figures", {"$ref": "#/components/schemas/StatsDashboard"}), "400": ERROR,
                          **REFUSED}}},
        "/api/admin/stats.csv": {"get": {
            "operationId": "adminStatsCsv", "summary": "Administrators: the figures per member and month as CSV",
            "parameters": month_params,
            "responses": {"200": {"description": "CSV (UTF-8 with BOM), the columns of `balis stats --csv` under a "
                                                 "header row in Chinese and English, the fill rate as the dashboard "
                                                 "writes it (57.9 %)",
                                  "content": {"text/csv": {"schema": {"type": "string"}}}},
                          "400": ERROR, **REFUSED}}},
    }
    schemas = {"StatsRow": row, "StatsSummary": summary, "StatsDashboard": dash, "MemberState": member_state}
    return paths, schemas
