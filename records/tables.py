"""Pinyin as pypinyin reads it, from a compact table instead of pypinyin's 190,000 lists of phrase readings.

pypinyin reads a text by cutting each run of Chinese characters into the longest phrases of its dictionary
(47,000 phrases, forward maximum matching: `pypinyin.seg.mmseg`) and reading a phrase by its dictionary entry, any
other character by its first reading. Importing it builds those tables, 150–300 ms of CPU that every `balis
search` paid before its first merge. Only some 8,800 phrases read differently from their characters (重庆
chong2 qing4, 银行 yin2 hang2); the others matter only for where the cuts fall. So the table kept here holds:
each character's reading, the phrases grouped by their first character (for the cuts), and the readings of the
phrases that differ, written beside them. It is built once with pypinyin itself and kept in the home folder (`pinyin-tables.marshal`,
keyed by pypinyin's files: `members.pinyin.pypinyin_version`, and the Python version), rebuilt when either
changes; loading it takes a few milliseconds. tests/records/test_pinyin_tables.py holds it equal to pypinyin.

`lazy_pinyin(text, style)` gives what `pypinyin.lazy_pinyin(text, style=style)` gives, for the three styles balis
uses: toneless (`Style.NORMAL`, match keys), tone numbers (`Style.TONE3`, sort keys) and Wade-Giles
(`Style.WADEGILES`, to meet records romanised before pinyin: records/romanisation.py).
"""

from __future__ import annotations

import enum
import logging
import marshal
import os
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "pinyin-tables.marshal"
FORMAT = 3  # of the file's contents; a file of another format is rebuilt
NO_READING = 0  # a character's syllable number when pypinyin has no reading for it (it is kept as it is)
FIRST_SYLLABLE = 0x20  # syllables are numbered from here: their characters never look like "\n" or "\t"
LENGTH_BASE = 0x30  # a group of phrases starts with chr(LENGTH_BASE + the length of its longest): "2" … ":"


class Style(enum.IntEnum):
    """The pinyin styles balis uses, numbered as pypinyin numbers them."""

    NORMAL = 0  # zhong guo
    TONE3 = 8  # zhong1 guo2
    WADEGILES = 14  # chung kuo


@dataclass(frozen=True)
class Tables:
    """What pypinyin knows, in the form a reading needs and in few objects (loading them is what a process pays):
    syllables are numbered, and a character's or a phrase's reading is a string of syllable numbers (one
    character each). The phrases starting with one character are one string, "\n" + phrase + "\t" + its reading
    for each (the reading left empty when the phrase reads as its characters), led by the longest's length."""

    version: str
    runs: re.Pattern  # a run of characters pypinyin reads (group 1: its RE_HANS class) or of others (group 2)
    normal: tuple[str, ...]  # syllable number -> toneless syllable
    tone3: tuple[str, ...]  # syllable number -> syllable with its tone number
    wade: tuple[str, ...]  # syllable number -> the syllable in Wade-Giles, as pypinyin writes it (ü as "v")
    base: int  # the code point of chars[0]
    chars: str  # code point - base -> the character's syllable number (NO_READING when it has none)
    phrases: dict[str, str]  # first character -> its group: longest, ("\n" + phrase + "\t" + reading)..., "\n"


class PinyinTableError(Exception):
    """pypinyin's dictionaries have a shape the compact table cannot hold, or the table would read otherwise."""


_lock = threading.Lock()
_tables: Tables | None = None
_unusable = False  # the table could not be built: pypinyin reads


def lazy_pinyin(text: str, style: Style = Style.NORMAL, errors: str = "default") -> list[str]:
    """The text's syllables as `pypinyin.lazy_pinyin(text, style=style)` gives them: one per character read,
    and each run of other characters kept as one item."""
    if errors != "default" or style not in (Style.NORMAL, Style.TONE3, Style.WADEGILES):
        raise ValueError(f"records.tables reads pinyin in Style.NORMAL, Style.TONE3 and Style.WADEGILES with "
                         f"errors='default' only, not {style!r} / {errors!r}")
    t = _tables or load()
    if t is None:
        from pypinyin import Style as PStyle
        from pypinyin import lazy_pinyin as pypinyin_reading

        return pypinyin_reading(text, style=PStyle(int(style)))
    return _reading(t, text, style)


