"""The long-lived federator: fan-out with circuit breakers, a short answer cache, paging and a merged view.

One `Federator` per process (the CLI makes one per command, the portal one for its lifetime). It holds
the members' circuit breakers, the TTL cache of their answers and hit counts, one connection-slot gate
shared by every search, the members' open connections (kept between searches, closed by `close()`), and
one aiohttp session for SRU. `stream()` yields the events of `federator.fanout`, with merged views
coalesced; `run()` assembles a `FederatedResult` from the very same events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from pathlib import Path

from connectors.factory import ConnectorPool
from federator.answer_times import AnswerTimes
from federator.breaker import Breakers
from federator.cache import TTLCache, query_key
from federator.fanout import (
    CIRCUIT_OPEN,
    DIAGNOSTIC,
    EXHAUSTED,
    KNOWN_ITEM,
    MEMBER_ERROR,
    MEMBER_TIMEOUT,
    OK,
    SKIPPED,
    TICK,
    Ask,
    Event,
    MemberFailed,
    MemberFinished,
    MemberOutcome,
    MemberStarted,
    MergedViewUpdated,
    RecordsArrived,
    Tick,
    ask_members,
    asking_order,
    outcomes_of,
    plan,
)
from members import Member, Registry
from records.fold import load_traditional
from records.model import Record

FIRST_MERGE_INLINE = 200  # records: a first view up to this size is merged on the event loop


@dataclass(slots=True)
class FederatedResult:
    """One page of a federated search: every member's outcome (registry order) and the merged editions."""

    query: object
    page: int
    outcomes: list[MemberOutcome]
    works: list = field(default_factory=list)  # list[dedup.Work]: the last merged view of the stream
    ms: int = 0

    @property
    def records(self) -> list[Record]:
        return [r for o in self.outcomes for r in o.records]

    @property
    def answered(self) -> list[MemberOutcome]:
        return [o for o in self.outcomes if o.status == OK]

    @property
    def not_asked(self) -> list[MemberOutcome]:
        """Members skipped, each with its reason (suspended, circuit open, no endpoint, nothing more)."""
        return [o for o in self.outcomes if o.status == SKIPPED]

    @property
    def failed(self) -> list[MemberOutcome]:
        return [o for o in self.outcomes if o.status not in (OK, SKIPPED)]

    @property
    def total_hits(self) -> int:
        """The sum of the members' hit counts (before merging: an edition held by 3 members counts 3)."""
        return sum(o.hits or 0 for o in self.outcomes)

    @property
    def has_more(self) -> bool:
        """Whether some member that answered has records beyond this page (so a next page would ask it)."""
        return any(o.hits is not None and o.hits > o.start - 1 + len(o.records) for o in self.answered)


