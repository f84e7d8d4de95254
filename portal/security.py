"""Security basics shared by every page: headers, CSRF tokens for forms, and a per-client rate limit.

- Headers on every response (pages, errors, static files, event streams): a Content-Security-Policy that
  allows only this site's own scripts and styles (no inline script), no framing, no MIME sniffing.
- CSRF: each browser gets a random cookie; a form carries an HMAC of it under the app's secret
  (`csrf_token`). Every POST/PUT/PATCH/DELETE must bring the token (form field `csrf_token` or header
  `X-CSRF-Token`) and, when the browser says where it comes from (Origin), come from this site.
- Rate limit: a token bucket per client address for searches (each one fans out to every member).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

from aiohttp import web

CSRF_COOKIE = "balis_csrf"
COOKIE_KEY = web.RequestKey("csrf_cookie", str)
NEW_COOKIE = web.RequestKey("csrf_new", bool)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, streamed ones included, carries the security headers."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


class CsrfError(Exception):
    """An unsafe request without a valid token, or from another site."""


class Csrf:
    """Double-submit tokens bound to the app's secret: token = HMAC(secret, the browser's cookie)."""

    def __init__(self, secret: bytes, *, secure_cookie: bool = False, exempt: tuple[str, ...] = ()) -> None:
        self.secret = secret
        self.secure_cookie = secure_cookie
        self.exempt = exempt  # paths of protocol endpoints for other systems (no cookies, no state changed)

    def token_for(self, cookie: str) -> str:
        return hmac.new(self.secret, cookie.encode("ascii", "replace"), hashlib.sha256).hexdigest()

    def cookie_of(self, request: web.Request) -> str:
        """The browser's CSRF cookie, or a new one (set on the response by the middleware)."""
        cookie = request.get(COOKIE_KEY)
        if cookie is None:
            cookie = request.cookies.get(CSRF_COOKIE, "")
            if not (20 <= len(cookie) <= 100 and cookie.replace("-", "").replace("_", "").isalnum()):
                cookie = secrets.token_urlsafe(32)
                request[NEW_COOKIE] = True
            request[COOKIE_KEY] = cookie
        return cookie

    def token(self, request: web.Request) -> str:
        """The token a form on this page must send back."""
        return self.token_for(self.cookie_of(request))

    async def check(self, request: web.Request) -> None:
        """Raise CsrfError unless an unsafe request carries this browser's token and comes from this site."""
        origin = request.headers.get("Origin")
        if origin and origin != "null":
            own = f"{request.scheme}://{request.host}"
            if origin != own:
                raise CsrfError(f"origin {origin} is not {own}")
        cookie = request.cookies.get(CSRF_COOKIE)
        if not cookie:
            raise CsrfError("no CSRF cookie")
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
        if not given or not hmac.compare_digest(given, self.token_for(cookie)):
            raise CsrfError("missing or wrong CSRF token")

    def middleware(self) -> Callable:
        @web.middleware
        async def csrf_middleware(request: web.Request, handler):
            if request.method in UNSAFE_METHODS and request.path not in self.exempt:
                try:
                    await self.check(request)
                except CsrfError:
                    raise web.HTTPForbidden(reason="csrf") from None
            response = await handler(request)
            if request.get(NEW_COOKIE) and not response.prepared:
                response.set_cookie(CSRF_COOKIE, request[COOKIE_KEY], httponly=True, samesite="Strict",
                                    secure=self.secure_cookie or request.secure, path="/")
            return response

        return csrf_middleware


class RateLimiter:
    """Token buckets per client: `burst` requests at once, refilled at `per_minute` a minute."""

    def __init__(self, per_minute: float = 60.0, burst: int = 20, *, clients: int = 10000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self.rate = per_minute / 60.0
        self.burst = burst
        self.clients = clients
        self.clock = clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client → (tokens, at)

    def take(self, client: str) -> float:
        """Take one token: 0.0 if allowed, else the seconds until the next token."""
        now = self.clock()
        tokens, at = self.buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self.buckets[client] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self.buckets[client] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        self.buckets.move_to_end(client)
        while len(self.buckets) > self.clients:
            self.buckets.popitem(last=False)
        return wait

    def check(self, request: web.Request) -> None:
        """Raise 429 with Retry-After when this client has searched too often."""
        wait = self.take(request.remote or "unknown")
        if wait > 0:
            raise web.HTTPTooManyRequests(headers={"Retry-After": str(math.ceil(wait))}, reason="rate")
