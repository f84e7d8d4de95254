"""Repairing double-encoded UTF-8 ("MÃ¼nchen" for "München", "ä¸­" for "中") in records as members send them.

Catalogues often hold text whose UTF-8 bytes were once read as Latin-1 or Windows-1252 and written out as
UTF-8 again, one layer or two. ftfy (docs/decisions/0005-ftfy-mojibake.md) undoes that; it is called only
on text that a cheap pattern check says may be mojibake, so correct text is never handed to it and the
common case costs one `isascii()` per value. Pure functions over text and pymarc records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

import pymarc

__all__ = [
    "MOJIBAKE_WARNING",
    "may_be_mojibake",
    "may_be_mojibake_bytes",
    "repair_text",
    "repair_record",
    "count_repaired",
]

# Every warning of a repaired record starts with this, so members' repairs can be counted (count_repaired).
MOJIBAKE_WARNING = "double-encoded UTF-8 repaired"

# A UTF-8 lead byte read as Latin-1/cp1252 (U+00C2..U+00F4) followed by a continuation byte read the same
# way: U+0080..U+00BF, cp1252's letters and punctuation for 0x80..0x9F, or U+FFFD for an undefined byte.
_CONTINUATION = ("\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
                 "\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122\ufffd")
_SUSPECT = re.compile(f"[\u00c2-\u00f4][{_CONTINUATION}]")
# The same two characters as UTF-8 bytes: C3 82..C3 B4, then C2 80..C2 BF or a cp1252 letter's UTF-8 form.
_SUSPECT_BYTES = re.compile(
    rb"\xc3[\x82-\xb4](?:\xc2[\x80-\xbf]|\xc5[\x92\x93\xa0\xa1\xb8\xbd\xbe]|\xc6\x92|\xcb[\x86\x9c]"
    rb"|\xe2\x80[\x93\x94\x98-\x9a\x9c-\x9e\xa0-\xa2\xa6\xb0\xb9\xba]|\xe2\x82\xac|\xe2\x84\xa2|\xef\xbf\xbd)")
# MARC 21's non-sorting markers (NSB/NSE, and the C1 pair some systems use): kept apart from ftfy, which
# would read a lone C1 character as cp1252. One that follows a mojibake character belongs to the mojibake.
_MARKER = re.compile("(?<![\u00c2-\u00f4\u0080-\u00bf])([\u0088\u0089\u0098\u009c])")


@cache
def _ftfy():
    """ftfy and its configuration for encoding repairs only (no quote uncurling, width folding, HTML
    unescaping or normalisation), imported on the first repair: a clean harvest never loads it."""
    import ftfy
    import ftfy.bad_codecs  # noqa: F401  (registers "sloppy-windows-1252": cp1252 keeping its 5 undefined bytes)

    config = ftfy.TextFixerConfig(
        unescape_html=False, remove_terminal_escapes=False, fix_encoding=True, restore_byte_a0=True,
        replace_lossy_sequences=True, decode_inconsistent_utf8=True, fix_c1_controls=False,
        fix_latin_ligatures=False, fix_character_width=False, uncurl_quotes=False, fix_line_breaks=False,
        fix_surrogates=False, remove_control_chars=False, normalization=None, explain=False)
    return ftfy, config


def may_be_mojibake(text: str) -> bool:
    """True when `text` holds a pair of characters that double-encoded UTF-8 produces (cheap; no false
    negatives for Latin-1/cp1252 mojibake of non-ASCII text, some false positives ftfy then declines)."""
    return not text.isascii() and _SUSPECT.search(text) is not None


def may_be_mojibake_bytes(data: bytes) -> bool:
    """`may_be_mojibake` for UTF-8 bytes, so a whole record can be checked before it is decoded."""
    return not data.isascii() and _SUSPECT_BYTES.search(data) is not None


def _reverse(text: str) -> str:
    """Undo whole layers of Latin-1/cp1252 reading strictly: every character must go back to a byte and
    the bytes must be valid UTF-8, which correct text practically never is. Catches what ftfy's
    heuristics let through (it keeps "â„—" for "℗", which looks like punctuation to it)."""
    for _layer in range(3):
        if not _SUSPECT.search(text):
            break
        _ftfy()  # registers the sloppy codec
        for codec in ("latin-1", "sloppy-windows-1252"):
            try:
                text = text.encode(codec).decode("utf-8")
                break
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
        else:
            break
    return text


def _fix(piece: str) -> str:
    if not _SUSPECT.search(piece):
        return piece
    ftfy, config = _ftfy()
    fixed = ftfy.fix_encoding(piece, config)
    return _reverse(fixed) if _SUSPECT.search(fixed) else fixed


def repair_text(text: str) -> str:
    """`text` with double-encoded UTF-8 (one or more layers, Latin-1 or cp1252) decoded back; `text` itself
    when it shows no mojibake or ftfy finds nothing it can safely undo."""
    if not may_be_mojibake(text):
        return text
    if _MARKER.search(text):
        fixed = "".join(p if _MARKER.fullmatch(p) else _fix(p) for p in _MARKER.split(text))
    else:
        fixed = _fix(text)
    if fixed == text or len(_SUSPECT.findall(fixed)) >= len(_SUSPECT.findall(text)):
        return text
    return fixed


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def repair_record(record: pymarc.Record, warnings: list[str]) -> list[str]:
    """Repair double-encoded UTF-8 in every control field and subfield of `record` in place; returns the
    tags repaired and, when there are any, adds one warning (starting MOJIBAKE_WARNING) with an example."""
    tags: list[str] = []
    example = None
    for field in record.fields:
        if field.is_control_field():
            if field.data and may_be_mojibake(field.data):
                fixed = repair_text(field.data)
                if fixed != field.data:
                    example = example or (field.data, fixed)
                    field.data = fixed
                    tags.append(field.tag)
            continue
        changed = False
        subfields = field.subfields
        for i, sub in enumerate(subfields):
            if may_be_mojibake(sub.value):
                fixed = repair_text(sub.value)
                if fixed != sub.value:
                    example = example or (sub.value, fixed)
                    subfields[i] = pymarc.Subfield(sub.code, fixed)
                    changed = True
        if changed:
            tags.append(field.tag)
    if tags:
        shown = ", ".join(dict.fromkeys(tags))
        before, after = example
        warnings.append(f"{MOJIBAKE_WARNING} in field(s) {shown} (e.g. {_short(before)!r} → {_short(after)!r}); "
                        "the member's catalogue holds text encoded twice")
    return tags


def is_repaired(warnings: Iterable[str]) -> bool:
    """True when a record's warnings say its double-encoded UTF-8 was repaired."""
    return any(w.startswith(MOJIBAKE_WARNING) for w in warnings)


def count_repaired(warning_lists: Iterable[Iterable[str]]) -> int:
    """How many of the records (given by their warnings) had double-encoded UTF-8 repaired."""
    return sum(is_repaired(ws) for ws in warning_lists)
