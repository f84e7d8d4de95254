"""Serial holdings coverage: which years, volumes and issues of a journal a member holds, read from the
statements members really write.

Pure. `parse_coverage(statement)` reads MARC 21 866 textual holdings and the forms seen in 852 $3, 362 and
Chinese catalogues — "1990-2005, 2008-", "v.1(1980)-v.25(2004)", "1-12 (1995-2006)", "v.3-10; v.12-",
"Vol. 52 (1933)-issue 24 (2011)", "1.1984 - 189.2009", "1990-2005年", "1985年第1期-2010年第6期",
"第1卷(1980)-第25卷(2004)", "1980,no.1-", with gaps ("缺1998年", "Deficient: 1991, no.2", "lacking v.5") — into
`Span`s; "现刊" (the current issues) marks a coverage `current`, and a whole-run number ("总第1期-") says no year;
`coded_coverage` reads 853/863 caption-and-pattern pairs. `Coverage.covers(year, volume, issue)` answers
True, False, or None when the statement cannot say (volumes only and no volume asked, or nothing readable).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Span", "Coverage", "parse_coverage", "coded_coverage", "merge"]


@dataclass(frozen=True, slots=True)
class Span:
    """One run of a serial, from its first to its last volume/year; `open_end`: still received ("1990-")."""

    first_year: int | None = None
    last_year: int | None = None
    first_volume: int | None = None
    last_volume: int | None = None
    first_issue: int | None = None
    last_issue: int | None = None
    open_end: bool = False

    @property
    def has_years(self) -> bool:
        return self.first_year is not None or self.last_year is not None

    @property
    def has_volumes(self) -> bool:
        return self.first_volume is not None or self.last_volume is not None

    def _year_ok(self, year: int | None) -> bool | None:
        if year is None or not self.has_years:
            return None
        lo = self.first_year if self.first_year is not None else self.last_year
        hi = self.last_year if self.last_year is not None else (None if self.open_end else self.first_year)
        return (lo is None or year >= lo) and (hi is None or year <= hi)

    def _volume_ok(self, volume: int | None) -> bool | None:
        if volume is None or not self.has_volumes:
            return None
        lo = self.first_volume if self.first_volume is not None else self.last_volume
        hi = self.last_volume
        if hi is None:
            hi = None if (self.open_end or self.has_years) else self.first_volume
        return (lo is None or volume >= lo) and (hi is None or volume <= hi)

    def match(self, year: int | None, volume: int | None) -> bool | None:
        """True when the year (and volume, when both are known) fall inside; None when nothing can be compared."""
        checks = [c for c in (self._year_ok(year), self._volume_ok(volume)) if c is not None]
        if not checks:
            return None
        return all(checks)

    def text(self) -> str:
        first = _end_text(self.first_year, self.first_volume, self.first_issue)
        last = _end_text(self.last_year, self.last_volume, self.last_issue)
        if self.open_end:
            return f"{first}-"
        if last and last != first:
            return f"{first}-{last}"
        return first


def _end_text(year: int | None, volume: int | None, issue: int | None) -> str:
    enum = ":".join(x for x in (f"v.{volume}" if volume is not None else "",
                                f"no.{issue}" if issue is not None else "") if x)
    if year is None:
        return enum
    return f"{enum}({year})" if enum else str(year)


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a holdings statement says: held runs, gaps, and any part that could not be read."""

    statement: str
    spans: tuple[Span, ...] = ()
    gaps: tuple[Span, ...] = ()
    unread: tuple[str, ...] = ()
    current: bool = False  # "现刊": the current issues too (which year that is, the statement does not say)

    @property
    def readable(self) -> bool:
        return bool(self.spans) or self.current

    def covers(self, year: int | None, volume: int | None = None, issue: int | None = None) -> bool | None:
        """Whether the member holds that year/volume (and issue, for gaps of single issues): True, False, or None
        when the statement cannot say."""
        answers = [s.match(year, volume) for s in self.spans]
        if True in answers:
            for gap in self.gaps:
                if gap.match(year, volume) is True and _issue_in(gap, issue):
                    return False
            return True
        if False in answers and all(a is False for a in answers):
            return None if self.current else False  # the year asked may be the current one
        if not answers:
            return None
        return None if None in answers else False

    def text(self) -> str:
        held = ", ".join([*(s.text() for s in self.spans), *(["现刊"] if self.current else [])]) or "?"
        return held + ("; 缺 " + ", ".join(g.text() for g in self.gaps) if self.gaps else "")


