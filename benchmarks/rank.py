"""Benchmark of merge + rank (and facets) over 5,000 generated member records on one core.

The issue's budget: `dedup.merge` + `federator.rank.rank` of 5,000 records within 0.5 s on one core.
Queries are drawn from the generated titles (a Chinese title word, a Latin title word, an author), so
every query matches part of the set. Each run starts with empty folding caches (`--warm` keeps them).
Writes benchmarks/results/rank.json.

    .venv/bin/python benchmarks/rank.py [--seed 27182818] [--members 8] [--records 5000]
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.query import parse  # noqa: E402
from dedup import merge  # noqa: E402
from federator import facets  # noqa: E402
from federator.rank import rank  # noqa: E402
from records.fold import is_cjk  # noqa: E402

fold_module = importlib.import_module("records.fold")
keys_module = importlib.import_module("dedup.keys")
from testbed.generate import plan_catalogues, plan_records  # noqa: E402
from testbed.members import member_profiles  # noqa: E402


def queries(records, rng: random.Random) -> list[str]:
    """Three queries taken from the records: a Chinese title, a Latin title word, an author surname."""
    cjk = [r.title for r in records if is_cjk(r.title) and len(r.title) >= 4]
    latin = [w for r in records if not is_cjk(r.title) for w in r.title.split() if len(w) > 5 and w.isalpha()]
    authors = [a.name.split(",")[0] for r in records for a in r.authors if not is_cjk(a.name)]
    out = []
    if cjk:
        out.append(rng.choice(cjk)[:4])
    if latin:
        out.append(rng.choice(latin))
    if authors:
        out.append(f"au:{rng.choice(authors)}")
    return out


def clear_caches() -> None:
    """Empty the memo caches of text folding and match keys, so a run pays for every key it needs."""
    for module in (fold_module, keys_module):
        for obj in vars(module).values():
            if hasattr(obj, "cache_clear"):
                obj.cache_clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=27182818)
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--records", type=int, default=5000, help="total records over all members")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--warm", action="store_true",
                    help="keep the text-folding caches between runs (default: every run starts cold, as a "
                         "search over records never seen before does)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "rank.json"))
    ap.add_argument("--default-collector", action="store_true",
                    help="leave Python's collector at its defaults (the balis command tunes it: balis/process.py)")
    args = ap.parse_args()
    if not args.default_collector:
        from balis.process import settle, tune_collector

        tune_collector()  # the collector policy of `balis search` and `balis serve`, whose merges this measures
        settle()

    plan = plan_catalogues(args.seed, member_profiles(args.members), args.records // args.members)
    records = plan_records(plan)
    texts = queries(records, random.Random(args.seed))
    parsed = [parse(t) for t in texts]

    merge_t, rank_t, total_t, title_t, facet_t = [], [], [], [], []
    works = []
    for _ in range(args.repeat):
        for q in parsed:
            if not args.warm:
                clear_caches()
            t0 = time.process_time()
            works = merge(records)
            t1 = time.process_time()
            rank(works, q)
            t2 = time.process_time()
            merge_t.append(t1 - t0)
            rank_t.append(t2 - t1)
            total_t.append(t2 - t0)
        t0 = time.process_time()
        rank(works, parsed[0], sort="title")
        title_t.append(time.process_time() - t0)
        t0 = time.process_time()
        f = facets.compute(works)
        facets.apply(works, {"clc": [f["clc"][0]["value"]], "year": [f["year"][0]["value"]]})
        facet_t.append(time.process_time() - t0)

    def med(xs):
        return round(statistics.median(xs), 4)

    results = {
        "seed": args.seed, "members": args.members, "records": len(records), "works": len(works),
        "queries": texts,
        "merge_seconds_median": med(merge_t), "rank_seconds_median": med(rank_t),
        "merge_plus_rank_seconds_median": med(total_t), "merge_plus_rank_seconds_max": round(max(total_t), 4),
        "merge_plus_rank_seconds_min": round(min(total_t), 4), "rank_seconds_max": round(max(rank_t), 4),
        "title_sort_seconds_median": med(title_t), "facets_compute_apply_seconds_median": med(facet_t),
        "budget_seconds": 0.5,
        "caches": "warm" if args.warm else "cold (cleared before every merge)",
        "collector": "defaults" if args.default_collector else "balis/process.py (tune_collector, settle)",
        "note": "process CPU time on one core; rank = relevance over all merged works (features computed "
                "once per work per call); title sort includes pinyin keys",
    }
    print(f"rank benchmark: seed {args.seed}, {len(records)} records at {args.members} members → "
          f"{len(works)} works; queries {texts}")
    print(f"  merge {results['merge_seconds_median']:.3f} s + rank {results['rank_seconds_median']:.3f} s = "
          f"{results['merge_plus_rank_seconds_median']:.3f} s median "
          f"(min {results['merge_plus_rank_seconds_min']:.3f} s, max {results['merge_plus_rank_seconds_max']:.3f} s; "
          f"budget 0.5 s; rank max {results['rank_seconds_max']:.3f} s)")
    print(f"  title sort {results['title_sort_seconds_median']:.3f} s, facets compute + apply "
          f"{results['facets_compute_apply_seconds_median']:.3f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
