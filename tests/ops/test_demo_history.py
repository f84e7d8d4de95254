"""`make run`'s year of demo ILL history: generated over the harvested test bed by the router, marked as demo data
on every request and on the dashboard, quick to load, loaded once, and never written into a store that holds
real requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ill import Store, stats
from ill import machine as m
from members import load_registry

ROOT = Path(__file__).resolve().parents[2]
LOAD_SECONDS = 30  # what `make run` may spend on it (measured: docs/operations.md)


def balis(*args: str, home: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("BALIS_DB", "BALIS_INDEX")}
    env["BALIS_HOME"] = str(home)
    done = subprocess.run([sys.executable, "-m", "balis.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    if check:
        assert done.returncode == 0, f"balis {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def harvested(testbed, tmp_path_factory) -> tuple[Path, Path]:
    """(the test bed's folder, a union index harvested from it)."""
    index = tmp_path_factory.mktemp("demo-index")
    balis("harvest", "--registry", str(testbed.registry_path), "--index", str(index), "--rate", "0",
          home=tmp_path_factory.mktemp("demo-harvest-home"))
    return Path(testbed.registry_path).parent, index


def test_a_year_of_history_is_loaded_once_and_shows_on_the_figures(harvested, tmp_path):
    bed_dir, index = harvested
    home = tmp_path / "home"
    out = balis("testbed", "history", "--dir", str(bed_dir), "--index", str(index), "--json", home=home)
    done = json.loads(out.stdout)
    assert not done["skipped"] and 2000 < done["requests"] <= 3979 and done["seconds"] < LOAD_SECONDS
    with Store(home / "ill.sqlite") as store:
        assert stats.demo_requests(store) == done["requests"]  # every request marked
        months = stats.active_months(store)
        assert 12 <= len(months) <= 13
        rows = {r["member"]: r for r in stats.table(store, months=None, total=True) if r["member"] != "ALL"}
        total = stats.member_month(store, None, months[len(months) // 2])
        history = stats.lender_history(store)
        reqs = store.list_requests(limit=10_000)
    codes = {mem.code for mem in load_registry(bed_dir / "registry.toml").members}
    assert set(rows) <= codes and len(history) >= len(codes) - 1
    # figures as a consortium's: most processed requests filled, but not all; days to complete a few
    assert 0.3 < total["fill_rate"] < 0.98 and 0.5 < total["mean_days_to_complete"] < 8
    lender_rates = [h["filled"] / h["requests"] for h in history.values() if h["requests"] >= 50]
    assert max(lender_rates) - min(lender_rates) > 0.2  # lenders differ, as the routing simulation's do
    assert all(r["reader_id"].startswith("demo-") and r["reader_message"] == stats.DEMO_NOTE for r in reqs)
    assert {r["status"] for r in reqs} <= {m.LOAN_COMPLETED, m.COPY_COMPLETED, m.UNFILLED, m.LOANED}
    now = datetime.now(UTC)
    assert all(r["submitted_at"] < now and r["submitted_at"] > now - timedelta(days=367) for r in reqs)
    # each request's history starts with the import saying it is demo data
    with Store(home / "ill.sqlite") as store:
        first = store.history(reqs[0]["id"])[0]
    assert first["action"] == "import" and first["actor"] == stats.DEMO_ACTOR and "demo data" in first["reason"]

    again = balis("testbed", "history", "--dir", str(bed_dir), "--index", str(index), home=home)
    assert "in the store already" in again.stdout
    with Store(home / "ill.sqlite") as store:
        assert len(store.list_requests(limit=10_000)) == done["requests"]


def test_a_store_with_real_requests_is_never_touched(harvested, tmp_path):
    bed_dir, index = harvested
    home = tmp_path / "home"
    with Store(home / "ill.sqlite") as store:
        store.add_user("R1", "reader", "PKU")
        store.submit("R1", citation="一本真的书")
    out = balis("testbed", "history", "--dir", str(bed_dir), "--index", str(index), home=home)
    assert "not demo data" in out.stderr
    with Store(home / "ill.sqlite") as store:
        assert len(store.list_requests()) == 1 and stats.demo_requests(store) == 0


async def test_the_dashboard_says_demo_data(harvested, tmp_path):
    from portal import create_app
    from portal.app import HTTP_LIMITS
    from testbed.ill_history import load
    from tests.portal.deskkit import sign_in, users

    bed_dir, index = harvested
    registry = load_registry(bed_dir / "registry.toml")
    from indexer.index import LocalIndex
    from indexer.schema import load_work

    with LocalIndex.open(index) as ix, ix.whoosh.searcher() as s:
        works = [load_work(d["work"]) for d in s.documents()]
    store = Store(tmp_path / "ill.sqlite")
    load(store, works, list(registry.members), n=300)
    codes = [mem.code for mem in registry.members][:3]
    users(store, *codes)
    client = TestClient(TestServer(create_app(registry, store=store), host="127.0.0.1"))
    await client.server.start_server(**HTTP_LIMITS)
    await client.start_server()
    try:
        await sign_in(client, "adm")
        html = await (await client.get("/admin/stats")).text()
        assert 'id="demo-data"' in html and "演示数据 demo data" in html
        doc = await (await client.get("/api/admin/stats")).json()
        assert doc["total"]["requests_sent"] > 100 and doc["total"]["fill_rate"] is not None
    finally:
        await client.close()
        store.close()
