"""Reading MARC as members send it: ISO 2709 in UTF-8, MARC-8 or GBK, and MARCXML, into pymarc records.

Pure functions over given bytes (or a given path/stream for the bulk readers). A record that cannot be
read raises `RecordError` naming the member and position; a record that could be read after a repair
(a wrong length, a mislabelled character set, a broken multibyte sequence) comes back with the repair
listed in its `warnings`. The bulk readers yield `(position, record or RecordError)` and go on after a
bad record, so one broken record never stops a harvest.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import pymarc
from lxml import etree
from pymarc import Field, Indicators, Leader, Subfield

from records.errors import RecordError
from records.marc8 import decode_marc8

__all__ = [
    "MarcRecord",
    "read_iso2709",
    "iter_iso2709",
    "read_marcxml",
    "iter_marcxml",
    "detect_syntax",
    "CHARSETS",
    "MAX_XML_BYTES",
]

FIELD_TERMINATOR = 0x1E
RECORD_TERMINATOR = 0x1D
SUBFIELD_DELIMITER = 0x1F
LEADER_LEN = 24

# The member charsets the registry may declare, and the names this module accepts for them.
CHARSETS = {
    "auto": "auto", "": "auto", None: "auto",
    "utf-8": "utf-8", "utf8": "utf-8",
    "marc-8": "marc-8", "marc8": "marc-8", "ansel": "marc-8",
    "gbk": "gbk", "gb18030": "gbk", "gb2312": "gbk", "cp936": "gbk",
}
MAX_XML_BYTES = 64 * 1024 * 1024  # a MARCXML document larger than this is refused, not parsed
MAX_XML_RECORD_BYTES = 4 * 1024 * 1024  # one MARCXML record (read_marcxml) larger than this is refused

_NCR = re.compile(r"&#x([0-9A-Fa-f]{1,6});")
_SRU_NAMESPACES = frozenset({
    "http://www.loc.gov/zing/srw/",
    "http://docs.oasis-open.org/ns/search-ws/sruResponse",
    "http://www.loc.gov/zing/srw/diagnostic/",
})


class MarcRecord(pymarc.Record):
    """A pymarc record that also lists what reading it had to repair, and the charset it was read in."""

    __slots__ = ("warnings", "charset")

    def __init__(self, leader: str = " " * LEADER_LEN) -> None:
        super().__init__()
        self.leader = Leader(leader)
        self.warnings: list[str] = []
        self.charset: str = "utf-8"


def _ncr(match: re.Match) -> str:
    code = int(match.group(1), 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group(0)


def _unescape_ncr(text: str) -> str:
    """MARC-8's lossless form keeps characters outside its repertoire as &#xHHHH; (MARC 21 spec)."""
    return _NCR.sub(_ncr, text) if "&#x" in text else text


def _valid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _gbk_plausible(data: bytes) -> bool:
    """GBK text decodes as GB18030 and its two-byte characters mostly have high trail bytes.

    ANSEL diacritics (MARC-8 without escapes) also decode as GB18030, but there the byte after a
    high byte is almost always an ASCII letter.
    """
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    pairs = low_trail = 0
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        pairs += 1
        if i + 1 < n and data[i + 1] < 0x80:
            low_trail += 1
        i += 4 if i + 1 < n and 0x30 <= data[i + 1] <= 0x39 else 2
    return pairs > 0 and low_trail * 3 < pairs


