"""The union catalogue as an SRU server (1.1, 1.2 and 2.0): explain and searchRetrieve over the local index.

Other systems (CALIS, discovery layers, another consortium's federator) search the union catalogue the
way balis searches its members. CQL with the cql, dc and bath context sets is parsed by the same query
model as the reader's search (`connectors/query.py`); records go out as MARCXML or SRU Dublin Core
(`records/export.py`), one per merged edition with the holdings of every member. Errors are SRU
diagnostics (info:srw/diagnostic/1/N) inside a normal response, as the standard asks, never an HTTP
error page or a traceback.

`respond(params, backend, info)` is the whole protocol (a mapping of request parameters in, status and
XML out); `handler(backend, info)` makes an aiohttp handler of it for the portal's `/sru`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from lxml import etree

from connectors.query import CQL_INDEX, Query, QueryError, clauses, parse, year_range
from records.export import to_dc, to_marcxml

SRU_1 = "http://www.loc.gov/zing/srw/"
DIAG_1 = "http://www.loc.gov/zing/srw/diagnostic/"
SRU_2 = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
DIAG_2 = "http://docs.oasis-open.org/ns/search-ws/diagnostic"
EXPLAIN_NS = "http://explain.z3950.org/dtd/2.0/"
EXPLAIN_SCHEMA = "http://explain.z3950.org/dtd/2.0/"

VERSIONS = ("1.1", "1.2", "2.0")
DEFAULT_VERSION = "1.2"  # what a request without `version` gets (SRU 1.x clients omit nothing; 2.0 may)
DEFAULT_MAXIMUM_RECORDS = 10
MAXIMUM_RECORDS_LIMIT = 100
MAX_QUERY_LENGTH = 2000
MAX_PARAMETER_LENGTH = 200  # any other parameter: version, schema names, numbers

log = logging.getLogger("balis.sru")

MARCXML = "info:srw/schema/1/marcxml-v1.1"
DC = "info:srw/schema/1/dc-v1.1"
SCHEMAS = {  # accepted names → the schema's identifier
    MARCXML: MARCXML, "marcxml": MARCXML, "marc21": MARCXML, "marc": MARCXML, "marcxml-v1.1": MARCXML,
    "info:srw/schema/1/marcxml-v1.1-light": MARCXML, "http://www.loc.gov/marc21/slim": MARCXML,
    DC: DC, "dc": DC, "info:srw/schema/1/dc-schema": DC,
}
SCHEMA_TITLES = {MARCXML: ("marcxml", "MARC 21 XML (MARCXML), holdings in 852"), DC: ("dc", "SRU Dublin Core")}

# Standard diagnostics used here (info:srw/diagnostic/1/N): number → message.
DIAGNOSTICS = {
    1: "General system error",
    4: "Unsupported operation",
    5: "Unsupported version",
    6: "Unsupported parameter value",
    7: "Mandatory parameter not supplied",
    10: "Query syntax error",
    15: "Unsupported context set",
    16: "Unsupported index",
    36: "Term in invalid format for index or relation",
    19: "Unsupported relation",
    20: "Unsupported relation modifier",
    37: "Unsupported boolean operator",
    61: "First record position out of range",
    66: "Unknown schema for retrieval",
    71: "Unsupported record packing",
    80: "Sort not supported",
}
_QUERY_KIND_DIAGNOSTIC = {"syntax": 10, "index": 16, "relation": 19, "relation_modifier": 20, "boolean": 37,
                          "sort": 80, "context_set": 15, "too_complex": 10}


class SruBackend(Protocol):
    """What the server searches: total hits and the works of one page (1-based `start`)."""

    async def search(self, query: Query, start: int, count: int) -> tuple[int, Sequence]: ...


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """How the server describes itself in explain."""

    host: str = "127.0.0.1"
    port: int = 8080
    database: str = "sru"
    title: str = "BALIS 联合目录 (BALIS union catalogue)"
    description: str = ("北京地区高校图书馆联合目录：成员馆书目合并为版本，附各馆馆藏。"
                        " Union catalogue of the BALIS member libraries: one record per edition with the "
                        "holdings of every member.")
    languages: tuple[str, ...] = field(default=("chi", "eng"))


class _Diagnostic(Exception):
    def __init__(self, number: int, details: str | None = None, message: str | None = None) -> None:
        super().__init__(message or DIAGNOSTICS.get(number, "Error"))
        self.number = number
        self.details = details
        self.message = message or DIAGNOSTICS.get(number, "Error")


@dataclass(slots=True)
class _Request:
    version: str
    operation: str
    params: Mapping[str, str]
    diagnostics: list[_Diagnostic] = field(default_factory=list)


def _ns(version: str) -> tuple[str, str]:
    return (SRU_2, DIAG_2) if version == "2.0" else (SRU_1, DIAG_1)


def _el(parent, ns: str, name: str, text: object | None = None):
    e = etree.SubElement(parent, f"{{{ns}}}{name}")
    if text is not None:
        e.text = str(text)
    return e


def _diagnostics(parent, version: str, diags: Sequence[_Diagnostic]) -> None:
    if not diags:
        return
    sru, diag_ns = _ns(version)
    box = _el(parent, sru, "diagnostics")
    for d in diags:
        e = etree.SubElement(box, f"{{{diag_ns}}}diagnostic", nsmap={"diag": diag_ns})
        _el(e, diag_ns, "uri", f"info:srw/diagnostic/1/{d.number}")
        if d.details:
            _el(e, diag_ns, "details", d.details)
        _el(e, diag_ns, "message", d.message)


def _serialise(root) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


# What XML 1.0 can carry: a parameter with anything else (NUL, ESC, U+FFFE, a lone surrogate) cannot be echoed or
# searched for, and is answered with a diagnostic naming it.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _shown(value: str, limit: int = 40) -> str:
    """A parameter's value as a diagnostic may quote it: shortened, and with characters XML cannot hold escaped."""
    return repr(value[:limit])


