"""Match keys of a record: the folded, comparable facts that decide whether two records are one edition.

Every key is computed once per record (`match_keys`) and then compared many times, so the expensive
parts (folding, traditional → simplified, pinyin) happen here and never inside the pairwise loop.
Pinyin subfields catalogued by CNMARC members (200$A) are never used: two records match on what the
book says, not on how a cataloguer romanised it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from records.fold import fold, is_cjk
from records.model import Record
from records.romanisation import (
    consonant_skeleton,
    is_arabic_script,
    pinyin_as_wade_giles,
    syllables_as_wade_giles,
)
from records.tables import lazy_pinyin

# -- edition statements ------------------------------------------------------------------------------
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_EN_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                "eighth": 8, "ninth": 9, "tenth": 10, "new": 0}
_ED_CN = re.compile(r"第?\s*([0-9零〇一二两三四五六七八九十百]+)\s*版")
_ED_ROMAN = re.compile(r"\bdi\s*([0-9]+)\s*ban\b")
_ED_NUM = re.compile(r"(?<![0-9])([0-9]{1,3})\s*-?\s*(?:st|nd|rd|th|d|e|er|re|eme|ème|a|ª|oe|ое|е|\.)?,?\s*"
                     r"(?:[^\W\d_]{1,15}\.?,?\s*(?:and|&|u\.|und)?\s*){0,3}?"  # rev., neu bearbeitete, ...
                     r"(?:ed\b|edn\b|edition|aufl|auflage|ausg|éd|édition|edición|edizione|изд|издание|izd|wyd|uitg|udg|upl)")
_ED_AFTER = re.compile(r"\b(?:ed|edition|aufl|auflage)\.?\s*([0-9]{1,3})\b")  # "Ed. 2", "Auflage 3"
_ED_WORD = re.compile(r"\b(" + "|".join(_EN_ORDINALS) + r")\s+(?:ed\b|edition)")
_REVISED = re.compile(r"修订|修訂|增订|增訂|修正|\brev\b|revised|überarb|uberarb|ueberarb|bearb|\bxiu\s*ding\b|"
                      r"zeng\s*ding")
# Printings and impressions are not editions: 2009年印刷, 第3次印刷, 2009.10重印, 3rd printing, Nachdruck.
_PRINTING = re.compile(r"(?:第?\s*[0-9零〇一二两三四五六七八九十百]+\s*次|[0-9]{4}\s*年?(?:\s*[.\-/]?\s*[0-9]{1,2}\s*月?)?)"
                       r"\s*(?:印刷|印|重印)|[0-9]{1,3}\s*(?:st|nd|rd|th)?\s*(?:printing|print|impr(?:ession)?\.?)"
                       r"|\breprint(?:ed)?\b|\bnachdr(?:uck)?\.?|\bdi\s*[0-9]+\s*ci\s*yin\s*shua")


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
    """The edition as a comparable key: "2" for 第2版 / 第二版 / 2nd ed. / 2d ed. / Di 2 ban / 2. Aufl. (revised
    or not), "r" for 修订版 / 增订本 / rev. ed. without a number; None for a first or unstated edition or a
    printing (2009印刷, 第3次印刷, 3rd printing)."""
    if not statement:
        return None
    s = _PRINTING.sub(" ", unicodedata.normalize("NFKC", statement).casefold())
    number: int | None = None
    for rx in (_ED_CN, _ED_ROMAN, _ED_NUM, _ED_AFTER):
        m = rx.search(s)
        if m:
            number = cn_number(m.group(1))
            break
    if number is None:
        m = _ED_WORD.search(s)
        if m:
            number = _EN_ORDINALS[m.group(1)]
    if number is not None and number > 1:
        return str(number)  # "6. Aufl." and "6., neu bearbeitete Aufl." transcribe one statement two ways
    return "r" if _REVISED.search(s) else None


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
# Words that say "a publisher" in any of its forms (Press, Pr., Pub., Verlag, Vlg., Editorial, Ed., Inc.,
# University, Univ., U.P.): two imprints that differ only in these are one publisher. Single letters (the
# initials of W.W. Norton, the U. P. of Oxford U.P.) go too.
_PUB_GENERIC_WORDS = frozenset("""
press pr pub pubs publ publ publishing publishers publisher publications publication publishes verlag vlg
verlagsbuchhandlung verlagsanstalt verlagsgesellschaft buchhandlung editorial editora editore editori edizioni
editions edition editeur editeurs ed eds verl inc incorporated ltd limited llc co cie company companies corp
corporation gmbh ag sa srl spa kg bv nv plc the and und et e y sons son bros brothers books book university
univ universitaire universitaires universitatsverlag universitaria universitario universidad universita
universitat university's of de del der des la le les di da
""".split())
_THIS_PUBLISHER = frozenset({"本社", "本社编辑部", "本馆", "本局"})  # "this house" as a Chinese record's creator
_PUB_UNKNOWN = frozenset({"s n", "sn", "sine nomine", "s nom", "sn s l", "s l s n", "publisher not identified",
                          "出版者不详", "出版社不详", "出版者不詳", "不详", "chu ban zhe bu xiang"})  # no publisher named
_PUB_PINYIN_GENERIC = re.compile(r"\b(?:chu ban she|chu pan she|chubanshe|chu ban|chu pan|you xian gong si|"
                                 r"shu ju|shu dian|yin shu guan|chu ban fa xing|fa xing)\b")


@lru_cache(maxsize=65536)
def pinyin_syllables(text: str) -> tuple[str, ...]:
    """The CJK text read in toneless pinyin, a syllable per character (other text kept as runs)."""
    return tuple(lazy_pinyin(text, errors="default"))


@lru_cache(maxsize=65536)
def pinyin_key(text: str) -> str:
    """Toneless pinyin of the CJK text, lowercase, without spaces (to meet romanised catalogues)."""
    return "".join(pinyin_syllables(text)).replace(" ", "").casefold()


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
    """The publisher as a key: the first of several (not the distributor after " : "), without 出版/出版发行
    endings and generic words (出版社, 有限公司, Press, Verlag, Inc., University: see _PUB_GENERIC_WORDS),
    folded. No name is shortened to a part of itself: 人民 and 江苏人民 stay two publishers."""
    if not publisher:
        return ""
    first = _PUB_DISTRIBUTOR.split(publisher, maxsplit=1)[0]
    s = fold(_SQUARE_BRACKETS.sub("", first))
    if s in _PUB_UNKNOWN:
        return ""
    if is_cjk(s):
        s = s.replace(" ", "")
        while True:  # 商务印书馆有限公司 → 商务印书馆 → 商务
            shorter = _PUB_GENERIC.sub("", _PUB_SUFFIX.sub("", s))
            if shorter == s or not shorter:
                return s
            s = shorter
    s = _PUB_PINYIN_GENERIC.sub(" ", s)
    words = [w for w in s.split() if w not in _PUB_GENERIC_WORDS]
    named = [w for w in words if len(w) > 1]
    if named:
        return " ".join(named)
    return "".join(words) or s.strip()  # a name of initials only: "U.S. G.P.O." = "U.S. G.P.O Publishers" = usgpo


# -- titles ------------------------------------------------------------------------------------------
# Leading articles of the languages members catalogue in (folded, so l' is "l"). A title loses at most one,
# and only when the record does not mark its non-filing characters itself (245 ind2, NSB/NSE).
_ARTICLES = frozenset("""
the a an le la les l un une des der die das den dem des ein eine einer eines einem einen el lo los las una
unos unas il i gli uno o os as um uma het een de en ett et den det
""".split())
# Where a subtitle may begin inside a title proper that has no subtitle of its own: ":", ";", "=", " - ",
# ", ", ". " (ISBD and what cataloguers type instead) and CJK colons, commas and dashes.
_SUBTITLE_BREAK = re.compile(r"\s*[:：;；=＝]\s*|\s+[-–—]+\s+|——|[,，]\s+|(?<=[^\s.]{3})\.\s+|[，：]")
_NUMBER = re.compile(r"[0-9]+")
_CN_ORDINAL = re.compile(r"第\s*([零〇一二两三四五六七八九十百]+)")


def _strip_article(folded: str) -> str:
    words = folded.split(" ", 1)
    return words[1] if len(words) == 2 and words[0] in _ARTICLES else folded


def _filed(text: str, marked: bool) -> str:
    """The text folded, without a leading article unless the record marked its non-filing part itself."""
    folded = fold(text)
    return folded if marked else _strip_article(folded)


def title_numbers(text: str) -> frozenset[str]:
    """The numbers a title names (digits, and Chinese ordinals: 第二 = 2), without leading zeros: two titles
    that name other numbers (vol. 8 / vol. 10, 1792 / 1793, 第2版 / 第3版) are other books."""
    if not text:
        return frozenset()
    if text.isascii():  # most titles: nothing to normalise, no Chinese ordinal
        return frozenset(str(int(n)) for n in _NUMBER.findall(text)) if _NUMBER.search(text) else frozenset()
    s = unicodedata.normalize("NFKC", text)
    s = _CN_ORDINAL.sub(lambda m: f"第{cn_number(m.group(1))}", s) if "第" in s else s
    return frozenset(str(int(n)) for n in _NUMBER.findall(s))


def _heads(raw_title: str, articles: bool) -> list[str]:
    """The title proper cut at each place a subtitle may start (folded, without spaces; without a leading
    article when `articles`)."""
    out = []
    for m in _SUBTITLE_BREAK.finditer(raw_title):
        head = _filed(raw_title[:m.start()], not articles)
        if len(head) >= 2:
            out.append(head.replace(" ", ""))
    return out


# -- extents -----------------------------------------------------------------------------------------
_VOLUMES = re.compile(r"(?<![0-9])([0-9]+)\s*(?:in\s*([0-9]+)\s*)?(?:v\b|v\.|vols?\b\.?|volumes\b|bde?\b\.?|bände|"
                      r"t\.|tomes?\b|册|冊|卷|本\b)", re.IGNORECASE)
_PAGE_UNIT = re.compile(r"页|頁|\bpp?\b\.?|\bpages?\b|\bs\.|\bseiten\b|\bleaves\b|\bleaf\b|\bl\.|\bff?\.|\bbl\.|"
                        r"\bстр\b|\bс\.", re.IGNORECASE)
_LEAF_UNITS = frozenset({"leaves", "leaf", "l.", "f.", "ff.", "bl."})
_BRACKETED = re.compile(r"\[[^\]]*\]")


_CM = re.compile(r"(?<![0-9.])([0-9]{1,4}(?:[.,][0-9])?)\s*(?:[x×]\s*([0-9]{1,4}(?:[.,][0-9])?)\s*)?(cm|mm)\b",
                 re.IGNORECASE)
_PAGE_RANGE = re.compile(r"(?:\bpp?\.|\bS\.)\s*([0-9]+)\s*[-–]\s*([0-9]+)")


def dimensions(extent: str | None) -> tuple[float | None, float | None]:
    """(height, width) in centimetres from an extent's dimensions ("24 cm", "20.4 x 9.2 cm.", "26cm", and in
    millimetres as manuscripts and fragments are measured: "330 x 245 mm" is 33.0 x 24.5); (None, None) when it
    gives none."""
    m = _CM.search(unicodedata.normalize("NFKC", extent)) if extent else None
    if not m:
        return None, None
    scale = 0.1 if m.group(3).casefold() == "mm" else 1.0
    height = round(float(m.group(1).replace(",", ".")) * scale, 2)
    return height, round(float(m.group(2).replace(",", ".")) * scale, 2) if m.group(2) else None


def page_range(extent: str | None) -> str | None:
    """The pages of a part inside a larger publication ("p. 61-74" of an article): "61-74"."""
    m = _PAGE_RANGE.search(extent) if extent else None
    return f"{int(m.group(1))}-{int(m.group(2))}" if m else None


def extent_counts(extent: str | None) -> tuple[int | None, str | None, int | None]:
    """(main page or leaf count, "p" or "l", number of volumes) of an extent: "vii, 472, [4] p." gives
    (472, "p", None), "350 l." (350, "l", None), "2 v. (324; 319 leaves)" (643, "l", 2), "385,[10]页"
    (385, "p", None). The main count is the largest unbracketed number before the unit (preliminaries in
    roman numerals and bracketed unnumbered pages are not the book's pagination)."""
    if not extent:
        return None, None, None
    text = unicodedata.normalize("NFKC", extent)
    volumes = None
    m = _VOLUMES.search(text)
    if m:
        volumes = int(m.group(2) or m.group(1))
    unit = _PAGE_UNIT.search(text)
    if not unit:
        return None, None, volumes
    numbers = [int(n) for n in _NUMBER.findall(_BRACKETED.sub(" ", text[:unit.start()]))]
    if volumes is not None and m.end() <= unit.start():  # the "2" of "2 v." is not a page count
        numbers = [int(n) for n in _NUMBER.findall(_BRACKETED.sub(" ", text[m.end():unit.start()]))]
        if len(numbers) > 1:  # "2 v. (242; 239 leaves)": the set's pages are those of all its volumes
            return sum(numbers), "l" if unit.group(0).casefold() in _LEAF_UNITS else "p", volumes
    if not numbers:
        return None, None, volumes
    kind = "l" if unit.group(0).casefold() in _LEAF_UNITS else "p"
    return max(numbers), kind, volumes


# -- the keys of one record --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MatchKeys:
    """Everything the matcher compares, computed once per record."""

    title: str  # folded title proper: no non-filing article, no subtitle, no parallel title, no volume
    full_title: str  # folded title + subtitle, without spaces
    heads: frozenset[str]  # forms of the title proper without spaces: it cut where a subtitle may begin
    romanised: str  # the 245's own (romanised) title + subtitle, folded without spaces, when `full_title` is
    # the 880's vernacular (a record without 880s meets it there); else ""
    romanised_proper: str  # ... its title proper alone
    chinese_title: str  # title + subtitle as catalogued, when the book may be Chinese (read in Wade-Giles to meet
    # records romanised so: score.py); "" for a Japanese or Korean book, or a Latin title in a language not Chinese
    chinese_proper: str  # ... its title proper alone
    wade: str  # the title proper in Wade-Giles without marks or spaces, where a Wade-Giles record of the book
    # files (its characters read so, its pinyin put so); else ""
    written: str  # how the title is written: cjk | pinyin | other (Wade-Giles, or not Chinese at all)
    arabic: bool  # the title is in the Arabic script (Arabic, Persian, Urdu, Ottoman Turkish)
    skeleton: str  # consonants of title + subtitle (records.romanisation.consonant_skeleton), when the title is in
    # the Arabic script or may be its ALA-LC romanisation; else ""
    skeleton_proper: str  # ... of the title proper alone
    numbers: frozenset[str]  # numbers named in the title proper and subtitle (and in a romanised 245)
    head_numbers: frozenset[str]  # those before the first place a subtitle may begin: surely the title's own
    has_subtitle: bool
    cjk: bool  # the title (or its vernacular form) is in Chinese/Japanese/Korean script
    pinyin_readable: bool  # not Japanese or Korean (by its language, or kana or hangul in title or publisher)
    authors: frozenset[str]  # name keys of the creators (translators excluded)
    translators: frozenset[str]
    publisher: str
    publisher_own: str  # the publisher as the 260/264 gives it, when `publisher` is the 880's vernacular; else ""
    publisher_numbers: frozenset[str]  # digits in the publisher's name ("type of the 42-line Bible")
    publisher_cjk: bool
    publisher_script: str  # cjk | latin | other
    year: int | None
    edition: str | None
    volume: str | None
    volume_own: str | None  # a named part as the 245 romanises it ("p:ilbon"), when `volume` is the 880's ("p:일본")
    volume_inner: bool  # the volume is named only inside the title ("How to write a term paper. Part 4: …")
    carrier: str  # the record's material type: book | ebook | audio | large_print | ...
    language: str | None
    extent: str  # the extent as catalogued, folded, without spaces (two that read the same agree whatever they say)
    pages: int | None  # the main page (or leaf) count
    page_unit: str | None  # p | l
    volumes: int | None  # "2 v.", "4 in 5 v." (5), "3册"
    height: float | None  # centimetres (300 $c, 215 $d)
    width: float | None  # ... when the dimensions give two ("20.4 x 9.2 cm")
    page_range: str | None  # "61-74": the pages of an article or chapter catalogued on its own
    succession: frozenset[str]  # folded titles of the serials it continues or is continued by (780/785)
    isbns: frozenset[str]  # valid ISBN-13s
    ids: frozenset[str]  # ISSN, LCCN, national bibliography number, tagged ("issn:...")


_COLON = re.compile(r"\s*[:：]\s*")


_INNER_VOL = re.compile(r"\b(?:v|vol|volume|bd|band|tome|teil|part|pt)\.?\s*[0-9]+\b|第\s*[0-9一二三四五六七八九十]+\s*[册冊卷]",
                        re.IGNORECASE)


def _strip_title_volume(text: str) -> str:
    return _TITLE_VOL.sub("", text).strip()


def _foreign_script(text: str) -> bool:
    """True when the text has letters outside the Latin script (CJK, Arabic, Cyrillic, Armenian...)."""
    return any(ch.isalpha() and ord(ch) >= 0x370 and not 0x1E00 <= ord(ch) <= 0x1EFF for ch in text)


def _title_texts(rec: Record) -> tuple[str, str | None, str | None, str | None]:
    """(title proper, subtitle, part, filing form of the title) in the record's own script: the 880
    vernacular title statement (read subfield by subfield) when the 245 is romanised."""
    title, subtitle, part = rec.title or "", rec.subtitle, rec.part
    parts = rec.vernacular_parts
    if parts and parts[0] and not _foreign_script(title) and _foreign_script(parts[0]) \
            and _vernacular_readable(parts[0], title):
        return parts[0], parts[1] or None, parts[2] or part, None
    if not parts and rec.vernacular_titles and not _foreign_script(title) and _foreign_script(rec.vernacular_titles[0]):
        return rec.vernacular_titles[0], None, part, None  # a record made before 880s were read by subfield
    return title, subtitle, part, rec.sort_title


def _vernacular_readable(vernacular: str, romanised: str) -> bool:
    """False for an 880 that arrived broken: replacement characters, or far fewer CJK characters than the
    romanised title has syllables ("Che lun gun gun" against a lone 躺)."""
    if "\ufffd" in vernacular:
        return False
    if is_cjk(vernacular):
        return 2 * sum(1 for ch in fold(vernacular) if is_cjk(ch)) >= len(romanised.split())
    return True


def _publisher(rec: Record) -> str | None:
    """The publisher in the book's own script when the record has it (880 linked to 260/264)."""
    vernacular = rec.vernacular_publisher
    if vernacular and not _foreign_script(rec.publisher or "") and _foreign_script(vernacular):
        return vernacular
    return rec.publisher


# read on the record's own text (no folding: this runs once per record, on a string no cache has seen)
_ONLINE = re.compile(r"online\s+resource|electronic\s+resource|computer\s+file|在[线線][资資]源|[电電]子[资資]源|"
                     r"[网網][络絡路][资資]源", re.IGNORECASE)


def _carrier(rec: Record) -> str:
    """The material type, marked online when an extent or title says so (an e-journal is not its print)."""
    carrier = rec.material_type or "book"
    if carrier != "ebook" and any(_ONLINE.search(x) for x in (rec.extent, rec.title, rec.subtitle) if x):
        carrier += "+online"
    return carrier


_MAYBE_CHINESE = frozenset({"chi", "zho", "und", "mul", None})
_ARABIC_SCRIPT_LANGUAGES = frozenset({"ara", "per", "fas", "urd", "ota", "pus", "snd", "uig", "kur", "ckb", "pan"})
_ROMANISED_ARABIC = re.compile(r"(?:^|[\s\[(])(?:al|wa|bi|li|lil)-|[ʻʼāīūḥṣḍṭẓ]", re.IGNORECASE)  # ALA-LC's marks
_NOT_CHINESE = frozenset({"jpn", "kor"})  # CJK titles whose characters are not read in Chinese
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")


def match_keys(rec: Record) -> MatchKeys:
    """The match keys of a normalised record."""
    title, subtitle, part, filing = _title_texts(rec)
    head_raw = _COLON.split(filing or title, maxsplit=1)[0] if (filing or title) else ""
    tail = _TITLE_VOL.search(title) or (_TITLE_VOL.search(subtitle) if subtitle else None)
    if tail and subtitle and tail.string == subtitle and not part:  # "Violin sonatas : vol. 3"
        subtitle = _strip_title_volume(subtitle) or None
    volume = volume_key(part)
    volume_own = None
    if part and not volume:  # a part that names no number ("Reihe A: Geschichte") is kept as written
        volume = "p:" + fold(part)
        if rec.part and rec.part != part and not volume_key(rec.part):
            volume_own = "p:" + fold(rec.part)
    # a volume in the title statement itself: at its end, or inside ("The fortunate islands, vol. 5. For
    # string orchestra"); with a part as well, both are the volume ("…VDI, vol. 3" of "Reihe 12")
    inner = tail or _INNER_VOL.search(f"{title} {subtitle or ''}")
    in_title = volume_key(inner.group(0)) if inner else None
    volume_inner = bool(in_title and not volume and not tail)  # only "Part 4" inside the title names it
    if in_title and volume != in_title:
        volume = f"{volume}/{in_title}" if volume else in_title
    if volume and not part:
        head_raw = _strip_title_volume(head_raw)
    main = _filed(head_raw, bool(filing))
    body = filing or title
    if volume and not part:  # the volume named at the end of the title is compared as the volume
        body = _strip_title_volume(body)
    full_raw = f"{body} {subtitle}" if subtitle else body
    full_key = _filed(full_raw, bool(filing)).replace(" ", "")
    heads = {main.replace(" ", "")}
    if not subtitle:
        heads.update(_heads(body, not filing))
    cjk = is_cjk(title) or is_cjk(full_raw)
    romanised = ""
    own_title = rec.title if title != rec.title and rec.title else ""  # the romanised 245 beside an 880
    own_full = f"{own_title} {rec.subtitle}" if own_title and rec.subtitle else own_title
    romanised_proper = ""
    if own_title:
        proper = rec.sort_title or rec.title
        romanised_proper = _filed(proper, bool(rec.sort_title)).replace(" ", "")
        romanised = _filed(f"{proper} {rec.subtitle}" if rec.subtitle else proper, bool(rec.sort_title)).replace(" ", "")
    publisher = _publisher(rec)
    pub = publisher_key(publisher)
    # a Chinese book, as far as the record tells: not Japanese or Korean by its language or by the kana or
    # hangul in its title or publisher (a short 008 gives no language)
    readable = rec.language not in _NOT_CHINESE and not _KANA_HANGUL.search(f"{full_raw} {publisher or ''}")
    authors: set[str] = set()
    translators: set[str] = set()
    for a in rec.authors:
        role = (a.role or "").casefold().strip(" .,")
        name = a.name
        if not role and is_cjk(name) and _TRANSLATED_SUFFIX.search(fold(name)) and "著" not in name:
            role = "译"
        key = name_key(name)
        if key in _THIS_PUBLISHER:  # 本社编: compiled by the publisher itself, which another record names
            key = pub if publisher else ""
        if not key:
            continue
        (translators if role in _TRANSLATOR_ROLES else authors).add(key)
    pub_own = publisher_key(rec.publisher) if publisher is not rec.publisher else ""
    chinese_title = chinese_proper = wade = ""
    written = "cjk" if cjk else "other"
    if readable and (cjk or rec.language in _MAYBE_CHINESE):  # a Latin title may be pinyin, or Wade-Giles
        chinese_title, chinese_proper = full_raw, head_raw
        if cjk:  # read once: the blocking reads the same title in pinyin (pinyin_key)
            wade = syllables_as_wade_giles(pinyin_syllables(main.replace(" ", "")))
        else:
            wade = pinyin_as_wade_giles(head_raw)
            written = "pinyin" if wade else written
        wade = wade.replace(" ", "")
    arabic = is_arabic_script(full_raw)
    skeleton = skeleton_proper = ""
    if arabic or rec.language in _ARABIC_SCRIPT_LANGUAGES or (
            rec.language in _MAYBE_CHINESE - {"chi", "zho"} and _ROMANISED_ARABIC.search(full_raw)):
        skeleton, skeleton_proper = consonant_skeleton(full_raw), consonant_skeleton(head_raw)
    ids = set()
    for issn in rec.issns:
        ids.add(f"issn:{issn}")
    if rec.lccn:
        ids.add(f"lccn:{fold(rec.lccn).replace(' ', '')}")
    if rec.national_number:
        ids.add(f"nbn:{fold(rec.national_number).replace(' ', '')}")
    pages, unit, volumes = extent_counts(rec.extent)
    height, width = dimensions(rec.extent)
    return MatchKeys(
        title=main,
        full_title=full_key,
        heads=frozenset(h for h in heads if h),
        romanised=romanised,
        romanised_proper=romanised_proper,
        chinese_title=chinese_title,
        chinese_proper=chinese_proper,
        wade=wade,
        written=written,
        arabic=arabic,
        skeleton=skeleton,
        skeleton_proper=skeleton_proper,
        numbers=title_numbers(full_raw) | title_numbers(own_full),
        head_numbers=title_numbers(_SUBTITLE_BREAK.split(body, maxsplit=1)[0])
        | title_numbers(_SUBTITLE_BREAK.split(own_title, maxsplit=1)[0]),
        has_subtitle=bool(subtitle),
        cjk=cjk,
        pinyin_readable=readable,
        authors=frozenset(authors),
        translators=frozenset(translators),
        publisher=pub,
        publisher_own=pub_own,
        publisher_numbers=title_numbers(publisher or ""),  # "5.18" is 5 and 18 in hangul and romanised alike
        publisher_cjk=is_cjk(pub),
        publisher_script="cjk" if is_cjk(pub) else ("other" if _foreign_script(pub) else "latin"),
        year=rec.year,
        edition=edition_key(rec.edition),
        volume=volume,
        volume_own=volume_own,
        volume_inner=volume_inner,
        carrier=_carrier(rec),
        language=rec.language,
        extent=fold(rec.extent or "").replace(" ", ""),
        pages=pages,
        page_unit=unit,
        volumes=volumes,
        height=height,
        width=width,
        page_range=page_range(rec.extent),
        succession=frozenset(_filed(t, False).replace(" ", "") for t in rec.succession_titles) - {""},
        isbns=frozenset(i.isbn13 for i in rec.isbns if i.isbn13 and i.valid),
        ids=frozenset(ids),
    )
