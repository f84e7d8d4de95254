"""The Z39.50 member connector: RPN search + chunked Present over one reused association."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from connectors.auth import CredentialsRef, Login
from connectors.base import (
    ChangePage,
    IndexTerm,
    Page,
    RawRecord,
    Since,
    answer_byte_limit,
    harvest_query,
    no_changes,
    scan_pages,
)
from connectors.errors import DecodeError, Diagnostic, ProtocolError, Unsupported
from connectors.rpn import Rpn, Term, pqf
from connectors.z3950 import apdu
from connectors.z3950.connection import DEFAULT_MESSAGE_SIZE, ConnectionDropped, Z3950Connection
from connectors.z3950.diagnostics import make_diagnostic
from connectors.z3950.opac import decode_opac

if TYPE_CHECKING:
    from connectors.query import Query
    from members import Target

SYNTAX_NAMES = {apdu.OID_USMARC: "marc21", apdu.OID_UNIMARC: "unimarc", apdu.OID_XML: "marcxml",
                apdu.OID_XML_APPLICATION: "marcxml", apdu.OID_OPAC: "opac"}
RESULT_SET = "default"
RECORD_IDS = ((1, 12), (4, 3))  # Bib-1 Local-number as a whole field: the index a Scan lists record ids from


@dataclass(slots=True)
class ResultSet:
    """The member's result set for one query, valid within one association generation."""

    key: str
    hits: int
    generation: int
    name: str = RESULT_SET


