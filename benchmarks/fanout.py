"""Fan-out: one federated search over 70 test bed members, against each member asked alone.

The test bed (real Zebra servers behind the fault proxy; its own temporary state folder) is started with
N members (default 70) of R records each (default 250, so that the queries below fill most members'
cap of 50 records: about 3,000 records per search). Faults, set before any connection is opened:
two members dead (one refuses connections, one drops the connection half-way through its first answer
after Init), one sends garbage, and every other member gets a latency spread evenly from 20 ms to 2 s
(assigned in a seeded random order).

How the proxy's latency acts (testbed/proxy.py): it is a network round trip added to *every
request/answer turn* on a connection, half each way (a request reaches the member's server half the
latency after the client sent it, the answer reaches the client half the latency after the server sent
it), so the servers work when their requests would arrive over a network, spread over the 2 s, not all at
the first instant. A Z39.50 search on a new connection pays it twice (Init, and Search, whose response
carries the first page), on a kept connection once; an SRU search pays it once per HTTP request. A
member's "own latency" is therefore measured, not computed: the wall time of the same search (same query,
same connection state) by a Federator asking that member alone.

Measured, per repetition: a fresh Federator (cache off, everything else at its defaults) makes
  cold         the first search ("中国"): every connection is opened (Init) in the search, and the Federator
               knows nothing of the members (it asks them in registry order)
  warm         the next search ("研究") on the same Federator: connections kept from the first search
  reconnected  its connections closed (Federator.close()), the first query again: every connection is opened,
               but the Federator has seen the members answer (the portal's case once its connections were idle)
  restarted    a new Federator, given the file of answer times the first one wrote when it closed
               (federator/answer_times.py), the first query again: new connections, nothing in memory, but
               the members asked in the order those times give (a new `balis search`, a restarted portal)
Before reconnected and restarted, the benchmark waits SETTLE_S (2.5 s) after closing the connections, so the
members' Close answers and the teardown of 67 connections in the proxy and the servers are over (a portal's
connections closed while idle were closed long before its next search). The first Federator's file is a
new one each repetition, so cold stays a first search that knows nothing.
And right after, in the same repetition (so both see the same machine load), the candidate members are
each asked alone in the same cold → warm sequence: the members the proxy's latency model puts slowest
(top 4 per state) and fastest (bottom 3), plus the 4 that answered last in the first federated search,
and, every repetition, the members the cold and the warm first merged views were built from.
Throwaway searches of every member come first, with the measured queries among them (module imports
happen once per process, and the members' servers read those queries' index pages from disk once: just
after the test bed starts, the first search of a term took one server 16 s). Wall time = first event
asked for → stream exhausted, the last merged view included.
  1. ratio = wall time ÷ the slowest answering member's own latency (a member's own latency: the
     median of its repetitions; the ratio per repetition, and their median, are reported); target ≤ 1.10.
     Also against the own time, in the same search, of the member that took longest in it (measured by the
     proxy as in 2.): the crowd of servers on the cores slows the slowest member too.
  2. time to the first MergedViewUpdated − the own time, in that same search, of the member whose records
     the first view was built from; target ≤ 50 ms. The member's own time is measured on the member's side
     of the connection, by the fault proxy (testbed/proxy.py, switched on with STATE_DIR/timing.on): over
     the requests of that search on its connection (Z39.50 Init and Search cold, Search warm, Present if
     any; SRU one request), the sum of (answer forwarded to us − request reached the proxy). That charges the
     member its server's time and its injected latency, and charges us everything before, between and after
     its answers (connecting, sending, reading, decoding, merging). In production each member has a
     machine of its own; here 70 Zebra servers, the proxy and the client share the cores, so the member's
     own time in the crowd is longer than alone (both are printed). The earlier figure, first view − the
     fastest member's wall time asked alone, is printed too.
  3. 4 members with no injected latency, 10 queries: complete search time per query, cold (a new
     Federator per query) and warm (one Federator, connections kept); median, min and max over the
     queries of each query's median over the repetitions. For comparison, YAZ's zoomsh (the ZOOM C
     API's multi-target shell: all connections searched at once) runs the same queries against the
     same 4 members through the same proxy, fetching up to 50 records from each as MARCXML; a new
     process and new connections each time, so it compares with "cold".

With --members-nice N (1-19) the members' Zebra servers run at that CPU priority (set on each server's
session, which Linux schedules as a group, and on the process), and the client and the proxy at the usual
one: the servers get the CPU the client and the proxy leave, the nearest this machine comes to members with
machines of their own. The JSON file is then fanout-members-nice.json.

With --client-cpu N the benchmark runs on CPU N only and the test bed's servers and proxy on the others,
as if the members had machines of their own (the proxy then shares its CPU with the 70 servers).

Prints the figures and writes benchmarks/results/fanout.json (fanout-quick.json with --quick; with
--client-cpu, fanout-client-cpu.json; with --members-nice, fanout-members-nice.json).
Usage: python benchmarks/fanout.py [--quick] [--members N] [--records N] [--reps N] [--client-cpu N]
                                   [--members-nice N] [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.query import parse, to_rpn  # noqa: E402
from connectors.rpn import pqf  # noqa: E402
from federator.fanout import MemberFailed, MemberFinished, MergedViewUpdated, RecordsArrived  # noqa: E402
from federator.federation import Federator  # noqa: E402
from members import load_registry  # noqa: E402
from testbed.bed import Testbed  # noqa: E402
from testbed.proxy import TIMING_FILE, TIMING_ON, answers, read_timing  # noqa: E402

SEED = 31415  # not the tests' seed
COLD_QUERY, WARM_QUERY = "中国", "研究"
# cold: a new Federator (nothing known of the members); warm: its connections kept; reconnected: the same Federator
# with its connections closed (as the portal's after they were idle: it has seen the members answer); restarted: a
# new Federator that reads the members' answer times the first one kept in its file (a new `balis search`, a
# portal restarted)
STATES = ("cold", "warm", "reconnected", "restarted")
ALONE = {"cold": "cold", "warm": "warm", "reconnected": "cold", "restarted": "cold"}  # alone, same connection state
FOUR = ("THU", "PKU", "RUC", "BUAA")  # Z39.50 members: MARC21/UTF-8, CNMARC/UTF-8, CNMARC/GBK, MARC21/MARC-8
FOUR_QUERIES = ("中国", "研究", "经济", "教程", "管理", "发展报告", "理论与实践", "history", "计算机", "北京")
MIN_MS, MAX_MS = 20, 2000
# seconds between closing a Federator's connections and the next search: the slowest member's Close answer,
# and the proxy's and the servers' teardown of 67 connections, are over (a portal's connections closed while
# idle were closed long before its next search)
SETTLE_S = MAX_MS / 1000 + 0.5
TARGET_RATIO, TARGET_FIRST_MS = 1.10, 50.0


def uptime() -> str:
    try:
        load = Path("/proc/loadavg").read_text().split()[:3]
        return "load average " + ", ".join(load)
    except OSError:
        return "load average unknown"


def machine_cpu() -> tuple[float, float]:
    """The machine's CPU time so far, all cores (busy, idle), in seconds, from /proc/stat (10 ms ticks)."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan"), float("nan")
    hz = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / hz, idle / hz


