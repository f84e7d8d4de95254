"""Logins and charset negotiation in the registry: credentials by reference only, never a password in the file,
in an error, in repr() or in `balis members`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.auth import Login, read_login
from connectors.errors import LoginRefused
from members import Credentials, CredentialsError, RegistryError, load_registry

ROOT = Path(__file__).resolve().parents[2]
MEMBER = """
[[member]]
code = "CALIS"
name = "CALIS联合目录"
{extra}
  [[member.endpoint]]
  protocol = "z3950"
  host = "127.0.0.1"
  port = 9901
"""


def load(tmp_path: Path, extra: str):
    path = tmp_path / "members.toml"
    path.write_text(MEMBER.format(extra=extra), encoding="utf-8")
    return load_registry(path)


def test_login_by_reference_and_negotiation_default(tmp_path):
    reg = load(tmp_path, '[member.auth]\nuser = "balis"\ngroup = "calis"\npassword_env = "BALIS_PW_CALIS"')
    m = reg.get("CALIS")
    assert m.auth == Credentials(user="balis", group="calis", form="idpass", password_env="BALIS_PW_CALIS")
    assert m.negotiate_charset is False and "auth" not in m.extra
    assert m.auth.describe() == "idpass calis/balis (password: $BALIS_PW_CALIS)"
    reg = load(tmp_path, 'negotiate_charset = true\n[member.auth]\nuser = "u"\nform = "OPEN"\npassword_file = "/x"')
    assert reg.get("CALIS").negotiate_charset and reg.get("CALIS").auth.form == "open"
    assert load(tmp_path, "").get("CALIS").auth is None


def test_a_password_in_the_registry_is_refused_without_repeating_it(tmp_path):
    with pytest.raises(RegistryError) as info:
        load(tmp_path, '[member.auth]\nuser = "balis"\npassword = "hunter2-secret"')
    text = str(info.value)
    assert "member CALIS, key 'auth.password'" in text and "password_env" in text and "password_file" in text
    assert "hunter2-secret" not in text


@pytest.mark.parametrize("table,key,says", [
    ('user = "u"\npassword_env = "A"\npassword_file = "/b"', "auth.password_file", "not both"),
    ('password_env = "A"', "auth.user", "missing"),
    ('user = "u"\nform = "kerberos"', "auth.form", "idpass or open"),
    ('user = "u"\nform = "open"\ngroup = "g"', "auth.group", "idpass"),
    ('user = "u"\nsecret = "x"', "auth.secret", "unknown key"),
    ('user = ""', "auth.user", "non-empty"),
])
def test_bad_auth_tables_name_the_key(tmp_path, table, key, says):
    with pytest.raises(RegistryError) as info:
        load(tmp_path, "[member.auth]\n" + table)
    assert f"key '{key}'" in str(info.value) and says in str(info.value)


def test_negotiate_charset_must_be_a_boolean(tmp_path):
    with pytest.raises(RegistryError, match="key 'negotiate_charset': must be true or false"):
        load(tmp_path, 'negotiate_charset = "yes"')


def test_password_is_read_when_needed_and_never_shown(tmp_path, monkeypatch):
    secret = tmp_path / "calis.secret"
    secret.write_text("s3cret\n", encoding="utf-8")
    creds = Credentials(user="balis", password_file=str(secret))
    login = read_login(creds, "CALIS")
    assert login == Login("balis", "s3cret") and "s3cret" not in repr(login) + repr(creds)
    monkeypatch.delenv("BALIS_PW_NONE", raising=False)
    with pytest.raises(CredentialsError, match="BALIS_PW_NONE"):
        Credentials(user="u", password_env="BALIS_PW_NONE").password()
    with pytest.raises(LoginRefused) as info:
        read_login(Credentials(user="u", password_file=str(tmp_path / "missing")), "CALIS")
    assert info.value.member == "CALIS" and "missing" in info.value.message and "读取" in info.value.message


def test_balis_members_does_not_show_the_login(tmp_path):
    path = tmp_path / "members.toml"
    path.write_text(MEMBER.format(extra='[member.auth]\nuser = "balis"\npassword_env = "BALIS_PW_CALIS"'),
                    encoding="utf-8")
    env = {"BALIS_PW_CALIS": "s3cret-value", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for args in ([], ["--json"]):
        out = subprocess.run([sys.executable, "-m", "balis.cli", "members", "--registry", str(path), *args], cwd=ROOT,
                             capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "CALIS" in out.stdout and "s3cret-value" not in out.stdout + out.stderr
    assert json.loads(out.stdout)["members"][0]["code"] == "CALIS"