def _reading(t: Tables, text: str, style: Style) -> list[str]:
    syllables = t.tone3 if style == Style.TONE3 else t.wade if style == Style.WADEGILES else t.normal
    out: list[str] = []
    for han, other in t.runs.findall(text):
        if other:
            out.append(other)
            continue
        for piece, reading in _cut(t, han):
            if reading:
                out.extend(syllables[ord(n)] for n in reading)
                continue
            for c in piece:
                i = ord(c) - t.base
                n = ord(t.chars[i]) if 0 <= i < len(t.chars) else NO_READING
                out.append(syllables[n] if n != NO_READING else c)
    return out


def _cut(t: Tables, run: str):
    """The run cut as pypinyin's mmseg cuts it, each piece with its own reading ("" when it reads as its
    characters): at each place the longest phrase that starts there, else one character; and when the rest of
    the run is the start of a longer phrase and holds no phrase at its own start, the rest character by
    character (mmseg's last step, which looks no further into the rest)."""
    i, n = 0, len(run)
    while i < n:
        phrases = t.phrases.get(run[i])
        if phrases is None:
            yield run[i], ""
            i += 1
            continue
        for size in range(min(ord(phrases[0]) - LENGTH_BASE, n - i), 1, -1):
            at = phrases.find(f"\n{run[i:i + size]}\t")
            if at >= 0:
                yield run[i:i + size], phrases[at + size + 2:phrases.index("\n", at + 1)]
                i += size
                break
        else:
            if n - i > 1 and f"\n{run[i:]}" in phrases and f"\n{run[i]}\t" not in phrases:
                yield from ((c, "") for c in run[i:])
                return
            yield run[i], ""
            i += 1


def load() -> Tables | None:
    """The tables, read from the home folder, or built with pypinyin (and kept there) when missing or made
    from other versions of pypinyin or Python. Called by the first reading; entry points call it before they
    settle (balis/process.py). None when this pypinyin's dictionaries cannot be held in the table (a version
    with another shape): readings then come from pypinyin itself, slower to start but the same."""
    global _tables, _unusable
    with _lock:
        if _tables is None and not _unusable:
            from members import paths
            from members.pinyin import pypinyin_version

            version = f"{FORMAT};{sys.version_info[0]}.{sys.version_info[1]};{pypinyin_version()}"
            path = paths.home() / FILE_NAME
            _tables = _read(path, version)
            if _tables is None:
                try:
                    _tables = build(version)
                except PinyinTableError as exc:
                    _unusable = True
                    logging.getLogger(__name__).warning("pinyin is read with pypinyin itself: %s", exc)
                else:
                    _write(path, _tables)
    return _tables