def full_collection_ms() -> float:
    """How long one full cyclic garbage collection takes in this process, the product's modules loaded (a
    pause of the event loop whenever Python decides to run one)."""
    import gc

    import records.normalise  # noqa: F401  (what a search loads: the folding and pinyin tables)
    from balis.process import settle

    settle()  # as `balis search` and `balis serve` do before their work
    gc.collect()
    t = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - t) * 1000


def new_federator(members, **options) -> Federator:
    """A Federator with the cache off; options the Federator does not know are left out (older code)."""
    known = inspect.signature(Federator).parameters
    return Federator(members, cache_ttl=0, **{k: v for k, v in options.items() if k in known})


async def timed(fed: Federator, query, **options) -> dict:
    """One complete search: wall time, first merged view, when each member's records arrived, outcomes.
    Times are seconds since `started` (time.monotonic(), the clock the proxy's timing rows use)."""
    machine0, cpu0 = machine_cpu(), time.process_time()
    started = time.monotonic()
    first_view = None
    first_members: tuple[str, ...] = ()
    cpu: dict = {}
    views = records = works = 0
    arrivals: dict[str, float] = {}
    outcomes: dict[str, dict] = {}
    async for event in fed.stream(query, **options):
        now = time.monotonic() - started
        if isinstance(event, MergedViewUpdated):
            views += 1
            works = len(event.works)
            if first_view is None:
                first_view, first_members = now, event.members
                # CPU used until the first view: our process (every thread), and the whole machine
                machine1 = machine_cpu()
                cpu = {"ours_s": time.process_time() - cpu0, "machine_busy_s": machine1[0] - machine0[0],
                       "machine_idle_s": machine1[1] - machine0[1]}
        elif isinstance(event, RecordsArrived):
            arrivals[event.member] = now
            records += len(event.records)
        elif isinstance(event, MemberFinished | MemberFailed):
            o = event.outcome
            outcomes[o.code] = {"status": o.status, "reason": o.reason, "protocol": o.protocol, "hits": o.hits,
                                "records": len(o.records), "error": o.error}
    # the member the first view was built from: of the members in it, the first whose records arrived
    first_member = min(first_members, key=lambda c: arrivals.get(c, float("inf")), default=None)
    return {"wall": time.monotonic() - started, "first_view": first_view, "views": views, "records": records,
            "works": works, "arrivals": arrivals, "outcomes": outcomes, "started": started,
            "first_member": first_member, "cpu_to_first_view": cpu}


