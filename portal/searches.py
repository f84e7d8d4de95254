"""我的检索: a signed-in reader's saved searches, their new-book alerts (定题通告) and an Atom feed per search.

    POST /searches                       save the search of a results page (its parameters and a name)
    GET  /searches                       the reader's saved searches, each with the books new since they looked
    GET  /searches/{id}                  one search's new books (looking marks them seen)
    POST /searches/{id}/rename|alert|delete
    GET  /searches/{id}/feed.atom?token=…  the new books as Atom (RFC 4287); the token stands in for a cookie
    GET|POST /api/searches · GET|PATCH|DELETE /api/searches/{id}

The searches are kept by ill/searches.py; the alert run (services/alerts.py) fills in their new books after a
harvest. docs/portal-readers.md (我的检索).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

from ill import searches as saved
from ill.searches import SearchRefused
from ill.workdays import BEIJING
from portal.auth import require
from portal.i18n import message
from portal.keys import LANG, STORE
from portal.openapi_parts import ERROR_RESPONSE, REFUSED, STR, ok
from portal.params import ADVANCED, MAX_TEXT, ParamError, build_query, json_body, search_params
from portal.render import json_answer, json_refused, private_page
from services.alerts import query_json, run_alerts

log = logging.getLogger("balis.alerts")

SEARCH_ID = r"{search_id:\d{1,9}}"
KEEP = ("q", *ADVANCED, "sort", "facet")  # what a saved search keeps of a results page's parameters


def add_routes(app: web.Application) -> None:
    app.router.add_get("/searches", searches_page, name="searches")
    app.router.add_post("/searches", save_submit)
    app.router.add_get(f"/searches/{SEARCH_ID}", search_page, name="saved_search")
    app.router.add_post(f"/searches/{SEARCH_ID}/rename", rename_submit)
    app.router.add_post(f"/searches/{SEARCH_ID}/alert", alert_submit)
    app.router.add_post(f"/searches/{SEARCH_ID}/delete", delete_submit)
    app.router.add_get(f"/searches/{SEARCH_ID}/feed.atom", feed, name="saved_search_feed")
    app.router.add_get("/api/searches", api_list)
    app.router.add_post("/api/searches", api_create)
    app.router.add_get(f"/api/searches/{SEARCH_ID}", api_detail)
    app.router.add_patch(f"/api/searches/{SEARCH_ID}", api_change)
    app.router.add_delete(f"/api/searches/{SEARCH_ID}", api_delete)


# ---- the search to save ---------------------------------------------------------------------------------------

def checked_search(values: dict[str, list[str]]) -> tuple[list[list[str]], dict, str]:
    """A results page's parameters, checked as the search page checks them: (the parameters kept, the query as
    JSON, the search as one line for a default name). ParamError / SearchQueryError when they are wrong."""
    params = search_params({k: v for k, v in values.items() if k in KEEP})
    if params.empty:
        raise ParamError("q", "param.empty_query")
    query = build_query(params)
    kept = [[name, value] for name, value in params.query_args(page=None, live=False, source=None)]
    return kept, query_json(query), params.text()


def _time(moment: datetime | None) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if moment else ""


def search_view(s: dict, lang: str) -> dict:
    """A saved search as pages and the API show it."""
    params = [tuple(p) for p in s["params"]]
    text = " AND ".join([v for k, v in params if k == "q"] + [f"{k}:{v}" for k, v in params if k in ADVANCED])
    return {"id": s["id"], "name": s["name"], "query": text,
            "facets": [v for k, v in params if k == "facet"], "sort": dict(params).get("sort", "relevance"),
            "url": "/search?" + urlencode(params), "alert": s["alert"], "new": s.get("new", 0),
            "created_at": s["created_at"].isoformat(), "created_text": _time(s["created_at"]),
            "checked_at": s["checked_through"].isoformat(), "checked_text": _time(s["checked_through"]),
            "feed": f"/searches/{s['id']}/feed.atom?token={s['token']}"}


def hit_view(h: dict) -> dict:
    return {"work_id": h["work_id"], "title": h["title"], "details": h["details"], "new": h["new"],
            "url": f"/work/{h['work_id']}", "first_seen": h["first_seen"].isoformat(),
            "found_at": h["found_at"].isoformat(), "found_text": _time(h["found_at"])}


def _refusal(exc: SearchRefused, lang: str) -> str:
    return message(exc.key, lang, **exc.values)


def _reader(request: web.Request) -> dict:
    return require(request, "reader")


async def _call(fn, *args, **kw):
    return await asyncio.to_thread(fn, *args, **kw)


def _search_id(request: web.Request) -> int:
    return int(request.match_info["search_id"])


# ---- pages ------------------------------------------------------------------------------------------------------

async def _list_page(request: web.Request, *, status: int = 200, error: str | None = None,
                     done: str | None = None) -> web.Response:
    user = _reader(request)
    store, lang = request.app[STORE], request[LANG]

    def load():
        rows = saved.for_user(store, user["id"])
        return [(search_view(s, lang), [hit_view(h) for h in saved.hits(store, user["id"], s["id"], limit=10)
                                        if h["new"]]) for s in rows]

    rows = await _call(load)
    return private_page(request, "searches.html", status=status, searches=rows, error=error, done=done,
                        limit=saved.MAX_SEARCHES)


async def searches_page(request: web.Request) -> web.Response:
    done = request.query.get("done", "")
    name = request.query.get("name", "")[:saved.MAX_NAME]
    texts = {"saved": message("searches.saved", request[LANG], name=name),
             "renamed": message("searches.renamed", request[LANG]),
             "deleted": message("searches.deleted", request[LANG]),
             "alert_on": message("searches.alert_on_done", request[LANG]),
             "alert_off": message("searches.alert_off_done", request[LANG])}
    return await _list_page(request, done=texts.get(done))


async def save_submit(request: web.Request) -> web.Response:
    user = _reader(request)
    form = await request.post()
    lang = request[LANG]
    raw = str(form.get("search", ""))[:8 * MAX_TEXT]
    values: dict[str, list[str]] = {}
    for k, v in parse_qsl(raw, keep_blank_values=False):
        values.setdefault(k, []).append(v)
    if not values:
        return await _list_page(request, status=400, error=message("searches.search_missing", lang))
    params, query, text = checked_search(values)
    name = str(form.get("name", "")).strip() or text[:saved.MAX_NAME]
    try:
        s = await _call(saved.save, request.app[STORE], user["id"], name[:saved.MAX_NAME * 2], params, query)
    except SearchRefused as exc:
        return await _list_page(request, status=409 if exc.key == "searches.limit" else 400,
                                error=_refusal(exc, lang))
    raise web.HTTPSeeOther(f"/searches?{urlencode({'done': 'saved', 'name': s['name']})}#search-{s['id']}")


async def search_page(request: web.Request) -> web.Response:
    user = _reader(request)
    store, sid, lang = request.app[STORE], _search_id(request), request[LANG]

    def load():
        s = saved.get(store, user["id"], sid)
        found = saved.hits(store, user["id"], sid)
        saved.mark_seen(store, user["id"], sid)
        return s, found

    s, found = await _call(load)
    return private_page(request, "searches_one.html", search=search_view(s, lang),
                        hits=[hit_view(h) for h in found],
                        feed_url=str(request.url.with_path(f"/searches/{sid}/feed.atom")
                                     .with_query({"token": s["token"]})))


async def rename_submit(request: web.Request) -> web.Response:
    user = _reader(request)
    form = await request.post()
    try:
        await _call(saved.change, request.app[STORE], user["id"], _search_id(request),
                    name=str(form.get("name", ""))[:saved.MAX_NAME * 2])
    except SearchRefused as exc:
        return await _list_page(request, status=400, error=_refusal(exc, request[LANG]))
    raise web.HTTPSeeOther(f"/searches?done=renamed#search-{_search_id(request)}")


async def alert_submit(request: web.Request) -> web.Response:
    user = _reader(request)
    form = await request.post()
    on = form.get("alert") == "on"
    await _call(saved.change, request.app[STORE], user["id"], _search_id(request), alert=on)
    raise web.HTTPSeeOther(f"/searches?done={'alert_on' if on else 'alert_off'}#search-{_search_id(request)}")


async def delete_submit(request: web.Request) -> web.Response:
    user = _reader(request)
    await _call(saved.remove, request.app[STORE], user["id"], _search_id(request))
    raise web.HTTPSeeOther("/searches?done=deleted")


# ---- the Atom feed -------------------------------------------------------------------------------------------

def atom(search: dict, hits: list[dict], base: str, feed_url: str) -> bytes:
    """The search's new books as an Atom 1.0 feed (feedgen writes it): newest first, each linking its edition."""
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    page = f"{base}/searches/{search['id']}"
    fg.id(page)
    fg.title(f"BALIS 新书通告：{search['name']}")
    fg.subtitle(f"联合目录新收录、符合检索“{search['name']}”的图书 / New books in the BALIS union catalogue "
                f"matching \"{search['name']}\"")
    fg.author({"name": "BALIS 联合目录"})
    fg.link(href=feed_url, rel="self", type="application/atom+xml")
    fg.link(href=page, rel="alternate", type="text/html")
    fg.language("zh-CN")
    fg.generator("BALIS")
    fg.updated(max([h["found_at"] for h in hits], default=search["created_at"]))
    for h in reversed(hits):  # feedgen puts each added entry first: the newest ends on top
        entry = fg.add_entry()
        entry.id(f"{page}#{h['work_id']}")
        entry.title(h["title"] or h["work_id"])
        entry.link(href=f"{base}/work/{h['work_id']}", rel="alternate", type="text/html")
        entry.updated(h["found_at"])
        entry.published(h["first_seen"])
        if h["details"]:
            entry.summary(h["details"])
    return fg.atom_str(pretty=True)


