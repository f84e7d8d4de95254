"""Benchmark of the harvest: harvest + normalise + merge + index throughput over the test bed, then the
incremental re-run after a 1 % change (add / edit / delete) as a ratio of the full run (target ≤ 0.1).

The test bed (default 20 members × 5,000 records, Z39.50, SRU and OAI-PMH members) is built once into a
cache folder and reused. Members are reached directly (not through the fault proxy); the rate limit is off
(`rate=0`); 4 members are harvested at once. Writes benchmarks/results/harvest.json.

With `--backend postgresql` the index and the harvest store are one PostgreSQL database (a private cluster kept
in var/bench/pg-cluster, `benchmarks/pg_cluster.py`, its database emptied before the full run); writes
benchmarks/results/harvest-postgresql.json (target for the re-run after a 1 % change: ≤ 0.05 of the full run).
A large test bed (70 members of 14,286 records: a million) is run in steps: `--full-only` (the first harvest
into an empty index), `--again` (the nightly run when nothing changed) and `--change-only` (the members changed
by 1 %, which re-indexes every member's server first, not timed; then the harvest, as a ratio of the
`--full-only` run). Every result gives the most memory the process held.

    .venv/bin/python benchmarks/harvest.py [--members 20] [--records 5000] [--quick] [--cache DIR]
    .venv/bin/python benchmarks/harvest.py --backend postgresql --members 70 --records 14286 \
        --full-only | --again | --change-only
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import io
import json
import os
import platform
import pstats
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from indexer.harvest import DEFAULT_CONCURRENCY, HarvestOptions, read_processes, run_harvest  # noqa: E402
from members import Registry, load_registry  # noqa: E402
from testbed.bed import Testbed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MARC = "http://www.loc.gov/MARC21/slim"


def direct(registry: Registry, deletions: str | None = None) -> Registry:
    """The registry with Z39.50/SRU endpoints on the members' own Zebra ports (no fault proxy), each member
    finding deletions as `deletions` says (None: as the registry says)."""
    members = []
    for m in registry:
        port = m.extra.get("testbed_direct_port")
        eps = tuple(dataclasses.replace(e, port=port) if e.protocol != "oaipmh" and port else e for e in m.endpoints)
        members.append(dataclasses.replace(m, endpoints=eps, harvest_deletions=deletions or m.harvest_deletions))
    return Registry(registry.path, tuple(members))


def change_one_percent(bed: Testbed, registry: Registry, fraction: float, tag: str, seed: int) -> dict:
    """Add, edit and delete about `fraction` of every member's records (a third each); returns the counts."""
    from lxml import etree

    rng = random.Random(seed)
    counts = {"added": 0, "changed": 0, "deleted": 0}
    for m in registry:
        cat = bed.catalogue(m.code)
        ids = list(cat)
        n = max(3, round(len(ids) * fraction))
        third = n // 3
        # edits go to records whose title every member charset can carry (an Arabic title at a GBK member
        # is sent without it, so an edit of it would not reach the harvest at all)
        titles = {rid: _title(etree.fromstring(x)) for rid, x in cat.items()}
        editable = [rid for rid, t in titles.items() if t is not None and _portable(t.text or "")]
        edit = rng.sample(editable, third)
        rest = [rid for rid in ids if rid not in set(edit)]
        picked = rng.sample(rest, n - third)
        gone, templates = picked[:third], picked[third:]
        edits, adds = [], []
        for rid in edit:
            root = etree.fromstring(cat[rid])
            sf = _title(root)
            sf.text = (sf.text or "") + " (rev.)"
            edits.append(etree.tostring(root, encoding="UTF-8"))
        for i, rid in enumerate(templates):
            root = etree.fromstring(cat[rid])
            for cf in root.iter(f"{{{MARC}}}controlfield"):
                if cf.get("tag") == "001":
                    cf.text = f"{tag}-{m.code}-{i}"
            for df in list(root.iter(f"{{{MARC}}}datafield")):
                if df.get("tag") in ("020", "010"):
                    df.getparent().remove(df)
            adds.append(etree.tostring(root, encoding="UTF-8"))
        bed.change_catalogue(m.code, add=adds, edit=edits, delete=gone)
        counts["added"] += len(adds)
        counts["changed"] += len(edits)
        counts["deleted"] += len(gone)
    return counts