def member_time(turns: list[dict], code: str, r: dict) -> dict | None:
    """A member's own time in one search `r` (a `timed` result), from the proxy's timing rows folded by
    testbed.proxy.answers: the turns on its connection whose requests reached the proxy between the start of
    the search and its records' arrival. own = Σ (answer forwarded − request reached the proxy); the rest
    of the time to its arrival is ours: before its first request, between its answers, after its last."""
    if code not in r["arrivals"]:
        return None
    start, arrived = r["started"], r["started"] + r["arrivals"][code]
    mine = [a for a in turns if a["code"] == code and start <= a["request"] <= arrived]
    if not mine:
        return None
    conn = (mine[-1]["pid"], mine[-1]["conn"])  # the connection its last request of the search went on
    mine = [a for a in mine if (a["pid"], a["conn"]) == conn]
    own = sum(a["own"] for a in mine)
    return {"own_s": own, "turns": len(mine), "new_connection": mine[0]["turn"] == 1,
            "member_turns_ms": [round(a["own"] * 1000, 1) for a in mine],
            # the member's server alone: from the request forwarded to it to its answer reaching the proxy
            "server_ms": [round((a["answer"] - a["delivered"]) * 1000, 1) for a in mine],
            "before_first_request_ms": (mine[0]["request"] - start) * 1000,
            # of ours: how long the requests had waited in the proxy's socket before it read them (the proxy's
            # delay, in kernel ticks), so not ours
            "proxy_read_lag_ms": sum(a.get("queued_ms") or 0 for a in mine),
            "between_answers_ms": sum(b["request"] - a["sent"] for a, b in pairwise(mine)) * 1000,
            "last_answer_to_arrival_ms": (arrived - mine[-1]["sent"]) * 1000}


def assign_faults(bed: Testbed, codes: list[str], rng: random.Random, protected: tuple[str, ...]) -> dict:
    """Two dead members, one sending garbage, the rest latencies spread evenly from MIN_MS to MAX_MS."""
    bed.clear_faults()
    bad = rng.sample([c for c in codes if c not in protected], 3)
    modes = dict(zip(bad, ("refuse", "drop", "garbage"), strict=True))
    answering = [c for c in codes if c not in modes]
    rng.shuffle(answering)
    n = len(answering)
    latency = {c: round(MIN_MS + i * (MAX_MS - MIN_MS) / max(n - 1, 1)) for i, c in enumerate(answering)}
    for code, mode in modes.items():
        bed.set_fault(code, mode=mode)
    for code, ms in latency.items():
        bed.set_fault(code, latency_ms=ms)
    return {"modes": modes, "latency_ms": latency}


def model_ms(latency_ms: int, protocol: str, state: str) -> int:
    """The proxy's latency model: answers a search waits for (Z39.50, records in the Search response: Init +
    Search cold, Search warm; SRU: one request)."""
    if protocol == "sru":
        return latency_ms
    return latency_ms * (2 if ALONE[state] == "cold" else 1)


async def one_federated(registry, rep: int, times_dir: Path) -> dict:
    """A fresh Federator: the cold search, the warm one, then its connections closed and the cold query again;
    then a new Federator reading the answer times the first one kept, the cold query once more."""
    times = times_dir / f"answer-times-{rep + 1}.json"
    times.unlink(missing_ok=True)  # a new file (not an earlier run's): the first Federator knows nothing
    fed = new_federator(registry, answer_times=times)
    try:
        cold = await timed(fed, parse(COLD_QUERY))
        warm = await timed(fed, parse(WARM_QUERY))
        await fed.close()  # closes the connections; the Federator stays usable and keeps what it learnt
        await asyncio.sleep(SETTLE_S)
        reconnected = await timed(fed, parse(COLD_QUERY))
    finally:
        await fed.close()  # and writes the answer times
    await asyncio.sleep(SETTLE_S)
    fed = new_federator(registry, answer_times=times)
    try:
        restarted = await timed(fed, parse(COLD_QUERY))
    finally:
        await fed.close()
    print(f"  rep {rep + 1}: cold {cold['wall']:.3f} s (first view {cold['first_view']:.3f} s, "
          f"{cold['views']} views, {cold['records']} records → {cold['works']} works); "
          f"warm {warm['wall']:.3f} s (first view {warm['first_view']:.3f} s, {warm['views']} views); "
          f"reconnected {reconnected['wall']:.3f} s (first view {reconnected['first_view']:.3f} s); "
          f"restarted {restarted['wall']:.3f} s (first view {restarted['first_view']:.3f} s)", flush=True)
    return {"cold": cold, "warm": warm, "reconnected": reconnected, "restarted": restarted}


async def alone_runs(registry, code: str) -> dict:
    """One member asked alone by a fresh Federator, cold then warm: the two `timed` results."""
    fed = new_federator([registry.get(code)])
    try:
        cold = await timed(fed, parse(COLD_QUERY))
        warm = await timed(fed, parse(WARM_QUERY))
    finally:
        await fed.close()
    for r in (cold, warm):
        assert r["outcomes"][code]["status"] == "ok", r["outcomes"][code]
    return {"cold": cold, "warm": warm}


async def one_alone(registry, code: str) -> dict:
    """One member asked alone by a fresh Federator, cold then warm: wall times."""
    runs = await alone_runs(registry, code)
    return {"cold": runs["cold"]["wall"], "warm": runs["warm"]["wall"]}


