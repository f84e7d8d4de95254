"""The union index's two backends side by side at a modest size: load rate, page-1 latency, size on disk.

The editions are those `benchmarks/local_search.py` generates (same seed, same 200 realistic queries). They are
written into a whoosh folder and into a PostgreSQL database; then every query is asked for page 1 of 20 works
with every facet, on whoosh (warmed), on PostgreSQL with a GIN index on the match vector, and with a RUM index
instead. Figures are printed and written to benchmarks/results/index_backends.json.

    .venv/bin/python benchmarks/index_backends.py --database postgresql://USER@HOST:PORT/DB [--holdings 50000]

The database must exist and be empty (it is filled and left as it is).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import local_search  # noqa: E402  (benchmarks/local_search.py: the generator and the queries)

from connectors.query import parse  # noqa: E402
from indexer.backend import open_index, open_searcher  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "index_backends.json"


class _Collect:
    """Stands in for LocalIndex in local_search.build: keeps the generated works."""

    works: list = []

    @classmethod
    def open(cls, folder, create=False):
        return cls()

    def rebuild(self, works, timeout=0):
        _Collect.works = list(works)

    def close(self):
        pass


def _latency(searcher, queries) -> dict:
    times = []
    for q in queries:
        t = time.perf_counter()
        searcher.search(q, size=local_search.PAGE_SIZE)
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(local_search.percentile(times, 95), 1),
            "max_ms": round(max(times), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--database", required=True, help="an empty PostgreSQL database's URL")
    ap.add_argument("--holdings", type=int, default=50000)
    args = ap.parse_args(argv)
    out: dict = {"holdings": args.holdings}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        real, local_search.LocalIndex = local_search.LocalIndex, _Collect
        try:
            local_search.build(folder, args.holdings)
        finally:
            local_search.LocalIndex = real
        works = _Collect.works
        samples = json.loads((folder / "bench.json").read_text())["samples"]
        queries = [parse(q) for q in local_search.make_queries(samples)]
        out["editions"] = len(works)
        t = time.perf_counter()
        ix = open_index(folder / "whoosh-index", create=True)
        ix.rebuild(works)
        ix.close()
        out["whoosh_load_per_s"] = round(len(works) / (time.perf_counter() - t))
        t = time.perf_counter()
        pg = open_index(args.database, create=True)
        pg.rebuild(works)
        out["postgresql_load_per_s"] = round(len(works) / (time.perf_counter() - t))
        pg.optimize()  # VACUUM: GIN's pending list of the bulk load merged into the index, as after a nightly run
        out["postgresql_bytes"] = pg.stats()["size_bytes"]
        s = open_searcher(folder / "whoosh-index")
        s.warm()
        _latency(s, queries)
        out["whoosh"] = _latency(s, queries)
        s.close()
        s = open_searcher(args.database)
        _latency(s, queries)
        out["postgresql_gin"] = _latency(s, queries)
        out["gin_bytes"] = pg.conn.execute("SELECT pg_relation_size('editions_doc')").fetchone()[0]
        pg.conn.execute("CREATE EXTENSION IF NOT EXISTS rum")
        pg.conn.execute("DROP INDEX editions_doc")
        pg.conn.execute("CREATE INDEX editions_doc_rum ON editions USING rum (doc rum_tsvector_ops)")
        pg.conn.execute("ANALYZE editions")
        _latency(s, queries)
        out["postgresql_rum"] = _latency(s, queries)
        out["rum_bytes"] = pg.conn.execute("SELECT pg_relation_size('editions_doc_rum')").fetchone()[0]
        pg.conn.execute("DROP INDEX editions_doc_rum")
        pg.conn.execute("CREATE INDEX editions_doc ON editions USING gin (doc)")
        s.close()
        pg.close()
    print(json.dumps(out, indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
