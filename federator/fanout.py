"""Ask many members at once: one async stream of events, one outcome per member, never an exception."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import Executor
from contextlib import aclosing
from dataclasses import dataclass, field, replace

from connectors.errors import Diagnostic, MemberError, MemberTimeout, Unsupported
from connectors.factory import ConnectorPool, open_connector
from connectors.normalise import normalise_raw
from members import Endpoint, Member
from records.errors import RecordError
from records.model import Record
from records.repair import count_repaired

OK, TIMEOUT, ERROR, SKIPPED = "ok", "timeout", "error", "skipped"

# Machine-readable reasons (MemberOutcome.reason), so the portal and the breakers need not parse text.
SUSPENDED, NO_ENDPOINT, NO_PROTOCOL = "suspended", "no_endpoint", "no_protocol"
CIRCUIT_OPEN, EXHAUSTED = "circuit_open", "exhausted"
MEMBER_TIMEOUT, DEADLINE = "timeout", "deadline"
MEMBER_ERROR, DIAGNOSTIC, INTERNAL = "member_error", "diagnostic", "internal"
KNOWN_ITEM = "known_item"  # MemberOutcome.via: copies found by title and year, the ISBN having found none


@dataclass(slots=True)
class MemberOutcome:
    """What one member did with one search: answered, timed out, failed or was not asked (and why)."""

    code: str
    name: str
    status: str
    protocol: str | None = None
    hits: int | None = None
    ms: int | None = None
    error: str | None = None
    diagnostic: dict | None = None
    records: list[Record] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # records that could not be read, with why
    reason: str | None = None  # why it is not ok (one of the reason constants above)
    cached: bool = False  # served from the federator's cache: the member was not asked this time
    start: int = 1  # 1-based position of the first record asked for
    via: str | None = None  # KNOWN_ITEM: found by title and year after its ISBN found nothing
    excess: int = 0  # records the member sent beyond those asked for (dropped unread: it misbehaves)

    @property
    def repaired(self) -> int:
        """How many of the member's records arrived double-encoded (UTF-8 read as Latin-1) and were repaired."""
        return count_repaired(r.warnings for r in self.records)


@dataclass(frozen=True, slots=True)
class MemberStarted:
    member: str
    protocol: str
    cached: bool = False


@dataclass(frozen=True, slots=True)
class RecordsArrived:
    member: str
    hits: int
    records: list[Record]


@dataclass(frozen=True, slots=True)
class MemberFinished:
    outcome: MemberOutcome


@dataclass(frozen=True, slots=True)
class MemberFailed:
    outcome: MemberOutcome


@dataclass(frozen=True, slots=True)
class MergedViewUpdated:
    """Every record so far merged into editions (dedup.Work): the first as soon as records arrive, then
    coalesced (at most one merge per interval), and a last one once every member has an outcome."""

    works: list  # list[dedup.Work]
    members: tuple[str, ...]  # members whose records are in the view


Event = MemberStarted | RecordsArrived | MemberFinished | MemberFailed | MergedViewUpdated


