"""How many records per second read_iso2709 + normalise (and MARCXML + normalise) handle on real records.

Uses the yaz/ (ISO 2709, UTF-8) and loc-cc0/ (MARCXML, re-encoded to ISO 2709 UTF-8 for the ISO run)
test records, repeated to ROUNDS passes. Prints the figures and writes benchmarks/records_throughput.json.
"""

from __future__ import annotations

import glob
import json
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from records.marc import iter_iso2709, iter_marcxml, read_iso2709, read_marcxml  # noqa: E402
from records.normalise import normalise  # noqa: E402

DATA = ROOT / "testbed" / "data" / "marc"


def _iso_records() -> list[bytes]:
    out = []
    for path in sorted(glob.glob(str(DATA / "yaz" / "*.marc"))):
        raw = pathlib.Path(path).read_bytes()
        out.extend(r + b"\x1d" for r in raw.split(b"\x1d") if r.strip())
    for path in sorted(glob.glob(str(DATA / "loc-cc0" / "*.xml"))):
        for _pos, rec in iter_marcxml(path):
            out.append(rec.as_marc())
    return out


def _xml_records() -> list[bytes]:
    from lxml import etree
    out = []
    for path in sorted(glob.glob(str(DATA / "loc-cc0" / "*.xml"))):
        tree = etree.parse(path)
        for el in tree.iter("{http://www.loc.gov/MARC21/slim}record"):
            out.append(etree.tostring(el))
    return out


def _run(label: str, records: list[bytes], read, rounds: int) -> dict:
    start = time.perf_counter()
    n = 0
    for _ in range(rounds):
        for i, data in enumerate(records):
            normalise(read(data), syntax="marc21", member="bench", record_id=str(i))
            n += 1
    elapsed = time.perf_counter() - start
    rate = n / elapsed
    print(f"{label}: {n} records in {elapsed:.2f} s = {rate:,.0f} records/s")
    return {"label": label, "records": n, "seconds": round(elapsed, 3), "records_per_second": round(rate)}


def main(rounds: int = 20) -> None:
    iso = _iso_records()
    xml = _xml_records()
    results = [
        _run("read_iso2709+normalise (yaz + loc as ISO 2709, UTF-8)", iso, read_iso2709, rounds),
        _run("read_marcxml+normalise (loc MARCXML records)", xml, read_marcxml, max(1, rounds // 2)),
        _run("read_iso2709+normalise (MARC-8 CJK, marc-perl)",
             [pathlib.Path(f).read_bytes() for f in sorted(glob.glob(str(DATA / "marc-perl" / "*.marc")))],
             read_iso2709, rounds * 50),
    ]
    stream = b"".join(iso)
    start = time.perf_counter()
    count = sum(1 for _ in iter_iso2709(stream))
    elapsed = time.perf_counter() - start
    print(f"iter_iso2709 only: {count} records in {elapsed:.3f} s = {count / elapsed:,.0f} records/s")
    results.append({"label": "iter_iso2709 only", "records": count, "seconds": round(elapsed, 3),
                    "records_per_second": round(count / elapsed)})
    out = ROOT / "benchmarks" / "records_throughput.json"
    out.write_text(json.dumps({"python": sys.version.split()[0], "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
