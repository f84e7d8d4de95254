"""What the portal asks of the union catalogue: searches (streamed or whole), editions, members.

One `Catalogue` lives as long as the app and owns the one `federator.Federator`. It keeps the results
of recent searches in bounded caches, so facet, sort and edition-page requests that follow a search are
answered without asking members again, and so an edition is found again by its `work_id`.

Where later parts plug in:
- `LocalSource` (the local whoosh index, `indexer/`): `Catalogue.local`. When set, `work()` asks it for
  editions no longer in the recent caches; a search answers from it first and fills in live availability.
- reader login, ILL requests, the staff desk and the SRU server are separate route modules of
  `portal/app.py` that use this class for search and lookup.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Protocol

from federator import facets as facet_mod
from federator.fanout import (
    DEADLINE,
    DIAGNOSTIC,
    OK,
    SKIPPED,
    TIMEOUT,
    MemberFailed,
    MemberFinished,
    MemberOutcome,
    MemberStarted,
    MergedViewUpdated,
)
from federator.federation import FederatedResult, Federator
from federator.rank import rank
from federator.registry import Member, Registry
from portal.params import ParamError, SearchParams

ASKING, ANSWERED, SLOW, DOWN, REFUSED, NOT_ASKED = "asking", "answered", "slow", "down", "refused", "not_asked"
STATES = (ASKING, ANSWERED, SLOW, DOWN, REFUSED, NOT_ASKED)


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """One member's place in the status strip: its state, and why when it is not `answered`."""

    code: str
    name: str
    state: str
    reason: str | None = None  # a fanout reason code (timeout, suspended, …) or "slow" while waiting
    hits: int | None = None
    ms: int | None = None
    cached: bool = False
    detail: str | None = None  # the member's or the federator's own words (diagnostic, error)
    waited: int | None = None  # seconds waited so far, for a member still asked


def member_state(outcome: MemberOutcome) -> MemberStatus:
    """The strip state of a member's final outcome (pure)."""
    if outcome.status == OK:
        state, detail = ANSWERED, None
        if outcome.diagnostic:
            detail = outcome.diagnostic.get("message")
    elif outcome.status == SKIPPED:
        state, detail = NOT_ASKED, outcome.error
    elif outcome.status == TIMEOUT:
        state, detail = SLOW, outcome.error
    elif outcome.reason == DIAGNOSTIC:
        state = REFUSED
        diag = outcome.diagnostic or {}
        detail = " ".join(str(x) for x in (diag.get("message") or outcome.error, diag.get("addinfo")) if x)
    else:
        state, detail = DOWN, outcome.error
    reason = outcome.reason if outcome.status != OK else None
    if outcome.status == TIMEOUT and reason is None:
        reason = DEADLINE
    return MemberStatus(outcome.code, outcome.name, state, reason, outcome.hits, outcome.ms, outcome.cached,
                        detail)


class LocalSource(Protocol):
    """The local index, once it exists (indexer/): editions by id, and searches answered locally."""

    def work(self, work_id: str): ...


class _Lru(OrderedDict):
    """A bounded mapping that forgets the least recently used entries; entries may expire."""

    def __init__(self, size: int, ttl: float | None = None, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.size, self.ttl, self.clock = size, ttl, clock

    def put(self, key, value) -> None:
        super().__setitem__(key, (self.clock(), value))
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)

    def find(self, key):
        item = super().get(key)
        if item is None:
            return None
        stored, value = item
        if self.ttl is not None and self.clock() - stored > self.ttl:
            del self[key]
            return None
        self.move_to_end(key)
        return value


@dataclass(slots=True)
class SearchView:
    """What a results page shows: the ranked, filtered works of one page, facets, the member strip."""

    params: SearchParams
    works: list = field(default_factory=list)  # list[dedup.Work], ranked and filtered
    all_works: int = 0  # editions on this page before facet filtering
    facets: dict[str, list[dict]] = field(default_factory=dict)
    statuses: list[MemberStatus] = field(default_factory=list)
    has_more: bool = False
    total_hits: int = 0
    done: bool = False
    ms: int = 0


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """Live: the member strip changed."""

    statuses: list[MemberStatus]


@dataclass(frozen=True, slots=True)
class ViewChanged:
    """Live: a new merged view (or the final one, with `view.done`)."""

    view: SearchView


