"""Benchmark of the harvest's incremental index phase alone (no member I/O): `write_index(full=False)` after a
1 % change applied to a copy of a harvested store, timed run by run, with a breakdown and a cProfile.

The source is the index folder of a harvest benchmark run (`harvest.sqlite` + `whoosh/`, default
var/bench/harvest-20x5000/index: 100,000 records of 20 members). Each run copies it to a work folder, applies
the same synthetic change the way a harvest would (`HarvestStore.apply` with the new and edited records, then
`finish_member` with the deletions), and times `write_index`. Per member, 1 % of its records: a third edited
(three in four get " (rev.)" on the title, the rest a longer extent), a third deleted, the rest added (half
copies of the member's own records under a new 001 without ISBN or LCCN, half copies of another member's
records of an edition the member does not hold yet, so they join it). Records are taken from the store
(the normalised Record the index phase reads); the raw record kept beside an edit is the old one.

    .venv/bin/python benchmarks/index_phase.py [--source DIR] [--runs 3] [--no-profile] [--verify]
                                               [--nights N [--full-every K]]

`--nights N` then runs N nights in a row on one copy (a change and an index phase each); with `--full-every K`
every K-th of them rebuilds the index in full, as the weekly full harvest does.

`--verify` also merges every record of the store (as a full rebuild would) and checks that the index holds
exactly those editions (slow: a minute or more). Writes benchmarks/results/index_phase.json.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dedup.keys import match_keys  # noqa: E402
from dedup.work import index_keys, merge  # noqa: E402
from indexer.harvest import Progress, content_hash, renormaliser, write_index  # noqa: E402
from indexer.schema import dump_work  # noqa: E402
from indexer.store import HarvestStore, Upsert, now_iso  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# functions whose cumulative time the breakdown shows (profiled run): (label, file suffix, function name)
WATCH = [
    ("affected (the part to re-merge)", "indexer/harvest.py", "affected"),
    ("dedup.merge of the part", "dedup/work.py", "merge"),
    ("regroup (other-editions groups)", "indexer/harvest.py", "regroup"),
    ("store.load (records unpickled)", "indexer/store.py", "load"),
    ("dump_work (digests)", "indexer/schema.py", "dump_work"),
    ("LocalIndex.write (whoosh)", "indexer/index.py", "write"),
    ("store.mark_indexed", "indexer/store.py", "mark_indexed"),
]


class PhaseClock(Progress):
    """Times between the index phase's announcements (the part is found, merged, written)."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def phase(self, text: str) -> None:
        self.marks.append((text, time.perf_counter()))


