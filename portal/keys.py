"""Typed keys for what the app and each request carry (aiohttp's AppKey / RequestKey)."""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from ill.store import Store
from members import Registry
from portal.catalogue import Catalogue
from portal.security import Csrf, RateLimiter

CATALOGUE = web.AppKey("catalogue", Catalogue)
CSRF = web.AppKey("csrf", Csrf)
LIMITER = web.AppKey("limiter", RateLimiter)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
INDEX_DIR = web.AppKey("index_dir", Path)  # or None
REGISTRY = web.AppKey("registry", Registry)  # the registry file's members, before portal suspensions
STORE = web.AppKey("store", Store)  # the ILL store: users, sessions, requests
LOGIN_LIMITER = web.AppKey("login_limiter", RateLimiter)

LANG = web.RequestKey("lang", str)