class Catalogue:
    """The portal's way into the union catalogue; one per app (start() … close())."""

    def __init__(self, registry: Registry, *, per_member: int = 10, deadline: float = 15.0,
                 slow_after: float = 3.0, recent_searches: int = 64, recent_ttl: float = 600.0,
                 recent_works: int = 5000, local: LocalSource | None = None, **federator_options) -> None:
        self.registry = registry
        self.members: list[Member] = list(registry.members)
        self.per_member = per_member
        self.deadline = deadline
        self.slow_after = slow_after
        self.local = local
        self.federator_options = federator_options
        self.federator: Federator | None = None
        self.searches = _Lru(recent_searches, recent_ttl)  # search_key → FederatedResult
        self.works = _Lru(recent_works)  # work_id → Work
        self.views = _Lru(4 * recent_searches)  # SearchParams → (result, SearchView)
        self.groups: dict[str, set[str]] = {}  # group_id → work_ids in `works`
        self.stats = {"searches": 0, "from_recent": 0}

    async def start(self) -> None:
        self.federator = Federator(self.members, deadline=self.deadline, **self.federator_options)

    async def close(self) -> None:
        if self.federator is not None:
            await self.federator.close()

    # -- members ---------------------------------------------------------------------------------------
    def names(self, lang: str = "zh") -> dict[str, str]:
        return {m.code: (m.name_en or m.name) if lang == "en" else m.name for m in self.members}

    def sorted_members(self) -> list[Member]:
        return self.registry.sorted_by_pinyin()

    # -- searching -------------------------------------------------------------------------------------
    def recent(self, params: SearchParams) -> FederatedResult | None:
        return self.searches.find(params.search_key())

    def view(self, params: SearchParams, query, result: FederatedResult, *, done: bool = True) -> SearchView:
        """Facets, filter and sort over a page of merged works (pure over the result; finished views of
        recent searches are kept, so the same sort or facet click is not worked out twice)."""
        key = params  # the whole request: the view carries its links (live or not)
        if done:
            kept = self.views.find(key)
            if kept is not None and kept[0] is result:
                return kept[1]
        view = self._view(params, query, result, done)
        if done:
            self.views.put(key, (result, view))
        return view

    def _view(self, params: SearchParams, query, result: FederatedResult, done: bool) -> SearchView:
        works = list(result.works)
        try:
            shown = facet_mod.apply(works, params.selected) if params.facets else works
        except ValueError:
            raise ParamError("facet", "param.year") from None
        statuses = [member_state(o) for o in result.outcomes]
        return SearchView(params, rank(shown, query, sort=params.sort), len(works),
                          self._facets(works, params.selected), statuses, result.has_more,
                          result.total_hits, done, result.ms)

    def _facets(self, works: list, selected: dict[str, list[str]]) -> dict[str, list[dict]]:
        """Facet counts; with values selected, each facet counts the works the *other* selections keep, so a
        number is what a click on it shows (values of one facet are alternatives, OR)."""
        names = self.names()
        if not selected:
            return facet_mod.compute(works, names=names)
        out = {}
        for facet in facet_mod.FACETS:
            others = {f: vs for f, vs in selected.items() if f != facet}
            kept = facet_mod.apply(works, others) if others else works
            rows = facet_mod.compute(kept, names=names)[facet]
            shown = {r["value"] for r in rows}
            for value in selected.get(facet, []):  # a selection stays visible (and removable) in its facet
                if value not in shown:
                    rows.append({"value": value, "label": value,
                                 "count": len(facet_mod.apply(kept, {facet: [value]}))})
            out[facet] = rows
        return out

    async def page(self, params: SearchParams, query, *, before_asking: Callable[[], None]) -> SearchView:
        """The whole page: from a recent search when there is one (a sort or facet click asks no member),
        else by searching, after `before_asking()` (the rate limit, which raises to refuse)."""
        cached = self.recent(params)
        if cached is not None:
            return self.view(params, query, cached)
        before_asking()
        return await self.search(params, query)

    async def search(self, params: SearchParams, query) -> SearchView:
        """The whole page, after every member has an outcome (or the deadline passed)."""
        view = None
        async with aclosing(self.stream(params, query)) as events:
            async for event in events:
                if isinstance(event, ViewChanged):
                    view = event.view
        assert view is not None and view.done
        return view

    async def stream(self, params: SearchParams, query) -> AsyncIterator[StatusChanged | ViewChanged]:
        """Live changes of one search: the member strip, merged views, and last the finished view.

        A search made recently (same words and page) is replayed from the recent caches at once. Members
        still asked after `slow_after` seconds turn `slow` (with the seconds waited) in the strip.
        """
        cached = self.recent(params)
        if cached is not None:
            self.stats["from_recent"] += 1
            view = self.view(params, query, cached)
            yield StatusChanged(view.statuses)
            yield ViewChanged(view)
            return
        assert self.federator is not None, "Catalogue.start() was not awaited"
        self.stats["searches"] += 1
        started = time.perf_counter()
        statuses: dict[str, MemberStatus] = {m.code: MemberStatus(m.code, m.name, ASKING) for m in self.members}
        asked_at: dict[str, float] = {}
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        done = object()

        async def pump() -> None:
            try:
                async with aclosing(self.federator.stream(query, page=params.page,
                                                          per_member=self.per_member)) as events:
                    async for event in events:
                        await queue.put(event)
            finally:
                await queue.put(done)

        task = asyncio.create_task(pump(), name=f"portal-search {params.search_key()!r}")
        events: list = []
        try:
            while True:
                pending_slow = [c for c, s in statuses.items() if s.state == ASKING and c in asked_at]
                wake = min((asked_at[c] + self.slow_after for c in pending_slow), default=None)
                try:
                    if wake is None:
                        event = await queue.get()
                    else:
                        async with asyncio.timeout_at(max(wake, loop.time())):
                            event = await queue.get()
                except TimeoutError:
                    now = loop.time()
                    for code in pending_slow:
                        if now - asked_at[code] >= self.slow_after:
                            s = statuses[code]
                            statuses[code] = MemberStatus(s.code, s.name, SLOW, "slow",
                                                          waited=round(now - asked_at[code]))
                    yield StatusChanged(list(statuses.values()))
                    continue
                if event is done:
                    break
                events.append(event)
                if isinstance(event, MemberStarted):
                    asked_at[event.member] = loop.time()
                elif isinstance(event, (MemberFinished, MemberFailed)):
                    statuses[event.outcome.code] = member_state(event.outcome)
                    yield StatusChanged(list(statuses.values()))
                elif isinstance(event, MergedViewUpdated):
                    partial = self.federator.assemble(query, params.page, events)
                    yield ViewChanged(self.view(params, query, partial, done=False))
            task.result()  # a failure of the federator itself surfaces here (never a member's)
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        result = self.federator.assemble(query, params.page, events,
                                          ms=round((time.perf_counter() - started) * 1000))
        self.remember(params, result)
        yield ViewChanged(self.view(params, query, result))

    def remember(self, params: SearchParams, result: FederatedResult) -> None:
        """Keep a finished search, and its editions by id, for the requests that follow it."""
        self.searches.put(params.search_key(), result)
        for w in result.works:
            old = self.works.find(w.work_id)
            if old is not None and old.group_id != w.group_id:
                self.groups.get(old.group_id, set()).discard(w.work_id)
            self.works.put(w.work_id, w)
            self.groups.setdefault(w.group_id, set()).add(w.work_id)
        if len(self.groups) > 4 * self.works.size:  # forget groups whose works were all forgotten
            self.groups = {g: {i for i in ids if i in self.works} for g, ids in self.groups.items()}
            self.groups = {g: ids for g, ids in self.groups.items() if ids}

    # -- editions --------------------------------------------------------------------------------------
    def work(self, work_id: str):
        """The edition with this id from recent searches (then the local index, when there is one)."""
        found = self.works.find(work_id)
        if found is None and self.local is not None:
            found = self.local.work(work_id)
        return found

    def other_editions(self, work) -> list:
        """Other editions of the same work (same group_id) known from recent searches, newest first."""
        if not work.group_id:
            return []
        ids = [i for i in self.groups.get(work.group_id, ()) if i != work.work_id]
        found = [w for i in ids if (w := self.works.find(i)) is not None]
        return rank(found, None, sort="year")


def statuses_in_order(statuses: Iterable[MemberStatus], members: Iterable[Member]) -> list[MemberStatus]:
    by_code = {s.code: s for s in statuses}
    return [by_code[m.code] for m in members if m.code in by_code]