def _read_request(params: Mapping[str, str]) -> _Request:
    """The request's version and operation, and the diagnostics that stop it before any search: an unsupported
    version, or a parameter no XML response can carry (control characters, non-characters, too long)."""
    diags: list[_Diagnostic] = []
    clean: dict[str, str] = {}
    for name, value in params.items():
        if _NOT_XML.search(name) or len(name) > 64:
            diags.append(_Diagnostic(6, _shown(name), f"Unsupported parameter {_shown(name)}"))
            continue
        bad = _NOT_XML.search(value)
        if bad:
            diags.append(_Diagnostic(6, name, f"{name} holds the character U+{ord(bad.group()):04X}, which an SRU "
                                     "request cannot carry; remove it"))
            continue
        if name != "query" and len(value) > MAX_PARAMETER_LENGTH:
            diags.append(_Diagnostic(6, name, f"{name} is longer than {MAX_PARAMETER_LENGTH} characters"))
            continue
        clean[name] = value
    version = (clean.get("version") or "").strip() or DEFAULT_VERSION
    if version not in VERSIONS:
        diags.append(_Diagnostic(5, "2.0", f"Unsupported version {_shown(version)}; this server speaks "
                                 f"{', '.join(VERSIONS)}"))
        version = DEFAULT_VERSION if version < "2" else "2.0"
    operation = (clean.get("operation") or "").strip()
    if not operation:
        operation = "searchRetrieve" if params.get("query") is not None else "explain"
    return _Request(version, operation, clean, diags)


