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
import unicodedata
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import pymarc
from lxml import etree
from pymarc import Field, Indicators, Leader, Subfield

from records.errors import RecordError
from records.marc8 import decode_marc8
from records.repair import may_be_mojibake, may_be_mojibake_bytes, repair_record

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


_ANSEL_LIGATURES = frozenset({0xEB, 0xEC, 0xFA, 0xFB})  # ligature and double-tilde halves: never precomposed
_LIGATURE_MARKS = frozenset("\ufe20\ufe21\ufe22\ufe23\u0361\u0360")


def _marc8_plausible(data: bytes) -> bool:
    """MARC-8 without escapes (ANSEL): it decodes without a problem, and every combining diacritic
    (0xE0-0xFE, written before its letter) is followed by a letter or another diacritic. Latin-1 text
    fails this: its accented letters end words and stand before spaces and delimiters."""
    text, problems = decode_marc8(data)
    if problems:
        return False
    n = len(data)
    marks = 0
    for i, b in enumerate(data):
        if b >= 0xE0:
            nxt = data[i + 1] if i + 1 < n else 0
            if not (0x41 <= nxt <= 0x5A or 0x61 <= nxt <= 0x7A or nxt >= 0xE0 or 0xA1 <= nxt <= 0xBF):
                return False
            marks += b not in _ANSEL_LIGATURES
    # A real diacritic sits on a letter that takes it (é, ü, ş, ọ: one precomposed character after NFC);
    # Latin-1 letters read as ANSEL give marks on letters that do not ("Bäcker" → "Bc̃ker").
    loose = sum(1 for c in text if unicodedata.combining(c) and c not in _LIGATURE_MARKS)
    return loose * 5 <= marks


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 with a few broken bytes (a cut character) rather than another charset: more well-formed
    multibyte characters than broken sequences. GBK, ANSEL and Latin-1 bytes rarely form UTF-8 sequences."""
    text = data.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    return sum(1 for c in text if c > "\x7f") - bad > bad


def _fallback_charset(data: bytes) -> str:
    """The charset that fits bytes which are not UTF-8: MARC-8 with escapes, GBK, MARC-8 (ANSEL), else
    Windows-1252 (a superset of Latin-1, the usual charset of Western text that is not UTF-8)."""
    if 0x1B in data:
        return "marc-8"
    if _gbk_plausible(data):
        return "gbk"
    if _marc8_plausible(data) and _ansel_letters(data) >= _latin1_letters(data):
        return "marc-8"
    return "cp1252"


_CHARSET_NAMES = {"marc-8": "MARC-8", "gbk": "GBK", "cp1252": "Latin-1/Windows-1252", "utf-8": "UTF-8"}


def _ansel_letters(data: bytes) -> int:
    """Evidence for ANSEL: its special and diacritic bytes, less the diacritics that land where accents
    rarely go (Latin Extended-B: Latin-1 "Yucatán" read as ANSEL gives "Yucatǹ", "Linnéa" gives "Linnǎ")."""
    odd = sum(1 for c in decode_marc8(data)[0] if "\u0180" <= c <= "\u024f")
    return sum(1 for b in data if b >= 0xA1) - 2 * odd


def _latin1_letters(data: bytes) -> int:
    """Evidence for Latin-1: the letters (é, ü, ñ) the high bytes are when read as Windows-1252."""
    return sum(1 for c in data.decode("cp1252", "replace") if c.isalpha() and not c.isascii())


def _choose_charset(body: bytes, leader9: str, declared: str, warnings: list[str]) -> tuple[str, str | None]:
    """Decide how to decode a record's fields: declared charset, leader/09, and what the bytes allow.

    Returns (charset, fallback): `fallback` is set when a UTF-8 record holds some fields in another charset;
    those fields (each subfield that is not valid UTF-8) are read in it. Valid UTF-8 with non-ASCII bytes
    and no MARC-8 escapes is taken as UTF-8 whatever was declared (MARC-8 and GBK text is practically
    never valid UTF-8); otherwise a forced charset wins, and in `auto` mode leader/09 'a' means UTF-8,
    blank means MARC-8 unless the bytes are plainly GBK.
    """
    if body.isascii() and 0x1B not in body:
        return "ascii", None
    has_escape = 0x1B in body
    utf8 = not has_escape and _valid_utf8(body)
    if declared == "auto":
        if leader9 == "a" or utf8:
            declared_now = "utf-8"
        elif not has_escape and _gbk_plausible(body):
            return "gbk", None
        else:
            return "marc-8", None
    else:
        declared_now = declared
    if declared_now == "utf-8":
        if utf8:
            return "utf-8", None
        if has_escape:
            warnings.append("declared UTF-8 but holds MARC-8 escape sequences; read as MARC-8")
            return "marc-8", None
        fields = body.split(b"\x1e")
        bad = [f for f in fields if not _valid_utf8(f)]
        if _mostly_utf8(b"\x1e".join(bad)):
            warnings.append("declared UTF-8 but holds invalid UTF-8 bytes; they were replaced with U+FFFD")
            return "utf-8", None
        fallback = _fallback_charset(body)
        if fallback == "cp1252" and any(not f.isascii() for f in fields if _valid_utf8(f)):
            # UTF-8 text in some fields, something else in others: read each in the charset that fits it.
            fallback = _fallback_charset(b"\x1e".join(bad))
            warnings.append(f"declared UTF-8 but {len(bad)} field(s) hold {_CHARSET_NAMES[fallback]} bytes; "
                            f"those were read as {_CHARSET_NAMES[fallback]}")
            return "utf-8", fallback
        warnings.append(f"declared UTF-8 but the bytes are {_CHARSET_NAMES[fallback]}; "
                        f"read as {_CHARSET_NAMES[fallback]}")
        return fallback, None
    if utf8:
        warnings.append(f"declared {declared_now.upper()} but the bytes are UTF-8; read as UTF-8")
        return "utf-8", None
    return declared_now, None


def _decoder(charset: str, fallback: str | None = None):
    """A function bytes -> (text, problems) for one subfield in `charset`; with `fallback`, a subfield
    that is not valid in `charset` is read in `fallback` instead."""
    if fallback is not None:
        first, second = codecs.getdecoder("utf-8"), _decoder(fallback)

        def mixed(b: bytes) -> tuple[str, int]:
            try:
                return _unescape_ncr(first(b)[0]), 0
            except UnicodeDecodeError:
                if _mostly_utf8(b):
                    text = b.decode("utf-8", "replace")
                    return _unescape_ncr(text), text.count("\ufffd")
                return second(b)
        return mixed
    if charset == "marc-8":
        def marc8(b: bytes) -> tuple[str, int]:
            text, problems = decode_marc8(b)
            return _unescape_ncr(text), problems
        return marc8
    codec = {"utf-8": "utf-8", "gbk": "gb18030", "ascii": "utf-8", "cp1252": "cp1252"}[charset]
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
    """Field bytes located by the directory, or None when the entries are not exactly the fields: each ends
    with a field terminator, no two end at the same one, the data has no other terminator, and the entries
    start where fields start (after the terminators but the last); so none spans two fields or part of one."""
    out = []
    n = len(data)
    ends = set()
    for _tag, length, offset in entries:
        end = base + offset + length
        if length < 1 or end > n or data[end - 1] != FIELD_TERMINATOR:
            return None
        ends.add(end)
        out.append(data[end - length:end - 1])
    if len(ends) != len(entries) or data.count(b"\x1e", base) != len(ends):
        return None
    starts = {base + offset for _tag, _length, offset in entries}
    ends.discard(max(ends))
    ends.add(base)
    return out if starts == ends else None


_CONTROL_005 = re.compile(rb"\s*\d{14}(\.\d+)?\s*")


def _fits(tag: str, raw: bytes) -> bool:
    """Whether field bytes can belong to `tag`: a control field (00X) has no subfield delimiter, a data
    field has one right after its two indicators; 005 is a date and time."""
    if not tag.isdigit():
        return True  # local tags (Aleph's FMT, CAT, AVA): control or data, the data decides
    if tag < "010":
        return 0x1F not in raw and (tag != "005" or _CONTROL_005.fullmatch(raw) is not None)
    return len(raw) <= 2 or 0x1F in raw[:3]


_SHAPE_ONLY = 0.1  # the score of a field that fits an entry's tag but agrees on neither offset nor length
_BAND = 16  # how many fields more or fewer than its entry's place a field may be found (bounds the work)
# The most alignment cells (entries x band) a directory repair may fill: ordinary repairs need a few
# thousand; a directory thousands of entries away from its fields would take minutes, and is refused.
MAX_REALIGN_CELLS = 50_000


def _place_fields(body: bytes, entries: list[tuple[str, int, int]],
                  warnings: list[str]) -> list[tuple[tuple[str, int, int], bytes]]:
    """Match the fields between terminators to directory entries when the directory disagrees with the data.

    Entries and fields are aligned in data order, each pair scored by what agrees: offset and length
    (counted in bytes, or in characters as some converters write them); length alone where a neighbouring
    entry's field is found at the same shift (the data moved: an extra or missing field); offset alone
    where the entry before backs it (the entry's length is the wrong number). An entry whose offset and
    length point at two different fields, with nothing to say which is right, is dropped; a pair that fits
    only by shape (control vs data field) is kept only where as many entries as fields lie between surer
    pairs, and a match with an equally good rival between its neighbours is dropped, as is one placed by its
    offset alone where a field no entry claims lies between its neighbours and fits its tag too. Dropped entries and
    ignored fields are warned about: a field never takes another field's data.
    """
    raw_pieces = body.split(b"\x1e")
    if raw_pieces and raw_pieces[-1] == b"":
        raw_pieces.pop()
    units: list[tuple[list[int], list[int]]] = []  # (starts, lengths with terminator) per counting unit
    starts, lengths, pos = [], [], 0
    for piece in raw_pieces:
        starts.append(pos)
        lengths.append(len(piece) + 1)
        pos += len(piece) + 1
    units.append((starts, lengths))
    if not body.isascii() and _valid_utf8(body):
        cstarts, clengths, pos = [], [], 0
        for piece in raw_pieces:
            n = len(piece.decode("utf-8")) + 1
            cstarts.append(pos)
            clengths.append(n)
            pos += n
        units.append((cstarts, clengths))
    n_e, n_p = len(entries), len(raw_pieces)

    # Which pieces each entry's offset claims: with its length too, or alone where the directory does not
    # agree with itself around the entry (the one before does not end at its offset, or it does not end
    # at the next one's), so its length is the suspect number.
    starts_at = [{start: i for i, start in enumerate(u_starts)} for u_starts, _ in units]
    totals = {sum(u_lengths) for _, u_lengths in units}
    agrees = [(entries[e - 1][2] + entries[e - 1][1] == off if e else off == 0)
              and (off + ln == entries[e + 1][2] if e + 1 < len(entries) else off + ln in totals)
              for e, (_tag, ln, off) in enumerate(entries)]
    claimed: dict[int, set[int]] = {}  # piece -> entries that claim it: by offset and length, or by an offset
    for e, (_tag, ln, off) in enumerate(entries):  # trusted because the entry's length is the odd one out
        for u in range(len(units)):
            q = starts_at[u].get(off)
            if q is not None and (units[u][1][q] == ln or not agrees[e]):
                claimed.setdefault(q, set()).add(e)

    seen_offsets: set[int] = set()
    shared = {off for _tag, _ln, off in entries if off in seen_offsets or seen_offsets.add(off)}

    def offset_backed(e: int, u: int, p: int) -> bool:
        """An offset alone places a field only where the entry before, itself pointing at a field, ends there,
        or points at the field before. Not for the first entry (its offset is 0 whatever went wrong) nor an
        offset two entries give (it is wrong for one of them); nor by an entry before that points at no field:
        its end says nothing, and its own field may be the one at this offset."""
        if not e or entries[e][2] in shared:
            return False
        _tag, prev_ln, prev_off = entries[e - 1]
        if prev_off in shared or starts_at[u].get(prev_off) is None:
            return False
        return prev_off + prev_ln == entries[e][2] or (p > 0 and starts_at[u].get(prev_off) == p - 1)

    def supported(e: int, u: int, shift: int) -> bool:
        """A neighbouring entry's field is found at the same shift from its offset, with its length, and no
        other entry claims that field."""
        for n in (e - 1, e + 1):
            if 0 <= n < len(entries):
                q = starts_at[u].get(entries[n][2] + shift)
                if q is not None and units[u][1][q] == entries[n][1] and not claimed.get(q, set()) - {n}:
                    return True
        return False

    lengths_at: list[dict[int, list[int]]] = [{} for _ in units]
    for u, (_, u_lengths) in enumerate(units):
        for q, q_ln in enumerate(u_lengths):
            lengths_at[u].setdefault(q_ln, []).append(q)
    # Which number to trust when one field is at an entry's offset and another, claimed by no other entry,
    # has its length: the length where a neighbour shows the data moved by that much, else neither.
    trust: list[str] = []
    for e, (_tag, ln, off) in enumerate(entries):
        at = {q for u in range(len(units)) if (q := starts_at[u].get(off)) is not None
              and units[u][1][q] != ln}
        same = {(u, q) for u in range(len(units)) for q in lengths_at[u].get(ln, ())
                if q not in at and not claimed.get(q, set()) - {e}} if at else set()
        if at and same:
            moved = any(supported(e, u, units[u][0][q] - off) for u, q in same)
            trust.append("length" if moved else "neither")
        else:
            trust.append("offset" if at else "length")

    def score(e: int, p: int) -> tuple[float, bool]:
        tag, length, offset = entries[e]
        if not _fits(tag, raw_pieces[p]):
            return -1.0, False
        best, chars = _SHAPE_ONLY, False
        how = trust[e]
        for u, (u_starts, u_lengths) in enumerate(units):
            at, ln = u_starts[p] == offset, u_lengths[p] == length
            if at and ln:
                s = 4.0
            elif how == "neither" and (at or ln):
                return -1.0, False
            elif ln and not supported(e, u, u_starts[p] - offset):
                s = _SHAPE_ONLY  # a field of that length elsewhere, with nothing to say the data moved there
            elif ln:
                s = 2.0 if how == "length" else 1.0
            elif at and not offset_backed(e, u, p):
                s = _SHAPE_ONLY
            elif at:
                s = 2.0 if how == "offset" else 1.5
            else:
                continue
            if s > best:
                best, chars = s, u == 1
        return best, chars

    # Align entries and fields in data order (an LCS-like table): the best total of match scores. Only a
    # band around the diagonal is filled: a field more than _BAND places from its entry is not matched.
    low = min(0, n_p - n_e) - _BAND
    high = max(0, n_p - n_e) + _BAND
    unreachable = -1e9
    table = [[unreachable] * (n_p + 1) for _ in range(n_e)] + [[0.0] * (n_p + 1)]
    scores: dict[tuple[int, int], tuple[float, bool]] = {}
    for e in range(n_e - 1, -1, -1):
        row, below = table[e], table[e + 1]
        if e + high >= n_p:
            row[n_p] = 0.0
        for p in range(min(n_p - 1, e + high), max(-1, e + low - 1), -1):
            scores[e, p] = score(e, p)
            s = scores[e, p][0]
            row[p] = max(below[p], row[p + 1], below[p + 1] + s if s >= 0 else unreachable)
    pairs, e, p = [], 0, 0
    while e < n_e and p < n_p:
        s = scores.get((e, p), (-1.0, False))[0]
        if s >= 0 and table[e][p] == table[e + 1][p + 1] + s:
            pairs.append((e, p))
            e, p = e + 1, p + 1
        elif table[e][p] == table[e + 1][p]:
            e += 1
        else:
            p += 1
    # A match on shape alone is kept only where as many entries as fields lie between surer matches.
    sure = [(e, p) for e, p in pairs if scores[e, p][0] > _SHAPE_ONLY]
    # A match that is not exact is dropped when another field between its neighbours fits the entry as
    # well: two equally good places for one entry mean neither can be trusted.
    changed = True
    while changed:
        changed = False
        for k, (e, p) in enumerate(sure):
            s = scores[e, p][0]
            if s >= 4.0:
                continue
            lo = sure[k - 1][1] if k else -1
            hi = sure[k + 1][1] if k + 1 < len(sure) else n_p
            e_lo = sure[k - 1][0] if k else -1
            e_hi = sure[k + 1][0] if k + 1 < len(sure) else n_e
            # placed by its offset alone, with more fields than entries between its neighbours: a field there
            # is no entry's, and where it fits this entry's tag too, nothing says which is this entry's data
            by_offset = any(u_starts[p] == entries[e][2] and u_lengths[p] != entries[e][1]
                            for u_starts, u_lengths in units)
            unaccounted = by_offset and (hi - lo) > (e_hi - e_lo)
            if any(q != p and score(e, q)[0] >= (_SHAPE_ONLY if unaccounted else s) for q in range(lo + 1, hi)):
                del sure[k]
                changed = True
                break
    placed: list[int | None] = [None] * n_e
    for e, p in sure:
        placed[e] = p
    bounds = [(-1, -1)] + sure + [(n_e, n_p)]
    for (e0, p0), (e1, p1) in zip(bounds, bounds[1:], strict=False):
        if e1 - e0 == p1 - p0 and e1 - e0 > 1:
            guesses = [(e, p) for e, p in pairs if e0 < e < e1]
            if len(guesses) == e1 - e0 - 1:
                for e, p in guesses:
                    placed[e] = p
    exact = sum(1 for e, p in pairs if placed[e] == p and scores[e, p][0] == 4.0)
    used = {p for p in placed if p is not None}
    by_chars = any(placed[e] == p and scores[e, p][1] for e, p in pairs)
    if by_chars:
        warnings.append("directory lengths/offsets count characters, not bytes; fields were placed by characters")
    if exact < len(entries) or len(used) < len(raw_pieces):
        warnings.append("directory lengths/offsets do not match the data; fields were matched to their entries "
                        "by offset, length and order")
    dropped = [entries[i][0] for i, p in enumerate(placed) if p is None]
    if dropped:
        warnings.append(f"no field could be placed for directory entr(ies) {', '.join(dropped)}; dropped")
    if len(used) < len(raw_pieces):
        warnings.append(f"{len(raw_pieces) - len(used)} field(s) not in the directory were ignored")
    return [(entry, raw_pieces[p]) for entry, p in zip(entries, placed, strict=True) if p is not None]


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
    if field_bytes is not None:
        placed = list(zip(entries, field_bytes, strict=True))
        covered = sum(ln for _tag, ln, _off in entries)
        if covered < body_end - base:
            warnings.append(f"{body_end - base - covered} byte(s) of field data not in the directory were ignored")
    else:
        if data[base:body_end].rstrip(b"\x1e") == data[base:body_end] and body_end == len(data):
            raise RecordError("the last field has no field terminator and the record no record terminator "
                              "(truncated record)", **where)
        pieces = data.count(b"\x1e", base, body_end) + (data[body_end - 1:body_end] != b"\x1e")
        if len(entries) * (abs(pieces - len(entries)) + 2 * _BAND) > MAX_REALIGN_CELLS:
            raise RecordError(f"the directory lists {len(entries)} fields but the data holds {pieces}; too far "
                              "apart to match them to each other (corrupt record)", **where)
        placed = _place_fields(data[base:body_end], entries, warnings)
        if not placed:
            raise RecordError(f"none of the {len(entries)} directory entries points at a field "
                              "(truncated or corrupt record)", **where)
        if len(placed) < len(entries) and record_length > len(data):
            raise RecordError(f"the directory lists {len(entries)} fields but only {len(placed)} are present "
                              "(truncated record)", **where)

    leader_text = raw_leader.decode("ascii").replace("-", " ") if b"-" in raw_leader else raw_leader.decode("ascii")
    chosen, fallback = _choose_charset(data[base:body_end], leader_text[9], declared, warnings)
    decode = _decoder(chosen, fallback)
    fast = chosen == "ascii" or (chosen == "utf-8" and fallback is None
                                 and not any("invalid UTF-8" in w for w in warnings))
    whole = _whole_field_decoder(chosen, fast)
    problems = 0
    record = MarcRecord(leader_text)
    fields = record.fields
    for (tag, _ln, _off), raw in placed:
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
    if chosen == "utf-8" and may_be_mojibake_bytes(data[base:body_end]):
        repair_record(record, warnings)
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


_ALL_TEXT = etree.XPath("string()")  # every text node of an element, joined in C: one cheap mojibake check


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
    if may_be_mojibake(_ALL_TEXT(el)):
        repair_record(record, warnings)
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
        if _is_packed_string(el):
            out.extend(_records_in(_unpack_string(el)))
    return out


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _is_packed_string(el) -> bool:
    """An SRU recordData holding its record as escaped XML text (recordPacking=string)."""
    return _local(el.tag) == "recordData" and len(el) == 0 and (el.text or "").lstrip().startswith("<")


def _unpack_string(el):
    """The XML inside a string-packed recordData, parsed; its own XML declaration is dropped, since the
    text is already Unicode whatever encoding the declaration names."""
    return _parse_bytes(_XML_DECLARATION.sub("", el.text, count=1).strip().encode("utf-8"))


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
    element: collections, SRU responses (records packed as XML or as strings), single records, in the
    MARC 21 slim namespace (prefixed or default), another namespace or none. Files are parsed incrementally.

    A document that holds <record> elements but yields no MARC record yields one RecordError saying so,
    never nothing: an empty result from a full response is an error to report, not an empty catalogue.
    """
    if isinstance(path_or_bytes, etree._Element):
        found = _records_in(path_or_bytes)
        if not found:
            seen = sum(1 for el in path_or_bytes.iter() if _local(el.tag) == "record")
            if seen:
                yield 1, _no_marc_error(seen, member)
            return
        yield from _yield_records(found, member)
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
    seen = 0  # <record> elements of any kind (SRU's, MARC's, another schema's)
    context = etree.iterparse(source, events=("end",), resolve_entities=False, no_network=True,
                              huge_tree=False, load_dtd=False, remove_comments=True, remove_pis=True)
    try:
        for _event, el in context:
            name = _local(el.tag)
            if name == "record":
                seen += 1
            if _is_packed_string(el):
                try:
                    inner = _records_in(_unpack_string(el))
                except RecordError as exc:
                    position += 1
                    yield position, RecordError(f"a string-packed recordData is not MARCXML: {exc.message}",
                                                member=member or None, position=position)
                    continue
                for found in inner:
                    position += 1
                    try:
                        yield position, _element_to_record(found, member=member, position=position)
                    except RecordError as exc:
                        yield position, exc
                continue
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
        return
    if position == 0 and seen:
        yield 1, _no_marc_error(seen, member)


def _no_marc_error(seen: int, member: str) -> RecordError:
    return RecordError(f"the XML holds {seen} <record> element(s) but no MARC record (none has a leader, "
                       "controlfield or datafield); ask for MARCXML (SRU recordSchema=marcxml) or check the file",
                       member=member or None, position=1)


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
