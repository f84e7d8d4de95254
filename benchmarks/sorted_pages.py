"""Sorted pages of the PostgreSQL union index, with and without scoring only the editions up to the page's last
key (decision 0027), each query run both ways in turn so that the machine's drift falls on both alike.

    .venv/bin/python benchmarks/sorted_pages.py --holdings 1000000 [--sort year] [--reps 2] [--slices 2]
    .venv/bin/python benchmarks/sorted_pages.py --holdings 10000000 --pg-cluster var/bench/pg-10m

Uses the database `benchmarks/local_search.py --backend postgresql --holdings N` loaded (same cluster folder,
same queries). Per query and way: the best of `--reps` page-1 searches (20 editions, every facet), wall time in
this process. Prints and writes `benchmarks/results/sorted-pages-h<N>-<sort>.json`: p50, p95, max and the sum over
the queries each way, and the queries that gained or lost most. The pages are checked equal both ways.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import local_search as ls  # noqa: E402
from local_search import percentile  # noqa: E402
from pg_cluster import cluster  # noqa: E402

from indexer.backend import open_searcher  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--holdings", type=int, default=1_000_000)
    ap.add_argument("--sort", default="year", choices=("year", "year_asc", "title", "relevance"))
    ap.add_argument("--reps", type=int, default=2, help="searches per query and way (the best counts)")
    ap.add_argument("--slices", type=int, default=2)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--pg-cluster", type=Path, default=ROOT / "var" / "bench" / "pg-search")
    args = ap.parse_args()

    _, meta = ls.cached_editions(ls.CACHE, args.holdings)
    queries = ls.make_queries(meta["samples"], args.queries)
    best: dict[bool, list[float]] = {False: [], True: []}
    with cluster(args.pg_cluster, f"search_h{args.holdings}") as url:
        searcher = open_searcher(url, slices=args.slices)
        try:
            if searcher.doc_count() != meta["editions"]:
                raise SystemExit(f"load the index first: benchmarks/local_search.py --backend postgresql "
                                 f"--holdings {args.holdings} --pg-cluster {args.pg_cluster} --load-only")
            for text in queries[:30]:  # as a serving process: the server's caches warm
                searcher.search(ls.parse(text), size=ls.PAGE_SIZE, sort=args.sort)
            load_before = [round(x, 2) for x in os.getloadavg()]
            for i, text in enumerate(queries):
                query = ls.parse(text)
                times = {False: float("inf"), True: float("inf")}
                pages = {}
                for rep in range(args.reps):
                    for prune in (True, False) if (i + rep) % 2 else (False, True):
                        searcher.prune = prune
                        t = time.perf_counter()
                        r = searcher.search(query, size=ls.PAGE_SIZE, sort=args.sort)
                        times[prune] = min(times[prune], (time.perf_counter() - t) * 1000)
                        pages[prune] = ([w.work_id for w in r.works], r.total)
                if pages[True] != pages[False]:
                    raise SystemExit(f"the pages of {text!r} differ with and without pruning")
                for prune, ms in times.items():
                    best[prune].append(ms)
        finally:
            searcher.close()
    ways = {}
    for prune, name in ((False, "every_match_scored"), (True, "up_to_the_last_key")):
        v = best[prune]
        ways[name] = {"p50_ms": round(statistics.median(v), 1), "p95_ms": round(percentile(v, 95), 1),
                      "max_ms": round(max(v), 1), "sum_ms": round(sum(v))}
        print(f"{name:20s} p50 {ways[name]['p50_ms']} ms, p95 {ways[name]['p95_ms']} ms, max {ways[name]['max_ms']} "
              f"ms; the {len(v)} pages {ways[name]['sum_ms']:,} ms", flush=True)
    gains = sorted((best[True][i] - best[False][i], q) for i, q in enumerate(queries))
    result = {"holdings": meta["holdings"], "editions": meta["editions"], "sort": args.sort, "slices": args.slices,
              "reps": args.reps, "queries": len(queries), **ways,
              "gained_most": [{"ms": round(d, 1), "query": q} for d, q in gains[:5]],
              "lost_most": [{"ms": round(d, 1), "query": q} for d, q in gains[-5:]],
              "load_average_before": load_before, "load_average_after": [round(x, 2) for x in os.getloadavg()]}
    print("gained most:", ", ".join(f"{r['query']} {r['ms']} ms" for r in result["gained_most"]))
    print("lost most:", ", ".join(f"{r['query']} +{r['ms']} ms" for r in result["lost_most"]))
    out = RESULTS / f"sorted-pages-h{args.holdings}-{args.sort}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
