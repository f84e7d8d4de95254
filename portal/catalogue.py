"""What the portal asks of the union catalogue: searches (streamed or whole), editions, members.

One `Catalogue` lives as long as the app and owns the one `federator.Federator`. It keeps the results
of recent searches in bounded caches, so facet, sort and edition-page requests that follow a search are
answered without asking members again, and so an edition is found again by its `work_id`.

The local union index (`portal/local.py`, `Catalogue.local`): when it can answer, a search is answered
from it first (`source` "local", the default then) and the event stream fills in live availability by asking
the holding members of the editions shown; `source=live` (or no usable index) is the live federated search.
Editions and their other editions are found in the index by id when the recent caches no longer hold them.
- reader login, ILL requests, the staff desk and the SRU server are separate route modules of
  `portal/app.py` that use this class for search and lookup.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import Protocol

from federator.fanout import (
    OK,
    MemberFailed,
    MemberFinished,
    MemberOutcome,
    MemberStarted,
    MergedViewUpdated,
)
from federator.federation import FederatedResult, Federator
from federator.rank import rank
from indexer.errors import LocalIndexError
from members import Member, Registry
from portal.local import (
    IndexUnavailable,
    PortalIndex,
    availability_query,
    latest,
    records_by_member,
    with_live,
)
from portal.params import MAX_PAGE, ParamError, SearchParams
from services.search import (
    ASKING,
    DOWN,
    NOT_ASKED,
    SLOW,
    MemberStatus,
    SelectionError,
    arrange,
    member_state,
)

LOCAL, LIVE = "local", "live"
HARVESTED, CHECKING, CHECKED = "harvested", "checking", "checked"  # where a local page's availability is from

log = logging.getLogger("balis.portal")

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
    source: str = LIVE  # LOCAL: from the union index; LIVE: every member asked now
    harvested: str | None = None  # LOCAL: the latest member harvest in the index (ISO 8601)
    availability: str | None = None  # LOCAL: HARVESTED (as harvested), CHECKING (members asked), CHECKED
    note: str | None = None  # a message key when the index was wanted but could not answer (LIVE then)
    local_ready: bool = False  # whether the reader may choose the union index instead
    last_page: int | None = None  # LOCAL: the last page the total allows (live search knows no total)
    suggestions: tuple[str, ...] = ()  # a finished search that found nothing: spellings the union index knows


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
                 recent_works: int = 5000, local: PortalIndex | None = None, page_size: int = 20,
                 availability_deadline: float = 10.0, **federator_options) -> None:
        self.registry = registry
        self.members: list[Member] = list(registry.members)
        self.per_member = per_member
        self.deadline = deadline
        self.slow_after = slow_after
        self.local = local
        self.page_size = page_size  # editions per page of a local search
        self.availability_deadline = availability_deadline
        self.local_results = _Lru(4 * recent_searches, recent_ttl)  # local request → (generation, LocalResult)
        self.federator_options = federator_options
        self.federator: Federator | None = None
        self.searches = _Lru(recent_searches, recent_ttl)  # search_key → FederatedResult
        self.works = _Lru(recent_works)  # work_id → Work
        self.views = _Lru(4 * recent_searches)  # SearchParams → (result, SearchView)
        self.groups: dict[str, set[str]] = {}  # group_id → work_ids in `works`
        self.stats = {"searches": 0, "from_recent": 0}

    async def start(self) -> None:
        self.federator = Federator(self.members, deadline=self.deadline, **self.federator_options)
        if self.local is not None:
            await self.local.start()

    async def close(self) -> None:
        if self.federator is not None:
            await self.federator.close()
        if self.local is not None:
            await asyncio.to_thread(self.local.close)

    # -- members ---------------------------------------------------------------------------------------
    def set_registry(self, registry: Registry) -> None:
        """Use `registry` from now on (a member suspended or resumed): the next searches ask the new set;
        searches already running finish with the old one."""
        self.registry = registry
        self.members = list(registry.members)
        if self.federator is not None:
            self.federator.members = list(self.members)
        self.searches.clear()
        self.views.clear()

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
        try:
            page = arrange(result.works, query, selected=params.selected, sort=params.sort, names=self.names())
        except SelectionError:
            raise ParamError("facet", "param.year") from None
        statuses = [member_state(o) for o in result.outcomes]
        return SearchView(params, page.works, page.editions, page.facets, statuses, result.has_more,
                          result.total_hits, done, result.ms)

    # -- where a search is answered ---------------------------------------------------------------------
    def wants_local(self, params: SearchParams) -> bool:
        """Whether this search is answered from the union index: unless the reader chose `live`, whenever the
        index can answer."""
        return params.source != LIVE and self.local is not None and self.local.usable()

    def local_ready(self) -> bool:
        return self.local is not None and self.local.state == "ready"

    def _noted(self, params: SearchParams, view: SearchView) -> SearchView:
        """A live view, saying why when the index was wanted and could not answer (asked for by the reader,
        or an index that exists but cannot be read); a missing index is simply live search."""
        note = None
        if params.source != LIVE and self.local is not None and not self.local_ready():
            if params.source == LOCAL or self.local.state == "broken":
                note = "local.unavailable"
        if note is None and view.local_ready == self.local_ready():
            return view
        return replace(view, note=note, local_ready=self.local_ready())

    def counts_as_search(self, params: SearchParams) -> bool:
        """Whether a request for these results runs a new search (and so counts against the rate limit):
        the availability stream of a local page that was just shown does not."""
        if self.wants_local(params):
            return self.local_results.find(_local_key(params)) is None
        return self.recent(params) is None

    async def page(self, params: SearchParams, query, *, before_asking: Callable[[], None]) -> SearchView:
        """The whole page: from the union index when it can answer (availability as harvested), else live."""
        if self.wants_local(params):
            try:
                return await self._suggested(query, await self.local_page(params, query, before_asking=before_asking))
            except IndexUnavailable:
                pass  # the live search below says so
        return await self._suggested(query, self._noted(params, await self._live_page(params, query,
                                                                                      before_asking=before_asking)))

    async def _suggested(self, query, view: SearchView) -> SearchView:
        """A finished view that found nothing, with the spellings the union index knows for its words."""
        if not view.done or view.works or view.all_works or self.local is None or not self.local.usable():
            return view
        from connectors.query import clauses

        words = [w for c in clauses(query) if c.field in ("any", "title", "author", "subject") and not c.phrase
                 for w in c.value.split()]
        if not words:
            return view
        return replace(view, suggestions=tuple(await self.local.suggest(words)))

    async def local_page(self, params: SearchParams, query, *, before_asking: Callable[[], None] | None = None,
                         availability: str = HARVESTED) -> SearchView:
        """A page from the union index (IndexUnavailable when it cannot answer). A request answered moments
        ago (the page before its availability stream, a language switch) is not searched again."""
        assert self.local is not None
        key = _local_key(params)
        kept = self.local_results.find(key)
        if kept is not None and kept[0] == self.local.generation:
            result = kept[1]
        else:
            if before_asking is not None:
                before_asking()
            self.stats["local"] = self.stats.get("local", 0) + 1
            try:
                result, generation = await self.local.search(
                    query, sort=params.sort, page=params.page, size=self.page_size, selected=params.selected,
                    names=self.names())
            except ValueError:
                raise ParamError("facet", "param.year") from None
            except LocalIndexError as exc:  # a query the index cannot run: the members may
                raise IndexUnavailable("query", str(exc)) from None
            self.local_results.put(key, (generation, result))
        return self._local_view(params, result, availability)

    def _local_view(self, params: SearchParams, result, availability: str,
                    statuses: list[MemberStatus] | None = None) -> SearchView:
        if statuses is None:
            asked = set(records_by_member(result.works)) if availability == CHECKING else set()
            statuses = [self._idle(m, availability, m.code in asked) for m in self.members]
        return SearchView(params, list(result.works), len(result.works), result.facets, statuses,
                          result.has_more, result.total, availability != CHECKING, result.ms, source=LOCAL,
                          harvested=latest(result.harvested), availability=availability, local_ready=True,
                          last_page=min(MAX_PAGE, max(1, -(-result.total // self.page_size))))

    @staticmethod
    def _idle(member: Member, availability: str, asked: bool) -> MemberStatus:
        """A member's place in the strip of a local page before (or without) asking it for availability."""
        if not member.active:
            return MemberStatus(member.code, member.name, NOT_ASKED, "suspended")
        if not member.endpoints:
            return MemberStatus(member.code, member.name, NOT_ASKED, "no_endpoint")
        if availability == HARVESTED:
            return MemberStatus(member.code, member.name, NOT_ASKED, "not_checked")
        if asked:
            return MemberStatus(member.code, member.name, ASKING)
        return MemberStatus(member.code, member.name, NOT_ASKED, "no_holdings")

    async def _live_page(self, params: SearchParams, query, *, before_asking: Callable[[], None]) -> SearchView:
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
        """Live changes of one search. From the union index: the page at once, then live availability from
        the holding members of its editions. Otherwise the live federated search (`_live_stream`)."""
        if self.wants_local(params):
            try:
                view = await self.local_page(params, query, availability=CHECKING)
            except IndexUnavailable:
                view = None
            if view is not None:
                async with aclosing(self._availability(view)) as changes:
                    async for change in changes:
                        if isinstance(change, ViewChanged) and change.view.done:
                            change = ViewChanged(await self._suggested(query, change.view))
                        yield change
                return
        async with aclosing(self._live_stream(params, query)) as changes:
            async for change in changes:
                if isinstance(change, ViewChanged):
                    change = ViewChanged(await self._suggested(query, self._noted(params, change.view)))
                yield change

    async def _availability(self, view: SearchView) -> AsyncIterator[StatusChanged | ViewChanged]:
        """Ask each member holding an edition of a local page for its own records of them, all at once, and
        put what they say now in place of the harvested holdings. Members still asked after `slow_after`
        seconds turn `slow`; one that fails keeps its harvested holdings and the strip says why."""
        assert self.federator is not None, "Catalogue.start() was not awaited"
        base = list(view.works)
        known = {m.code: m for m in self.members}
        asks = {code: ids for code, ids in records_by_member(base).items() if code in known}
        statuses = {s.code: s for s in view.statuses}
        yield StatusChanged(list(statuses.values()))
        queue: asyncio.Queue = asyncio.Queue()

        async def ask(code: str, ids: list[str]) -> None:
            outcomes: list[MemberOutcome] = []
            try:
                result = await self.federator.run(availability_query(ids), [code], per_member=len(ids) + 5,
                                                  deadline=self.availability_deadline)
                outcomes = result.outcomes
            finally:
                await queue.put((code, outcomes))

        loop = asyncio.get_running_loop()
        started = loop.time()
        tasks = [asyncio.create_task(ask(code, ids), name=f"portal-availability {code}")
                 for code, ids in asks.items() if statuses[code].state == ASKING]
        pending = {code for code in asks if statuses[code].state == ASKING}
        live: dict[tuple[str, str], list] = {}
        answered: set[str] = set()
        works = base
        try:
            while pending:
                waiting = [c for c in pending if statuses[c].state == ASKING]
                try:
                    if not waiting:
                        code, outcomes = await queue.get()
                    else:
                        async with asyncio.timeout_at(started + self.slow_after):
                            code, outcomes = await queue.get()
                except TimeoutError:
                    waited = round(loop.time() - started)
                    for c in waiting:
                        statuses[c] = MemberStatus(c, statuses[c].name, SLOW, "slow", waited=waited)
                    yield StatusChanged(list(statuses.values()))
                    continue
                pending.discard(code)
                mine = [o for o in outcomes if o.code == code]
                if not mine:  # the search itself failed (never a member's doing): logged by the task
                    statuses[code] = MemberStatus(code, known[code].name, DOWN, "internal")
                for o in mine:
                    statuses[code] = member_state(o)
                    if o.status != OK:
                        continue
                    answered.add(code)
                    wanted = set(asks[code])
                    for r in o.records:
                        if r.member == code and r.record_id in wanted:
                            live[(code, r.record_id)] = list(r.holdings)
                works = with_live(base, live, answered)
                yield StatusChanged(list(statuses.values()))
                yield ViewChanged(replace(view, works=works, statuses=list(statuses.values())))
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
            for task, outcome in zip(tasks, await asyncio.gather(*tasks, return_exceptions=True), strict=True):
                if isinstance(outcome, Exception):
                    log.error("portal: availability check %s failed", task.get_name(), exc_info=outcome)
        self._keep(works)
        yield ViewChanged(replace(view, works=works, statuses=list(statuses.values()), done=True,
                                  availability=CHECKED))

    async def _live_stream(self, params: SearchParams, query) -> AsyncIterator[StatusChanged | ViewChanged]:
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
        self._keep(result.works)

    def _keep(self, works: Iterable) -> None:
        """Keep editions by id (and group) for the edition pages that follow."""
        for w in works:
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

    async def works_by_id(self, work_ids: Iterable[str]) -> dict[str, object | None]:
        """Editions by id for a page of requests: recent searches first, then one visit to the union index off
        the event loop (a database standby that stops answering must not hold up other readers' pages)."""
        found = {i: self.works.find(i) for i in dict.fromkeys(work_ids)}
        missing = [i for i, w in found.items() if w is None]
        if missing and self.local is not None:
            local = self.local
            found.update(await asyncio.to_thread(lambda: {i: local.work(i) for i in missing}))
        return found

    async def edition(self, work_id: str) -> tuple[object | None, list]:
        """The edition with this id and its other editions: from recent searches and the union index (where
        an edition is found again after the recent caches forgot it, or after a restart), newest first."""
        found = self.works.find(work_id)
        indexed: list = []
        if self.local is not None and self.local.usable():
            local_work, indexed = await self.local.edition(work_id)
            if found is None:
                found = local_work
        if found is None:
            return None, []
        others = {w.work_id: w for w in indexed}
        others.update((w.work_id, w) for w in self.other_editions(found))  # recent ones: live holdings
        others.pop(work_id, None)
        return found, rank(list(others.values()), None, sort="year")

    def other_editions(self, work) -> list:
        """Other editions of the same work (same group_id) known from recent searches, newest first."""
        if not work.group_id:
            return []
        ids = [i for i in self.groups.get(work.group_id, ()) if i != work.work_id]
        found = [w for i in ids if (w := self.works.find(i)) is not None]
        return rank(found, None, sort="year")


def _local_key(params: SearchParams) -> tuple:
    """What identifies a local search's page: the search, its page, sort and facets (not live or language)."""
    return (params.search_key(), params.sort, tuple(sorted(params.facets)))


def statuses_in_order(statuses: Iterable[MemberStatus], members: Iterable[Member]) -> list[MemberStatus]:
    by_code = {s.code: s for s in statuses}
    return [by_code[m.code] for m in members if m.code in by_code]
