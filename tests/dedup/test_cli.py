"""`balis dedup` from the command line: the clusters file, and unreadable records named on stderr."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARC = ROOT / "testbed" / "data" / "marc"


def balis(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "balis.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_known_duplicate_pair_merges_and_every_record_is_listed_once(tmp_path):
    brief, full = MARC / "marc4j" / "chabon.mrc", MARC / "marc4j" / "chabon-loc.mrc"
    broken = tmp_path / "broken.mrc"
    data = brief.read_bytes()
    broken.write_bytes(data + data[: len(data) // 3])  # two good records, then a truncated one
    out = tmp_path / "clusters.jsonl"
    done = balis("dedup", str(brief), str(full), str(broken), "--out", str(out))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    labels = [r for line in lines for r in line["records"]]
    assert sorted(labels) == sorted([f"{brief}#0", f"{brief}#1", f"{full}#0", f"{full}#1",
                                     f"{broken}#0", f"{broken}#1"])
    clusters = {frozenset(line["records"]) for line in lines}
    assert frozenset({f"{brief}#1", f"{full}#1", f"{broken}#1"}) in clusters  # Summerland, three catalogues
    for line in lines:
        assert line["work_id"] and line["title"] and isinstance(line["isbns"], list)
    assert f"{broken}#2" in done.stderr and "unreadable" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_file_is_a_usage_error(tmp_path):
    done = balis("dedup", str(tmp_path / "nope.mrc"), "--out", str(tmp_path / "c.jsonl"))
    assert done.returncode == 2 and "nope.mrc" in done.stderr
    assert not (tmp_path / "c.jsonl").exists()
