"""Members that require a login: Z39.50 Init authentication (idPass, open) against a real Zebra with a `passwd`
file, the encoding checked by YAZ's own decoder (yaz-ztest's APDU log), and a refused login as that member's
clear error while the other members go on."""

from __future__ import annotations

import subprocess

import pytest

from connectors.auth import REFUSED_ZH, REQUIRED_ZH, Login
from connectors.errors import LoginRefused
from connectors.rpn import Term
from connectors.z3950 import Z3950Connector
from connectors.z3950.connection import Z3950Connection
from members import Credentials, Endpoint, Member
from testbed.seeds import seed_marcxml
from testbed.zebra import ZebraServer
from testbed.ztest import ZTest

pytestmark = pytest.mark.integration

USER, PASSWORD = "balis", "s3cret-登录"
ANY = Term("", ((1, 1016), (2, 103)))


@pytest.fixture(scope="module")
def login_zebra(tmp_path_factory):
    """A Zebra (the test bed's CNMARC configuration) whose passwd file knows one user: anonymous is refused."""
    zebra = ZebraServer(tmp_path_factory.mktemp("zebra-login"), syntax="unimarc", login=(USER, PASSWORD))
    zebra.load(seed_marcxml("unimarc"))
    zebra.start()
    yield zebra
    zebra.stop()


def _creds(monkeypatch, password: str | None = PASSWORD, **kw) -> Credentials:
    monkeypatch.setenv("BALIS_PW_TEST", password) if password is not None else monkeypatch.delenv(
        "BALIS_PW_TEST", raising=False)
    return Credentials(user=kw.pop("user", USER), password_env="BALIS_PW_TEST", **kw)


@pytest.mark.parametrize("form,group", [("idpass", None), ("idpass", "bj"), ("open", None)])
async def test_login_in_init_is_accepted(login_zebra, monkeypatch, form, group):
    creds = _creds(monkeypatch, form=form, group=group)  # Zebra ignores the group
    async with Z3950Connector("CALIS", "127.0.0.1", login_zebra.port, syntax="unimarc", login=creds) as member:
        page = await member.search_rpn(ANY, 1, 3)
    assert page.hits == login_zebra.records and len(page.records) == 3


async def test_wrong_password_is_a_clear_refusal_that_never_shows_it(login_zebra, monkeypatch):
    creds = _creds(monkeypatch, password="not-the-password")
    async with Z3950Connector("CALIS", "127.0.0.1", login_zebra.port, syntax="unimarc", login=creds) as member:
        with pytest.raises(LoginRefused) as info:
            await member.search_rpn(ANY, 1, 1)
    text = str(info.value)
    assert info.value.member == "CALIS" and text.startswith("CALIS: " + REFUSED_ZH)
    assert "1011" in text and "[member.auth]" in text
    assert "not-the-password" not in text + repr(info.value)


async def test_anonymous_connection_to_a_member_that_needs_a_login(login_zebra):
    with pytest.raises(LoginRefused) as info:
        await Z3950Connection("127.0.0.1", login_zebra.port, member="CALIS").open()
    assert REQUIRED_ZH in str(info.value) and "add [member.auth]" in str(info.value)


async def test_unset_password_variable_is_that_members_error(login_zebra, monkeypatch):
    creds = _creds(monkeypatch, password=None)
    with pytest.raises(LoginRefused) as info:
        await Z3950Connection("127.0.0.1", login_zebra.port, member="CALIS", login=creds).open()
    assert "BALIS_PW_TEST" in str(info.value) and "not set" in str(info.value)


def test_yaz_client_logs_in_the_same_way(login_zebra):
    """The reference client: idPass (`auth user password`) is accepted, a wrong password refused with 1011."""
    def init(auth: str) -> str:
        script = f"auth {auth}\nopen tcp:127.0.0.1:{login_zebra.port}/Default\nquit\n"
        return subprocess.run(["yaz-client"], input=script, capture_output=True, text=True, timeout=20).stdout

    assert "Connection accepted" in init(f"{USER} {PASSWORD}")
    refused = init(f"{USER} wrong")
    assert "Connection rejected" in refused and "code=1011" in refused


async def test_idpass_with_group_as_yaz_decodes_it(tmp_path):
    """Our IdAuthentication bytes as YAZ's own decoder reads them (yaz-ztest writes each APDU it receives)."""
    ztest = ZTest(tmp_path / "ztest", apdu_log=True)
    port = ztest.start()
    try:
        for login in (Login("u1", "p1", group="g1"), Login("u2", "p2", form="open")):
            conn = Z3950Connection("127.0.0.1", port, member="ZT", propose_charset=None, login=login)
            assert (await conn.open()).accepted
            await conn.close()
        text = ztest.apdu_text()
    finally:
        ztest.stop()
    assert "idPass {\n      groupId 'g1'\n      userId 'u1'\n      password 'p1'\n    }" in text
    assert "open 'u2/p2'" in text
    assert "p1" not in repr(Login("u1", "p1"))


async def test_refused_login_costs_that_member_only(login_zebra, zebra_unimarc, monkeypatch):
    from connectors.query import parse
    from federator.federation import Federator

    monkeypatch.setenv("BALIS_PW_CALIS", "wrong-one")
    members = [
        Member("CALIS", "CALIS联合目录", "CALIS", syntax="unimarc",
               endpoints=(Endpoint("z3950", "127.0.0.1", login_zebra.port),),
               auth=Credentials(user=USER, password_env="BALIS_PW_CALIS")),
        Member("PKU", "北京大学", "Peking University", syntax="unimarc",
               endpoints=(Endpoint("z3950", "127.0.0.1", zebra_unimarc.port),)),
    ]
    async with Federator(members, cache_ttl=0, answer_times=None) as fed:
        result = await fed.run(parse("中国"), per_member=3)
    outcomes = {o.code: o for o in result.outcomes}
    assert outcomes["PKU"].status == "ok" and outcomes["PKU"].hits
    assert outcomes["CALIS"].status == "error" and outcomes["CALIS"].error.startswith(REFUSED_ZH)
    assert "wrong-one" not in repr(result)
