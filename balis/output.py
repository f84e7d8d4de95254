"""Turn results into what people and scripts read: aligned text and versioned JSON."""

from __future__ import annotations

import json
from dataclasses import asdict

from federator.facets import MATERIAL_TYPES
from federator.fanout import KNOWN_ITEM, MemberOutcome
from members import Member
from records.model import Record

JSON_VERSION = 1


def record_json(r: Record) -> dict:
    return {
        "record_id": r.record_id,
        "title": r.title,
        "subtitle": r.subtitle,
        "part": r.part,
        "vernacular_titles": r.vernacular_titles,
        "authors": [a.name for a in r.authors],
        "edition": r.edition,
        "publisher": r.publisher,
        "year": r.year,
        "isbns": [i.isbn13 or i.raw for i in r.isbns],
        "language": r.language,
        "material_type": r.material_type,
        "syntax": r.syntax,
        "holdings": [asdict(h) for h in r.holdings],
    }


def outcome_json(o: MemberOutcome) -> dict:
    return {
        "code": o.code,
        "name": o.name,
        "status": o.status,
        "protocol": o.protocol,
        "hits": o.hits,
        "ms": o.ms,
        "error": o.error,
        "reason": o.reason,
        "cached": o.cached,
        "diagnostic": o.diagnostic,
        "unreadable": o.unreadable,
        "repaired": o.repaired,
        "via": o.via,
        "records": [record_json(r) for r in o.records],
    }


def work_json(w) -> dict:
    d = w.display
    return {
        "work_id": w.work_id,
        "group_id": w.group_id,
        "title": display_title(d),
        "authors": [a.name for a in d.authors],
        "year": d.year,
        "edition": d.edition,
        "publisher": d.publisher,
        "isbns": list(w.isbns),
        "language": d.language,
        "material_type": d.material_type,
        "members": w.members,
        "records": [f"{r.member}:{r.record_id}" for r in w.records],
        "holdings": [{"member": h.member, "record_id": _record_of(w, h.member), "call_number": h.call_number,
                      "location": h.location, "status": h.status, "due_date": h.due_date}
                     for h in w.holdings],
    }


def _record_of(work, member: str) -> str | None:
    return next((r.record_id for r in work.records if r.member == member), None)


def search_json(query_text: str, query, outcomes: list[MemberOutcome], *, works=(), facets=None, page: int = 1,
                has_more: bool = False, sort: str = "relevance", selected=None, extra: dict | None = None) -> str:
    """The search result as versioned JSON (docs/search.md); `extra` adds top-level keys (local search)."""
    from connectors.query import to_cql, to_rpn
    from connectors.rpn import pqf

    doc = {
        "version": JSON_VERSION,
        "query": {"text": query_text, "cql": to_cql(query, expand=False), "pqf": pqf(to_rpn(query))},
        "page": page,
        "has_more": has_more,
        "sort": sort,
        "selected_facets": selected or {},
        "works": [work_json(w) for w in works],
        "facets": facets or {},
        "members": [outcome_json(o) for o in outcomes],
    }
    doc.update(extra or {})
    return json.dumps(doc, ensure_ascii=False, indent=2)


def works_text(works, names: dict[str, str]) -> str:
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


def member_json(m: Member) -> dict:
    return {
        "code": m.code,
        "name": m.name,
        "name_en": m.name_en,
        "district": m.district,
        "status": m.status,
        "suspended_reason": m.suspended_reason,
        "suspended_since": m.suspended_since.isoformat() if m.suspended_since else None,
        "syntax": m.syntax,
        "charset": m.charset,
        "timeout": m.timeout,
        "max_records": m.max_records,
        "protocols": list(m.protocols),
        "endpoints": [{"protocol": e.protocol, "host": e.host, "port": e.port, "database": e.database,
                       "sru_version": e.sru_version if e.protocol == "sru" else None} for e in m.endpoints],
        "contact": {k: v for k, v in asdict(m.contact).items() if v},
        "lending": m.lending.to_dict(),
    }


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
    if repaired := o.repaired:
        lines.append(f"   ! {repaired} record(s) arrived double-encoded (UTF-8 read as Latin-1) and were repaired; "
                     "乱码已修复，请告知该馆检查其字符集设置")
    return "\n".join(lines)


def display_title(r: Record) -> str:
    """The title a reader recognises: the vernacular (880) form when the record has one, else as catalogued."""
    if r.vernacular_titles:
        return r.vernacular_titles[0]
    return r.title + (f" : {r.subtitle}" if r.subtitle else "") + (f". {r.part}" if r.part else "")
