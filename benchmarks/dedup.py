"""Benchmark of the edition merge on labelled generated catalogues (a seed the tests do not use).

Prints pairwise precision / recall / F1 overall and on Chinese records against the generator's truth,
how many hard negatives (edition traps) were merged, and the time of `dedup.merge` over 5,000 records
on one core (merge + rank together: benchmarks/rank.py). Writes benchmarks/results/dedup.json.

    .venv/bin/python benchmarks/dedup.py [--seed 31415926] [--members 8] [--records 5000] [--fuzzy-max N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from balis.process import settle, tune_collector  # noqa: E402
from dedup import merge  # noqa: E402
from dedup.evaluate import pair_scores  # noqa: E402
from dedup.work import record_key  # noqa: E402
from records.fold import is_cjk  # noqa: E402
from testbed.generate import plan_catalogues, plan_records, truth  # noqa: E402
from testbed.members import member_profiles  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=31415926)
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--records", type=int, default=5000, help="total records over all members")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--fuzzy-max", type=int,
                    help="compare title prefix/suffix, creator and page-count blocks up to this size (default: "
                         "dedup.cluster.FUZZY_MAX; a huge number compares them all, as before the limit)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "dedup.json"))
    args = ap.parse_args()
    if args.fuzzy_max is not None:
        sys.modules["dedup.cluster"].FUZZY_MAX = args.fuzzy_max  # (the package's `cluster` is a function)
    tune_collector()  # the collector as the `balis` command sets it (balis/process.py)
    settle()

    plan = plan_catalogues(args.seed, member_profiles(args.members), args.records // args.members)
    records = plan_records(plan)
    tr = truth(plan)
    editions = {e["id"]: e["records"] for e in tr["editions"]}
    chinese = {x for e in tr["editions"] if is_cjk(e["title"]) for x in e["records"]}

    times = []
    works = []
    for _ in range(args.repeat):
        t0 = time.process_time()
        works = merge(records)
        times.append(time.process_time() - t0)
    predicted = [[record_key(r) for r in w.records] for w in works]
    results = {
        "seed": args.seed, "members": args.members, "records": len(records), "editions": len(editions),
        "works": len(works), "chinese_records": len(chinese), "fuzzy_max": sys.modules["dedup.cluster"].FUZZY_MAX,
        "merge_seconds_median": round(statistics.median(times), 4), "merge_seconds_min": round(min(times), 4),
        "note": "process CPU time of dedup.merge (keys + blocking + scoring + clustering + works + groups) "
                "on one core, folding caches warm after the first run",
    }
    for scope, keep in (("overall", None), ("chinese", chinese)):
        s = pair_scores(predicted, editions.values(), keep)
        results[scope] = {"precision": round(s.precision, 4), "recall": round(s.recall, 4),
                          "f1": round(s.f1, 4), "true_pairs": s.true_pairs,
                          "wrong_merges": s.false_pairs, "missed": s.missed_pairs}
    pred = {x: i for i, c in enumerate(predicted) for x in c}
    merged_negatives = [n for n in tr["hard_negatives"]
                        if {pred[x] for x in editions[n["a"]]} & {pred[x] for x in editions[n["b"]]}]
    results["hard_negatives"] = len(tr["hard_negatives"])
    results["hard_negatives_merged"] = len(merged_negatives)

    print(f"dedup benchmark: seed {args.seed}, {len(records)} records at {args.members} members, "
          f"{len(editions)} editions → {len(works)} works")
    for key in ("overall", "chinese"):
        r = results[key]
        print(f"  {key:<8} P={r['precision']:.4f} R={r['recall']:.4f} F1={r['f1']:.4f} "
              f"(true pairs {r['true_pairs']}, wrong merges {r['wrong_merges']}, missed {r['missed']})")
    print(f"  hard negatives merged: {len(merged_negatives)} of {len(tr['hard_negatives'])}")
    print(f"  merge of {len(records)} records: median {results['merge_seconds_median']:.3f} s, "
          f"min {results['merge_seconds_min']:.3f} s CPU on one core (merge only)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
