"""OAI-PMH 2.0 harvest client for one member: ListRecords (MARCXML) with `from`, resumptionToken and deletes.

Used by the nightly harvest only (OAI-PMH cannot search). Responses are read with the same hardened lxml
parser as SRU (no DTDs, entities or network, size-capped); every failure leaves this module as one of the
`connectors.errors` classes, mapped once in `_fetch` (network, HTTP, timeout) and in `parse_list_records`
(XML, OAI-PMH errors).
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import aiohttp
from lxml import etree

from connectors.base import Change, ChangePage, IndexTerm, Page, RawRecord, Since
from connectors.errors import (
    DecodeError,
    Diagnostic,
    MemberUnavailable,
    ProtocolError,
    ResumeExpired,
    Unsupported,
)
from connectors.http import HttpMember
from connectors.sru import MARC21_SLIM, parse_xml

if TYPE_CHECKING:
    from connectors.query import Query
    from members import Target

OAI = "http://www.openarchives.org/OAI/2.0/"
NO_RECORDS = "noRecordsMatch"  # an OAI-PMH "error" that only means: nothing changed since `from`
BAD_TOKEN = "badResumptionToken"


OaiRecord = Change  # one ListRecords entry
OaiPage = ChangePage  # one ListRecords answer


def _local(el) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(el, name: str):
    for c in el:
        if _local(c) == name:
            return c
    return None


def _text(el) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def _root(body: bytes, member: str | None, root=None):
    if root is None:
        root = parse_xml(body, "OAI-PMH response")
    if root.tag != f"{{{OAI}}}OAI-PMH":
        raise DecodeError(f"not an OAI-PMH response: root element {root.tag!r}", member=member)
    for err in root.iter(f"{{{OAI}}}error"):
        code = err.get("code") or "unknown"
        raise Diagnostic(code, _text(err) or "OAI-PMH error", member=member)
    return root


def _marcxml(metadata, member: str | None, position: int) -> bytes:
    for el in metadata.iter():
        if _local(el) == "record" and (_child(el, "leader") is not None or _child(el, "controlfield") is not None
                                       or _child(el, "datafield") is not None):
            marc = copy.deepcopy(el)
            if etree.QName(marc).namespace != MARC21_SLIM:  # one shape for the record readers
                for sub in marc.iter():
                    if isinstance(sub.tag, str):
                        sub.tag = f"{{{MARC21_SLIM}}}{_local(sub)}"
            slim = etree.Element(f"{{{MARC21_SLIM}}}record", dict(marc.attrib), nsmap={None: MARC21_SLIM})
            slim.text = marc.text
            slim.extend(list(marc))
            etree.cleanup_namespaces(slim)
            return etree.tostring(slim, encoding="UTF-8", xml_declaration=False)
    raise DecodeError(f"OAI-PMH record {position} carries no MARCXML record in <metadata>", member=member)


def parse_list_records(body: bytes, member: str | None = None, first_position: int = 1) -> OaiPage:
    """A ListRecords response as an OaiPage; `noRecordsMatch` is an empty last page, other errors raise."""
    root = parse_xml(body, "OAI-PMH response")
    response_date = _text(_child(root, "responseDate")) or None
    try:
        _root(body, member, root)
    except Diagnostic as d:
        if d.code == NO_RECORDS:
            return OaiPage(response_date=response_date)
        raise
    page = OaiPage(response_date=response_date)
    listing = _child(root, "ListRecords")
    if listing is None:
        raise DecodeError("OAI-PMH response has neither ListRecords nor an error", member=member)
    for i, rec in enumerate(el for el in listing if _local(el) == "record"):
        header = _child(rec, "header")
        if header is None:
            raise DecodeError(f"OAI-PMH record {first_position + i} has no header", member=member)
        identifier = _text(_child(header, "identifier"))
        if not identifier:
            raise DecodeError(f"OAI-PMH record {first_position + i} has no identifier", member=member)
        datestamp = _text(_child(header, "datestamp"))
        if header.get("status") == "deleted":
            page.records.append(OaiRecord(identifier, datestamp, True, None))
            continue
        metadata = _child(rec, "metadata")
        if metadata is None:
            raise DecodeError(f"OAI-PMH record {identifier} has no metadata and is not deleted", member=member)
        data = _marcxml(metadata, member, first_position + i)
        raw = RawRecord(data=data, syntax="marcxml", charset="utf-8", position=first_position + i,
                        member=member or "")
        page.records.append(OaiRecord(identifier, datestamp, False, raw))
    token_el = _child(listing, "resumptionToken")
    if token_el is not None:
        page.token = _text(token_el) or None  # an empty token closes the list
        size = token_el.get("completeListSize")
        if size and size.isdigit():
            page.complete_size = int(size)
    elif page.records:
        page.complete_size = None
    return page


def oai_datetime(when: datetime | date | str, granularity: str = "YYYY-MM-DDThh:mm:ssZ") -> str:
    """A `from` value in the repository's granularity (UTC)."""
    if isinstance(when, date) and not isinstance(when, datetime):
        when = when.isoformat()
    if isinstance(when, str):
        text = when.strip()
        if len(text) == 10:
            return text if granularity == "YYYY-MM-DD" else text + "T00:00:00Z"
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.astimezone()
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d" if granularity == "YYYY-MM-DD" else "%Y-%m-%dT%H:%M:%SZ")


