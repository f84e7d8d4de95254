"""Locating lenders: find one edition, see its holdings now, read the lenders' record, build the rota.

The use case of lender routing, shared by `balis route`, `balis request submit`, the desk and the reader's
request page. The
edition comes from the local index when a work id is given and the index has it, otherwise from a live
federated search; availability is re-checked with the holding members; the lenders' past fill rate,
turnaround and open load come from the ILL store when one exists. The ranking itself is the pure
`routing.build_rota`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from members import Registry

LIVE_PER_MEMBER = 20  # records asked of each member when searching for the edition


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


async def find_edition(registry: Registry, query=None, *, work_id: str | None = None, index_dir=None,
                       timeout: float | None = None, federator=None) -> Found:
    """The edition to route: by `work_id` from the local index (or among the live results of `query`), else
    the best match of `query` in a live federated search. `federator` is reused when given (the portal)."""
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
    result = await _search(registry, query, timeout, federator)
    found.outcomes, found.source = result.outcomes, "live"
    from federator.rank import rank

    works = rank(list(result.works), query)
    if work_id:
        match = [w for w in works if w.work_id == work_id]
        if not match:
            found.why = (f"work {work_id} is not among the {len(works)} editions this search found; run "
                         "'balis search' to see their IDs")
            return found
        found.work, found.others = match[0], [w for w in works if w is not match[0]]
        return found
    if not works:
        answered = [o for o in result.outcomes if o.status == "ok"]
        found.why = ("nothing found: no member holds an edition matching this query" if answered else
                     "nothing found: no member answered; check 'balis members' and 'balis testbed status'")
        return found
    found.work, found.others = works[0], works[1:]
    return found


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
    """Holdings just seen at each holding member that can be asked: from the search itself when it was live,
    else by asking those members for their own records of the edition (indexer.livecheck)."""
    work = found.work
    if found.source == "live":
        answered = {o.code for o in found.outcomes if o.status == "ok"}
        live = {r.member: list(r.holdings) for r in work.records if r.member in answered and r.holdings}
    else:
        holders = [m for m in registry.members if m.queryable and m.code in {r.member for r in work.records}]
        if not holders:
            return {}
        from indexer.livecheck import live_check

        (fresh,), outcomes = await live_check([work], holders, timeout=timeout)
        found.outcomes = outcomes
        answered = {o.code for o in outcomes if o.status == "ok"}
        live = {}
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
                         timeout: float | None = None, federator=None):
    """(Found, Rota or None): the edition and the lenders to ask for a reader of `home`, with reasons.

    `federator` and `store` are the caller's own when it has them (the portal), else opened here.
    Raises routing.RoutingError for an unknown home library or a bad registry policy."""
    from routing import build_rota

    found = await find_edition(registry, query, work_id=work_id, index_dir=index_dir, timeout=timeout,
                               federator=federator)
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
