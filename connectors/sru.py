"""SRU 1.1/1.2/2.0 client for one member: searchRetrieve and explain over aiohttp, responses read with lxml.

Every failure leaves this module as one of the `connectors.errors` classes, mapped once in `_fetch`
(network, HTTP, timeout) and in `parse_search_response` / `parse_explain_response` (XML, SRU diagnostics).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING

import aiohttp
from lxml import etree

from connectors.auth import CredentialsRef, Login, refused
from connectors.base import (
    PARSE_INLINE,
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
from connectors.errors import (
    DecodeError,
    Diagnostic,
    MemberError,
    MemberUnavailable,
    ProtocolError,
    Unsupported,
)
from connectors.http import MAX_BODY, HttpMember
from connectors.query import CQL_INDEX, FULL, Capabilities, Query, all_records, check, to_cql

if TYPE_CHECKING:
    from members import Target

SRU_1 = "http://www.loc.gov/zing/srw/"
SRU_2 = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
DIAG_1 = "http://www.loc.gov/zing/srw/diagnostic/"
DIAG_2 = "http://docs.oasis-open.org/ns/search-ws/diagnostic"
MARC21_SLIM = "http://www.loc.gov/MARC21/slim"
EXPLAIN = "http://explain.z3950.org/dtd/2.0/"
SCAN_2 = "http://docs.oasis-open.org/ns/search-ws/scan"
SRU_NAMESPACES = (SRU_1, SRU_2, SCAN_2)
_DIAGNOSTIC_TAGS = (f"{{{DIAG_1}}}diagnostic", f"{{{DIAG_2}}}diagnostic")
VERSIONS = ("1.1", "1.2", "2.0")
ISO20775 = "http://www.loc.gov/standards/iso20775/"
TURBOMARC = "http://www.indexdata.com/turbomarc"

# Names servers use for MARCXML; tried in order until the member accepts one (then remembered).
MARCXML_SCHEMAS = ("marcxml", "info:srw/schema/1/marcxml-v1.1", "MARC21-xml")
UNKNOWN_SCHEMA = {"66", "67"}  # SRU diagnostics: unknown schema for retrieval / cannot transform
AUTHENTICATION_ERROR = "3"  # SRU diagnostic info:srw/diagnostic/1/3
MAX_PAGE = 500


def search_byte_limit(count: int) -> int:
    """The most bytes a searchRetrieve answer for `count` records may have (connectors.base)."""
    return min(MAX_BODY, answer_byte_limit(count))


def _xml_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, dtd_validation=False,
        remove_blank_text=False,
    )  # fmt: skip


_PARSER = _xml_parser()


def parse_xml(body: bytes, what: str = "SRU response") -> etree._Element:
    """Parse untrusted XML: no DTDs, no entities, no network, no huge trees; anything else is a DecodeError."""
    if len(body) > MAX_BODY:
        raise DecodeError(f"{what} is {len(body)} bytes, over the {MAX_BODY} byte limit; not parsed")
    try:
        root = etree.fromstring(body, _PARSER)
    except (etree.XMLSyntaxError, ValueError) as e:
        raise DecodeError(f"{what} is not well-formed XML: {e}") from None
    if root is None:
        raise DecodeError(f"{what} is empty")
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise DecodeError(f"{what} carries a DOCTYPE/DTD (entity declarations are refused)")
    for el in root.iter(etree.Entity):
        raise DecodeError(f"{what} uses the entity &{el.name}; entities are not expanded")
    return root


def _local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _ns(el: etree._Element) -> str:
    tag = el.tag
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _child(el: etree._Element, name: str) -> etree._Element | None:
    for c in el:
        if _local(c) == name:
            return c
    return None


def _children(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _local(c) == name]


def _text(el: etree._Element | None, name: str | None = None) -> str | None:
    if el is not None and name is not None:
        el = _child(el, name)
    if el is None:
        return None
    text = "".join(el.itertext()).strip()
    return text or None


def _int(el: etree._Element, name: str, what: str) -> int | None:
    text = _text(el, name)
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise DecodeError(f"SRU {what} {name} is not a number: {text[:40]!r}") from None
    if value < 0:
        raise DecodeError(f"SRU {what} {name} is negative: {value}")
    return value


def _check_root(root: etree._Element, expected: str) -> None:
    if _ns(root) not in SRU_NAMESPACES:
        raise DecodeError(f"not an SRU response: root element {root.tag!r}")
    if _local(root) == "diagnostic" or _local(root) == "diagnostics":
        return
    if _local(root) != expected:
        raise DecodeError(f"expected an SRU {expected}, got {_local(root)!r}")


def parse_diagnostic(el: etree._Element, member: str | None = None) -> Diagnostic:
    """One <diagnostic> (1.x or 2.0 namespace) as a `Diagnostic` keeping the server's URI, code and details."""
    uri = _text(el, "uri") or ""
    message = _text(el, "message") or ""
    details = _text(el, "details")
    code = uri.rsplit("/", 1)[-1] if uri else "unknown"
    if not message:
        message = SRU_DIAGNOSTICS.get(code, "SRU diagnostic") if uri.startswith("info:srw/diagnostic/1/") else (
            "SRU diagnostic"
        )
    return Diagnostic(code, message, details, uri=uri or None, member=member)


