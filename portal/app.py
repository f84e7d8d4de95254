"""The aiohttp application: reader pages, the live search stream, the JSON API, static files.

`create_app(registry)` builds it; the one `Catalogue` (and so the one Federator) starts with the app and is
closed on shutdown. Routes:

    GET  /                     search page                GET /api/search        JSON search
    GET  /search               results (complete page)    GET /api/works/{id}    JSON edition
    GET  /search?live=1        results shell for SSE      GET /api/members       JSON members
    GET  /search/events        server-sent events         GET /api/openapi.json  the API described
    GET  /work/{work_id}       edition page               POST /lang             language switch (form)
    GET  /members, /map        member list, schematic map GET /static/...        CSS, JS
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from contextlib import aclosing
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import web

from ill.errors import IllError
from ill.store import Store
from ill.workdays import BEIJING
from indexer.backend import resolve_location
from indexer.errors import IndexerError
from members import Registry, with_member_states
from portal import account, admin, api, cite, desk, iso18626, messages, reader, searches
from portal.auth import USER, Forbidden, SignInRequired, session_middleware, shown_statuses
from portal.beijing import schematic
from portal.catalogue import (
    CHECKING,
    Catalogue,
    SearchView,
    StatusChanged,
    ViewChanged,
    statuses_in_order,
)
from portal.i18n import DEFAULT_LANGUAGE, message
from portal.ill_errors import ill_status
from portal.keys import CATALOGUE, CSRF, INDEX_DIR, LANG, LIMITER, LOGIN_LIMITER, REGISTRY, STORE, TEMPLATES
from portal.local import IndexUnavailable, PortalIndex
from portal.params import (
    MAX_TEXT,
    MediaTypeError,
    ParamError,
    SearchParams,
    SearchQueryError,
    build_query,
    language,
    local_path,
    multi,
    search_params,
    work_id,
)
from portal.render import STATIC, context, environment, facet_label, json_refused, render
from portal.security import Csrf, RateLimiter, add_security_headers
from portal.sru_server import LocalIndexBackend, ServerInfo, handler
from services.search import ASKING, MemberStatus

log = logging.getLogger("balis.portal")

LANG_COOKIE = "balis_lang"
# What one HTTP request may bring, for every server that runs the app (`balis serve`, the tests): a request
# line long enough for any query the search box or an SRU client may send (1,000 CJK characters are 9 KB
# percent-encoded; a CQL of 10,000 nested parentheses 60 KB), so that the portal and the SRU server answer
# a too-long query in their own words rather than the HTTP parser refusing it.
HTTP_LIMITS = {"max_line_size": 128 * 1024, "max_field_size": 16 * 1024}


def create_app(registry: Registry, *, index_dir: Path | None = None, secret: bytes | None = None,
               searches_per_minute: float = 60.0, search_burst: int = 20, secure_cookies: bool = False,
               db: str | Path | None = None, store: Store | None = None, logins_per_minute: float = 10.0,
               index_refresh: float = 5.0, mail=None, index_replicas: tuple[str, ...] | list[str] = (),
               index_slices: int | None = None, **catalogue_options) -> web.Application:
    """The portal for `registry`. `index_dir`: the union index (a folder or a PostgreSQL URL, whose hot standbys
    `index_replicas` searches then read from, splitting a broad one into `index_slices`), which searches are answered from first whenever it can answer
    (checked for a newer harvest every `index_refresh` seconds; without it every search is live); `db` (or an open `store`): the ILL
    store of users, sessions and requests ($BALIS_DB, else var/ill.sqlite); `mail`: an ill.mail.MailConfig,
    with which the outbox of notices is mailed continuously (docs/notices.md)."""
    app = web.Application(middlewares=[language_middleware, error_middleware],
                          client_max_size=64 * 1024)
    csrf = Csrf(secret or secrets.token_bytes(32), secure_cookie=secure_cookies, exempt=(SRU_PATH, iso18626.PATH))
    app.middlewares.append(csrf.middleware())
    app.middlewares.append(session_middleware(lambda a: a[STORE]))
    app[CSRF] = csrf
    app[LIMITER] = RateLimiter(searches_per_minute, search_burst)
    app[LOGIN_LIMITER] = RateLimiter(logins_per_minute, 5)
    app[TEMPLATES] = environment()
    app[INDEX_DIR] = index_dir
    app[STORE] = store if store is not None else Store(db)
    if app[STORE].registry is None:  # rotas typed at the desk are checked against the portal's members
        app[STORE].registry = registry
    if store is None:  # opened here, closed here
        app.on_cleanup.append(_close_store)
    app[REGISTRY] = registry
    registry = with_member_states(registry, app[STORE].member_states())
    location = resolve_location(index_dir)  # a folder, or a PostgreSQL URL (with index_replicas: its standbys)
    local = (PortalIndex(location, replicas=index_replicas, refresh_every=index_refresh, slices=index_slices)
             if index_dir else None)
    app[CATALOGUE] = Catalogue(registry, local=local, **catalogue_options)
    app.on_response_prepare.append(add_security_headers)
    app.on_startup.append(_start)
    app.on_cleanup.append(_close)
    app.router.add_get("/", home, name="home")
    app.router.add_get("/search", search_page, name="search")
    app.router.add_get("/search/events", search_events, name="events")
    app.router.add_get("/work/{work_id}", work_page, name="work")
    app.router.add_get("/members", members_page, name="members")
    app.router.add_get("/map", map_page, name="map")
    app.router.add_post("/lang", switch_language, name="lang")
    for part in (account, reader, desk, admin, api, messages, cite, iso18626, searches):
        part.add_routes(app)
    messages.setup_mailer(app, mail)
    sru_index = LocalIndexBackend(location, index_replicas)
    app.on_cleanup.append(lambda _app: asyncio.to_thread(sru_index.close))
    sru = handler(sru_index, _sru_info)
    app.router.add_get(SRU_PATH, sru, name="sru")
    app.router.add_post(SRU_PATH, sru)
    app.router.add_static("/static", STATIC, name="static")
    return app


SRU_PATH = "/sru"  # the union catalogue for other systems (docs/sru-server.md); POST needs no CSRF token


def _sru_info(request: web.Request) -> ServerInfo:
    """Explain names the host and port the client used to reach the server."""
    return ServerInfo(host=request.url.host or "127.0.0.1", port=request.url.port or 80, database=SRU_PATH[1:])


async def _start(app: web.Application) -> None:
    await app[CATALOGUE].start()


async def _close(app: web.Application) -> None:
    await app[CATALOGUE].close()


async def _close_store(app: web.Application) -> None:
    app[STORE].close()


# -- middlewares -------------------------------------------------------------------------------------------
@web.middleware
async def language_middleware(request: web.Request, handler):
    """The reader's language: ?lang=, else the cookie set by the switch, else Chinese."""
    request[LANG] = (language(request.query.get("lang")) or language(request.cookies.get(LANG_COOKIE))
                       or DEFAULT_LANGUAGE)
    return await handler(request)


