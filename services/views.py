"""The JSON shapes the CLI and the portal both give (docs/search.md): one builder per document, versioned."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from members import Member

if TYPE_CHECKING:  # `balis members` imports this module: the search's modules load only when a view needs them
    from federator.fanout import MemberOutcome
    from records.model import Record
    from services.search import MemberStatus

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
    """A member's entry in a live answer: its place in the answer (`status_json`) and its whole outcome."""
    from services.search import member_state

    return {
        **status_json(member_state(o)),
        "status": o.status,
        "protocol": o.protocol,
        "error": o.error,
        "diagnostic": o.diagnostic,
        "unreadable": o.unreadable,
        "repaired": o.repaired,
        "via": o.via,
        "excess": o.excess,
        "records": [record_json(r) for r in o.records],
    }


def status_json(s: MemberStatus) -> dict:
    """A member's place in an answer: state, reason, hits, ms, cached, detail (the portal's status strip)."""
    return {"code": s.code, "name": s.name, "state": s.state, "reason": s.reason, "hits": s.hits, "ms": s.ms,
            "cached": s.cached, "detail": s.detail}


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


def search_doc(query_text: str, query, members: list[dict], *, works=(), facets=None, page: int = 1,
               has_more: bool = False, sort: str = "relevance", selected=None, extra: dict | None = None) -> dict:
    """The search result document (docs/search.md), for the CLI and /api/search alike; `members` are the
    members' entries (`outcome_json` or `status_json`), `extra` adds top-level keys."""
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
        "members": members,
    }
    doc.update(extra or {})
    return doc


def search_json(query_text: str, query, outcomes: list[MemberOutcome], **kwargs) -> str:
    """`balis search --json`: the search document with each member's whole outcome, as text."""
    return json.dumps(search_doc(query_text, query, [outcome_json(o) for o in outcomes], **kwargs),
                      ensure_ascii=False, indent=2)


def member_json(m: Member, *, addresses: bool = True) -> dict:
    """A member as the registry describes it; without `addresses`, its endpoints name only their protocol
    (where a member's servers are is for staff and other systems' operators, not for anonymous readers)."""
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
                       "sru_version": e.sru_version if e.protocol == "sru" else None} if addresses
                      else {"protocol": e.protocol} for e in m.endpoints],
        "contact": {k: v for k, v in asdict(m.contact).items() if v},
        "lending": m.lending.to_dict(),
    }


def display_title(r: Record) -> str:
    """The title a reader recognises: the vernacular (880) form when the record has one, else as catalogued."""
    if r.vernacular_titles:
        return r.vernacular_titles[0]
    return r.title + (f" : {r.subtitle}" if r.subtitle else "") + (f". {r.part}" if r.part else "")


def edition_json(w, *, chosen: bool = False) -> dict:
    """One edition a locate query matched, as staff choose among them (the chosen one first)."""
    d = w.display
    return {"work_id": w.work_id, "title": display_title(d), "authors": [a.name for a in d.authors[:3]],
            "year": d.year, "edition": d.edition, "publisher": d.publisher, "isbns": list(w.isbns),
            "material_type": d.material_type or "book",
            "electronic": (d.material_type or "book") in ("ebook", "ejournal"), "members": w.members,
            "copies": len(w.holdings), "chosen": chosen}


def locate_json(found, rota, *, home: str, query: str | None = None, isbn: str | None = None,
                work: str | None = None) -> dict:
    """The edition and the lenders to ask (`services.lenders.locate_lenders`), for `balis route --json` and
    the desk's /api/desk/locate alike (docs/routing.md)."""
    return {
        "version": JSON_VERSION,
        "home": home,
        "request": {"query": query, "isbn": isbn, "work": work},
        "query": query, "isbn": isbn,
        "source": found.source or None,
        "work": work_json(found.work) if found.work is not None else None,
        "other_works": [w.work_id for w in found.others],
        "editions": [edition_json(w, chosen=w is found.work) for w in found.editions],
        "print_preferred": found.print_preferred,
        "index_members": list(found.index_members),
        "rota": rota.to_dict() if rota is not None else None,
        "live_status": list(found.live_members),
        "history": found.history_source or "none",
        "error": found.why or None,
        "members": [{k: v for k, v in outcome_json(o).items() if k != "records"} for o in found.outcomes],
    }
