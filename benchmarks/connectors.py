"""Connector throughput: fetch a whole member catalogue over Z39.50 and SRU, ours vs yaz-client.

One Zebra member (test bed member THU: MARC21, UTF-8) is loaded with a seeded, generated catalogue of
N records (default 10,000). Each run fetches all N records, timed from connect to close:

  z3950+marc     our Z39.50 client (search + pipelined Presents) + records.marc.read_iso2709 per record
  z3950+record   our Z39.50 client + records.normalise.from_raw per record (read_iso2709 + normalise:
                 the Record model with holdings), the full reading path of a harvest
  z3950          our Z39.50 client alone (retrieval and BER decoding, no MARC parsing)
  yaz-client     yaz-client (the C reference client): find + show in the same chunks, every record
                 decoded and printed as text and written to a marcdump file
  sru+marc       our SRU client (maximumRecords pages, MARCXML) + records.marc.read_marcxml
  sru+record     our SRU client + records.normalise.from_raw (read_marcxml + normalise)
  sru            our SRU client alone (HTTP and the SRU response's XML, no MARC parsing)
  yaz-client-sru yaz-client in SRU mode (same query and pages), records printed and dumped

Prints every run and the best of N per mode, records/s, and ours/yaz-client ratios (target: z3950+marc
≤ 2.0 × yaz-client); writes benchmarks/results/connectors.json (connectors-quick.json with --quick).
Usage: python benchmarks/connectors.py [--quick] [--records N] [--runs N] [--chunk N] [--only MODE,..]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.rpn import Term  # noqa: E402
from connectors.sru import SruConnector  # noqa: E402
from connectors.z3950 import Z3950Connector  # noqa: E402
from records.errors import RecordError  # noqa: E402
from records.marc import iter_iso2709, read_iso2709, read_marcxml  # noqa: E402
from records.normalise import from_raw  # noqa: E402
from testbed.generate import plan_catalogues, render_member, write_collection  # noqa: E402
from testbed.members import member_profiles  # noqa: E402
from testbed.zebra import ZebraServer  # noqa: E402

MEMBER = "THU"  # the test bed's MARC21 / UTF-8 member with both Z39.50 and SRU
SEED = 20260901
TARGET_RATIO = 2.0
ALL_RPN = Term("", ((1, 1016), (2, 103)))  # Bib-1 Any, relation "always matches": every record
ALL_PQF = '@attr 1=1016 @attr 2=103 ""'
ALL_CQL = "cql.allRecords=1"
YAZ = ("yaz-client", "yaz-client-sru")
MODES = ("yaz-client", "z3950+marc", "z3950+record", "z3950",
         "yaz-client-sru", "sru+marc", "sru+record", "sru")
RATIOS = (("z3950+marc", "yaz-client"), ("z3950+record", "yaz-client"), ("z3950", "yaz-client"),
          ("sru+marc", "yaz-client-sru"), ("sru+record", "yaz-client-sru"), ("sru", "yaz-client-sru"))


class BenchError(RuntimeError):
    """A client did not fetch the whole catalogue; the figures would be meaningless."""


# ------------------------------------------------------------------------------------------ catalogue


def build_member(records: int, seed: int, workdir: Path) -> tuple[ZebraServer, list[str], str]:
    """Generate the member's catalogue (deterministic), index it unless the same one already is, start Zebra.

    Returns the running server, the record ids in catalogue order, and the catalogue's SHA-256.
    """
    profile = next(p for p in member_profiles(1) if p.code == MEMBER)
    plan = plan_catalogues(seed, [profile], sizes={MEMBER: records})
    ids = [c.record_id for c in plan.copies[MEMBER]]
    workdir.mkdir(parents=True, exist_ok=True)
    catalogue = workdir / "catalogue.xml"
    count = write_collection(render_member(plan, MEMBER), catalogue)
    if count != records:
        raise BenchError(f"the generator planned {count} records for {MEMBER}, not {records}")
    digest = hashlib.sha256(catalogue.read_bytes()).hexdigest()
    config = hashlib.sha256(b"".join(p.read_bytes() for p in sorted((ROOT / "testbed").glob("zebra*"))
                                     if p.is_file())
                            + b"".join(p.read_bytes() for p in sorted((ROOT / "testbed/zebra").iterdir()))
                            ).hexdigest()
    stamp = workdir / "indexed.json"
    zebra = ZebraServer(workdir / "zebra", syntax=profile.syntax, charset=profile.charset)
    wanted = {"catalogue": digest, "config": config, "records": records}
    if not (stamp.exists() and json.loads(stamp.read_text()) == wanted and (workdir / "zebra/zebra.cfg").exists()):
        t0 = time.perf_counter()
        zebra.stop()
        zebra.load(catalogue)
        stamp.write_text(json.dumps(wanted))
        print(f"indexed {records} records in {time.perf_counter() - t0:.1f} s ({workdir / 'zebra'})")
    zebra.start()
    return zebra, ids, digest


# ------------------------------------------------------------------------------------------ our clients


async def fetch_z3950(port: int, chunk: int, parse: Callable | None, ids: list | None = None) -> int:
    """Harvest every record over Z39.50 (parsing each as it arrives); returns the records parsed."""
    got = 0
    async with Z3950Connector(MEMBER, "127.0.0.1", port, "Default", harvest_chunk_size=chunk,
                              timeout=120) as member:
        async for raw in member.harvest():
            if parse is not None:
                rec = parse(raw)
                if ids is not None:
                    ids.append(_record_id(rec))
            got += 1
    return got


async def fetch_sru(url: str, chunk: int, parse: Callable | None, ids: list | None = None) -> int:
    """Harvest every record over SRU in pages of `chunk` (parsing each as it arrives)."""
    got = 0
    member = SruConnector(MEMBER, url, version="1.2", timeout=120, max_records=chunk)
    try:
        async for raw in member.harvest(page_size=chunk):
            if parse is not None:
                rec = parse(raw)
                if ids is not None:
                    ids.append(_record_id(rec))
            got += 1
    finally:
        await member.close()
    return got


def parse_marc(raw):
    """MARC parsing as the product does it: ISO 2709 or MARCXML bytes into a (pymarc) MARC record."""
    if raw.syntax == "marcxml":
        return read_marcxml(raw.data, member=raw.member, position=raw.position)
    return read_iso2709(raw.data, charset=raw.charset, member=raw.member, position=raw.position)


def parse_record(raw):
    """The whole reading path: bytes into the `Record` model (MARC parsing + normalisation + holdings)."""
    return from_raw(raw.data, syntax=raw.syntax, charset=raw.charset, member=raw.member, position=raw.position)


def _record_id(rec) -> str:
    if hasattr(rec, "leader"):  # a MARC record
        field = rec.get("001")
        return field.data if field is not None else ""
    return rec.record_id


# ------------------------------------------------------------------------------------------ yaz-client


def yaz_commands(address: str, records: int, chunk: int, dump: Path, sru: bool) -> str:
    lines = ["sru get 1.2", f"open {address}", "querytype cql", "elements marcxml", f"find {ALL_CQL}"] if sru \
        else [f"open {address}", "format usmarc", "elements F", f"find {ALL_PQF}"]
    lines.insert(-1, f"set_marcdump {dump}")
    lines += [f"show {p}+{min(chunk, records - p + 1)}" for p in range(1, records + 1, chunk)]
    return "\n".join([*lines, "quit", ""])


def fetch_yaz(zebra: ZebraServer, records: int, chunk: int, sru: bool, keep: Path | None = None) -> tuple[float, int]:
    """Time yaz-client fetching every record (commands from a file); returns (seconds, records it wrote)."""
    with tempfile.TemporaryDirectory(prefix="balis-bench-") as tmp:
        dump = Path(tmp) / "records.dump"
        commands = Path(tmp) / "commands.txt"
        address = f"http://127.0.0.1:{zebra.port}/Default" if sru else f"tcp:127.0.0.1:{zebra.port}/Default"
        commands.write_text(yaz_commands(address, records, chunk, dump, sru))
        with open(Path(tmp) / "stdout.txt", "wb") as out:
            t0 = time.perf_counter()
            proc = subprocess.run(["yaz-client", "-f", str(commands)], stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL)
            elapsed = time.perf_counter() - t0
        text = (Path(tmp) / "stdout.txt").read_text("utf-8", "replace")
        if proc.returncode != 0 or f"Number of hits: {records}" not in text:
            raise BenchError(f"yaz-client ({'SRU' if sru else 'Z39.50'}) failed (exit {proc.returncode}): "
                             f"{text[-400:]}")
        data = dump.read_bytes() if dump.exists() else b""
        count = data.count(b"</record>") if sru else data.count(b"\x1d")
        if keep is not None:
            keep.write_bytes(data)
    return elapsed, count


def yaz_ids(dump: bytes) -> list[str]:
    """The 001s of the ISO 2709 records yaz-client wrote (read with the product's reader)."""
    out = []
    for position, rec in iter_iso2709(dump, charset="utf-8"):
        if isinstance(rec, RecordError):
            raise BenchError(f"yaz-client's record {position} is unreadable: {rec}")
        field = rec.get("001")
        out.append(field.data if field is not None else "")
    return out


# ------------------------------------------------------------------------------------------ running


def machine() -> dict:
    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    except OSError:
        pass
    yaz = subprocess.run(["yaz-client", "-V"], capture_output=True, text=True).stdout.split()
    zebra = subprocess.run(["zebraidx", "-V"], capture_output=True, text=True).stdout
    zebra_version = re.search(r"Zebra ([\d.]+)", zebra)
    return {"cpus": os.cpu_count(), "cpu": model, "os": platform.platform(), "python": platform.python_version(),
            "yaz": yaz[2] if len(yaz) > 2 else "?", "zebra": zebra_version.group(1) if zebra_version else "?",
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def verify(zebra: ZebraServer, ids: list[str], records: int, chunk: int) -> None:
    """One untimed pass per client: each must deliver exactly the planned records (by 001), parsed."""
    with tempfile.TemporaryDirectory(prefix="balis-bench-") as tmp:
        dump = Path(tmp) / "yaz.mrc"
        _, count = fetch_yaz(zebra, records, chunk, sru=False, keep=dump)
        yaz = yaz_ids(dump.read_bytes())
        _, sru_count = fetch_yaz(zebra, records, chunk, sru=True)
    z3950: list[str] = []
    asyncio.run(fetch_z3950(zebra.port, chunk, parse_record, z3950))
    sru: list[str] = []
    asyncio.run(fetch_sru(zebra.sru_url, chunk, parse_record, sru))
    planned = sorted(ids)
    for name, got in (("yaz-client", yaz), ("our Z39.50", z3950), ("our SRU", sru)):
        if sorted(got) != planned:
            raise BenchError(f"{name} fetched {len(got)} records ({len(set(got))} distinct ids); "
                             f"the catalogue has {len(planned)}")
    if count != records or sru_count != records:
        raise BenchError(f"yaz-client wrote {count} (Z39.50) and {sru_count} (SRU) records, not {records}")
    print(f"verified: yaz-client, our Z39.50 and our SRU client each fetched the {records} planned records")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_mode(mode: str, zebra: ZebraServer, records: int, chunk: int) -> tuple[float, float]:
    """One timed fetch: (wall seconds, CPU seconds of the client: this process, or yaz-client)."""
    if mode in YAZ:
        cpu0 = _children_cpu()
        elapsed, count = fetch_yaz(zebra, records, chunk, sru=mode == "yaz-client-sru")
        cpu = _children_cpu() - cpu0
    else:
        protocol, _, parse = mode.partition("+")
        parser = {"marc": parse_marc, "record": parse_record, "": None}[parse]
        t0, cpu0 = time.perf_counter(), time.process_time()
        if protocol == "z3950":
            count = asyncio.run(fetch_z3950(zebra.port, chunk, parser))
        else:
            count = asyncio.run(fetch_sru(zebra.sru_url, chunk, parser))
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if count != records:
        raise BenchError(f"{mode} fetched {count} records, not {records}")
    return elapsed, cpu


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2,000 records, 3 runs (a smoke run, not the figures)")
    ap.add_argument("--records", type=int, help="catalogue size (default 10000; 2000 with --quick)")
    ap.add_argument("--runs", type=int, help="runs per mode, best one counts (default 5; 3 with --quick)")
    ap.add_argument("--chunk", type=int, default=500, help="records per Present / SRU page (default 500)")
    ap.add_argument("--seed", type=int, default=SEED, help=f"catalogue generator seed (default {SEED})")
    ap.add_argument("--only", help="comma-separated modes to run (default all: " + ",".join(MODES) + ")")
    ap.add_argument("--workdir", type=Path, help="where the generated catalogue and Zebra live "
                                                 "(default var/bench/connectors-N-SEED; reused when unchanged)")
    ap.add_argument("--out", type=Path, help="JSON file (default benchmarks/results/connectors[-quick].json)")
    args = ap.parse_args(argv)
    records = args.records or (2000 if args.quick else 10000)
    runs = args.runs or (3 if args.quick else 5)
    modes = [m for m in MODES if not args.only or m in args.only.split(",")]
    if args.only and len(modes) != len(args.only.split(",")):
        ap.error(f"--only takes modes from: {', '.join(MODES)}")
    workdir = args.workdir or ROOT / "var" / "bench" / f"connectors-{records}-{args.seed}"
    out = args.out or ROOT / "benchmarks" / "results" / ("connectors-quick.json" if args.quick else "connectors.json")

    info = machine()
    print(f"machine: {info['cpus']} cores ({info['cpu']}), Python {info['python']}, YAZ {info['yaz']}, "
          f"Zebra {info['zebra']}, load {info['load_average_at_start']}")
    t0 = time.perf_counter()
    zebra, ids, digest = build_member(records, args.seed, workdir)
    print(f"member {MEMBER}: {records} MARC21 records (seed {args.seed}, sha256 {digest[:12]}), "
          f"Zebra on port {zebra.port}, ready in {time.perf_counter() - t0:.1f} s")
    try:
        verify(zebra, ids, records, args.chunk)
        timings: dict[str, list[float]] = {m: [] for m in modes}
        cpu: dict[str, list[float]] = {m: [] for m in modes}
        for run in range(1, runs + 1):  # modes interleaved, so a busy moment hurts every client alike
            for mode in modes:
                elapsed, used = run_mode(mode, zebra, records, args.chunk)
                timings[mode].append(elapsed)
                cpu[mode].append(used)
                print(f"run {run}/{runs}  {mode:<15} {elapsed:7.3f} s  {records / elapsed:8,.0f} records/s  "
                      f"(client CPU {used:.2f} s)")
    finally:
        zebra.stop()

    results = {m: {"runs_s": [round(t, 3) for t in ts], "best_s": round(min(ts), 3),
                   "median_s": round(statistics.median(ts), 3), "records_per_s": round(records / min(ts)),
                   "client_cpu_s": round(cpu[m][ts.index(min(ts))], 3)} for m, ts in timings.items()}
    pairs = [(a, b) for a, b in RATIOS if a in timings and b in timings]
    ratios = {f"{a} / {b}": round(min(timings[a]) / min(timings[b]), 2) for a, b in pairs}
    median_ratios = {f"{a} / {b}": round(statistics.median(timings[a]) / statistics.median(timings[b]), 2)
                     for a, b in pairs}
    print(f"\nbest of {runs}, {records} records, chunk {args.chunk}:")
    for mode, r in results.items():
        print(f"  {mode:<15} {r['best_s']:7.3f} s  {r['records_per_s']:8,} records/s  "
              f"(client CPU {r['client_cpu_s']:.2f} s; median {r['median_s']:.3f} s)")
    for name, value in ratios.items():
        print(f"  {name:<32} {value:5.2f} ×  (medians: {median_ratios[name]:.2f} ×)")
    headline = ratios.get("z3950+marc / yaz-client")
    if headline is not None:
        verdict = "met" if headline <= TARGET_RATIO else "NOT met"
        print(f"target z3950+marc ≤ {TARGET_RATIO} × yaz-client: {verdict} ({headline} ×)")
    figures = {
        "benchmark": "connectors", "member": MEMBER, "syntax": "marc21", "charset": "utf-8",
        "records": records, "seed": args.seed, "catalogue_sha256": digest, "chunk": args.chunk, "runs": runs,
        "quick": args.quick, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": info,
        "results": results, "ratios": ratios, "ratios_of_medians": median_ratios,
        "target": {"ratio": TARGET_RATIO, "measure": "z3950+marc / yaz-client", "value": headline,
                   "met": headline is not None and headline <= TARGET_RATIO},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    return figures


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        sys.exit(f"benchmark failed: {exc}")