def _issue_in(gap: Span, issue: int | None) -> bool:
    """A gap of whole years/volumes always applies; a gap of some issues only when that issue is asked for."""
    if gap.first_issue is None and gap.last_issue is None:
        return True
    if issue is None:
        return False
    lo = gap.first_issue if gap.first_issue is not None else gap.last_issue
    hi = gap.last_issue if gap.last_issue is not None else gap.first_issue
    return lo <= issue <= hi


# ---------------------------------------------------------------- reading one statement

_GAP_WORDS = re.compile(r"(?:缺(?:藏|期|刊)?|deficient|lacking|lacks|wanting|missing|not held|incomplete)\s*[:：]?\s*",
                        re.IGNORECASE)
_NOTE_TAIL = re.compile(r"\*{2,}.*$|\bsee\b.*$|\bcurrent\s+\w+\s+only\b.*$", re.IGNORECASE)
_PAREN = re.compile(r"\(([^()]*)\)")
_YEAR = r"(?:1[5-9]\d\d|20\d\d)"
_CHRON_RANGE = re.compile(rf"^\s*(?:[^\d()]*?)({_YEAR})(?:[^\d()]*?)\s*-\s*(?:[^\d()]*?)({_YEAR}|\d\d)?(?:[^\d()]*)$")
_VOL = re.compile(r"(?<![A-Za-z])(?:v|vol|vols|bd|band|jahrg|jg|t|tome|tom)\s*\.?\s*(\d+)|卷\s*(\d+)|第\s*(\d+)\s*卷|"
                  r"(\d+)\s*卷", re.IGNORECASE)
_ISS = re.compile(r"(?<![A-Za-z])(?:no|nos|issue|iss|h|heft|nr)\s*\.?\s*(\d+)|期\s*(\d+)|第\s*(\d+)\s*期|(\d+)\s*期",
                  re.IGNORECASE)
_YEAR_IN = re.compile(rf"(?<!\d)({_YEAR})(?!\d)")
_VOL_DOT_YEAR = re.compile(rf"^(\d{{1,4}})\s*[.=]\s*({_YEAR})$")  # ZDB/DNB "1.1984"
_YEAR_COMMA_ISSUE = re.compile(rf"^({_YEAR})\s*,\s*(\d{{1,3}})$")  # "2008,1"
_BARE = re.compile(r"^\d+$")
_NEW_SERIES = re.compile(r"^(?:n\.\s*f\.|n\.\s*s\.|new\s+ser(?:ies)?\.?|ser\.\s*\d+|新\s*\d*\s*辑)\s*", re.IGNORECASE)


def _clean(text: str) -> str:
    s = unicodedata.normalize("NFKC", text or "")
    s = s.replace("—", "-").replace("–", "-").replace("~", "-").replace("～", "-").replace("至", "-")
    s = s.replace("、", ",").replace("；", ";").replace("。", ".")
    s = re.sub(r"\s+", " ", s)
    s = re.sub(r"第\s*(\d+)\s*-\s*(\d+)\s*([卷期])", r"第\1\3-第\2\3", s)  # "第1-20卷": both ends are volumes
    return s.strip().strip(".;, ")


@dataclass(slots=True)
class _End:
    year: int | None = None
    volume: int | None = None
    issue: int | None = None

    def empty(self) -> bool:
        return self.year is None and self.volume is None and self.issue is None


