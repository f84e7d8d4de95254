"""Live availability for works found in the local index: ask each holding member for its own records.

Each member holding a shown work is asked once (through `federator.Federator`, so timeouts, breakers and
suspensions apply as in live search) for exactly its records of those works, by record id
(`id:a OR id:b ...`). The holdings those records carry now replace the harvested ones of that member; a
member that fails keeps the harvested holdings and its outcome says why. The local answer always stands.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from connectors.query import Clause, from_clauses
from dedup.work import Work
from federator.fanout import MemberOutcome
from federator.federation import Federator
from members import Member

MAX_IDS = 60  # record ids per member query (the query model allows 64 clauses)


def _records_by_member(works: list[Work]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for w in works:
        for r in w.records:
            ids = out.setdefault(r.member, [])
            if r.record_id not in ids:
                ids.append(r.record_id)
    return out


def with_live(work: Work, live: dict[tuple[str, str], list], answered: set[str]) -> Work:
    """The work with the holdings of every member that answered replaced by what the member says now."""
    records = []
    for r in work.records:
        key = (r.member, r.record_id)
        if r.member in answered and key in live:
            r = replace(r, holdings=list(live[key]))
        records.append(r)
    holdings = [h for h in work.holdings if h.member not in answered or
                not any((h.member, x.record_id) in live for x in work.records if x.member == h.member)]
    for r in records:
        if r.member in answered and (r.member, r.record_id) in live:
            holdings.extend(r.holdings)
    display = replace(work.display, holdings=list(holdings))
    return Work(work_id=work.work_id, display=display, records=records, holdings=holdings,
                isbns=list(work.isbns), group_id=work.group_id)


async def live_check(works: list[Work], members: list[Member], *, timeout: float | None = None,
                     deadline: float | None = None) -> tuple[list[Work], list[MemberOutcome]]:
    """The works with live holdings from the members that answered, and every asked member's outcome."""
    wanted = _records_by_member(works)
    known = {m.code: m for m in members}
    asks = {code: ids[:MAX_IDS] for code, ids in wanted.items() if code in known}
    if not asks:
        return list(works), []
    async with Federator([known[c] for c in asks], deadline=deadline) as fed:
        results = await asyncio.gather(*(
            fed.run(from_clauses([Clause("id", "=", rid) for rid in ids], "or"), [code],
                    per_member=len(ids) + 5, timeout=timeout)
            for code, ids in asks.items()))
    live: dict[tuple[str, str], list] = {}
    answered: set[str] = set()
    outcomes: list[MemberOutcome] = []
    for code, result in zip(asks, results, strict=True):
        for o in result.outcomes:
            outcomes.append(o)
            if o.status != "ok":
                continue
            answered.add(code)
            for r in o.records:
                if r.member == code and r.record_id in asks[code]:
                    live[(r.member, r.record_id)] = list(r.holdings)
    return [with_live(w, live, answered) for w in works], outcomes
