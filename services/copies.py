"""The lender's own copy of a request: call number, location and barcode from its holdings, and what its
catalogue says of that copy now (the desk's request page, its queue rows, pull slips and labels).

The copy is the rota entry's (routing chose the lender for that call number), else the first lendable of
the member's holdings of the edition in the union index or a recent search. Its status now comes from one
live look at the member's own records, cut short by a deadline: a member that does not answer in time
leaves the status "unknown" and never holds up the page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from records.model import AVAILABLE, UNKNOWN, Holding

LIVE_DEADLINE = 3.0  # seconds the desk waits for the member's own catalogue
MAX_IDS = 60  # record ids in one query (the query model allows 64 clauses)

# What the live look found
ANSWERED = "answered"  # the member's catalogue answered: the status is what it says now
NO_ANSWER = "no_answer"  # asked, no answer in time (or an error): the status is unknown
NOT_ASKED = "not_asked"  # nothing to ask: no edition, no record of the member, or no catalogue to ask

# Where the call number came from
FROM_ROTA, FROM_HOLDINGS, FROM_NOWHERE = "rota", "holdings", "none"

EDITION, MANUAL = "edition", "manual"  # the citation: from the catalogue, or written by the reader


@dataclass(frozen=True, slots=True)
class OwnCopy:
    """A member's copy for one request as the desk shows it."""

    member: str
    citation: str  # EDITION | MANUAL
    call_number: str = ""
    location: str = ""
    library: str = ""
    barcode: str = ""
    status: str = UNKNOWN  # records.model item status, UNKNOWN unless the member answered just now
    status_word: str = ""  # the member's own word for it ("在架", "Checked out")
    due_date: str = ""
    copies: int = 0  # how many copies of the edition the member holds
    source: str = FROM_NOWHERE  # FROM_ROTA | FROM_HOLDINGS | FROM_NOWHERE
    live: str = NOT_ASKED  # ANSWERED | NO_ANSWER | NOT_ASKED
    why: str = ""  # why the status is unknown (the member's outcome)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


def citation_of(req: dict) -> str:
    """What the request's citation really is: an edition of the catalogue, or what the reader wrote."""
    return EDITION if req.get("work_id") else MANUAL


def rota_entry(req: dict, member: str) -> dict | None:
    """The member's entry in the request's rota (the current one when the member is the lender now)."""
    rota = req.get("rota") or []
    index = req.get("rota_index") or 0
    if 0 <= index < len(rota) and rota[index].get("member") == member:
        return rota[index]
    return next((e for e in rota if e.get("member") == member), None)


def member_records(work, member: str) -> list[str]:
    """The member's record ids of an edition (dedup.Work), in order."""
    if work is None:
        return []
    return list(dict.fromkeys(r.record_id for r in work.records if r.member == member))


def _holdings(work, member: str) -> list[Holding]:
    if work is None:
        return []
    return [h for h in work.holdings if h.member == member]


def pick(holdings: Iterable[Holding], call_number: str | None) -> Holding | None:
    """The copy meant: the one with the rota's call number, else the first available, else the first."""
    holdings = list(holdings)
    if call_number:
        same = [h for h in holdings if (h.call_number or "").strip() == call_number.strip()]
        if same:
            holdings = same
    return next((h for h in holdings if h.status == AVAILABLE), holdings[0] if holdings else None)