def _endpoint(text: str, *, bare_is: str = "auto") -> _End:
    """One end of a range: "v.25(2004)", "2010年第6期", "1.1984", "No. 23 (Oct. 1991)", "1990", "12"."""
    s = _NEW_SERIES.sub("", text.strip().strip(",.;:"))
    s = s.replace("年", " ").strip()
    out = _End()
    if m := _VOL_DOT_YEAR.match(s):
        return _End(int(m.group(2)), int(m.group(1)))
    if m := _YEAR_COMMA_ISSUE.match(s):
        return _End(int(m.group(1)), None, int(m.group(2)))
    chron = " ".join(_PAREN.findall(s))
    enum = _PAREN.sub(" ", s)
    if m := _VOL.search(enum):
        out.volume = int(next(g for g in m.groups() if g))
        enum = enum[: m.start()] + " " + enum[m.end():]
    if m := _ISS.search(enum):
        out.issue = int(next(g for g in m.groups() if g))
        enum = enum[: m.start()] + " " + enum[m.end():]
    years = _YEAR_IN.findall(chron) or _YEAR_IN.findall(enum)
    if years:
        out.year = int(years[-1])
        enum = _YEAR_IN.sub(" ", enum)
    rest = enum.strip(" ,.:/")
    if _BARE.match(rest) and out.volume is None:
        n = int(rest)
        if bare_is == "year" or (bare_is == "auto" and 1500 <= n <= 2100 and out.year is None):
            out.year = n
        elif out.issue is None and out.year is not None and bare_is != "volume":
            out.issue = n  # "2008 3": year, issue
        else:
            out.volume = n
    return out