def _diagnostics(root: etree._Element, member: str | None) -> list[Diagnostic]:
    container = _child(root, "diagnostics")
    if container is None:
        return [parse_diagnostic(root, member)] if _local(root) == "diagnostic" else []
    return [parse_diagnostic(d, member) for d in container if _local(d) == "diagnostic"]


def _marc_record(data: etree._Element) -> etree._Element | None:
    """The MARCXML <record> inside recordData (bare or in a <collection>; MARC21 slim, none, or another
    namespace with the same structure, such as the NLC's CNMARC XML `http://www.nlc.cn/`)."""
    for el in data.iter():
        if _local(el) == "record" and _ns(el) not in SRU_NAMESPACES:
            if _child(el, "leader") is not None or _child(el, "controlfield") is not None or (
                _child(el, "datafield") is not None
            ):
                return el
    return None


def parse_search_response(body: bytes, member: str | None = None, start: int = 1) -> Page:
    """A searchRetrieveResponse (any version) as a Page; a fatal diagnostic (no records) is raised."""
    root = parse_xml(body)
    _check_root(root, "searchRetrieveResponse")
    diagnostics = _diagnostics(root, member)
    hits = _int(root, "numberOfRecords", "response") if _local(root) == "searchRetrieveResponse" else None
    records: list[RawRecord] = []
    container = _child(root, "records")
    if container is not None:
        for i, rec in enumerate(_children(container, "record")):
            raw = _record(rec, member, start + i, diagnostics)
            if raw is not None:
                records.append(raw)
    if diagnostics and not records and (hits is None or hits == 0 or container is None):
        raise diagnostics[0]
    if hits is None:
        raise DecodeError("SRU response has neither numberOfRecords nor a diagnostic", member=member)
    next_position = _int(root, "nextRecordPosition", "response")
    if next_position is None and container is not None:  # servers such as Zebra leave it out
        last = start + len(_children(container, "record"))
        next_position = last if 0 < last - start and last <= hits else None
    return Page(hits=hits, records=records, diagnostics=diagnostics, next_position=next_position)


def parse_scan_response(body: bytes, member: str | None = None) -> list[IndexTerm]:
    """A scanResponse (any version) as its terms; a diagnostic without terms is raised."""
    root = parse_xml(body, "SRU scan response")
    _check_root(root, "scanResponse")
    terms = []
    container = _child(root, "terms")
    for el in _children(container, "term") if container is not None else ():
        value = _text(el, "value")
        if value is None:
            raise DecodeError("SRU scan term without a <value>", member=member)
        terms.append(IndexTerm(value, _int(el, "numberOfRecords", "scan term")))
    diagnostics = _diagnostics(root, member)
    if diagnostics and not terms:
        raise diagnostics[0]
    return terms


