"""The fault proxy's timing rows (testbed/proxy.py): written only while timing.on exists, one per answer piece,
attributed to the member and the connection, and charging the injected latency to the member."""

from __future__ import annotations

import http.client
import time
import urllib.parse

import pytest

from members import load_registry
from testbed.bed import Testbed
from testbed.proxy import TIMING_FILE, TIMING_ON, answers, read_timing
from testbed.yaz import yaz_search

pytestmark = pytest.mark.integration
LATENCY_MS = 150


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    """A test bed of its own (2 members, 15 records), so the timing switch does not touch the shared one."""
    with Testbed(tmp_path_factory.mktemp("timing-bed"), seed=1010).running(members=2, records=15) as bed:
        yield bed


@pytest.fixture
def members(bed):
    registry = load_registry(bed.registry_path)
    slow, quick = list(registry)[:2]
    bed.set_fault(slow.code, latency_ms=LATENCY_MS)
    (bed.state_dir / TIMING_ON).unlink(missing_ok=True)
    (bed.state_dir / TIMING_FILE).unlink(missing_ok=True)
    try:
        yield slow, quick
    finally:
        bed.clear_faults()
        (bed.state_dir / TIMING_ON).unlink(missing_ok=True)


def rows_after(bed, count: int, offset: int = 0) -> list[dict]:
    """The rows from `offset` on, once `count` answers are there (the proxy writes right after forwarding,
    which a fast client may beat by a little)."""
    deadline = time.monotonic() + 5
    while True:
        rows, _ = read_timing(bed.state_dir, offset)
        if len(answers(rows)) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def test_no_timing_file_without_the_switch(bed, members):
    slow, quick = members
    for m in (slow, quick):
        res = yaz_search(m.endpoint("z3950").port, "@attr 1=4 中国", syntax="usmarc", show=2)
        assert res.hits, res.output
    time.sleep(0.2)
    assert not (bed.state_dir / TIMING_FILE).exists()
    assert read_timing(bed.state_dir) == ([], 0)


def test_z3950_turns_charge_the_latency_to_the_member(bed, members):
    slow, quick = members
    (bed.state_dir / TIMING_ON).touch()
    started = time.monotonic()
    res = yaz_search(slow.endpoint("z3950").port, "@attr 1=4 中国", syntax="usmarc", show=2)
    assert res.hits and len(res.records) == 2, res.output
    ended = time.monotonic()
    mine = answers(rows_after(bed, 3))
    assert [a["turn"] for a in mine] == [1, 2, 3]  # Init, Search, Present on one connection
    assert {(a["code"], a["pid"], a["conn"]) for a in mine} == {(slow.code, mine[0]["pid"], mine[0]["conn"])}
    for a in mine:
        assert started <= a["accepted"] <= a["request"] <= a["delivered"] <= a["answer"] <= a["sent"]
        assert a["request"] <= ended
        assert a["own"] >= LATENCY_MS / 1000, a  # the injected latency is the member's time
        # a round trip, half each way: the request reaches the member late, and so does its answer the client
        assert a["delivered"] - a["request"] >= LATENCY_MS / 2000 - 0.001, a
        assert a["sent"] - a["answer"] >= LATENCY_MS / 2000 - 0.001, a
        assert a["bytes"] > 0
        # how long the request sat in the proxy's socket: kernel ticks, never before the client started
        assert isinstance(a["queued_ms"], int) and 0 <= a["queued_ms"] <= (a["request"] - started) * 1000 + 5
    assert mine[2]["bytes"] > 2 * 24  # the Present answer carries the two records

    offset = (bed.state_dir / TIMING_FILE).stat().st_size
    res = yaz_search(quick.endpoint("z3950").port, "@attr 1=4 中国", syntax="usmarc", show=1)
    assert res.hits, res.output
    theirs = answers(rows_after(bed, 3, offset))
    assert len(theirs) == 3 and {a["code"] for a in theirs} == {quick.code}
    assert theirs[0]["conn"] != mine[0]["conn"]
    assert [a["turn"] for a in theirs] == [1, 2, 3]


def test_rows_name_the_client_connection(bed, members):
    """Two HTTP (SRU) requests on one kept connection: two turns, attributed to the client's own port."""
    slow, _ = members
    (bed.state_dir / TIMING_ON).touch()
    offset = read_timing(bed.state_dir)[1]
    sru = slow.endpoint("sru")
    conn = http.client.HTTPConnection("127.0.0.1", sru.port, timeout=30)
    try:
        for query in ("中国", "研究"):
            q = urllib.parse.urlencode({"version": "1.2", "operation": "searchRetrieve", "query": query,
                                        "maximumRecords": 1, "recordSchema": "marcxml"})
            conn.request("GET", f"/{sru.database}?{q}")
            answer = conn.getresponse()
            assert answer.status == 200
            answer.read()
        port = conn.sock.getsockname()[1]
    finally:
        conn.close()
    got = answers(rows_after(bed, 2, offset))
    assert [(a["code"], a["client_port"], a["turn"]) for a in got] == [(slow.code, port, 1), (slow.code, port, 2)]
    assert all(a["own"] >= LATENCY_MS / 1000 for a in got)


def test_answers_keep_each_turns_last_piece():
    rows = [
        {"pid": 1, "conn": 1, "turn": 1, "request": 1.0, "answer": 1.1, "sent": 1.3, "bytes": 100},
        {"pid": 1, "conn": 1, "turn": 1, "request": 1.0, "answer": 1.1, "sent": 1.4, "bytes": 300},
        {"pid": 1, "conn": 2, "turn": 1, "request": 0.5, "answer": 0.6, "sent": 0.7, "bytes": 10},
        {"pid": 1, "conn": 1, "turn": 2, "request": 2.0, "answer": 2.5, "sent": 2.5, "bytes": 50},
    ]
    got = answers(rows)
    assert [(a["conn"], a["turn"], a["bytes"]) for a in got] == [(2, 1, 10), (1, 1, 300), (1, 2, 50)]
    assert [round(a["own"], 6) for a in got] == [0.2, 0.4, 0.5]
