"""What reading serial holdings and citations costs, on real records and realistic text.

- normalise() per record on the real MARCXML records of testbed/data/marc/loc-cc0 (693 records, 109 of them
  serials), and the part of it that reads serial holdings (records.holdings.serial_holdings);
- parse_coverage() per statement (cache cleared) on the 852 $3 / 362 statements of those records;
- parse_citation() per citation on the test file's pasted citations.

Prints the figures and writes benchmarks/results/document_delivery.json. Run: .venv/bin/python
benchmarks/document_delivery.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from records.citation import parse_citation  # noqa: E402
from records.coverage import parse_coverage  # noqa: E402
from records.holdings import serial_holdings  # noqa: E402
from records.marc import iter_marcxml  # noqa: E402
from records.normalise import normalise  # noqa: E402

DATA = ROOT / "testbed" / "data" / "marc" / "loc-cc0"


def _by_tag(rec) -> dict:
    out: dict = {}
    for f in rec.fields:
        out.setdefault(f.tag, []).append(f)
    return out


def _best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    records = [rec for path in sorted(DATA.glob("*.xml")) for _, rec in iter_marcxml(path) if not
               isinstance(rec, Exception)]
    serials = [r for r in records if r.leader[7] in "si"]
    statements = [v for r in serials for tag, code in (("852", "3"), ("362", "a")) for f in r.get_fields(tag)
                  for v in f.get_subfields(code) if any(ch.isdigit() for ch in v)]
    sys.path.insert(0, str(ROOT / "tests" / "records"))
    from test_citation import CASES  # the pasted citations of the tests

    citations = [c[0] for c in CASES]

    t_norm = _best(lambda: [normalise(r, syntax="marc21", member="X") for r in records], args.rounds)
    by_tags = [_by_tag(r) for r in records]  # as normalise() hands them over
    t_serial = _best(lambda: [serial_holdings(r, member="X", by_tag=t) for r, t in zip(records, by_tags, strict=True)],
                     args.rounds)

    def coverage_uncached():
        parse_coverage.cache_clear()
        for s in statements:
            parse_coverage(s)

    t_cov = _best(coverage_uncached, args.rounds)
    t_cit = _best(lambda: [parse_citation(c) for c in citations], args.rounds)
    figures = {
        "records": len(records), "serial_records": len(serials), "statements": len(statements),
        "citations": len(citations), "rounds": args.rounds,
        "normalise_us_per_record": round(t_norm / len(records) * 1e6, 1),
        "serial_holdings_us_per_record": round(t_serial / len(records) * 1e6, 2),
        "serial_holdings_share_of_normalise": round(t_serial / t_norm, 4),
        "parse_coverage_us_per_statement": round(t_cov / len(statements) * 1e6, 1),
        "parse_citation_us_per_citation": round(t_cit / len(citations) * 1e6, 1),
        "readable_statements": sum(parse_coverage(s).readable for s in statements),
        "median_citation_missing_fields": statistics.median(len(parse_citation(c).missing) for c in citations),
    }
    for k, v in figures.items():
        print(f"{k:40} {v}")
    out = ROOT / "benchmarks" / "results" / "document_delivery.json"
    out.parent.mkdir(parents=True, exist_ok=True)  # benchmarks/results is not kept in the repository
    out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