async def four_members(registry, reps: int) -> dict:
    members = [registry.get(c) for c in FOUR]
    cold: dict[str, list[float]] = {q: [] for q in FOUR_QUERIES}
    warm: dict[str, list[float]] = {q: [] for q in FOUR_QUERIES}
    records: dict[str, int] = {}
    for _ in range(reps):
        for q in FOUR_QUERIES:
            fed = new_federator(members)
            try:
                r = await timed(fed, parse(q))
            finally:
                await fed.close()
            bad = {c: o["error"] for c, o in r["outcomes"].items() if o["status"] != "ok"}
            assert not bad, bad
            cold[q].append(r["wall"])
            records[q] = r["records"]
        fed = new_federator(members)
        try:
            await timed(fed, parse("大学"))  # opens the connections
            for q in FOUR_QUERIES:
                warm[q].append((await timed(fed, parse(q)))["wall"])
        finally:
            await fed.close()

    def summary(times: dict[str, list[float]]) -> dict:
        per_query = {q: round(statistics.median(t) * 1000, 1) for q, t in times.items()}
        values = list(per_query.values())
        return {"median_ms": round(statistics.median(values), 1), "min_ms": min(values), "max_ms": max(values),
                "per_query_ms": per_query}

    out = {"members": list(FOUR), "queries": list(FOUR_QUERIES), "records_per_query": records,
           "cold": summary(cold), "warm": summary(warm)}
    if shutil.which("zoomsh"):
        zoom: dict[str, list[float]] = {q: [] for q in FOUR_QUERIES}
        zoom_records: dict[str, int] = {}
        for _ in range(reps):
            for q in FOUR_QUERIES:
                zoom[q].append(await asyncio.to_thread(zoomsh, members, q, zoom_records))
        out["zoomsh"] = summary(zoom)
        out["zoomsh_records_per_query"] = zoom_records
    else:
        out["zoomsh"] = "zoomsh not found (Debian package yaz): not compared"
    return out


def zoomsh(members, query: str, records: dict[str, int]) -> float:
    """YAZ zoomsh searching the members at once and fetching up to 50 records of each: wall seconds."""
    args = ["zoomsh", "set charset UTF-8"]
    for m in members:
        e = m.endpoint("z3950")
        args.append(f"connect {e.host}:{e.port}/{e.database}")
    args += [f"search {pqf(to_rpn(parse(query)))}", "show 0 50", "quit"]
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, check=True)
    seconds = time.perf_counter() - started
    records[query] = done.stdout.count(b"<record")
    return seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="16 members, 120 records, 1 repetition")
    ap.add_argument("--members", type=int, default=None, help="test bed members (default 70)")
    ap.add_argument("--records", type=int, default=None, help="records per member (default 250)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 5)")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--client-cpu", type=int, default=None, metavar="N",
                    help="run this benchmark (the client) on CPU N only, and the test bed's servers and proxy on the "
                         "other CPUs, as if the members had machines of their own (writes fanout-client-cpu.json)")
    ap.add_argument("--members-nice", type=int, default=None, metavar="N",
                    help="run the members' Zebra servers at CPU priority N (1-19: lower than the client's and the "
                         "proxy's), as if they had machines of their own (writes fanout-members-nice.json)")
    ap.add_argument("--state-dir", type=Path, default=None,
                    help="test bed folder to build in or reuse (default: a temporary one, removed after)")
    args = ap.parse_args(argv)
    members = args.members or (16 if args.quick else 70)
    records = args.records or (120 if args.quick else 250)
    reps = args.reps or (1 if args.quick else 5)
    if not 5 <= members <= 70:
        ap.error("--members must be between 5 and 70")
    cpus = os.sched_getaffinity(0)
    if args.client_cpu is not None and (args.client_cpu not in cpus or len(cpus) < 2):
        ap.error(f"--client-cpu must be one of the CPUs {sorted(cpus)}, and there must be at least two")
    if args.members_nice is not None and not 1 <= args.members_nice <= 19:
        ap.error("--members-nice must be between 1 and 19")
    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="balis-fanout-"))
    load_before = uptime()
    print(f"fan-out benchmark: {members} members × {records} records, {reps} repetitions; {load_before}; "
          f"{os.cpu_count()} cores", flush=True)
    full_gc_ms = full_collection_ms()
    print(f"one full garbage collection with the product's modules loaded: {full_gc_ms:.1f} ms "
          "(balis/process.py's settle() keeps pypinyin's tables out of it)", flush=True)
    bed = Testbed(state_dir, args.seed)
    t = time.perf_counter()
    bed.up(members=members, records=records)
    print(f"test bed up in {time.perf_counter() - t:.1f} s ({state_dir})", flush=True)
    pinned = pin(bed, args.client_cpu, cpus) if args.client_cpu is not None else []
    niced = lower_members(bed, args.members_nice) if args.members_nice is not None else []
    try:
        result = asyncio.run(run(bed, members, records, reps, random.Random(args.seed)))
    finally:
        for pid in pinned:  # the test bed's processes may run anywhere again
            try:
                os.sched_setaffinity(pid, cpus)
            except OSError:
                pass
        lower_members(bed, 0, niced)  # a kept test bed runs at the usual priority again
        bed.clear_faults()
        if args.state_dir is None:
            bed.down()
            shutil.rmtree(state_dir, ignore_errors=True)
    result.update({"load_before": load_before, "load_after": uptime(), "cpus": os.cpu_count(),
                   "python": platform.python_version(), "command": "python benchmarks/fanout.py "
                   + " ".join(argv if argv is not None else sys.argv[1:])})
    result["full_gc_ms"] = round(full_gc_ms, 1)
    result["client_cpu"] = args.client_cpu
    result["members_nice"] = args.members_nice
    name = "fanout-quick" if args.quick else "fanout"
    name += "-client-cpu" if args.client_cpu is not None else ""
    name += "-members-nice" if args.members_nice is not None else ""
    out = ROOT / "benchmarks" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    print(f"written {out.relative_to(ROOT)}; {result['load_after']}")
    return 0


