"""KBART (NISO RP-9-2014): a member's e-journal holdings as publishers and knowledge bases exchange them.

Pure. `read_kbart(text)` reads the tab-separated file (header row of the standard's column names, UTF-8, one
title per line) into `KbartTitle`s; a line that cannot be read raises `KbartError` naming the line, the
column and what to write instead. `KbartTitle.covers(year, volume, today)` says whether the licence gives that
year and volume, with the embargo (`embargo_info`, e.g. "P6M", "R1Y", "P1Y;R10Y") counted from `today`.
"""

from __future__ import annotations

import calendar
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from records.errors import RecordError
from records.identifiers import parse_isbn, parse_issn

__all__ = ["KBART_COLUMNS", "REQUIRED", "KbartError", "KbartTitle", "Embargo", "parse_embargo", "read_kbart"]

# The standard's columns, in its order (RP-9-2014 §6.6); a file may add its own after them.
KBART_COLUMNS = ("publication_title", "print_identifier", "online_identifier", "date_first_issue_online",
                 "num_first_vol_online", "num_first_issue_online", "date_last_issue_online",
                 "num_last_vol_online", "num_last_issue_online", "title_url", "first_author", "title_id",
                 "embargo_info", "coverage_depth", "notes", "publisher_name", "publication_type",
                 "date_monograph_published_print", "date_monograph_published_online", "monograph_volume",
                 "monograph_edition", "first_editor", "parent_publication_title_id",
                 "preceding_publication_title_id", "access_type")
REQUIRED = ("publication_title", "print_identifier", "online_identifier", "date_first_issue_online",
            "date_last_issue_online", "embargo_info")
DEPTHS = ("fulltext", "abstracts", "selected articles", "ebook")  # coverage_depth values (lower case)
MAX_LINES = 500_000


class KbartError(RecordError):
    """A KBART file that cannot be read: the message names the line and column, and what the standard wants."""

    def __init__(self, message: str, *, line: int | None = None, column: str | None = None,
                 member: str | None = None):
        where = ", ".join(x for x in (f"line {line}" if line else "", f"column {column}" if column else "") if x)
        super().__init__(f"{where}: {message}" if where else message, member=member)
        self.line, self.column = line, column


@dataclass(frozen=True, slots=True)
class Embargo:
    """A moving wall: `kind` P (the newest `amount` `unit`s are not available) or R (only the newest are)."""

    kind: str  # "P" | "R"
    amount: int
    unit: str  # "D" | "M" | "Y"

    def bound(self, today: date) -> date:
        """For P: the last date available; for R: the first date available. Years count whole calendar years
        (P1Y: nothing of this year; R1Y: only this year), days and months roll from today."""
        if self.unit == "Y":
            if self.kind == "P":
                return date(today.year - self.amount, 12, 31)
            return date(today.year - self.amount + 1, 1, 1)
        if self.unit == "M":
            month = today.month - self.amount
            year = today.year + (month - 1) // 12
            month = (month - 1) % 12 + 1
            return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))
        return date.fromordinal(today.toordinal() - self.amount)

    def text(self) -> str:
        unit = {"D": "天", "M": "个月", "Y": "年"}[self.unit]
        return (f"最新 {self.amount} {unit}不可用（embargo {self.kind}{self.amount}{self.unit}）" if self.kind == "P"
                else f"仅最近 {self.amount} {unit}可用（{self.kind}{self.amount}{self.unit}）")


_EMBARGO = re.compile(r"^([PR])(\d{1,4})([DMY])$")


def parse_embargo(text: str) -> tuple[Embargo, ...]:
    """"P6M", "R1Y", "P1Y;R10Y" → Embargo values; "" → (); ValueError for anything else."""
    out = []
    for part in (p.strip().upper() for p in (text or "").split(";")):
        if not part:
            continue
        m = _EMBARGO.match(part)
        if not m:
            raise ValueError(f"{part!r} is not an embargo: write P or R, a number and D, M or Y (P6M, R1Y, "
                             "P1Y;R10Y), or leave it empty")
        out.append(Embargo(m.group(1), int(m.group(2)), m.group(3)))
    kinds = [e.kind for e in out]
    if len(out) > 2 or len(set(kinds)) != len(kinds):
        raise ValueError(f"{text!r}: at most one P and one R embargo, separated by ';'")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class KbartTitle:
    """One serial of a package: its identifiers, the online run and the embargo."""

    title: str
    print_issn: str = ""
    online_issn: str = ""
    first_date: str = ""  # YYYY, YYYY-MM or YYYY-MM-DD as written
    first_volume: str = ""
    last_date: str = ""  # empty: to the present
    last_volume: str = ""
    embargo: str = ""
    coverage_depth: str = "fulltext"
    title_url: str = ""
    title_id: str = ""
    publisher: str = ""
    publication_type: str = "serial"

    @property
    def issns(self) -> tuple[str, ...]:
        return tuple(x for x in (self.print_issn, self.online_issn) if x)

    def window(self, today: date) -> tuple[date | None, date | None]:
        """The first and last dates the licence gives now (None: no bound), embargo applied."""
        first = _date(self.first_date, start=True)
        last = _date(self.last_date, start=False) if self.last_date else None
        for e in parse_embargo(self.embargo):
            bound = e.bound(today)
            if e.kind == "P":
                last = bound if last is None or bound < last else last
            else:
                first = bound if first is None or bound > first else first
        return first, last

    def covers(self, year: int, volume: int | None, today: date) -> bool | None:
        """Whether the licence gives that year (and volume, when the package numbers its run) today; None
        when the coverage depth is not full text (abstracts only: not a copy to deliver)."""
        if self.coverage_depth and self.coverage_depth.lower() not in ("fulltext", "selected articles"):
            return None
        first, last = self.window(today)
        if first is not None and date(year, 12, 31) < first:
            return False
        if last is not None and date(year, 1, 1) > last:
            return False
        if volume is not None:
            lo, hi = _int(self.first_volume), _int(self.last_volume)
            if lo is not None and volume < lo:
                return False
            if hi is not None and self.last_date and volume > hi:
                return False
        return True

    def coverage_text(self, today: date) -> str:
        first, last = self.window(today)
        run = (f"{self.first_date or '?'}" + (f"（v.{self.first_volume}）" if self.first_volume else "")
               + f" 至 {self.last_date or '今'}" + (f"（v.{self.last_volume}）" if self.last_volume else ""))
        if self.embargo:
            embargo = "；".join(e.text() for e in parse_embargo(self.embargo))
            run += f"，{embargo}，今日可用 {first.isoformat() if first else '…'} 至 {last.isoformat() if last else '今'}"
        return run


