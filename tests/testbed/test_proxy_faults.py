"""The proxy's view of faults.json (testbed/proxy.py Faults): re-read only when the file changed, and every
change seen by the next connection."""

from __future__ import annotations

import json

from testbed.proxy import Faults
from testbed.zebra import write_atomically


def write(path, faults: dict) -> None:
    write_atomically(path, json.dumps(faults))  # as Testbed.set_fault writes it: a new file replaces the old


def test_faults_follow_the_file(tmp_path):
    faults = Faults(tmp_path)
    assert faults.of("THU") == (0, None)  # no file: no fault
    write(tmp_path / "faults.json", {"THU": {"latency_ms": 300, "mode": None}})
    assert faults.of("THU") == (300, None)
    assert faults.of("PKU") == (0, None)
    write(tmp_path / "faults.json", {"THU": {"latency_ms": 400, "mode": None}})  # same size, new file
    assert faults.of("THU") == (400, None)
    write(tmp_path / "faults.json", {"THU": {"latency_ms": 0, "mode": "drop"}})
    assert faults.of("THU") == (0, "drop")
    (tmp_path / "faults.json").unlink()
    assert faults.of("THU") == (0, None)


def test_an_unchanged_file_is_not_read_again(tmp_path, monkeypatch):
    write(tmp_path / "faults.json", {"RUC": {"latency_ms": 50, "mode": "garbage"}})
    faults = Faults(tmp_path)
    assert faults.of("RUC") == (50, "garbage")
    reads = []
    import testbed.proxy as proxy

    monkeypatch.setattr(proxy, "_load_faults", lambda path: reads.append(path) or {})
    assert [faults.of("RUC") for _ in range(3)] == [(50, "garbage")] * 3
    assert reads == []


def test_a_broken_file_means_no_faults(tmp_path):
    (tmp_path / "faults.json").write_text("{not json")
    assert Faults(tmp_path).of("THU") == (0, None)
