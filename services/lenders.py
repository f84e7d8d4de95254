"""Locating lenders: find the editions, let staff choose one, see its holdings now, read the lenders' record,
build the rota.

The use case of lender routing, shared by `balis route`, `balis request submit`, the desk and the reader's
request page. The edition comes from the local index when a work id is given and the index has it; otherwise a
query (or ISBN) is answered by a live federated search and by the union index together: their member records
are merged into editions (a member's live record replaces its harvested one), so a member whose OPAC missed the
query but whose copies the union index knows is still a holder. For a returnable loan a print edition is
preferred over an e-book. Availability is re-checked with the holding members (from the live search, or asked
now for the records only the index had); the lenders' past fill rate, turnaround and open load come from the ILL
store when one exists. The ranking itself is the pure `routing.build_rota`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from members import Registry

LIVE_PER_MEMBER = 20  # records asked of each member when searching for the edition
UNION_EDITIONS = 50  # editions read from the union index for a query
ELECTRONIC = frozenset({"ebook", "ejournal"})  # material types that cannot be lent as a returnable loan


def is_electronic(work) -> bool:
    return (work.display.material_type or "book") in ELECTRONIC


@dataclass(slots=True)
class Found:
    """The edition to route and how it was found; `why` says what went wrong when `work` is None."""

    work: object | None = None  # dedup.Work
    others: list = field(default_factory=list)  # other editions that matched, best first
    source: str = ""  # live | local
    outcomes: list = field(default_factory=list)  # member outcomes of the live search or live check
    why: str = ""
    live_members: list[str] = field(default_factory=list)  # members whose holdings were seen just now
    history_source: str = "none"  # ill store | none
    history_problem: str | None = None  # why the lenders' record could not be read (routing went on without)
    index_members: list[str] = field(default_factory=list)  # holders known from the union index only
    print_preferred: bool = False  # an e-book ranked first; a print edition was chosen for the loan

    @property
    def editions(self) -> list:
        """Every edition found, the chosen one first."""
        return ([self.work] if self.work is not None else []) + list(self.others)


async def find_edition(registry: Registry, query=None, *, work_id: str | None = None, index_dir=None,
                       timeout: float | None = None, federator=None, union=None, kind: str = "loan") -> Found:
    """The edition to route: by `work_id` from the local index (or among the editions `query` finds), else the
    best match of `query` among the editions of a live federated search and the union index together, a print
    edition before an e-book for a returnable loan (`kind` "loan"). `federator` is reused when given (the
    portal); `union(query)` gives the union index's editions (default: the whoosh index at `index_dir`)."""
    found = Found()
    work_id = work_id.strip() if work_id else None
    if work_id:
        work = local_work(work_id, index_dir)
        if work is not None:
            found.work, found.source = work, "local"
            return found
        if query is None:
            found.why = (f"work {work_id} is not in the local index (or there is none); give the query that "
                         "found it too")
            return found
    result, indexed = await asyncio.gather(_search(registry, query, timeout, federator),
                                           _union(query, index_dir, union))
    found.outcomes, found.source = result.outcomes, "live+index" if indexed else "live"
    from federator.rank import rank

    works = rank(merged_editions(result.works, indexed), query)
    live_keys = {(r.member, r.record_id) for w in result.works for r in w.records}
    if work_id:
        match = [w for w in works if w.work_id == work_id]
        if not match:
            found.why = (f"work {work_id} is not among the {len(works)} editions this search found; run "
                         "'balis search' to see their IDs, or search again")
            return found
        found.work, found.others = match[0], [w for w in works if w is not match[0]]
    elif not works:
        answered = [o for o in result.outcomes if o.status == "ok"]
        found.why = ("nothing found: no member holds an edition matching this query" if answered else
                     "nothing found: no member answered; check 'balis members' and 'balis testbed status'")
        return found
    else:
        chosen = works[0]
        if kind == "loan" and is_electronic(chosen):
            chosen = next((w for w in works if not is_electronic(w)), chosen)
            found.print_preferred = chosen is not works[0]
        found.work, found.others = chosen, [w for w in works if w is not chosen]
    found.index_members = sorted({r.member for r in found.work.records if (r.member, r.record_id) not in live_keys})
    return found


def merged_editions(live_works, indexed_works) -> list:
    """The editions of a live search and of the union index as one list: their member records merged again
    (dedup.merge), a record the live search brought replacing the index's copy of it (its holdings are now)."""
    if not indexed_works:
        return list(live_works)
    records = {}
    for w in indexed_works:
        for r in w.records:
            records[(r.member, r.record_id)] = r
    for w in live_works:
        for r in w.records:
            records[(r.member, r.record_id)] = r
    from dedup.work import merge

    return merge(list(records.values()))


async def _union(query, index_dir, union) -> list:
    """The union index's editions for `query` ([] when there is no index, or it cannot answer)."""
    if query is None:
        return []
    if union is not None:
        return list(await union(query))
    return await asyncio.to_thread(_union_search, query, index_dir)


def _union_search(query, index_dir) -> list:
    from indexer.errors import LocalIndexError
    from indexer.paths import resolve_index_dir
    from indexer.search import LocalSearcher

    folder = resolve_index_dir(index_dir)
    if not Path(folder).exists():
        return []
    try:
        with LocalSearcher.open(folder) as searcher:
            return list(searcher.search(query, size=UNION_EDITIONS).works)
    except (LocalIndexError, OSError, KeyError, ValueError):
        return []


