"""Benchmark of the `balis` command as a whole process: start-up (imports) plus the command's own work.

Runs `balis members` and `balis search QUERY` on 4 test-bed members N times each, as a person at a terminal
would (a new process every time), and prints the median and the spread of the wall-clock time; for the search
also the time the search itself took (the `ms` of `--json`), so the rest is start-up. Also `python -c pass`
(the interpreter alone) and the modules each command imports (`python -X importtime`, the slowest five).
Targets (issue 16): `balis members` ≤ 150 ms, `balis search` ≤ 300 ms. Writes benchmarks/results/startup.json.

    .venv/bin/python benchmarks/startup.py [--runs 15] [--registry FILE] [--query 中国] [--baseline DIR]

`--baseline DIR` measures another copy of the source too (`git archive HEAD | tar -x -C DIR`), its processes
interleaved with these, so a busy machine weighs on both alike.

Without --registry it starts a test bed of 4 members in a temporary folder (stopped and removed at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS_MS = {"members": 150, "search": 300}
SEED = 20071130


def balis_command() -> list[str]:
    """The installed `balis` script beside this interpreter, else `python -m balis.cli`."""
    script = Path(sys.executable).with_name("balis")
    return [str(script)] if script.exists() else [sys.executable, "-m", "balis.cli"]


def timed(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float, str]:
    """Wall-clock ms, CPU ms (user + system: less moved by a busy neighbour on a shared machine), stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    ms = (time.perf_counter() - t) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {done.returncode}:\n{done.stderr[-2000:]}")
    return ms, cpu, done.stdout


def slowest_imports(argv: list[str], env: dict[str, str], cwd: Path = ROOT, n: int = 5) -> list[dict]:
    """The top-level imports that took longest (cumulative ms) when the command ran once."""
    done = subprocess.run([sys.executable, "-X", "importtime", *argv[1:]] if argv[0] == sys.executable
                          else [sys.executable, "-X", "importtime", "-m", "balis.cli", *argv[1:]],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=120)
    rows = []
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)", line)
        if m and not m.group(2):  # top-level imports only: each counts what it pulled in
            rows.append({"module": m.group(3), "ms": round(int(m.group(1)) / 1000, 1)})
    return sorted(rows, key=lambda r: -r["ms"])[:n]


def summary(times: list[float], cpu: list[float]) -> dict:
    return {"median_ms": round(statistics.median(times), 1), "min_ms": round(min(times), 1),
            "max_ms": round(max(times), 1), "cpu_median_ms": round(statistics.median(cpu), 1), "runs": len(times)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="processes per command (default 15)")
    ap.add_argument("--registry", type=Path, help="a running test bed's registry (default: start one of 4)")
    ap.add_argument("--query", default="中国", help="the search (default 中国)")
    ap.add_argument("--source", type=Path, help="measure `python -m balis.cli` run in another copy of the source "
                    "(e.g. an older commit from `git archive`), not the installed `balis`")
    ap.add_argument("--baseline", type=Path, help="also measure `python -m balis.cli` in this other copy of the "
                    "source, its processes interleaved with these (each copy with its own home folder)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "startup.json")
    args = ap.parse_args(argv)

    bed = state_dir = None
    if args.registry is None:
        from testbed.bed import Testbed

        state_dir = Path(tempfile.mkdtemp(prefix="balis-startup-"))
        bed = Testbed(state_dir, SEED)
        registry = bed.up(members=4)
    else:
        registry = args.registry
    homes: list[Path] = []

    def copy_of(source: Path | None, prefix: str) -> dict[str, tuple[list[str], dict[str, str], Path]]:
        """The two commands of one copy of the source, each with the environment and folder it runs in."""
        home = Path(tempfile.mkdtemp(prefix="balis-startup-home-"))
        homes.append(home)
        # as an installed balis runs: its bytecode cached (pip compiles it at install; the warm-up run below
        # writes it for a checkout), not compiled from source by every process as PYTHONDONTWRITEBYTECODE has it
        env = {k: v for k, v in os.environ.items() if not k.startswith("BALIS_") and k != "PYTHONDONTWRITEBYTECODE"}
        env.update(BALIS_HOME=str(home), BALIS_REGISTRY=str(registry))
        base = [sys.executable, "-m", "balis.cli"] if source else balis_command()
        cwd = source.resolve() if source else ROOT
        return {f"{prefix}members": ([*base, "members"], env, cwd),
                f"{prefix}search": ([*base, "search", "--json", args.query], env, cwd)}

    commands = {"python": ([sys.executable, "-c", "pass"], dict(os.environ), ROOT), **copy_of(args.source, "")}
    if args.baseline:
        commands.update(copy_of(args.baseline, "baseline "))
    try:
        for argv_, env, cwd in commands.values():  # once each: disk caches warm, bytecode, pinyin table and
            timed(argv_, env, cwd)  # keys, answer times written
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        search_ms: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (argv_, env, cwd) in commands.items():  # interleaved: a busy moment hits every command
                ms, cpu_ms, out = timed(argv_, env, cwd)
                times[name].append(ms)
                cpu[name].append(cpu_ms)
                if name.endswith("search"):
                    doc = json.loads(out)
                    if "ms" in doc:
                        search_ms[name].append(float(doc["ms"]))
        imports = {name: slowest_imports(argv_, env, cwd) for name, (argv_, env, cwd) in commands.items()
                   if name != "python"}
    finally:
        if bed is not None:
            bed.down()
            shutil.rmtree(state_dir, ignore_errors=True)
        for home in homes:
            shutil.rmtree(home, ignore_errors=True)

    result = {name: summary(t, cpu[name]) for name, t in times.items()}
    for name, own in search_ms.items():
        if own:
            result[name]["search_itself_median_ms"] = round(statistics.median(own), 1)
    for name in imports:
        result[name]["target_ms"] = TARGETS_MS[name.split()[-1]]
        result[name]["slowest_imports"] = imports[name]
    result.update({"members_asked": 4, "query": args.query, "cpus": os.cpu_count(),
                   "load": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else None,
                   "python_version": platform.python_version(), "baseline": str(args.baseline or ""),
                   "command": "python benchmarks/startup.py " + " ".join(argv if argv is not None else sys.argv[1:])})

    print(f"start-up benchmark: {args.runs} processes per command, 4 test-bed members, query {args.query!r}; "
          f"load average {' '.join(result['load'] or [])}")
    for name in commands:
        r = result[name]
        extra = f" (target ≤ {r['target_ms']} ms)" if "target_ms" in r else ""
        own = (f"; the search itself {r['search_itself_median_ms']:.0f} ms"
               if "search_itself_median_ms" in r else "")
        label = "python -c pass" if name == "python" else name.replace("search", f"search --json {args.query}")
        print(f"  {label:<28} median {r['median_ms']:6.1f} ms  (min {r['min_ms']:.1f}, max {r['max_ms']:.1f}; "
              f"CPU {r['cpu_median_ms']:.0f} ms){extra}{own}")
        for imp in r.get("slowest_imports", []):
            print(f"      import {imp['module']:<28} {imp['ms']:6.1f} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
