"""`balis backup` and `balis restore` as an operator runs them: a backup taken while a portal process serves
the same home folder, restored into a fresh one, gives the same requests and the same search results."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from ill import Store
from members import load_registry

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path, registry: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("BALIS_DB", "BALIS_INDEX", "BALIS_ANSWER_TIMES")}
    env.update(BALIS_HOME=str(home), BALIS_REGISTRY=str(registry))
    return env


def balis(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "balis.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    if check:
        assert done.returncode == 0, f"balis {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def _search(env: dict, query: str) -> list:
    out = json.loads(balis("search", "--local", "--json", "--max", "50", query, env=env).stdout)
    return [(w["work_id"], w["title"], sorted(h["member"] for h in w["holdings"])) for w in out["works"]]


def _requests(env: dict) -> list:
    out = json.loads(balis("request", "list", "--json", "--limit", "100000", env=env).stdout)
    return sorted((r["id"], r["reader_id"], r["title"], r["status"], r["lender"]) for r in out["requests"])


def _requests_in_store(store: Store) -> int:
    return len(store.list_requests())


def test_a_backup_taken_while_the_portal_runs_restores_into_a_fresh_home(testbed, tmp_path):
    registry = Path(testbed.registry_path)
    first, fresh = tmp_path / "home", tmp_path / "fresh"
    env = _env(first, registry)
    balis("harvest", "--rate", "0", env=env)
    codes = [m.code for m in load_registry(registry).members][:4]
    with Store(first / "ill.sqlite") as store:
        for i in range(6):
            store.add_user(f"R{i}", "reader", codes[i % 2])
            store.submit(f"R{i}", title=f"数据结构 第{i}卷", rota=[codes[2], codes[3]])
        store.submit("R0", citation="手工填写的一本书")

    portal = subprocess.Popen([sys.executable, "-m", "balis.cli", "serve", "--port", "0"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=(tmp_path / "serve.log").open("w"), text=True)
    try:
        assert "http://" in portal.stdout.readline(), "balis serve did not start: see serve.log"
        # staff keep working while the backup runs: each change is in the backup or not, never half of it
        stop = threading.Event()

        def work():
            with Store(first / "ill.sqlite") as store:
                store.add_user("R9", "reader", codes[0])
                while not stop.is_set():
                    try:
                        store.submit("R9", kind="copy", title="在备份时提交", rota=[codes[2]])
                    except Exception:  # noqa: BLE001 - the store busy for a moment
                        pass
                    time.sleep(0.01)

        writer = threading.Thread(target=work)
        writer.start()
        try:
            out = json.loads(balis("backup", "--to", str(tmp_path / "backup"), "--json", env=env).stdout)
        finally:
            stop.set()
            writer.join()
        assert portal.poll() is None, "the portal stopped during the backup"
    finally:
        portal.send_signal(signal.SIGINT)
        portal.wait(timeout=30)

    parts = {p["name"]: p for p in out["parts"]}
    assert parts["ill"]["kind"] == "sqlite" and parts["ill"]["count"] >= 7
    assert parts["index"]["kind"] == "whoosh" and parts["index"]["count"] > 100
    manifest = json.loads((tmp_path / "backup" / "balis-backup.json").read_text(encoding="utf-8"))
    assert manifest["format"] == 1 and not (tmp_path / "backup.part").exists()

    fresh_env = _env(fresh, registry)
    restored = balis("restore", str(tmp_path / "backup"), env=fresh_env)
    assert "已恢复" in restored.stdout
    assert (fresh / "ill.sqlite").is_file() and (fresh / "index" / "whoosh").is_dir()

    # the fresh home holds what the backup counted: every request whole (its lender row with it)
    with sqlite3.connect(fresh / "ill.sqlite") as con:
        count = con.execute("SELECT count(*) FROM requests").fetchone()[0]
        orphans = con.execute("SELECT count(*) FROM requests r WHERE r.lender IS NOT NULL AND NOT EXISTS "
                              "(SELECT 1 FROM legs l WHERE l.request_id = r.id)").fetchone()[0]
    assert count == parts["ill"]["count"] and orphans == 0
    # the requests the original store had when the writer was not adding: the same in both
    before = [r for r in _requests(env) if r[1] != "R9"]
    after = [r for r in _requests(fresh_env) if r[1] != "R9"]
    assert before == after and len(after) == 7
    for query in ("中国", "数据", "history"):
        assert _search(fresh_env, query) == _search(env, query)
    assert _search(fresh_env, "中国"), "the restored index found nothing"


def test_restore_refuses_to_overwrite_and_keeps_the_old_store_with_replace(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("BALIS_DB", "BALIS_INDEX")}
    env["BALIS_HOME"] = str(home)
    with Store(home / "ill.sqlite") as store:
        store.add_user("R1", "reader", "PKU")
        store.submit("R1", citation="第一本")
    (home / "holidays.toml").write_text('[[year]]\nyear = 2031\nholidays = ["2031-01-01"]\n', encoding="utf-8")
    balis("backup", "--to", str(tmp_path / "b1"), env=env)
    with Store(home / "ill.sqlite") as store:
        store.submit("R1", citation="第二本")
    (home / "holidays.toml").write_text("", encoding="utf-8")

    again = balis("backup", "--to", str(tmp_path / "b1"), env=env, check=False)
    assert again.returncode == 2 and "exists already" in again.stderr

    refused = balis("restore", str(tmp_path / "b1"), env=env, check=False)
    assert refused.returncode == 2 and "--replace" in refused.stderr and "Traceback" not in refused.stderr
    with Store(home / "ill.sqlite") as store:
        assert _requests_in_store(store) == 2  # nothing was touched

    assert (home / "holidays.toml").read_text(encoding="utf-8") == ""
    balis("restore", "--replace", str(tmp_path / "b1"), env=env)
    assert "year = 2031" in (home / "holidays.toml").read_text(encoding="utf-8")  # the calendar is in the backup
    with Store(home / "ill.sqlite") as store:
        assert [r["citation"] for r in store.list_requests()] == ["第一本"]
    kept = [p for p in home.iterdir() if p.name.startswith("ill.sqlite.before-restore-") and "-wal" not in p.name
            and "-shm" not in p.name]
    assert len(kept) == 1
    with Store(kept[0]) as store:
        assert _requests_in_store(store) == 2

    not_a_backup = balis("restore", str(tmp_path), env=env, check=False)
    assert not_a_backup.returncode == 2 and "not a balis backup" in not_a_backup.stderr


def test_a_postgresql_ill_store_is_dumped_and_restored(postgres_url, tmp_path):
    from sqlalchemy import create_engine, text

    admin = create_engine(postgres_url + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE ops_source"))
        conn.execute(text("CREATE DATABASE ops_target"))
    admin.dispose()
    source, target = postgres_url + "/ops_source", postgres_url + "/ops_target"
    with Store(source) as store:
        store.add_user("R1", "reader", "PKU")
        for i in range(3):
            store.submit("R1", kind="copy", title=f"论文 {i}", rota=["THU", "RUC"])
        wanted = [(r["id"], r["title"], r["status"], r["lender"]) for r in store.list_requests()]
    env = {k: v for k, v in os.environ.items() if k not in ("BALIS_DB", "BALIS_INDEX")}
    env["BALIS_HOME"] = str(tmp_path / "home")
    pg = source.replace("postgresql+psycopg://", "postgresql://")
    out = json.loads(balis("backup", "--db", pg, "--to", str(tmp_path / "b"), "--json", env=env).stdout)
    assert {p["name"]: p["kind"] for p in out["parts"]} == {"ill": "postgresql", "index": "whoosh"}
    assert (tmp_path / "b" / "ill.pgdump").stat().st_size > 0
    balis("restore", "--db", target.replace("postgresql+psycopg://", "postgresql://"), str(tmp_path / "b"),
          "--index", str(tmp_path / "index"), env=env)
    with Store(target) as store:
        assert [(r["id"], r["title"], r["status"], r["lender"]) for r in store.list_requests()] == wanted
        store.submit("R1", kind="copy", title="恢复后的新申请", rota=["THU"])  # ids go on after the restored ones
        assert max(r["id"] for r in store.list_requests()) == max(w[0] for w in wanted) + 1
