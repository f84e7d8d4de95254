"""Chinese romanised two ways, compared: Wade-Giles and pinyin.

Western libraries romanised Chinese in Wade-Giles until the Library of Congress moved to pinyin in 2000, and
many catalogues still hold such records ("Ho-pei min chien ku shih hsüan" for 河北民间故事选, "Hebei min jian
gu shi xuan" in pinyin). Both meet in one form: Wade-Giles as it is typed without its marks (the aspirate ʻ or ',
the ü), which is what `records.fold.fold` leaves of a Wade-Giles title. Characters are read in Wade-Giles by
pypinyin's converter (through the compact table of records/tables.py); a pinyin text is put into Wade-Giles
syllable by syllable with the same converter's readings. Dropping the marks merges a few syllables (ch'a and cha,
that is cha and zha): a key for comparing, never for display. See docs/decisions/0018-wade-giles.md.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

from records.fold import fold, is_cjk
from records.tables import Style, lazy_pinyin
from records.tables import load as load_tables

LONGEST_SYLLABLE = 6  # zhuang, chuang, shuang
_lock = threading.Lock()
_syllables: dict[str, str] | None = None  # toneless pinyin syllable -> Wade-Giles without its marks


def _unmarked(wade: str) -> str:
    """Wade-Giles as typed without its marks: ch'ing -> ching, hsüeh (pypinyin's "hsveh") -> hsueh."""
    return wade.replace("'", "").replace("v", "u").replace("ü", "u")


def _syllable_table() -> dict[str, str]:
    """Every pinyin syllable pypinyin reads (toneless) with its Wade-Giles, unmarked."""
    global _syllables
    with _lock:
        if _syllables is None:
            t = load_tables()
            if t is not None:
                pairs = zip(t.normal, t.wade, strict=True)
            else:  # pypinyin's tables have a shape the compact table cannot hold: ask pypinyin for each character
                from pypinyin import Style as PStyle
                from pypinyin import lazy_pinyin as pypinyin_reading
                from pypinyin.constants import PINYIN_DICT

                chars = "".join(chr(cp) for cp in PINYIN_DICT)
                pairs = zip(pypinyin_reading(chars), pypinyin_reading(chars, style=PStyle.WADEGILES), strict=True)
            table = {n: _unmarked(w) for n, w in pairs if n and n.isascii() and n.isalpha()}
            # pypinyin writes ü as v (lve, nv); catalogues write lüe, which folds to lue
            table.update({n.replace("v", "u"): w for n, w in table.items() if "v" in n and n.replace("v", "u")
                          not in table})
            _syllables = table
    return _syllables


_APOSTROPHES = str.maketrans("", "", "'ʻʼ‘’`")


@lru_cache(maxsize=65536)
def wade_giles(text: str) -> str:
    """The text as Wade-Giles syllables without marks, folded, one space between syllables: Chinese characters
    read in Wade-Giles (河北民间故事选 -> "ho pei min chien ku shih hsuan"), any other text folded as it is (a
    Wade-Giles title already is this form: "Ho-pei min chien ku shih hsüan" gives the same)."""
    if not text:
        return ""
    if is_cjk(text):
        text = " ".join(lazy_pinyin(fold(text), Style.WADEGILES))
    return " ".join(_unmarked(fold(text.translate(_APOSTROPHES))).split())


@lru_cache(maxsize=65536)
def syllables_as_wade_giles(syllables: tuple[str, ...]) -> str:
    """Toneless pinyin syllables as a reading gives them (`records.tables.lazy_pinyin`, other text kept as
    runs) in Wade-Giles without marks, as `wade_giles` writes them: the same as `wade_giles` of the text read."""
    table = _syllable_table()
    words = (table.get(s) or " ".join(_unmarked(fold(s.translate(_APOSTROPHES))).split()) for s in syllables)
    return " ".join(w for w in words if w)


def _split(word: str, table: dict[str, str]) -> list[str] | None:
    """The word cut into pinyin syllables (longest first, going back when the rest cannot be cut: "hebei" ->
    he bei, "minjian" -> min jian, "xian" -> xian); None when it is not pinyin."""
    if not word:
        return []
    for size in range(min(LONGEST_SYLLABLE, len(word)), 0, -1):
        head = word[:size]
        if head in table:
            rest = _split(word[size:], table)
            if rest is not None:
                return [head, *rest]
    return None


@lru_cache(maxsize=65536)
def pinyin_as_wade_giles(text: str) -> str:
    """A Latin-script text whose every word is pinyin ("Hebei min jian gu shi xuan", "Zhongguo", numbers
    allowed) in Wade-Giles syllables without marks, as `wade_giles` writes them; "" when any word is not pinyin
    (an English title, or Wade-Giles itself: "Ho-pei" has no pinyin "ho")."""
    if not text or is_cjk(text):
        return ""
    table = _syllable_table()
    out: list[str] = []
    for word in fold(text.translate(_APOSTROPHES)).split():
        if word.isdigit():
            out.append(word)
            continue
        syllables = _split(word, table)
        if syllables is None:
            return ""
        out.extend(table[s] for s in syllables)
    return " ".join(out)


@lru_cache(maxsize=65536)
def wade_giles_forms(text: str) -> tuple[str, ...]:
    """The ways a Chinese text may read in Wade-Giles syllables without marks: characters read so; a Latin text
    as it is (Wade-Giles itself) and, when every word of it is pinyin, put into Wade-Giles ("Chi" is ji in
    Wade-Giles and chi in pinyin)."""
    if is_cjk(text):
        return (wade_giles(text),)
    return tuple(dict.fromkeys(f for f in (wade_giles(text), pinyin_as_wade_giles(text)) if f))


# -- Arabic script and its ALA-LC romanisation ------------------------------------------------------------------
# The consonants both forms write, as classes: letters that ALA-LC romanises otherwise for Arabic and for Persian
# or Urdu share one (ث th / s̱, ذ dh / ż), as do those whose romanisation drops a dot (ص ṣ and س s). Vowels, the
# letters that carry them (ا و ي ى), hamza, ʻayn and a word's final ة / ه (-ah, -at, -ih) are left out: the
# romanisation writes them one way, the script another, or not at all.
_ARABIC_CLASSES = {ch: cls for chars, cls in (
    ("بٻ", "b"), ("پ", "p"), ("تطٹ", "t"), ("ثسص", "s"), ("جژ", "j"), ("چش", "c"), ("حهھ", "h"), ("خ", "x"),
    ("دڈض", "d"), ("ذزظ", "z"), ("رڑ", "r"), ("غگ", "g"), ("ف", "f"), ("ق", "q"), ("كک", "k"), ("ل", "l"),
    ("م", "m"), ("نں", "n")) for ch in chars}
_LATIN_DIGRAPHS = (("th", "s"), ("dh", "z"), ("kh", "x"), ("gh", "g"), ("sh", "c"), ("ch", "c"), ("zh", "j"))
_LATIN_CLASSES = frozenset("bptsjchxdzrgfqklmn")
_ARABIC_LETTER = re.compile(r"[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff\u0750-\u077f]")
_WORDS = re.compile(r"[\s\-‐]+")
_NOT_LETTERS = re.compile(r"[^\w]+")
_DOUBLED = re.compile(r"(.)\1+")
_FINAL_TA = "ةه"


def is_arabic_script(text: str) -> bool:
    """True when the text has letters of the Arabic script (Arabic, Persian, Urdu, Ottoman Turkish...)."""
    return not text.isascii() and _ARABIC_LETTER.search(unicodedata.normalize("NFKC", text)) is not None


@lru_cache(maxsize=16384)
def consonant_skeleton(text: str) -> str:
    """The consonants of an Arabic-script text, or of its ALA-LC romanisation, as comparable classes, doubled
    letters once: سحر البيان and "Siḥr al-Bayān" both give "shrlbn". Digits are kept. "" for an empty text."""
    if not text:
        return ""
    out: list[str] = []
    if is_arabic_script(text):
        for word in _WORDS.split(unicodedata.normalize("NFKC", text)):
            word = word.strip(".,:;/[]()،؛?!\u200e\u200f")
            word = word[:-1] if len(word) > 2 and word[-1] in _FINAL_TA else word
            out.append("".join(_ARABIC_CLASSES.get(ch, ch if ch.isdigit() else "") for ch in word))
    else:
        # digraphs are read before the dots go (ḍḥ is two letters, dh one), and ʹ (the romanisation's separator:
        # Nuzʹhat is z + h, not zh) parts two letters a digraph would join
        for word in _NOT_LETTERS.split(unicodedata.normalize("NFC", text).casefold().replace("ʹ", " ")):
            if len(word) > 2 and word[-1] == "h" and word[-2] in "aeiouāīū":
                word = word[:-1]  # -ah, -ih: a final ة or ه
            for pair, cls in _LATIN_DIGRAPHS:
                word = word.replace(pair, cls.upper())
            word = "".join(ch for ch in unicodedata.normalize("NFKD", word) if not unicodedata.combining(ch))
            out.append("".join(ch.lower() if ch.isupper() else ch if ch in _LATIN_CLASSES or ch.isdigit() else ""
                               for ch in word))
    return _DOUBLED.sub(r"\1", "".join(out))


__all__ = ["consonant_skeleton", "is_arabic_script", "pinyin_as_wade_giles", "syllables_as_wade_giles", "wade_giles",
           "wade_giles_forms"]
