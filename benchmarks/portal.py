"""The portal under many readers: throughput and latency over HTTP on loopback.

`balis serve` runs as a separate process (rate limit lifted); this process is the load generator: R
concurrent readers (aiohttp) for S seconds (and at most --max-requests in all).

Local index modes (issue 6's target: 200 readers, p95 ≤ 300 ms, no errors). The union index is the one
benchmarks/local_search.py generates (1,000,000 holdings, 257,970 editions by default; built once and
cached in var/bench/local_search/h<holdings>), served with `balis serve --index DIR [--workers N]`. Each
reader repeats: think, then one request of this mix (the no-JavaScript pages, all answered from the index):

  55 %  a new search: GET /search?q=Q (Q from local_search.make_queries: Chinese and Western, free and
        fielded, phrases, traditional script, ISBNs), relevance, page 1 (10 % sorted by year or title)
  30 %  a refinement of the reader's last search: next page, another sort, or a facet (year, language)
  15 %  an edition from the last results: GET /work/{id} (the edition and its other editions, from the index)

  local         think time exponential, mean --think seconds (default 10, capped at 6×), readers starting
                spread over the first think time: readers reading their results between clicks
  local-closed  the same mix with no think time (the issue states none): each reader sends its next
                request as soon as the last is answered; a throughput ceiling, for information

Test bed modes (8 members × 300 records, its own temp folder; a live federated search per request):

  recent   GET /search?q=WORD&sort=…&facet=…: the complete results page (HTML), for words searched once
           before the run, so it measures the portal itself (parameters, facets, ranking, templates) over
           the recent-search cache; the reader view that facet, sort and page clicks get
  api      the same over GET /api/search (JSON)
  fanout   GET /api/search?q=W1 AND W2 with a new word pair every time: each request is a federated search
           asking all 8 members (Z39.50 / SRU) through the portal's one Federator

Prints requests/s, latency p50/p95/p99/max and errors per mode; writes benchmarks/results/portal.json
(portal-quick.json with --quick).
The union index may be a PostgreSQL database instead (`--index postgresql://…`, optionally with standbys
`--index-replica URL`): loaded once with the same generated editions, served with `balis serve --index URL`;
each local mode also reports the portal's resident memory (RSS, all its processes; writes portal-postgresql.json).
Usage: python benchmarks/portal.py [--quick] [--readers N] [--seconds S] [--only MODE,..] [--workers N]
                                   [--holdings N] [--think S] [--index URL [--index-replica URL]..]
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import itertools
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
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
MODES = ("local", "local-closed", "recent", "api", "fanout")
LOCAL_MODES = ("local", "local-closed")
INDEX_CACHE = ROOT / "var" / "bench" / "local_search"  # shared with benchmarks/local_search.py


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def start_portal(registry: Path | None, *extra: str) -> tuple[subprocess.Popen, str]:
    args = ["--registry", str(registry)] if registry else []
    db_dir = tempfile.mkdtemp(prefix="balis-bench-portal-db-")  # its own ILL store, removed at exit
    atexit.register(shutil.rmtree, db_dir, ignore_errors=True)
    args += ["--db", str(Path(db_dir) / "ill.sqlite")]
    log = open(Path(db_dir) / "portal.log", "w")  # noqa: SIM115 - the portal's log, read when requests fail
    proc = subprocess.Popen([sys.executable, "-m", "balis.cli", "serve", "--port", "0", *args,
                             "--searches-per-minute", "100000000", *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=log, text=True)
    proc.log_path = Path(db_dir) / "portal.log"
    deadline = time.monotonic() + 120
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


def local_index(holdings: int) -> tuple[Path, dict]:
    """The generated union index of `holdings` holdings (built once, as benchmarks/local_search.py does)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from local_search import build

    folder = INDEX_CACHE / f"h{holdings}"
    meta_path = folder / "bench.json"
    if not meta_path.exists():
        print(f"building an index of {holdings:,} holdings in {folder} ...", flush=True)
        folder.mkdir(parents=True, exist_ok=True)
        build(folder, holdings)
    meta = json.loads(meta_path.read_text())
    size = sum(f.stat().st_size for f in (folder / "whoosh").iterdir() if f.is_file())
    return folder, {"holdings": meta["holdings"], "editions": meta["editions"], "mib": round(size / 2**20),
                    "samples": meta["samples"]}