def build(version: str = "") -> Tables:
    """The tables, from pypinyin's own dictionaries, each syllable put in the three styles by pypinyin's own
    converter (under a second, once per version); checked against `pypinyin.lazy_pinyin` before use."""
    from pypinyin import Style as PStyle
    from pypinyin.constants import PHRASES_DICT, PINYIN_DICT, RE_HANS
    from pypinyin.converter import DefaultConverter

    converter = DefaultConverter()
    numbers: dict[tuple[str, str, str], int] = {}
    styled: dict[str, tuple[str, str, str]] = {}

    def number(han: str, raw: str) -> str:
        """A syllable as pypinyin writes it for one character, numbered (the styles balis uses never look at
        the character, only at its tone-marked syllable)."""
        pair = styled.get(raw)
        if pair is None:
            pair = styled[raw] = (converter.convert_style(han, raw, style=PStyle.TONE3, strict=True),
                                  converter.convert_style(han, raw, style=PStyle.NORMAL, strict=True),
                                  converter.convert_style(han, raw, style=PStyle.WADEGILES, strict=True))
        n = numbers.get(pair)
        if n is None:
            n = numbers[pair] = FIRST_SYLLABLE + len(numbers)
            if n >= 0x3000:  # where the characters pypinyin reads begin
                raise PinyinTableError("more syllables than the table's format holds")
        return chr(n)

    base, top = min(PINYIN_DICT), max(PINYIN_DICT)
    chars = [chr(NO_READING)] * (top - base + 1)
    for cp, all_readings in PINYIN_DICT.items():
        c = chr(cp)
        raw = PHRASES_DICT[c][0][0] if c in PHRASES_DICT else all_readings.split(",")[0]
        chars[cp - base] = number(c, raw)
    by_char = "".join(chars)

    groups: dict[str, list[tuple[str, str]]] = {}
    for phrase, raw in PHRASES_DICT.items():
        own = "".join(number(han, syllables[0]) for han, syllables in zip(phrase, raw, strict=False))
        as_characters = "".join(by_char[ord(c) - base] if base <= ord(c) <= top else chr(NO_READING)
                                for c in phrase)
        differs = len(raw) != len(phrase) or own != as_characters or chr(NO_READING) in as_characters
        if differs and not own:
            raise PinyinTableError(f"pypinyin reads the phrase {phrase!r} as nothing")
        groups.setdefault(phrase[0], []).append((phrase, own if differs else ""))
    pattern = RE_HANS.pattern
    if not (pattern.startswith("^(?:[") and pattern.endswith("])+$")):
        raise PinyinTableError(f"pypinyin's RE_HANS has a shape this table does not know: {pattern[:40]}…")
    han = pattern[len("^(?:"):-len(")+$")]
    syllables = sorted(numbers, key=numbers.__getitem__)
    tables = Tables(
        version=version,
        runs=re.compile(f"({han}+)|([^{han[1:]}+)"),
        normal=("",) * FIRST_SYLLABLE + tuple(sys.intern(n) for _, n, _ in syllables),
        tone3=("",) * FIRST_SYLLABLE + tuple(sys.intern(t) for t, _, _ in syllables),
        wade=("",) * FIRST_SYLLABLE + tuple(sys.intern(w) for _, _, w in syllables),
        base=base,
        chars=by_char,
        phrases={c: chr(LENGTH_BASE + max(len(p) for p, _ in ps)) + "".join(f"\n{p}\t{r}" for p, r in sorted(ps)) + "\n"
                 for c, ps in groups.items()},
    )
    check(tables, [*list(PHRASES_DICT)[::97], *SELF_CHECK])
    return tables


SELF_CHECK = ("重庆银行行长", "长安音乐", "中国人民银行", "北京大学出版社 2009", "Hello, 世界!", "〇", "")


def check(tables: Tables, texts: list[str]) -> None:
    """Refuse tables that read any of the texts (or the texts run together) otherwise than pypinyin does."""
    from pypinyin import Style as PStyle
    from pypinyin import lazy_pinyin as pypinyin_reading

    texts = [*texts, "".join(texts[:200]), "、".join(texts[:200])]
    for text in texts:
        for style in (Style.NORMAL, Style.TONE3, Style.WADEGILES):
            ours = _reading(tables, text, style)
            theirs = pypinyin_reading(text, style=PStyle(int(style)))
            if ours != theirs:
                raise PinyinTableError(f"the compact table reads {text[:40]!r} as {ours[:8]}, pypinyin as "
                                       f"{theirs[:8]}")


def _read(path: Path, version: str) -> Tables | None:
    """The kept tables, or None when the file is missing, unreadable or of another version."""
    try:
        doc = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if not (isinstance(doc, tuple) and len(doc) == 8 and doc[0] == version):
        return None
    version, runs, normal, tone3, wade, base, chars, phrases = doc
    try:
        return Tables(version, re.compile(runs), normal, tone3, wade, base, chars, phrases)
    except (re.error, TypeError):
        return None


def _write(path: Path, t: Tables) -> None:
    """Keep the tables for the next process; a folder that cannot be written only costs the next one a build."""
    doc = (t.version, t.runs.pattern, t.normal, t.tone3, t.wade, t.base, t.chars, t.phrases)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(marshal.dumps(doc))
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)


__all__ = ["PinyinTableError", "Style", "Tables", "build", "check", "lazy_pinyin", "load"]