class Tick:
    """What a caller of `ask_members` puts in the `inbox` to be woken: `ask_members` yields it back as is."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TICK"


TICK = Tick()


@dataclass(frozen=True, slots=True)
class Ask:
    """One member to ask: where, and which slice of its result set (1-based start, count)."""

    member: Member
    endpoint: Endpoint
    start: int = 1
    count: int | None = None  # None: the member's max_records


def plan(members: Iterable[Member], protocol: str | None) -> tuple[list[tuple[Member, Endpoint]], list[MemberOutcome]]:
    """Split members into those to ask (with the endpoint to use) and those skipped, with the reason."""
    ask, skipped = [], []
    for m in members:
        reason = why = None
        endpoint = m.endpoint(protocol)
        if not m.active:
            reason, why = "暂停服务 suspended" + (f": {m.suspended_reason}" if m.suspended_reason else ""), SUSPENDED
            if m.suspended_since:
                reason += f" (since {m.suspended_since.isoformat()})"
        elif not m.endpoints:
            reason, why = "no OPAC endpoint in the registry", NO_ENDPOINT
        elif endpoint is None:
            reason, why = f"no {protocol} endpoint (offers {', '.join(m.protocols)})", NO_PROTOCOL
        if reason:
            skipped.append(MemberOutcome(m.code, m.name, SKIPPED, error=reason, reason=why))
        else:
            ask.append((m, endpoint))
    return ask, skipped


def asking_order(asks: list[Ask], expected_ms: dict[str, float]) -> list[Ask]:
    """The members in the order to ask them: the one expected to answer first, then the one expected last,
    then the second fastest, the second slowest, and so on.

    A search shows its first results when its fastest member has answered and ends when its slowest has,
    so those two are sent first; the members in between change neither. `expected_ms`: the members'
    recent answer times; members not in it are put at the median of those that are. Nothing known: as given.
    """
    known = [expected_ms[a.member.code] for a in asks if a.member.code in expected_ms]
    if not known:
        return list(asks)
    middle = sorted(known)[len(known) // 2]
    ranked = sorted(asks, key=lambda a: expected_ms.get(a.member.code, middle))  # stable: ties keep their order
    out = []
    low, high = 0, len(ranked) - 1
    while low <= high:
        out.append(ranked[low])
        if high != low:
            out.append(ranked[high])
        low, high = low + 1, high - 1
    return out


async def fan_out(members: Iterable[Member], query, *, protocol: str | None = None,
                  timeout: float | None = None, max_records: int | None = None,
                  concurrency: int = 32, deadline: float | None = None) -> AsyncIterator[Event]:
    """Search every member concurrently; yield events as they happen, ending with one outcome per member.

    One-shot: no cache, no circuit breakers, no merged view (a `federator.Federator` adds those).
    """
    ask, skipped = plan(members, protocol)
    for outcome in skipped:
        yield MemberFailed(outcome)
    asks = [Ask(m, ep, 1, max_records) for m, ep in ask]
    async with aclosing(ask_members(asks, query, timeout=timeout, deadline=deadline,
                                    gate=asyncio.Semaphore(concurrency))) as events:
        async for event in events:
            yield event


async def ask_members(asks: list[Ask], query, *, timeout: float | None = None, deadline: float | None = None,
                      gate: asyncio.Semaphore, session=None, pool: ConnectorPool | None = None,
                      inbox: asyncio.Queue | None = None, cpu: Executor | None = None,
                      ) -> AsyncIterator[Event | Tick]:
    """Ask each member its slice, at most `gate` at a time; yield events; stop at the overall deadline.

    Members with no outcome when `deadline` seconds have passed are reported as timeouts (reason
    `deadline`) and the stream ends. `session` is an aiohttp session for SRU (one is opened if needed).
    With a `pool`, connectors are taken from it and given back when the member answered (kept open for
    the next search); without one, each is opened for this search and closed after it. `inbox` is the
    queue the events are collected in: a `Tick` the caller puts there is yielded back (a timer or a
    finished merge waking the caller). With `cpu`, records are read (normalised) on that executor, so
    the event loop stays free to send and receive while a page of records is read; except the first page
    with records (of at most FIRST_PAGE_INLINE records), read at once on the loop: the reader is waiting
    for it, and on a thread it would share the interpreter with the loop starting and reading the others.
    """
    if not asks:
        return
    loop = asyncio.get_running_loop()
    ends_at = loop.time() + deadline if deadline is not None else None
    queue: asyncio.Queue = inbox if inbox is not None else asyncio.Queue()
    own_session = None
    if session is None and any(a.endpoint.protocol == "sru" for a in asks):
        from connectors.http import new_session

        session = own_session = new_session()
    tasks: list[asyncio.Task] = []
    first = _FirstPage()

    async def start_all() -> None:
        # One member at a time, letting the loop run between them: each member's connection is opened and its
        # request sent while the next ones are being started, instead of every member waiting until all 70
        # connections have been begun (the first request then left tens of milliseconds late).
        for a in asks:
            tasks.append(asyncio.create_task(_ask(a, query, timeout, gate, queue, session, pool, cpu, first)))
            await asyncio.sleep(0)

    starter = asyncio.create_task(start_all())
    pending = {a.member.code: a for a in asks}
    started: set[str] = set()
    try:
        while pending:
            try:
                if ends_at is None:
                    event = await queue.get()
                else:
                    async with asyncio.timeout_at(ends_at):
                        event = await queue.get()
            except TimeoutError:
                break
            if isinstance(event, Tick):
                yield event
                continue
            if isinstance(event, MemberStarted):
                started.add(event.member)
            elif isinstance(event, (MemberFinished, MemberFailed)):
                pending.pop(event.outcome.code, None)
            yield event
        while pending and not queue.empty():  # answers that came in before the deadline still count
            event = queue.get_nowait()
            if isinstance(event, Tick):
                continue
            if isinstance(event, (MemberFinished, MemberFailed)):
                pending.pop(event.outcome.code, None)
            yield event
        for code, a in list(pending.items()):
            outcome = MemberOutcome(code, a.member.name, TIMEOUT, protocol=a.endpoint.protocol,
                                    reason=DEADLINE, start=a.start,
                                    ms=round(deadline * 1000) if deadline is not None else None)
            if code in started:
                outcome.error = f"no answer before the overall deadline of {deadline:g} s"
            else:
                outcome.error = (f"not asked before the overall deadline of {deadline:g} s "
                                 "(waiting for a free connection slot)")
            del pending[code]
            yield MemberFailed(outcome)
    finally:
        starter.cancel()
        await asyncio.gather(starter, return_exceptions=True)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if own_session is not None:
            await own_session.close()


FIRST_PAGE_INLINE = 100  # records: a first page up to this size is read on the event loop (about 20 ms at most)


class _FirstPage:
    """Whether a page with records has been read yet in this search (see `ask_members`)."""

    __slots__ = ("pending",)

    def __init__(self) -> None:
        self.pending = True


async def _ask(a: Ask, query, timeout, gate, queue, session, pool: ConnectorPool | None,
               cpu: Executor | None, first: _FirstPage | None = None) -> None:
    member, endpoint = a.member, a.endpoint
    wait = timeout if timeout is not None else member.timeout
    target = member.target(endpoint, timeout=wait)
    count = a.count if a.count is not None else member.max_records
    outcome = MemberOutcome(member.code, member.name, OK, protocol=endpoint.protocol, start=a.start)
    async with gate:
        await queue.put(MemberStarted(member.code, endpoint.protocol))
        started = time.perf_counter()
        connector = None
        try:
            if pool is not None:
                connector = pool.take(target, session=session, fresh=a.start == 1)
            else:
                connector = open_connector(target, session=session)
            async with asyncio.timeout(wait):
                page = await connector.search(query, a.start, count)
            if pool is not None:  # the member answered: its connection is in a known state, keep it
                pool.give_back(target, connector)
                connector = None
            outcome.hits = page.hits
            raw = page.records
            if len(raw) > count:  # a member that sends more than asked costs the search only what was asked
                outcome.excess, raw = len(raw) - count, raw[:count]
            inline = first is not None and first.pending and 0 < len(raw) <= FIRST_PAGE_INLINE
            if cpu is None or inline:
                outcome.records, outcome.unreadable = normalise_page(raw, member)
            else:
                outcome.records, outcome.unreadable = await asyncio.get_running_loop().run_in_executor(
                    cpu, normalise_page, raw, member)
            if first is not None and outcome.records:
                first.pending = False
            if page.diagnostics:
                outcome.diagnostic = page.diagnostics[0].as_dict()
            outcome.ms = _ms(started)
            await queue.put(RecordsArrived(member.code, page.hits, outcome.records))
            await queue.put(MemberFinished(outcome))
        except asyncio.CancelledError:  # the stream ended (deadline, reader left): close in the background
            if connector is not None:
                if pool is not None:
                    pool.discard(connector)
                else:
                    _close_later(connector)
                connector = None
            raise
        except (TimeoutError, MemberTimeout):
            outcome.status, outcome.ms, outcome.reason = TIMEOUT, _ms(started), MEMBER_TIMEOUT
            outcome.error = f"no answer within {wait:g} s"
            await queue.put(MemberFailed(outcome))
        except MemberError as exc:
            outcome.status, outcome.ms, outcome.error = ERROR, _ms(started), exc.message
            outcome.reason = MEMBER_ERROR
            if isinstance(exc, Diagnostic):
                outcome.diagnostic = exc.as_dict()
                outcome.reason = DIAGNOSTIC
            if pool is not None and connector is not None and isinstance(exc, Diagnostic | Unsupported):
                pool.give_back(target, connector)  # the member answered; the query was the problem
                connector = None
            await queue.put(MemberFailed(outcome))
        except Exception as exc:  # a bug must cost one member, not the search: report it as that member's error
            outcome.status, outcome.ms, outcome.reason = ERROR, _ms(started), INTERNAL
            outcome.error = f"internal error ({type(exc).__name__}: {exc}); please report it"
            await queue.put(MemberFailed(outcome))
        finally:
            if connector is not None:
                if pool is not None:
                    pool.discard(connector)
                else:
                    try:
                        await connector.close()
                    except Exception:
                        pass


_closing: set[asyncio.Task] = set()


def _close_later(connector) -> None:
    """Close a connector without making the stream wait for a polite Z39.50 Close to a slow member."""

    async def close() -> None:
        try:
            await connector.close()
        except Exception:
            pass

    task = asyncio.get_running_loop().create_task(close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def normalise_page(raws, member: Member) -> tuple[list[Record], list[str]]:
    """A page of raw records read into Records, and the ones that could not be read (with why)."""
    records, unreadable = [], []
    for raw in raws:
        try:
            own = raw if raw.member == member.code else replace(raw, member=member.code)
            records.append(normalise_raw(own, charset=member.charset, ils=member.ils))
        except RecordError as exc:
            unreadable.append(str(exc))
    return records, unreadable


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def outcomes_of(events: Iterable[Event], members: Iterable[Member]) -> list[MemberOutcome]:
    """Each member's final outcome in a stream of events, in the members' order."""
    final = {e.outcome.code: e.outcome for e in events if isinstance(e, (MemberFinished, MemberFailed))}
    return [final[m.code] for m in members if m.code in final]


async def search(members: Iterable[Member], query, **options) -> list[MemberOutcome]:
    """Run a fan-out to the end and return every member's outcome in registry order."""
    members = list(members)
    return outcomes_of([event async for event in fan_out(members, query, **options)], members)