def _record(rec: etree._Element, member: str | None, default_pos: int, diags: list[Diagnostic]) -> RawRecord | None:
    position = _int(rec, "recordPosition", "record") or default_pos
    packing = (_text(rec, "recordPacking") or _text(rec, "recordXMLEscaping") or "xml").lower()
    data = _child(rec, "recordData")
    if data is None:
        raise DecodeError(f"SRU record {position} has no recordData", member=member)
    if packing == "string" or (len(data) == 0 and (data.text or "").strip().startswith("<")):
        text = (data.text or "").strip()
        if not text:
            raise DecodeError(f"SRU record {position} has empty recordData", member=member)
        content = parse_xml(text.encode("utf-8"), f"SRU record {position} (packed as a string)")
        holder = etree.Element("recordData")
        holder.append(content)
        data = holder
    elif packing != "xml":
        raise DecodeError(f"SRU record {position} has unknown packing {packing!r}", member=member)
    for el in data.iter(*_DIAGNOSTIC_TAGS):  # filtered by lxml: no Python call per element of the record
        diag = parse_diagnostic(el, member)
        diag.addinfo = (diag.addinfo + "; " if diag.addinfo else "") + f"record {position}"
        diags.append(diag)  # a surrogate diagnostic: this record could not be sent
        return None
    marc = _marc_record(data)
    if marc is None:
        marc = _turbomarc(data)
    if marc is None:
        schema = _text(rec, "recordSchema") or "?"
        diags.append(Diagnostic("not-marcxml", f"record {position} is not MARCXML (schema {schema})", member=member))
        return None
    marc = copy.deepcopy(marc)  # detached, so only the namespaces the record uses are declared
    source_ns = _ns(marc)
    if source_ns != MARC21_SLIM:  # one shape for the record readers: the MARCXML (slim) namespace
        for el in marc.iter():
            if isinstance(el.tag, str) and _ns(el) == source_ns:
                el.tag = f"{{{MARC21_SLIM}}}{_local(el)}"
        slim = etree.Element(f"{{{MARC21_SLIM}}}record", dict(marc.attrib), nsmap={None: MARC21_SLIM})
        slim.text = marc.text
        slim.extend(list(marc))
        marc = slim
    etree.cleanup_namespaces(marc)
    blob = etree.tostring(marc, encoding="UTF-8", xml_declaration=False)
    return RawRecord(data=blob, syntax="marcxml", charset="utf-8", position=position, member=member or "",
                     holdings=_opac_holdings(data), identifier=_text(rec, "recordIdentifier"))


def _turbomarc(data: etree._Element) -> etree._Element | None:
    """Index Data's turbomarc (<r><l/><c001/><d245 i1 i2><sa/></d245></r>, which SRU gateways such as
    OCLC WMS's send inside an OPAC record) as a MARCXML slim record."""
    r = next(data.iter(f"{{{TURBOMARC}}}r"), None)
    if r is None:
        return None
    out = etree.Element(f"{{{MARC21_SLIM}}}record", nsmap={None: MARC21_SLIM})
    for el in r:
        name = _local(el)
        if name == "l":
            etree.SubElement(out, f"{{{MARC21_SLIM}}}leader").text = el.text or ""
        elif name[:1] == "c" and len(name) == 4:
            etree.SubElement(out, f"{{{MARC21_SLIM}}}controlfield", tag=name[1:]).text = el.text or ""
        elif name[:1] == "d" and len(name) == 4:
            df = etree.SubElement(out, f"{{{MARC21_SLIM}}}datafield", tag=name[1:], ind1=el.get("i1", " "),
                                  ind2=el.get("i2", " "))
            for sf in el:
                etree.SubElement(df, f"{{{MARC21_SLIM}}}subfield", code=_local(sf)[1:]).text = sf.text or ""
    return out


