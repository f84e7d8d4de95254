"""Two `balis harvest` processes at once into one PostgreSQL database: each member is fetched by one of them,
the other skips it and says why; one index phase at a time; the index holds every member's catalogue once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from harvest_helpers import expected_content

from indexer.pg.index import connection_url
from indexer.schema import load_work
from members import load_registry
from testbed.bed import Testbed

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
MEMBERS = 8
RECORDS = 40


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    with Testbed(tmp_path_factory.mktemp("parallel-bed"), seed=515).running(members=MEMBERS, records=RECORDS) as bed:
        yield bed


def _harvest(bed, url: str) -> subprocess.Popen:
    # paced (one request a second, 5 records a page) so that each member takes seconds and the processes overlap
    cmd = [sys.executable, "-m", "balis.cli", "harvest", "--registry", str(bed.registry_path), "--index", url,
           "--page-size", "5", "--rate", "1", "--concurrency", "2", "--json"]
    return subprocess.Popen(cmd, cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(PROJECT)))


def test_two_processes_harvest_every_member_once_into_one_database(bed, index_database):
    url = index_database
    procs = [_harvest(bed, url), _harvest(bed, url)]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        reports.append({m["member"]: m for m in json.loads(out)["members"]})
    registry = load_registry(bed.registry_path)
    codes = {m.code for m in registry}
    fetched = Counter(code for report in reports for code, m in report.items() if m["status"] == "ok")
    assert fetched == Counter(codes), reports  # every member by exactly one process
    for report in reports:
        for m in report.values():
            if m["status"] == "skipped":
                assert m["message"].startswith(("another harvest is fetching it now", "another harvest fetched it")), m
                assert m["records"] == 0
    assert all(report[c]["status"] in ("ok", "skipped") for report in reports for c in codes)
    # the index: every member's catalogue, each edition once, each holding once
    expected = expected_content(registry)
    with psycopg.connect(connection_url(url)) as conn:
        blobs = dict(conn.execute("SELECT work_id, work FROM editions").fetchall())
        holdings = dict(conn.execute("SELECT member, count(*) FROM holdings GROUP BY member").fetchall())
        records = dict(conn.execute("SELECT member, count(*) FROM harvest_records GROUP BY member").fetchall())
        pending = conn.execute("SELECT count(*) FROM harvest_pending").fetchone()[0]
    assert {w: json.loads(zlib.decompress(blob)) for w, blob in blobs.items()} == expected
    assert holdings == dict(Counter(h.member for blob in blobs.values() for h in load_work(blob).holdings))
    assert records == {code: RECORDS for code in codes}
    assert pending == 0
    stats = subprocess.run([sys.executable, "-m", "balis.cli", "index", "stats", "--index", url, "--json"],
                           cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert stats.returncode == 0, stats.stderr
    doc = json.loads(stats.stdout)
    assert doc["documents"] == len(expected) and doc["store_bytes"] > 0
    assert {c: m["records"] for c, m in doc["members"].items()} == {code: RECORDS for code in codes}
    assert all(m["last_status"] == "ok" for m in doc["members"].values())
