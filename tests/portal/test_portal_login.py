"""Signing in to the portal: Argon2id hashes, session cookies, sign-out, rate limits, the API session."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ill.errors import InvalidRequest
from ill.store import Store
from portal.auth import SESSION_COOKIE, hash_password, set_password, verify_password

ROOT = Path(__file__).resolve().parents[2]


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def store():
    s = Store()  # $BALIS_DB: this test's own file (tests/conftest.py)
    first = s.add_user("R1001", "reader", "PKU", "王读者")
    set_password(s, first["id"], "correct horse battery")
    s.add_user("S-THU", "staff", "THU", "清华馆员")
    set_password(s, "S-THU", "staff password 1")
    yield s
    s.close()


async def _sign_in(client, user: str, password: str, next_path: str = "/"):
    page = await client.get(f"/login?next={next_path}")
    assert page.status == 200
    return await client.post("/login", data={"user": user, "password": password, "next": next_path,
                                             "csrf_token": _token(await page.text())}, allow_redirects=False)


def test_hashes_are_argon2id_and_verify():
    h = hash_password("a long enough secret")
    assert h.startswith("$argon2id$")
    assert verify_password(h, "a long enough secret") == (True, None)
    assert verify_password(h, "wrong")[0] is False
    assert verify_password(None, "anything")[0] is False


def test_the_hash_is_stored_never_the_password_and_never_listed(store):
    row = sqlite3.connect(os.environ["BALIS_DB"]).execute(
        "select password_hash from users where id='R1001'").fetchone()
    assert row[0].startswith("$argon2id$") and "correct horse" not in row[0]
    assert "password_hash" not in store.user("R1001")
    assert all("password_hash" not in u for u in store.users())


async def test_sign_in_sets_a_secure_session_cookie_and_names_the_reader(make_client, store):
    client = await make_client(db=os.environ["BALIS_DB"])
    r = await _sign_in(client, "R1001", "correct horse battery", "/members")
    assert r.status == 303 and r.headers["Location"] == "/members"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    raw = cookie.split(";", 1)[0].split("=", 1)[1]
    stored = sqlite3.connect(os.environ["BALIS_DB"]).execute("select id from sessions").fetchall()
    assert len(stored) == 1 and stored[0][0] != raw  # only the cookie's hash is kept
    home = await (await client.get("/")).text()
    assert "王读者" in home and 'id="logout"' in home and 'href="/requests"' in home


async def test_secure_flag_when_asked(make_client, store):
    client = await make_client(db=os.environ["BALIS_DB"], secure_cookies=True)
    page = await client.get("/login")
    csrf = page.headers["Set-Cookie"]
    assert "Secure" in csrf  # so the test client, on plain HTTP, keeps it back: send it by hand
    r = await client.post("/login", data={"user": "R1001", "password": "correct horse battery", "next": "/",
                                          "csrf_token": _token(await page.text())},
                          headers={"Cookie": csrf.split(";", 1)[0]}, allow_redirects=False)
    assert r.status == 303 and "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]


async def test_wrong_password_says_so_and_signs_no_one_in(make_client, store):
    client = await make_client(db=os.environ["BALIS_DB"])
    for user, password in (("R1001", "wrong password"), ("nobody", "correct horse battery")):
        r = await _sign_in(client, user, password)
        assert r.status == 401
        text = await r.text()
        assert "账号或密码不正确" in text and SESSION_COOKIE not in r.headers.get("Set-Cookie", "")
    assert 'id="nav-login"' in await (await client.get("/")).text()


async def test_a_mistyped_password_keeps_where_the_reader_was_going(make_client, store):
    client = await make_client(db=os.environ["BALIS_DB"])
    r = await _sign_in(client, "R1001", "wrong password", "/requests")
    assert r.status == 401
    text = await r.text()
    assert 'name="next" value="/requests"' in text  # the retry goes where the first attempt was going
    r = await client.post("/login", data={"user": "R1001", "password": "correct horse battery", "next": "/requests",
                                          "csrf_token": _token(text)}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/requests"


async def test_user_names_are_signed_in_with_in_any_case(make_client, store):
    client = await make_client(db=os.environ["BALIS_DB"])
    for typed in ("s-thu", "S-Thu", " S-THU "):
        r = await _sign_in(client, typed, "staff password 1", "/desk")
        assert r.status == 303 and r.headers["Location"] == "/desk", typed
        assert "清华馆员" in await (await client.get("/")).text()
        await client.post("/logout", data={"csrf_token": _token(await (await client.get("/")).text())})
    assert (await _sign_in(client, "s-thu", "STAFF PASSWORD 1")).status == 401  # the password keeps its case
    with pytest.raises(InvalidRequest, match="exists already \\(as S-THU\\)"):
        store.add_user("s-thu", "staff", "THU")  # one user per name, whatever the case


async def test_sign_out_ends_the_session_in_the_store(make_client, store):
    client = await make_client(db=os.environ["BALIS_DB"])
    await _sign_in(client, "R1001", "correct horse battery")
    page = await (await client.get("/")).text()
    r = await client.post("/logout", data={"csrf_token": _token(page)}, allow_redirects=False)
    assert r.status == 303
    assert sqlite3.connect(os.environ["BALIS_DB"]).execute("select count(*) from sessions").fetchone()[0] == 0
    assert 'id="nav-login"' in await (await client.get("/")).text()


async def test_sign_in_attempts_are_rate_limited(make_client, store):
    client = await make_client(db=os.environ["BALIS_DB"], logins_per_minute=2)
    statuses = [(await _sign_in(client, "R1001", f"wrong {i}")).status for i in range(7)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    r = await _sign_in(client, "R1001", "correct horse battery")  # even the right password waits
    assert r.status == 429 and int(r.headers["Retry-After"]) >= 1
    assert "登录尝试过于频繁" in await r.text()


async def test_api_session_round_trip(make_client, store):
    client = await make_client(db=os.environ["BALIS_DB"])
    start = await (await client.get("/api/session")).json()
    assert start["user"] is None and start["csrf_token"]
    headers = {"X-CSRF-Token": start["csrf_token"]}
    bad = await client.post("/api/session", json={"user": "S-THU", "password": "nope nope"}, headers=headers)
    assert bad.status == 401 and (await bad.json())["error"]["message"]
    refused = await client.post("/api/session", json={"user": "S-THU", "password": "staff password 1"})
    assert refused.status == 403  # no CSRF token: refused before the password is looked at
    ok = await client.post("/api/session", json={"user": "S-THU", "password": "staff password 1"},
                           headers=headers)
    assert ok.status == 200
    assert (await ok.json())["user"] == {"id": "S-THU", "name": "清华馆员", "role": "staff", "member": "THU"}
    assert (await (await client.get("/api/session")).json())["user"]["id"] == "S-THU"
    out = await client.delete("/api/session", headers=headers)
    assert out.status == 200 and (await (await client.get("/api/session")).json())["user"] is None
    junk = await client.post("/api/session", data=b"{not json", headers={**headers,
                                                                         "Content-Type": "application/json"})
    assert junk.status == 400


def _balis(*args, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "balis.cli", *args], cwd=ROOT, input=stdin, text=True,
                          capture_output=True, env=os.environ.copy(), timeout=120)


def test_cli_sets_passwords_and_makes_demo_accounts(portal_registry_path):
    out = _balis("request", "user", "add", "R2002", "--role", "reader", "--member", "PKU", "--password-stdin",
                 "--registry", str(portal_registry_path), stdin="reader secret 22\n")
    assert out.returncode == 0, out.stderr
    with Store() as s:
        assert verify_password(s.password_hash("R2002"), "reader secret 22")[0]
    short = _balis("request", "user", "passwd", "R2002", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    demo = _balis("request", "user", "demo", "--registry", str(portal_registry_path))
    assert demo.returncode == 0, demo.stderr
    assert "balis-demo" in demo.stdout and "reader1" in demo.stdout and "admin" in demo.stdout
    again = _balis("request", "user", "demo", "--registry", str(portal_registry_path))
    assert again.returncode == 0 and "all there already" in again.stdout
    with Store() as s:
        assert {u["role"] for u in s.users()} == {"reader", "staff", "admin"}
        assert verify_password(s.password_hash("admin"), "balis-demo")[0]


async def test_strangers_guessing_from_other_addresses_do_not_lock_the_user_out(make_client, store):
    """Wrong passwords for R1001 from eight other loopback addresses, and one more every few seconds, leave
    the real user able to sign in from their own address."""
    import aiohttp

    client = await make_client(db=os.environ["BALIS_DB"], logins_per_minute=2)

    async def from_address(ip: str, password: str) -> int:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(ip, 0)),
                                         cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            page = await session.get(client.make_url("/login"))
            r = await session.post(client.make_url("/login"), allow_redirects=False,
                                   data={"user": "R1001", "password": password, "next": "/",
                                         "csrf_token": _token(await page.text())})
            return r.status

    for i in range(8):
        assert await from_address(f"127.0.0.{10 + i}", f"wrong {i}") == 401
    assert {await from_address("127.0.0.30", f"again {i}") for i in range(6)} >= {429}  # that address waits
    r = await _sign_in(client, "R1001", "correct horse battery")
    assert r.status == 303
