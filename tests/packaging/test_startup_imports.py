"""The `balis` command imports what the asked command uses and no more (start-up time: benchmarks/startup.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("whoosh", "sqlalchemy", "aiohttp", "lxml", "pymarc", "pypinyin", "rapidfuzz", "opencc", "jinja2", "rich",
         "asyncio", "testbed", "connectors", "dedup", "federator", "indexer", "portal", "ill", "services.search")


def loaded_after(args: list[str], home: Path) -> tuple[int, list[str]]:
    """Run `balis ARGS` in a new interpreter; its exit status and which of HEAVY it had imported at the end."""
    code = "\n".join([
        "import contextlib, io, json, sys",
        "from balis.cli import main",
        "with contextlib.redirect_stdout(io.StringIO()):",
        f"    rc = main({args!r})",
        f"print(json.dumps([rc, sorted(m for m in {HEAVY!r} if m in sys.modules)]))",
    ])
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALIS_")}
    env["BALIS_HOME"] = str(home)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    rc, loaded = json.loads(out.stdout)
    return rc, loaded


def test_balis_members_imports_no_search_storage_or_web_module(tmp_path):
    rc, first = loaded_after(["members"], tmp_path)
    assert rc == 0 and first == ["pypinyin"]  # the names' pinyin keys, computed once
    assert (tmp_path / "pinyin-keys.json").is_file()
    rc, again = loaded_after(["members", "--json"], tmp_path)
    assert rc == 0 and again == []


def test_the_pinyin_keys_kept_between_runs_sort_as_pypinyin_does(tmp_path, monkeypatch):
    """The kept keys are pypinyin's own: 首都 reads shou3 du1 (the phrase), not dou1 (the character alone)."""
    from pypinyin import Style, lazy_pinyin

    from members import DEFAULT_REGISTRY, load_registry
    from members.pinyin import CACHE_NAME, pinyin_keys

    monkeypatch.setenv("BALIS_HOME", str(tmp_path))
    names = [m.name for m in load_registry(DEFAULT_REGISTRY).members] + ["首都师范大学", "中央音乐学院"]
    first = pinyin_keys(names)
    assert (tmp_path / CACHE_NAME).is_file()
    assert pinyin_keys(names) == first
    assert first == {n: " ".join(lazy_pinyin(n, style=Style.TONE3)).lower() for n in names}
    assert first["首都师范大学"].startswith("shou3 du1") and "yin1 yue4" in first["中央音乐学院"]


def test_balis_testbed_is_found_through_its_entry_point_not_imported_by_other_commands(tmp_path):
    rc, loaded = loaded_after(["testbed", "status", "--dir", str(tmp_path / "none")], tmp_path)
    assert rc == 1 and "testbed" in loaded  # no test bed there: "not running"
    rc, loaded = loaded_after(["members"], tmp_path)
    assert "testbed" not in loaded
