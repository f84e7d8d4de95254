"""[[peers]] in the registry and each member's agency id: loaded, checked with clear errors, never showing a
secret."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from members import RegistryError, load_registry

BASE = """
[[member]]
code = "THU"
name = "清华大学"
[[member]]
code = "PKU"
name = "北京大学"
agency_id = "ISIL:CN-100871"
"""
PEER = """
[[peers]]
code = "calis"
name = "CALIS"
agency_id = "CALIS:CN-100000"
endpoint = "https://calis.example.cn/iso18626"
services = ["copy"]
secret_env = "BALIS_PEER_CALIS_SECRET"
"""


def load(tmp_path, text: str):
    p = tmp_path / "registry.toml"
    p.write_text(text, encoding="utf-8")
    return load_registry(p)


def test_peers_and_agency_ids_load(tmp_path):
    r = load(tmp_path, BASE + PEER)
    assert r.get("THU").agency == "BALIS:THU" and r.get("PKU").agency == "ISIL:CN-100871"
    (peer,) = r.peers
    assert (peer.code, peer.version, peer.services, peer.active) == ("CALIS", "1.2", frozenset({"copy"}), True)
    assert peer.takes("copy") and not peer.takes("loan")
    assert r.peer_for_agency("CALIS:CN-100000") is peer and r.peer_for_agency("CALIS:CN-1") is None
    assert r.member_for_agency("ISIL:CN-100871").code == "PKU"
    assert load(tmp_path, BASE).peers == ()


@pytest.mark.parametrize("change, key, words", [
    (('secret_env = "BALIS_PEER_CALIS_SECRET"', 'secret = "abc"'), "secret", "never written in the registry"),
    (('agency_id = "CALIS:CN-100000"', 'agency_id = "CALIS"'), "agency_id", "TYPE:VALUE"),
    (('agency_id = "CALIS:CN-100000"', 'agency_id = "ISIL:CN-100871"'), "agency_id", "member PKU"),
    (('endpoint = "https://calis.example.cn/iso18626"', 'endpoint = "calis.example.cn"'), "endpoint", "http"),
    (('services = ["copy"]', 'services = ["books"]'), "services", "loan, copy"),
    (('services = ["copy"]', 'version = "3.0"'), "version", "1.2, 2017, 2021"),
    (('secret_env = "BALIS_PEER_CALIS_SECRET"', ''), "secret_env", "shared secret"),
    (('code = "calis"', 'code = "thu"'), "code", "used twice"),
])
def test_a_wrong_peer_names_file_peer_and_key(tmp_path, change, key, words):
    with pytest.raises(RegistryError) as e:
        load(tmp_path, BASE + PEER.replace(*change))
    assert e.value.key == key and "peer" in str(e.value) and words in str(e.value)
    assert "abc" not in str(e.value)


def test_balis_peers_list_names_where_the_secret_is_never_the_secret(tmp_path):
    p = tmp_path / "registry.toml"
    p.write_text(BASE + PEER, encoding="utf-8")
    env = {"BALIS_PEER_CALIS_SECRET": "do-not-print-me", "BALIS_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "balis.cli", "peers", "list", "--registry", str(p), "--db",
                          str(tmp_path / "ill.sqlite")], capture_output=True, text=True, env=env, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert "CALIS" in out.stdout and "$BALIS_PEER_CALIS_SECRET" in out.stdout
    assert "do-not-print-me" not in out.stdout + out.stderr
