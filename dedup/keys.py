"""Match keys of a record: the folded, comparable facts that decide whether two records are one edition.

Every key is computed once per record (`match_keys`) and then compared many times, so the expensive
parts (folding, traditional → simplified, pinyin) happen here and never inside the pairwise loop.
Pinyin subfields catalogued by CNMARC members (200$A) are never used: two records match on what the
book says, not on how a cataloguer romanised it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from records.fold import fold, is_cjk
from records.model import Record
from records.tables import lazy_pinyin

# -- edition statements ------------------------------------------------------------------------------
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_EN_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                "eighth": 8, "ninth": 9, "tenth": 10, "new": 0}
_ED_CN = re.compile(r"第\s*([0-9零〇一二两三四五六七八九十百]+)\s*[版次]")
_ED_ROMAN = re.compile(r"\bdi\s*([0-9]+)\s*(?:ban|ci)\b")
_ED_NUM = re.compile(r"(?<![0-9])([0-9]{1,3})\s*(?:st|nd|rd|th|e|er|re|eme|a|\.)?\s*"
                     r"(?:ed\b|edn\b|edition|aufl|auflage|ausg|éd|édition|edición|edizione|изд|版)")
_ED_WORD = re.compile(r"\b(" + "|".join(_EN_ORDINALS) + r")\s+(?:ed\b|edition)")
_REVISED = re.compile(r"修订|修訂|增订|增訂|修正|\brev\b|revised|überarb|\bxiu\s*ding\b|zeng\s*ding")


def cn_number(text: str) -> int | None:
    """Arabic or Chinese numerals ("12", "十二", "二〇") as an int; None when it is not a number."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _CN_DIGITS and ch not in "十百" for ch in text):
        return None
    if "十" not in text and "百" not in text:  # positional: 二〇 = 20
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total, current = 0, 0
    for ch in text:
        if ch in _CN_DIGITS:
            current = _CN_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
    return total + current


@lru_cache(maxsize=4096)
def edition_key(statement: str | None) -> str | None:
    """The edition as a comparable key: "2" for 第2版 / 第二版 / 2nd ed. / Di 2 ban / 2. Aufl.,
    "2r" for a revised second edition, "r" for 修订版 / rev. ed.; None for a first or unstated edition.
    """
    if not statement:
        return None
    s = statement.casefold()
    number: int | None = None
    for rx in (_ED_CN, _ED_ROMAN, _ED_NUM):
        m = rx.search(s)
        if m:
            number = cn_number(m.group(1))
            break
    if number is None:
        m = _ED_WORD.search(s)
        if m:
            number = _EN_ORDINALS[m.group(1)]
    revised = bool(_REVISED.search(s))
    if number in (None, 0, 1) and not revised:
        return None
    return f"{number if number and number > 1 else ''}{'r' if revised else ''}"


# -- volumes and parts -------------------------------------------------------------------------------
_VOL_CN = re.compile(r"([上中下])\s*[册冊卷编編部篇集]|第\s*([0-9零〇一二两三四五六七八九十百]+)\s*[册冊卷辑輯部分篇集]"
                     r"|[卷册冊]\s*([0-9一二三四五六七八九十]+)")
_VOL_ROMAN = re.compile(r"\b(shang|zhong|xia)\s*(?:ce|juan|bian|bu)\b|\bdi\s*([0-9]+)\s*(?:ce|juan|ji|bu)\b")
_VOL_LATIN = re.compile(r"\b(?:v|vol|volume|volumes|bd|band|t|tome|tomo|teil|part|pt|no|nr|book|bk|reihe|abt|heft|ser|"
                        r"series|serie|section|sect)\.?\s*"
                        r"([0-9]+|[ivxlc]+)\b")
_ROMAN_NUM = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}
_UPDOWN = {"上": "上", "中": "中", "下": "下", "shang": "上", "zhong": "中", "xia": "下"}


