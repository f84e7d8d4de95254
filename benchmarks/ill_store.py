"""ILL store throughput on SQLite (file, WAL) and PostgreSQL: submissions, transitions, tick, statistics.

For each database, on a fresh store with 300 readers of 10 members:
  submit        sequential submissions (each checks the 3-books rule in its transaction)
  submit x8     the same from 8 threads at once (distinct readers)
  transitions   a whole loan per request: WillSupply, ship, Received, lend, take_back, ShippedReturn, check_in
  tick          the clock forwarding N requests whose lender missed the answer deadline
  stats         balis stats for one month (every member + the consortium row)
PostgreSQL: --pg URL, or a private cluster started in a temporary folder (initdb; as the postgres user when
run as root). Prints the figures and writes benchmarks/results/ill_store.json.
Usage: python benchmarks/ill_store.py [--requests N] [--only sqlite|postgresql] [--pg URL]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ill import Store, stats  # noqa: E402
from ill import machine as m  # noqa: E402

MEMBERS = ["THU", "PKU", "RUC", "BUAA", "USTB", "BNU", "NCEPU", "BUPT", "CUPL", "CNU"]
READERS = 300
T0 = datetime(2025, 9, 1, 2, 0, tzinfo=UTC)


@contextmanager
def private_postgres():
    """A throw-away PostgreSQL cluster on a free loopback port; yields its URL."""
    initdb = (sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb")])[-1]
    pg_ctl = str(Path(initdb).with_name("pg_ctl"))
    root = Path(tempfile.mkdtemp(prefix="balis-bench-pg-"))
    as_user, user = [], os.environ.get("USER", "postgres")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user, user = ["runuser", "-u", "postgres", "--"], "postgres"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    subprocess.run(as_user + [initdb, "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--locale=C"],
                   check=True, capture_output=True)
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=100"
    subprocess.run(as_user + [pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_user + [pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def setup(store: Store) -> None:
    for i in range(READERS):
        store.add_user(f"r{i}", "reader", MEMBERS[i % len(MEMBERS)], now=T0)
    for code in MEMBERS:
        store.add_user(code.lower(), "staff", code, now=T0)


def rota_for(reader: int) -> list[str]:
    home = MEMBERS[reader % len(MEMBERS)]
    return [c for c in MEMBERS if c != home][(reader % 3):(reader % 3) + 3]


def timed(fn, n: int) -> dict:
    lat = []
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        lat.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    return {"n": n, "seconds": round(total, 3), "per_s": round(n / total, 1),
            "median_ms": round(statistics.median(lat) * 1000, 2),
            "p95_ms": round(sorted(lat)[int(0.95 * (n - 1))] * 1000, 2)}


def bench(url: str, n: int) -> dict:
    out: dict = {}
    store = Store(url, clock=lambda: T0)
    try:
        setup(store)
        ids: list[int] = []
        out["submit"] = timed(lambda i: ids.append(store.submit(
            f"r{i % READERS}", title=f"书 {i}", work_id=f"w{i}", rota=rota_for(i % READERS), now=T0)["id"]), n)

        # concurrent submissions: 8 threads, distinct readers (one open loan each at most 3)
        errors: list = []
        per_thread = n // 8

        def worker(k: int) -> None:
            try:
                for j in range(per_thread):
                    r = (k * per_thread + j) % READERS
                    store.submit(f"r{r}", kind="copy", title="并发", work_id="wc", rota=rota_for(r), now=T0)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        total = time.perf_counter() - t
        out["submit_x8"] = {"n": per_thread * 8, "seconds": round(total, 3),
                            "per_s": round(per_thread * 8 / total, 1), "errors": len(errors)}

        steps = [(m.WILL, "lender"), (m.SHIP, "lender"), (m.RECEIVED, "borrower"), (m.LEND, "borrower"),
                 (m.TAKE_BACK, "borrower"), (m.SHIPPED_RETURN, "borrower"), (m.CHECK_IN, "lender")]
        loans = ids[: n // 2]
        cache = {rid: store.get(rid) for rid in loans}

        def one_step(i: int) -> None:
            rid = loans[i // len(steps)]
            action, side = steps[i % len(steps)]
            r = cache[rid]
            actor = (r["lender"] if side == "lender" else r["borrower"]).lower()
            store.act(rid, action, actor, now=T0 + timedelta(hours=1))

        out["transitions"] = timed(one_step, len(loans) * len(steps))

        late = T0 + timedelta(days=20)
        t = time.perf_counter()
        changes = store.tick(now=late)
        total = time.perf_counter() - t
        out["tick"] = {"forwarded": len(changes), "seconds": round(total, 3),
                       "per_s": round(len(changes) / total, 1) if changes else None}

        t = time.perf_counter()
        rows = stats.table(store, months=["2025-09"])
        out["stats_month"] = {"rows": len(rows), "seconds": round(time.perf_counter() - t, 3)}
    finally:
        store.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=400, help="requests per run (default 400)")
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    ap.add_argument("--pg", metavar="URL", help="an existing PostgreSQL database to use (it is written to)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ill_store.json")
    args = ap.parse_args()
    load = os.getloadavg()
    results: dict = {}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as d:
            results["sqlite"] = bench(f"sqlite:///{d}/ill.sqlite", args.requests)
    if args.only in (None, "postgresql"):
        if args.pg:
            results["postgresql"] = bench(args.pg, args.requests)
        else:
            with private_postgres() as url:
                results["postgresql"] = bench(url, args.requests)
    for db, r in results.items():
        print(f"== {db}")
        for name, fig in r.items():
            print(f"  {name:<12} " + "  ".join(f"{k}={v}" for k, v in fig.items()))
    doc = {"benchmark": "ill_store", "requests": args.requests, "load_before": [round(x, 2) for x in load],
           "load_after": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
           "python": platform.python_version(), "when": datetime.now(UTC).isoformat(timespec="seconds"),
           "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"load average before {doc['load_before']}, after {doc['load_after']}; written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