class OaiPmhConnector(HttpMember):
    """A harvest session with one member's OAI-PMH repository (MARCXML, `metadataPrefix=marc21`)."""

    protocol = "oaipmh"
    service = "OAI-PMH"

    def __init__(self, member_code: str, base_url: str, *, timeout: float = 30.0,
                 session: aiohttp.ClientSession | None = None, metadata_prefix: str = "marc21") -> None:
        self.member = member_code
        self.base_url = base_url
        self.timeout = timeout
        self.session = session
        self.metadata_prefix = metadata_prefix
        self._owned = False
        self._granularity: str | None = None

    @classmethod
    def from_target(cls, target: Target, *, session: aiohttp.ClientSession | None = None) -> OaiPmhConnector:
        """A harvest connector for one member's OAI-PMH repository."""
        return cls(target.member, target.address, timeout=target.timeout, session=session,
                   metadata_prefix=target.metadata_prefix)

    harvest_page = 0  # the repository chooses the size of its pages

    async def _fetch(self, params: dict[str, str]) -> bytes:
        status, reason, body = await self._get(params)
        if status >= 500 or status in (404, 408, 429):
            raise MemberUnavailable(f"HTTP {status} {reason or ''} from {self.base_url}; "
                                    "the member's OAI-PMH service is not answering", member=self.member)
        if status >= 400:
            try:  # an OAI-PMH error in the body is the better message (raised as a Diagnostic)
                _root(body, self.member)
            except DecodeError:
                pass
            raise ProtocolError(f"HTTP {status} {reason or ''} from {self.base_url}", member=self.member)
        return body

    async def identify(self) -> dict:
        """The repository's Identify answer: name, granularity, earliestDatestamp, deletedRecord policy."""
        root = _root(await self._fetch({"verb": "Identify"}), self.member)
        ident = _child(root, "Identify")
        if ident is None:
            raise DecodeError("OAI-PMH Identify answer has no Identify element", member=self.member)
        out = {_local(c): _text(c) for c in ident if _local(c) in (
            "repositoryName", "baseURL", "protocolVersion", "earliestDatestamp", "deletedRecord", "granularity")}
        self._granularity = out.get("granularity") or "YYYY-MM-DD"
        return out

    async def pages(self, since: Since = None, *, token: str | None = None,
                    first_position: int = 1) -> AsyncIterator[OaiPage]:
        """ListRecords page by page: from the start (records changed since `since`, if given), or from a
        resumptionToken kept by an interrupted harvest. Deleted records come as `OaiRecord.deleted`."""
        if token:
            params = {"verb": "ListRecords", "resumptionToken": token}
        else:
            params = {"verb": "ListRecords", "metadataPrefix": self.metadata_prefix}
            if since is not None:
                if self._granularity is None:
                    await self.identify()
                params["from"] = oai_datetime(since, self._granularity or "YYYY-MM-DD")
        position = first_position
        while True:
            try:
                page = parse_list_records(await self._fetch(params), self.member, position)
            except Diagnostic as d:
                if d.code == BAD_TOKEN and "resumptionToken" in params:
                    raise ResumeExpired(d.code, d.diagnostic_message, d.addinfo, member=self.member) from None
                raise
            position += len(page.records)
            yield page
            if not page.token:
                return
            params = {"verb": "ListRecords", "resumptionToken": page.token}

    def changes(self, since: Since = None, *, resume: str | None = None) -> AsyncIterator[ChangePage]:
        """The change feed: ListRecords pages with deletions, from `resume` (a resumptionToken kept by an
        interrupted harvest) or from the start (the records changed since `since`, if given)."""
        return self.pages(since, token=resume)

    async def harvest(self, since: Since = None, start: int = 1, *, query: Query | None = None,
                      page_size: int | None = None) -> AsyncIterator[RawRecord]:
        """Every record that is not deleted (changed since `since`, if given) from position `start` of the list
        on, as the other connectors give. OAI-PMH cannot select by a query: Unsupported."""
        if query is not None:
            raise Unsupported("OAI-PMH cannot select records by a query; it lists the whole repository",
                              member=self.member)
        async for page in self.pages(since):
            for rec in page.records:
                if rec.raw is not None and rec.raw.position >= start:
                    yield rec.raw

    async def search(self, query: Query, start: int = 1, count: int = 10) -> Page:
        raise Unsupported("OAI-PMH cannot search; it is used by the harvest only", member=self.member)

    async def count(self, query: Query | None = None) -> int:
        raise Unsupported("OAI-PMH cannot count records by a query; it is used by the harvest only",
                          member=self.member)

    def record_ids(self, page: int = 1000) -> AsyncIterator[IndexTerm]:
        raise Unsupported("OAI-PMH lists no record ids with counts; deletions come in its change feed",
                          member=self.member)