@web.middleware
async def error_middleware(request: web.Request, handler):
    """Every error becomes a page (or JSON under /api/) that says what to do; never a stack trace."""
    try:
        return await handler(request)
    except ParamError as exc:
        text = message("error.bad_param", request[LANG], name=exc.name,
                       message=message(exc.key, request[LANG], **exc.values))
        return error_response(request, 415 if isinstance(exc, MediaTypeError) else 400, text, parameter=exc.name)
    except SearchQueryError as exc:
        text = message("error.bad_query", request[LANG], message=exc.error.in_language(request[LANG]))
        return error_response(request, 400, text, parameter=exc.name)
    except SignInRequired:
        if request.path.startswith("/api/"):
            return error_response(request, 401, message("login.required", request[LANG]))
        raise web.HTTPSeeOther(f"/login?{urlencode({'next': request.path_qs})}") from None
    except Forbidden as exc:
        lang = request[LANG]
        if exc.why.startswith("role:"):
            roles = "/".join(message(f"role.{r}", lang) for r in exc.why[5:].split("/"))
            role = message(f"role.{request[USER]['role']}", lang)
            text = message("error.forbidden.role", lang, roles=roles, role=role)
        else:
            text = message("error.forbidden", lang, why=exc.why)
        return error_response(request, 403, text)
    except IllError as exc:
        status = ill_status(exc)
        if status == 503:
            log.error("portal: ILL store: %s", exc)
        return error_response(request, status, str(exc))
    except IndexerError as exc:  # the union index or harvest store failed below the catalogue's own fallbacks
        log.error("portal: union index: %s", exc)
        return error_response(request, 503, message("error.index", request[LANG]))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        lang = request[LANG]
        if exc.status == 404:
            text = message("error.not_found", lang, path=request.path)
        elif exc.status == 405:
            text = message("error.method", lang, method=request.method)
        elif exc.status == 429:
            text = message("error.rate_limited", lang, seconds=exc.headers.get("Retry-After", "60"))
        elif exc.status == 403:
            text = message("error.csrf", lang)
        elif exc.status == 413:
            text = message("error.400", lang)
        else:
            text = exc.text if exc.text and exc.status < 500 else message("error.internal", lang)
        keep = {k: v for k, v in exc.headers.items() if k in ("Retry-After", "Allow")}
        return error_response(request, exc.status, text, headers=keep)
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception("portal: internal error %s on %s %s", incident, request.method, request.path_qs)
        return error_response(request, 500, message("error.internal", request[LANG]), incident=incident)