async def _search(registry: Registry, query, timeout, federator):
    if federator is not None:
        return await federator.run(query, timeout=timeout, per_member=LIVE_PER_MEMBER)
    from federator.answer_times import default_path
    from federator.federation import Federator

    async with Federator(registry.members, answer_times=default_path()) as fed:
        return await fed.run(query, timeout=timeout, per_member=LIVE_PER_MEMBER)


def local_work(work_id: str, index_dir=None):
    """The work with this id from the local index, or None when there is no index or no such work."""
    from indexer.backend import is_database, open_searcher, resolve_location
    from indexer.errors import LocalIndexError

    location = resolve_location(index_dir)  # a folder or a PostgreSQL database
    if not is_database(location) and not Path(location).exists():
        return None
    try:
        with open_searcher(location) as s:
            return s.work(work_id)
    except (LocalIndexError, OSError, KeyError):
        return None


async def live_status(found: Found, registry: Registry, timeout: float | None = None) -> dict:
    """Holdings just seen at each holding member that can be asked: from the search itself for the records it
    brought, and by asking the other holders for their own records of the edition (indexer.livecheck): all of
    them for an edition from the local index, those the union index alone knew for a live search."""
    work = found.work
    live: dict[str, list] = {}
    if found.source in ("live", "live+index"):
        answered = {o.code for o in found.outcomes if o.status == "ok"}
        for r in work.records:
            if r.member in answered and r.member not in found.index_members and r.holdings:
                live.setdefault(r.member, []).extend(r.holdings)
        ask = set(found.index_members)
    else:
        ask = {r.member for r in work.records}
    holders = [m for m in registry.members if m.queryable and m.code in ask]
    if holders:
        from indexer.livecheck import live_check

        (fresh,), outcomes = await live_check([work], holders, timeout=timeout)
        found.outcomes = list(found.outcomes) + list(outcomes) if found.source != "local" else outcomes
        answered = {o.code for o in outcomes if o.status == "ok"}
        for old, r in zip(work.records, fresh.records, strict=True):
            if r.member in answered and r is not old:  # replaced: the member sent this record again just now
                live.setdefault(r.member, []).extend(r.holdings)
    live = {code: holdings for code, holdings in live.items() if holdings}
    found.live_members = sorted(live)
    return live


def lender_history(db=None, store=None) -> tuple[dict, str, str | None]:
    """Lenders' past requests and open load from the ILL store (ill.stats.lender_history), when there is one.

    `store`: an open ill.Store (the portal's); else the store at `db` / $BALIS_DB, of which only an existing
    SQLite file is read: locating lenders never creates a store. Returns (history, source, problem)."""
    from ill.stats import lender_history as history_of
    from ill.store import Store, resolve_url

    try:
        if store is not None:
            return dict(history_of(store, kind="loan") or {}), "ill store", None
        url = resolve_url(db)
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            return {}, "none", None
        with Store(db) as opened:
            return dict(history_of(opened, kind="loan") or {}), "ill store", None
    except Exception as exc:  # noqa: BLE001 - history is optional here: route without it, and say so
        return {}, "none", (f"lenders' history not read ({exc}); routing on availability, load and distance "
                            "only")


async def locate_lenders(registry: Registry, home: str, *, query=None, work_id: str | None = None,
                         index_dir=None, db=None, store=None, live: bool = True, max_lenders: int = 5,
                         timeout: float | None = None, federator=None, union=None, kind: str = "loan"):
    """(Found, Rota or None): the edition and the lenders to ask for a reader of `home`, with reasons.

    `federator`, `store` and `union` (the union index's search) are the caller's own when it has them (the
    portal), else opened here. Raises routing.RoutingError for an unknown home library or a bad registry
    policy."""
    from routing import build_rota

    found = await find_edition(registry, query, work_id=work_id, index_dir=index_dir, timeout=timeout,
                               federator=federator, union=union, kind=kind)
    if found.work is None:
        return found, None
    status = await live_status(found, registry, timeout) if live else {}
    history, found.history_source, found.history_problem = await asyncio.to_thread(lender_history, db, store)
    rota = build_rota(found.work, home, registry.members, history=history, live_status=status,
                      max_lenders=max_lenders)
    return found, rota


async def rota_for_work(work, home: str, registry: Registry, *, history: dict | None = None,
                        fresh: bool = False, max_lenders: int = 5, timeout: float | None = None):
    """(Found, Rota) for an edition already in hand (the portal's edition page) and a reader of `home`.

    `fresh`: the work's holdings were seen live moments ago (a recent live search or availability check),
    so no member is asked again; otherwise the holding members are asked for their own records now
    (`live_status`). `history` is the lenders' record from the ILL store (ill.stats.lender_history).
    Raises routing.RoutingError for an unknown home library."""
    from routing import build_rota

    found = Found(work=work, source="live" if fresh else "local",
                  history_source="ill store" if history is not None else "none")
    status = {} if fresh else await live_status(found, registry, timeout)
    rota = build_rota(work, home, registry.members, history=history or {}, live_status=status,
                      max_lenders=max_lenders)
    return found, rota