def _ms(member: dict | None) -> str:
    return "?" if member is None else f"{member['own_s'] * 1000:.0f}"


def _timing_size(bed: Testbed) -> int:
    try:
        return (bed.state_dir / TIMING_FILE).stat().st_size
    except FileNotFoundError:
        return 0


async def federated_runs(bed: Testbed, registry, reps: int, latency: dict[str, int]):
    """Per repetition: the federated cold and warm searches, then the candidates and the first views' members
    alone; each search's first member gets its own time from the proxy's timing rows."""
    runs: list[dict] = []
    own: list[dict[str, dict]] = []  # per repetition: member → own latency (cold, warm)
    slow: set[str] = set()
    fast: set[str] = set()
    for rep in range(reps):
        offset = _timing_size(bed)
        run = await one_federated(registry, rep, bed.state_dir)
        runs.append(run)
        if rep == 0:  # members to time alone: slowest and fastest by the proxy's model, and the last to answer
            answering = {c for c, o in run["cold"]["outcomes"].items() if o["status"] == "ok"}
            protocol = {c: o["protocol"] for c, o in run["cold"]["outcomes"].items()}
            for state in STATES:
                ranked = sorted(answering, key=lambda c: model_ms(latency[c], protocol[c], state))
                fast.update(ranked[:3])
                slow.update(ranked[-4:])
                arrivals = run[state]["arrivals"]
                slow.update(sorted(arrivals, key=arrivals.get)[-4:])
            print(f"  alone: slowest candidates {', '.join(sorted(slow))}; fastest {', '.join(sorted(fast))}",
                  flush=True)
        own.append({c: await one_alone(registry, c) for c in sorted(slow | fast)})
        # the members the first views were built from, asked alone too (their own time alone, by the proxy)
        firsts = sorted({run[s]["first_member"] for s in STATES} - {None})
        first_alone = {c: await alone_runs(registry, c) for c in firsts}
        rows, _ = read_timing(bed.state_dir, offset)  # this repetition's rows; the windows below split them
        turns = answers(rows)
        for state in STATES:
            r = run[state]
            code = r["first_member"]
            r["member"] = member_time(turns, code, r) if code else None
            r["member_alone"] = member_time(turns, code, first_alone[code][ALONE[state]]) if code else None
            r["member_alone_wall"] = first_alone[code][ALONE[state]]["wall"] if code else None
            r["member_alone_first_view"] = first_alone[code][ALONE[state]]["first_view"] if code else None
            if r["member"] is None:
                print(f"  rep {rep + 1} {state}: no timing rows from the proxy for {code}", flush=True)
            # the member that took longest in this search by its own time (proxy): what the wall time waits for
            own_times = {c: member_time(turns, c, r) for c, o in r["outcomes"].items() if o["status"] == "ok"}
            own_times = {c: t for c, t in own_times.items() if t is not None}
            if own_times:
                last = max(own_times, key=lambda c: own_times[c]["own_s"])
                r["slowest_in_search"] = {"code": last, "own_s": own_times[last]["own_s"],
                                          "arrival_s": r["arrivals"][last],
                                          "before_first_request_ms": own_times[last]["before_first_request_ms"],
                                          "last_answer_to_arrival_ms": own_times[last]["last_answer_to_arrival_ms"]}
        print("  first view from " + "; ".join(
            f"{s} {run[s]['first_member']}: own time in the search "
            f"{_ms(run[s]['member'])} ms, alone {_ms(run[s]['member_alone'])} ms" for s in STATES),
            flush=True)
    return runs, own, slow, fast


def first_member_figures(r: dict) -> dict:
    """Per search: the member the first view was built from, its own time in the search and alone (proxy),
    and where the rest of the time to the first view went (ours)."""
    m, alone = r.get("member"), r.get("member_alone")
    out = {"first_member": r.get("first_member"), "first_view_minus_member_own_ms": None}
    if m is None:
        return out
    arrival = r["arrivals"][r["first_member"]]
    out.update({
        "first_view_minus_member_own_ms": round((r["first_view"] - m["own_s"]) * 1000, 1),
        "member_own_ms": round(m["own_s"] * 1000, 1), "member_turns": m["turns"],
        "member_new_connection": m["new_connection"], "member_turns_ms": m["member_turns_ms"],
        "member_server_ms": m["server_ms"],
        "member_alone_own_ms": round(alone["own_s"] * 1000, 1) if alone else None,
        "member_alone_wall_ms": round(r["member_alone_wall"] * 1000, 1),
        # the same figure with the member asked alone: our part without 66 other members on the machine
        "alone_first_view_minus_member_own_ms": round((r["member_alone_first_view"] - alone["own_s"]) * 1000, 1)
        if alone else None,
        "ours_before_first_request_ms": round(m["before_first_request_ms"], 1),
        "proxy_read_lag_ms": m["proxy_read_lag_ms"],
        "first_view_minus_member_own_less_proxy_lag_ms": round((r["first_view"] - m["own_s"]) * 1000
                                                               - m["proxy_read_lag_ms"], 1),
        "ours_between_answers_ms": round(m["between_answers_ms"], 1),
        "ours_last_answer_to_first_view_ms": round(m["last_answer_to_arrival_ms"]
                                                   + (r["first_view"] - arrival) * 1000, 1),
        "ours_arrival_to_first_view_ms": round((r["first_view"] - arrival) * 1000, 1),
    })
    cpu = r.get("cpu_to_first_view") or {}
    if cpu:
        out.update({"cpu_ours_to_first_view_ms": round(cpu["ours_s"] * 1000, 1),
                    "cpu_machine_busy_to_first_view_ms": round(cpu["machine_busy_s"] * 1000),
                    "cpu_machine_idle_to_first_view_ms": round(cpu["machine_idle_s"] * 1000)})
    return out


