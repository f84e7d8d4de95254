"""Benchmark of `balis dedup` on real records and what other libraries' cataloguers make of them.

Generates the real-variant catalogues for a seed (benchmarks/real_variants.py: the real MARC records, their
same-edition variants and different-edition traps, one ISO 2709 file per member), runs the product's own
batch merge on the files (`dedup.batch.run`, what `balis dedup` runs), and scores the clusters against the
generator's truth: pairwise precision / recall / F1 for Western and Chinese editions and overall, hard
negatives merged (by kind), recall by variant operation, and the missed and wrong pairs with their titles
and the operations that made them. Prints a short table; writes benchmarks/results/dedup_real.json.

    .venv/bin/python benchmarks/dedup_real.py [--seed 20261206] [--workdir var/bench/dedup-real]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections import Counter
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.real_variants import DEFAULT_SEED, generate  # noqa: E402
from dedup.batch import run  # noqa: E402
from dedup.evaluate import PairScores  # noqa: E402

TARGETS = {"precision": 0.99, "recall": 0.97}


def _short(label: str) -> str:
    """"THU.mrc#3" from "/some/dir/THU.mrc#3" (the truth names files without their folder)."""
    path, pos = label.rsplit("#", 1)
    return f"{Path(path).name}#{pos}"


def merge_files(folder: Path, files: list[str]) -> tuple[list[list[str]], list[str], float]:
    """Clusters (as truth labels) from the product's batch merge, its error lines, and its wall time."""
    out, err = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    run([folder / f for f in files], out=out, err=err)
    seconds = time.perf_counter() - t0
    clusters = [[_short(x) for x in json.loads(line)["records"]] for line in out.getvalue().splitlines() if line]
    return clusters, [x for x in err.getvalue().splitlines() if x], seconds


def _ops(truth: dict, label: str) -> list[str]:
    return truth["records"].get(label, {}).get("ops", [])


def _pair_ops(truth: dict, pair: tuple[str, str]) -> set[str]:
    """The operations behind either record of a pair ("real" for a record as catalogued, "trap" for a
    trap edition's own record)."""
    return {o.split(":")[0] if o.startswith(("trap", "real")) else o
            for o in _ops(truth, pair[0]) + _ops(truth, pair[1])}


def _pair_info(truth: dict, a: str, b: str) -> dict:
    ra, rb = truth["records"].get(a, {}), truth["records"].get(b, {})
    return {"a": a, "b": b, "edition_a": ra.get("edition"), "edition_b": rb.get("edition"),
            "title_a": ra.get("title"), "title_b": rb.get("title"), "ops_a": ra.get("ops"), "ops_b": rb.get("ops"),
            "source": ra.get("source")}


