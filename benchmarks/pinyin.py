"""Benchmark of pinyin reading: pypinyin with its phrase tables against the compact table of records/tables.py.

Measures, each in new processes (CPU time, median of N): what it costs before the first reading (importing
pypinyin; loading the kept table; building the table, once per pypinyin version), and the time to read every
CJK title, name and publisher of a generated catalogue (the texts a merge reads, no cache), toneless and with
tone numbers; and checks both give the same readings. Writes benchmarks/results/pinyin.json.

    .venv/bin/python benchmarks/pinyin.py [--runs 7] [--records 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# each prints the CPU seconds of its own work (argv[1]: a JSON file of the texts to read); what a balis process has
# imported before it reads pinyin anyway (the members package, dataclasses, logging, re) is imported untimed
SETUP = {
    "pypinyin": "from pypinyin import lazy_pinyin, Style as S",
    "table": "from records.tables import lazy_pinyin, load, Style as S; load()",
}
TIMED = """
import json, sys, time
import dataclasses, enum, logging, marshal, re, threading, members.pinyin
texts = json.load(open(sys.argv[1], encoding="utf-8"))
t = time.process_time()
{setup}
ready = time.process_time() - t
t = time.process_time()
readings = [lazy_pinyin(x) for x in texts] + [lazy_pinyin(x, style=S.TONE3) for x in texts]
read = time.process_time() - t
print(json.dumps([ready, read, readings if len(sys.argv) > 2 else None]))
"""


def texts_of_catalogue(records: int) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from records.fold import fold, is_cjk
    from testbed.generate import plan_catalogues, plan_records
    from testbed.members import member_profiles

    recs = plan_records(plan_catalogues(31415926, member_profiles(8), records // 8))
    texts = set()
    for r in recs:
        for t in (r.title, r.subtitle, r.publisher, *(a.name for a in r.authors)):
            if t and is_cjk(t):
                texts |= {t, fold(t)}
    return sorted(texts)


def run(code: str, texts_file: Path, home: Path, keep: bool = False) -> list:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["BALIS_HOME"] = str(home)
    out = subprocess.run([sys.executable, "-c", code, str(texts_file), *(["keep"] if keep else [])], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pinyin.json")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="balis-pinyin-"))
    try:
        texts = texts_of_catalogue(args.records)
        texts_file = work / "texts.json"
        texts_file.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        builds = []
        for i in range(3):  # a new home folder each time: the table built with pypinyin and kept
            builds.append(run(TIMED.format(setup=SETUP["table"]), texts_file, work / f"build{i}")[0])
        home = work / "build0"
        same = (run(TIMED.format(setup=SETUP["pypinyin"]), texts_file, home, keep=True)[2]
                == run(TIMED.format(setup=SETUP["table"]), texts_file, home, keep=True)[2])
        ready: dict[str, list[float]] = {k: [] for k in SETUP}
        read: dict[str, list[float]] = {k: [] for k in SETUP}
        for _ in range(args.runs):
            for name in SETUP:  # interleaved
                ready_s, read_s, _ = run(TIMED.format(setup=SETUP[name]), texts_file, home)
                ready[name].append(ready_s)
                read[name].append(read_s)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 1)

    result = {
        "texts": len(texts), "records": args.records, "runs": args.runs, "same_readings": same,
        "ready_ms": {k: ms(v) for k, v in ready.items()}, "read_all_ms": {k: ms(v) for k, v in read.items()},
        "table_build_ms": ms(builds),
        "load": Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else None,
        "python_version": platform.python_version(),
        "command": "python benchmarks/pinyin.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    print(f"pinyin: {len(texts)} CJK texts of a {args.records}-record catalogue, each read toneless and with tone "
          f"numbers; CPU medians of {args.runs} processes; load average {' '.join(result['load'] or [])}")
    for name in SETUP:
        print(f"  {name:<9} ready in {result['ready_ms'][name]:7.1f} ms, reads them all in "
              f"{result['read_all_ms'][name]:7.1f} ms")
    print(f"  the table built with pypinyin (once per pypinyin version): {result['table_build_ms']:.0f} ms")
    print(f"  same readings: {same}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