async def feed(request: web.Request) -> web.Response:
    sid = _search_id(request)
    token = request.query.get("token", "")[:100]
    search, hits = await _call(saved.by_token, request.app[STORE], sid, token)
    base = str(request.url.origin())
    body = await _call(atom, search, hits, base, f"{base}/searches/{sid}/feed.atom?{urlencode({'token': token})}")
    return web.Response(body=body, headers={"Content-Type": "application/atom+xml; charset=utf-8",
                                            "Cache-Control": "private, max-age=300"})


# ---- after a harvest ---------------------------------------------------------------------------------------

def alerts_after_harvest(app: web.Application, location):
    """What `balis serve --harvest-at` runs after each scheduled harvest (in its worker thread): the alerts."""

    def after(_result) -> None:
        report = run_alerts(app[STORE], location)
        log.info("alerts: %d saved searches checked, %d editions new in the index, %d found, %d notices",
                 report.searches, report.new_in_index, report.found, report.notices)

    return after


# ---- JSON ----------------------------------------------------------------------------------------------------



async def api_list(request: web.Request) -> web.Response:
    user = _reader(request)
    rows = await _call(saved.for_user, request.app[STORE], user["id"])
    return json_answer({"version": 1, "limit": saved.MAX_SEARCHES,
                  "searches": [search_view(s, request[LANG]) for s in rows]})


