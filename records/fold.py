"""Text folding for match and search keys: one form for the many ways members catalogue the same words.

fold("《紅樓夢》 ： 上冊") == fold("红楼梦:上册"); fold("Café  Society /") == fold("cafe society").
Keys are for comparing and indexing, never for display.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

import opencc

_T2S = opencc.OpenCC("t2s")  # one converter per process: building it loads the dictionaries

# Latin letters that do not decompose into base + accent.
_LATIN_EXTRA = str.maketrans({
    "ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th",
    "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ı": "i", "ʻ": "", "ʼ": "", "ʹ": "", "ʺ": "",
})
_KEEP_PUNCT = frozenset("#+")  # C++, C#: part of the words they are in
_CJK_RANGES = (
    (0x3040, 0x30FF),  # kana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3134F),  # CJK extensions B-G
)
_CJK_CLASS = "[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _CJK_RANGES) + "]"
_CJK_CHAR = re.compile(_CJK_CLASS)
_SPACE_BETWEEN_CJK = re.compile(rf"(?<={_CJK_CLASS})\s+(?={_CJK_CLASS})")
_SPACES = re.compile(r"\s+")


def _is_cjk_char(ch: str) -> bool:
    return _CJK_CHAR.match(ch) is not None


def is_cjk(text: str) -> bool:
    """True when the text contains at least one Chinese, Japanese or Korean character."""
    return not text.isascii() and _CJK_CHAR.search(text) is not None


def to_simplified(text: str) -> str:
    """Traditional Chinese characters converted to simplified (OpenCC t2s); other text unchanged."""
    return _T2S.convert(text) if text and is_cjk(text) else text


_S2T: opencc.OpenCC | None = None  # built on first use: its phrase dictionary takes about 50 ms to load
_S2T_LOCK = threading.Lock()


def load_traditional() -> None:
    """Build the simplified → traditional converter now (a search engine does so before its first search)."""
    global _S2T
    with _S2T_LOCK:
        if _S2T is None:
            _S2T = opencc.OpenCC("s2t")


def to_traditional(text: str) -> str:
    """Simplified Chinese characters converted to traditional (OpenCC s2t, phrase-aware: 头发 → 頭髮, not
    頭發); other text unchanged."""
    if not text or not is_cjk(text):
        return text
    if _S2T is None:
        load_traditional()
    return _S2T.convert(text)


def script_forms(text: str) -> list[str]:
    """The text as given, in simplified and in traditional characters, without repeats: the forms a
    catalogue may have used for the same words."""
    if not is_cjk(text):
        return [text]
    return list(dict.fromkeys((text, to_simplified(text), to_traditional(text))))


def _strip_marks(text: str) -> str:
    """Remove accents from Latin/Greek/Cyrillic letters; kana voicing marks and the like stay."""
    decomposed = unicodedata.normalize("NFD", text)
    out: list[str] = []
    base_cp = 0
    for ch in decomposed:
        if unicodedata.category(ch) == "Mn":
            if base_cp < 0x2000:
                continue
        else:
            base_cp = ord(ch)
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """The match/search key of a text: NFKC (full-width → half-width), traditional → simplified,
    punctuation (ISBD / : ; = . , [ ] and CJK 《》：，。 etc.) and control characters removed, case
    folded, Latin accents stripped, spaces squeezed (and dropped between CJK characters).
    """
    if not text:
        return ""
    s = unicodedata.normalize("NFKC", text)
    if not s.isascii():
        if is_cjk(s):
            s = _T2S.convert(s)
        s = _strip_marks(s.translate(_LATIN_EXTRA))
    chars = []
    for ch in s:
        if ch.isalnum() or ch in _KEEP_PUNCT:
            chars.append(ch)
        elif ch.isspace():
            chars.append(" ")
        else:
            cat = unicodedata.category(ch)
            # punctuation, controls (MARC non-sorting markers), format characters: a word break
            if cat[0] in "PCZ":
                chars.append(" ")
            elif cat == "Mn":
                chars.append(ch)
            else:  # other symbols (©, ℗, math) carry no matching meaning either
                chars.append(" ")
    s = "".join(chars).casefold()
    s = _SPACES.sub(" ", s).strip()
    if not s.isascii():
        s = _SPACE_BETWEEN_CJK.sub("", s)
    return s
