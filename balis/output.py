"""Turn results into what people read at a terminal: aligned text. The JSON shapes are services.views'."""

from __future__ import annotations

from typing import TYPE_CHECKING

from members import Member
from services.views import display_title

if TYPE_CHECKING:  # `balis members` imports this module: the search's modules load only with a search
    from federator.fanout import MemberOutcome


def works_text(works, names: dict[str, str]) -> str:
    from federator.facets import MATERIAL_TYPES

    if not works:
        return "没有找到 no works found"
    lines = []
    for i, w in enumerate(works, 1):
        d = w.display
        carrier = MATERIAL_TYPES.get(d.material_type, d.material_type) if d.material_type != "book" else None
        meta = [x for x in (", ".join(a.name for a in d.authors[:3]), d.edition, carrier, d.publisher,
                            str(d.year) if d.year else None) if x]
        isbn = f" ISBN {w.isbns[0]}" if w.isbns else ""
        lines.append(f"{i:>3}. {display_title(d)}" + (f" / {' — '.join(meta)}" if meta else "") + isbn)
        avail = sum(h.status == "available" for h in w.holdings)
        lines.append(f"     {len(w.members)} 馆藏 members: {', '.join(w.members)}; {avail} available")
    return "\n".join(lines)


def event_line(event) -> str | None:
    """One line per streamed event, for `balis search --stream`."""
    from federator.fanout import (
        MemberFailed,
        MemberFinished,
        MemberStarted,
        MergedViewUpdated,
        RecordsArrived,
    )

    if isinstance(event, MemberStarted):
        return f"-> {event.member} asked ({event.protocol})"
    if isinstance(event, RecordsArrived):
        return f"<- {event.member}: {len(event.records)} records of {event.hits}"
    if isinstance(event, (MemberFinished, MemberFailed)):
        return outcome_text(event.outcome)
    if isinstance(event, MergedViewUpdated):
        return f"   merged view: {len(event.works)} works from {len(event.members)} members"
    return None


def members_text(members: list[Member]) -> str:
    rows = [("代码", "名称", "Name", "区", "状态", "协议")]
    for m in members:
        status = "正常 active" if m.active else "暂停服务 suspended"
        protos = ", ".join(m.protocols) if m.endpoints else "—（未接入 no endpoint）"
        rows.append((m.code, m.name, m.name_en, m.district or "", status, protos))
    return table(rows)


def display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(display_width(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [str(c) + " " * (widths[i] - display_width(str(c))) for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def outcome_text(o: MemberOutcome) -> str:
    from federator.fanout import KNOWN_ITEM

    head = f"== {o.code} {o.name} [{o.protocol or '-'}] "
    if o.status == "ok":
        head += f"ok: {o.hits} hits, {len(o.records)} records, {o.ms} ms"
        if o.via == KNOWN_ITEM:
            head += " (按题名和年份找到：该馆记录无此ISBN; found by title and year, its record lacks the ISBN)"
    elif o.status == "timeout":
        head += f"timeout after {o.ms} ms ({o.error})"
    elif o.status == "skipped":
        head += f"not asked: {o.error}"
    else:
        head += f"error: {o.error}"
    lines = [head]
    for u in o.unreadable:
        lines.append(f"   ! unreadable record: {u}")
    if o.excess:
        lines.append(f"   ! sent {o.excess} records more than the {len(o.records)} asked for; only those were kept "
                     "(该馆返回的记录远多于请求，请告知该馆)")
    if repaired := o.repaired:
        lines.append(f"   ! {repaired} record(s) arrived double-encoded (UTF-8 read as Latin-1) and were repaired; "
                     "乱码已修复，请告知该馆检查其字符集设置")
    return "\n".join(lines)