def _body_text(body: dict, name: str, limit: int) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ParamError(name, "param.too_long" if isinstance(value, str) else "param.json", limit=limit)
    return value


async def api_create(request: web.Request) -> web.Response:
    user = _reader(request)
    body = await json_body(request)
    search = body.get("search")
    if not isinstance(search, dict) or not search:
        raise ParamError("search", "param.json")
    values: dict[str, list[str]] = {}
    for k, v in search.items():
        items = v if isinstance(v, list) else [v]
        if k not in KEEP or not all(isinstance(x, str) for x in items) or len(items) > 20:
            raise ParamError(f"search.{k}", "param.json")
        values[k] = list(items)
    alert = body.get("alert", True)
    if not isinstance(alert, bool):
        raise ParamError("alert", "param.json")
    params, query, text = checked_search(values)
    name = _body_text(body, "name", saved.MAX_NAME) or text[:saved.MAX_NAME]
    try:
        s = await _call(saved.save, request.app[STORE], user["id"], name, params, query, alert=alert)
    except SearchRefused as exc:
        return json_refused(409 if exc.key == "searches.limit" else 400, _refusal(exc, request[LANG]),
                        "name" if exc.key.startswith("searches.name") else None)
    return json_answer({"version": 1, "search": search_view(s, request[LANG])}, 201)


async def api_detail(request: web.Request) -> web.Response:
    user = _reader(request)
    store, sid = request.app[STORE], _search_id(request)

    def load():
        return saved.get(store, user["id"], sid), saved.hits(store, user["id"], sid)

    s, found = await _call(load)
    return json_answer({"version": 1, "search": search_view(s, request[LANG]), "new_books": [hit_view(h) for h in found]})


async def api_change(request: web.Request) -> web.Response:
    user = _reader(request)
    body = await json_body(request)
    name = _body_text(body, "name", saved.MAX_NAME)
    alert = body.get("alert")
    if alert is not None and not isinstance(alert, bool):
        raise ParamError("alert", "param.json")
    try:
        s = await _call(saved.change, request.app[STORE], user["id"], _search_id(request), name=name, alert=alert)
    except SearchRefused as exc:
        return json_refused(400, _refusal(exc, request[LANG]), "name")
    return json_answer({"version": 1, "search": search_view(s, request[LANG])})