def _int_param(params: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _Diagnostic(6, name, f"{name} must be a whole number, not {_shown(raw)}") from None
    if value < minimum:
        raise _Diagnostic(6, name, f"{name} must be at least {minimum}")
    return value


def _packing(req: _Request) -> str:
    """'xml' or 'string': how record data is embedded (1.x recordPacking, 2.0 recordXMLEscaping)."""
    name = "recordXMLEscaping" if req.version == "2.0" else "recordPacking"
    value = (req.params.get(name) or "xml").strip()
    if value not in ("xml", "string"):
        raise _Diagnostic(71, _shown(value), f"{name} must be xml or string")
    return value


def _schema(req: _Request) -> str:
    raw = (req.params.get("recordSchema") or MARCXML).strip()
    schema = SCHEMAS.get(raw) or SCHEMAS.get(raw.lower())
    if schema is None:
        raise _Diagnostic(66, _shown(raw, 80), f"Unknown schema for retrieval {_shown(raw, 80)}; use marcxml or dc")
    return schema


def _parse_query(text: str) -> Query:
    if len(text) > MAX_QUERY_LENGTH:
        raise _Diagnostic(10, f"query longer than {MAX_QUERY_LENGTH} characters")
    try:
        query = parse(text, cql=True)
    except QueryError as exc:
        number = _QUERY_KIND_DIAGNOSTIC.get(getattr(exc, "kind", "syntax"), 10)
        raise _Diagnostic(number, f"{exc.message} (character {exc.position + 1})") from None
    except RecursionError:  # nesting deeper than the parser can follow
        raise _Diagnostic(10, "the query nests too deeply") from None
    for clause in clauses(query):
        if clause.field == "year" and not _is_year(clause.value):
            raise _Diagnostic(36, _shown(clause.value), f"dc.date takes a year such as 2009 or a range such as "
                              f"2000-2010, not {_shown(clause.value)}")
    return query


def _is_year(value: str) -> bool:
    value = value.strip()
    return bool(re.fullmatch(r"\d{1,3}\*", value)) or year_range(value) is not None


def _record_data(work, schema: str):
    display = getattr(work, "display", work)
    holdings = list(getattr(work, "holdings", None) or display.holdings)
    work_id = getattr(work, "work_id", None)
    if schema == DC:
        return to_dc(display, identifier=work_id)
    return to_marcxml(display, control_number=work_id, holdings=holdings)


def _add_record(parent, version: str, schema: str, packing: str, data, position: int | None) -> None:
    sru, _ = _ns(version)
    rec = _el(parent, sru, "record")
    _el(rec, sru, "recordSchema", schema)
    if version == "2.0":
        _el(rec, sru, "recordXMLEscaping", packing)
    else:
        _el(rec, sru, "recordPacking", packing)
    data_el = _el(rec, sru, "recordData")
    if packing == "string":
        data_el.text = etree.tostring(data, encoding="unicode")
    else:
        data_el.append(data)
    if position is not None:
        _el(rec, sru, "recordPosition", position)


_ECHO_VALID = {  # what a value must look like to be echoed (an invalid one is named in a diagnostic instead)
    "startRecord": lambda v: v.isascii() and v.isdigit() and int(v) >= 1,
    "maximumRecords": lambda v: v.isascii() and v.isdigit(),
    "recordXMLEscaping": lambda v: v in ("xml", "string"),
    "recordPacking": lambda v: v in ("xml", "string", "packed", "unpacked"),
}


def _echo(root, req: _Request, names: Sequence[str]) -> None:
    """The request as understood (SRU's echoed request), in the schema's element order."""
    sru, _ = _ns(req.version)
    tag = "echoedSearchRetrieveRequest" if req.operation == "searchRetrieve" else "echoedExplainRequest"
    echo = _el(root, sru, tag)
    _el(echo, sru, "version", req.version)
    for name in names:
        if req.version == "2.0" and name == "recordPacking":
            name = "recordXMLEscaping"
        value = (req.params.get(name) or "").strip()
        if value and _ECHO_VALID.get(name, lambda v: True)(value):
            _el(echo, sru, name, value[:MAX_QUERY_LENGTH])


async def _search_retrieve(req: _Request, backend: SruBackend) -> bytes:
    sru, _ = _ns(req.version)
    root = etree.Element(f"{{{sru}}}searchRetrieveResponse", nsmap={"zs" if sru == SRU_1 else "sru": sru})
    _el(root, sru, "version", req.version)
    diags = list(req.diagnostics)
    try:
        text = req.params.get("query")
        if text is None or not text.strip():
            raise _Diagnostic(7, "query", "Mandatory parameter not supplied: query")
        query = _parse_query(text)
        start = _int_param(req.params, "startRecord", 1, 1)
        count = min(_int_param(req.params, "maximumRecords", DEFAULT_MAXIMUM_RECORDS, 0), MAXIMUM_RECORDS_LIMIT)
        schema = _schema(req)
        packing = _packing(req)
        if req.params.get("sortKeys"):
            raise _Diagnostic(80, "sortKeys", "Sort not supported: results come in order of relevance")
        total, works = await backend.search(query, start, count)
    except _Diagnostic as d:
        diags.append(d)
        _el(root, sru, "numberOfRecords", 0)
        _echo(root, req, ("query", "startRecord", "maximumRecords", "recordPacking", "recordSchema"))
        _diagnostics(root, req.version, diags)
        return _serialise(root)
    _el(root, sru, "numberOfRecords", total)
    if count and total and start > total:
        diags.append(_Diagnostic(61, str(start), f"First record position out of range: there are {total} records"))
    elif works:
        records_el = _el(root, sru, "records")
        for i, work in enumerate(works):
            _add_record(records_el, req.version, schema, packing, _record_data(work, schema), start + i)
        if start + len(works) <= total:
            _el(root, sru, "nextRecordPosition", start + len(works))
    _echo(root, req, ("query", "startRecord", "maximumRecords", "recordPacking", "recordSchema"))
    _diagnostics(root, req.version, diags)
    return _serialise(root)


def _explain_record(info: ServerInfo):
    ns = EXPLAIN_NS
    explain = etree.Element(f"{{{ns}}}explain", nsmap={None: ns})
    server = _el(explain, ns, "serverInfo")
    server.set("protocol", "SRU")
    server.set("version", "1.2")
    _el(server, ns, "host", info.host)
    _el(server, ns, "port", info.port)
    _el(server, ns, "database", info.database)
    db = _el(explain, ns, "databaseInfo")
    for lang in ("zh", "en"):
        title = _el(db, ns, "title", info.title)
        title.set("lang", lang)
        title.set("primary", "true" if lang == "zh" else "false")
    _el(db, ns, "description", info.description).set("lang", "zh")
    index = _el(explain, ns, "indexInfo")
    for prefix, identifier in (("cql", "info:srw/cql-context-set/1/cql-v1.2"),
                               ("dc", "info:srw/cql-context-set/1/dc-v1.1"),
                               ("bath", "http://zing.z3950.org/cql/bath/2.0/")):
        s = _el(index, ns, "set")
        s.set("name", prefix)
        s.set("identifier", identifier)
    for field_name, cql_name in sorted(CQL_INDEX.items(), key=lambda kv: kv[1]):
        prefix, name = cql_name.split(".", 1)
        ix = _el(index, ns, "index")
        ix.set("search", "true")
        _el(ix, ns, "title", field_name)
        m = _el(_el(ix, ns, "map"), ns, "name", name)
        m.set("set", prefix)
    schemas = _el(explain, ns, "schemaInfo")
    for identifier, (name, title) in SCHEMA_TITLES.items():
        s = _el(schemas, ns, "schema")
        s.set("identifier", identifier)
        s.set("name", name)
        s.set("sort", "false")
        s.set("retrieve", "true")
        _el(s, ns, "title", title)
    config = _el(explain, ns, "configInfo")
    _el(config, ns, "default", DEFAULT_MAXIMUM_RECORDS).set("type", "numberOfRecords")
    _el(config, ns, "setting", MAXIMUM_RECORDS_LIMIT).set("type", "maximumRecords")
    _el(config, ns, "default", "marcxml").set("type", "retrieveSchema")
    return explain


def _explain(req: _Request, info: ServerInfo, extra: Sequence[_Diagnostic] = ()) -> bytes:
    sru, _ = _ns(req.version)
    root = etree.Element(f"{{{sru}}}explainResponse", nsmap={"zs" if sru == SRU_1 else "sru": sru})
    _el(root, sru, "version", req.version)
    diags = list(req.diagnostics) + list(extra)
    try:
        packing = _packing(req)
    except _Diagnostic as d:
        diags.append(d)
        packing = "xml"
    _add_record(root, req.version, EXPLAIN_SCHEMA, packing, _explain_record(info), None)
    _echo(root, req, ("recordPacking",))
    _diagnostics(root, req.version, diags)
    return _serialise(root)


def _refused(req: _Request) -> bytes:
    """A response that carries only the diagnostics that stopped the request: no records, no explain record."""
    sru, _ = _ns(req.version)
    root = etree.Element(f"{{{sru}}}searchRetrieveResponse", nsmap={"zs" if sru == SRU_1 else "sru": sru})
    _el(root, sru, "version", req.version)
    _el(root, sru, "numberOfRecords", 0)
    _diagnostics(root, req.version, req.diagnostics)
    return _serialise(root)


async def respond(params: Mapping[str, str], backend: SruBackend, info: ServerInfo) -> tuple[int, bytes]:
    """The SRU response to one request's parameters: (HTTP status, XML body). Always well-formed XML."""
    try:
        return await _respond(params, backend, info)
    except Exception:  # noqa: BLE001 - the protocol promises a diagnostic, never an HTTP error page
        log.exception("sru: internal error answering %s", {k: _shown(v, 80) for k, v in params.items()})
        req = _Request(DEFAULT_VERSION, "searchRetrieve", {}, [_Diagnostic(1, None, "General system error: "
                                                                          "the request was logged; try again")])
        return 200, _refused(req)


async def _respond(params: Mapping[str, str], backend: SruBackend, info: ServerInfo) -> tuple[int, bytes]:
    req = _read_request(params)
    if req.diagnostics:  # an unsupported version, or a parameter no response could carry
        return 200, _refused(req)
    if req.operation == "searchRetrieve":
        return 200, await _search_retrieve(req, backend)
    if req.operation == "explain":
        return 200, _explain(req, info)
    unsupported = _Diagnostic(4, req.operation[:40],
                              f"Unsupported operation {req.operation[:40]!r}; use explain or searchRetrieve")
    return 200, _explain(req, info, [unsupported])


class LocalIndexBackend:
    """Searches the union index (`indexer/backend.py`) in worker threads: a whoosh folder with a searcher
    opened per request; a PostgreSQL database (and its hot standbys, `replicas`) with searchers kept between
    requests, one per thread at a time (each its own connections)."""

    KEPT = 4  # idle database searchers kept for the next requests

    def __init__(self, index_dir, replicas=()) -> None:
        from indexer.backend import is_database

        self.index_dir = index_dir
        self.replicas = list(replicas)
        self.database = is_database(index_dir)
        self._idle: list = []
        self._lock = threading.Lock()

    def _take(self):
        from indexer.backend import open_searcher

        if self.database:
            with self._lock:
                if self._idle:
                    return self._idle.pop()
        return open_searcher(self.index_dir, self.replicas)

    def _give_back(self, searcher, ok: bool) -> None:
        if ok and self.database:
            with self._lock:
                if len(self._idle) < self.KEPT:
                    self._idle.append(searcher)
                    return
        searcher.close()

    def _search(self, query: Query, start: int, count: int) -> tuple[int, list]:
        from indexer.errors import LocalIndexError

        try:
            searcher = self._take()
            ok = False
            try:
                if count == 0:
                    found = searcher.search(query, page=1, size=1).total, []
                elif (start - 1) % count == 0:  # SRU pages usually line up with the index's pages
                    result = searcher.search(query, page=(start - 1) // count + 1, size=count)
                    found = result.total, result.works
                else:
                    result = searcher.search(query, page=1, size=start - 1 + count)
                    found = result.total, result.works[start - 1:]
                ok = True
                return found
            finally:
                self._give_back(searcher, ok)
        except LocalIndexError as exc:
            raise _Diagnostic(1, str(exc), "General system error: the union index is not available") from None

    async def search(self, query: Query, start: int, count: int) -> tuple[int, Sequence]:
        return await asyncio.to_thread(self._search, query, start, count)

    def close(self) -> None:
        """Close the searchers kept between requests."""
        with self._lock:
            idle, self._idle = self._idle, []
        for searcher in idle:
            searcher.close()


def handler(backend: SruBackend, info_of: Callable[[object], ServerInfo]) -> Callable[[object], Awaitable]:
    """An aiohttp handler serving `respond` for GET and POST (form-encoded) requests."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        params: dict[str, str] = dict(request.query)
        if request.method == "POST":
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        status, body = await respond(params, backend, info_of(request))
        return web.Response(status=status, body=body, content_type="application/xml", charset="utf-8")

    return handle