class Federator:
    """Asks members concurrently, remembering who keeps failing and what was just asked."""

    def __init__(self, members: Registry | Iterable[Member], *, concurrency: int = 128,
                 cache_ttl: float = 120.0, cache_size: int = 2048, breaker_threshold: int = 3,
                 breaker_cooldown: float = 60.0, deadline: float | None = None,
                 merge_interval: float = 0.2, keep_connections: int = 2,
                 answer_times: str | Path | None = None, clock: Callable[[], float] = time.time) -> None:
        """`clock` (seconds since the epoch) drives the breakers and the cache; tests inject a fake one.

        `merge_interval`: after the first merged view, at most one merge per this many seconds (longer
        when merging takes long, see `_MergedView`). `keep_connections`: open connections kept per member
        between searches (0: open and close one per search). `answer_times`: the file the members' answer
        times are kept in between processes (`federator.answer_times`; the CLI and the portal pass
        `answer_times.default_path()`), so that a new process asks them in a good order from its first
        search; None: learnt in memory only.
        """
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        if merge_interval < 0:
            raise ValueError(f"merge_interval must be >= 0 seconds, not {merge_interval}")
        load_traditional()  # queries go out in both Chinese scripts: build the converter now, not in a search
        self.members = list(members)
        self.concurrency = concurrency
        self.deadline = deadline
        self.breakers = Breakers(breaker_threshold, breaker_cooldown, clock)
        self.cache = TTLCache(cache_ttl, cache_size, clock)
        self.asked = 0  # members actually asked (not cached, not skipped), for statistics and tests
        self.times = AnswerTimes(answer_times)  # per member: its recent answer time, for the asking order
        self.times.load(self.members)
        self.merge_interval = merge_interval
        self.keep_connections = keep_connections
        self.pool = ConnectorPool(idle_per_member=keep_connections)
        self._gate: asyncio.Semaphore | None = None
        self._session = None
        self._threads: dict[str, ThreadPoolExecutor] = {}

    # -- lifecycle ---------------------------------------------------------------------------------------
    @property
    def answer_ms(self) -> dict[str, float]:
        """Per member code: its recent answer time in ms (weighted), as the asking order uses it."""
        return self.times.ms

    async def close(self) -> None:
        """Close the members' kept connections and the shared SRU session (the Federator stays usable);
        write the members' answer times (if kept in a file)."""
        self.times.save(force=True)
        pool, self.pool = self.pool, ConnectorPool(idle_per_member=self.keep_connections)
        await pool.close()
        threads, self._threads = self._threads, {}
        for executor in threads.values():
            executor.shutdown(wait=False, cancel_futures=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Federator:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def _select(self, members: Iterable[Member | str] | None) -> list[Member]:
        if members is None:
            return list(self.members)
        known = {m.code: m for m in self.members}
        out = []
        for m in members:
            if isinstance(m, Member):
                out.append(m)
            elif m.upper() in known:
                out.append(known[m.upper()])
            else:
                raise KeyError(f"unknown member code {m!r}; 'balis members' lists the codes")
        return out

    # -- searching ---------------------------------------------------------------------------------------
    async def stream(self, query, members: Iterable[Member | str] | None = None, *, page: int = 1,
                     per_member: int | None = None, timeout: float | None = None,
                     deadline: float | None = None, protocol: str | None = None) -> AsyncIterator[Event]:
        """Search page `page` of `members` (default: all); yield events, one outcome event per member.

        Page N asks each member for records (N-1)*cap+1 … N*cap (cap: `per_member`, else the member's
        max_records), and only members whose hit count, if known, reaches past the earlier pages.
        `timeout` overrides each member's own; `deadline` bounds the whole search in seconds.

        A MergedViewUpdated carries every record so far merged into editions: the first right after the
        first records arrive, then at most one per `merge_interval` while members answer (records that
        arrive in between are merged into the next one), and a last one, holding every record, before
        the stream ends. No RecordsArrived follows the last MergedViewUpdated.
        """
        if page < 1:
            raise ValueError(f"page is 1-based, not {page}")
        if per_member is not None and per_member < 1:
            raise ValueError(f"per_member must be at least 1, not {per_member}")
        deadline = deadline if deadline is not None else self.deadline
        qkey = query_key(query)
        selected = self._select(members)
        ask, skipped = plan(selected, protocol)
        for outcome in skipped:
            yield MemberFailed(outcome)

        begun = time.perf_counter()
        inbox: asyncio.Queue = asyncio.Queue()  # member events, and a Tick when a merge is due or done
        view = _MergedView([m.code for m in selected], self.merge_interval, self._cpu("merge"),
                           wake=lambda: inbox.put_nowait(TICK))
        to_ask: list[Ask] = []
        replayed_none: list[Ask] = []  # members whose cached answer had no hit (an ISBN search asks them again)
        unresolved: set[str] = set()
        try:
            for member, endpoint in ask:
                cap = per_member or member.max_records
                start = (page - 1) * cap + 1
                hits = self.cache.get(("hits", qkey, member.code, endpoint.protocol))
                if hits is not None and hits < start:
                    if hits == 0:  # it found nothing a moment ago: an ISBN search asks it again by title
                        replayed_none.append(Ask(member, endpoint, start, cap))
                    yield MemberFailed(MemberOutcome(
                        member.code, member.name, SKIPPED, protocol=endpoint.protocol, hits=hits, start=start,
                        reason=EXHAUSTED, error=f"前页已显示全部 {hits} 条 (all {hits} hits were on earlier pages)"))
                    continue
                cached = self.cache.get(("page", qkey, member.code, endpoint.protocol, start, cap))
                if cached is not None:
                    outcome = replace(cached, records=list(cached.records), unreadable=list(cached.unreadable),
                                      cached=True, ms=0)
                    yield MemberStarted(member.code, endpoint.protocol, cached=True)
                    if not outcome.hits and not outcome.records:
                        replayed_none.append(Ask(member, endpoint, start, cap))
                    yield RecordsArrived(member.code, outcome.hits or 0, outcome.records)
                    view.add(member.code, outcome.records)  # replayed answers: one merge for all of them
                    yield MemberFinished(outcome)
                    continue
                why = self.breakers.check(member.code)
                if why is not None:
                    yield MemberFailed(MemberOutcome(member.code, member.name, SKIPPED, protocol=endpoint.protocol,
                                                     start=start, reason=CIRCUIT_OPEN, error=why))
                    continue
                to_ask.append(Ask(member, endpoint, start, cap))
                unresolved.add(member.code)  # its half-open probe (if any) is ours until it has an outcome

            if view.dirty:  # answers replayed from the cache: one view for all of them, before asking anyone
                yield await view.everything()
            found_none: set[str] = set()  # members that answered the search with no hit
            caps = {a.member.code: a.count for a in to_ask}
            addresses = {a.member.code: a.endpoint.address for a in to_ask}

            def answered(event):
                if isinstance(event, (MemberFinished, MemberFailed)):
                    outcome = event.outcome
                    self._learn(qkey, outcome, caps[outcome.code], addresses[outcome.code])
                    unresolved.discard(outcome.code)
                    if outcome.status == "ok" and not outcome.hits or outcome.reason == DIAGNOSTIC:
                        found_none.add(outcome.code)  # a diagnostic: e.g. no ISBN index (Bib-1 114)
                return event

            if to_ask:
                self.asked += len(to_ask)
                to_ask = asking_order(to_ask, self.answer_ms)
                async with aclosing(self._round(to_ask, query, view, inbox, timeout, deadline, answered)) as events:
                    async for event in events:
                        yield event
            again = [a for a in to_ask if a.member.code in found_none] + replayed_none
            follow = known_item_follow_up(query, view.records, again)
            if page == 1 and follow is not None:
                left = None if deadline is None else max(0.0, deadline - (time.perf_counter() - begun))
                async with aclosing(self._round(follow.asks, follow.query, view, inbox, timeout, left,
                                                follow.keep)) as events:
                    async for event in events:
                        yield event
            if view.dirty or view.running is not None:  # every member has its outcome: the last view
                yield await view.everything()
        finally:
            view.close()
            for code in unresolved:  # the reader left before these had an outcome: free their probes
                self.breakers.release(code)
            self.times.save()  # at most every few seconds (close() writes the rest)

    async def _round(self, asks: list[Ask], query, view: _MergedView, inbox: asyncio.Queue, timeout: float | None,
                     deadline: float | None, on_event: Callable) -> AsyncIterator[Event]:
        """Ask `asks` the query; yield each member event as `on_event` passes it on (None: dropped), and the
        merged views the records it lets through make."""
        async with aclosing(ask_members(asks, query, timeout=timeout, deadline=deadline, gate=self._shared_gate(),
                                        session=self._sru_session(asks), pool=self.pool, inbox=inbox,
                                        cpu=self._cpu("read"))) as events:
            async for event in events:
                if not isinstance(event, Tick):
                    event = on_event(event)
                    if event is not None:
                        yield event
                        if isinstance(event, RecordsArrived):
                            view.add(event.member, event.records)
                update = view.step()
                if update is not None:
                    yield update

    async def run(self, query, members: Iterable[Member | str] | None = None, **options) -> FederatedResult:
        """The whole page at once, assembled from the same events `stream()` yields."""
        started = time.perf_counter()
        selected = self._select(members)
        events = [event async for event in self.stream(query, selected, **options)]
        return self.assemble(query, options.get("page", 1), events, selected,
                             ms=round((time.perf_counter() - started) * 1000))

    def assemble(self, query, page: int, events: Iterable, members: Iterable[Member | str] | None = None,
                 *, ms: int = 0) -> FederatedResult:
        """The result a stream's events add up to: each member's last outcome and the last merged view."""
        events = list(events)
        views = [e for e in events if isinstance(e, MergedViewUpdated)]
        return FederatedResult(query, page, outcomes_of(events, self._select(members)),
                               views[-1].works if views else [], ms)

    # -- internals ---------------------------------------------------------------------------------------
    def _learn(self, qkey: str, outcome: MemberOutcome, cap: int | None, address: str) -> None:
        """Feed an outcome to the member's breaker, its answer time and, if it answered, to the cache."""
        code = outcome.code
        if outcome.ms is not None and (outcome.status == OK or outcome.reason in (DIAGNOSTIC, MEMBER_TIMEOUT)):
            self.times.learn(code, address, outcome.ms)
        if outcome.status == OK or outcome.reason == DIAGNOSTIC:
            self.breakers.success(code)  # a diagnostic is an answer: the member is up
        elif outcome.reason in (MEMBER_TIMEOUT, MEMBER_ERROR):
            self.breakers.failure(code)
        else:  # cut by the overall deadline, or our own bug: no verdict on the member
            self.breakers.release(code)
        if outcome.status == OK and outcome.hits is not None:
            self.cache.put(("hits", qkey, code, outcome.protocol), outcome.hits)
            self.cache.put(("page", qkey, code, outcome.protocol, outcome.start, cap),
                           replace(outcome, records=list(outcome.records), unreadable=list(outcome.unreadable)))

    def _cpu(self, work: str) -> ThreadPoolExecutor:
        """Threads that read records ("read") and merge them ("merge"), so the event loop stays free for the
        members' answers. Merging has its own threads, so the first merge does not queue behind pages
        still being read; two, because a merge a later one made stale may still be running.
        """
        if work not in self._threads:
            self._threads[work] = ThreadPoolExecutor(max_workers=2 if work == "merge" else 1,
                                                     thread_name_prefix=f"balis-{work}")
        return self._threads[work]

    def _shared_gate(self) -> asyncio.Semaphore:
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.concurrency)
        return self._gate

    def _sru_session(self, asks: list[Ask]):
        if self._session is None and any(a.endpoint.protocol == "sru" for a in asks):
            from connectors.http import new_session

            self._session = new_session()
        return self._session