@lru_cache(maxsize=4096)
def volume_key(part: str | None) -> str | None:
    """The volume/part designation as a key: "上" / "下" for 上册 / 下册 (and romanised shang ce), "1" for
    v. 1 / 第1卷 / 第一册 / Bd. 1 / part I; None when the text names no volume.
    """
    if not part:
        return None
    s = part.casefold()
    m = _VOL_CN.search(s)
    if m:
        if m.group(1):
            return _UPDOWN[m.group(1)]
        n = cn_number(m.group(2) or m.group(3))
        return str(n) if n is not None else None
    m = _VOL_ROMAN.search(s)
    if m:
        return _UPDOWN[m.group(1)] if m.group(1) else str(int(m.group(2)))
    m = _VOL_LATIN.search(s)
    if m:
        v = m.group(1)
        if v.isdigit():
            return str(int(v))
        if v in _ROMAN_NUM:
            return str(_ROMAN_NUM[v])
    return None


# A volume named at the end of a title proper ("红楼梦 上册", "Collected works, v. 2").
_TITLE_VOL = re.compile(r"(?:[上中下]\s*[册冊卷]|第\s*[0-9一二三四五六七八九十]+\s*[册冊卷])\s*$"
                        r"|(?:\bv|\bvol|\bbd)\.?\s*[0-9]+\s*$", re.IGNORECASE)


# -- names and publishers ----------------------------------------------------------------------------
_TRANSLATOR_ROLES = frozenset({"译", "譯", "翻译", "翻譯", "编译", "編譯", "译注", "譯注", "合译", "trl", "tr", "tr.",
                               "translator", "trans", "trans.", "übers", "yi"})
_ROLE_SUFFIX = re.compile(r"(?:主编|主編|编著|編著|编译|編譯|合著|著|编|編|译|譯|撰|等)+$")
_NAME_BRACKETS = re.compile(r"^[\s(（\[［【〔][^)）\]］】〕]{1,6}[)）\]］】〕]\s*")  # (美) (清) nationality/dynasty
_PUB_DISTRIBUTOR = re.compile(r"\s[:;：；]\s?|[：；]")
_SQUARE_BRACKETS = re.compile(r"[\[\]［］]")
_TRANSLATED_SUFFIX = re.compile(r"(?:译|譯)$")
_PUB_SUFFIX = re.compile(r"(?:出版发行|出版|发行|印行)$")
_PUB_GENERIC = re.compile(r"(?:有限责任公司|有限公司|出版社|出版公司|出版集团|书局|书店|书社|印书馆)$")
_PUB_GENERIC_LATIN = re.compile(r"\b(?:press|publishing|publishers?|verlag|editions?|éditions|inc|ltd|llc|co|"
                                r"company|gmbh|ag|sa|the|and|chu ban she|chu pan she|chubanshe|chu ban|chu pan|shu ju|shu dian|yin shu guan)\b")


@lru_cache(maxsize=65536)
def pinyin_key(text: str) -> str:
    """Toneless pinyin of the CJK text, lowercase, without spaces (to meet romanised catalogues)."""
    return "".join(lazy_pinyin(text, errors="default")).replace(" ", "").casefold()


@lru_cache(maxsize=65536)
def name_key(name: str) -> str:
    """A person or body as a key: brackets like (美) dropped, role words (著, 主编, 译) cut from the end,
    Latin names reduced to their surname (the part before the comma)."""
    s = _NAME_BRACKETS.sub("", name.strip())
    if is_cjk(s):
        s = fold(s)
        return _ROLE_SUFFIX.sub("", s) or s
    return fold(s.split(",")[0])


@lru_cache(maxsize=16384)
def publisher_key(publisher: str | None) -> str:
    """The publisher without 出版/出版发行 endings and generic words (出版社, Press), folded."""
    if not publisher:
        return ""
    first = _PUB_DISTRIBUTOR.split(publisher, maxsplit=1)[0]  # not the distributor after " : "
    s = fold(_SQUARE_BRACKETS.sub("", first))
    if is_cjk(s):
        s = _PUB_SUFFIX.sub("", s)
        return _PUB_GENERIC.sub("", s) or s
    stripped = _PUB_GENERIC_LATIN.sub(" ", s)
    return " ".join(stripped.split()) or s


# -- the keys of one record --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MatchKeys:
    """Everything the matcher compares, computed once per record."""

    title: str  # folded title proper before any ":" (a subtitle merged into the title is cut off)
    full_title: str  # folded title + subtitle, without spaces
    cjk: bool  # the title (or its vernacular form) is in Chinese/Japanese/Korean script
    authors: frozenset[str]  # name keys of the creators (translators excluded)
    translators: frozenset[str]
    publisher: str
    publisher_cjk: bool
    publisher_script: str  # cjk | latin | other
    year: int | None
    edition: str | None
    volume: str | None
    carrier: str  # the record's material type: book | ebook | audio | large_print | ...
    language: str | None
    pages: int | None
    isbns: frozenset[str]  # valid ISBN-13s
    ids: frozenset[str]  # ISSN, LCCN, national bibliography number, tagged ("issn:...")


