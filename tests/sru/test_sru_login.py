"""SRU members behind HTTP basic authentication: Zebra's own SRU (it checks its passwd file and answers SRU
diagnostic 3), and an aiohttp reverse proxy in front of it that answers HTTP 401 as a web server would."""

from __future__ import annotations

import base64

import aiohttp
import pytest
from aiohttp import web

from connectors.auth import REFUSED_ZH, REQUIRED_ZH
from connectors.errors import LoginRefused
from connectors.sru import SruConnector
from members import Credentials
from testbed.seeds import seed_marcxml
from testbed.zebra import ZebraServer

pytestmark = pytest.mark.integration

USER, PASSWORD = "balis", "pa ss 密码"


@pytest.fixture(scope="module")
def login_zebra(tmp_path_factory):
    zebra = ZebraServer(tmp_path_factory.mktemp("zebra-sru-login"), syntax="marc21", login=(USER, PASSWORD))
    zebra.load(seed_marcxml("marc21")[:12])
    zebra.start()
    yield zebra
    zebra.stop()


@pytest.fixture
def creds(tmp_path) -> Credentials:
    secret = tmp_path / "member.secret"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    return Credentials(user=USER, password_file=str(secret))


async def test_basic_auth_reaches_zebras_sru(login_zebra, creds):
    async with aiohttp.ClientSession() as session:
        member = SruConnector("CALIS", login_zebra.sru_url, session=session, login=creds)
        page = await member.search_cql("cql.allRecords = 1", 1, 2)
    assert page.hits == login_zebra.records and len(page.records) == 2


@pytest.mark.parametrize("login", [None, "wrong"])
async def test_zebra_sru_refusal_is_login_refused(login_zebra, tmp_path, login):
    creds = None
    if login:
        (tmp_path / "bad.secret").write_text(login)
        creds = Credentials(user=USER, password_file=str(tmp_path / "bad.secret"))
    async with aiohttp.ClientSession() as session:
        member = SruConnector("CALIS", login_zebra.sru_url, session=session, login=creds)
        with pytest.raises(LoginRefused) as info:
            await member.search_cql("cql.allRecords = 1", 1, 1)
    assert (REFUSED_ZH if login else REQUIRED_ZH) in info.value.message
    assert "diagnostic 3" in info.value.message and "wrong" not in info.value.message


@pytest.fixture
async def basic_auth_proxy(login_zebra):
    """A web server asking for basic auth (401 + WWW-Authenticate) in front of the member's SRU, which it
    forwards with the same Authorization header."""
    seen: list[str | None] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        header = request.headers.get("Authorization")
        seen.append(header)
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if header != expected:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="opac"'})
        async with aiohttp.ClientSession() as up:
            async with up.get(login_zebra.sru_url, params=request.query, headers={"Authorization": header}) as r:
                return web.Response(body=await r.read(), content_type="text/xml")

    app = web.Application()
    app.router.add_get("/Default", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/Default", seen
    await runner.cleanup()


async def test_http_401_is_login_refused_and_basic_auth_passes(basic_auth_proxy, creds):
    url, seen = basic_auth_proxy
    async with aiohttp.ClientSession() as session:
        with pytest.raises(LoginRefused) as info:
            await SruConnector("CALIS", url, session=session).search_cql("cql.allRecords = 1", 1, 1)
        assert REQUIRED_ZH in info.value.message and "HTTP 401" in info.value.message
        page = await SruConnector("CALIS", url, session=session, login=creds).search_cql("cql.allRecords = 1", 1, 1)
    assert page.hits and seen[0] is None and seen[-1].startswith("Basic ")