def _title(root):
    for sf in root.iter(f"{{{MARC}}}subfield"):
        if sf.getparent().get("tag") in ("245", "200") and sf.get("code") == "a":
            return sf
    return None


def _portable(text: str) -> bool:
    from records.fold import is_cjk

    return text.isascii() or (is_cjk(text) and all(ord(c) < 0x3000 or 0x4E00 <= ord(c) <= 0x9FFF for c in text))


READ_PROCESSES: int | None = None  # --read-processes (None: the harvest's default)
CONCURRENCY = DEFAULT_CONCURRENCY  # --concurrency


def timed_harvest(registry: Registry, index_dir: Path, profile: bool):
    opts = HarvestOptions(rate=0, read_processes=READ_PROCESSES, concurrency=CONCURRENCY)
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    c0 = time.process_time()
    if prof:
        prof.enable()
    result = run_harvest(registry, index_dir, opts)
    if prof:
        prof.disable()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    top = None
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
        top = out.getvalue()
    return result, wall, cpu, top


def change_and_harvest(args, bed: Testbed, registry: Registry, index_dir, full_wall: float, target: float,
                       profile: bool = False):
    """Change every member by `args.change` (not timed), then harvest (timed) and print what it found."""
    t1 = time.perf_counter()
    tag = f"B{int(time.time())}"
    changes = change_one_percent(bed, registry, args.change, tag, args.seed)
    print(f"changed at the members: {changes} (re-indexing the members took {time.perf_counter() - t1:.1f} s, "
          "not timed)")
    incr, incr_wall, incr_cpu, incr_prof = timed_harvest(registry, index_dir, profile)
    assert incr.ok
    got = {k: sum(getattr(r, k) for r in incr.members) for k in ("added", "changed", "deleted")}
    if got != changes:
        print(f"WARNING: the harvest saw {got}, the members were changed by {changes}")
    print(f"incremental run after a {args.change:.0%} change: {incr_wall:.1f} s = {incr_wall / full_wall:.3f} of the "
          f"full run (target ≤ {target}); {incr.index['records_merged']} records re-merged, "
          f"{incr.index['upserted']} editions written, {incr.index['deleted']} removed; index phase "
          f"{incr.index.get('phases')}; peak memory {peak_mib()} MiB")
    modes: dict[str, list[str]] = {}
    for r in incr.members:
        modes.setdefault(f"{r.protocol} {r.mode}", []).append(f"{r.member} {r.seconds:.1f}s")
    for mode, members in sorted(modes.items()):
        print(f"  {mode}: {', '.join(members)}")
    return changes, incr, incr_wall, incr_cpu, got, incr_prof