def _choose_charset(body: bytes, leader9: str, declared: str, warnings: list[str]) -> str:
    """Decide how to decode a record's fields: declared charset, leader/09, and what the bytes allow.

    Valid UTF-8 with non-ASCII bytes and no MARC-8 escapes is taken as UTF-8 whatever was declared
    (MARC-8 and GBK text is practically never valid UTF-8); otherwise a forced charset wins, and in
    `auto` mode leader/09 'a' means UTF-8, blank means MARC-8 unless the bytes are plainly GBK.
    """
    if body.isascii() and 0x1B not in body:
        return "ascii"
    has_escape = 0x1B in body
    utf8 = not has_escape and _valid_utf8(body)
    if declared == "auto":
        if leader9 == "a" or utf8:
            declared_now = "utf-8"
        elif not has_escape and _gbk_plausible(body):
            return "gbk"
        else:
            return "marc-8"
    else:
        declared_now = declared
    if declared_now == "utf-8":
        if utf8:
            return "utf-8"
        if has_escape:
            warnings.append("declared UTF-8 but holds MARC-8 escape sequences; read as MARC-8")
            return "marc-8"
        if _gbk_plausible(body):
            warnings.append("declared UTF-8 but the bytes are GBK; read as GBK")
            return "gbk"
        warnings.append("declared UTF-8 but holds invalid UTF-8 bytes; they were replaced with U+FFFD")
        return "utf-8"
    if utf8:
        warnings.append(f"declared {declared_now.upper()} but the bytes are UTF-8; read as UTF-8")
        return "utf-8"
    return declared_now


def _decoder(charset: str):
    """A function bytes -> (text, problems) for one subfield in `charset`."""
    if charset == "marc-8":
        def marc8(b: bytes) -> tuple[str, int]:
            text, problems = decode_marc8(b)
            return _unescape_ncr(text), problems
        return marc8
    codec = {"utf-8": "utf-8", "gbk": "gb18030", "ascii": "utf-8"}[charset]
    strict = codecs.getdecoder(codec)  # called directly: bytes.decode(name) looks the codec up on every call

    def decode(b: bytes) -> tuple[str, int]:
        try:
            return _unescape_ncr(strict(b)[0]), 0
        except UnicodeDecodeError:
            text = b.decode(codec, "replace")
            return _unescape_ncr(text), max(1, text.count("\ufffd"))
    return decode


def _whole_field_decoder(chosen: str, fast: bool):
    """A strict decoder for a whole data field at once, where that is safe: valid UTF-8, and GBK (GB18030),
    whose multi-byte characters never contain the subfield delimiter 0x1F. None for MARC-8 (its escapes
    carry state across bytes) and for records that need repairs."""
    if fast:
        return codecs.getdecoder("utf-8")
    if chosen == "gbk":
        return codecs.getdecoder("gb18030")
    return None


def _decoded_at_once(raw: bytes, whole) -> tuple[str, list[Subfield]] | None:
    """A data field's indicators and subfields, the field decoded in one call; None when it needs the careful
    subfield-by-subfield path (undecodable bytes, odd indicators, a non-ASCII subfield code)."""
    try:
        text = whole(raw)[0]
    except UnicodeDecodeError:
        return None
    pieces = text.split("\x1f")
    ind = pieces[0]
    if len(ind) != 2 or not ind.isascii():
        return None
    ncr = "&#x" in text
    subfields = []
    for piece in pieces[1:]:
        if not piece:
            continue
        code = piece[0]
        if code >= "\x80":
            return None
        value = piece[1:]
        subfields.append(Subfield(code, _unescape_ncr(value) if ncr else value))
    return ind, subfields


def _digits(raw: bytes, what: str, member: str, position) -> int:
    if not raw.isdigit():
        raise RecordError(f"{what} is not numeric ({raw!r}); the record is not ISO 2709",
                          member=member or None, position=position)
    return int(raw)


def _fields_by_directory(data: bytes, base: int, entries: list[tuple[str, int, int]]) -> list[bytes] | None:
    """Field bytes located by the directory, or None when an entry does not point at a field."""
    out = []
    n = len(data)
    for _tag, length, offset in entries:
        start = base + offset
        end = start + length
        if length < 1 or end > n or data[end - 1] != FIELD_TERMINATOR:
            return None
        out.append(data[start:end - 1])
    return out