def plan_change(store: HarvestStore, fraction: float, seed: int, tag: str) -> dict[str, tuple[list, list]]:
    """{member: (upserts, deleted record ids)}: the synthetic change, the same for the same store and seed."""
    rng = random.Random(seed)
    rows = store.db.execute(
        "SELECT member, record_id, work_id FROM records ORDER BY member, record_id").fetchall()
    by_member: dict[str, list[str]] = {}
    work_of: dict[tuple[str, str], str | None] = {}
    holders: dict[str | None, set[str]] = {}
    for m, r, w in rows:
        by_member.setdefault(m, []).append(r)
        work_of[(m, r)] = w
        holders.setdefault(w, set()).add(m)
    everyone = sorted(work_of)
    plan: dict[str, tuple[list, list]] = {}
    for m, ids in by_member.items():
        n = max(3, round(len(ids) * fraction))
        third = n // 3
        picked = rng.sample(ids, 2 * third + (n - 2 * third) // 2)
        edit, gone, own = picked[:third], picked[third:2 * third], picked[2 * third:]
        foreign = []
        while len(foreign) < n - 2 * third - len(own):  # another member's record of an edition m lacks
            k = rng.choice(everyone)
            if k[0] != m and m not in holders.get(work_of[k], ()) and k not in foreign:
                foreign.append(k)
        sources = [(m, r) for r in edit + own] + foreign
        loaded = dict(zip(sources, store.load(sources, renormaliser), strict=True))
        raws = {k: store.db.execute("SELECT raw FROM records WHERE member = ? AND record_id = ?",
                                    k).fetchone()[0] for k in sources}
        ups = []
        for i, r in enumerate(edit):
            rec = loaded[(m, r)]
            if i % 4 == 3:
                rec = replace(rec, extent=f"{rec.extent or 'xii, 300 p.'} ; 26 cm + 1 CD-ROM")
            else:
                rec = replace(rec, title=f"{rec.title} (rev.)")
            ups.append(_upsert(rec, raws[(m, r)], f"edit {rec.title} {rec.extent}"))
        for i, k in enumerate([(m, r) for r in own] + foreign):
            src = loaded[k]
            new_id = f"{tag}-{m}-{i}"
            if k[0] == m:
                rec = replace(src, record_id=new_id, isbns=[], lccn=None, holdings=list(src.holdings))
            else:
                rec = replace(src, member=m, record_id=new_id,
                              holdings=[replace(h, member=m, barcode=None) for h in src.holdings])
            ups.append(_upsert(rec, raws[k], f"add {new_id}"))
        plan[m] = (ups, gone)
    return plan


def _upsert(rec, raw: bytes, salt: str) -> Upsert:
    return Upsert(record_id=rec.record_id, hash=content_hash(raw + salt.encode()), raw=raw, syntax=rec.syntax,
                  charset="utf-8", record=rec, keys=index_keys(match_keys(rec)))


def apply_change(store: HarvestStore, plan: dict[str, tuple[list, list]]) -> dict:
    """Write the change as a harvest does: one apply per member (records, ids seen), then finish_member."""
    counts = {"added": 0, "changed": 0, "deleted": 0}
    for m, (ups, gone) in plan.items():
        existing = set(store.known(m)[1])
        counts["changed"] += sum(u.record_id in existing for u in ups)
        counts["added"] += sum(u.record_id not in existing for u in ups)
        counts["deleted"] += len(gone)
        store.apply(m, upserts=ups)
        store.finish_member(m, deletes=gone, status="ok", report={"member": m}, next_from=None)
    return counts


def segments(index_dir: Path) -> int:
    return len(list((index_dir / "whoosh").glob("*.seg")))


def one_run(source: Path, work: Path, args, profile: bool, night: int = 0, full: bool = False) -> dict:
    """Night 0: a fresh copy of the source; night n > 0: the next night's change on the copy as left.
    `full`: the index rebuilt from every stored record (a full harvest's index phase), not incrementally."""
    if night == 0:
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(source, work)
    store = HarvestStore.open(work, create=False)
    try:
        plan = plan_change(store, args.change, args.seed + night, f"IX{night}")
        counts = apply_change(store, plan)
        harvested = {m: now_iso() for m in plan}
        seg_before = segments(work)
        os.sync()  # the copy's dirty pages written out first, as a harvest's own writes are by then
        clock = PhaseClock()
        prof = cProfile.Profile() if profile else None
        c0, t0 = time.process_time(), time.perf_counter()
        if prof:
            prof.enable()
        out = write_index(store, work, full=full, harvested=harvested, progress=clock)
        if prof:
            prof.disable()
        t1, c1 = time.perf_counter(), time.process_time()
    finally:
        store.close()
    marks = [("start", t0), *clock.marks, ("end", t1)]
    phases = {f"{a[0][:2]}→{b[0][:2]}": round(b[1] - a[1], 3)
              for a, b in zip(marks, marks[1:], strict=False)}
    run = {"seconds": round(t1 - t0, 3), "cpu_seconds": round(c1 - c0, 3), "full": full, "change": counts, "index": out,
           "phases": phases, "segments_before": seg_before, "segments_after": segments(work)}
    if prof:
        st = pstats.Stats(prof)
        watched = {}
        for (file, _line, name), (_cc, _nc, _tt, ct, _callers) in st.stats.items():
            for label, suffix, fn in WATCH:
                if name == fn and file.endswith(suffix):
                    watched[label] = round(watched.get(label, 0.0) + ct, 3)
        run["profiled"] = {label: watched.get(label) for label, _, _ in WATCH}
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(30)
        run["profile_cumulative"] = text.getvalue()
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(20)
        run["profile_tottime"] = text.getvalue()
    return run


def verify(work: Path) -> tuple[int, int]:
    """(editions expected, editions differing) between the index and a full merge of every stored record."""
    from whoosh import index as whoosh_index

    store = HarvestStore.open(work, create=False)
    try:
        keys = store.all_keys()
        expected = {w.work_id: json.loads(zlib.decompress(dump_work(w)))
                    for w in merge(list(store.load(keys, renormaliser)))}
    finally:
        store.close()
    ix = whoosh_index.open_dir(str(work / "whoosh"))
    try:
        with ix.searcher() as s:
            got = {d["work_id"]: json.loads(zlib.decompress(d["work"])) for d in s.documents()}
    finally:
        ix.close()
    differing = {w for w in expected.keys() | got.keys() if expected.get(w) != got.get(w)}
    return len(expected), len(differing)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", default=str(ROOT / "var" / "bench" / "harvest-20x5000" / "index"),
                    help="index folder of a harvest (harvest.sqlite + whoosh/); copied, never changed")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "balis-index-phase"),
                    help="folder the source is copied to for each run (replaced each run)")
    ap.add_argument("--runs", type=int, default=3,
                    help="timed runs (each on a fresh copy); the median is reported")
    ap.add_argument("--change", type=float, default=0.01, help="fraction of each member's records changed")
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--no-profile", action="store_true", help="skip the extra profiled run")
    ap.add_argument("--nights", type=int, default=0,
                    help="then N nights in a row on one copy (a change and an index phase each): "
                         "the seconds and whoosh segments night by night")
    ap.add_argument("--full-every", type=int, default=0, metavar="K",
                    help="with --nights: every K-th night rebuilds the index in full, as a weekly full harvest does "
                         "(balis serve --full-harvest-on)")
    ap.add_argument("--verify", action="store_true", help="check the index against a full merge afterwards")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "index_phase.json"))
    args = ap.parse_args()
    source, work = Path(args.source), Path(args.work)
    if not (source / "harvest.sqlite").exists() or not (source / "whoosh").is_dir():
        sys.exit(f"no harvested index in {source}: run benchmarks/harvest.py first (or give --source DIR)")

    load_before = os.getloadavg()
    runs = []
    for i in range(args.runs):
        run = one_run(source, work, args, profile=False)
        runs.append(run)
        print(f"run {i + 1}: index phase {run['seconds']:.2f} s (CPU {run['cpu_seconds']:.2f} s)  "
              f"{run['index']}  phases {run['phases']}  "
              f"segments {run['segments_before']} → {run['segments_after']}")
    median = statistics.median(r["seconds"] for r in runs) if runs else None
    median_cpu = statistics.median(r["cpu_seconds"] for r in runs) if runs else None
    if runs:
        print(f"change applied: {runs[0]['change']}")
        print(f"median of {len(runs)}: {median:.2f} s (CPU {median_cpu:.2f} s)")
    profiled = None
    if not args.no_profile:
        profiled = one_run(source, work, args, profile=True)
        print(f"profiled run: {profiled['seconds']:.2f} s (under cProfile)")
        for label, secs in profiled["profiled"].items():
            print(f"  {label:38} {secs if secs is not None else '-':>8}")
        print(profiled["profile_cumulative"])
        print(profiled["profile_tottime"])
    nights = []
    for n in range(args.nights):
        full = args.full_every > 0 and (n + 1) % args.full_every == 0
        run = one_run(source, work, args, profile=False, night=n, full=full)
        nights.append({k: run[k] for k in
                       ("seconds", "cpu_seconds", "full", "index", "segments_before", "segments_after")})
        print(f"night {n + 1}{' (full)' if full else ''}: index phase {run['seconds']:.2f} s "
              f"(CPU {run['cpu_seconds']:.2f} s), "
              f"{run['index']['upserted']} written, {run['index']['deleted']} removed; whoosh segments "
              f"{run['segments_before']} → {run['segments_after']}")
    checked = None
    if args.verify:
        t0 = time.perf_counter()
        total, differing = verify(work)
        checked = {"editions": total, "differing": differing}
        print(f"verify: {total} editions from a full merge, {differing} differ from the index "
              f"({time.perf_counter() - t0:.0f} s)")
    result = {
        "source": str(source), "change_fraction": args.change, "seed": args.seed, "full_every": args.full_every,
        "median_seconds": median, "median_cpu_seconds": median_cpu, "runs": runs, "nights": nights,
        "profiled_run": profiled, "verify": checked,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    if checked and checked["differing"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