_COLON = re.compile(r"\s*[:：]\s*")
_PAGES = re.compile(r"([0-9]+)\s*(?:页|頁|p\b|pp\b|pages|s\.|S\.|leaves|leaf|l\.|f\.|bl\.)")


def _pages(extent: str | None) -> int | None:
    if not extent:
        return None
    m = _PAGES.search(extent)
    return int(m.group(1)) if m else None


def _strip_title_volume(text: str) -> str:
    return _TITLE_VOL.sub("", text).strip()


def _foreign_script(text: str) -> bool:
    """True when the text has letters outside the Latin script (CJK, Arabic, Cyrillic, Armenian...)."""
    return any(ch.isalpha() and ord(ch) >= 0x370 and not 0x1E00 <= ord(ch) <= 0x1EFF for ch in text)


def _title_texts(rec: Record) -> tuple[str, str, str | None]:
    """(title proper, title with subtitle, part) in the record's own script; the 880 vernacular when the
    245 is romanised (its vernacular joins title, subtitle and part, so the volume is cut off again)."""
    title, subtitle, part = rec.title or "", rec.subtitle or "", rec.part
    vernacular = rec.vernacular_titles[0] if rec.vernacular_titles else ""
    if vernacular and not _foreign_script(title) and _foreign_script(vernacular):
        vern = vernacular
        if part:
            vern = _strip_title_volume(re.sub(r"\s*(?:[上中下][册冊卷]|第\S+[册冊卷])\s*$", "", vern))
        head = vern
        if subtitle:
            # the romanised subtitle tells that the vernacular's last word group belongs to it
            pieces = vern.rsplit(" ", 1)
            head = pieces[0] if len(pieces) == 2 else vern
        return head, vern, part
    return title, f"{title} {subtitle}" if subtitle else title, part


def match_keys(rec: Record) -> MatchKeys:
    """The match keys of a normalised record."""
    title, full, part = _title_texts(rec)
    main = fold(_COLON.split(title, maxsplit=1)[0]) if title else ""
    tail = _TITLE_VOL.search(title)
    volume = volume_key(part) or volume_key(tail.group(0) if tail else "")
    if part and not volume:  # a part that names no number ("Reihe A: Geschichte") is kept as written
        volume = "p:" + fold(part)
    if volume and not part:
        main = fold(_strip_title_volume(_COLON.split(title, maxsplit=1)[0]))
    full_key = fold(full).replace(" ", "")
    cjk = is_cjk(title) or is_cjk(full)
    authors: set[str] = set()
    translators: set[str] = set()
    for a in rec.authors:
        role = (a.role or "").casefold().strip(" .,")
        name = a.name
        if not role and is_cjk(name) and _TRANSLATED_SUFFIX.search(fold(name)) and "著" not in name:
            role = "译"
        key = name_key(name)
        if not key:
            continue
        (translators if role in _TRANSLATOR_ROLES else authors).add(key)
    pub = publisher_key(rec.publisher)
    ids = set()
    for issn in rec.issns:
        ids.add(f"issn:{issn}")
    if rec.lccn:
        ids.add(f"lccn:{fold(rec.lccn).replace(' ', '')}")
    if rec.national_number:
        ids.add(f"nbn:{fold(rec.national_number).replace(' ', '')}")
    return MatchKeys(
        title=main,
        full_title=full_key,
        cjk=cjk,
        authors=frozenset(authors),
        translators=frozenset(translators),
        publisher=pub,
        publisher_cjk=is_cjk(pub),
        publisher_script="cjk" if is_cjk(pub) else ("other" if _foreign_script(pub) else "latin"),
        year=rec.year,
        edition=edition_key(rec.edition),
        volume=volume,
        carrier=rec.material_type or "book",
        language=rec.language,
        pages=_pages(rec.extent),
        isbns=frozenset(i.isbn13 for i in rec.isbns if i.isbn13 and i.valid),
        ids=frozenset(ids),
    )
