"""Ask many members at once: one async stream of events, one outcome per member, never an exception."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from connectors.errors import Diagnostic, MemberError, MemberTimeout
from connectors.factory import open_connector
from federator.registry import Member
from records.errors import RecordError
from records.model import Record

OK, TIMEOUT, ERROR, SKIPPED = "ok", "timeout", "error", "skipped"


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


@dataclass(frozen=True, slots=True)
class MemberStarted:
    member: str
    protocol: str


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


Event = MemberStarted | RecordsArrived | MemberFinished | MemberFailed


def plan(members: Iterable[Member], protocol: str | None) -> tuple[list[tuple[Member, object]], list[MemberOutcome]]:
    """Split members into those to ask (with the endpoint to use) and those skipped, with the reason."""
    ask, skipped = [], []
    for m in members:
        reason = None
        endpoint = m.endpoint(protocol)
        if not m.active:
            reason = "暂停服务 suspended" + (f": {m.suspended_reason}" if m.suspended_reason else "")
            if m.suspended_since:
                reason += f" (since {m.suspended_since.isoformat()})"
        elif not m.endpoints:
            reason = "no OPAC endpoint in the registry"
        elif endpoint is None:
            reason = f"no {protocol} endpoint (offers {', '.join(m.protocols)})"
        if reason:
            skipped.append(MemberOutcome(m.code, m.name, SKIPPED, error=reason))
        else:
            ask.append((m, endpoint))
    return ask, skipped


async def fan_out(members: Iterable[Member], query, *, protocol: str | None = None,
                  timeout: float | None = None, max_records: int | None = None,
                  concurrency: int = 32) -> AsyncIterator[Event]:
    """Search every member concurrently; yield events as they happen, ending with one outcome per member."""
    ask, skipped = plan(members, protocol)
    for outcome in skipped:
        yield MemberFailed(outcome)
    if not ask:
        return
    queue: asyncio.Queue = asyncio.Queue()
    gate = asyncio.Semaphore(concurrency)
    session = None
    if any(ep.protocol == "sru" for _, ep in ask):
        import aiohttp

        session = aiohttp.ClientSession()
    tasks = [asyncio.create_task(_ask(m, ep, query, timeout, max_records, gate, queue, session))
             for m, ep in ask]
    try:
        remaining = len(tasks)
        while remaining:
            event = await queue.get()
            if isinstance(event, (MemberFinished, MemberFailed)):
                remaining -= 1
            yield event
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if session is not None:
            await session.close()


async def _ask(member: Member, endpoint, query, timeout, max_records, gate, queue, session) -> None:
    wait = timeout if timeout is not None else member.timeout
    count = max_records if max_records is not None else member.max_records
    outcome = MemberOutcome(member.code, member.name, OK, protocol=endpoint.protocol)
    async with gate:
        await queue.put(MemberStarted(member.code, endpoint.protocol))
        started = time.perf_counter()
        connector = None
        try:
            connector = open_connector(member, endpoint, timeout=wait, session=session)
            async with asyncio.timeout(wait):
                page = await connector.search(query, 1, count)
            outcome.hits = page.hits
            for raw in page.records:
                try:
                    outcome.records.append(normalise_raw(raw, member))
                except RecordError as exc:
                    outcome.unreadable.append(str(exc))
            if page.diagnostics:
                outcome.diagnostic = page.diagnostics[0].as_dict()
            outcome.ms = _ms(started)
            await queue.put(RecordsArrived(member.code, page.hits, outcome.records))
            await queue.put(MemberFinished(outcome))
        except (TimeoutError, MemberTimeout):
            outcome.status, outcome.ms = TIMEOUT, _ms(started)
            outcome.error = f"no answer within {wait:g} s"
            await queue.put(MemberFailed(outcome))
        except MemberError as exc:
            outcome.status, outcome.ms, outcome.error = ERROR, _ms(started), exc.message
            if isinstance(exc, Diagnostic):
                outcome.diagnostic = exc.as_dict()
            await queue.put(MemberFailed(outcome))
        except Exception as exc:  # a bug must cost one member, not the search: report it as that member's error
            outcome.status, outcome.ms = ERROR, _ms(started)
            outcome.error = f"internal error ({type(exc).__name__}: {exc}); please report it"
            await queue.put(MemberFailed(outcome))
        finally:
            if connector is not None:
                try:
                    await connector.close()
                except Exception:
                    pass


def normalise_raw(raw, member: Member) -> Record:
    from records.normalise import from_raw

    return from_raw(raw.data, syntax=raw.syntax, charset=raw.charset or member.charset,
                    member=member.code, position=raw.position)


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def search(members: Iterable[Member], query, **options) -> list[MemberOutcome]:
    """Run a fan-out to the end and return every member's outcome in registry order."""
    members = list(members)
    outcomes: dict[str, MemberOutcome] = {}
    async for event in fan_out(members, query, **options):
        if isinstance(event, (MemberFinished, MemberFailed)):
            outcomes[event.outcome.code] = event.outcome
    return [outcomes[m.code] for m in members if m.code in outcomes]
