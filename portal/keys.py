"""Typed keys for what the app and each request carry (aiohttp's AppKey / RequestKey)."""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from portal.catalogue import Catalogue
from portal.security import Csrf, RateLimiter

CATALOGUE = web.AppKey("catalogue", Catalogue)
CSRF = web.AppKey("csrf", Csrf)
LIMITER = web.AppKey("limiter", RateLimiter)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
INDEX_DIR = web.AppKey("index_dir", Path)  # or None

LANG = web.RequestKey("lang", str)