def pin(bed: Testbed, client_cpu: int, cpus: set[int]) -> list[int]:
    """This process (and the threads and programs it starts from now on) on `client_cpu`; the members' Zebra
    servers and the proxy (and the children they fork from now on) on the other CPUs. The pids moved."""
    others = cpus - {client_cpu}
    pids = [s["pid"] for s in bed.status() if s.get("pid")]
    try:
        pids.append(int((bed.state_dir / "proxy.pid").read_text()))
    except (OSError, ValueError):
        pass
    moved = []
    for pid in pids:
        try:
            os.sched_setaffinity(pid, others)
            moved.append(pid)
        except OSError as exc:
            print(f"could not move process {pid} off CPU {client_cpu}: {exc}", flush=True)
    os.sched_setaffinity(0, {client_cpu})
    print(f"client on CPU {client_cpu}; {len(moved)} test bed processes on CPU {', '.join(map(str, sorted(others)))}",
          flush=True)
    return moved


def lower_members(bed: Testbed, nice: int, pids: list[int] | None = None) -> list[int]:
    """The members' Zebra servers (and the processes they fork per connection from now on) at CPU priority
    `nice`; the proxy and this process keep theirs. The pids changed.

    Each zebrasrv daemon leads a session of its own, and Linux shares the CPU between sessions first
    ("autogroups") and only then between the processes of one session by their nice values. So the nice value
    is set on the daemon's autogroup (/proc/PID/autogroup) where the kernel has them, and on the process too.
    """
    if pids is None:
        pids = [s["pid"] for s in bed.status() if s.get("pid")]
    changed = []
    for pid in pids:
        try:
            os.setpriority(os.PRIO_PROCESS, pid, nice)
        except OSError as exc:
            print(f"could not set the priority of process {pid}: {exc}", flush=True)
            continue
        try:
            Path(f"/proc/{pid}/autogroup").write_text(f"{nice}\n")
        except OSError:
            pass  # no autogroups in this kernel: the process's nice value is what counts
        changed.append(pid)
    if nice:
        print(f"{len(changed)} member servers at nice {nice} (the proxy and the client at "
              f"{os.getpriority(os.PRIO_PROCESS, 0)})", flush=True)
    return changed


