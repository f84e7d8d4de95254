"""Security basics: headers on every response, rate limit on search, error pages without traces, CSRF."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from portal import create_app
from portal.security import CSP

PAGES = ["/", "/members", "/map", "/static/portal.css", "/static/portal.js", "/api/members", "/nothing-here",
         "/search?q=中国", "/work/W0123456789abcdef"]


def assert_secured(headers) -> None:
    assert headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP and "frame-ancestors 'none'" in CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


async def test_every_response_carries_the_security_headers(client):
    for path in PAGES:
        r = await client.get(path)
        assert_secured(r.headers)
        await r.read()
    r = await client.get("/search/events", params={"q": "中国"})
    assert_secured(r.headers)
    await r.read()


async def test_pages_have_no_inline_script_or_style(client):
    for path in ["/", "/members", "/map", "/search?q=中国", "/search?q=中国&live=1", "/nothing"]:
        html = await (await client.get(path)).text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert "<style" not in html and " style=" not in html and "onclick" not in html, path


async def test_search_rate_limit_per_client(make_client):
    client = await make_client(searches_per_minute=1, search_burst=2)
    for q in ("中国", "历史"):
        assert (await client.get("/api/search", params={"q": q})).status == 200
    r = await client.get("/search", params={"q": "文学"})
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0
    html = await r.text()
    assert "检索过于频繁" in html and "秒后再试" in html
    r = await client.get("/api/search", params={"q": "文学"})
    assert r.status == 429 and (await r.json())["error"]["status"] == 429
    r = await client.get("/search/events", params={"q": "文学"})
    assert r.status == 429
    # what was searched before stays reachable: facets, sorts and pages of it ask no member
    r = await client.get("/search", params={"q": "中国", "sort": "title"})
    assert r.status == 200


async def test_internal_error_page_has_no_trace(registry, caplog):
    async def broken(request):
        raise RuntimeError("secret detail /etc/passwd in a stack frame")

    app = create_app(registry)
    app.router.add_get("/broken", broken)  # a handler that fails, in the real app with its middlewares
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await _check_internal_error(client, caplog)


async def _check_internal_error(client, caplog) -> None:
    r = await client.get("/broken")
    assert r.status == 500
    html = await r.text()
    assert "服务器内部错误" in html and "错误编号" in html
    for leak in ("Traceback", "RuntimeError", "secret detail", "/etc/passwd", "File \""):
        assert leak not in html
    incident = re.search(r"错误编号：(\w+)", html).group(1)
    assert any(incident in rec.getMessage() for rec in caplog.records)  # the log has it for staff
    assert_secured(r.headers)
    r = await client.get("/broken", headers={"Accept": "application/json"})
    assert r.status == 500


async def test_forms_need_a_csrf_token(client):
    html = await (await client.get("/")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = await client.post("/lang", data={"lang": "en", "next": "/"}, allow_redirects=False)
    assert r.status == 403 and "表单已过期" in await r.text()
    r = await client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": "0" * 64}, allow_redirects=False)
    assert r.status == 403
    r = await client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": token},
                          headers={"Origin": "http://evil.example"}, allow_redirects=False)
    assert r.status == 403
    r = await client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": token}, allow_redirects=False)
    assert r.status == 303
    r = await client.post("/lang", data={"lang": "en", "next": "https://evil.example/", "csrf_token": token},
                          allow_redirects=False)
    assert r.status == 400


async def test_token_belongs_to_the_browser(make_client):
    a, b = await make_client(secret=b"k" * 32), None
    html = await (await a.get("/")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    b = await make_client(secret=b"k" * 32)  # another browser (its own cookie) with the same token
    await b.get("/")
    r = await b.post("/lang", data={"lang": "en", "next": "/", "csrf_token": token}, allow_redirects=False)
    assert r.status == 403


async def test_wrong_method_and_oversized_body(client):
    r = await client.post("/search", data={"q": "x"})
    assert r.status in (403, 405)  # no token: refused before the method is even looked at
    html = await (await client.get("/")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = await client.post("/search", data={"q": "x", "csrf_token": token})
    assert r.status == 405 and "不接受 POST" in await r.text()
    r = await client.post("/lang", data={"lang": "en", "csrf_token": token, "pad": "x" * 100_000})
    assert r.status == 413 and "Traceback" not in await r.text()


def test_secret_is_random_per_app(registry):
    from portal.keys import CSRF

    one, two = create_app(registry), create_app(registry)
    assert one[CSRF].secret != two[CSRF].secret and len(one[CSRF].secret) >= 32
    assert isinstance(one, web.Application)
