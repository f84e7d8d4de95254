"""`balis harvest` and `balis index stats` as staff run them: plain log lines off a terminal, bars on one,
a report per member, JSON for scripts, clear errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from members import load_registry
from testbed.bed import Testbed

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    # THU over Z39.50, PKU over OAI-PMH
    with Testbed(tmp_path_factory.mktemp("harvest-cli-bed"), seed=777).running(members=2, records=30) as bed:
        yield bed


def balis(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "balis.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_plain_progress_lines_and_report_when_not_a_terminal(bed, tmp_path):
    out = balis("harvest", "--registry", str(bed.registry_path), "--index", str(tmp_path), "--rate", "0")
    assert out.returncode == 0, out.stderr
    log = out.stderr.splitlines()
    assert any("THU 开始 start: z3950, 30 records" in line for line in log), log
    assert any("PKU 开始 start: oaipmh" in line for line in log), log
    assert any("THU 完成 ok: 30 records, +30 ~0 -0, 0 errors" in line for line in log), log
    assert not any("\x1b[" in line or "\r" in line for line in log)  # no terminal control codes in a log file
    table = out.stdout.splitlines()
    assert table[0].split()[:2] == ["成员", "member"]
    thu = next(line.split() for line in table if line.startswith("THU"))
    assert thu[:8] == ["THU", "z3950", "完成", "30", "30", "0", "0", "0"]
    assert any(line.startswith("索引 index") and "rebuild" in line for line in table)


def test_json_report_and_index_stats(bed, tmp_path):
    out = balis("harvest", "--registry", str(bed.registry_path), "--index", str(tmp_path), "--rate", "0", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["version"] == 1 and doc["ok"] is True and doc["index_dir"] == str(tmp_path)
    members = {m["member"]: m for m in doc["members"]}
    assert set(members) == {"THU", "PKU"}
    for m in members.values():
        assert set(m) >= {"records", "added", "changed", "deleted", "errors", "seconds", "status", "protocol"}
        assert m["records"] == m["added"] == 30
    assert doc["totals"]["added"] == 60 and doc["index"]["mode"] == "rebuild"

    again = json.loads(balis("harvest", "--registry", str(bed.registry_path), "--index", str(tmp_path),
                             "--rate", "0", "--json").stdout)
    assert again["index"]["mode"] == "unchanged" and again["totals"]["added"] == 0

    stats = balis("index", "stats", "--index", str(tmp_path), "--json")
    assert stats.returncode == 0, stats.stderr
    s = json.loads(stats.stdout)
    assert s["documents"] == doc["index"]["upserted"] > 0 and s["size_bytes"] > 0 and s["store_bytes"] > 0
    assert s["members"]["THU"]["records"] == 30 and s["members"]["THU"]["last_status"] == "ok"
    assert s["members"]["PKU"]["last_harvest"] and s["members"]["PKU"]["holdings"] > 0
    text = balis("index", "stats", "--index", str(tmp_path))
    assert text.returncode == 0 and "THU" in text.stdout and "最后采集 last harvest" in text.stdout


def test_usage_errors_and_no_member_answering(bed, tmp_path):
    out = balis("harvest", "--registry", str(bed.registry_path), "--index", str(tmp_path), "--since", "yesterday")
    assert out.returncode == 2 and "--since 'yesterday' is not a date" in out.stderr
    out = balis("harvest", "--registry", str(bed.registry_path), "--index", str(tmp_path), "--members", "NOPE")
    assert out.returncode == 2 and "unknown member code(s): NOPE" in out.stderr
    out = balis("index", "stats", "--index", str(tmp_path / "none"))
    assert out.returncode == 2 and "balis harvest" in out.stderr and "Traceback" not in out.stderr
    bed.set_fault("THU", mode="refuse")
    bed.set_fault("PKU", mode="refuse")
    try:
        out = balis("harvest", "--registry", str(bed.registry_path), "--index", str(tmp_path), "--rate", "0")
    finally:
        bed.clear_faults()
    assert out.returncode == 1, out.stderr
    assert "THU 失败 failed" in out.stderr and "Traceback" not in out.stderr


def test_progress_bars_on_a_terminal(bed, tmp_path):
    from rich.console import Console

    from balis.harvest_progress import RichProgress
    from indexer.harvest import HarvestOptions, run_harvest

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    with RichProgress(["THU", "PKU"], console=console) as progress:
        result = run_harvest(load_registry(bed.registry_path), tmp_path, HarvestOptions(rate=0), progress)
    assert result.ok
    shown = screen.getvalue()
    assert "总计 all" in shown and "THU" in shown and "PKU" in shown and "30/30" in shown and "完成" in shown