async def api_delete(request: web.Request) -> web.Response:
    user = _reader(request)
    await _call(saved.remove, request.app[STORE], user["id"], _search_id(request))
    return web.Response(status=204)


def openapi_parts() -> tuple[dict, dict]:
    """(paths, component schemas) of saved searches in /api/openapi.json."""
    search = {"type": "object", "required": ["id", "name", "query", "facets", "sort", "url", "alert", "new",
                                             "created_at", "checked_at", "feed"], "properties": {
        "id": {"type": "integer"}, "name": STR,
        "query": {**STR, "description": "the search as one line (free text, then the fields with prefixes)"},
        "facets": {"type": "array", "items": STR, "description": "facet selections, FACET:VALUE"},
        "sort": STR, "url": {**STR, "description": "the results page of the search"},
        "alert": {"type": "boolean", "description": "new-book alerts on"},
        "new": {"type": "integer", "description": "new books found since the reader last looked"},
        "created_at": {**STR, "format": "date-time"}, "created_text": STR,
        "checked_at": {**STR, "format": "date-time", "description": "editions first harvested after this are "
                                                                   "new to the search"},
        "checked_text": STR,
        "feed": {**STR, "description": "the Atom feed of its new books (the address holds a secret token)"}}}
    book = {"type": "object", "required": ["work_id", "title", "details", "new", "url", "first_seen", "found_at"],
            "properties": {"work_id": STR, "title": STR, "details": STR, "new": {"type": "boolean"}, "url": STR,
                           "first_seen": {**STR, "format": "date-time"},
                           "found_at": {**STR, "format": "date-time"}, "found_text": STR}}
    one = {"type": "object", "required": ["version", "search"], "properties": {
        "version": {"type": "integer"}, "search": {"$ref": "#/components/schemas/SavedSearch"}}}
    fields = {name: {"oneOf": [STR, {"type": "array", "items": STR, "maxItems": 20}]} for name in KEEP}
    sid = {"name": "search_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0,
                                                                          "maximum": 999999999}}
    errors = {**REFUSED, "400": ERROR_RESPONSE, "404": ERROR_RESPONSE}
    paths = {
        "/api/searches": {
            "get": {"operationId": "listSavedSearches", "summary": "The reader's saved searches (我的检索)",
                    "responses": {"200": ok("the saved searches, newest first", {
                        "type": "object", "required": ["version", "limit", "searches"], "properties": {
                            "version": {"type": "integer"}, "limit": {"type": "integer"},
                            "searches": {"type": "array", "items": {"$ref": "#/components/schemas/SavedSearch"}}}}),
                        **errors}},
            "post": {"operationId": "saveSearch", "summary": "Save a search, with its new-book alert",
                     "description": "`search` holds the results page's parameters (q, ti, au, su, isbn, pub, year, "
                                    "sort, facet), checked as the search page checks them. At most 50 per reader "
                                    "(409). Editions first harvested from now on are new to it.",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["search"], "properties": {
                             "search": {"type": "object", "properties": fields, "additionalProperties": False},
                             "name": {**STR, "maxLength": 100}, "alert": {"type": "boolean"}}}}}},
                     "responses": {"201": ok("the saved search", one), "409": ERROR_RESPONSE, **errors}}},
        "/api/searches/{search_id}": {
            "get": {"operationId": "getSavedSearch", "parameters": [sid], "summary": "A saved search and the new books its alert found",
                    "responses": {"200": ok("the search and its new books, newest first", {
                        "type": "object", "required": ["version", "search", "new_books"], "properties": {
                            "version": {"type": "integer"}, "search": {"$ref": "#/components/schemas/SavedSearch"},
                            "new_books": {"type": "array", "items": {"$ref": "#/components/schemas/NewBook"}}}}),
                        **errors}},
            "patch": {"operationId": "changeSavedSearch", "parameters": [sid], "summary": "Rename a saved search, or turn its alert on "
                                                                    "or off",
                      "requestBody": {"required": True, "content": {"application/json": {"schema": {
                          "type": "object", "properties": {"name": {**STR, "maxLength": 100},
                                                           "alert": {"type": "boolean"}}}}}},
                      "responses": {"200": ok("the search as changed", one), **errors}},
            "delete": {"operationId": "deleteSavedSearch", "parameters": [sid], "summary": "Delete a saved search and its new books",
                       "responses": {"204": {"description": "deleted"}, **errors}}},
    }
    return paths, {"SavedSearch": search, "NewBook": book}