def read_iso2709(data: bytes, *, charset: str = "auto", member: str = "", position: int | None = None,
                 strict: bool = False) -> MarcRecord:
    """Read one ISO 2709 record (MARC21 or UNIMARC) in UTF-8, MARC-8 or GBK into a pymarc record.

    `charset` is the member's declared charset (`auto`, `utf-8`, `marc-8`, `gbk`). Repairs are listed
    in the record's `warnings`; with `strict=True` an undecodable character raises instead. Raises
    RecordError (naming member and position) when the bytes are not a readable record.
    """
    where = {"member": member or None, "position": position}
    if not isinstance(data, bytes | bytearray | memoryview):
        raise RecordError(f"expected bytes, got {type(data).__name__}", **where)
    data = bytes(data)
    declared = CHARSETS.get(charset.lower() if isinstance(charset, str) else charset)
    if declared is None:
        raise RecordError(f"unknown charset {charset!r}; use one of utf-8, marc-8, gbk, auto", **where)
    warnings: list[str] = []
    stripped = data.lstrip(b"\r\n\t \x00").rstrip(b"\r\n\x00")
    if len(stripped) < LEADER_LEN + 2:
        raise RecordError(f"only {len(stripped)} bytes; an ISO 2709 record needs a 24-byte leader and a directory",
                          **where)
    data = stripped
    raw_leader = data[:LEADER_LEN]
    if not raw_leader.isascii():
        raise RecordError("the leader holds non-ASCII bytes; the record is not ISO 2709", **where)
    record_length = _digits(raw_leader[0:5], "record length (leader/00-04)", member, position)
    base = _digits(raw_leader[12:17], "base address (leader/12-16)", member, position)

    body_end = len(data)
    if data[-1] == RECORD_TERMINATOR:
        body_end -= 1
    else:
        warnings.append("no record terminator at the end")
    if record_length != len(data):
        if record_length > len(data):
            warnings.append(f"leader says {record_length} bytes but only {len(data)} arrived (truncated?)")
        else:
            warnings.append(f"leader says {record_length} bytes but the record has {len(data)}")

    # The directory ends with the first field terminator; trust that over a wrong base address.
    dir_end = data.find(b"\x1e", LEADER_LEN)
    if dir_end < 0:
        raise RecordError("no field terminator after the directory; the record is truncated or not ISO 2709",
                          **where)
    if base != dir_end + 1:
        if base and base <= body_end and data[base - 1] == FIELD_TERMINATOR and (base - 1 - LEADER_LEN) % 12 == 0:
            dir_end = base - 1
        else:
            warnings.append(f"base address {base} is wrong; the directory ends at byte {dir_end}")
            base = dir_end + 1
    directory = data[LEADER_LEN:dir_end]
    len_len = int(chr(raw_leader[20])) if 0x31 <= raw_leader[20] <= 0x39 else 4
    off_len = int(chr(raw_leader[21])) if 0x31 <= raw_leader[21] <= 0x39 else 5
    if (len_len, off_len) != (4, 5) and len(directory) % (3 + len_len + off_len) != 0:
        len_len, off_len = 4, 5
    entry_len = 3 + len_len + off_len
    if not directory.isascii():
        raise RecordError("the directory holds non-ASCII bytes; the record is corrupt", **where)
    if len(directory) % entry_len:
        warnings.append(f"directory length {len(directory)} is not a multiple of {entry_len}; "
                        "the incomplete last entry was ignored")
    entries: list[tuple[str, int, int]] = []
    for i in range(0, len(directory) - entry_len + 1, entry_len):
        e = directory[i:i + entry_len]
        tag = e[:3].decode("ascii")
        if not tag.isalnum():
            raise RecordError(f"directory entry {i // entry_len + 1} has tag {tag!r}; the directory is corrupt",
                              **where)
        ln, off = e[3:3 + len_len], e[3 + len_len:]
        if not (ln.isdigit() and off.isdigit()):
            raise RecordError(f"directory entry for {tag} has non-numeric length/offset {e!r}", **where)
        entries.append((tag, int(ln), int(off)))
    if not entries:
        raise RecordError("the directory is empty; the record has no fields", **where)

    field_bytes = _fields_by_directory(data[:body_end], base, entries)
    if field_bytes is None:
        # Directory lengths/offsets disagree with the data: read the fields in order between terminators.
        pieces = data[base:body_end].split(b"\x1e")
        if pieces and pieces[-1] == b"":
            pieces.pop()
        elif body_end == len(data):
            raise RecordError("the last field has no field terminator and the record no record terminator "
                              "(truncated record)", **where)
        if len(pieces) < len(entries):
            raise RecordError(f"the directory lists {len(entries)} fields but only {len(pieces)} are present "
                              "(truncated or corrupt record)", **where)
        warnings.append("directory lengths/offsets do not match the data; fields were read in order")
        if len(pieces) > len(entries):
            warnings.append(f"{len(pieces) - len(entries)} field(s) not in the directory were ignored")
        field_bytes = pieces[:len(entries)]

    leader_text = raw_leader.decode("ascii").replace("-", " ") if b"-" in raw_leader else raw_leader.decode("ascii")
    chosen = _choose_charset(data[base:body_end], leader_text[9], declared, warnings)
    decode = _decoder(chosen)
    fast = chosen == "ascii" or (chosen == "utf-8" and not any("invalid UTF-8" in w for w in warnings))
    whole = _whole_field_decoder(chosen, fast)
    problems = 0
    record = MarcRecord(leader_text)
    fields = record.fields
    for (tag, _ln, _off), raw in zip(entries, field_bytes, strict=True):
        if tag < "010" and tag.isdigit():
            text, bad = decode(raw)
            problems += bad
            fields.append(Field(tag=tag, data=text))
            continue
        if whole is not None:
            done = _decoded_at_once(raw, whole)
            if done is not None:
                ind_text, subfields = done
                fields.append(Field(tag=tag, indicators=Indicators(ind_text[0], ind_text[1]), subfields=subfields))
                continue
        parts = raw.split(b"\x1f")
        ind = parts[0]
        if len(ind) != 2 or not ind.isascii():
            if ind:
                warnings.append(f"field {tag} has indicators {ind!r}; kept the first two ASCII characters")
            ind_text = "".join(chr(b) if 0x20 <= b < 0x7F else " " for b in ind[:2]).ljust(2)
        else:
            ind_text = ind.decode("ascii")
        subfields = []
        for part in parts[1:]:
            if not part:
                continue
            if part[0] < 0x80:
                code = chr(part[0])
                if fast:  # UTF-8 already checked valid for the whole record: decode in place
                    text = part[1:].decode("utf-8")
                    if "&#x" in text:
                        text = _unescape_ncr(text)
                    subfields.append(Subfield(code, text))
                    continue
                text, bad = decode(part[1:])
            else:
                text, bad = decode(part)
                code, text = text[:1], text[1:]
                warnings.append(f"field {tag} has a non-ASCII subfield code {code!r}")
            problems += bad
            subfields.append(Subfield(code=code, value=text))
        fields.append(Field(tag=tag, indicators=Indicators(ind_text[0], ind_text[1]), subfields=subfields))
    if problems:
        message = f"{problems} undecodable {chosen.upper()} character(s) or sequence(s) replaced with U+FFFD"
        if strict:
            raise RecordError(message, **where)
        warnings.append(message)
    # The record is Unicode now: mark it so, so that pymarc writes it back as UTF-8.
    if leader_text[9] != "a" and chosen != "ascii":
        record.leader[9] = "a"
    record.warnings = warnings
    record.charset = chosen if chosen != "ascii" else (declared if declared != "auto" else "utf-8")
    return record


