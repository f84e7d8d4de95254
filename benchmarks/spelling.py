"""What the union index's spelling suggestions cost in PostgreSQL (indexer/pg/terms.py, migration 0006).

The editions of the local search benchmark's cache (`var/bench/local_search/works-h1000000.bin`, made by
`benchmarks/local_search.py`) are loaded into a fresh database of a private cluster (var/bench/pg-spelling), the
first --editions of them. Measured:

- the rebuild, and the part of it that counts the words again (`terms.REFRESH`, timed alone afterwards);
- an incremental write of --batch editions (replaced in place) with the word-count triggers and without them;
- `PgSearcher.suggest` for 200 misspellings (a letter dropped, two swapped, one changed) of words the index holds:
  p50 / p95 / max, and how many found a spelling;
- the size of `index_terms`.

Prints the figures and writes benchmarks/results/spelling-e<editions>.json.

    .venv/bin/python benchmarks/spelling.py                     # 100,000 editions
    .venv/bin/python benchmarks/spelling.py --editions 257970   # the whole 1,000,000-holding index
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.local_search import read_editions  # noqa: E402
from benchmarks.pg_cluster import cluster, drop_database  # noqa: E402


def misspellings(words: list[str], n: int, seed: int = 11) -> list[str]:
    rnd = random.Random(seed)
    known, out = set(words), []
    while len(out) < n:
        w = rnd.choice(words)
        i = rnd.randrange(1, len(w) - 1)
        typo = rnd.choice([w[:i] + w[i + 1:], w[:i - 1] + w[i] + w[i - 1] + w[i + 1:], w[:i] + "q" + w[i + 1:]])
        if typo not in known and len(typo) >= 4:
            out.append(typo)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--editions", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1_000, help="editions replaced by the incremental write")
    ap.add_argument("--cache", default=str(ROOT / "var" / "bench" / "local_search" / "works-h1000000.bin"))
    ap.add_argument("--cluster", default=str(ROOT / "var" / "bench" / "pg-spelling"))
    args = ap.parse_args(argv)

    import psycopg

    from indexer.backend import open_index, open_searcher
    from indexer.pg import terms
    from indexer.pg.index import connection_url

    cache = Path(args.cache)
    if not cache.exists():
        raise SystemExit(f"{cache} is missing: run benchmarks/local_search.py once (it caches the editions)")
    out: dict = {"editions": args.editions, "batch": args.batch, "load_average": os.getloadavg()}
    with cluster(Path(args.cluster), f"spelling_e{args.editions}") as url:
        drop_database(url)
        ix = open_index(url, create=True)
        t = time.perf_counter()
        ix.rebuild(itertools.islice(read_editions(cache), args.editions))
        out["rebuild_s"] = round(time.perf_counter() - t, 1)
        conn = ix.conn
        with conn.transaction(), conn.cursor() as cur:
            t = time.perf_counter()
            terms.refresh(cur)
            out["recount_s"] = round(time.perf_counter() - t, 2)
        conn.execute("VACUUM ANALYZE index_terms")
        out["index_terms_rows"], out["index_terms_mb"] = conn.execute(
            "SELECT count(*), round(pg_total_relation_size('index_terms') / 1048576.0, 1) FROM index_terms").fetchone()
        out["index_terms_mb"] = float(out["index_terms_mb"])

        batch = list(itertools.islice(read_editions(cache), args.batch))
        timings: dict[str, list[float]] = {"with_triggers": [], "without_triggers": []}
        for _ in range(3):
            for mode in ("without_triggers", "with_triggers"):
                conn.execute(f"ALTER TABLE editions {'DISABLE' if mode == 'without_triggers' else 'ENABLE'} "
                             "TRIGGER USER")
                t = time.perf_counter()
                ix.write(upsert=batch)
                timings[mode].append(time.perf_counter() - t)
        conn.execute("ALTER TABLE editions ENABLE TRIGGER USER")
        with conn.transaction(), conn.cursor() as cur:
            terms.refresh(cur)  # the counts the disabled runs left behind
        out["write_s"] = {k: round(statistics.median(v), 3) for k, v in timings.items()}
        ix.close()

        with psycopg.connect(connection_url(url)) as c:
            words = [r[0] for r in c.execute("SELECT word FROM index_terms WHERE field = 'A' AND word ~ '^[a-z]{5,}$' "
                                             "ORDER BY word")]
        typos = misspellings(words, 200)
        with open_searcher(url) as s:
            s.suggest([typos[0]])  # warm
            lat, found = [], 0
            for typo in typos:
                t = time.perf_counter()
                got = s.suggest([typo])
                lat.append((time.perf_counter() - t) * 1000)
                found += bool(got)
        lat.sort()
        out["suggest_ms"] = {"p50": round(lat[len(lat) // 2], 1), "p95": round(lat[int(len(lat) * 0.95)], 1),
                             "max": round(lat[-1], 1)}
        out["suggest_found"] = f"{found} of {len(typos)}"
    out["load_average_after"] = os.getloadavg()
    print(json.dumps(out, indent=1))
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / f"spelling-e{args.editions}.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