def error_response(request: web.Request, status: int, text: str, *, parameter: str | None = None,
                   incident: str | None = None, headers: dict | None = None) -> web.Response:
    if request.path.startswith("/api/"):
        return json_refused(status, text, parameter, incident=incident, headers=headers)
    lang = request.get(LANG, DEFAULT_LANGUAGE)
    title_key = f"error.{status}" if f"error.{status}" in _ERROR_TITLES else "error.title"
    form = None
    if status == 400 and request.path == "/search":  # show the search again, to be corrected
        form = SearchParams(q=request.query.get("q", "")[:MAX_TEXT])
    try:
        html = request.app[TEMPLATES].get_template("error.html").render(
            context(request, status=status, title=message(title_key, lang), text=text, incident=incident,
                    params=form))
    except Exception:  # the error page itself failed: plain text, still no trace
        log.exception("portal: the error page failed")
        html = f"<!doctype html><title>{status}</title><p>{status}</p>"
    response = web.Response(text=html, status=status, content_type="text/html", headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


_ERROR_TITLES = {"error.400", "error.401", "error.403", "error.404", "error.405", "error.409", "error.429",
                 "error.500", "error.503"}



# -- pages -------------------------------------------------------------------------------------------------
async def home(request: web.Request) -> web.Response:
    catalogue = request.app[CATALOGUE]
    searchable = sum(m.queryable for m in catalogue.members)
    return render(request, "home.html", params=search_params({}), searchable=searchable)


def _view_values(request: web.Request, view) -> dict:
    catalogue = request.app[CATALOGUE]
    lang = request[LANG]
    names = catalogue.names(lang)
    names_en = catalogue.names("en")
    selected = set(view.params.facets)
    facets = []
    for facet, entries in view.facets.items():
        rows = [{"value": e["value"], "count": e["count"], "label": facet_label(facet, e, lang, names_en),
                 "selected": (facet, e["value"]) in selected, "estimated": e.get("estimated", False)}
                for e in entries]
        if rows:
            facets.append((facet, rows))
    return {"view": view, "names": names, "facets": facets, "harvested_at": _when(view.harvested),
            "statuses": shown_statuses(request, statuses_in_order(view.statuses, catalogue.members))}


def _when(iso: str | None) -> str | None:
    """An ISO 8601 time as a reader reads it, in the server's time zone: 2026-11-21 02:00."""
    if not iso:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return None


async def search_page(request: web.Request) -> web.Response:
    params = search_params(multi(request.query))
    if params.empty:
        raise web.HTTPFound("/")
    query = build_query(params)
    catalogue = request.app[CATALOGUE]
    if params.live and catalogue.wants_local(params):  # the union index's page at once; availability by SSE
        try:
            view = await catalogue.local_page(params, query, availability=CHECKING,
                                              before_asking=lambda: request.app[LIMITER].check(request))
            return render(request, "search.html", params=params, live=True, **_view_values(request, view))
        except IndexUnavailable:
            pass  # the live shell below; its stream says why
    if params.live:  # the shell: results arrive by server-sent events
        cached = catalogue.recent(params)
        if cached is not None:
            view = catalogue.view(params, query, cached)
        else:
            statuses = [MemberStatus(m.code, m.name, ASKING) for m in catalogue.members]
            view = SearchView(params, statuses=statuses, local_ready=catalogue.local_ready())
        return render(request, "search.html", params=params, live=True, **_view_values(request, view))
    view = await catalogue.page(params, query, before_asking=lambda: request.app[LIMITER].check(request))
    return render(request, "search.html", params=params, live=False, **_view_values(request, view))


async def search_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events of one search: `status` (the member strip), `results`, and last `done`."""
    params = search_params(multi(request.query))
    if params.empty:
        raise ParamError("q", "param.empty_query")
    query = build_query(params)
    params = replace(params, live=True)  # its reader runs JavaScript: the links it renders open streamed pages
    catalogue = request.app[CATALOGUE]
    if catalogue.counts_as_search(params):
        request.app[LIMITER].check(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    env = request.app[TEMPLATES]

    async def send(event: str, data: dict) -> None:
        payload = json.dumps(data, ensure_ascii=False)
        await response.write(f"event: {event}\ndata: {payload}\n\n".encode())

    try:
        async with aclosing(catalogue.stream(params, query)) as changes:  # leaving closes it: members freed
            async for change in changes:
                if isinstance(change, StatusChanged):
                    statuses = shown_statuses(request, statuses_in_order(change.statuses, catalogue.members))
                    html = env.get_template("_status.html").render(
                        context(request, statuses=statuses, names=catalogue.names(request[LANG])))
                    await send("status", {"html": html,
                                          "states": {s.code: s.state for s in statuses}})
                elif isinstance(change, ViewChanged):
                    values = _view_values(request, change.view)
                    ctx = context(request, params=params, live=True, **values)
                    await send("results", {
                        "html": env.get_template("_results.html").render(ctx),
                        "facets": env.get_template("_facets.html").render(ctx),
                        "status": env.get_template("_status.html").render(ctx),
                        "works": len(change.view.works), "done": change.view.done})
        await send("done", {"summary": message("results.done", request[LANG])})
    except (ConnectionResetError, ConnectionError):  # the reader left; the stream's finally frees members
        return response
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception("portal: internal error %s in the event stream %s", incident, request.path_qs)
        try:
            await send("failed", {"message": message("error.internal", request[LANG]), "incident": incident})
        except ConnectionError:
            pass
    return response


async def work_page(request: web.Request) -> web.Response:
    wid = request.match_info["work_id"]
    catalogue = request.app[CATALOGUE]
    try:
        work, others = await catalogue.edition(work_id(wid))
    except ParamError:
        work = None
    if work is None:
        return error_response(request, 404, message("error.work_not_found", request[LANG], work_id=wid[:40]))
    back = request.query.get("back", "")
    try:
        back = local_path(back, "") if back.startswith("/search") else ""
    except ParamError:
        back = ""
    lang = request[LANG]
    refs = await asyncio.to_thread(cite.references, work)
    return render(request, "work.html", work=work, others=others, references=refs,
                  names=catalogue.names(lang), back=back, params=search_params({}),
                  **edition_links(work, others, catalogue.members, request))


PRINT = ("book", "large_print")


def edition_links(work, others: list, members: list, request: web.Request) -> dict:
    """What the edition page adds to the record: each holding member's own OPAC page of its record (where
    the registry gives `opac_url`), today in Beijing (to mark loans past their due date), for an e-book the
    print editions of the same work that a library can lend now, and the page's permanent address."""
    by_code = {m.code: m for m in members}
    records: dict[str, str] = {}
    for r in work.records:
        records.setdefault(r.member, r.record_id)
    opac = {code: url for code, rid in records.items()
            if code in by_code and (url := by_code[code].record_url(rid))}
    lendable = []
    if work.display.material_type not in PRINT:
        lendable = [o for o in others if o.display.material_type in PRINT
                    and any(h.status == "available" for h in o.holdings)]
    return {"opac": opac, "today": datetime.now(BEIJING).date().isoformat(), "lendable_print": lendable,
            "permalink": str(request.url.with_path(f"/work/{work.work_id}").with_query(None))}


async def members_page(request: web.Request) -> web.Response:
    catalogue = request.app[CATALOGUE]
    members = catalogue.sorted_members()
    return render(request, "members.html", members=members, params=search_params({}),
                  searchable=sum(m.queryable for m in members))


async def map_page(request: web.Request) -> web.Response:
    catalogue = request.app[CATALOGUE]
    members = catalogue.sorted_members()
    return render(request, "map.html", chart=schematic(members), members=members, params=search_params({}),
                  names=catalogue.names(request[LANG]))


async def switch_language(request: web.Request) -> web.Response:
    """POST /lang (lang, next, csrf_token): remember the reader's language and go back where they were."""
    form = await request.post()
    lang = language(str(form.get("lang", "")))
    if lang is None:
        raise ParamError("lang", "param.choice", choices="zh, en")
    target = _without_lang(local_path(str(form.get("next", "")), "/"))
    response = web.HTTPSeeOther(target)
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="Lax", path="/")
    raise response


def _without_lang(path: str) -> str:
    """The path with any ?lang= dropped, so the remembered choice is what the next page shows."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(path)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "lang"]
    return urlunsplit(("", "", parts.path, urlencode(pairs), ""))