def _split_top(text: str, sep: str) -> list[str]:
    """`text` split at `sep` outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _pieces(text: str) -> list[str]:
    """Runs of a statement: split at ";" and at "," where a new run starts (not "1991, no.2")."""
    out: list[str] = []
    text = re.sub(r"\.\s+(?=(?:no|nos|issue|iss|heft|nr)\b)", "; ", text, flags=re.IGNORECASE)  # "Vol.78-98. No.935-"
    for part in _split_top(text, ";"):
        chunks = _split_top(part, ",")
        cur = ""
        for chunk in chunks:
            c = chunk.strip()
            starts_run = bool(re.match(rf"^(?:{_YEAR}|v\b|v\.|vol|bd|第|\d+\s*[.-]|\d+$|n\.\s*f)", c, re.IGNORECASE))
            continues = bool(re.match(r"^(?:no|nos|issue|iss|h\.|heft|nr|第\s*\d+\s*期|\d+\s*期)", c, re.IGNORECASE))
            if cur and re.search(rf"(?<!\d){_YEAR}\s*$", cur) and re.match(r"^\d{1,2}(?!\d)", c):
                continues = True  # "1977,1": a year and its issue
            if cur and re.fullmatch(rf"{_YEAR}(?:\s*-\s*\d{{2,4}})?", c) and not _YEAR_IN.search(cur):
                continues = True  # "no.1121-22, 1989": issues and the year they are in
            if cur and (continues or not starts_run):
                cur += ", " + c
            else:
                if cur:
                    out.append(cur)
                cur = c
        if cur:
            out.append(cur)
    return [p.strip(" .") for p in out if p.strip(" .")]


def _span(piece: str) -> Span | None:
    s = piece.strip()
    s = re.sub(r"年\s*-", "-", s)  # "1990年-2005年"
    s = re.sub(r"^(?:馆藏|holdings?|library has|held)\s*[:：]?\s*", "", s, flags=re.IGNORECASE)
    s = _NEW_SERIES.sub("", s)
    # a parenthesised range of years is the chronology of the whole run: "v.1-25 (1980-2004)", "1-12 (1995-2006)"
    chron_first = chron_last = None
    chron_open = False
    lead = re.match(rf"^({_YEAR})\s*-\s*({_YEAR})?\s*年?\s+(?=\S*?(?:第|卷|v\b|v\.|vol))", s, re.IGNORECASE)
    if lead:  # "2001-2010年 第1-20卷": the years of the run, then its volumes
        chron_first = int(lead.group(1))
        chron_last = int(lead.group(2)) if lead.group(2) else None
        chron_open = lead.group(2) is None
        s = s[lead.end():]
    for m in _PAREN.finditer(s) if not lead else ():
        c = _CHRON_RANGE.match(m.group(1))
        if c:
            chron_first = int(c.group(1))
            last = c.group(2)
            if last is None:
                chron_open = True
            else:
                chron_last = int(last) if len(last) == 4 else (chron_first // 100) * 100 + int(last)
            s = (s[: m.start()] + " " + s[m.end():]).strip()
            break
    sides = _split_top(s, "-")
    if len(sides) > 2:  # "1985-86-1995-1996": keep the outer ends
        sides = [sides[0], sides[-1]] if not sides[-1].strip() else ["-".join(sides[:2]), "-".join(sides[2:])]
    left = sides[0].strip()
    right = sides[1].strip() if len(sides) > 1 else None
    if not left and right is None:
        return None
    a = _endpoint(left)
    if right is None:
        b = _End(a.year, a.volume, a.issue)
        open_end = chron_open
    elif right == "":
        b, open_end = _End(), True
    else:
        if a.year is not None and a.volume is None and a.issue is None and re.fullmatch(r"\d{2}", right):
            b = _End(year=(a.year // 100) * 100 + int(right))  # "1985-86"
        elif a.year is not None and a.volume is None and re.fullmatch(r"\d{4}", right.replace("年", "").strip()):
            b = _End(year=int(right.replace("年", "").strip()))
        else:
            kind = "volume" if a.volume is not None else ("issue" if a.issue is not None and a.year is None
                                                           else "auto")
            b = _endpoint(right, bare_is=kind)
            if kind == "issue" and b.issue is None and b.volume is not None and a.volume is None:
                b.issue, b.volume = b.volume, None
            b.volume = _unabbreviate(a.volume, b.volume)  # "no.1121-22": 1122
            b.issue = _unabbreviate(a.issue, b.issue)
        open_end = False
    if chron_first is not None:
        a.year = a.year if a.year is not None else chron_first
        if chron_open:
            open_end = True
        elif b.year is None:
            b.year = chron_last
    if a.empty() and b.empty():
        return None
    if a.empty() and not b.empty():  # "-Oct./Jan. (2009/2010)": only the end is known
        return Span(None, b.year, None, b.volume, None, b.issue)
    return Span(a.year, b.year if not open_end else None, a.volume, b.volume if not open_end else None,
                a.issue, b.issue if not open_end else None, open_end)


def _unabbreviate(first: int | None, last: int | None) -> int | None:
    if first is None or last is None or last >= first:
        return last
    a, b = str(first), str(last)
    return int(a[: len(a) - len(b)] + b) if len(b) < len(a) else last


def _gap_spans(text: str) -> tuple[list[Span], list[str]]:
    spans, unread = [], []
    for piece in _pieces(text):
        sp = _span(piece)
        if sp is None:
            unread.append(piece)
            continue
        if sp.open_end:  # "缺1998-" is not a gap to the present: read as that year alone
            sp = Span(sp.first_year, sp.first_year, sp.first_volume, sp.first_volume, sp.first_issue, sp.first_issue)
        spans.append(sp)
    return spans, unread


@lru_cache(maxsize=4096)
def parse_coverage(statement: str) -> Coverage:
    """A holdings statement read into held runs and gaps; what could not be read is kept in `unread`."""
    text = _clean(statement)
    text = _NOTE_TAIL.sub("", text).strip(" ;,.")
    if not text:
        return Coverage(statement or "")
    gap_text = ""
    m = _GAP_WORDS.search(text)
    if m:
        gap_text = text[m.end():]
        text = text[: m.start()]
    text = re.sub(r"[(（]\s*$", "", text).strip(" ;,.(")
    gap_text = re.sub(r":\s+", "; ", gap_text.strip(" ;,.)）"))
    current = bool(_CURRENT.search(text))
    text = _CURRENT.sub("", text).strip(" ;,.")
    spans, unread = [], []
    for piece in _pieces(text):
        years_only = _WHOLE_NUMBER.sub("", piece)  # "总第1期(1980)-总第300期(2004)": the years say it
        sp = (_span(years_only) if re.search(r"\d", years_only) else None) if years_only != piece else _span(piece)
        (spans.append(sp) if sp is not None else unread.append(piece))
    gaps, gap_unread = _gap_spans(gap_text) if gap_text else ([], [])
    return Coverage(statement, tuple(_merge_parallel(spans)), tuple(gaps), tuple(unread + gap_unread), current)


# "现刊" / "现刊架" / "当年现刊": this year's loose issues on the current-periodicals shelf
_CURRENT = re.compile(r"(?:当年)?现刊(?:架|阅览室?)?|current issues?", re.IGNORECASE)
# "总第1期-": numbered through the whole run (总期号), which says no year or volume
_WHOLE_NUMBER = re.compile(r"总\s*第?\s*\d+\s*期|\b(?:whole|total)\s+no\.?\s*\d+", re.IGNORECASE)


def _merge_parallel(spans: list[Span]) -> list[Span]:
    """"1974-1994; Vol.78-98. No.935-1187" or "v. 1-3; 1971-74": one run said as years and as volumes (and as
    whole numbers) one after the other is one run."""
    years = [s for s in spans if s.has_years and not s.has_volumes]
    volumes = [s for s in spans if s.has_volumes and not s.has_years]
    issues = [s for s in spans if not s.has_years and not s.has_volumes]
    if len(years) == 1 and len(volumes) == 1 and len(years) + len(volumes) + len(issues) == len(spans):
        y, v = years[0], volumes[0]
        return [Span(y.first_year, y.last_year, v.first_volume, v.last_volume, None, None, y.open_end or v.open_end)]
    if len(years) == 1 and not volumes and issues and len(spans) == 1 + len(issues):
        return years
    return spans


# ---------------------------------------------------------------- MARC 21 853/863 coded holdings

def coded_coverage(captions: Sequence[tuple[str, dict[str, str]]], values: Sequence[tuple[str, dict[str, str]]],
                   statement: str = "") -> Coverage:
    """Coverage from 853 captions and 863 values, each given as (link $8, {subfield code: value}).

    The caption's first enumeration level ($a) is the volume, the second ($b) the issue, the first
    chronology level ($i) the year; an 863 value "1-25" is a range, "1990-" open; $8 "1.2" links to 853 $8 "1".
    """
    by_link = {link.split(".")[0]: sub for link, sub in captions}
    spans: list[Span] = []
    unread: list[str] = []
    for link, sub in values:
        caption = by_link.get(link.split(".")[0], {})
        year_code = next((c for c in "ijklm" if "year" in caption.get(c, "").lower() or "年" in caption.get(c, "")),
                         "i")
        vol = _range(sub.get("a"))
        iss = _range(sub.get("b"))
        yrs = _range(sub.get(year_code))
        if vol is None and yrs is None:
            unread.append(" ".join(f"${k}{v}" for k, v in sub.items()))
            continue
        (v1, v2, vo) = vol or (None, None, False)
        (i1, i2, io) = iss or (None, None, False)
        (y1, y2, yo) = yrs or (None, None, False)
        if yrs and y2 is not None and y2 < 100 and y1 is not None:
            y2 = (y1 // 100) * 100 + y2
        open_end = vo or yo
        spans.append(Span(y1, None if open_end else y2, v1, None if open_end else v2, i1,
                          None if open_end else i2, open_end))
    return Coverage(statement or "; ".join(s.text() for s in spans), tuple(spans), (), tuple(unread))


def _range(value: str | None) -> tuple[int | None, int | None, bool] | None:
    if not value or not value.strip():
        return None
    m = re.fullmatch(r"\s*(\d+)(?:[/:]\d+)?\s*(?:-\s*(\d+)?(?:[/:]\d+)?)?\s*", value)
    if not m:
        return None
    first = int(m.group(1))
    if "-" in value:
        return (first, int(m.group(2)), False) if m.group(2) else (first, None, True)
    return first, first, False


def merge(coverages: Iterable[Coverage]) -> Coverage:
    """Several statements of one member (866 per location, 863 per run) as one coverage."""
    items = list(coverages)
    return Coverage("; ".join(c.statement for c in items if c.statement),
                    tuple(s for c in items for s in c.spans), tuple(g for c in items for g in c.gaps),
                    tuple(u for c in items for u in c.unread), any(c.current for c in items))
