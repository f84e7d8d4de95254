"""MARC-8 (ANSEL, EACC CJK and the other MARC-8 sets) to Unicode, counting what could not be decoded.

The character tables are pymarc's (`pymarc.marc8_mapping`); this decoder walks the same escape
sequences as `pymarc.marc8.MARC8ToUnicode` but reports broken sequences to the caller instead of
writing to stderr, so a record can carry a warning (or be refused) and a harvest stays quiet.
"""

from __future__ import annotations

import unicodedata

from pymarc.marc8_mapping import CODESETS, ODD_MAP

BASIC_LATIN = 0x42
ANSEL = 0x45
EACC = 0x31
_MULTIBYTE = {EACC}
_TECHNIQUE1 = {0x67: 0x67, 0x62: 0x62, 0x70: 0x70, 0x73: BASIC_LATIN}  # ESC g/b/p/s
REPLACEMENT = "\ufffd"


def _lookup(table: dict, code: int):
    """A set's entry for `code`, whether the set was designated as G0 (low bytes) or G1 (high)."""
    entry = table.get(code)
    if entry is None:
        entry = table.get(code - 0x80 if code >= 0x80 else code + 0x80)
    return entry


def decode_marc8(data: bytes) -> tuple[str, int]:
    """Decode one MARC-8 subfield; returns (text, number of bytes or sequences that were not valid)."""
    if data.isascii() and 0x1B not in data:
        return data.decode("ascii"), 0
    g0, g1 = BASIC_LATIN, ANSEL
    out: list[str] = []
    combining: list[str] = []
    problems = 0
    pos, n = 0, len(data)
    while pos < n:
        byte = data[pos]
        if byte == 0x1B:  # escape sequence: designate a set as G0 or G1
            nxt = data[pos + 1] if pos + 1 < n else -1
            if nxt in _TECHNIQUE1:
                g0 = _TECHNIQUE1[nxt]
                pos += 2
                continue
            if nxt in (0x28, 0x2C, 0x24, 0x29, 0x2D):  # ( , $ ) -
                p = pos + 2
                target = 1 if nxt in (0x29, 0x2D) else 0
                if nxt == 0x24 and p < n and data[p] in (0x2C, 0x29, 0x2D):  # ESC $ , F / ESC $ ) F
                    target = 0 if data[p] == 0x2C else 1
                    p += 1
                if p < n and data[p] == 0x21:  # ESC ) ! E: the extended Latin (ANSEL) designation
                    p += 1
                final = data[p] if p < n else -1
                if final in CODESETS:
                    if target == 0:
                        g0 = final
                    else:
                        g1 = final
                    pos = p + 1
                    continue
            problems += 1  # unknown or truncated escape: drop the ESC byte and go on
            pos += 1
            continue
        if byte < 0x20 or byte == 0x7F:
            pos += 1
            continue
        if byte == 0x20:
            out.append(" ")
            pos += 1
            continue
        if g0 in _MULTIBYTE and byte < 0x80:
            chunk = data[pos:pos + 3]
            if len(chunk) < 3 or not all(0x21 <= b <= 0x7E for b in chunk):
                problems += 1
                out.append(REPLACEMENT)
                pos += 1
                continue
            code = (chunk[0] << 16) | (chunk[1] << 8) | chunk[2]
            entry = CODESETS[g0].get(code)
            if entry is None:
                odd = ODD_MAP.get(code)
                if odd is not None:
                    out.append(chr(odd))
                else:
                    problems += 1
                    out.append(REPLACEMENT)
                pos += 3
                continue
            uni, is_combining = entry
            pos += 3
        else:
            table = CODESETS[g1] if byte >= 0x80 else CODESETS[g0]
            entry = _lookup(table, byte)
            pos += 1
            if entry is None:
                odd = ODD_MAP.get(byte)
                if odd is not None:
                    out.append(chr(odd))
                elif not 0x80 <= byte <= 0xA0:  # C1 controls carry no text in MARC-8
                    problems += 1
                    out.append(REPLACEMENT)
                continue
            uni, is_combining = entry
        if is_combining:  # MARC-8 puts combining marks before the base letter, Unicode after
            combining.append(chr(uni))
        else:
            out.append(chr(uni))
            if combining:
                out.extend(combining)
                combining.clear()
    if combining:
        out.extend(combining)
    return unicodedata.normalize("NFC", "".join(out)), problems