def database_index(url: str, holdings: int) -> dict:
    """The generated union index of `holdings` holdings in the PostgreSQL database at `url`: the editions
    benchmarks/local_search.py caches (generated there once), loaded unless the database holds them already
    (a database benchmarks/local_search.py --backend postgresql loaded serves as it is)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from local_search import cached_editions, read_editions

    from indexer.backend import open_index
    from indexer.pg.index import shown

    path, meta = cached_editions(INDEX_CACHE, holdings)
    meta = dict(meta)
    ix = open_index(url, create=True)
    try:
        if ix.doc_count() != meta["editions"]:
            print(f"loading {meta['editions']:,} editions ({holdings:,} holdings) into {shown(url)} ...", flush=True)
            t = time.perf_counter()
            ix.rebuild(read_editions(path), timeout=5)
            meta["load_s"] = round(time.perf_counter() - t, 1)
            ix.optimize()  # VACUUM ANALYZE: GIN's pending list merged, as after a nightly run
        sizes = dict(ix.conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "WHERE c.relname IN ('editions', 'holdings') AND c.relkind = 'r'").fetchall())
    finally:
        ix.close()
    return {"holdings": meta["holdings"], "editions": meta["editions"], "backend": "postgresql",
            "mib": round(sum(sizes.values()) / 2**20), "bytes": sizes, "load_s": meta.get("load_s"),
            "samples": meta["samples"]}


def database_server(url: str) -> Rss | None:
    """The CPU counter of the PostgreSQL server at `url` (its postmaster and backends), when it runs here."""
    import psycopg

    from indexer.pg.index import connection_url

    with psycopg.connect(connection_url(url)) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    try:
        postmaster = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None  # another machine
    counter = Rss(postmaster)
    counter.cpu_since()
    return counter


REFINE_FACETS = ["year:2010-2019", "year:2000-2009", "year:1990-1999", "language:chi", "language:eng"]
WORK_ID = re.compile(r'<li class="work" data-work="(W[0-9a-f]{16})"')


async def run_local(base: str, mode: str, readers: int, seconds: float, think: float, queries: list[str],
                    max_requests: int, seed: int = 11) -> dict:
    """Readers searching the union index over HTTP (the mix in the module docstring)."""
    rng = random.Random(seed)
    latencies: dict[str, list[float]] = {"search": [], "refine": [], "edition": []}
    errors: dict[str, int] = {}
    seen: set[tuple] = set()
    repeats = [0]
    budget = [max_requests]
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=readers)
    closed = mode == "local-closed"

    async def reader(session: aiohttp.ClientSession, ends: float, r: random.Random) -> None:
        last: dict | None = None
        works: list[str] = []
        if not closed:
            await asyncio.sleep(min(r.uniform(0, think), seconds))
        while time.perf_counter() < ends and budget[0] > 0:
            budget[0] -= 1
            pick = r.random()
            if last is None or pick < 0.55:
                kind = "search"
                last = {"q": r.choice(queries)}
                if r.random() < 0.1:
                    last["sort"] = r.choice(["year", "title"])
                path, params = "/search", dict(last)
            elif pick < 0.85 or not works:
                kind = "refine"
                step = r.random()
                if step < 0.4:
                    last["page"] = str(int(last.get("page", "1")) + 1)
                elif step < 0.7:
                    last["sort"] = r.choice([s for s in SORTS if s != last.get("sort", "relevance")])
                    last.pop("page", None)
                else:
                    last["facet"] = r.choice(REFINE_FACETS)
                    last.pop("page", None)
                path, params = "/search", dict(last)
            else:
                kind = "edition"
                path, params = f"/work/{r.choice(works)}", {}
            key = (path, tuple(sorted(params.items())))
            if key in seen:
                repeats[0] += 1
            seen.add(key)
            started = time.perf_counter()
            try:
                async with session.get(path, params=params) as resp:
                    body = await resp.text()
                    if resp.status != 200:
                        errors[str(resp.status)] = errors.get(str(resp.status), 0) + 1
                    elif path == "/search" and 'data-source="local"' not in body:
                        errors["not from the index"] = errors.get("not from the index", 0) + 1
                    else:
                        latencies[kind].append((time.perf_counter() - started) * 1000)
                        if path == "/search":
                            found = WORK_ID.findall(body)
                            works = found or works
                            if not found:
                                last = None  # nothing to refine: the reader searches again
            except (TimeoutError, aiohttp.ClientError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            if not closed:
                await asyncio.sleep(max(0.0, min(r.expovariate(1 / think), 6 * think, ends - time.perf_counter())))

    async with aiohttp.ClientSession(base_url=base, timeout=timeout, connector=connector) as session:
        for q in queries[:20]:  # a serving portal has answered searches before
            async with session.get("/search", params={"q": q}) as resp:
                await resp.read()
        ends = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(*(reader(session, ends, random.Random(rng.random())) for _ in range(readers)))
        elapsed = time.perf_counter() - started
    every = [x for v in latencies.values() for x in v]
    out = {"mode": mode, "readers": readers, "think_s": 0 if closed else think, "seconds": round(elapsed, 2),
           "requests": len(every), "errors": errors, "per_second": round(len(every) / elapsed, 1),
           "repeated_requests": repeats[0],
           "p50_ms": round(percentile(every, 50), 1), "p95_ms": round(percentile(every, 95), 1),
           "p99_ms": round(percentile(every, 99), 1), "max_ms": round(max(every, default=0), 1),
           "mean_ms": round(statistics.fmean(every), 1) if every else None}
    out["by_kind"] = {k: {"requests": len(v), "p50_ms": round(percentile(v, 50), 1),
                          "p95_ms": round(percentile(v, 95), 1)} for k, v in latencies.items()}
    return out


class Rss(threading.Thread):
    """Samples the resident memory of a process and its children (/proc) every half second, and counts their
    CPU time."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.most = 0
        self._done = threading.Event()
        self._cpu = self.cpu()

    def _pids(self) -> list[int]:
        pids = [self.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.pid:
                    pids.append(int(stat.parent.name))
            except (OSError, ValueError, IndexError):
                continue
        return pids

    def cpu(self) -> float:
        """CPU seconds (user + system) of the process and its children so far."""
        ticks = 0
        for pid in self._pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
            except (OSError, ValueError, IndexError):
                continue
        return ticks / os.sysconf("SC_CLK_TCK")

    def cpu_since(self) -> float:
        """CPU seconds since the last call (or the start)."""
        now = self.cpu()
        spent, self._cpu = now - self._cpu, now
        return round(spent, 1)

    def _sample(self) -> int:
        total = 0
        for pid in self._pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                continue
        return total

    def run(self) -> None:
        while not self._done.wait(0.5):
            self.most = max(self.most, self._sample())

    def take(self) -> dict:
        """The most seen since the last take, and now, in MiB; starts a new maximum."""
        now = self._sample()
        out = {"max": round(max(self.most, now) / 2**20), "end": round(now / 2**20)}
        self.most = 0
        return out

    def stop(self) -> None:
        self._done.set()


def _print(r: dict) -> None:
    print(f"{r['mode']:12} {r['readers']:4} readers {r['seconds']:6.1f} s  {r['requests']:7} requests  "
          f"{r['per_second']:8.1f}/s  p50 {r['p50_ms']:7.1f} ms  p95 {r['p95_ms']:7.1f} ms  "
          f"p99 {r['p99_ms']:7.1f} ms  max {r['max_ms']:7.1f} ms  errors {r['errors'] or 0}", flush=True)
    if r.get("portal_rss_mib"):
        print(f"{'':14}portal RSS {r['portal_rss_mib']['max']} MiB at most, {r['portal_rss_mib']['end']} MiB at the "
              f"end; portal CPU {r['portal_cpu_s']} s, {1000 * r['portal_cpu_s'] / max(1, r['requests']):.1f} ms "
              f"per request ({r.get('backend', 'whoosh')} index)", flush=True)
    if r.get("database_cpu_s") is not None:
        print(f"{'':14}database server CPU {r['database_cpu_s']} s, "
              f"{1000 * r['database_cpu_s'] / max(1, r['requests']):.1f} ms per request", flush=True)
    for kind, k in (r.get("by_kind") or {}).items():
        print(f"{'':14}{kind:8} {k['requests']:7} requests  p50 {k['p50_ms']:7.1f} ms  p95 {k['p95_ms']:7.1f} ms",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 readers, 10 s per mode")
    ap.add_argument("--readers", type=int, default=200)
    ap.add_argument("--fanout-readers", type=int, default=20, help="readers in the fanout mode (default 20)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--max-requests", type=int, default=200_000, help="stop a mode after this many requests")
    ap.add_argument("--only", help="modes, comma-separated: " + ", ".join(MODES))
    ap.add_argument("--holdings", type=int, default=1_000_000, help="holdings in the generated union index")
    ap.add_argument("--index", metavar="URL", help="serve the generated index from this PostgreSQL database "
                    "(an empty one is loaded once; default: the whoosh folder)")
    ap.add_argument("--index-replica", metavar="URL", action="append", help="balis serve --index-replica URL")
    ap.add_argument("--index-slices", type=int, metavar="N", help="balis serve --index-slices N (default its own)")
    ap.add_argument("--think", type=float, default=10.0, help="mean think time of a reader, seconds (local)")
    ap.add_argument("--workers", type=int, default=1, help="balis serve --workers N (local modes)")
    ap.add_argument("--warmup", type=float, default=0.0,
                    help="seconds of the local reader mix with other queries before measuring, not counted "
                         "(a portal that has been serving for a while: popular words' bit sets cached)")
    ap.add_argument("--queries", type=int, default=2000, help="distinct reader queries (local modes)")
    args = ap.parse_args()
    if args.quick:
        args.readers, args.fanout_readers, args.seconds, args.holdings = 20, 5, 10.0, 50_000
    modes = args.only.split(",") if args.only else list(MODES)
    unknown = set(modes) - set(MODES)
    if unknown:
        raise SystemExit(f"unknown mode(s) {', '.join(sorted(unknown))}; choose from {', '.join(MODES)}")
    load_before = os.getloadavg()
    results = []
    index_info = None
    if any(m in LOCAL_MODES for m in modes):
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from local_search import make_queries

        if args.index:  # a PostgreSQL database: loaded once with the same generated editions
            index_info = database_index(args.index, args.holdings)
            folder = args.index
        else:
            folder, index_info = local_index(args.holdings)
        samples = [s for s in index_info.pop("samples") if s["authors"]]  # author queries need a name
        queries = make_queries(samples, args.queries, seed=23)
        print(f"union index: {index_info['editions']:,} editions, {index_info['holdings']:,} holdings, "
              f"{index_info['mib']} MiB; {len(queries)} reader queries; {args.workers} worker(s)", flush=True)
        replicas = [x for r in args.index_replica or [] for x in ("--index-replica", r)]
        if args.index_slices is not None:
            replicas += ["--index-slices", str(args.index_slices)]
        proc, base = start_portal(None, "--index", str(folder), "--workers", str(args.workers), *replicas)
        memory = Rss(proc.pid)
        memory.start()
        memory.cpu_since()  # not the start-up's
        server = database_server(args.index) if args.index else None  # its CPU, when it runs on this machine
        try:
            if args.warmup > 0:  # other queries than the measured ones (their words overlap, as readers' do)
                other = make_queries(samples, args.queries, seed=97)
                w = asyncio.run(run_local(base, "local", args.readers, args.warmup, args.think, other,
                                          args.max_requests, seed=5))
                print(f"warm-up (not counted): {w['requests']} requests in {args.warmup:g} s with other queries",
                      flush=True)
                index_info["warmup"] = {"seconds": args.warmup, "requests": w["requests"], "queries_seed": 97}
            for mode in (m for m in modes if m in LOCAL_MODES):
                r = asyncio.run(run_local(base, mode, args.readers, args.seconds, args.think, queries,
                                          args.max_requests))
                r["workers"] = args.workers
                r["backend"] = index_info.get("backend", "whoosh")
                if args.index:  # what the portal's searchers split a broad search into
                    from indexer.pg.search import default_slices

                    r["index_slices"] = args.index_slices or default_slices()
                r["portal_rss_mib"] = memory.take()  # the portal's processes, most seen during the mode
                r["portal_cpu_s"] = memory.cpu_since()  # the portal's own CPU (not the database server's)
                if server is not None:
                    r["database_cpu_s"] = server.cpu_since()
                results.append(r)
                _print(r)
                if r["errors"]:
                    errors = [line for line in proc.log_path.read_text(errors="replace").splitlines()
                              if " ERROR " in line or line.startswith(("Traceback", "  File", "psycopg", "indexer"))]
                    print("the portal's log says:\n  " + "\n  ".join(errors[-30:]), flush=True)
        finally:
            memory.stop()
            proc.terminate()
            proc.wait(timeout=30)
    modes = [m for m in modes if m not in LOCAL_MODES]
    with tempfile.TemporaryDirectory(prefix="balis-bench-portal-") as tmp:
        if modes:
            bed = Testbed(Path(tmp) / "bed")
            registry = bed.up(members=8, records=300)
            (Path(tmp) / "no-index").mkdir()  # no union index: every search is live
            proc, base = start_portal(registry, "--index", str(Path(tmp) / "no-index"))
            try:
                for mode in modes:
                    readers = args.fanout_readers if mode == "fanout" else args.readers
                    r = asyncio.run(run_mode(base, mode, readers, args.seconds, args.max_requests))
                    results.append(r)
                    _print(r)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
                bed.down()
    doc = {"benchmark": "portal", "quick": args.quick, "machine": {"cpus": os.cpu_count(),
           "python": platform.python_version(), "load_before": [round(x, 2) for x in load_before],
           "load_after": [round(x, 2) for x in os.getloadavg()]}, "index": index_info, "results": results}
    name = "portal-quick" if args.quick else "portal"
    out = ROOT / "benchmarks" / "results" / (f"{name}-postgresql.json" if args.index else f"{name}.json")
    out.parent.mkdir(parents=True, exist_ok=True)  # benchmarks/results is not kept in the repository
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"load average before {doc['machine']['load_before']}, after {doc['machine']['load_after']}; wrote {out}")


if __name__ == "__main__":
    main()