def _opac_holdings(data: etree._Element) -> bytes | None:
    """The holdingsData of an OPAC record (YAZ's XML: <opacRecord><bibliographicRecord/><holdings/>), as
    SRU gateways to Z39.50 servers send it, detached as bytes for the record layer."""
    for opac in data.iter("opacRecord", "{*}opacRecord"):
        holdings = _child(opac, "holdings")
        if holdings is not None:
            return etree.tostring(copy.deepcopy(holdings), encoding="UTF-8")
    return None


def _isohold_records(root: etree._Element) -> Iterator[tuple[int | None, str | None, etree._Element | None]]:
    container = _child(root, "records")
    for rec in _children(container, "record") if container is not None else ():
        pos = _text(rec, "recordPosition")
        yield (int(pos) if pos and pos.isdigit() else None, _text(rec, "recordIdentifier"),
               rec.find(f".//{{{ISO20775}}}holdings"))


def join_holdings(page: Page, isohold_body: bytes, member: str | None = None) -> Page:
    """A page of bibliographic records with each record's ISO 20775 holdings from an `isohold` answer to the
    same search, joined by the server's record identifier, else by result-set position."""
    root = parse_xml(isohold_body, "SRU isohold response")
    _check_root(root, "searchRetrieveResponse")
    refused = _diagnostics(root, member)
    if refused and _child(root, "records") is None:
        raise refused[0]
    by_id: dict[str, bytes] = {}
    by_pos: dict[int, bytes] = {}
    for position, identifier, holdings in _isohold_records(root):
        blob = etree.tostring(holdings, encoding="UTF-8") if holdings is not None else b""
        if identifier:
            by_id[identifier] = blob
        if position is not None:
            by_pos[position] = blob
    joined = []
    for raw in page.records:
        blob = by_id.get(raw.identifier) if raw.identifier and by_id else by_pos.get(raw.position)
        if blob is None and raw.identifier and by_id:
            blob = by_pos.get(raw.position)
        joined.append(dataclasses.replace(raw, holdings=blob or None) if blob is not None else raw)
    return Page(hits=page.hits, records=joined, diagnostics=page.diagnostics, next_position=page.next_position)


def parse_explain_response(body: bytes, member: str | None = None) -> dict:
    """An explainResponse as a dict: version, server, database, indexes, schemas, config."""
    root = parse_xml(body, "SRU explain response")
    _check_root(root, "explainResponse")
    diagnostics = _diagnostics(root, member)
    record = _child(root, "record")
    explain = None
    if record is not None:
        data = _child(record, "recordData")
        if data is not None:
            if len(data) == 0 and (data.text or "").strip().startswith("<"):
                data = parse_xml(data.text.strip().encode("utf-8"), "SRU explain record")
            explain = data if _local(data) == "explain" else next(
                (e for e in data.iter() if _local(e) == "explain"), None
            )
    if explain is None and diagnostics:
        raise diagnostics[0]
    out: dict = {"version": _text(root, "version") or ("2.0" if _ns(root) == SRU_2 else None),
                 "server": {}, "database": {}, "indexes": [], "schemas": [], "config": {},
                 "diagnostics": [d.as_dict() for d in diagnostics]}  # fmt: skip
    if explain is None:
        return out
    server = _child(explain, "serverInfo")
    if server is not None:
        out["server"] = {
            "protocol": server.get("protocol"), "version": server.get("version"),
            "host": _text(server, "host"), "port": _text(server, "port"), "database": _text(server, "database"),
        }  # fmt: skip
    db = _child(explain, "databaseInfo")
    if db is not None:
        out["database"] = {name: _text(db, name) for name in ("title", "description", "author", "contact")
                           if _text(db, name)}  # fmt: skip
    index_info = _child(explain, "indexInfo")
    if index_info is not None:
        sets = {s.get("name"): s.get("identifier") for s in _children(index_info, "set")}
        for idx in _children(index_info, "index"):
            names = []
            for m in _children(idx, "map"):
                name = _child(m, "name")
                if name is not None and (name.text or "").strip():
                    prefix = name.get("set")
                    names.append(f"{prefix}.{name.text.strip()}" if prefix else name.text.strip())
            out["indexes"].append({"title": _text(idx, "title"), "names": names})
        out["sets"] = sets
    schema_info = _child(explain, "schemaInfo")
    if schema_info is not None:
        for s in _children(schema_info, "schema"):
            out["schemas"].append({"name": s.get("name"), "identifier": s.get("identifier"),
                                   "title": _text(s, "title")})  # fmt: skip
    config = _child(explain, "configInfo")
    if config is not None:
        for el in config:
            if _local(el) in ("default", "setting", "supports") and el.get("type"):
                out["config"][el.get("type")] = _text(el)
    return out