class Z3950Connector:
    """A session with one member's Z39.50 target (implements connectors.base.Connector)."""

    protocol = "z3950"

    def __init__(
        self,
        member_code: str,
        host: str,
        port: int,
        database: str = "Default",
        *,
        syntax: str = "marc21",
        charset: str = "utf-8",
        timeout: float = 10.0,
        record_syntax: str | None = None,
        element_set: str | None = None,
        chunk_size: int = 100,
        harvest_chunk_size: int = 500,
        negotiate_charset: bool = False,
        query_charset: str = "utf-8",
        preferred_message_size: int = DEFAULT_MESSAGE_SIZE,
        piggyback: bool = True,
        login: CredentialsRef | Login | None = None,
    ) -> None:
        """`syntax` is the member's MARC flavour (marc21|unimarc); `record_syntax` may ask for `marcxml` instead.
        `piggyback`: a first page asks for its records in the Search itself (one round trip fewer); a target
        that sends none is asked with Present as usual. `negotiate_charset` proposes UTF-8 at Init: off by
        default, because a target that agrees may convert records it misjudges (a stock MARC21 Zebra
        double-encodes UTF-8). `login`: sent in Init (the registry's credentials are read at each Init)."""
        if syntax not in ("marc21", "unimarc"):
            raise ValueError(f"member {member_code}: syntax must be marc21 or unimarc, not {syntax!r}")
        self.member = member_code
        self.database = database
        self.syntax = syntax
        self.charset = charset
        self.record_syntax = record_syntax or syntax
        if self.record_syntax not in apdu.RECORD_SYNTAXES:
            raise ValueError(f"member {member_code}: unknown record syntax {self.record_syntax!r}")
        self.element_set = element_set or ("marcxml" if self.record_syntax in ("marcxml", "xml") else "F")
        self.chunk_size = chunk_size
        self.harvest_chunk_size = harvest_chunk_size
        self.piggyback = piggyback
        self.query_charset = query_charset
        self.connection = Z3950Connection(
            host, port, member=member_code, timeout=timeout,
            propose_charset="UTF-8" if negotiate_charset else None,
            login=login,
            preferred_message_size=preferred_message_size,
            exceptional_record_size=preferred_message_size,
        )
        self._result_set: ResultSet | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_target(cls, target: Target) -> Z3950Connector:
        """A connector for one member's Z39.50 endpoint."""
        return cls(target.member, target.host, target.port, target.database, syntax=target.syntax,
                   charset=target.charset, timeout=target.timeout, negotiate_charset=target.negotiate_charset,
                   login=target.credentials, record_syntax="opac" if target.opac_syntax else None)

    # ---------------------------------------------------------------------------------------- public API

    @property
    def harvest_page(self) -> int:
        """Records per Present a harvest asks for unless told."""
        return self.harvest_chunk_size

    def set_timeout(self, seconds: float) -> None:
        """How long to wait for each answer from now on (a kept connector serves searches with other timeouts)."""
        self.connection.timeout = seconds

    def fresh(self) -> None:
        """Make the next search search again rather than present from the result set kept for the same query."""
        self._result_set = None

    async def search(self, query: Query, start: int = 1, count: int = 10) -> Page:
        """Search with a query (rendered as RPN with Bib-1 attributes) and return one page of raw records."""
        from connectors.query import to_rpn

        return await self.search_rpn(to_rpn(query), start, count)

    async def count(self, query: Query | None = None) -> int:
        """How many records the query finds (default: the whole catalogue); no record is sent."""
        from connectors.query import all_records, to_rpn

        return (await self.search_rpn(to_rpn(query if query is not None else all_records()), 1, 0)).hits

    def changes(self, since: Since = None, *, resume: str | None = None) -> AsyncIterator[ChangePage]:
        """Z39.50 has no change feed: Unsupported, raised at once."""
        raise no_changes(self.member, "Z39.50")

    async def record_ids(self, page: int = 1000) -> AsyncIterator[IndexTerm]:
        """Every record id the member lists (Scan of Local-number as a whole field), with its record count."""
        async for t in self.index_terms(RECORD_IDS, page):
            yield t

    async def search_rpn(self, rpn: Rpn, start: int = 1, count: int = 10) -> Page:
        """Search (reusing the result set when the same query pages on) and present records start..start+count-1."""
        if start < 1 or count < 0:
            raise ValueError(f"start must be >= 1 and count >= 0 (got {start}, {count})")
        async with self._lock:
            for attempt in (1, 2):
                try:
                    wanted = min(count, self.chunk_size) if self.piggyback and start == 1 else 0
                    rs, first = await self._ensure_result_set(rpn, piggyback=wanted)
                    return await self._present_page(rs, start, min(count, max(rs.hits - start + 1, 0)),
                                                    first=first)
                except ConnectionDropped:
                    self._result_set = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    async def present(self, start: int, count: int) -> Page:
        """Present records of the current result set as asked (no clamping: past the end is the member's 13)."""
        async with self._lock:
            rs = self._result_set
            if rs is None:
                raise Unsupported("no result set to present from; search first", member=self.member)
            if rs.generation != self.connection.generation:
                raise ConnectionDropped("the association that held the result set was closed; search again",
                                        member=self.member)
            return await self._present_page(rs, start, count)

    async def harvest(self, since: Since = None, start: int = 1, *, query: Query | None = None,
                      page_size: int | None = None) -> AsyncIterator[RawRecord]:
        """Every record the query finds (default: all records; with `since`, those changed since then: a Bib-1
        date search the member may refuse with a diagnostic) from position `start` (1-based, to resume an
        interrupted harvest), in Presents of `page_size` (default `harvest_chunk_size`).

        Pipelined: the Present for the next chunk is sent before this chunk's records are yielded, so
        the member prepares it while the caller parses.
        """
        from connectors.query import to_rpn

        rpn = to_rpn(harvest_query(since, query))
        if start < 1:
            raise ValueError(f"start is 1-based, not {start}")
        chunk = page_size or self.harvest_chunk_size
        position = start
        ahead: tuple[int, int, int, int] | None = None  # (ticket, generation, position, count) sent ahead
        while True:
            async with self._lock:
                for attempt in (1, 2):
                    try:
                        rs, _ = await self._ensure_result_set(rpn)
                        count = min(chunk, rs.hits - position + 1)
                        answer = None
                        if ahead is not None and ahead[1:] == (rs.generation, position, count):
                            answer = await self.connection.receive_ahead(ahead[0])
                        ahead = None
                        page = await self._present_page(rs, position, count, chunk=chunk, first=answer)
                        following = page.next_position
                        if following is not None and following > position:
                            n = min(chunk, rs.hits - following + 1)
                            ticket = await self.connection.send_ahead(self._present_pdu(rs, following, n),
                                                                      f"present {following}+{n}")
                            if ticket is not None:
                                ahead = (ticket, rs.generation, following, n)
                        break
                    except ConnectionDropped:
                        self._result_set = None
                        ahead = None
                        if attempt == 2:
                            raise
            for record in page.records:
                yield record
            if page.next_position is None or page.next_position <= position:
                return
            position = page.next_position

    async def scan(self, term: Term, count: int = 100, position: int = 1) -> list[IndexTerm]:
        """`count` terms of the index `term`'s attributes name, from `term` (or the first after it) at
        `position` (1-based) on, with the number of records having each (Z39.50 Scan)."""
        async with self._lock:
            for attempt in (1, 2):
                try:
                    encoding = self._term_encoding(await self.connection.open())
                    pdu = apdu.encode_scan_request(term, self.database, count=count, position=position,
                                                   term_encoding=encoding)
                    answer = await self.connection.request(pdu, f"scan {term.pqf()}")
                    break
                except ConnectionDropped:
                    if attempt == 2:
                        raise
        if not isinstance(answer, apdu.ScanResponse):
            raise ProtocolError(f"expected a scanResponse, got {type(answer).__name__}", member=self.member)
        if answer.diagnostics and (answer.status == 6 or not answer.entries):
            raise self._own(answer.diagnostics[0])
        if answer.status == 6:
            raise Diagnostic("1", "Permanent system error", f"scan {term.pqf()} failed without a diagnostic",
                             member=self.member)
        return [IndexTerm(e.term.decode(encoding, "replace"), e.occurrences) for e in answer.entries]

    async def index_terms(self, attributes: tuple[tuple[int, int], ...], page: int = 1000) -> AsyncIterator[IndexTerm]:
        """Every term of one index in the member's order, scanned `page` terms at a time."""
        async for t in scan_pages(lambda start: self.scan(Term(start, attributes), page, 1), page, self.member):
            yield t

    async def close(self) -> None:
        """End the association politely (Close APDU); the connector can be used again afterwards."""
        async with self._lock:
            self._result_set = None
            await self.connection.close()

    async def __aenter__(self) -> Z3950Connector:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # ---------------------------------------------------------------------------------------- internals

    async def _ensure_result_set(self, rpn: Rpn, piggyback: int = 0) -> tuple[ResultSet, apdu.Apdu | None]:
        """The result set of `rpn` (searching unless the open one is it), and, when `piggyback` records were
        asked of a new search and came (or their diagnostic did), those as the answer to the first Present."""
        key = pqf(rpn)
        rs = self._result_set
        if rs is not None and rs.key == key and rs.generation == self.connection.generation \
                and self.connection.is_open:
            return rs, None
        self._result_set = None
        encoding = self._term_encoding(await self.connection.open())
        try:
            pdu = apdu.encode_search_request(rpn, self.database, result_set=RESULT_SET,
                                             record_syntax=apdu.RECORD_SYNTAXES[self.record_syntax],
                                             term_encoding=encoding, piggyback=piggyback,
                                             element_set=self.element_set)
        except UnicodeEncodeError:
            raise Unsupported(f"the query {key} cannot be written in the member's query character set "
                              f"{encoding}; search with terms in that script", member=self.member) from None
        answer = await self.connection.request(pdu, f"search {key}", limit=answer_byte_limit(piggyback))
        if not isinstance(answer, apdu.SearchResponse):
            raise ProtocolError(f"expected a searchResponse, got {type(answer).__name__}", member=self.member)
        if not answer.search_status or (answer.diagnostics and answer.result_count == 0):
            if answer.diagnostics:
                raise self._own(answer.diagnostics[0])
            raise Diagnostic("1", "Permanent system error", "search failed without a diagnostic",
                             member=self.member)
        rs = ResultSet(key=key, hits=answer.result_count, generation=self.connection.generation)
        self._result_set = rs
        first = None
        if piggyback and rs.hits and (answer.records or answer.diagnostics):
            first = apdu.PresentResponse(records_returned=answer.records_returned,
                                         next_position=answer.next_position, present_status=answer.present_status or 0,
                                         records=answer.records, diagnostics=answer.diagnostics)
        return rs, first

    def _term_encoding(self, init: apdu.InitResponse) -> str:
        """The character set query and scan terms travel in (the one agreed at Init, if any)."""
        if init.charset and init.charset.upper() != "UTF-8":
            with contextlib.suppress(LookupError):
                return codecs.lookup(init.charset).name
        return self.query_charset

    def _present_pdu(self, rs: ResultSet, position: int, count: int) -> bytes:
        return apdu.encode_present_request(rs.name, position, count,
                                           record_syntax=apdu.RECORD_SYNTAXES[self.record_syntax],
                                           element_set=self.element_set)

    async def _present_page(self, rs: ResultSet, start: int, count: int, chunk: int | None = None,
                            first: apdu.Apdu | None = None) -> Page:
        """Records start..start+count-1 in Presents of `chunk`; `first` is the answer to the first one if
        it was already received (sent ahead)."""
        page = Page(hits=rs.hits)
        chunk = chunk or self.chunk_size
        position, last = start, start + count - 1
        while position <= last:
            n = min(chunk, last - position + 1)
            if first is not None:
                answer, first = first, None
            else:
                answer = await self.connection.request(self._present_pdu(rs, position, n), f"present {position}+{n}",
                                                       limit=answer_byte_limit(n))
            if not isinstance(answer, apdu.PresentResponse):
                raise ProtocolError(f"expected a presentResponse, got {type(answer).__name__}", member=self.member)
            if answer.diagnostics and not answer.records:
                if page.records or page.diagnostics:
                    page.diagnostics.extend(self._own(d) for d in answer.diagnostics)
                    break
                raise self._own(answer.diagnostics[0])
            for offset, rec in enumerate(answer.records):
                self._add(page, rec, position + offset)
            page.diagnostics.extend(self._own(d) for d in answer.diagnostics)
            if not answer.records:
                break
            position += len(answer.records)
        page.next_position = position if position <= rs.hits else None
        return page

    def _add(self, page: Page, rec: apdu.ResponseRecord, position: int) -> None:
        if rec.diagnostic is not None:
            d = rec.diagnostic
            page.diagnostics.append(Diagnostic(d.code, d.diagnostic_message,
                                               f"record {position}" + (f": {d.addinfo}" if d.addinfo else ""),
                                               uri=d.uri, member=self.member))
            return
        syntax = SYNTAX_NAMES.get(rec.syntax or "")
        holdings = None
        if syntax == "opac":  # the record with its holdings: read the bibliographic part as it came
            try:
                opac = decode_opac(rec.data or b"", self.charset)
            except DecodeError as exc:
                page.diagnostics.append(make_diagnostic(227, f"record {position}: {exc}", member=self.member))
                return
            holdings, syntax = opac.holdings, SYNTAX_NAMES.get(opac.syntax or "")
            rec = apdu.ResponseRecord(rec.database, opac.syntax, opac.data)
            if syntax is None or syntax == "opac" or opac.data is None:
                page.diagnostics.append(make_diagnostic(238, f"record {position}: the OPAC record's bibliographic "
                                                        f"record came as {opac.syntax}", member=self.member))
                return
        if syntax is None:
            page.diagnostics.append(make_diagnostic(238, f"record {position} came as {rec.syntax}",
                                                    member=self.member))
            return
        # ISO 2709 is labelled with the charset the registry declares for the member: servers agree to
        # UTF-8 in negotiation and still send their catalogue's own encoding (the reader checks anyway).
        charset = "utf-8" if syntax == "marcxml" else self.charset
        page.records.append(RawRecord(rec.data, syntax, charset, position, self.member, holdings=holdings))

    def _own(self, d: Diagnostic) -> Diagnostic:
        d.member = self.member
        return d

