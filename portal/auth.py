"""Signing in: password hashes, sessions, who is asking, and what they may see.

- Passwords are hashed with Argon2id (argon2-cffi, memory-hard); a hash made with older parameters is
  replaced at the next successful sign-in. An unknown user costs the same time as a wrong password.
- A session is a random cookie (`balis_session`, HTTP-only, SameSite=Lax, Secure behind TLS or with
  `secure_cookies`); the ILL store keeps only its SHA-256, so a copy of the database signs no one in.
  Signing in always starts a new session (no fixation); signing out ends it in the store.
- Sign-in attempts are rate-limited per client address and per user id.
- `current_user(request)` is the signed-in user (or None); `require(request, *roles)` refuses everyone
  else: a page sends the browser to the sign-in page, the JSON API answers 401, a wrong role gets 403.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from datetime import timedelta

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ill.store import Store
from services.search import for_readers

log = logging.getLogger("balis.portal")

SESSION_COOKIE = "balis_session"
SESSION_LIFETIME = timedelta(hours=8)
MAX_USER_ID = 64
MAX_PASSWORD = 200
MIN_PASSWORD = 8

USER = web.RequestKey("user", dict)  # the signed-in user ({id, name, role, member}) or absent

_hasher = PasswordHasher()  # Argon2id, RFC 9106 low-memory profile (64 MiB, 3 passes)
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))  # verified against when the user is unknown


class PasswordError(ValueError):
    """A new password that does not meet the rules (the message says which)."""


def check_new_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise PasswordError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise PasswordError(f"a password may have at most {MAX_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_new_password(password))


def verify_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """(matches, new hash to store or None). Takes the same time whether or not `stored` exists."""
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    if stored is None:
        return False, None
    return True, (_hasher.hash(password) if _hasher.check_needs_rehash(stored) else None)


def session_id(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("ascii", "replace")).hexdigest()


def set_password(store: Store, user_id: str, password: str) -> None:
    """Give a user a password (CLI and admin); ends the user's open sessions."""
    store.set_password_hash(user_id, hash_password(password))


async def sign_in(store: Store, user_id: str, password: str) -> tuple[dict, str] | None:
    """(user, new session cookie) when the password is right, else None. Hashing runs in a thread."""
    user_id = (user_id or "").strip()[:MAX_USER_ID]
    password = (password or "")[:MAX_PASSWORD]
    user_id = (await asyncio.to_thread(store.user_id_for, user_id) if user_id else None) or user_id  # any case
    stored = await asyncio.to_thread(store.password_hash, user_id) if user_id else None
    ok, rehash = await asyncio.to_thread(verify_password, stored, password)
    if not ok:
        return None
    if rehash:
        await asyncio.to_thread(store.set_password_hash, user_id, rehash)
    cookie = secrets.token_urlsafe(32)
    await asyncio.to_thread(store.open_session, session_id(cookie), user_id, SESSION_LIFETIME)
    user = await asyncio.to_thread(store.user, user_id)
    return user, cookie


async def sign_out(store: Store, request: web.Request) -> None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await asyncio.to_thread(store.close_session, session_id(cookie))


def set_session_cookie(response: web.StreamResponse, cookie: str, *, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, cookie, max_age=int(SESSION_LIFETIME.total_seconds()), httponly=True,
                        samesite="Lax", secure=secure, path="/")


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")


def session_middleware(store_of):
    """Finds the signed-in user of each request from its cookie (`store_of(app)` gives the ILL store)."""

    @web.middleware
    async def middleware(request: web.Request, handler):
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie and 20 <= len(cookie) <= 100:
            store = store_of(request.app)
            if store is not None:
                user = await asyncio.to_thread(store.session_user, session_id(cookie))
                if user is not None:
                    request[USER] = user
        return await handler(request)

    return middleware


def current_user(request: web.Request) -> dict | None:
    return request.get(USER)


class SignInRequired(web.HTTPUnauthorized):
    """No one is signed in; a page sends the browser to /login, the API answers 401."""


class Forbidden(web.HTTPForbidden):
    """Signed in, but not allowed here (`text` says why)."""

    def __init__(self, why: str) -> None:
        super().__init__(text=why, reason="forbidden")
        self.why = why


def require(request: web.Request, *roles: str) -> dict:
    """The signed-in user, who must have one of `roles` (any role when none are given)."""
    user = current_user(request)
    if user is None:
        raise SignInRequired(reason="sign in")
    if roles and user["role"] not in roles:
        raise Forbidden(f"role:{'/'.join(roles)}")
    return user


def shown_statuses(request: web.Request, statuses: list) -> list:
    """Members' states as this person may see them: staff and administrators the whole detail (server
    addresses included), readers and anonymous visitors without where the members' servers are."""
    user = request.get(USER)
    if user is not None and user.get("role") in ("staff", "admin"):
        return statuses
    return [for_readers(s) for s in statuses]