def _chunks(source: bytes | bytearray | BinaryIO | str | os.PathLike, size: int = 1 << 16) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        yield bytes(source)
        return
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            yield from iter(lambda: fh.read(size), b"")
        return
    yield from iter(lambda: source.read(size), b"")


def iter_iso2709(stream_or_bytes, *, charset: str = "auto", member: str = "",
                 strict: bool = False) -> Iterator[tuple[int, MarcRecord | RecordError]]:
    """Yield (1-based position, record or RecordError) for each record of an ISO 2709 stream.

    Accepts bytes, a binary file object or a path. Records are split at record terminators, so a record
    with a wrong length never swallows the next one; the stream is read in chunks, never all at once.
    """
    position = 0
    buffer = bytearray()
    for chunk in _chunks(stream_or_bytes):
        buffer += chunk
        start = 0
        while True:
            end = buffer.find(b"\x1d", start)
            if end < 0:
                break
            raw = bytes(buffer[start:end + 1])
            start = end + 1
            if not raw.strip(b"\r\n\t \x00\x1d"):
                continue
            position += 1
            yield position, _read_or_error(raw, charset, member, position, strict)
        del buffer[:start]
    if bytes(buffer).strip(b"\r\n\t \x00\x1a"):
        position += 1
        yield position, _read_or_error(bytes(buffer), charset, member, position, strict)


