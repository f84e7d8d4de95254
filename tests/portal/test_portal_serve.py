"""`balis serve` as an operator runs it: prints the URL, serves, stops cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _balis(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "balis.cli", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def _wait_for_url(proc: subprocess.Popen, timeout: float = 30.0) -> str:
    """The URL from the line `balis serve` prints once it listens (kept in proc.first_line)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        if m:
            proc.first_line = line  # type: ignore[attr-defined]
            return m.group(1)
    proc.kill()
    raise AssertionError(f"no URL printed; stderr: {proc.stderr.read()}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_the_url_serves_and_stops(portal_registry_path, sig):
    proc = _balis("serve", "--port", "0", "--registry", str(portal_registry_path))
    try:
        url = _wait_for_url(proc)
        with urllib.request.urlopen(url + "api/members", timeout=10) as r:
            assert r.status == 200 and b'"NLC"' in r.read()
        with urllib.request.urlopen(url + "search?q=%E4%B8%AD%E5%9B%BD", timeout=60) as r:
            assert r.status == 200 and b'data-work="W' in r.read()
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopping" in out and "Traceback" not in err


def test_serve_keeps_the_members_answer_times_for_its_next_start(portal_registry_path, tmp_path):
    times = tmp_path / "answer-times.json"
    (tmp_path / "index").mkdir()  # no harvest in it yet: searches ask the members
    proc = _balis("serve", "--port", "0", "--registry", str(portal_registry_path),
                  env={"BALIS_ANSWER_TIMES": str(times), "BALIS_INDEX": str(tmp_path / "index")})
    try:
        url = _wait_for_url(proc)
        with urllib.request.urlopen(url + "search?q=%E4%B8%AD%E5%9B%BD", timeout=60) as r:  # asks the members
            assert r.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    kept = json.loads(times.read_text(encoding="utf-8"))["members"]
    assert kept and all(e["endpoint"].startswith(("tcp:", "http:")) and e["ms"] >= 0 for e in kept.values())


def test_serve_uses_balis_registry_from_the_environment(portal_registry_path):
    proc = _balis("serve", "--port", "0", env={"BALIS_REGISTRY": str(portal_registry_path)})
    try:
        _wait_for_url(proc)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    line = proc.first_line  # type: ignore[attr-defined]
    assert str(portal_registry_path) in line and "10 members, 8 searchable" in line and "stopping" in out


@pytest.mark.parametrize("args, words", [
    (["--index", "/nonexistent/index"], "--index /nonexistent/index: no such folder"),
    (["--port", "70000"], "--port must be between 0 and 65535"),
    (["--registry", "/nonexistent/registry.toml"], "file not found"),
    (["--deadline", "0"], "--deadline must be between"),
    (["--harvest-at", "25:00"], "--harvest-at:"),
    (["--harvest-at", "02:00", "--full-harvest-on", "someday"], "--full-harvest-on: 'someday' is not a day"),
])
def test_serve_usage_errors(portal_registry_path, args, words):
    base = ["--registry", str(portal_registry_path)] if "--registry" not in args else []
    proc = _balis("serve", "--port", "0", *base, *args)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and words in err and "Traceback" not in err


def test_serve_refuses_a_port_in_use(portal_registry_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = _balis("serve", "--port", str(port), "--registry", str(portal_registry_path))
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in err and "Traceback" not in err


def test_serve_schedules_the_nightly_harvest(portal_registry_path, tmp_path):
    proc = _balis("serve", "--port", "0", "--registry", str(portal_registry_path), "--index", str(tmp_path),
                  "--harvest-at", "03:30")
    lines = []
    try:
        _wait_for_url(proc)
        while not lines or "stop with Ctrl-C" not in lines[-1]:  # read on from the same buffered stream
            lines.append(proc.stdout.readline())
            assert lines[-1], "balis serve stopped early"
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"nightly harvest at 03:30 (local time) into {tmp_path}; a full one on sun\n" in lines
    assert "next harvest at" in err and "Traceback" not in err
