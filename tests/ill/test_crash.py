"""Crash safety: a process killed (SIGKILL) during a transition leaves the request in its old or new state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ill import machine as m

WORKER = Path(__file__).with_name("crash_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def _kill_at(db_url: str, rid: int, action: str, actor: str, moment: str) -> str:
    proc = subprocess.Popen([sys.executable, str(WORKER), db_url, str(rid), action, actor, moment],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = proc.stdout.readline().strip()
        assert line in ("MID", "AFTER"), proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return line


def _consistent(store, rid):
    req, hist = store.get(rid), store.history(rid)
    assert (hist[-1]["to_status"], hist[-1]["to_phase"]) == (req["status"], req["phase"])
    return req, hist


@pytest.mark.parametrize("moment", ["mid", "after"])
def test_killed_during_a_transition(store, db_url, moment):
    rid = store.submit("r1", title="断电测试", work_id="w-k", rota=["PKU", "RUC"])["id"]
    store.act(rid, m.WILL, "pku")
    before, hist_before = _consistent(store, rid)
    line = _kill_at(db_url, rid, m.SHIP, "pku", moment)
    req, hist = _consistent(store, rid)
    if moment == "mid":
        assert line == "MID"
        assert (req["status"], req["version"]) == (m.WILL_SUPPLY, before["version"])
        assert hist == hist_before
        assert store.legs(rid)[0]["outcome"] == "open"
    else:
        assert (req["status"], req["phase"]) == (m.LOANED, m.TRANSIT)
        assert len(hist) == len(hist_before) + 1 and hist[-1]["action"] == m.SHIP
    # the store takes the next action normally (no lock left behind by the killed process)
    store.act(rid, m.SHIP if moment == "mid" else m.RECEIVED, "pku" if moment == "mid" else "thu")


def test_killed_while_forwarding_to_the_next_lender(store, db_url):
    rid = store.submit("r1", title="断电测试", work_id="w-k", rota=["PKU", "RUC"])["id"]
    _kill_at(db_url, rid, m.ANSWER_UNFILLED, "pku", "mid")
    req, _ = _consistent(store, rid)
    assert (req["status"], req["lender"]) == (m.REQUEST_RECEIVED, "PKU")
    assert [(leg["lender"], leg["outcome"]) for leg in store.legs(rid)] == [("PKU", "open")]
