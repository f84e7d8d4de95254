"""The staff desk and the administration dashboard over HTTP, on a store with a year of traffic.

A fresh SQLite ILL store gets N requests (default 1,500) spread over the last 12 months among the members of
config/members.toml: each borrowing library asks the next member, and each request is taken to a random
stage of its journey (waiting, answered, shipped, received, lent, returned, shipped back, completed,
unfilled). The portal runs in-process on loopback (aiohttp test server); one client signs in and asks each
page R times (default 30), one after the other:

  /api/desk/queues, /desk                  the busiest library's queues (every open request it is part of)
  /api/desk/requests/{id}                  one request with its legs and history
  /admin/stats, /api/admin/stats.csv       the dashboard and the CSV for the last 12 months

Prints median and p95 latency per page and writes benchmarks/results/desk.json.

    .venv/bin/python benchmarks/desk.py [--requests 1500] [--repeat 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STAGES = [[], ["WillSupply"], ["WillSupply", "ship"], ["WillSupply", "ship", "Received"],
          ["WillSupply", "ship", "Received", "lend"], ["WillSupply", "ship", "Received", "lend", "take_back"],
          ["WillSupply", "ship", "Received", "lend", "take_back", "ShippedReturn"],
          ["WillSupply", "ship", "Received", "lend", "take_back", "ShippedReturn", "check_in"],
          ["Unfilled"]]
BORROWER_ACTIONS = {"Received", "lend", "take_back", "ShippedReturn"}


def populate(store, codes: list[str], n: int, seed: int = 7) -> None:
    from portal.auth import hash_password

    rng = random.Random(seed)
    secret = hash_password("bench-pass-1")
    for code in codes:
        store.add_user(f"staff-{code}", "staff", code, f"{code} staff")
        store.set_password_hash(f"staff-{code}", secret)
    store.add_user("centre", "admin", None, "centre")
    store.set_password_hash("centre", secret)
    now = datetime.now(UTC)
    readers: dict[str, int] = {}
    for i in range(n):
        borrower, lender = codes[i % len(codes)], codes[(i + 1) % len(codes)]
        reader = f"r-{borrower}-{readers.get(borrower, 0) // 3}"  # three requests a reader (the 3-book rule)
        readers[borrower] = readers.get(borrower, 0) + 1
        if readers[borrower] % 3 == 1:
            store.add_user(reader, "reader", borrower, "")
        at = now - timedelta(days=rng.uniform(0, 360))
        stage = rng.choice(STAGES)
        req = store.submit(reader, title=f"书 {i}", work_id="W0123456789abcdef", rota=[lender], now=at)
        for k, action in enumerate(stage):
            actor = f"staff-{borrower}" if action in BORROWER_ACTIONS else f"staff-{lender}"
            store.act(req["id"], action, actor, reason="无" if action == "Unfilled" else "",
                      now=at + timedelta(hours=2 * (k + 1)))


async def measure(store, registry, codes: list[str], repeat: int) -> dict:
    from aiohttp.test_utils import TestClient, TestServer

    from portal import create_app

    app = create_app(registry, store=store, logins_per_minute=10_000)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        async def sign_in(user: str) -> None:
            token = (await (await client.get("/api/session")).json())["csrf_token"]
            r = await client.post("/api/session", json={"user": user, "password": "bench-pass-1"},
                                  headers={"X-CSRF-Token": token})
            assert r.status == 200, await r.text()

        async def timed(path: str) -> dict:
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                r = await client.get(path)
                await r.read()
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status == 200, (path, r.status)
            times.sort()
            return {"median_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1), "n": repeat}

        out: dict = {}
        await sign_in(f"staff-{codes[0]}")
        queues = await (await client.get("/api/desk/queues")).json()
        out["queue_sizes"] = {q: v["count"] for q, v in queues["queues"].items()}
        some = next(r["id"] for v in queues["queues"].values() for r in v["requests"])
        for path in ("/api/desk/queues", "/desk", f"/api/desk/requests/{some}"):
            out[path] = await timed(path)
        token = (await (await client.get("/api/session")).json())["csrf_token"]
        await client.delete("/api/session", headers={"X-CSRF-Token": token})
        await sign_in("centre")
        for path in ("/admin/stats", "/api/admin/stats.csv"):
            out[path] = await timed(path)
        return out
    finally:
        await client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    from ill.store import Store
    from members import load_registry

    registry = load_registry(ROOT / "config" / "members.toml")
    codes = [m.code for m in registry.members][:10]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "ill.sqlite")
        t0 = time.perf_counter()
        populate(store, codes, args.requests)
        store.tick()  # the clock: late answers forwarded, loans past their due date overdue
        built = time.perf_counter() - t0
        load_before = os.getloadavg()
        figures = asyncio.run(measure(store, registry, codes, args.repeat))
        load_after = os.getloadavg()
        store.close()
    result = {"requests": args.requests, "members": len(codes), "repeat": args.repeat,
              "populate_s": round(built, 1), "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in load_after], **figures}
    print(f"{args.requests} requests over 12 months, {len(codes)} members (store built in {built:.0f} s)")
    print(f"queues of {codes[0]}: {figures['queue_sizes']}")
    for path, f in figures.items():
        if isinstance(f, dict) and "median_ms" in f:
            print(f"  {path:32s} median {f['median_ms']:8.1f} ms   p95 {f['p95_ms']:8.1f} ms")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    out = ROOT / "benchmarks" / "results" / "desk.json"
    out.parent.mkdir(parents=True, exist_ok=True)  # benchmarks/results is not kept in the repository
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
