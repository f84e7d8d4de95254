"""yaz-client, the reference Z39.50 client, driven from Python: hit counts and raw records to compare against."""

from __future__ import annotations

import re
import subprocess
import tempfile
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(slots=True)
class YazResult:
    """What yaz-client saw: the hit count (None if the search failed), ISO 2709 records, diagnostics, output."""

    hits: int | None
    records: list[bytes] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)
    output: str = ""


def split_iso2709(data: bytes) -> list[bytes]:
    """Split concatenated ISO 2709 records by the record length in each leader."""
    out, pos = [], 0
    while pos + 24 <= len(data):
        try:
            length = int(data[pos:pos + 5])
        except ValueError:
            break
        if length < 24:
            break
        out.append(data[pos:pos + length])
        pos += length
    return out


def yaz_search(port: int, query: str, *, syntax: str | None = None, show: int = 0, start: int = 1,
               element_set: str | None = None, database: str = "Default", host: str = "127.0.0.1",
               timeout: float = 60.0) -> YazResult:
    """`find QUERY` (PQF) on host:port/database, then `show start+show` in `syntax` (usmarc, unimarc, xml)."""
    with tempfile.TemporaryDirectory() as tmp:
        marc_file = Path(tmp) / "records.mrc"
        lines = [f"open tcp:{host}:{port}/{database}", f"find {query}"]
        if syntax:
            lines.append(f"format {syntax}")
        if element_set:
            lines.append(f"elements {element_set}")
        if show:
            lines.append(f"show {start}+{show}")
        lines.append("quit")
        proc = subprocess.run(["yaz-client", "-m", str(marc_file)], input="\n".join(lines).encode() + b"\n",
                              capture_output=True, timeout=timeout)
        output = proc.stdout.decode("utf-8", "replace")
        data = marc_file.read_bytes() if marc_file.exists() else b""
    found = re.search(r"Number of hits: (\d+)", output)
    hits = int(found.group(1)) if found and "bloomin' failure" not in output else None
    diagnostics = re.findall(r"\[(\d+)\] ([^\n]*)", output)
    records = split_iso2709(data) if syntax in (None, "usmarc", "unimarc", "marc21") else [data] if data else []
    return YazResult(hits, records, [f"{c} {m}" for c, m in diagnostics], output)


def sru_search(port: int, query: str, *, maximum: int = 10, start: int = 1, version: str = "1.2",
               schema: str = "marcxml", database: str = "Default", host: str = "127.0.0.1",
               timeout: float = 30.0) -> bytes:
    """One SRU searchRetrieve over HTTP GET; returns the response body."""
    q = urllib.parse.urlencode({"version": version, "operation": "searchRetrieve", "query": query,
                                "maximumRecords": maximum, "startRecord": start, "recordSchema": schema})
    with urllib.request.urlopen(f"http://{host}:{port}/{database}?{q}", timeout=timeout) as resp:
        return resp.read()