class _MergedView:
    """Records of one stream so far, merged into editions on a worker thread, with merges coalesced.

    Merging all records so far costs more with every member that answers, so merging after each
    arrival is quadratic in the number of members. Instead: the first merge starts as soon as there are
    records; after a merge, the next waits until `interval` seconds, or twice as long as that merge took
    if longer (merging then takes at most a third of the time), have passed; records arriving meanwhile
    go into the next merge. Merges run on the `cpu` executor, so the event loop keeps sending and
    receiving while they run; `wake()` is called when a merge is done or due, and the stream then
    calls `step()`. `everything()` gives the last view, holding every record. The first merge, of a
    first page (at most FIRST_MERGE_INLINE records, a few milliseconds), runs at once on the loop: the
    reader is waiting for it, and on a thread it would queue for the interpreter behind the loop's work.

    Records are merged in the order of the members asked (not of arrival), so the view, and the final
    result, do not depend on which member happened to answer first, and a cached replay gives the same.
    """

    def __init__(self, order: list[str], interval: float, cpu: Executor, wake: Callable[[], None]) -> None:
        from dedup import Merger

        self.merger = Merger()  # each view re-merges every record; keys, scores and works are remembered
        self.order = {code: i for i, code in enumerate(order)}
        self.interval = interval
        self.cpu = cpu
        self.wake = wake
        self.by_member: dict[str, list[Record]] = {}
        self.dirty = False  # records arrived that no merge started so far holds
        self.running: asyncio.Future | None = None  # the merge in progress
        self.merges = 0  # merges started
        self._running_members: tuple[str, ...] = ()
        self._running_started = 0.0
        self._merged_any = False  # a merge with records has started
        self._next_at = 0.0  # event-loop time before which no merge is started
        self._timer: asyncio.TimerHandle | None = None

    def records(self) -> list[Record]:
        """Every record the view holds, in the members' order."""
        return [r for c in sorted(self.by_member, key=lambda c: self.order.get(c, len(self.order)))
                for r in self.by_member[c]]

    def add(self, member: str, records: list[Record]) -> None:
        """A member's records; a member that answered with none changes no view (no empty first view)."""
        if records:
            self.by_member.setdefault(member, []).extend(records)
            self.dirty = True

    def step(self) -> MergedViewUpdated | None:
        """Collect a merge that is done, and start the next if one is due; the view to emit, if any."""
        loop = asyncio.get_running_loop()
        update = self._collect() if self.running is not None and self.running.done() else None
        if self.dirty and self.running is None:
            first = not self._merged_any and any(self.by_member.values())
            if first and sum(map(len, self.by_member.values())) <= FIRST_MERGE_INLINE:
                self._start(inline=True)  # the reader is waiting for it, and it is small: merged here, now
                return self._collect()
            if first or loop.time() >= self._next_at:
                self._start()
            elif self._timer is None:
                self._timer = loop.call_at(self._next_at, self._due)
        return update

    async def everything(self) -> MergedViewUpdated:
        """The view holding every record so far: the running merge if it already does, else a new one.

        A running merge that lacks the latest records is let finish first (its thread cannot be stopped):
        the last merge then re-clusters only what those records touch, instead of starting over next to it.
        """
        if self.running is not None:
            await asyncio.wait([self.running])
            if not self.dirty:
                return self._collect()
            self.running = None  # its view is stale: the last one follows at once
        self._start(wake=False)
        await asyncio.wait([self.running])
        return self._collect()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.running is not None:
            _abandon(self.running)
            self.running = None

    def _due(self) -> None:
        self._timer = None
        self.wake()

    def _start(self, wake: bool = True, inline: bool = False) -> None:
        loop = asyncio.get_running_loop()
        members = sorted(self.by_member, key=lambda c: self.order.get(c, len(self.order)))
        records = [r for c in members for r in self.by_member[c]]
        self._running_members = tuple(self.by_member)
        self._running_started = loop.time()
        self._merged_any = self._merged_any or bool(records)
        self.dirty = False
        self.merges += 1
        if inline:
            self.running = loop.create_future()
            self.running.set_result(self.merger.merge(records))
            return
        self.running = loop.run_in_executor(self.cpu, self.merger.merge, records)
        if wake:
            self.running.add_done_callback(lambda _: self.wake())

    def _collect(self) -> MergedViewUpdated:
        running, self.running = self.running, None
        ended = asyncio.get_running_loop().time()
        self._next_at = ended + max(self.interval, 2 * (ended - self._running_started))
        return MergedViewUpdated(running.result(), self._running_members)