def peak_mib() -> int:
    """The most memory this process has held (resident), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def write_result(out_path: Path, args, result: dict, load_before: tuple) -> None:
    result = {"backend": args.backend, "members": args.members, "records_per_member": args.records, **result,
              "rate_limit": "off (rate=0)", "concurrency": CONCURRENCY, "peak_memory_mib": peak_mib(),
              "read_processes": read_processes(READ_PROCESSES),
              "load_average_before": [round(x, 2) for x in load_before],
              "load_average_after": [round(x, 2) for x in os.getloadavg()],
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out_path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--records", type=int, default=5000, help="records per member")
    ap.add_argument("--quick", action="store_true", help="4 members × 1,000 records (a smoke run)")
    ap.add_argument("--change", type=float, default=0.01, help="fraction of records changed (default 0.01)")
    ap.add_argument("--seed", type=int, default=20260901)
    ap.add_argument("--cache", help="test bed folder (default var/bench/harvest-MEMBERSxRECORDS)")
    ap.add_argument("--profile", action="store_true", help="print the top of a cProfile of both runs")
    ap.add_argument("--deletions", choices=("prefixes", "scan", "compare"),
                    help="how members with a date search find deletions (default: the registry's harvest_deletions)")
    ap.add_argument("--backend", choices=("whoosh", "postgresql"), default="whoosh",
                    help="the index and harvest store: a folder (whoosh + SQLite) or a PostgreSQL database")
    ap.add_argument("--pg-cluster", type=Path, default=ROOT / "var" / "bench" / "pg-cluster",
                    help="folder of the private PostgreSQL cluster (--backend postgresql)")
    ap.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, metavar="N",
                    help=f"members harvested at once (balis harvest --concurrency; default {DEFAULT_CONCURRENCY})")
    ap.add_argument("--read-processes", type=int, metavar="N",
                    help="processes reading the received records (balis harvest --read-processes; default: its own)")
    steps = ap.add_mutually_exclusive_group()  # one step of a large bed at a time
    steps.add_argument("--full-only", action="store_true",
                    help="only the full run (a large test bed: the 1 %% change re-indexes every member, which takes long)")
    steps.add_argument("--again", action="store_true",
                    help="only harvest again into the index the last run left, nothing changed at the members (the "
                         "nightly run of a quiet day: after --full-only on a large test bed)")
    steps.add_argument("--change-only", action="store_true",
                    help="only change the members by --change and harvest into the index the last run left; the ratio "
                         "is taken against the full run of the last --full-only on this bed")
    ap.add_argument("--out", help="JSON file (default benchmarks/results/harvest[-postgresql][-quick].json; with "
                                  "--full-only, --again or --change-only, "
                                  "harvest[-postgresql]-MEMBERSxRECORDS-full|again|change.json)")
    args = ap.parse_args()
    global READ_PROCESSES, CONCURRENCY
    READ_PROCESSES, CONCURRENCY = args.read_processes, args.concurrency
    if args.quick:
        args.members, args.records = 4, 1000
    cache = Path(args.cache or ROOT / "var" / "bench" / f"harvest-{args.members}x{args.records}")
    suffix = ("-postgresql" if args.backend == "postgresql" else "") + ("-quick" if args.quick else "")
    step = "full" if args.full_only else "again" if args.again else "change" if args.change_only else None
    if step:
        suffix += f"-{args.members}x{args.records}-{step}"
    out_path = Path(args.out or ROOT / "benchmarks" / "results" / f"harvest{suffix}.json")
    with contextlib.ExitStack() as stack:
        database = None
        if args.backend == "postgresql":
            from pg_cluster import cluster

            database = stack.enter_context(cluster(args.pg_cluster, "harvest"))
        run(args, cache, out_path, database)


def run(args, cache: Path, out_path: Path, database: str | None) -> None:
    target = 0.05 if database else 0.1

    bed = Testbed(cache / "bed", seed=args.seed)
    t0 = time.perf_counter()
    bed.up(members=args.members, records=args.records)
    print(f"test bed: {args.members} members × {args.records} records in {cache / 'bed'} "
          f"(up in {time.perf_counter() - t0:.1f} s)")
    try:
        registry = direct(load_registry(bed.registry_path), args.deletions)
        index_dir = database or cache / "index"
        load_before = os.getloadavg()
        if args.again:
            again, again_wall, again_cpu, _ = timed_harvest(registry, index_dir, False)
            assert again.ok, [r.as_dict() for r in again.members if r.status != "ok"]
            records = sum(r.records for r in again.members)
            print(f"harvested again, nothing changed: {again_wall:.1f} s (process CPU {again_cpu:.1f} s; index phase "
                  f"{again.index['mode']}, {again.index['seconds']:.1f} s); peak memory {peak_mib()} MiB")
            write_result(out_path, args, {
                "again": {"seconds": round(again_wall, 2), "cpu_seconds": round(again_cpu, 2), "records": records,
                          "index": again.index},
                "per_member_again": [r.as_dict() for r in again.members]}, load_before)
            return
        if args.change_only:
            full_file = out_path.with_name(out_path.name.replace("-change.json", "-full.json"))
            full_wall = json.loads(full_file.read_text())["full"]["seconds"]
            changes, incr, incr_wall, incr_cpu, got, _ = change_and_harvest(args, bed, registry, index_dir, full_wall,
                                                                            target)
            write_result(out_path, args, {
                "incremental": {"change": changes, "detected": got, "seconds": round(incr_wall, 2),
                                "cpu_seconds": round(incr_cpu, 2), "full_run_seconds": full_wall,
                                "ratio": round(incr_wall / full_wall, 4), "target": target, "index": incr.index},
                "per_member_incremental": [r.as_dict() for r in incr.members]}, load_before)
            return
        if database:
            from pg_cluster import drop_database

            drop_database(database)
        else:
            shutil.rmtree(index_dir, ignore_errors=True)

        full, full_wall, full_cpu, full_prof = timed_harvest(registry, index_dir, args.profile)
        records = sum(r.records for r in full.members)
        assert full.ok, [r.as_dict() for r in full.members if r.status != "ok"]
        print(f"full run: {records} records in {full_wall:.1f} s = {records / full_wall:,.0f} records/s "
              f"(process CPU {full_cpu:.1f} s; index phase {full.index['seconds']:.1f} s, "
              f"{full.index['upserted']} editions); peak memory {peak_mib()} MiB")

        if args.full_only:
            write_result(out_path, args, {
                "records": records,
                "full": {"seconds": round(full_wall, 2), "cpu_seconds": round(full_cpu, 2),
                         "records_per_second": round(records / full_wall, 1), "index": full.index},
                "per_member_full": [r.as_dict() for r in full.members]}, load_before)
            return
        again, again_wall, _, _ = timed_harvest(registry, index_dir, False)
        assert again.index["mode"] == "unchanged"
        print(f"re-run, nothing changed: {again_wall:.1f} s = {again_wall / full_wall:.3f} of the full run")

        changes, incr, incr_wall, incr_cpu, got, incr_prof = change_and_harvest(args, bed, registry, index_dir,
                                                                                full_wall, target, args.profile)
        ratio = incr_wall / full_wall
        for label, prof in (("full", full_prof), ("incremental", incr_prof)):
            if prof:
                print(f"--- profile of the {label} run ---\n{prof}")
        protocols = {}
        for r in full.members:
            protocols[r.protocol] = protocols.get(r.protocol, 0) + 1
        result = {
            "records": records, "protocols": protocols, "deletions": args.deletions or "registry (prefixes)",
            "endpoints": "direct to Zebra (Z39.50/SRU, no fault proxy); OAI-PMH from the test bed's repository server",
            "full": {"seconds": round(full_wall, 2), "cpu_seconds": round(full_cpu, 2),
                     "records_per_second": round(records / full_wall, 1), "index": full.index},
            "unchanged_rerun": {"seconds": round(again_wall, 2), "ratio": round(again_wall / full_wall, 4)},
            "incremental": {"change": changes, "detected": got, "seconds": round(incr_wall, 2), "cpu_seconds": round(incr_cpu, 2),
                            "ratio": round(ratio, 4), "target": target, "index": incr.index},
            "per_member_full": [r.as_dict() for r in full.members],
            "per_member_unchanged_rerun": [r.as_dict() for r in again.members],
            "per_member_incremental": [r.as_dict() for r in incr.members],
        }
        write_result(out_path, args, result, load_before)
    finally:
        bed.down()


if __name__ == "__main__":
    main()
