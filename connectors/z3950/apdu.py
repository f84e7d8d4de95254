"""Z39.50-1995 APDUs a federator needs: Init, Search (Type-1/RPN), Present, Close; encoded and decoded.

Encoders return bytes; `decode_apdu` returns one of the response dataclasses below. The tags follow the
Z39-50-APDU-1995 ASN.1 module (explicit tagging unless marked IMPLICIT there).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from connectors.auth import Login
from connectors.errors import DecodeError, Diagnostic, ProtocolError
from connectors.rpn import BIB1, Op, Rpn, Term
from connectors.z3950 import ber
from connectors.z3950.ber import CONTEXT, UNIVERSAL, identifier
from connectors.z3950.diagnostics import make_diagnostic

# Object identifiers
OID_USMARC = "1.2.840.10003.5.10"
OID_UNIMARC = "1.2.840.10003.5.1"
OID_XML = "1.2.840.10003.5.109.10"
OID_XML_APPLICATION = "1.2.840.10003.5.109.9"
OID_SUTRS = "1.2.840.10003.5.101"
OID_CHARSET_NEGOTIATION_3 = "1.2.840.10003.15.3"
OID_USERINFO_1 = "1.2.840.10003.10.3"
OID_UTF8 = "1.0.10646.1.0.8"
ENCODING_LEVELS = {
    OID_UTF8: "UTF-8",
    "1.0.10646.1.0.2": "UCS-2",
    "1.0.10646.1.0.4": "UCS-4",
    "1.0.10646.1.0.5": "UTF-16",
}
OID_OPAC = "1.2.840.10003.5.102"  # bibliographic record + holdings and circulation (connectors/z3950/opac.py)
RECORD_SYNTAXES = {"marc21": OID_USMARC, "usmarc": OID_USMARC, "unimarc": OID_UNIMARC, "marcxml": OID_XML, "xml": OID_XML,
                   "opac": OID_OPAC}

# APDU tags (context class, constructed)
INIT_REQUEST, INIT_RESPONSE, SEARCH_REQUEST, SEARCH_RESPONSE = 20, 21, 22, 23
PRESENT_REQUEST, PRESENT_RESPONSE, CLOSE = 24, 25, 48
SCAN_REQUEST, SCAN_RESPONSE = 35, 36
APDU_NAMES = {20: "initRequest", 21: "initResponse", 22: "searchRequest", 23: "searchResponse",
              24: "presentRequest", 25: "presentResponse", 26: "deleteResultSetRequest",
              27: "deleteResultSetResponse", 28: "accessControlRequest", 29: "accessControlResponse",
              30: "resourceControlRequest", 31: "resourceControlResponse", 35: "scanRequest",
              36: "scanResponse", 43: "sortRequest", 44: "sortResponse", 45: "segmentRequest",
              46: "extendedServicesRequest", 47: "extendedServicesResponse", 48: "close"}

OPTIONS = ("search", "present", "delSet", "resourceReport", "triggerResourceCtrl", "resourceCtrl",
           "accessCtrl", "scan", "sort", "reserved", "extendedServices", "level-1Segmentation",
           "level-2Segmentation", "concurrentOperations", "namedResultSets", "encapsulation",
           "resultCountInSort", "negotiation", "dedup", "query104", "pQESCorrection", "stringSchema")
CLOSE_REASONS = ("finished", "shutdown", "systemProblem", "costLimit", "resources", "securityViolation",
                 "protocolError", "lackOfActivity", "peerAbort", "unspecified")
OPERATORS = {"and": 0, "or": 1, "not": 2}

_U = UNIVERSAL


def _key(number: int, constructed: bool = False, cls: int = CONTEXT) -> int:
    return ber.tag(number, cls, constructed)


K_INT, K_BOOL, K_OID = _key(ber.INTEGER, cls=_U), _key(ber.BOOLEAN, cls=_U), _key(ber.OID, cls=_U)
K_SEQ = _key(ber.SEQUENCE, True, _U)
K_EXTERNAL = _key(ber.EXTERNAL, True, _U)


def _int(number: int, value: int) -> bytes:
    return ber.tlv(identifier(number), ber.integer_content(value))


def _str(number: int, value: str, encoding: str = "utf-8") -> bytes:
    return ber.tlv(identifier(number), value.encode(encoding))


def _oid(number: int | None, dotted: str) -> bytes:
    ident = identifier(ber.OID, UNIVERSAL) if number is None else identifier(number)
    return ber.tlv(ident, ber.oid_content(dotted))


def _bool(number: int, value: bool) -> bytes:
    return ber.tlv(identifier(number), b"\xff" if value else b"\x00")


def _cons(number: int, *children: bytes, cls: int = CONTEXT) -> bytes:
    return ber.constructed(identifier(number, cls, True), *children)


# ---------------------------------------------------------------------------------------------- requests


def encode_init_request(
    *,
    preferred_message_size: int,
    exceptional_record_size: int,
    implementation_id: str,
    implementation_name: str,
    implementation_version: str,
    propose_charset: str | None = "UTF-8",
    login: Login | None = None,
) -> bytes:
    """InitializeRequest for protocol version 3, proposing a character set (Negotiation-3) if asked, and
    authenticating with `login` if given (never cached: the bytes hold the password)."""
    args = (preferred_message_size, exceptional_record_size, implementation_id, implementation_name,
            implementation_version, propose_charset)
    if login is None:
        return _cached_init_request(*args)
    return _init_request(*args, encode_id_authentication(login))


def encode_id_authentication(login: Login) -> bytes:
    """idAuthentication [7] (explicit, ANY): IdAuthentication open VisibleString "user/password", or idPass
    SEQUENCE {groupId [0], userId [1], password [2]} (IMPLICIT InternationalString, each left out when empty)."""
    if login.form == "open":
        text = f"{login.user}/{login.password}" if login.password else login.user
        return _cons(7, ber.tlv(identifier(ber.VISIBLE_STRING, UNIVERSAL), text.encode("utf-8")))
    parts = [_str(n, v) for n, v in ((0, login.group), (1, login.user), (2, login.password)) if v]
    return _cons(7, ber.constructed(identifier(ber.SEQUENCE, UNIVERSAL, True), *parts))


@functools.lru_cache(maxsize=32)  # the same few bytes for every anonymous connection: encoded once
def _cached_init_request(*args) -> bytes:
    return _init_request(*args)


def _init_request(
    preferred_message_size: int,
    exceptional_record_size: int,
    implementation_id: str,
    implementation_name: str,
    implementation_version: str,
    propose_charset: str | None,
    id_authentication: bytes = b"",
) -> bytes:
    options = [0, 1, 2, 7, 14] + ([17] if propose_charset else [])  # search present delSet scan namedResultSets
    other = b""
    if propose_charset:
        other = _cons(201, ber.constructed(identifier(ber.SEQUENCE, UNIVERSAL, True), _cons(4, *_external_parts(
            OID_CHARSET_NEGOTIATION_3, _cons(0, _charset_proposal(propose_charset))))))
    return _cons(
        INIT_REQUEST,
        ber.tlv(identifier(3), ber.bits_content([0, 1, 2], 3)),
        ber.tlv(identifier(4), ber.bits_content(options, 22)),
        _int(5, preferred_message_size),
        _int(6, exceptional_record_size),
        id_authentication,
        _str(110, implementation_id),
        _str(111, implementation_name),
        _str(112, implementation_version),
        other,
    )


def _external_parts(oid: str, encoding: bytes) -> tuple[bytes, bytes]:
    return _oid(None, oid), encoding


def _charset_proposal(charset: str) -> bytes:
    """CharSetandLanguageNegotiation proposal [1]: one ISO 10646 encoding (UTF-8) and records in it."""
    level = {v.upper(): k for k, v in ENCODING_LEVELS.items()}.get(charset.upper())
    if level is None:
        raise ValueError(f"only ISO 10646 encodings can be proposed, not {charset!r}")
    iso10646 = _cons(2, _oid(2, level))
    return _cons(1, _cons(1, iso10646), _bool(3, True))


def encode_rpn(node: Rpn, term_encoding: str = "utf-8") -> bytes:
    """An RPNStructure: [0] operand (AttributesPlusTerm) or [1] rpnRpnOp."""
    if isinstance(node, Term):
        return _cons(0, _attributes_plus_term(node, term_encoding))
    if isinstance(node, Op):
        if node.op not in OPERATORS:
            raise ValueError(f"unknown boolean operator {node.op!r} (and, or, not)")
        operator = _cons(46, ber.tlv(identifier(OPERATORS[node.op]), b""))
        return _cons(1, encode_rpn(node.left, term_encoding), encode_rpn(node.right, term_encoding), operator)
    raise TypeError(f"not an RPN node: {node!r}")


def encode_search_request(
    rpn: Rpn,
    database: str,
    *,
    result_set: str = "default",
    record_syntax: str | None = None,
    term_encoding: str = "utf-8",
    piggyback: int = 0,
    element_set: str | None = None,
) -> bytes:
    """SearchRequest with a Type-1 query over Bib-1.

    `piggyback` > 0 asks for the first `piggyback` records in the SearchResponse itself (one round trip
    instead of Search + Present): a small set is at most that many hits (all returned), every larger set is
    a medium set of which that many are returned. 0 asks for none (records then come via Present).
    """
    query = _cons(21, _cons(1, _oid(None, BIB1), encode_rpn(rpn, term_encoding)))
    if piggyback > 0:
        small, large, medium = piggyback, PIGGYBACK_LARGE_SET, piggyback
        names = (_cons(100, _str(0, element_set)) + _cons(101, _str(0, element_set))) if element_set else b""
    else:
        small, large, medium, names = 0, 1, 0, b""
    return _cons(
        SEARCH_REQUEST,
        _int(13, small),
        _int(14, large),
        _int(15, medium),
        _bool(16, True),
        _str(17, result_set),
        _cons(18, _str(105, database)),
        names,
        _oid(104, record_syntax) if record_syntax else b"",
        query,
    )


PIGGYBACK_LARGE_SET = 2**31 - 1  # no result set is "large" when records are piggybacked: all are medium


def encode_present_request(
    result_set: str, start: int, count: int, *, record_syntax: str | None, element_set: str | None
) -> bytes:
    """PresentRequest for `count` records from `start` (1-based)."""
    return _cons(
        PRESENT_REQUEST,
        _str(31, result_set),
        _int(30, start),
        _int(29, count),
        _cons(19, _str(0, element_set)) if element_set else b"",
        _oid(104, record_syntax) if record_syntax else b"",
    )


def _attributes_plus_term(term: Term, term_encoding: str) -> bytes:
    attrs = b"".join(
        ber.constructed(identifier(ber.SEQUENCE, UNIVERSAL, True), _int(120, t), _int(121, v))
        for t, v in term.attributes
    )
    return _cons(102, _cons(44, attrs), ber.tlv(identifier(45), term.term.encode(term_encoding)))


def encode_scan_request(term: Term, database: str, *, count: int, position: int = 1,
                        term_encoding: str = "utf-8") -> bytes:
    """ScanRequest: `count` index terms around `term` (in the index its Bib-1 attributes name), `term` (or
    the first term after it) at `position` (1-based) in the answer."""
    return _cons(
        SCAN_REQUEST,
        _cons(3, _str(105, database)),
        _oid(None, BIB1),
        _attributes_plus_term(term, term_encoding),
        _int(6, count),
        _int(7, position),
    )


def encode_close(reason: int = 0) -> bytes:
    """Close with a reason (0 finished)."""
    return _cons(CLOSE, _int(211, reason))


# ---------------------------------------------------------------------------------------------- responses


@dataclass(slots=True)
class ResponseRecord:
    """One NamePlusRecord: a database record (syntax OID + bytes) or a surrogate diagnostic."""

    database: str | None
    syntax: str | None = None
    data: bytes | None = None
    diagnostic: Diagnostic | None = None


@dataclass(slots=True)
class InitResponse:
    accepted: bool
    version: int
    options: frozenset[str]
    preferred_message_size: int
    exceptional_record_size: int
    implementation_id: str | None = None
    implementation_name: str | None = None
    implementation_version: str | None = None
    charset: str | None = None  # agreed by Negotiation-3; None when the target did not negotiate
    records_in_charset: bool | None = None
    diagnostic: Diagnostic | None = None


@dataclass(slots=True)
class SearchResponse:
    result_count: int
    records_returned: int
    next_position: int
    search_status: bool
    result_set_status: int | None = None
    present_status: int | None = None
    records: list[ResponseRecord] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass(slots=True)
class PresentResponse:
    records_returned: int
    next_position: int
    present_status: int
    records: list[ResponseRecord] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass(slots=True)
class ScanEntry:
    """One term of a scan: as indexed (bytes, in the association's character set) and how many records have it."""

    term: bytes
    occurrences: int | None = None
    display: str | None = None


SCAN_STATUSES = ("success", "partial-1 (stopped by access control)", "partial-2 (stopped by the client's resource control)",
                 "partial-3 (stopped by the server's resource control)", "partial-4 (the term list is shorter)",
                 "partial-5 (the term list ends on one side of the start term)", "failure")


@dataclass(slots=True)
class ScanResponse:
    status: int
    entries: list[ScanEntry] = field(default_factory=list)
    position: int | None = None  # where the start term (or the first after it) is in `entries`, 1-based
    diagnostics: list[Diagnostic] = field(default_factory=list)  # for the scan, or for single entries


@dataclass(slots=True)
class Close:
    reason: int
    diagnostic_information: str | None = None

    @property
    def reason_text(self) -> str:
        return CLOSE_REASONS[self.reason] if 0 <= self.reason < len(CLOSE_REASONS) else f"reason {self.reason}"


Apdu = InitResponse | SearchResponse | PresentResponse | ScanResponse | Close


def decode_apdu(buf: bytes) -> Apdu:
    """Decode one complete APDU (one BER element); raises DecodeError/ProtocolError, nothing else."""
    key, start, end, after = ber.element(buf, 0, len(buf))
    if after != len(buf):
        raise DecodeError(f"{len(buf) - after} stray bytes after the APDU")
    number = ber.tag_number(key)
    if key != _key(number, True):
        raise DecodeError(f"not a Z39.50 APDU (tag {key >> 24:#x}/{number})")
    if number == INIT_RESPONSE:
        return _init_response(buf, start, end)
    if number == SEARCH_RESPONSE:
        return _search_response(buf, start, end)
    if number == PRESENT_RESPONSE:
        return _present_response(buf, start, end)
    if number == SCAN_RESPONSE:
        return _scan_response(buf, start, end)
    if number == CLOSE:
        return _close(buf, start, end)
    raise ProtocolError(f"unexpected Z39.50 APDU {APDU_NAMES.get(number, number)}")


def _fields(buf: bytes, start: int, end: int) -> dict[int, tuple[int, int, int]]:
    """A SEQUENCE's children by tag key (the last wins for repeats)."""
    return {k: (k, s, e) for k, s, e in ber.walk(buf, start, end)}


def _need(f: dict, number: int, constructed: bool = False) -> tuple[int, int, int]:
    k = _key(number, constructed)
    if k not in f:
        raise DecodeError(f"required field [{number}] missing")
    return f[k]


def _opt_str(buf: bytes, f: dict, number: int) -> str | None:
    for k in (_key(number), _key(number, True)):
        if k in f:
            return ber.decode_str(buf, *f[k])
    return None


def _init_response(buf: bytes, start: int, end: int) -> InitResponse:
    f = _fields(buf, start, end)
    version_bits = ber.decode_bits(buf, *_need(f, 3)[1:])
    option_bits = ber.decode_bits(buf, *_need(f, 4)[1:])
    resp = InitResponse(
        accepted=ber.decode_bool(buf, *_need(f, 12)[1:]),
        version=max(version_bits) + 1 if version_bits else 0,
        options=frozenset(OPTIONS[b] for b in option_bits if b < len(OPTIONS)),
        preferred_message_size=ber.decode_int(buf, *_need(f, 5)[1:]),
        exceptional_record_size=ber.decode_int(buf, *_need(f, 6)[1:]),
        implementation_id=_opt_str(buf, f, 110),
        implementation_name=_opt_str(buf, f, 111),
        implementation_version=_opt_str(buf, f, 112),
    )
    if (k := _key(201, True)) in f:
        _, s, e = f[k]
        for oid, enc_key, es, ee in _other_info_externals(buf, s, e):
            if oid == OID_CHARSET_NEGOTIATION_3 and enc_key == _key(0, True):
                resp.charset, resp.records_in_charset = _charset_response(buf, es, ee)
    if (k := _key(11, True)) in f and not resp.accepted:
        resp.diagnostic = _userinfo_diagnostic(buf, *f[k][1:])
    return resp


def _other_info_externals(buf: bytes, start: int, end: int):
    """(direct-reference, encoding tag, start, end) of each externallyDefinedInfo in an OtherInformation."""
    for k, s, e in ber.walk(buf, start, end):
        if k != K_SEQ:
            continue
        for k2, s2, e2 in ber.walk(buf, s, e):
            if k2 == _key(4, True):
                oid, enc_key, es, ee = _external(buf, s2, e2)
                yield oid, enc_key, es, ee


def _external(buf: bytes, start: int, end: int) -> tuple[str | None, int, int, int]:
    """An EXTERNAL's direct-reference and its encoding element (tag key, content start, end)."""
    oid = None
    for k, s, e in ber.walk(buf, start, end):
        if k == K_OID:
            oid = ber.decode_oid(buf, s, e)
        elif ber.tag_number(k) <= 2 and (k >> 24) & 0xC0 == CONTEXT:
            return oid, k, s, e
    raise DecodeError("EXTERNAL without an encoding")


def _charset_response(buf: bytes, start: int, end: int) -> tuple[str | None, bool | None]:
    """The target's Negotiation-3 answer inside single-ASN1-type [0]: (charset name, records in it)."""
    for k, s, e in ber.walk(buf, start, end):
        if k != _key(2, True):  # response [2] IMPLICIT TargetResponse
            continue
        charset, records = None, None
        for k2, s2, e2 in ber.walk(buf, s, e):
            if k2 == _key(1, True):  # selectedCharSets [1] CHOICE
                for k3, s3, e3 in ber.walk(buf, s2, e2):
                    if k3 == _key(2, True):  # iso10646
                        for k4, s4, e4 in ber.walk(buf, s3, e3):
                            if k4 == _key(2):
                                level = ber.decode_oid(buf, s4, e4)
                                charset = ENCODING_LEVELS.get(level, level)
                    elif k3 == _key(3, True):  # private: externallySpecified [2] EXTERNAL names it (YAZ)
                        charset = _private_charset(buf, s3, e3)
                    elif k3 == _key(1, True):
                        charset = "ISO 2022"
            elif k2 == _key(3):
                records = ber.decode_bool(buf, s2, e2)
        return charset, records
    return None, None


def _private_charset(buf: bytes, start: int, end: int) -> str:
    for k, s, e in ber.walk(buf, start, end):
        if k == _key(2, True):
            _, enc_key, es, ee = _external(buf, s, e)
            if enc_key == _K_OCTET_ALIGNED:
                return ber.decode_str(buf, enc_key, es, ee)
    return "private"


def _userinfo_diagnostic(buf: bytes, start: int, end: int) -> Diagnostic | None:
    """A diagnostic the target put in an Init response's userInformationField, if it is a DiagRec."""
    for k, s, e in ber.walk(buf, start, end):
        if k == K_EXTERNAL:
            _, enc_key, es, ee = _external(buf, s, e)
            if enc_key == _key(0, True):
                diags = _find_default_diags(buf, es, ee, 0)
                if diags:
                    return diags[0]
    return None


def _find_default_diags(buf: bytes, start: int, end: int, depth: int) -> list[Diagnostic]:
    """DefaultDiagFormats anywhere below (used for Init's loosely specified UserInfo-1): a SEQUENCE, or the
    [1] IMPLICIT defaultDiagRec of a diag-1 DiagnosticFormat (as YAZ's servers send a refused login's 1011)."""
    out: list[Diagnostic] = []
    if depth > 8:
        return out
    for k, s, e in ber.walk(buf, start, end):
        if not ber.is_constructed(k):
            continue
        if k in (K_SEQ, _key(1, True)):
            kids = ber.children(buf, s, e)
            if len(kids) >= 2 and kids[0][0] == K_OID and kids[1][0] == K_INT:
                out.append(_default_diag(buf, s, e))
                continue
        out.extend(_find_default_diags(buf, s, e, depth + 1))
    return out


def _default_diag(buf: bytes, start: int, end: int) -> Diagnostic:
    """DefaultDiagFormat: diagnosticSetId, condition, addinfo."""
    diag_set, code, addinfo = None, None, None
    for k, s, e in ber.walk(buf, start, end):
        if k == K_OID and diag_set is None:
            diag_set = ber.decode_oid(buf, s, e)
        elif k == K_INT and code is None:
            code = ber.decode_int(buf, s, e)
        elif ber.tag_number(k) in (ber.VISIBLE_STRING, ber.GENERAL_STRING) and (k >> 24) & 0xC0 == UNIVERSAL:
            addinfo = ber.decode_str(buf, k, s, e)
    if code is None:
        raise DecodeError("diagnostic without a condition code")
    if diag_set is None:
        return make_diagnostic(code, addinfo)
    return make_diagnostic(code, addinfo, diagnostic_set=diag_set)


def _diag_rec(buf: bytes, key: int, start: int, end: int) -> Diagnostic:
    """DiagRec: defaultFormat SEQUENCE or externallyDefined EXTERNAL."""
    if key == K_SEQ:
        return _default_diag(buf, start, end)
    if key == K_EXTERNAL:
        oid, _, _, _ = _external(buf, start, end)
        return Diagnostic("100", "Unspecified error", f"externally defined diagnostic {oid or ''}".strip())
    raise DecodeError("diagnostic record is neither DefaultDiagFormat nor EXTERNAL")


def _records(buf: bytes, f: dict) -> tuple[list[ResponseRecord], list[Diagnostic]]:
    """The Records CHOICE: responseRecords [28], nonSurrogateDiagnostic [130], multipleNonSurDiagnostics [205]."""
    if (k := _key(28, True)) in f:
        _, s, e = f[k]
        return [_name_plus_record(buf, k2, s2, e2) for k2, s2, e2 in ber.walk(buf, s, e)], []
    if (k := _key(130, True)) in f:
        return [], [_default_diag(buf, *f[k][1:])]
    if (k := _key(205, True)) in f:
        _, s, e = f[k]
        return [], [_diag_rec(buf, k2, s2, e2) for k2, s2, e2 in ber.walk(buf, s, e)]
    return [], []


_K_NAME, _K_RECORD = _key(0), _key(1, True)
_K_RETRIEVAL, _K_SURROGATE = _key(1, True), _key(2, True)
_K_OCTET_ALIGNED, _K_SINGLE = _key(1), _key(0, True)


def _name_plus_record(buf: bytes, key: int, start: int, end: int) -> ResponseRecord:
    if key != K_SEQ:
        raise DecodeError("NamePlusRecord is not a SEQUENCE")
    rec = ResponseRecord(database=None)
    for k, s, e in ber.walk(buf, start, end):
        if k == _K_NAME:
            rec.database = ber.decode_str(buf, k, s, e)
        elif k == _K_RECORD:
            ck, cs, ce, _ = ber.element(buf, s, e)
            if ck == _K_RETRIEVAL:
                xk, xs, xe, _ = ber.element(buf, cs, ce)
                if xk != K_EXTERNAL:
                    raise DecodeError("retrievalRecord is not an EXTERNAL")
                oid, enc_key, es, ee = _external(buf, xs, xe)
                rec.syntax = oid
                if enc_key == _K_OCTET_ALIGNED:
                    rec.data = buf[es:ee]
                elif enc_key == _K_SINGLE:
                    rec.data = buf[es:ee]  # the ASN.1 value's own BER (e.g. GRS-1, OPAC)
                else:
                    rec.data = ber.decode_octets(buf, enc_key, es, ee)
            elif ck == _K_SURROGATE:
                dk, ds, de, _ = ber.element(buf, cs, ce)
                rec.diagnostic = _diag_rec(buf, dk, ds, de)
            else:
                raise DecodeError(f"record fragment [{ber.tag_number(ck)}] not supported (segmentation is off)")
    if rec.data is None and rec.diagnostic is None:
        raise DecodeError("NamePlusRecord without a record or a diagnostic")
    return rec


def _search_response(buf: bytes, start: int, end: int) -> SearchResponse:
    f = _fields(buf, start, end)
    records, diags = _records(buf, f)
    rs_status = _key(26)
    present_status = _key(27)
    return SearchResponse(
        result_count=ber.decode_int(buf, *_need(f, 23)[1:]),
        records_returned=ber.decode_int(buf, *_need(f, 24)[1:]),
        next_position=ber.decode_int(buf, *_need(f, 25)[1:]),
        search_status=ber.decode_bool(buf, *_need(f, 22)[1:]),
        result_set_status=ber.decode_int(buf, *f[rs_status][1:]) if rs_status in f else None,
        present_status=ber.decode_int(buf, *f[present_status][1:]) if present_status in f else None,
        records=records,
        diagnostics=diags,
    )


def _present_response(buf: bytes, start: int, end: int) -> PresentResponse:
    f = _fields(buf, start, end)
    records, diags = _records(buf, f)
    return PresentResponse(
        records_returned=ber.decode_int(buf, *_need(f, 24)[1:]),
        next_position=ber.decode_int(buf, *_need(f, 25)[1:]),
        present_status=ber.decode_int(buf, *_need(f, 27)[1:]),
        records=records,
        diagnostics=diags,
    )


_K_GENERAL, _K_NUMERIC, _K_CHARSTRING = _key(45), _key(215), _key(216)


def _scan_response(buf: bytes, start: int, end: int) -> ScanResponse:
    """ScanResponse: scanStatus [4], positionOfTerm [6], entries [7] (terms [1] and diagnostics [2])."""
    f = _fields(buf, start, end)
    out = ScanResponse(status=ber.decode_int(buf, *_need(f, 4)[1:]))
    if (k := _key(6)) in f:
        out.position = ber.decode_int(buf, *f[k][1:])
    if (k := _key(7, True)) not in f:
        return out
    for k2, s2, e2 in ber.walk(buf, f[k][1], f[k][2]):
        if k2 == _key(1, True):  # SEQUENCE OF Entry
            for ek, es, ee in ber.walk(buf, s2, e2):
                if ek == _key(1, True):
                    out.entries.append(_term_info(buf, es, ee))
                elif ek == _key(2, True):  # surrogateDiagnostic [2] DiagRec (explicit: DiagRec is a CHOICE)
                    dk, ds, de, _ = ber.element(buf, es, ee)
                    out.diagnostics.append(_diag_rec(buf, dk, ds, de))
                else:
                    raise DecodeError(f"scan entry [{ber.tag_number(ek)}] is neither a term nor a diagnostic")
        elif k2 == _key(2, True):  # nonsurrogateDiagnostics
            out.diagnostics.extend(_diag_rec(buf, dk, ds, de) for dk, ds, de in ber.walk(buf, s2, e2))
    return out


def _term_info(buf: bytes, start: int, end: int) -> ScanEntry:
    """TermInfo: the term (general octets, numeric or character string), displayTerm [0], globalOccurrences [2]."""
    entry = ScanEntry(term=b"")
    for k, s, e in ber.walk(buf, start, end):
        if k in (_K_GENERAL, _K_CHARSTRING):
            entry.term = ber.decode_octets(buf, k, s, e)
        elif k == _K_NUMERIC:
            entry.term = str(ber.decode_int(buf, s, e)).encode("ascii")
        elif k == _key(0):
            entry.display = ber.decode_str(buf, k, s, e)
        elif k == _key(2):
            entry.occurrences = ber.decode_int(buf, s, e)
    return entry


def _close(buf: bytes, start: int, end: int) -> Close:
    f = _fields(buf, start, end)
    info = _opt_str(buf, f, 3)
    return Close(reason=ber.decode_int(buf, *_need(f, 211)[1:]), diagnostic_information=info)