async def run(bed: Testbed, members: int, records: int, reps: int, rng: random.Random) -> dict:
    registry = load_registry(bed.registry_path)
    codes = [m.code for m in registry]
    bed.clear_faults()
    fed = new_federator(registry)  # once per process: module imports, the members' disk caches
    try:
        for query in ("大学", COLD_QUERY, WARM_QUERY):  # the measured queries' terms read from disk once
            await timed(fed, parse(query))
    finally:
        await fed.close()
    faults = assign_faults(bed, codes, rng, FOUR)
    latency = faults["latency_ms"]
    print(f"dead: {', '.join(f'{c} ({m})' for c, m in faults['modes'].items())}; latencies {MIN_MS}–{MAX_MS} ms "
          f"over {len(latency)} members", flush=True)

    print("federated search (all members), then the candidates alone, per repetition:", flush=True)
    timing_on = bed.state_dir / TIMING_ON  # the proxy times each new connection's turns from now on
    timing_on.touch()
    try:
        runs, own, slow, fast = await federated_runs(bed, registry, reps, latency)
    finally:
        timing_on.unlink(missing_ok=True)
    answered = {c for r in runs for s in STATES for c, o in r[s]["outcomes"].items() if o["status"] == "ok"}
    failed = sorted({c for r in runs for s in STATES for c, o in r[s]["outcomes"].items()
                     if o["status"] != "ok"})

    def med(values) -> float:
        return round(statistics.median(values), 3)

    figures = {}
    for state in STATES:
        # a member's own latency: the median of its repetitions (one noisy repetition must not pick the slowest)
        mine = {c: statistics.median(times[c][ALONE[state]] for times in own) for c in slow | fast}
        slowest = max(slow & answered, key=mine.get)
        fastest = min(fast & answered, key=mine.get)
        per_rep = []
        for run in runs:
            r = run[state]
            per_rep.append({
                "wall_s": round(r["wall"], 3), "ratio": round(r["wall"] / mine[slowest], 3),
                "first_view_s": round(r["first_view"], 3),
                "first_view_minus_fastest_ms": round((r["first_view"] - mine[fastest]) * 1000, 1),
                # where the time goes: the fastest member's answer in the crowd, our first merge, the last merge
                "fastest_arrival_s": round(r["arrivals"].get(fastest, float("nan")), 3),
                "first_view_minus_first_arrival_ms": round((r["first_view"] - min(r["arrivals"].values())) * 1000, 1),
                "wall_minus_last_arrival_ms": round((r["wall"] - max(r["arrivals"].values())) * 1000, 1),
                "views": r["views"], "records": r["records"], "works": r["works"],
            })
            per_rep[-1].update(first_member_figures(r))
            last = r.get("slowest_in_search")
            if last is not None:
                per_rep[-1].update({
                    "slowest_in_search": last["code"], "slowest_in_search_own_s": round(last["own_s"], 3),
                    "ratio_in_search": round(r["wall"] / last["own_s"], 3),
                    "slowest_in_search_before_request_ms": round(last["before_first_request_ms"], 1),
                    "slowest_in_search_answer_to_arrival_ms": round(last["last_answer_to_arrival_ms"], 1)})
        f = {"query": WARM_QUERY if state == "warm" else COLD_QUERY, "repetitions": per_rep}
        f.update({"slowest_member": slowest, "slowest_latency_ms": latency[slowest],
                  "slowest_own_s": round(mine[slowest], 3), "fastest_member": fastest,
                  "fastest_latency_ms": latency[fastest], "fastest_own_s": round(mine[fastest], 3)})
        for key in ("wall_s", "ratio", "first_view_s", "first_view_minus_fastest_ms", "fastest_arrival_s",
                    "first_view_minus_first_arrival_ms", "wall_minus_last_arrival_ms", "views", "records", "works"):
            f[key + "_median"] = med([p[key] for p in per_rep])
        f["ratio_min"], f["ratio_max"] = min(p["ratio"] for p in per_rep), max(p["ratio"] for p in per_rep)
        in_search = [p for p in per_rep if "ratio_in_search" in p]
        if in_search:
            for key in ("ratio_in_search", "slowest_in_search_own_s", "slowest_in_search_before_request_ms",
                        "slowest_in_search_answer_to_arrival_ms"):
                values = [p[key] for p in in_search]
                f[key + "_median"] = med(values)
                f[key + "_min"], f[key + "_max"] = min(values), max(values)
            f["slowest_in_search"] = sorted({p["slowest_in_search"] for p in in_search})
        deltas = [p["first_view_minus_fastest_ms"] for p in per_rep]
        f["first_view_minus_fastest_ms_min"], f["first_view_minus_fastest_ms_max"] = min(deltas), max(deltas)
        timed_reps = [p for p in per_rep if p.get("first_view_minus_member_own_ms") is not None]
        f["first_members"] = sorted({p["first_member"] for p in timed_reps})
        f["timed_repetitions"] = len(timed_reps)
        if timed_reps:
            for key in ("first_view_minus_member_own_ms", "member_own_ms", "member_alone_own_ms",
                        "member_alone_wall_ms", "alone_first_view_minus_member_own_ms",
                        "ours_before_first_request_ms", "ours_between_answers_ms",
                        "ours_last_answer_to_first_view_ms", "ours_arrival_to_first_view_ms", "proxy_read_lag_ms",
                        "first_view_minus_member_own_less_proxy_lag_ms",
                        "cpu_ours_to_first_view_ms", "cpu_machine_busy_to_first_view_ms",
                        "cpu_machine_idle_to_first_view_ms"):
                values = [p[key] for p in timed_reps if p.get(key) is not None]
                if values:
                    f[key + "_median"] = round(statistics.median(values), 1)
                    f[key + "_min"], f[key + "_max"] = min(values), max(values)
        figures[state] = f
        print(f"{state}: wall {f['wall_s_median']:.3f} s ÷ slowest member alone {f['slowest_own_s']:.3f} s "
              f"({slowest}, {latency[slowest]} ms per answer) = {f['ratio_median']:.3f} (min {f['ratio_min']:.3f}, "
              f"max {f['ratio_max']:.3f}; target ≤ {TARGET_RATIO}); last merge after the last answer "
              f"{f['wall_minus_last_arrival_ms_median']:.0f} ms")
        if in_search:
            print(f"{state}: wall ÷ the slowest member's own time in the same search (proxy; "
                  f"{', '.join(f['slowest_in_search'])}: {f['slowest_in_search_own_s_median']:.3f} s) = "
                  f"{f['ratio_in_search_median']:.3f} (min {f['ratio_in_search_min']:.3f}, "
                  f"max {f['ratio_in_search_max']:.3f}; target ≤ {TARGET_RATIO}): ours before its first request "
                  f"{f['slowest_in_search_before_request_ms_median']:.0f} ms, its last answer → its records "
                  f"{f['slowest_in_search_answer_to_arrival_ms_median']:.0f} ms, then the last merge")
        print(f"{state}: first merged view − fastest member alone ({fastest}, "
              f"{f['fastest_own_s'] * 1000:.0f} ms) = {f['first_view_minus_fastest_ms_median']:.1f} ms "
              f"(min {f['first_view_minus_fastest_ms_min']:.1f}, max {f['first_view_minus_fastest_ms_max']:.1f}; "
              f"target ≤ {TARGET_FIRST_MS:g} ms); first view − first answer "
              f"{f['first_view_minus_first_arrival_ms_median']:.1f} ms; {f['views_median']:g} merged views for "
              f"{f['records_median']:g} records")
        if not timed_reps:
            print(f"{state}: no timing rows from the proxy: first view − member's own time not measured (a proxy "
                  f"started by older code? stop the bed with `python -m testbed --dir {bed.state_dir} down`)")
            continue
        print(f"{state}: first merged view − own time in the search of the member it was built from "
              f"({', '.join(f['first_members'])}) = {f['first_view_minus_member_own_ms_median']:.1f} ms "
              f"(min {f['first_view_minus_member_own_ms_min']:.1f}, max {f['first_view_minus_member_own_ms_max']:.1f};"
              f" {len(timed_reps)} repetitions; target ≤ {TARGET_FIRST_MS:g} ms): ours before its first request "
              f"{f['ours_before_first_request_ms_median']:.1f} ms, between its answers "
              f"{f['ours_between_answers_ms_median']:.1f} ms, its last answer → first view "
              f"{f['ours_last_answer_to_first_view_ms_median']:.1f} ms")
        print(f"{state}: of that, its requests waited {f['proxy_read_lag_ms_median']:.0f} ms in the proxy's socket "
              f"before the proxy read them (the test bed's delay); charged to the member instead, the figure is "
              f"{f['first_view_minus_member_own_less_proxy_lag_ms_median']:.1f} ms "
              f"(min {f['first_view_minus_member_own_less_proxy_lag_ms_min']:.1f}, "
              f"max {f['first_view_minus_member_own_less_proxy_lag_ms_max']:.1f})")
        print(f"{state}: that member's own time (proxy): in the search {f['member_own_ms_median']:.0f} ms "
              f"(min {f['member_own_ms_min']:.0f}, max {f['member_own_ms_max']:.0f}), asked alone "
              f"{f['member_alone_own_ms_median']:.0f} ms (min {f['member_alone_own_ms_min']:.0f}, "
              f"max {f['member_alone_own_ms_max']:.0f}); its wall time alone {f['member_alone_wall_ms_median']:.0f} ms")
        if "alone_first_view_minus_member_own_ms_median" in f:
            print(f"{state}: the same figure with that member asked alone: first view − its own time = "
                  f"{f['alone_first_view_minus_member_own_ms_median']:.1f} ms "
                  f"(min {f['alone_first_view_minus_member_own_ms_min']:.1f}, "
                  f"max {f['alone_first_view_minus_member_own_ms_max']:.1f})")
        if "cpu_ours_to_first_view_ms_median" in f:
            print(f"{state}: CPU until the first view ({f['first_view_s_median'] * 1000:.0f} ms × {os.cpu_count()} "
                  f"cores): machine busy {f['cpu_machine_busy_to_first_view_ms_median']:.0f} ms, idle "
                  f"{f['cpu_machine_idle_to_first_view_ms_median']:.0f} ms; our process "
                  f"{f['cpu_ours_to_first_view_ms_median']:.0f} ms, the rest other processes (the members' servers, the "
                  f"proxy, anything else running)")

    print("4 members without injected latency, 10 queries:", flush=True)
    for code in FOUR:
        bed.set_fault(code)
    four = await four_members(registry, reps)
    for state in ("cold", "warm"):
        s = four[state]
        print(f"  {state}: median {s['median_ms']:.1f} ms (min {s['min_ms']:.1f}, max {s['max_ms']:.1f}) "
              f"per complete search")
    if isinstance(four["zoomsh"], dict):
        s = four["zoomsh"]
        print(f"  zoomsh (YAZ, cold): median {s['median_ms']:.1f} ms (min {s['min_ms']:.1f}, max {s['max_ms']:.1f})")
    else:
        print(f"  {four['zoomsh']}")
    return {"seed": bed.seed, "members": members, "records_per_member": records, "repetitions": reps,
            "faults": faults, "failed_members": failed,
            "own_latency_s": [{c: {k: round(v, 3) for k, v in o.items()} for c, o in times.items()} for times in own],
            "federated": figures, "four_members": four,
            "targets": {"ratio": TARGET_RATIO, "first_view_minus_member_own_ms": TARGET_FIRST_MS},
            "member_own_time": "measured by the fault proxy (testbed/proxy.py timing rows): for the member the "
                               "first merged view was built from, over that search's requests on its connection, "
                               "the sum of (answer forwarded to the client − request reached the proxy); the "
                               "earlier figure first_view_minus_fastest_ms subtracts the fastest member's wall "
                               "time asked alone",
            "latency_model": "a round trip per request/answer turn, half before the request reaches the member, "
                             "half before its answer reaches the client: Z39.50 cold = Init+Search (2×, the first "
                             "page comes in the Search response), warm = Search (1×), SRU = 1× per request"}


if __name__ == "__main__":
    raise SystemExit(main())
