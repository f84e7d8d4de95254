"""The member registry: the shipped files load, and a broken file names file, member and key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from members import DEFAULT_REGISTRY, RegistryError, load_registry

ROOT = Path(__file__).resolve().parents[2]
GOOD = """
[[member]]
code = "THU"
name = "清华大学"
name_en = "Tsinghua University"
district = "海淀区"
status = "active"
syntax = "marc21"
charset = "utf-8"
timeout = 10
harvest_deletions = "scan"
  [[member.endpoint]]
  protocol = "z3950"
  host = "127.0.0.1"
  port = 9901
  database = "Default"

[[member]]
code = "pku"
name = "北京大学"
status = "suspended"
suspended_reason = "系统迁移"
suspended_since = 2026-09-01
syntax = "cnmarc"
charset = "gbk"
new_key_from_a_script = 3
  [[member.endpoint]]
  protocol = "sru"
  host = "127.0.0.1"
  port = 9902
  database = "opac"
  sru_version = "2.0"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "members.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_shipped_registry_lists_the_consortium():
    reg = load_registry(DEFAULT_REGISTRY)
    codes = {m.code for m in reg}
    assert {"THU", "PKU", "RUC", "BUPT", "CUPL", "PKUHSC"} <= codes
    assert len(reg) >= 36
    names = {m.name for m in reg}
    assert "中国石油大学(北京)" in names and "北京大学医学部" in names


def test_good_registry_loads_with_normalised_values(tmp_path):
    reg = load_registry(write(tmp_path, GOOD))
    thu, pku = reg.get("THU"), reg.get("PKU")
    assert thu.endpoint().address == "tcp:127.0.0.1:9901/Default"
    assert thu.queryable and not pku.queryable
    assert pku.syntax == "unimarc" and pku.charset == "gbk"
    assert pku.suspended_reason == "系统迁移" and pku.suspended_since.isoformat() == "2026-09-01"
    assert pku.endpoint("sru").sru_version == "2.0"
    assert pku.endpoint("z3950") is None
    assert pku.extra == {"new_key_from_a_script": 3}
    assert thu.harvest_deletions == "scan" and pku.harvest_deletions == "prefixes"


@pytest.mark.parametrize(
    "mutation, member, key",
    [
        (('port = 9901', 'port = "ninety"'), "THU", "endpoint[0].port"),
        (('protocol = "z3950"', 'protocol = "gopher"'), "THU", "endpoint[0].protocol"),
        (('charset = "utf-8"', 'charset = "latin-1"'), "THU", "charset"),
        (('syntax = "cnmarc"', 'syntax = "dublin"'), "PKU", "syntax"),
        (('timeout = 10', 'timeout = -1'), "THU", "timeout"),
        (('harvest_deletions = "scan"', 'harvest_deletions = "guess"'), "THU", "harvest_deletions"),
        (('name = "北京大学"', 'name = ""'), "PKU", "name"),
        (('suspended_since = 2026-09-01', 'suspended_since = "last autumn"'), "PKU", "suspended_since"),
        (('code = "pku"', 'code = "thu"'), "THU", "code"),
    ],
)
def test_broken_registry_names_file_member_and_key(tmp_path, mutation, member, key):
    path = write(tmp_path, GOOD.replace(*mutation, 1))
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    text = str(err.value)
    assert str(path) in text and f"member {member}" in text and f"key '{key}'" in text


def test_unreadable_toml_names_the_file(tmp_path):
    path = write(tmp_path, "[[member]\ncode=")
    with pytest.raises(RegistryError, match="not valid TOML"):
        load_registry(path)
    with pytest.raises(RegistryError, match="file not found"):
        load_registry(tmp_path / "missing.toml")


def balis(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "balis.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=60)


def test_members_cli_sorts_by_pinyin_and_gives_json(tmp_path):
    out = balis("members", "--json", "--registry", str(DEFAULT_REGISTRY))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    names = [m["name"] for m in doc["members"]]
    # 北方工业大学 (bei fang) before 北京大学 (bei jing) before 清华大学 (qing) before 中国人民大学 (zhong)
    assert names.index("北方工业大学") < names.index("北京大学") < names.index("清华大学") < names.index("中国人民大学")
    text = balis("members", "--registry", str(DEFAULT_REGISTRY))
    assert text.returncode == 0 and "清华大学" in text.stdout and "no endpoint" in text.stdout


def test_members_cli_reads_registry_from_environment(tmp_path):
    import os

    path = write(tmp_path, GOOD)
    out = balis("members", "--json", env={**os.environ, "BALIS_REGISTRY": str(path)})
    doc = json.loads(out.stdout)
    assert [m["code"] for m in doc["members"]] == ["PKU", "THU"]
    assert doc["members"][0]["status"] == "suspended"


def test_broken_registry_stops_the_command_with_a_clear_message(tmp_path):
    path = write(tmp_path, GOOD.replace('port = 9902', 'port = 0'))
    out = balis("members", "--registry", str(path))
    assert out.returncode == 2
    assert "member PKU" in out.stderr and "endpoint[0].port" in out.stderr
    assert "Traceback" not in out.stderr


DELIVERY = GOOD.replace('''  [[member.endpoint]]
  protocol = "z3950"''', '''  [[member.pickup]]
  code = "Main"
  name = "逸夫馆 馆际互借处"
  name_en = "ILL desk, Yifu Library"
  hours = "周一至周五 8:00-17:00"
  [[member.pickup]]
  code = "north"
  name = "北馆总服务台"
  [[member.delivery]]
  code = "department"
  name = "送书到院系"
  days = 1
  [[member.endpoint]]
  protocol = "z3950"''', 1)


def test_pick_up_points_and_delivery_methods(tmp_path):
    """A member lists where its readers collect ILL books and how else it delivers; without a list, its ILL desk
    (the contact office) is the one pick-up point and collecting there the one method."""
    reg = load_registry(write(tmp_path, DELIVERY))
    thu, pku = reg.get("THU"), reg.get("PKU")
    assert [(p.code, p.name, p.hours) for p in thu.pickups] == [
        ("main", "逸夫馆 馆际互借处", "周一至周五 8:00-17:00"), ("north", "北馆总服务台", None)]
    assert [(d.code, d.days) for d in thu.delivery_methods] == [("department", 1)]
    assert thu.delivery_method("department").name == "送书到院系" and thu.pickup("north").name == "北馆总服务台"
    assert [(p.code, p.name) for p in pku.pickups] == [("desk", "北京大学馆际互借处")] and pku.delivery_methods == ()
    shipped = load_registry(DEFAULT_REGISTRY).get("THU")
    assert len(shipped.pickups) >= 2 and shipped.delivery_methods


@pytest.mark.parametrize("mutation, key", [
    (('code = "north"', 'code = "main"'), "pickup[1]"),
    (('code = "north"', 'code = "北"'), "pickup[1].code"),
    (('name = "北馆总服务台"', 'name = ""'), "pickup[1].name"),
    (('days = 1', 'days = 99'), "delivery[0].days"),
    (('code = "department"', 'code = "desk"'), "delivery[0].code"),
    (('days = 1', 'dayz = 1'), "delivery[0].dayz"),
])
def test_bad_pick_up_points_and_delivery_methods_are_named(tmp_path, mutation, key):
    path = write(tmp_path, DELIVERY.replace(*mutation, 1))
    with pytest.raises(RegistryError) as err:
        load_registry(path)
    assert "member THU" in str(err.value) and f"key '{key}'" in str(err.value)
