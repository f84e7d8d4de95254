"""What every connector offers: one session with one member endpoint, the same contract for every protocol.

    search(query, start, count) -> Page       one page of raw records and the hit count
    count(query=None) -> int                  how many records a query finds (None: the whole catalogue)
    harvest(since, start) -> RawRecords       every record (changed since `since`), from position `start`
    changes(since, resume) -> ChangePages     a change feed with deletions (OAI-PMH); others raise Unsupported
    record_ids() -> IndexTerms                the member's record ids (a scan), to find deleted records
    set_timeout(s), fresh(), close()

Queries are `connectors.query.Query` values; each connector renders them (CQL, RPN). What a member or its
protocol cannot do raises `Unsupported` (`changes` and the others raise it when called, before any I/O), so
callers choose by capability, never by protocol name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from connectors.errors import Diagnostic, ProtocolError, Unsupported

if TYPE_CHECKING:
    from connectors.query import Query

# What one answer for `count` records may cost, whatever the protocol: a frame plus a generous allowance per
# record asked for (a MARC record with its holdings is rarely over 50 KB). Past it the answer is refused
# unread: the member sends far more than it was asked for. Answers over PARSE_INLINE bytes are decoded in a
# worker thread, so a big answer does not hold up the event loop.
ANSWER_FRAME_BYTES = 512 * 1024
ANSWER_RECORD_BYTES = 256 * 1024
PARSE_INLINE = 256 * 1024


def answer_byte_limit(count: int) -> int:
    """The most bytes an answer carrying `count` records may have."""
    return ANSWER_FRAME_BYTES + max(count, 0) * ANSWER_RECORD_BYTES


Since = str | date | datetime | None  # records changed at or after this (a 005 stamp, an ISO date or time)


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as the member sent it, before normalisation.

    `syntax` is `marc21` or `unimarc` (ISO 2709 bytes in `data`) or `marcxml` (XML bytes);
    `charset` is the member's declared character set for ISO 2709 (`utf-8`, `marc-8`, `gbk`);
    `position` is the 1-based position in the member's result set.
    """

    data: bytes
    syntax: str
    charset: str
    position: int
    member: str = ""
    holdings: bytes | None = None  # holdings XML sent beside the record (OPAC record, ISO 20775 isohold)
    identifier: str | None = None  # the server's own record identifier (SRU recordIdentifier), if it sent one


@dataclass(slots=True)
class Page:
    """One page of a member's answer: the total hit count and the records of this page."""

    hits: int
    records: list[RawRecord] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    next_position: int | None = None


@dataclass(frozen=True, slots=True)
class IndexTerm:
    """One term of a member's index as a scan lists it, and the number of records that have it."""

    term: str
    occurrences: int | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of a change feed: the member's identifier for the record and its datestamp, and the record
    (None when it was deleted)."""

    identifier: str
    datestamp: str
    deleted: bool
    raw: RawRecord | None


@dataclass(slots=True)
class ChangePage:
    """One page of a change feed: its entries, the token that resumes after it (None at the end), the size
    of the whole list when the member says, and the member's time of the answer (where the next run starts)."""

    records: list[Change] = field(default_factory=list)
    token: str | None = None
    complete_size: int | None = None
    response_date: str | None = None


class Connector(Protocol):
    """A session with one member endpoint (see the module docstring)."""

    member: str
    protocol: str
    harvest_page: int  # records per page a harvest asks for unless told

    async def search(self, query: Query, start: int = 1, count: int = 10) -> Page: ...

    async def count(self, query: Query | None = None) -> int: ...

    def harvest(self, since: Since = None, start: int = 1, *, query: Query | None = None,
                page_size: int | None = None) -> AsyncIterator[RawRecord]: ...

    def changes(self, since: Since = None, *, resume: str | None = None) -> AsyncIterator[ChangePage]: ...

    def record_ids(self, page: int = 1000) -> AsyncIterator[IndexTerm]: ...

    def set_timeout(self, seconds: float) -> None: ...

    def fresh(self) -> None: ...

    async def close(self) -> None: ...


def harvest_query(since: Since, query: Query | None) -> Query:
    """The query a searching connector harvests with: `query` (default every record), narrowed to the records
    changed since `since` when given."""
    from connectors.query import Bool, all_records, modified_since

    if since is None:
        return query if query is not None else all_records()
    changed = modified_since(since)
    return changed if query is None else Bool("and", query, changed)


def no_changes(member: str, protocol: str) -> Unsupported:
    """What a connector without a change feed says when asked for one."""
    return Unsupported(f"{protocol} has no change feed with deletions; harvest with a date search or the whole "
                       "catalogue", member=member)


async def scan_pages(scan, page: int, member: str) -> AsyncIterator[IndexTerm]:
    """Walk a whole index with `scan(start)` (terms from `start` on, at most `page`): each next page starts at
    the last term seen, which it repeats first."""
    start, last = "", None
    while True:
        terms = await scan(start)
        fresh = terms[1:] if last is not None and terms and terms[0].term == last else terms
        if fresh and fresh[-1].term == last:
            raise ProtocolError(f"the scan did not move on from {last!r}: the member repeats its term list",
                                member=member)
        for t in fresh:
            yield t
        if len(terms) < page or not fresh:
            return
        start = last = fresh[-1].term