# A few SRU diagnostic messages, used when a server sends a URI without a message.
SRU_DIAGNOSTICS = {
    "1": "General system error", "4": "Unsupported operation", "5": "Unsupported version",
    "6": "Unsupported parameter value", "7": "Mandatory parameter not supplied", "8": "Unsupported parameter",
    "10": "Query syntax error", "16": "Unsupported index", "19": "Unsupported relation",
    "61": "First record position out of range", "66": "Unknown schema for retrieval",
}  # fmt: skip


# --------------------------------------------------------------------------- the connector


class SruConnector(HttpMember):
    """A session with one member's SRU endpoint (implements `connectors.base.Connector`).

    Without a `session` it uses the process's shared ClientSession; `close()` closes a session only when
    this connector holds the last reference to the shared one, never a session it was given.
    """

    service = "SRU"
    holdings_schema: str | None = None  # also ask this recordSchema for holdings ("isohold"); set by the factory

    def __init__(
        self,
        member_code: str,
        base_url: str,
        *,
        version: str = "1.2",
        syntax: str = "marc21",
        charset: str = "utf-8",
        timeout: float = 10.0,
        session: aiohttp.ClientSession | None = None,
        record_schema: str | Sequence[str] = MARCXML_SCHEMAS,
        capabilities: Capabilities = FULL,
        max_records: int = 50,
        http_accept: str | None = None,
        login: CredentialsRef | Login | None = None,
    ) -> None:
        if version not in VERSIONS:
            raise ValueError(f"SRU version {version!r} for member {member_code}; use one of {', '.join(VERSIONS)}")
        self.member = member_code
        self.base_url = base_url
        self.version = version
        self.syntax = syntax
        self.charset = charset
        self.timeout = timeout
        self.session = session
        self.record_schemas = (record_schema,) if isinstance(record_schema, str) else tuple(record_schema)
        self.capabilities = capabilities
        self.max_records = max_records
        self.http_accept = http_accept  # SRU 2.0 httpAccept, e.g. application/sru+xml (Zebra refuses it)
        self.login = login  # HTTP basic auth (connectors/http.py); an SRU "authentication error" is LoginRefused
        self.protocol = "sru"
        self._owned = False
        self._schema_index = 0

    @classmethod
    def from_target(cls, target: Target, *, session: aiohttp.ClientSession | None = None) -> SruConnector:
        """A connector for one member's SRU endpoint (`session`: an aiohttp session to share, else the
        process's shared one)."""
        caps = Capabilities.from_config(target.capabilities) if target.capabilities else FULL
        sru = cls(target.member, target.address, version=target.sru_version, syntax=target.syntax,
                  charset=target.charset, timeout=target.timeout, session=session,
                  record_schema=target.record_schemas or MARCXML_SCHEMAS, capabilities=caps,
                  max_records=target.max_records, login=target.credentials)
        sru.holdings_schema = target.holdings_schema
        return sru

    @property
    def harvest_page(self) -> int:
        """Records per searchRetrieve a harvest asks for unless told."""
        return min(self.max_records, MAX_PAGE)

    async def _with_holdings(self, page: Page, params: dict[str, str]) -> Page:
        """The page with each record's holdings, asked again in `holdings_schema` (ISO 20775 `isohold`, as Alma
        serves it) and joined by record; a member that cannot send them keeps its records, with a diagnostic."""
        try:
            body = await self._fetch(params | {"recordSchema": self.holdings_schema})
            return join_holdings(page, body, self.member)
        except (Diagnostic, DecodeError) as d:
            note = Diagnostic("holdings-unavailable", f"{self.holdings_schema} holdings not read: {d}",
                              member=self.member)
            return Page(hits=page.hits, records=page.records, diagnostics=[*page.diagnostics, note],
                        next_position=page.next_position)

    # -- HTTP ------------------------------------------------------------
    async def _fetch(self, params: dict[str, str], limit: int = MAX_BODY) -> bytes:
        """GET the base URL with these parameters (at most `limit` bytes of answer); network, timeout and HTTP
        errors mapped to MemberError."""
        status, reason, body = await self._get(params, limit)
        if status >= 400:
            self._raise_http(status, reason, body)
        return body

    def _raise_http(self, status: int, reason: str | None, body: bytes) -> None:
        try:  # SRU 2.0 servers may answer a bad request with HTTP 4xx and an SRU diagnostic body
            root = parse_xml(body)
            diags = _diagnostics(root, self.member) if _ns(root) in SRU_NAMESPACES else []
        except MemberError:
            diags = []
        if diags:
            raise diags[0]
        if status >= 500 or status in (404, 408, 429):
            raise MemberUnavailable(f"HTTP {status} {reason or ''} from {self.base_url}; the member's SRU service "
                                    "is not answering", member=self.member)
        raise ProtocolError(f"HTTP {status} {reason or ''} from {self.base_url}", member=self.member)

    def _params(self, operation: str) -> dict[str, str]:
        params = {"operation": operation, "version": self.version}
        if self.version == "2.0" and self.http_accept:
            params["httpAccept"] = self.http_accept
        return params

    # -- operations ------------------------------------------------------
    def cql(self, query: Query) -> str:
        """The CQL this member is sent for a query; Unsupported if it cannot do it."""
        problems = check(query, self.capabilities)
        if problems:
            raise Unsupported("; ".join(problems) + "; this member was not searched", member=self.member)
        return to_cql(query)

    async def search(self, query: Query, start: int = 1, count: int = 10) -> Page:
        """searchRetrieve: `count` MARCXML records from position `start` (1-based) and the total hits."""
        if start < 1:
            raise ValueError("start is 1-based")
        return await self._search_cql(self.cql(query), start, count)

    async def count(self, query: Query | None = None) -> int:
        """How many records the query finds (default: the whole catalogue); no record is sent."""
        return (await self._search_cql(self.cql(query if query is not None else all_records()), 1, 0)).hits

    def changes(self, since: Since = None, *, resume: str | None = None) -> AsyncIterator[ChangePage]:
        """SRU has no change feed: Unsupported, raised at once."""
        raise no_changes(self.member, "SRU")

    async def record_ids(self, page: int = 1000) -> AsyncIterator[IndexTerm]:
        """Every record id the member lists (scan of `rec.id`), with its record count."""
        async for t in self.index_terms(CQL_INDEX["record_id"], page):
            yield t

    async def search_cql(self, cql_text: str, start: int = 1, count: int = 10) -> Page:
        """searchRetrieve with CQL sent verbatim (for indexes the query model does not know)."""
        if start < 1:
            raise ValueError("start is 1-based")
        return await self._search_cql(cql_text, start, count)

    async def explain(self) -> dict:
        """The member's explain record: server, database, indexes, record schemas, defaults."""
        body = await self._fetch(self._params("explain") | ({"recordPacking": "xml"} if self.version != "2.0"
                                                            else {"recordXMLEscaping": "xml"}))  # fmt: skip
        try:
            return parse_explain_response(body, self.member)
        except DecodeError as e:
            e.member = e.member or self.member
            raise

    async def scan(self, clause: str, count: int = 100, position: int = 1) -> list[IndexTerm]:
        """`count` terms of an index from the scan clause's term (e.g. `rec.id = "a"`) on, at `position`."""
        body = await self._fetch(self._params("scan") | {"scanClause": clause, "maximumTerms": str(count),
                                                         "responsePosition": str(position)})
        try:
            return parse_scan_response(body, self.member)
        except DecodeError as e:
            e.member = e.member or self.member
            raise
        except Diagnostic as d:
            self._check_login(d)
            raise

    async def index_terms(self, index: str, page: int = 1000) -> AsyncIterator[IndexTerm]:
        """Every term of one index (a CQL index name such as `rec.id`), scanned `page` terms at a time."""
        def clause(start: str) -> str:
            return f'{index} = "' + start.replace("\\", "\\\\").replace('"', '\\"') + '"'

        async for t in scan_pages(lambda start: self.scan(clause(start), page, 1), page, self.member):
            yield t

    async def harvest(self, since: Since = None, start: int = 1, *, query: Query | None = None,
                      page_size: int | None = None) -> AsyncIterator[RawRecord]:
        """Every record the query finds (default: the whole catalogue; with `since`, those changed since then:
        `rec.lastModificationDate`, which the member may refuse with a diagnostic), page by page, from position
        `start` (1-based, to resume an interrupted harvest)."""
        cql_text = self.cql(harvest_query(since, query))
        size = page_size or self.harvest_page
        if start < 1:
            raise ValueError(f"start is 1-based, not {start}")
        while True:
            page = await self._search_cql(cql_text, start, size)
            for rec in page.records:
                yield rec
            nxt = page.next_position
            if nxt is None and page.records and start + len(page.records) <= page.hits:
                nxt = start + len(page.records)
            if nxt is None or nxt <= start or nxt > page.hits or not page.records:
                return
            start = nxt

    async def _search_cql(self, cql_text: str, start: int, count: int) -> Page:
        count = max(0, min(count, self.max_records, MAX_PAGE))
        while True:
            params = self._params("searchRetrieve") | {
                "query": cql_text, "startRecord": str(start), "maximumRecords": str(count),
                "recordSchema": self.record_schemas[self._schema_index],
            }  # fmt: skip
            params["recordXMLEscaping" if self.version == "2.0" else "recordPacking"] = "xml"
            body = await self._fetch(params, search_byte_limit(count))
            try:
                if len(body) > PARSE_INLINE:  # a big answer is parsed off the event loop: other searches go on
                    page = await asyncio.to_thread(parse_search_response, body, self.member, start)
                else:
                    page = parse_search_response(body, self.member, start)
                return await self._with_holdings(page, params) if self.holdings_schema and page.records else page
            except Diagnostic as d:
                if d.code in UNKNOWN_SCHEMA and self._schema_index + 1 < len(self.record_schemas):
                    self._schema_index += 1  # try the next name this kind of server uses for MARCXML
                    continue
                self._check_login(d)
                raise

    def _check_login(self, d: Diagnostic) -> None:
        """SRU diagnostic 3 (authentication error: Zebra's answer to a missing or wrong basic auth) is the
        member's LoginRefused."""
        if d.code == AUTHENTICATION_ERROR and (d.uri or "").startswith("info:srw/diagnostic/1/"):
            detail = f"SRU server at {self.base_url} answered diagnostic 3: {d.diagnostic_message}"
            raise refused(self.member, detail, had_login=self.login is not None) from None