def own_copy(req: dict, member: str, work=None, *, live: str = NOT_ASKED, live_holdings: list[Holding] | None = None,
             why: str = "") -> OwnCopy:
    """The member's copy for `req` (pure): `work` is the edition as the union index or a recent search has it;
    `live_holdings` what the member's catalogue said just now (when `live` is ANSWERED)."""
    entry = rota_entry(req, member) or {}
    wanted = (entry.get("holding") or "").strip()
    answered = live == ANSWERED and live_holdings is not None
    holdings = live_holdings if answered else _holdings(work, member)
    chosen = pick(holdings, wanted)
    if live == ANSWERED and not answered:  # said to have answered, but with nothing: nothing known
        live = NO_ANSWER
    copy = OwnCopy(member, citation_of(req), copies=len(holdings), live=live, why=why)
    if chosen is not None:
        copy = replace(copy, call_number=chosen.call_number or "", location=chosen.location or "",
                       library=chosen.library or "", barcode=chosen.barcode or "")
        if answered:
            copy = replace(copy, status=chosen.status, status_word=chosen.status_word or "",
                           due_date=chosen.due_date or "")
    if wanted:
        return replace(copy, call_number=wanted, source=FROM_ROTA)
    return replace(copy, source=FROM_HOLDINGS if chosen is not None and chosen.call_number else FROM_NOWHERE)


async def look_now(member, record_ids: list[str], federator, deadline: float = LIVE_DEADLINE
                   ) -> tuple[str, dict[str, list[Holding]], str]:
    """Ask `member` (members.Member) for its own records by id through the portal's Federator, at most
    `deadline` seconds: (ANSWERED | NO_ANSWER | NOT_ASKED, record id → holdings now, why not)."""
    from connectors.query import Clause, from_clauses

    if member is None or not member.queryable:
        return NOT_ASKED, {}, "no catalogue to ask (the member has no OPAC endpoint)"
    if not record_ids:
        return NOT_ASKED, {}, ""
    found: dict[str, list[Holding]] = {}
    wanted = set(record_ids)
    for start in range(0, len(record_ids), MAX_IDS):
        ids = record_ids[start:start + MAX_IDS]
        query = from_clauses([Clause("id", "=", rid) for rid in ids], "or")
        result = await federator.run(query, [member.code], per_member=len(ids) + 5, deadline=deadline)
        mine = [o for o in result.outcomes if o.code == member.code]
        if not mine or mine[0].status != "ok":
            outcome = mine[0] if mine else None
            why = (outcome.error or outcome.reason or outcome.status) if outcome else "not asked"
            return NO_ANSWER, {}, f"{member.code}: {why}"
        for r in mine[0].records:
            if r.member == member.code and r.record_id in wanted:
                found[r.record_id] = list(r.holdings)
    return ANSWERED, found, ""


async def copies_for(reqs: list[dict], member, *, work_of: Callable[[str], object], federator=None,
                     deadline: float = LIVE_DEADLINE) -> dict[int, OwnCopy]:
    """Request id → the member's copy, for requests at this member: one live look at the member's catalogue
    for all of them (none when `federator` is None), bounded by `deadline`."""
    code = member.code
    works = {r["id"]: work_of(r["work_id"]) if r.get("work_id") else None for r in reqs}
    ids: list[str] = []
    for r in reqs:
        entry = rota_entry(r, code) or {}
        ids.extend(x for x in [entry.get("record_id"), *member_records(works[r["id"]], code)] if x)
    ids = list(dict.fromkeys(ids))
    if federator is None:
        state, live, why = NOT_ASKED, {}, ""
    else:
        state, live, why = await look_now(member, ids, federator, deadline)
    out = {}
    for r in reqs:
        work = works[r["id"]]
        entry = rota_entry(r, code) or {}
        mine = [x for x in [entry.get("record_id"), *member_records(work, code)] if x]
        if state == ANSWERED and any(x in live for x in mine):
            holdings = [h for x in dict.fromkeys(mine) for h in live.get(x, [])]
            out[r["id"]] = own_copy(r, code, work, live=ANSWERED, live_holdings=holdings)
        elif state == ANSWERED:  # the member answered, but has no record of this edition any more
            out[r["id"]] = own_copy(r, code, work, live=NOT_ASKED if not mine else NO_ANSWER,
                                    why="" if not mine else f"{code}: the record is no longer in its catalogue")
        else:
            out[r["id"]] = own_copy(r, code, work, live=state if mine else NOT_ASKED, why=why if mine else "")
    return out
