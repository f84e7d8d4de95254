"""`balis dedup`: merge the records of MARC files into editions and write one JSON line per cluster.

Each line: {"work_id", "group_id", "records": ["<file>#<0-based position>", ...], "title", "isbns"}.
Every readable record appears in exactly one line (singletons too); an unreadable record is reported
on `err` with its file and position, and the run goes on. Files may be gzip- or bzip2-compressed
(recognised by their first bytes, whatever their name). A file from which no record can be read is
reported by name and makes `run_files` report it, so the command can exit non-zero.
"""

from __future__ import annotations

import bz2
import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

from dedup.work import merge
from records.errors import RecordError
from records.marc import iter_iso2709, iter_marcxml
from records.model import Record
from records.normalise import normalise
from records.repair import MOJIBAKE_WARNING

FORMATS = ("iso2709", "marcxml")
SYNTAXES = ("auto", "marc21", "unimarc")
_GZIP_MAGIC, _BZIP2_MAGIC = b"\x1f\x8b", b"BZh"


def open_input(path: Path) -> BinaryIO:
    """The file's bytes as a stream, decompressed when it is gzip or bzip2 (by its magic bytes)."""
    with open(path, "rb") as fh:
        magic = fh.read(3)
    if magic[:2] == _GZIP_MAGIC:
        return gzip.open(path, "rb")
    if magic == _BZIP2_MAGIC:
        return bz2.open(path, "rb")
    return open(path, "rb")


def sniff_format(path: Path) -> str:
    """'marcxml' when the (decompressed) file starts with '<' after a BOM and whitespace, else 'iso2709'."""
    with open_input(path) as fh:
        head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "marcxml" if head[:1] == b"<" else "iso2709"


def read_file(path: Path, *, fmt: str | None, syntax: str, encoding: str | None,
              label: str) -> Iterator[tuple[int, Record | RecordError]]:
    """(0-based position, Record or RecordError) for each record of one file (plain, .gz or .bz2)."""
    fmt = fmt or sniff_format(path)
    with open_input(path) as stream:
        if fmt == "marcxml":
            raw = iter_marcxml(stream, member=label)
        else:
            raw = iter_iso2709(stream, charset=encoding or "auto", member=label)
        for position, rec in raw:
            pos = position - 1
            if isinstance(rec, RecordError):
                yield pos, rec
                continue
            try:
                yield pos, normalise(rec, syntax=syntax, member=label, record_id=str(pos))
            except RecordError as exc:
                yield pos, exc


@dataclass
class BatchReport:
    """What a run read: unreadable records, files that gave no record at all, and repairs per file."""

    unreadable: int = 0
    empty_files: list[str] = field(default_factory=list)
    double_encoded: dict[str, int] = field(default_factory=dict)  # file -> records repaired


def run(files: list[Path], *, fmt: str | None = None, syntax: str = "auto", encoding: str | None = None,
        out: TextIO, err: TextIO) -> int:
    """Merge the records of `files`, write the clusters as JSON lines to `out`; returns the number of
    unreadable records (each reported on `err` as "<file>#<position>: <what is wrong>")."""
    return run_files(files, fmt=fmt, syntax=syntax, encoding=encoding, out=out, err=err).unreadable


def run_files(files: list[Path], *, fmt: str | None = None, syntax: str = "auto", encoding: str | None = None,
              out: TextIO, err: TextIO) -> BatchReport:
    """`run`, returning the whole report: also the files that gave no record and the records per file
    whose double-encoded UTF-8 was repaired (each such file named on `err` with its count)."""
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use iso2709 or marcxml")
    if syntax not in SYNTAXES:
        raise ValueError(f"unknown syntax {syntax!r}; use auto, marc21 or unimarc")
    report = BatchReport()
    records: list[Record] = []
    labels: list[str] = []
    for path in map(Path, files):
        label = str(path)
        read = repaired = 0
        try:
            for pos, rec in read_file(path, fmt=fmt, syntax=syntax, encoding=encoding, label=label):
                if isinstance(rec, RecordError):
                    report.unreadable += 1
                    err.write(f"{label}#{pos}: unreadable record skipped: {rec}\n")
                else:
                    read += 1
                    repaired += any(w.startswith(MOJIBAKE_WARNING) for w in rec.warnings)
                    records.append(rec)
                    labels.append(f"{label}#{pos}")
        except (OSError, EOFError) as exc:
            report.unreadable += 1
            what = getattr(exc, "strerror", None) or exc
            err.write(f"{label}: cannot read the file ({what}); check the path, or that a .gz/.bz2 file "
                      "is complete\n")
        if not read:
            report.empty_files.append(label)
            err.write(f"{label}: no record could be read from this file; check that it is ISO 2709 or "
                      "MARCXML (--format, --encoding)\n")
        if repaired:
            report.double_encoded[label] = repaired
            err.write(f"{label}: {repaired} record(s) held double-encoded UTF-8 (e.g. 'MÃ¼nchen'); "
                      "repaired\n")
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
    return report