def _pairs(groups, ignore: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {p for g in groups for p in combinations(sorted(g), 2)} - ignore


def pair_scores(predicted: set[tuple[str, str]], true: set[tuple[str, str]], keep: set[str] | None) -> PairScores:
    """dedup.evaluate.pair_scores over pair sets (so that uncertain pairs can be left out of both)."""
    if keep is not None:
        predicted = {p for p in predicted if p[0] in keep and p[1] in keep}
        true = {p for p in true if p[0] in keep and p[1] in keep}
    tp = len(predicted & true)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(true) if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairScores(precision, recall, f1, len(true), len(predicted), len(predicted - true), len(true - predicted))


def uncertain_pairs(truth: dict) -> set[tuple[str, str]]:
    """Record pairs across the editions the truth leaves uncertain: scored neither right nor wrong."""
    editions = truth["editions"]
    out = set()
    for u in truth.get("uncertain", []):
        for a in editions[u["a"]]["records"]:
            for b in editions[u["b"]]["records"]:
                out.add((a, b) if a < b else (b, a))
    return out


def score(truth: dict, clusters: list[list[str]]) -> dict:
    """Every figure the benchmark reports, from the truth and the predicted clusters."""
    editions = {e: info["records"] for e, info in truth["editions"].items()}
    ignore = uncertain_pairs(truth)
    true_pairs = _pairs(editions.values(), ignore)
    predicted = _pairs(clusters, ignore)
    scopes = {
        "overall": None,
        "western": {x for e, info in truth["editions"].items() if not info["chinese"] for x in info["records"]},
        "chinese": {x for e, info in truth["editions"].items() if info["chinese"] for x in info["records"]},
    }
    results: dict = {}
    for scope, keep in scopes.items():
        s = pair_scores(predicted, true_pairs, keep)
        n_records = len(keep) if keep is not None else len(truth["records"])
        n_editions = sum(1 for e, info in truth["editions"].items()
                         if keep is None or info["chinese"] == (scope == "chinese"))
        results[scope] = {"records": n_records, "editions": n_editions, "precision": round(s.precision, 4),
                          "recall": round(s.recall, 4), "f1": round(s.f1, 4), "true_pairs": s.true_pairs,
                          "wrong_merges": s.false_pairs, "missed": s.missed_pairs}
    cluster_of = {x: i for i, c in enumerate(clusters) for x in c}
    merged = []
    kinds_total: Counter = Counter()
    kinds_merged: Counter = Counter()
    negative_kind = {}
    for n in truth["hard_negatives"]:
        kinds_total[n["kind"]] += 1
        negative_kind[frozenset((n["a"], n["b"]))] = n["kind"]
        ca = {cluster_of.get(x) for x in editions[n["a"]]} - {None}
        cb = {cluster_of.get(x) for x in editions[n["b"]]} - {None}
        if ca & cb:
            kinds_merged[n["kind"]] += 1
            merged.append({**n, "title_a": truth["editions"][n["a"]]["title"],
                           "title_b": truth["editions"][n["b"]]["title"]})
    results["hard_negatives"] = {"total": len(truth["hard_negatives"]), "merged": len(merged),
                                 "by_kind": {k: {"total": kinds_total[k], "merged": kinds_merged[k]}
                                             for k in sorted(kinds_total)},
                                 "merged_pairs": merged}
    results["uncertain_pairs_left_out"] = len(ignore)
    missed = sorted(true_pairs - predicted)
    wrong = sorted(predicted - true_pairs)
    by_op: dict[str, Counter] = {}
    for pair in true_pairs:
        for op in _pair_ops(truth, pair):
            c = by_op.setdefault(op, Counter())
            c["pairs"] += 1
    missed_set = set(missed)
    for pair in missed_set:
        for op in _pair_ops(truth, pair):
            by_op[op]["missed"] += 1
    results["recall_by_operation"] = {
        op: {"pairs": c["pairs"], "missed": c["missed"], "recall": round(1 - c["missed"] / c["pairs"], 4)}
        for op, c in sorted(by_op.items(), key=lambda kv: (-kv[1]["missed"], kv[0]))}
    wrong_info = []
    for a, b in wrong:
        info = _pair_info(truth, a, b)
        key = frozenset((info["edition_a"], info["edition_b"]))
        info["negative_kind"] = negative_kind.get(key, "unlisted")
        wrong_info.append(info)
    results["missed_pairs"] = [_pair_info(truth, a, b) for a, b in missed]
    results["wrong_pairs"] = wrong_info
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--source", default=None, help="folder of real MARC records (default ../shared/data/marc)")
    ap.add_argument("--workdir", default=str(ROOT / "var" / "bench" / "dedup-real"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dedup_real.json"))
    ap.add_argument("--show", type=int, default=15, help="missed and wrong pairs to print")
    ap.add_argument("--reuse", action="store_true",
                    help="merge the files already generated in the work folder (e.g. to run older merge code "
                         "from a git worktree on the same set)")
    args = ap.parse_args()

    folder = Path(args.workdir) / f"seed-{args.seed}"
    if args.reuse and (folder / "truth.json").is_file():
        truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    else:
        truth = generate(folder, args.seed, args.source)
    clusters, errors, seconds = merge_files(folder, truth["files"])
    results = {"seed": args.seed, "files": truth["files"], "records": len(truth["records"]),
               "editions": len(truth["editions"]), "clusters": len(clusters), "unreadable": len(errors),
               "unreadable_lines": errors[:50], "merge_seconds": round(seconds, 2), "targets": TARGETS}
    results.update(score(truth, clusters))

    print(f"real-variant dedup benchmark: seed {args.seed}, {results['records']} records in "
          f"{len(truth['files'])} member files, {results['editions']} editions -> {len(clusters)} clusters "
          f"({len(errors)} unreadable, {seconds:.1f} s)")
    print(f"  {'scope':<8} {'records':>7} {'editions':>8} {'pairs':>6} {'P':>7} {'R':>7} {'F1':>7} "
          f"{'wrong':>6} {'missed':>6}")
    for scope in ("western", "chinese", "overall"):
        r = results[scope]
        flag = "" if r["precision"] >= TARGETS["precision"] and r["recall"] >= TARGETS["recall"] else "  (below target)"
        print(f"  {scope:<8} {r['records']:>7} {r['editions']:>8} {r['true_pairs']:>6} {r['precision']:>7.4f} "
              f"{r['recall']:>7.4f} {r['f1']:>7.4f} {r['wrong_merges']:>6} {r['missed']:>6}{flag}")
    hn = results["hard_negatives"]
    kinds = ", ".join(f"{k} {v['merged']}/{v['total']}" for k, v in hn["by_kind"].items())
    print(f"  hard negatives merged: {hn['merged']} of {hn['total']} ({kinds})")
    worst = [(op, v) for op, v in results["recall_by_operation"].items() if v["missed"]][:8]
    if worst:
        print("  most missed pairs involve: " + ", ".join(f"{op} {v['missed']}/{v['pairs']}" for op, v in worst))
    for name in ("missed_pairs", "wrong_pairs"):
        rows = results[name]
        if rows:
            print(f"  {name.replace('_', ' ')} (first {min(args.show, len(rows))} of {len(rows)}):")
        for p in rows[: args.show]:
            extra = f" [{p['negative_kind']}]" if "negative_kind" in p else ""
            print(f"    {p['title_a']!r:.60} {p['ops_a']}  ~  {p['title_b']!r:.60} {p['ops_b']}{extra}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"  written: {args.out}")


if __name__ == "__main__":
    main()
