"""Lending policies in the registry: defaults, per-member tables, and clear errors for bad values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from members import DEFAULT_REGISTRY, FineRule, LendingPolicy, RegistryError, load_registry

BASE = """
[[member]]
code = "THU"
name = "清华大学"
district = "海淀区"

[[member]]
code = "RUC"
name = "中国人民大学"
district = "海淀区"
  [member.lending]
  material_types = ["book", "serial"]
  languages = ["chi", "eng"]
  locations_not_for_loan = ["古籍部"]
  [member.lending.fines]
  overdue_per_day = 1.0
  lost_flat = 150
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "members.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_default_policy_is_chinese_general_books(tmp_path):
    reg = load_registry(write(tmp_path, BASE))
    thu = reg.get("THU").lending
    assert thu == LendingPolicy()
    assert thu.lends and thu.material_types == {"book"} and thu.languages == {"chi"}
    assert {"参考阅览室", "特藏", "过刊"} == thu.locations_not_for_loan
    assert thu.fines == FineRule(0.5, 2.0, 100.0, 0.5)


def test_member_table_overrides_only_what_it_names(tmp_path):
    ruc = load_registry(write(tmp_path, BASE)).get("RUC").lending
    assert ruc.material_types == {"book", "serial"}
    assert ruc.languages == {"chi", "eng"}
    assert ruc.locations_not_for_loan == {"古籍部"}
    assert ruc.fines == FineRule(overdue_per_day=1.0, lost_multiplier=2.0, lost_flat=150.0, damaged_fraction=0.5)


def test_defaults_table_applies_to_members_without_their_own(tmp_path):
    text = """
[defaults.lending]
languages = ["chi", "jpn"]
[defaults.lending.fines]
overdue_per_day = 0.2
""" + BASE
    reg = load_registry(write(tmp_path, text))
    thu = reg.get("THU").lending
    assert thu.languages == {"chi", "jpn"} and thu.fines.overdue_per_day == 0.2
    ruc = reg.get("RUC").lending  # its own table on top of the defaults
    assert ruc.languages == {"chi", "eng"} and ruc.fines.overdue_per_day == 1.0 and ruc.fines.lost_flat == 150


def test_any_language_when_member_table_has_no_languages_and_base_is_any(tmp_path):
    text = '[defaults.lending]\nlends = true\n' + BASE
    policy = load_registry(write(tmp_path, text)).get("THU").lending
    assert policy.excludes("book", "chi") is None
    assert policy.excludes("book", "eng") is not None
    open_policy = LendingPolicy(languages=None)
    assert open_policy.excludes("book", "eng") is None


@pytest.mark.parametrize("table, key, fragment", [
    ('lends = "yes"', "lending.lends", "true or false"),
    ('material_types = ["book", "vinyl"]', "lending.material_types", "vinyl"),
    ('material_types = "book"', "lending.material_types", "list"),
    ('languages = ["chinese"]', "lending.languages", "ISO 639-2"),
    ('languages = []', "lending.languages", "leave the key out"),
    ('locations_not_for_loan = [3]', "lending.locations_not_for_loan", "list of non-empty texts"),
    ('lend = true', "lending.lend", "unknown key"),
    ('[member.lending.fines]\noverdue_per_day = -1', "lending.fines.overdue_per_day", "between"),
    ('[member.lending.fines]\ndamaged_fraction = 2', "lending.fines.damaged_fraction", "between"),
    ('[member.lending.fines]\nlost_flat = "100元"', "lending.fines.lost_flat", "number"),
    ('[member.lending.fines]\nper_day = 1', "lending.fines.per_day", "unknown key"),
])
def test_bad_values_name_file_member_and_key(tmp_path, table, key, fragment):
    text = BASE.split("[[member]]\ncode = \"RUC\"")[0] + f'[[member]]\ncode = "BNU"\nname = "北京师范大学"\n' \
        f"[member.lending]\n{table}\n"
    p = write(tmp_path, text)
    with pytest.raises(RegistryError) as info:
        load_registry(p)
    msg = str(info.value)
    assert info.value.member == "BNU" and info.value.key == key
    assert str(p) in msg and fragment in msg


def test_lending_must_be_a_table(tmp_path):
    p = write(tmp_path, BASE.replace('district = "海淀区"\n\n[[member]]', 'district = "海淀区"\nlending = 1\n\n[[member]]', 1))
    with pytest.raises(RegistryError) as info:
        load_registry(p)
    assert info.value.member == "THU" and info.value.key == "lending"


def test_policy_exclusions_and_locations():
    p = LendingPolicy()
    assert p.excludes("book", "chi") is None
    assert "serial" in p.excludes("serial", "chi")
    assert "eng" in p.excludes("book", "eng")
    assert "不参加" in LendingPolicy(lends=False).excludes("book", "chi")
    assert not p.location_lendable("总馆参考阅览室")
    assert not p.location_lendable("特藏")
    assert p.location_lendable("中文图书借阅区") and p.location_lendable(None)


def test_fine_rule_amounts():
    f = FineRule(overdue_per_day=0.5, lost_multiplier=2.0, lost_flat=100.0, damaged_fraction=0.5)
    assert f.overdue(10) == 5.0 and f.overdue(-3) == 0
    assert f.lost(38.5) == 77.0 and f.lost(None) == 100.0
    assert f.damaged(38.5) == 38.5 and f.damaged(None) == 50.0


def test_shipped_registry_has_policies():
    reg = load_registry(DEFAULT_REGISTRY)
    assert all(isinstance(m.lending, LendingPolicy) for m in reg)


def test_members_json_shows_each_policy(tmp_path, capsys):
    from balis.cli import main

    assert main(["members", "--json", "--registry", str(write(tmp_path, BASE))]) == 0
    doc = json.loads(capsys.readouterr().out)
    ruc = next(m for m in doc["members"] if m["code"] == "RUC")["lending"]
    assert ruc["languages"] == ["chi", "eng"] and ruc["material_types"] == ["book", "serial"]
    assert ruc["fines"]["lost_flat"] == 150.0
    thu = next(m for m in doc["members"] if m["code"] == "THU")["lending"]
    assert thu["languages"] == ["chi"] and "特藏" in thu["locations_not_for_loan"]
