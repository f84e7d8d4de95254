"""The portal under many readers: throughput and latency over HTTP on loopback.

A test bed (8 members × 300 records, its own temp folder) and `balis serve` (a separate process, rate limit
lifted) are started; this process is the load generator: R concurrent readers (aiohttp), each sending its
next request as soon as the last one is answered, for S seconds (and at most --max-requests in all).

  recent   GET /search?q=WORD&sort=…&facet=…: the complete results page (HTML), for words searched once
           before the run, so it measures the portal itself (parameters, facets, ranking, templates) over
           the recent-search cache; the reader view that facet, sort and page clicks get
  api      the same over GET /api/search (JSON)
  fanout   GET /api/search?q=W1 AND W2 with a new word pair every time: each request is a federated search
           asking all 8 members (Z39.50 / SRU) through the portal's one Federator

Prints requests/s, latency p50/p95/p99/max and errors per mode; writes benchmarks/results/portal.json
(portal-quick.json with --quick). The local index mode (the issue's target: 200 readers, p95 ≤ 300 ms)
comes with the local search.
Usage: python benchmarks/portal.py [--quick] [--readers N] [--seconds S] [--only MODE,..]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from testbed.bed import Testbed  # noqa: E402

WORDS = ["中国", "经济", "历史", "文学", "数据", "管理", "教育", "社会", "发展", "研究", "理论", "技术", "科学",
         "文化", "政治", "法律", "艺术", "语言", "医学", "工程", "计算机", "物理", "化学", "数学", "生物",
         "地理", "哲学", "心理", "音乐", "报告", "北京", "世界", "国际", "现代", "设计", "系统", "方法", "基础"]
SORTS = ["relevance", "year", "year_asc", "title"]
MODES = ("recent", "api", "fanout")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def start_portal(registry: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "balis.cli", "serve", "--port", "0", "--registry", str(registry),
                             "--searches-per-minute", "100000000"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/)", line or "")
        if m:
            return proc, m.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("balis serve did not start")


async def run_mode(base: str, mode: str, readers: int, seconds: float, max_requests: int) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    pairs = itertools.combinations(WORDS, 2)
    rng = random.Random(7)
    budget = [max_requests]
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=readers)
    async with aiohttp.ClientSession(base_url=base, timeout=timeout, connector=connector) as session:
        if mode in ("recent", "api"):  # search each word once so the run measures the recent-search views
            for word in WORDS:
                async with session.get("/api/search", params={"q": word}) as r:
                    await r.read()

        def next_request() -> tuple[str, dict] | None:
            if budget[0] <= 0:
                return None
            budget[0] -= 1
            if mode == "fanout":
                pair = next(pairs, None)
                return None if pair is None else ("/api/search", {"q": f"{pair[0]} AND {pair[1]}"})
            params = {"q": rng.choice(WORDS), "sort": rng.choice(SORTS)}
            if rng.random() < 0.3:
                params["facet"] = f"year:{rng.choice(['2000-2009', '1990-1999', '2010-2019'])}"
            return ("/search" if mode == "recent" else "/api/search", params)

        ends = time.perf_counter() + seconds

        async def reader() -> None:
            while time.perf_counter() < ends:
                req = next_request()
                if req is None:
                    return
                path, params = req
                started = time.perf_counter()
                try:
                    async with session.get(path, params=params) as r:
                        await r.read()
                        if r.status != 200:
                            errors[str(r.status)] = errors.get(str(r.status), 0) + 1
                            continue
                except (TimeoutError, aiohttp.ClientError) as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(reader() for _ in range(readers)))
        elapsed = time.perf_counter() - started
    return {"mode": mode, "readers": readers, "seconds": round(elapsed, 2), "requests": len(latencies),
            "errors": errors, "per_second": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50), 1), "p95_ms": round(percentile(latencies, 95), 1),
            "p99_ms": round(percentile(latencies, 99), 1), "max_ms": round(max(latencies, default=0), 1),
            "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 readers, 10 s per mode")
    ap.add_argument("--readers", type=int, default=200)
    ap.add_argument("--fanout-readers", type=int, default=20, help="readers in the fanout mode (default 20)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--max-requests", type=int, default=200_000, help="stop a mode after this many requests")
    ap.add_argument("--only", help="modes, comma-separated: " + ", ".join(MODES))
    args = ap.parse_args()
    if args.quick:
        args.readers, args.fanout_readers, args.seconds = 20, 5, 10.0
    modes = args.only.split(",") if args.only else list(MODES)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="balis-bench-portal-") as tmp:
        bed = Testbed(Path(tmp) / "bed")
        registry = bed.up(members=8, records=300)
        proc, base = start_portal(registry)
        try:
            results = []
            for mode in modes:
                readers = args.fanout_readers if mode == "fanout" else args.readers
                r = asyncio.run(run_mode(base, mode, readers, args.seconds, args.max_requests))
                results.append(r)
                print(f"{mode:7} {r['readers']:4} readers {r['seconds']:6.1f} s  {r['requests']:7} requests  "
                      f"{r['per_second']:8.1f}/s  p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  "
                      f"p99 {r['p99_ms']:7.1f} ms  max {r['max_ms']:7.1f} ms  errors {r['errors'] or 0}",
                      flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            bed.down()
    doc = {"benchmark": "portal", "quick": args.quick, "machine": {"cpus": os.cpu_count(),
           "python": platform.python_version(), "load_before": [round(x, 2) for x in load_before],
           "load_after": [round(x, 2) for x in os.getloadavg()]}, "results": results}
    out = ROOT / "benchmarks" / "results" / ("portal-quick.json" if args.quick else "portal.json")
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"load average before {doc['machine']['load_before']}, after {doc['machine']['load_after']}; wrote {out}")


if __name__ == "__main__":
    main()
