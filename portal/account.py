"""Signing in and out: the page, the form, and the same over the JSON API.

    GET  /login          the sign-in form (?next= where to go after)
    POST /login          user, password, next, csrf_token → 303 to next, with a new session cookie
    POST /logout         ends the session
    GET  /api/session    who is signed in, and the CSRF token API clients send back as X-CSRF-Token
    POST /api/session    {"user", "password"} → the user, with a new session cookie
    DELETE /api/session  signs out
"""

from __future__ import annotations

from aiohttp import web

from portal.auth import (
    MAX_PASSWORD,
    MAX_USER_ID,
    clear_session_cookie,
    current_user,
    set_session_cookie,
    sign_in,
    sign_out,
)
from portal.i18n import message
from portal.keys import CSRF, LANG, LOGIN_LIMITER, STORE
from portal.openapi_parts import CSRF_NOTE, ERROR_RESPONSE
from portal.params import ParamError, json_body, local_path
from portal.render import json_answer, json_refused, private_page


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_page, name="login")
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_get("/api/session", api_session)
    app.router.add_post("/api/session", api_sign_in)
    app.router.add_delete("/api/session", api_sign_out)


ERROR = ERROR_RESPONSE


def openapi_parts() -> tuple[dict, dict]:
    user_ref = {"oneOf": [{"$ref": "#/components/schemas/User"}, {"type": "null"}]}
    user = {"type": "object", "required": ["id", "name", "role", "member"], "properties": {
        "id": {"type": "string"}, "name": {"type": "string"},
        "role": {"type": "string", "enum": ["reader", "staff", "admin"]},
        "member": {"type": ["string", "null"], "description": "the user's library; null for administrators"}}}
    paths = {"/api/session": {
        "get": {"operationId": "getSession", "summary": "Who is signed in, and the CSRF token for changes",
                "description": CSRF_NOTE,
                "responses": {"200": {"description": "the session", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["user", "csrf_token"], "properties": {
                        "user": user_ref, "csrf_token": {"type": "string"}}}}}}}},
        "post": {"operationId": "signIn", "summary": "Sign in; sets the HTTP-only session cookie",
                 "description": "Rate-limited per client address and per user (429 with Retry-After). " + CSRF_NOTE,
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {
                     "type": "object", "required": ["user", "password"], "properties": {
                         "user": {"type": "string", "maxLength": MAX_USER_ID},
                         "password": {"type": "string", "maxLength": MAX_PASSWORD}}}}}},
                 "responses": {"200": {"description": "signed in", "content": {"application/json": {"schema": {
                     "type": "object", "required": ["user"], "properties": {"user": user_ref}}}}},
                     "400": ERROR, "401": ERROR, "403": ERROR, "429": ERROR}},
        "delete": {"operationId": "signOut", "summary": "Sign out (the session ends in the store)",
                   "responses": {"200": {"description": "signed out", "content": {"application/json": {
                       "schema": {"type": "object", "properties": {"user": {"type": "null"}}}}}},
                       "403": ERROR}}}}
    return paths, {"User": user}


def public_user(user: dict | None) -> dict | None:
    if user is None:
        return None
    return {"id": user["id"], "name": user["name"], "role": user["role"], "member": user["member"]}


def _next(value: str) -> str:
    try:
        target = local_path(value or "", "/")
    except ParamError:
        return "/"
    return "/" if target.startswith(("/login", "/logout")) else target


def _limited(request: web.Request, user_id: str) -> float:
    """Seconds to wait before another sign-in try from this address, or for this user from this address
    (0: go ahead). Tries are never counted per user alone: strangers guessing a user's password from other
    addresses must not lock the user out (docs/portal-accounts.md)."""
    limiter = request.app[LOGIN_LIMITER]
    address = request.remote or "unknown"
    by_address = limiter.take(f"addr:{address}")
    by_user_here = limiter.take(f"user:{user_id.lower()}@{address}") if user_id else 0.0
    return max(by_address, by_user_here)


async def login_page(request: web.Request, *, failed: str | None = None, user_id: str = "",
                     status: int = 200, nxt: str | None = None) -> web.Response:
    """The sign-in form; after a failed attempt it keeps where the reader was going (`nxt`, from the form)."""
    nxt = _next(request.query.get("next", "")) if nxt is None else nxt
    return private_page(request, "login.html", status, next=nxt, failed=failed, user_id=user_id[:MAX_USER_ID])


async def login_submit(request: web.Request) -> web.Response:
    form = await request.post()
    user_id = str(form.get("user", "")).strip()[:MAX_USER_ID]
    password = str(form.get("password", ""))[:MAX_PASSWORD]
    nxt = _next(str(form.get("next", "")))
    lang = request[LANG]
    wait = _limited(request, user_id)
    if wait > 0:
        seconds = max(1, round(wait))
        response = await login_page(request, failed=message("login.rate_limited", lang, seconds=seconds),
                                    user_id=user_id, status=429, nxt=nxt)
        response.headers["Retry-After"] = str(seconds)
        return response
    result = await sign_in(request.app[STORE], user_id, password)
    if result is None:
        return await login_page(request, failed=message("login.failed", lang), user_id=user_id, status=401,
                                nxt=nxt)
    _user, cookie = result
    response = web.HTTPSeeOther(nxt)
    set_session_cookie(response, cookie, secure=request.app[CSRF].secure_cookie or request.secure)
    raise response


async def logout(request: web.Request) -> web.Response:
    await sign_out(request.app[STORE], request)
    response = web.HTTPSeeOther("/?signed_out=1")
    clear_session_cookie(response)
    raise response




async def api_session(request: web.Request) -> web.Response:
    return json_answer({"user": public_user(current_user(request)), "csrf_token": request.app[CSRF].token(request)})


async def api_sign_in(request: web.Request) -> web.Response:
    body = await json_body(request)
    if not isinstance(body.get("user"), str) or not isinstance(
            body.get("password"), str):
        raise ParamError("body", "param.json")
    user_id = body["user"].strip()[:MAX_USER_ID]
    wait = _limited(request, user_id)
    lang = request[LANG]
    if wait > 0:
        seconds = max(1, round(wait))
        return json_refused(429, message("login.rate_limited", lang, seconds=seconds),
                            headers={"Retry-After": str(seconds)})
    result = await sign_in(request.app[STORE], user_id, body["password"][:MAX_PASSWORD])
    if result is None:
        return json_refused(401, message("login.failed", lang))
    user, cookie = result
    response = json_answer({"user": public_user(user)})
    set_session_cookie(response, cookie, secure=request.app[CSRF].secure_cookie or request.secure)
    return response


async def api_sign_out(request: web.Request) -> web.Response:
    await sign_out(request.app[STORE], request)
    response = json_answer({"user": None})
    clear_session_cookie(response)
    return response