def _read_or_error(raw: bytes, charset: str, member: str, position: int, strict: bool):
    try:
        return read_iso2709(raw, charset=charset, member=member, position=position, strict=strict)
    except RecordError as exc:
        return exc


# ---------------------------------------------------------------- MARCXML

def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                           remove_comments=True, remove_pis=True)


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _namespace(tag) -> str:
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _is_marc_record(el) -> bool:
    if _local(el.tag) != "record" or _namespace(el.tag) in _SRU_NAMESPACES:
        return False
    return any(_local(child.tag) in ("leader", "controlfield", "datafield") for child in el)


def _element_to_record(el, *, member: str = "", position: int | None = None) -> MarcRecord:
    """A MARCXML <record> element (any namespace: MARC21 slim, CNMARC's, none) as a pymarc record."""
    record = MarcRecord()
    warnings = record.warnings
    fields = record.fields
    saw_leader = False
    for child in el:
        name = _local(child.tag)
        if name == "leader":
            text = (child.text or "").replace("-", " ").replace("#", " ")
            if len(text) != LEADER_LEN:
                warnings.append(f"leader has {len(text)} characters; padded/cut to 24")
                text = text[:LEADER_LEN].ljust(LEADER_LEN)
            record.leader = Leader(text)
            saw_leader = True
        elif name == "controlfield":
            tag = (child.get("tag") or "").strip()
            if not tag:
                warnings.append("a controlfield without a tag was ignored")
                continue
            fields.append(Field(tag=tag, data=_unescape_ncr(child.text or "")))
        elif name == "datafield":
            tag = (child.get("tag") or "").strip()
            if not tag:
                warnings.append("a datafield without a tag was ignored")
                continue
            ind1 = (child.get("ind1") or " ")[:1]
            ind2 = (child.get("ind2") or " ")[:1]
            subfields = [Subfield(code=(sf.get("code") or " ")[:1] or " ", value=_unescape_ncr(sf.text or ""))
                         for sf in child if _local(sf.tag) == "subfield"]
            fields.append(Field(tag=tag, indicators=Indicators(ind1, ind2), subfields=subfields))
    if not fields:
        raise RecordError("the MARCXML record has no fields", member=member or None, position=position)
    if not saw_leader:
        warnings.append("the MARCXML record has no leader")
    if record.leader[9] != "a":
        record.leader[9] = "a"
    return record


def _records_in(root) -> list:
    if _is_marc_record(root):
        return [root]
    found = [el for el in root.iter() if _is_marc_record(el)]
    if found:
        return found
    # SRU with recordPacking=string: the record is escaped XML text inside recordData.
    out = []
    for el in root.iter():
        if _local(el.tag) == "recordData" and len(el) == 0 and (el.text or "").lstrip().startswith("<"):
            inner = _parse_bytes(el.text.strip().encode("utf-8"))
            out.extend(_records_in(inner))
    return out


def _parse_bytes(data: bytes, limit: int = MAX_XML_BYTES):
    if len(data) > limit:
        raise RecordError(f"the XML is {len(data)} bytes, over the {limit}-byte limit; refused")
    try:
        return etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise RecordError(f"not well-formed XML: {exc}") from None