def _int(text: str) -> int | None:
    m = re.match(r"\s*(\d+)", text or "")
    return int(m.group(1)) if m else None


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _date(text: str, *, start: bool) -> date | None:
    m = _DATE.match((text or "").strip())
    if not m:
        return None
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else (1 if start else 12)
    if m.group(3):
        return date(year, month, int(m.group(3)))
    return date(year, month, 1 if start else calendar.monthrange(year, month)[1])


def _check_date(value: str, line: int, column: str) -> str:
    v = value.strip()
    if not v:
        return ""
    m = _DATE.match(v)
    try:
        ok = m is not None and _date(v, start=True) is not None
    except ValueError:
        ok = False
    if not ok:
        raise KbartError(f"{value!r} is not a date: write YYYY, YYYY-MM or YYYY-MM-DD (e.g. 1998-01-01)",
                         line=line, column=column)
    return v


def _check_issn(value: str, line: int, column: str, kind: str) -> str:
    v = value.strip()
    if not v:
        return ""
    issn = parse_issn(v)
    if issn and len(re.sub(r"[^0-9Xx]", "", v)) == 8:
        return issn
    isbn = parse_isbn(v)  # monographs in a package carry an ISBN here
    if isbn is not None and isbn.valid:
        return ""
    raise KbartError(f"{value!r} is not a valid {kind} ISSN (8 characters, the last a check digit: 0378-5955)",
                     line=line, column=column)


def read_kbart(text: str | bytes) -> Iterator[KbartTitle]:
    """The titles of a KBART file, in order; KbartError at the first line that cannot be read."""
    if isinstance(data := text, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise KbartError(f"the file is not UTF-8 (byte {exc.start}); KBART files are UTF-8: save it as UTF-8 "
                             "and import again") from None
    data = data.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(data), delimiter="\t", quoting=csv.QUOTE_NONE, strict=False)
    try:
        header = next(reader)
    except StopIteration:
        raise KbartError("the file is empty; a KBART file starts with a header row of column names", line=1) from None
    names = [h.strip().lower() for h in header]
    if len(names) < 2:
        raise KbartError("the header row has no tabs: a KBART file is tab-separated (not commas or spaces)", line=1)
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise KbartError(f"the header lacks {', '.join(missing)}; the first row must name the KBART columns "
                         f"(publication_title, print_identifier, online_identifier, …)", line=1)
    col = {n: i for i, n in enumerate(names) if n}
    for number, row in enumerate(reader, start=2):
        if number > MAX_LINES:
            raise KbartError(f"more than {MAX_LINES:,} lines; split the file by package", line=number)
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(names) and any(c.strip() for c in row[len(names):]):
            raise KbartError(f"{len(row)} columns, the header has {len(names)}: a tab inside a value? KBART "
                             "values cannot contain tabs", line=number)

        def cell(name: str, row=row) -> str:
            i = col.get(name)
            return row[i].strip() if i is not None and i < len(row) else ""

        title = cell("publication_title")
        if not title:
            raise KbartError("publication_title is empty; every line names its title", line=number,
                             column="publication_title")
        depth = cell("coverage_depth").lower() or "fulltext"
        if depth not in DEPTHS:
            raise KbartError(f"{cell('coverage_depth')!r} is not a coverage depth: write fulltext, abstracts, "
                             "selected articles or ebook", line=number, column="coverage_depth")
        embargo = cell("embargo_info")
        try:
            parse_embargo(embargo)
        except ValueError as exc:
            raise KbartError(str(exc), line=number, column="embargo_info") from None
        first_date = _check_date(cell("date_first_issue_online"), number, "date_first_issue_online")
        last_date = _check_date(cell("date_last_issue_online"), number, "date_last_issue_online")
        if first_date and last_date and _date(last_date, start=False) < _date(first_date, start=True):
            raise KbartError(f"date_last_issue_online {last_date} is before date_first_issue_online {first_date}",
                             line=number, column="date_last_issue_online")
        for name in ("num_first_vol_online", "num_last_vol_online"):
            if cell(name) and _int(cell(name)) is None:
                raise KbartError(f"{cell(name)!r} is not a volume number", line=number, column=name)
        yield KbartTitle(
            title=title, print_issn=_check_issn(cell("print_identifier"), number, "print_identifier", "print"),
            online_issn=_check_issn(cell("online_identifier"), number, "online_identifier", "online"),
            first_date=first_date, first_volume=cell("num_first_vol_online"), last_date=last_date,
            last_volume=cell("num_last_vol_online"), embargo=embargo.upper(), coverage_depth=depth,
            title_url=cell("title_url"), title_id=cell("title_id"), publisher=cell("publisher_name"),
            publication_type=cell("publication_type").lower() or "serial")
