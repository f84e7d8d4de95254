"""What every connector offers: a member session that searches and returns pages of raw records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from connectors.errors import Diagnostic, ProtocolError


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


class Connector(Protocol):
    """A session with one member endpoint."""

    member: str
    protocol: str

    async def search(self, query, start: int = 1, count: int = 10) -> Page: ...

    def harvest(self, since=None) -> AsyncIterator[RawRecord]: ...

    async def close(self) -> None: ...


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