def read_marcxml(data, *, member: str = "", position: int | None = None) -> MarcRecord:
    """Read one MARCXML record from bytes/str or an lxml element: a <record>, a one-record
    <collection>, or an SRU response/recordData holding one record (packed as XML or as a string).
    """
    try:
        if isinstance(data, bytes | bytearray | memoryview | str):
            raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
            root = _parse_bytes(raw, MAX_XML_RECORD_BYTES)
        elif isinstance(data, etree._Element):
            root = data
        else:
            raise RecordError(f"expected MARCXML bytes or an lxml element, got {type(data).__name__}")
        found = _records_in(root)
    except RecordError as exc:
        raise RecordError(exc.message, member=member or None, position=position) from None
    if not found:
        raise RecordError("no MARCXML <record> with a leader or fields found", member=member or None,
                          position=position)
    if len(found) > 1:
        raise RecordError(f"the XML holds {len(found)} records; use iter_marcxml for collections",
                          member=member or None, position=position)
    return _element_to_record(found[0], member=member, position=position)


def iter_marcxml(path_or_bytes, *, member: str = "") -> Iterator[tuple[int, MarcRecord | RecordError]]:
    """Yield (1-based position, record or RecordError) for each MARCXML record in a file, bytes or an
    element: collections, SRU responses, single records. Files are parsed incrementally.
    """
    if isinstance(path_or_bytes, etree._Element):
        yield from _yield_records(_records_in(path_or_bytes), member)
        return
    if isinstance(path_or_bytes, bytes | bytearray | memoryview | str) and not (
            isinstance(path_or_bytes, str) and not path_or_bytes.lstrip().startswith("<")):
        raw = path_or_bytes.encode("utf-8") if isinstance(path_or_bytes, str) else bytes(path_or_bytes)
        if len(raw) > MAX_XML_BYTES:
            yield 1, RecordError(f"the XML is {len(raw)} bytes, over the {MAX_XML_BYTES}-byte limit; refused",
                                 member=member or None)
            return
        source = io.BytesIO(raw)
    else:
        source = path_or_bytes
    position = 0
    context = etree.iterparse(source, events=("end",), resolve_entities=False, no_network=True,
                              huge_tree=False, load_dtd=False, remove_comments=True, remove_pis=True)
    try:
        for _event, el in context:
            if not _is_marc_record(el):
                continue
            position += 1
            try:
                yield position, _element_to_record(el, member=member, position=position)
            except RecordError as exc:
                yield position, exc
            el.clear()
            parent = el.getparent()
            if parent is not None:
                while el.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        yield position + 1, RecordError(f"XML not well-formed after record {position}: {exc}",
                                        member=member or None, position=position + 1)


def _yield_records(elements: Iterable, member: str) -> Iterator[tuple[int, MarcRecord | RecordError]]:
    for position, el in enumerate(elements, 1):
        try:
            yield position, _element_to_record(el, member=member, position=position)
        except RecordError as exc:
            yield position, exc


# ---------------------------------------------------------------- syntax

_UNIMARC_TAGS = ("200", "210", "010", "215", "225", "101", "100", "690", "701", "702", "995", "205")
_MARC21_TAGS = ("245", "260", "264", "020", "300", "008", "650", "100", "082", "050", "952", "040")


def detect_syntax(rec: pymarc.Record) -> str:
    """'unimarc' or 'marc21', from which tags carry a title and imprint (200/210/010 vs 245/260/020)."""
    tags = {f.tag for f in rec.fields}
    if "245" in tags and "200" not in tags:
        return "marc21"
    if "200" in tags and "245" not in tags:
        return "unimarc"
    uni = sum(t in tags for t in ("200", "210", "010", "215", "225", "101", "690", "701", "702", "995"))
    m21 = sum(t in tags for t in ("245", "260", "264", "020", "300", "008", "650", "082", "050", "952"))
    if uni != m21:
        return "unimarc" if uni > m21 else "marc21"
    # UNIMARC's 100 is a coded data field with $a; MARC21's 100 is a personal name.
    f100 = rec.get("100")
    if f100 is not None and not f100.is_control_field():
        value = f100.get("a") or ""
        if len(value) >= 22 and value[:8].isdigit():
            return "unimarc"
    return "marc21"
