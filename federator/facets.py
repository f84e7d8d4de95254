"""Facets with counts over merged editions, and filtering by them without asking members again.

Facets: holding member, year (5-year bins or decades chosen from the data, plus "before 1950"), language,
material type, and CLC (中图法) top-level class. A work counts once in each value it has; year, language and
material type have one value per work (so their counts add up to the number of works), member and CLC may
have several. Works with no value for a facet are counted under "unknown". See docs/ranking.md.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

from dedup.work import Work
from records.vocabulary import CLC_CLASSES, clc_name, language_name

__all__ = ["CLC_CLASSES", "FACETS", "apply", "clc_classes", "compute", "year_bins"]

FACETS = ("member", "year", "language", "material_type", "clc")
UNKNOWN = "unknown"
BEFORE = 1950  # years before this share one bin
BEFORE_VALUE = f"-{BEFORE - 1}"  # "-1949"

MATERIAL_TYPES = {
    "book": "图书", "ebook": "电子书", "serial": "期刊", "ejournal": "电子期刊", "audio": "录音资料", "video": "视频资料", "map": "地图",
    "score": "乐谱", "large_print": "大字本", "other": "其他",
}  # fmt: skip
UNKNOWN_LABELS = {"member": "未知", "year": "年代不详", "language": "语种不详", "material_type": "类型不详",
                  "clc": "未分类"}  # fmt: skip
_RANGE = re.compile(r"^(\d{1,4})?-(\d{1,4})?$")


def clc_classes(work: Work) -> list[str]:
    """The CLC top-level classes of a work (first letter of each CLC number of any of its records)."""
    out: dict[str, None] = {}
    for r in [work.display, *work.records]:
        for number in r.classification.get("clc", ()):
            letter = number.strip()[:1].upper()
            if letter in CLC_CLASSES:
                out[letter] = None
    return sorted(out)


def work_year(work: Work) -> int | None:
    if work.display.year is not None:
        return work.display.year
    return next((r.year for r in work.records if r.year is not None), None)


def year_bins(years: Iterable[int]) -> list[tuple[int, int]]:
    """Bins for the years from 1950 on: 5-year bins when they span 30 years or less, else decades."""
    ys = [y for y in years if y >= BEFORE]
    if not ys:
        return []
    lo, hi = min(ys), max(ys)
    width = 5 if hi - lo < 30 else 10
    start = lo - lo % width
    return [(a, a + width - 1) for a in range(start, hi + 1, width)]


def year_value(year: int | None, bins: list[tuple[int, int]]) -> str:
    if year is None:
        return UNKNOWN
    if year < BEFORE:
        return BEFORE_VALUE
    for a, b in bins:
        if a <= year <= b:
            return f"{a}-{b}"
    return str(year)  # pragma: no cover - bins cover every year from 1950 on


def facet_values(work: Work, facet: str, bins: list[tuple[int, int]] | None = None) -> list[str]:
    if facet == "member":
        return work.members or [UNKNOWN]
    if facet == "year":
        return [year_value(work_year(work), bins or [])]
    if facet == "language":
        return [work.display.language or UNKNOWN]
    if facet == "material_type":
        return [work.display.material_type or UNKNOWN]
    if facet == "clc":
        return clc_classes(work) or [UNKNOWN]
    raise ValueError(f"unknown facet {facet!r}; use one of {', '.join(FACETS)}")


def label(facet: str, value: str, names: Mapping[str, str]) -> str | None:
    if value == UNKNOWN:
        return UNKNOWN_LABELS[facet]
    if facet == "member":
        return names.get(value)
    if facet == "year":
        if value == BEFORE_VALUE:
            return f"{BEFORE}年以前"
        a, _, b = value.partition("-")
        return f"{a}–{b}"
    if facet == "language":
        return language_name(value, "zh")
    if facet == "material_type":
        return MATERIAL_TYPES.get(value)
    return clc_name(value, "zh")


def compute(works: Iterable[Work], names: Mapping[str, str] | None = None) -> dict[str, list[dict]]:
    """Facet values with counts: {"member": [{"value", "label", "count"}, ...], "year": [...], ...}.

    Member, language, material type and CLC come most frequent first (ties by value); years newest
    first, then "before 1950"; "unknown" always last. `names` maps member codes to display names.
    """
    works = list(works)
    names = names or {}
    bins = year_bins(y for w in works if (y := work_year(w)) is not None)
    out: dict[str, list[dict]] = {}
    for facet in FACETS:
        counts: Counter[str] = Counter()
        for w in works:
            counts.update(facet_values(w, facet, bins))
        if facet == "year":
            order = [f"{a}-{b}" for a, b in reversed(bins)] + [BEFORE_VALUE]
            values = [v for v in order if counts[v]]
        else:
            values = sorted((v for v in counts if v != UNKNOWN), key=lambda v: (-counts[v], v))
        if counts[UNKNOWN]:
            values.append(UNKNOWN)
        out[facet] = [{"value": v, "label": label(facet, v, names), "count": counts[v]} for v in values]
    return out


def year_selected(year: int | None, wanted: list[str]) -> bool:
    for v in wanted:
        if v == UNKNOWN:
            if year is None:
                return True
            continue
        if year is None:
            continue
        m = _RANGE.match(v.strip())
        if m:
            lo = int(m.group(1)) if m.group(1) else None
            hi = int(m.group(2)) if m.group(2) else None
            if (lo is None or year >= lo) and (hi is None or year <= hi):
                return True
        elif v.strip().isdigit() and int(v) == year:
            return True
    return False


def check_years(values: list[str]) -> None:
    for v in values:
        if v != UNKNOWN and not _RANGE.match(v.strip()) and not v.strip().isdigit():
            raise ValueError(f"year facet value {v!r} is not a year or a range such as 1990-1999 or -1949; "
                             "use a value from the year facet")


def counts(works: Iterable[Work], selected: Mapping[str, list[str]] | None = None,
           names: Mapping[str, str] | None = None) -> dict[str, list[dict]]:
    """The facets a results page shows: with values selected, each facet counts the works the *other*
    selections keep, so a number is what a click on it gives (values of one facet are alternatives, OR),
    and a selected value stays listed (and removable) in its facet. Without selections, `compute`. The CLI
    and the portal both show these."""
    works = list(works)
    selected = {f: vs for f, vs in (selected or {}).items() if vs}
    if not selected:
        return compute(works, names=names)
    out = {}
    for facet in FACETS:
        others = {f: vs for f, vs in selected.items() if f != facet}
        kept = apply(works, others) if others else works
        rows = compute(kept, names=names)[facet]
        shown = {r["value"] for r in rows}
        for value in selected.get(facet, []):
            if value not in shown:
                rows.append({"value": value, "label": value, "count": len(apply(kept, {facet: [value]}))})
        out[facet] = rows
    return out


def apply(works: Iterable[Work], selected: Mapping[str, list[str]]) -> list[Work]:
    """The works matching every selected facet (AND across facets, OR among one facet's values).

    A facet with no values selected does not filter. Year values are ranges ("1990-1999", "-1949") or a
    single year, so a selection stays valid when the bins of another result set differ.
    """
    unknown = [f for f in selected if f not in FACETS]
    if unknown:
        raise ValueError(f"unknown facet {unknown[0]!r}; use one of {', '.join(FACETS)}")
    active = {f: [str(v) for v in vs] for f, vs in selected.items() if vs}
    check_years(active.get("year", []))
    out = []
    for w in works:
        keep = True
        for facet, wanted in active.items():
            if facet == "year":
                ok = year_selected(work_year(w), wanted)
            elif facet == "clc":
                ok = bool(set(facet_values(w, facet)) & {v.strip()[:1].upper() if v != UNKNOWN else v for v in wanted})
            else:
                ok = bool(set(facet_values(w, facet)) & set(wanted))
            if not ok:
                keep = False
                break
        if keep:
            out.append(w)
    return out
