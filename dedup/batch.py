"""`balis dedup`: merge the records of MARC files into editions and write one JSON line per cluster.

Each line: {"work_id", "group_id", "records": ["<file>#<0-based position>", ...], "title", "isbns"}.
Every readable record appears in exactly one line (singletons too); an unreadable record is reported
on `err` with its file and position, and the run goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from dedup.work import merge
from records.errors import RecordError
from records.marc import iter_iso2709, iter_marcxml
from records.model import Record
from records.normalise import normalise

FORMATS = ("iso2709", "marcxml")
SYNTAXES = ("auto", "marc21", "unimarc")


def sniff_format(path: Path) -> str:
    """'marcxml' when the file starts with '<' (after a BOM and whitespace), else 'iso2709'."""
    with open(path, "rb") as fh:
        head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "marcxml" if head[:1] == b"<" else "iso2709"


def read_file(path: Path, *, fmt: str | None, syntax: str, encoding: str | None,
              label: str) -> Iterator[tuple[int, Record | RecordError]]:
    """(0-based position, Record or RecordError) for each record of one file."""
    fmt = fmt or sniff_format(path)
    if fmt == "marcxml":
        raw = iter_marcxml(path, member=label)
    else:
        raw = iter_iso2709(path, charset=encoding or "auto", member=label)
    for position, rec in raw:
        pos = position - 1
        if isinstance(rec, RecordError):
            yield pos, rec
            continue
        try:
            yield pos, normalise(rec, syntax=syntax, member=label, record_id=str(pos))
        except RecordError as exc:
            yield pos, exc


def run(files: list[Path], *, fmt: str | None = None, syntax: str = "auto", encoding: str | None = None,
        out: TextIO, err: TextIO) -> int:
    """Merge the records of `files`, write the clusters as JSON lines to `out`; returns the number of
    unreadable records (each reported on `err` as "<file>#<position>: <what is wrong>")."""
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use iso2709 or marcxml")
    if syntax not in SYNTAXES:
        raise ValueError(f"unknown syntax {syntax!r}; use auto, marc21 or unimarc")
    records: list[Record] = []
    labels: list[str] = []
    bad = 0
    for path in map(Path, files):
        label = str(path)
        try:
            for pos, rec in read_file(path, fmt=fmt, syntax=syntax, encoding=encoding, label=label):
                if isinstance(rec, RecordError):
                    bad += 1
                    err.write(f"{label}#{pos}: unreadable record skipped: {rec}\n")
                else:
                    records.append(rec)
                    labels.append(f"{label}#{pos}")
        except OSError as exc:
            bad += 1
            err.write(f"{label}: cannot read the file ({exc.strerror or exc}); check the path\n")
    index = {id(r): i for i, r in enumerate(records)}
    for work in merge(records):
        line = {
            "work_id": work.work_id,
            "group_id": work.group_id,
            "records": [labels[index[id(r)]] for r in work.records],
            "title": work.display.title,
            "isbns": work.isbns,
        }
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return bad