@dataclass(slots=True)
class KnownItemFollowUp:
    """The second round of an ISBN search: members that found nothing by ISBN, or could not search by ISBN
    (a diagnostic), are asked for the edition by its title and year (their copy may be catalogued without the
    ISBN, or with one they index otherwise), and of what they send only the records that dedup merges with the
    records found by ISBN are kept."""

    query: object  # connectors.query.Query
    asks: list[Ask]
    isbn13: str
    found: list[Record]  # the records that carry the ISBN
    kept: dict[str, list[Record]] = field(default_factory=dict)

    def keep(self, event):
        """The event as the reader should see it: only the member's copies of this edition; None to drop it.
        A member that fails the second round keeps the outcome of the first (no hit)."""
        if isinstance(event, MemberFailed):
            return None
        if isinstance(event, RecordsArrived):
            same = same_edition(self.found, event.records, self.isbn13)
            self.kept.setdefault(event.member, []).extend(same)
            return RecordsArrived(event.member, len(self.kept[event.member]), same)
        if isinstance(event, MemberFinished):
            mine = self.kept.get(event.outcome.code, [])
            return MemberFinished(replace(event.outcome, hits=len(mine), records=list(mine),
                                          via=KNOWN_ITEM if mine else None))
        return event


def same_edition(found: list[Record], candidates: list[Record], isbn13: str) -> list[Record]:
    """The candidates that `dedup.merge` puts in an edition with a record carrying the ISBN."""
    from dedup import merge

    if not candidates:
        return []
    ids = {id(r) for r in candidates}
    out = []
    for work in merge(list(found) + list(candidates)):
        if any(isbn13 in r.isbn13s for r in work.records):
            out.extend(r for r in work.records if id(r) in ids)
    return out


def known_item_follow_up(query, records: Callable[[], list[Record]], zero: list[Ask]) -> KnownItemFollowUp | None:
    """The follow-up of an `isbn:` search for the members in `zero` (no hit), or None: not an ISBN search,
    no member to ask, or no record found by ISBN to take the title and year from. `records` gives the
    search's records (only called for an ISBN search)."""
    from connectors.query import Clause, known_item_query
    from records.identifiers import parse_isbn

    if not zero or not isinstance(query, Clause) or query.field != "isbn":
        return None
    parsed = parse_isbn(query.value)
    isbn13 = parsed.isbn13 if parsed is not None else None
    found = [r for r in records() if isbn13 and isbn13 in r.isbn13s] if isbn13 else []
    if not found:
        return None
    best = max(found, key=lambda r: (bool(r.title), r.year is not None, len(r.title or "")))
    follow = known_item_query(best.title, best.year)
    if follow is None:
        return None
    return KnownItemFollowUp(follow, [replace(a, start=1) for a in zero], isbn13, found)


def _abandon(future: asyncio.Future) -> None:
    """Drop a merge nobody waits for: not started if it still waits for a thread, else left to finish."""
    future.cancel()
