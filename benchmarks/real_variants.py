"""Real-variant catalogues for the edition-merge benchmark: what other libraries make of the real records.

Reads the real MARC records of ../shared/data/marc (MARC21 and CNMARC/UNIMARC, with the project's readers),
and writes, per simulated member library, one ISO 2709 file (UTF-8, leader/09 = a) holding
- the real records as they are (some are already real duplicates: the same edition at several sources),
- SAME-EDITION variants: a real record as another cataloguer would make it (1-4 operations at random:
  typos, articles, subtitle joins, publisher / edition / date / extent / ISBN / author forms, 880 dropped
  or moved, diacritics stripped, traditional vs simplified script, full-width punctuation, 008 shortened,
  MARC21 <-> CNMARC re-expression of a Chinese book),
- DIFFERENT-EDITION traps derived from a real record (another edition, volume, number in the title, set vs
  single volume, publisher, translator, year with another extent, print vs e-book) that a merge must keep
  apart,
and a truth JSON: edition id -> records ("FILE#0-based position", as `balis dedup` labels them), the
hard-negative edition pairs with their kind, Chinese vs Western per edition, and per record the source
record and the operations that made it. The same seed gives the same bytes.

    .venv/bin/python benchmarks/real_variants.py --out var/bench/real-variants [--seed 20261206]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import sys
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import opencc  # noqa: E402
import pymarc  # noqa: E402
from pymarc import Field, Indicators, Subfield  # noqa: E402
from pypinyin import lazy_pinyin  # noqa: E402
from pypinyin.pinyin_dict import pinyin_dict  # noqa: E402
from stdnum import ean  # noqa: E402
from stdnum import isbn as stdnum_isbn  # noqa: E402

from records.errors import RecordError  # noqa: E402
from records.fold import is_cjk  # noqa: E402
from records.marc import detect_syntax, iter_iso2709, iter_marcxml  # noqa: E402

DEFAULT_SEED = 20261206
SHARED_SOURCE = ROOT.parent / "shared" / "data" / "marc"
PROJECT_SOURCE = ROOT / "testbed" / "data" / "marc"
MEMBERS = ("THU", "PKU", "BNU", "RUC", "BUAA", "BIT", "BJTU", "CNU")
SKIPPED_FILES = ("sample_isohold.xml",)  # ISO 20775 holdings, not bibliographic records
# Real records that are the same edition although their control numbers differ (checked by hand):
# LC catalogued Kubo Sakae "Kazanbaichi" o yomu (Hōsei Daigaku Shuppankyoku 1997, 480 p. 19 cm) twice,
# the later record adding the ISBN and "Shohan" (first edition), which the earlier one leaves unstated.
KNOWN_SAME = ((("traject/", "00314247"), ("traject/", "2008543486")),)

_S2T = opencc.OpenCC("s2t")
_T2S = opencc.OpenCC("t2s")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]{4,}")
_HAN = re.compile("[\u4e00-\u9fff]")
_YEAR = re.compile(r"(?<!\d)(1[4-9]\d\d|20[0-4]\d)(?!\d)")
_PAGES = re.compile(r"(?:(?P<pre>[ivxlcdm]+|\d+|\[\d+\]),\s*)?(?P<n>\d+)\s*(?P<unit>p\b\.?|pages|S\.|页|頁|leaves)",
                    re.IGNORECASE)
_PAGES_CN = re.compile(r"(?P<n>\d+)\s*(?:[,，]\s*(?:图版|圖版)?\s*\[\d+\]\s*)?(?:页|頁)")
_SINGLE_YEAR = re.compile(r"^[\[(]?(?:c|p|©|℗)?\s?(1[4-9]\d\d|20[0-4]\d)[\])]?(?:印刷)?$")
_KANA_HANGUL = re.compile("[\u3040-\u30ff\uac00-\ud7af]")
_ISBD_END = re.compile(r"[\s:;/=,.]+$")

ARTICLES = {
    "eng": ("The", "A", "An"),
    "fre": ("Le", "La", "Les", "L'", "Un", "Une"),
    "ger": ("Der", "Die", "Das", "Ein", "Eine"),
    "spa": ("El", "La", "Los", "Las", "Un", "Una"),
    "ita": ("Il", "Lo", "La", "Gli", "Le", "L'", "Un", "Una"),
}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
             "eighth": 8, "ninth": 9, "tenth": 10}
_CN_NUMERALS = "零一二三四五六七八九十"
_ROLES_TRANSLATOR = ("transl", "trans.", "译", "譯", "730")


# ------------------------------------------------------------------ small helpers over pymarc records

def first(rec: pymarc.Record, *tags: str) -> Field | None:
    """The first field with one of `tags` (in the order given), or None."""
    for tag in tags:
        fields = rec.get_fields(tag)
        if fields:
            return fields[0]
    return None


def sub(f: Field | None, code: str) -> str | None:
    """The first subfield `code` of `f`, or None."""
    if f is None:
        return None
    for s in f.subfields:
        if s.code == code:
            return s.value
    return None


def set_sub(f: Field, code: str, value: str | None, *, after: str | None = None) -> None:
    """Set the first subfield `code` (add it after subfield `after`, or at the end; None removes it)."""
    for i, s in enumerate(f.subfields):
        if s.code == code:
            if value is None:
                del f.subfields[i]
            else:
                f.subfields[i] = Subfield(code, value)
            return
    if value is None:
        return
    pos = len(f.subfields)
    if after is not None:
        for i, s in enumerate(f.subfields):
            if s.code == after:
                pos = i + 1
    f.subfields.insert(pos, Subfield(code, value))


def strip_isbd(text: str) -> str:
    """A subfield without the ISBD punctuation that joins it to the next one (" :", " /", ".")."""
    return _ISBD_END.sub("", text).strip()


def _end_punct(text: str) -> str:
    m = _ISBD_END.search(text)
    return m.group(0) if m else ""


def with_end(text: str, end: str) -> str:
    """`text` followed by the ISBD punctuation `end` of the value it replaces, without doubling a period."""
    if text.endswith(".") and end.lstrip().startswith("."):
        end = end.lstrip()[1:]
    return text + end


def is_marc21(rec: pymarc.Record) -> bool:
    return detect_syntax(rec) == "marc21"


def title_field(rec: pymarc.Record) -> Field | None:
    return first(rec, "245") if is_marc21(rec) else first(rec, "200")


def imprint_field(rec: pymarc.Record) -> Field | None:
    """260, or the 264 of the publication (ind2 1), or UNIMARC 210."""
    if not is_marc21(rec):
        return first(rec, "210")
    for f in rec.get_fields("260"):
        return f
    for f in rec.get_fields("264"):
        if f.indicator2 in ("1", " "):
            return f
    return None


def imprint_codes(rec: pymarc.Record) -> tuple[str, str, str]:
    """Subfield codes (place, publisher, date) of the imprint field of this syntax."""
    return ("a", "b", "c") if is_marc21(rec) else ("a", "c", "d")


def record_texts(rec: pymarc.Record) -> str:
    return " ".join(s.value for f in rec.get_fields("245", "200", "880") if not f.is_control_field()
                    for s in f.subfields)


def language(rec: pymarc.Record) -> str:
    """The language code (MARC21 008/35-37, UNIMARC 101$a), or ''."""
    if is_marc21(rec):
        f = first(rec, "008")
        return f.data[35:38].strip().lower() if f is not None and len(f.data) >= 38 else ""
    return (sub(first(rec, "101"), "a") or "").strip().lower()


def is_chinese(rec: pymarc.Record) -> bool:
    """A Chinese book: language chi/zho, or Chinese characters in its title without kana or hangul."""
    lang = language(rec)
    if lang in ("chi", "zho"):
        return True
    texts = record_texts(rec)
    return lang in ("", "und", "mul", "|||") and is_cjk(texts) and not _KANA_HANGUL.search(texts)


def display_title(rec: pymarc.Record) -> str:
    f = title_field(rec)
    if f is None:
        return ""
    parts = [s.value for s in f.subfields if s.code in ("a", "b", "e", "n", "p", "h", "i")]
    return " ".join(strip_isbd(p) for p in parts if p)[:100]


def control_number(rec: pymarc.Record) -> str:
    f = first(rec, "001")
    return f.data.strip() if f is not None else ""


def _alnum_key(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in text if ch.isalnum())


def year_of(rec: pymarc.Record) -> int | None:
    f = imprint_field(rec)
    if f is not None:
        m = _YEAR.search(sub(f, imprint_codes(rec)[2]) or "")
        if m:
            return int(m.group(1))
    if is_marc21(rec):
        f008 = first(rec, "008")
        if f008 is not None and f008.data[7:11].isdigit():
            return int(f008.data[7:11])
    return None


def fresh_copy(rec: pymarc.Record) -> pymarc.Record:
    """A plain pymarc record (UTF-8, leader/09 = a) with deep copies of the fields of `rec`."""
    leader = str(rec.leader).ljust(24)[:24]
    leader = leader[:9] + "a" + leader[10:]
    out = pymarc.Record(force_utf8=True, leader=leader)
    for f in rec.fields:
        out.add_field(copy.deepcopy(f))
    return out


def stable_int(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


# ------------------------------------------------------------------ reading the real records

@dataclass
class Source:
    """One real record as read: where it came from, its syntax, and the record."""

    path: str  # relative to the source folder, e.g. "loc-cc0/gwu.xml"
    position: int  # 1-based, as the readers count
    rec: pymarc.Record

    @property
    def label(self) -> str:
        return f"{self.path}#{self.position}"


def source_dir(given: str | Path | None = None) -> Path:
    """The folder of real MARC records: as given, else ../shared/data/marc, else the project's copy."""
    if given is not None:
        return Path(given)
    return SHARED_SOURCE if SHARED_SOURCE.is_dir() else PROJECT_SOURCE


def read_sources(folder: Path) -> tuple[list[Source], list[str]]:
    """Every readable bibliographic record under `folder`, and a line for each one that was not."""
    out: list[Source] = []
    problems: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.name
        if name.startswith(("LICENSE", "README")) or name in SKIPPED_FILES:
            continue
        rel = path.relative_to(folder).as_posix()
        reader = iter_marcxml(path) if path.suffix == ".xml" else iter_iso2709(path)
        for position, rec in reader:
            if isinstance(rec, RecordError):
                problems.append(f"{rel}#{position}: {rec}")
                continue
            if title_field(rec) is None:
                problems.append(f"{rel}#{position}: no title field, left out")
                continue
            out.append(Source(rel, position, rec))
    return out, problems


def _content_key(rec: pymarc.Record) -> str:
    """Identical bibliographic content (data fields, local holdings fields left out)."""
    parts = []
    for f in rec.fields:
        if f.tag in ("001", "003", "005") or not f.tag.isdigit() or f.tag.startswith("9"):
            continue
        parts.append(f.tag + (f.data if f.is_control_field() else
                              "".join(f"${s.code}{s.value}" for s in f.subfields)))
    return "\n".join(sorted(parts))


def real_editions(sources: list[Source]) -> list[list[int]]:
    """Indexes of the real records grouped into editions: the same control number and title, identical
    content, or a pair known to be the same (KNOWN_SAME)."""
    parent = list(range(len(sources)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    seen: dict[tuple, int] = {}
    for i, s in enumerate(sources):
        keys = [("content", _content_key(s.rec))]
        number = control_number(s.rec)
        if number:
            keys.append(("id", number, _alnum_key(display_title(s.rec)), year_of(s.rec)))
        for key in keys:
            if key in seen:
                union(seen[key], i)
            else:
                seen[key] = i
    for (pa, na), (pb, nb) in KNOWN_SAME:
        ia = [i for i, s in enumerate(sources) if s.path.startswith(pa) and control_number(s.rec) == na]
        ib = [i for i, s in enumerate(sources) if s.path.startswith(pb) and control_number(s.rec) == nb]
        for i in ia[:1]:
            for j in ib:
                union(i, j)
    groups: dict[int, list[int]] = {}
    for i in range(len(sources)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


# ------------------------------------------------------------------ pools drawn from the real records

@dataclass
class Pools:
    """Real publishers and personal names, to draw other publishers and translators from."""

    publishers_cjk: list[tuple[str, str]] = field(default_factory=list)  # (place, publisher)
    publishers_latin: list[tuple[str, str]] = field(default_factory=list)
    names_cjk: list[str] = field(default_factory=list)
    names_latin: list[str] = field(default_factory=list)


_UNNAMED = re.compile(r"^\s*\[?s\.\s?n\.?|publisher not identified|出版者不详", re.IGNORECASE)


def _latin_script(text: str) -> bool:
    return all(not ch.isalpha() or ord(ch) < 0x370 or 0x1E00 <= ord(ch) <= 0x1EFF for ch in text)


def build_pools(sources: list[Source]) -> Pools:
    pools = Pools()
    seen: set[str] = set()
    for s in sources:
        rec = s.rec
        f = imprint_field(rec)
        place_c, pub_c, _ = imprint_codes(rec)
        fields = [f] if f is not None else []
        fields += [x for x in rec.get_fields("880") if (sub(x, "6") or "").startswith(("260", "264"))]
        for x in fields:
            pub = strip_isbd(sub(x, pub_c if x is f else "b") or "")
            place = strip_isbd(sub(x, place_c if x is f else "a") or "")
            if len(pub) < 2 or pub in seen or "[" in pub or "]" in pub or _UNNAMED.search(pub):
                continue  # "[s.n.]", "s.n.]": no publisher named, so no other publisher's edition
            seen.add(pub)
            if is_cjk(pub):
                pools.publishers_cjk.append((place, pub))
            elif _latin_script(pub):  # another library's record gives an Armenian press in Armenian, not here
                pools.publishers_latin.append((place, pub))
        name_fields = rec.get_fields("100", "700", "880") if is_marc21(rec) else rec.get_fields("701", "702")
        for x in name_fields:
            if x.tag == "880" and not (sub(x, "6") or "").startswith(("100", "700")):
                continue
            if x.tag in ("100", "700", "880") and x.indicator1 not in ("0", "1"):
                continue
            name = strip_isbd(sub(x, "a") or "")
            if not is_marc21(rec) and sub(x, "b"):
                name = f"{name}, {strip_isbd(sub(x, 'b') or '')}"
            if len(name) < 2 or name in seen:
                continue
            seen.add(name)
            if is_cjk(name):
                pools.names_cjk.append(name.replace("　", "").replace(" ", ""))
            elif "," in name:
                pools.names_latin.append(name)
    return pools


@dataclass
class Context:
    """What an operation may look at besides the record: the edition's facts and the pools."""

    chinese: bool
    lang: str
    pools: Pools


# ------------------------------------------------------------------ same-edition operations
# Each takes (rng, record, context), changes the record in place and returns a label saying what it
# did, or None when it does not apply to this record (then another one is drawn).

Op = Callable[[random.Random, pymarc.Record, Context], "str | None"]

_NEIGHBOURS = "qwertyuiopasdfghjklzxcvbnm"


_HOMOPHONES: dict[str, list[str]] | None = None


def _plain_reading(ch: str) -> str | None:
    readings = pinyin_dict.get(ord(ch))
    if not readings:
        return None
    first_reading = unicodedata.normalize("NFD", readings.split(",")[0])
    return "".join(c for c in first_reading if not unicodedata.combining(c))


def homophones(ch: str) -> list[str]:
    """Common characters (GB 2312) read like `ch`, toneless: what a pinyin input method offers."""
    global _HOMOPHONES
    if _HOMOPHONES is None:
        table: dict[str, list[str]] = {}
        for code in sorted(pinyin_dict):
            c = chr(code)
            try:
                c.encode("gb2312")
            except UnicodeEncodeError:
                continue
            reading = _plain_reading(c)
            if reading:
                table.setdefault(reading, []).append(c)
        _HOMOPHONES = table
    reading = _plain_reading(_T2S.convert(ch))
    return [c for c in _HOMOPHONES.get(reading or "", []) if c != ch and c != _T2S.convert(ch)]


def _typo_cjk(rng: random.Random, f: Field, code: str) -> str | None:
    text = sub(f, code) or ""
    han = list(_HAN.finditer(text))
    spots = [m for m in han if homophones(m.group(0))]
    if len(han) < 4 or not spots:  # as a Latin typo needs a word of 4 letters
        return None
    m = rng.choice(spots)
    set_sub(f, code, text[:m.start()] + rng.choice(homophones(m.group(0))) + text[m.end():])
    return "typo:homophone"


def op_typo(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """One wrong, missing, doubled or swapped letter in a word of the title proper (never a digit); in
    Chinese, a character replaced by a homophone (what a pinyin input method lets slip)."""
    f = title_field(rec)
    text = sub(f, "a") or ""
    if f is None:
        return None
    if ctx.chinese:
        vernacular = [x for x in rec.get_fields("880") if (sub(x, "6") or "").startswith("245")]
        target = vernacular[0] if vernacular else f
        if is_cjk(sub(target, "a") or ""):
            return _typo_cjk(rng, target, "a")
    words = list(_LATIN_WORD.finditer(text))
    if not words:
        return None
    m = rng.choice(words)
    w = m.group(0)
    i = rng.randrange(1, len(w))
    how = rng.choice(("swap", "drop", "double", "other"))
    if how == "swap" and i < len(w) - 1 and w[i] != w[i + 1]:
        new = w[:i] + w[i + 1] + w[i] + w[i + 2:]
    elif how == "drop":
        new = w[:i] + w[i + 1:]
    elif how == "double":
        new = w[:i] + w[i] + w[i:]
    else:
        how = "other"
        letter = rng.choice([c for c in _NEIGHBOURS if c != w[i].lower()])
        new = w[:i] + (letter.upper() if w[i].isupper() else letter) + w[i + 1:]
    set_sub(f, "a", text[:m.start()] + new + text[m.end():])
    return f"typo:{how}"


def _leading_article(text: str, lang: str | None) -> str | None:
    langs = [lang] if lang in ARTICLES else list(ARTICLES)
    for code in langs:
        for art in ARTICLES[code]:
            if art.endswith("'") and text.startswith(art) and len(text) > len(art):
                return art
            if text.startswith(art + " "):
                return art
    return None


def op_article(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """A leading article removed (English, French, German, Spanish, Italian) or "The" added to an English
    book title, with 245 ind2 set to the characters to skip, or left 0."""
    if not is_marc21(rec) or ctx.lang not in ARTICLES:
        return None
    f = first(rec, "245")
    text = sub(f, "a") or ""
    if f is None or not text or not text[0].isalpha():
        return None
    art = _leading_article(text, ctx.lang)
    if art is not None and f.indicator2 != "0" and rng.random() < 0.3:
        f.indicators = Indicators(f.indicator1, "0")
        return "article:kept-ind2-0"
    if art is not None:
        rest = text[len(art):].lstrip()
        set_sub(f, "a", rest[:1].upper() + rest[1:])
        f.indicators = Indicators(f.indicator1, "0")
        return "article:removed"
    if ctx.lang != "eng" or not is_monograph(rec) or rng.random() < 0.5:
        return None  # an article is added only where one is plausible: "The" before an English book title
    art = "The"
    set_sub(f, "a", f"{art} {text[:1].lower() + text[1:]}")
    skip = len(art) + 1
    if rng.random() < 0.6:
        f.indicators = Indicators(f.indicator1, str(skip))
        return "article:added"
    f.indicators = Indicators(f.indicator1, "0")
    return "article:added-ind2-0"


def op_subtitle(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """The subtitle joined to the title proper (" : ", ", ", ". ", "; or, "), or omitted; a subtitle
    typed into the title proper split out."""
    f = title_field(rec)
    if f is None:
        return None
    code = "b" if is_marc21(rec) else "e"
    a, b = sub(f, "a"), sub(f, code)
    has_c = any(s.code in ("c", "f") for s in f.subfields)
    tail = " /" if has_c and is_marc21(rec) else ""
    if not a:
        return None
    if not b:
        core = strip_isbd(a)
        for sep in (" : ", "："):
            if sep in core:
                head, rest = core.split(sep, 1)
                if head and rest:
                    set_sub(f, "a", head + (" :" if is_marc21(rec) else ""))
                    set_sub(f, code, rest + tail, after="a")
                    return "subtitle:split"
        return None
    seps = (" : ", ", ", ". ", "; or, ") if ctx.lang == "eng" else (" : ", ", ", ". ")
    choice = rng.choice((*seps, "omitted"))
    if choice == "omitted":
        set_sub(f, code, None)
        set_sub(f, "a", strip_isbd(a) + (tail or ("." if is_marc21(rec) else "")))
        return "subtitle:omitted"
    sub_text = strip_isbd(b)
    if choice == ". ":
        sub_text = sub_text[:1].upper() + sub_text[1:]
    set_sub(f, code, None)
    set_sub(f, "a", strip_isbd(a) + choice + sub_text + tail)
    return "subtitle:joined" + {" : ": "-colon", ", ": "-comma", ". ": "-period", "; or, ": "-or"}[choice]


_PUB_CLASSES = (
    ("University Press", "Univ. Pr.", "U.P.", "University Pr."),
    ("Publishers", "Publishing", "Pub.", "Publ.", "Pub"),
    ("Press", "Pr."),
    ("Verlag", "Vlg.", "Verl.", "Verl"),
)
_CORPORATE = (", Inc.", " Inc.", ", Ltd.", " Ltd.", " Co.", " & Co.")
_CN_PUB_SUFFIXES = ("出版发行", "出版")


_NOT_A_FIRM = re.compile(r"societ|universit|institut|museum|librar|associat|bureau|office|council|minist|"
                        r"department|government|college|academ|cent(er|re)|verein|gesellschaft|akademie|"
                        r"school|church|foundation|stiftung|archiv|kommission|commission|survey|hospital",
                        re.IGNORECASE)


def publisher_form(rng: random.Random, name: str, lang: str) -> tuple[str, str] | None:
    """Another form of a publisher's name, and what changed; None when no realistic other form."""
    if re.search(r"\bchu ban she\b", name):  # romanised Chinese: the word division of pinyin differs
        return name.replace("chu ban she", "chubanshe"), "publisher:pinyin-division"
    if re.search(r"\bchubanshe\b", name):
        return name.replace("chubanshe", "chu ban she"), "publisher:pinyin-division"
    if is_cjk(name):
        base = name
        for suffix in _CN_PUB_SUFFIXES:
            if base.endswith(suffix) and not base.endswith("出版社" if suffix == "出版" else "\0"):
                base = base[: -len(suffix)]
                break
        if base.endswith("社出版"):
            base = base[:-2]
        forms = [base, base + "出版", base + "出版发行"]
        forms = [x for x in forms if x != name]
        return rng.choice(forms), "publisher:cn-form"
    if name.startswith("Editorial "):
        return "Ed. " + name[len("Editorial "):], "publisher:editorial"
    if name.startswith("Ed. "):
        return "Editorial " + name[len("Ed. "):], "publisher:editorial"
    for cls in _PUB_CLASSES:
        for form in cls:
            if name.endswith(" " + form) or name.endswith("-" + form):
                stem = name[: -len(form)]
                other = rng.choice([x for x in cls if x != form])
                return stem + other, "publisher:" + cls[0].split()[-1].lower()
    for corp in _CORPORATE:
        if name.endswith(corp):
            return name[: -len(corp)], "publisher:corporate-dropped"
    if _NOT_A_FIRM.search(name) or len(name.split()) > 4 or not name[:1].isupper():
        return None
    if lang == "ger":
        return name + " Verlag", "publisher:verlag-added"
    if lang == "spa":
        return "Editorial " + name, "publisher:editorial"
    return name + rng.choice((", Inc.", " Ltd.", " Publishers")), "publisher:suffix-added"


def op_publisher(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """Another form of the publisher's name (Inc./Ltd./Press/Pr./U.P./Verlag/Vlg./出版社出版...)."""
    f = imprint_field(rec)
    code = imprint_codes(rec)[1]
    value = sub(f, code)
    if f is None or not value or not strip_isbd(value):
        return None
    core = strip_isbd(value)
    got = publisher_form(rng, core, ctx.lang)
    if got is None:
        return None
    set_sub(f, code, with_end(got[0], _end_punct(value)))
    return got[1]


def op_place(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """The place of publication dropped, or added as "[S.l.]" / "[出版地不详]" where none was given."""
    f = imprint_field(rec)
    if f is None:
        return None
    code = imprint_codes(rec)[0]
    if sub(f, code):
        set_sub(f, code, None)
        return "place:dropped"
    unknown = "[出版地不详]" if ctx.chinese else "[S.l.]"
    at = 1 if f.subfields and f.subfields[0].code == "6" else 0  # $6 linkage stays first
    f.subfields.insert(at, Subfield(code, unknown + (" :" if is_marc21(rec) else "")))
    return "place:added"


def _edition_number(statement: str) -> int | None:
    text = statement.casefold()
    m = re.search(r"(\d+)", text)
    if m:
        return int(m.group(1))
    for word, n in _ORDINALS.items():
        if word in text:
            return n
    m = re.search(f"第([{_CN_NUMERALS}]+)版", statement)
    if m:
        digits = m.group(1)
        if digits == "十":
            return 10
        if len(digits) == 1:
            return _CN_NUMERALS.index(digits)
    return None


# Edition statements whose form the generator knows how to rewrite; others (a Tibetan "Par theṅ 2", which is
# a printing) are transcribed by every cataloguer as they stand.
_EDITION_WORDS = re.compile(r"\bed\b|edition|aufl|auflage|éd|版|\bban\b", re.IGNORECASE)


def _ordinal_en(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def edition_forms(n: int, lang: str, chinese: bool, romanised: bool) -> list[str]:
    """How cataloguers write edition n in this language."""
    if chinese and romanised:
        return [f"Di {n} ban.", f"Di {n} ban", f"{n} ban."]
    if chinese:
        cn = _CN_NUMERALS[n] if n <= 10 else str(n)
        return [f"第{cn}版", f"第{n}版", f"{n}版"]
    if lang == "ger":  # "überarbeitete" (revised) never describes a first edition
        return [f"{n}. Aufl.", f"{n}. Auflage"] + ([f"{n}., überarb. Aufl."] if n > 1 else [])
    if lang == "fre":
        return [f"{n}e éd.", f"{n}. éd.", f"{n}e édition"]
    words = {v: k for k, v in _ORDINALS.items()}
    forms = [f"{_ordinal_en(n)} ed.", f"{_ordinal_en(n)} edition"]
    if n in (2, 3):
        forms.append(f"{n}{'d' if n == 2 else 'd'} ed.")
    if n in words:
        forms.append(f"{words[n].capitalize()} edition")
    if lang not in ("eng", ""):
        forms.append(f"{n}. Aufl.")
    return forms


def _romanised(rec: pymarc.Record) -> bool:
    return is_marc21(rec) and bool(rec.get_fields("880")) and not is_cjk(sub(first(rec, "245"), "a") or "")


def op_edition(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """The edition statement in another form (2nd ed. / 2d ed. / Second edition / 2. Aufl.; 第二版 /
    第2版 / 2版); a first edition stated or left unstated."""
    tag, code = ("250", "a") if is_marc21(rec) else ("205", "a")
    f = first(rec, tag)
    romanised = _romanised(rec)
    if f is None:
        if not is_monograph(rec):
            return None
        text = rng.choice(edition_forms(1, ctx.lang, ctx.chinese, romanised))
        new = Field(tag=tag, indicators=Indicators(" ", " "), subfields=[Subfield(code, text)])
        rec.add_ordered_field(new)
        return "edition:first-stated"
    n = _edition_number(sub(f, code) or "")
    if n is None or n > 20 or not _EDITION_WORDS.search(sub(f, code) or ""):
        return None
    if n == 1 and rng.random() < 0.4:
        rec.remove_field(f)
        for x in rec.get_fields("880"):
            if (sub(x, "6") or "").startswith("250"):
                rec.remove_field(x)
        return "edition:first-unstated"
    current = strip_isbd(sub(f, code) or "")
    forms = [x for x in edition_forms(n, ctx.lang, ctx.chinese, romanised) if strip_isbd(x) != current]
    if not forms:
        return None
    set_sub(f, code, rng.choice(forms))
    return "edition:form"


def _set_008_year(rec: pymarc.Record, year: int) -> None:
    if is_marc21(rec):
        f = first(rec, "008")
        if f is not None and len(f.data) >= 11:
            f.data = f.data[:7] + str(year) + f.data[11:]
    else:
        f = first(rec, "100")
        a = sub(f, "a")
        if f is not None and a and len(a) >= 13:
            set_sub(f, "a", a[:9] + str(year) + a[13:])


def op_date(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """The date in another form (c2000, [2000], 2000印刷), or the printing year one later, same extent."""
    f = imprint_field(rec)
    code = imprint_codes(rec)[2]
    value = sub(f, code)
    m = _SINGLE_YEAR.match(strip_isbd(value or "").strip())
    if f is None or m is None:
        return None  # a range, an open date or a date in another calendar: left as catalogued
    y = int(m.group(1))
    end = "." if is_marc21(rec) and (value or "").rstrip().endswith(".") else ""
    if is_monograph(rec) and rng.random() < 0.35:
        forms = ([f"{y + 1}印刷", f"{y}({y + 1}重印)", f"{y + 1}"] if ctx.chinese
                 else [f"{y + 1} printing", f"c{y}, {y + 1} printing", f"{y + 1}"])
        choice = rng.choice(forms)
        set_sub(f, code, choice + end)
        if choice == str(y + 1):
            _set_008_year(rec, y + 1)
        return "date:printing-later"
    forms = ([f"{y}", f"{y}印刷", f"[{y}]", f"{y}.{rng.randint(1, 12)}"] if ctx.chinese
             else [f"c{y}", f"[{y}]", f"{y}", f"©{y}", f"{y}, c{y}"])
    forms = [x for x in forms if x != strip_isbd(value or "")]
    set_sub(f, code, rng.choice(forms) + end)
    return "date:form"


_ROMAN = (("x", 10), ("ix", 9), ("v", 5), ("iv", 4), ("i", 1))


def pages_match(extent: str | None) -> re.Match | None:
    """Where the page count is in an extent ("xii, 350 p.", "350 S.", "422,图版[40]页"): group "n"."""
    return _PAGES.search(extent or "") or _PAGES_CN.search(extent or "")


def _roman(n: int) -> str:
    out = ""
    for sym, val in _ROMAN:
        while n >= val:
            out += sym
            n -= val
    return out


_MULTI_VOLUME = re.compile(r"\s*(?:[2-9]|\d\d+)\s*(?:v\.|vols?\.?|册|Bde?\.)|.*\b\d+\s+in\s+\d+\s*v\.")


def op_extent(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """The extent in another form: "xii, 350 p." / "350 p." / "350 pages" / "350 S." / "350页" /
    "350, [10]页"."""
    f = first(rec, "300") if is_marc21(rec) else first(rec, "215")
    value = sub(f, "a")
    m = pages_match(value)
    if f is None or m is None or _MULTI_VOLUME.match(value or ""):
        return None  # "2 v. (324; 319 leaves)" is two volumes, never "319 pages"
    n = int(m.group("n"))
    pre = m.groupdict().get("pre")
    end = _end_punct(value or "") if is_marc21(rec) else ""
    if ctx.chinese:
        forms = [f"{n}页", f"{n}, [{rng.randint(2, 16)}]页", f"{rng.randint(2, 16)}, {n}页", f"{n}页"]
    else:
        prelims = pre or _roman(rng.randint(6, 24))
        forms = [f"{n} p.", f"{prelims}, {n} p.", f"{n} pages", f"{n} S.", f"{prelims}, {n} pages"]
    current = strip_isbd(value or "")
    forms = [x for x in forms if strip_isbd(x) != current]
    new = rng.choice(forms)
    sep = end.strip()[-1:] if end.strip() else ""
    set_sub(f, "a", new + (f" {sep}" if sep in (":", ";", "+") else ""))
    return "extent:form"


def _isbn_fields(rec: pymarc.Record) -> list[Field]:
    return rec.get_fields("020") if is_marc21(rec) else rec.get_fields("010")


def _split_isbn(value: str) -> tuple[str, str]:
    """("0679450041", " (acid-free paper)") from "0679450041 (acid-free paper)"."""
    m = re.match(r"\s*([0-9Xx-]+)(.*)$", value)
    return (m.group(1), m.group(2)) if m else (value, "")


def op_isbn(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """The ISBN in another form: hyphens added or removed, ISBN-10 vs ISBN-13, qualifier added or
    removed, only one of the pair kept, or no ISBN at all."""
    fields = [f for f in _isbn_fields(rec) if sub(f, "a")]
    if not fields:
        return None
    how = rng.choice(("hyphens", "length", "qualifier", "one", "dropped"))
    if how == "dropped":
        for f in _isbn_fields(rec):
            rec.remove_field(f)
        return "isbn:dropped"
    if how == "one" and len(fields) > 1:
        for f in fields[1:]:
            rec.remove_field(f)
        return "isbn:one-kept"
    f = rng.choice(fields)
    number, rest = _split_isbn(sub(f, "a") or "")
    compact = number.replace("-", "").upper()
    valid = stdnum_isbn.is_valid(compact)
    if how == "qualifier" or not valid:
        qual_code = "a" if is_marc21(rec) else "b"
        if is_marc21(rec):
            if rest.strip():
                set_sub(f, "a", number)
                set_sub(f, "q", None)
                return "isbn:qualifier-dropped"
            set_sub(f, "a", number + " " + rng.choice(("(pbk.)", "(alk. paper)", "(hbk.)", "(平装)" if ctx.chinese
                                                          else "(cloth)")))
            return "isbn:qualifier-added"
        if sub(f, qual_code):
            set_sub(f, qual_code, None)
            return "isbn:qualifier-dropped"
        set_sub(f, qual_code, rng.choice(("平装", "精装")), after="a")
        return "isbn:qualifier-added"
    if how == "length":
        if len(compact) == 13 and compact.startswith("978"):
            new = stdnum_isbn.to_isbn10(compact)
        elif len(compact) == 10:
            new = stdnum_isbn.to_isbn13(compact)
        else:
            return None
        if "-" in number:
            new = stdnum_isbn.format(new)
        set_sub(f, "a", new + rest)
        return "isbn:10-13"
    new = compact if "-" in number else stdnum_isbn.format(compact)
    set_sub(f, "a", new + rest)
    return "isbn:hyphens"


def _author_dates(name: str) -> str:
    born = 1900 + stable_int(name) % 80
    return f"{born}-"


def op_author(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """An author's name in another form ("Smith, J.", dates added or dropped), or the added entries
    dropped."""
    if is_marc21(rec):
        main = first(rec, "100")
        added = [f for f in rec.get_fields("700", "710", "711")]
    else:
        names = rec.get_fields("701", "711")
        main = names[0] if names else None
        added = names[1:] + rec.get_fields("702", "712")
    choices = []
    if added:
        choices.append("added-dropped")
    a = sub(main, "a") or ""
    if main is not None and a and not is_cjk(a):
        if is_marc21(rec) and "," in a:
            choices.append("initials")
        elif not is_marc21(rec) and sub(main, "b"):
            choices.append("initials")
        choices.append("dates")
    if not choices:
        return None
    how = rng.choice(choices)
    if how == "added-dropped":
        links = set()
        for f in added:
            link = sub(f, "6")
            if link:
                links.add(link[4:6])
            rec.remove_field(f)
        for x in rec.get_fields("880"):
            link = sub(x, "6") or ""
            if link[:3] in ("700", "710", "711", "702") and link[4:6] in links:
                rec.remove_field(x)
        return "author:added-dropped"
    if how == "initials":
        if is_marc21(rec):
            surname, forenames = a.split(",", 1)
            initials = " ".join(p[0] + "." for p in forenames.replace(".", " ").split() if p[:1].isalpha())
            if not initials:
                return None
            set_sub(main, "a", f"{surname}, {initials}" + ("," if sub(main, "d") or sub(main, "e") else ""))
        else:
            b = sub(main, "b") or ""
            initials = " ".join(p[0] + "." for p in b.replace(".", " ").split() if p[:1].isalpha())
            if not initials:
                return None
            set_sub(main, "b", initials)
        return "author:initials"
    code = "d" if is_marc21(rec) else "f"
    if sub(main, code):
        set_sub(main, code, None)
        if is_marc21(rec):
            set_sub(main, "a", strip_isbd(sub(main, "a") or "") + ("," if sub(main, "e") else "."))
        return "author:dates-dropped"
    if is_marc21(rec):
        set_sub(main, "a", strip_isbd(a) + ",")
    set_sub(main, code, _author_dates(strip_isbd(a)), after="b" if sub(main, "b") else "a")
    return "author:dates-added"


def _linked(rec: pymarc.Record) -> dict[tuple[str, str], Field]:
    """Fields carrying $6 (tag-occurrence), by (tag, occurrence)."""
    out = {}
    for f in rec.fields:
        if f.is_control_field() or f.tag == "880":
            continue
        link = sub(f, "6")
        if link and len(link) >= 6:
            out[(f.tag, link[4:6])] = f
    return out


def op_vernacular(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """The 880 vernacular fields dropped, or the vernacular moved into 245 (and 250/260/1XX/7XX)."""
    if not is_marc21(rec) or not rec.get_fields("880"):
        return None
    return vernacular_into_fields(rec, move=rng.random() < 0.5)


def vernacular_into_fields(rec: pymarc.Record, *, move: bool) -> str:
    """Remove the 880 fields, first copying each into the field it is linked to when `move`."""
    alternates = rec.get_fields("880")
    linked = _linked(rec)
    for x in alternates:
        link = sub(x, "6") or ""
        target = linked.get((link[:3], link[4:6]))
        if move and target is not None and "\ufffd" not in x.value():  # a broken 880 is dropped, not moved
            target.subfields = [s for s in x.subfields if s.code != "6"]
            target.indicators = x.indicators
        rec.remove_field(x)
    for f in linked.values():
        set_sub(f, "6", None)
    for f in rec.get_fields("066"):
        rec.remove_field(f)
    return "vernacular:moved" if move else "vernacular:dropped"


def _strip_diacritics(text: str) -> str:
    out = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch) and out and out[-1].isascii():
            continue
        if ch in "ʻʼ":
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def _map_text(rec: pymarc.Record, fn: Callable[[str], str], tags: tuple[str, ...] | None = None) -> bool:
    changed = False
    for f in rec.fields:
        if f.is_control_field() or not f.tag.isdigit() or (tags is not None and f.tag not in tags):
            continue
        new = [Subfield(s.code, s.value if s.code in ("6", "0", "1", "2", "4", "8") else fn(s.value))
               for s in f.subfields]
        if new != list(f.subfields):
            f.subfields = new
            changed = True
    return changed


def op_diacritics(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """Diacritics stripped from the descriptive fields (as a system without them would keep them)."""
    tags = ("100", "110", "245", "246", "250", "260", "264", "490", "700", "710",
            "200", "205", "210", "225", "701", "702", "711")
    return "diacritics:stripped" if _map_text(rec, _strip_diacritics, tags) else None


def op_script(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """Chinese text in traditional characters instead of simplified (or back), with OpenCC."""
    texts = " ".join(s.value for f in rec.fields if not f.is_control_field() for s in f.subfields)
    if not is_cjk(texts) or _KANA_HANGUL.search(texts):
        return None
    if _T2S.convert(texts) == texts:
        return "script:traditional" if _map_text(rec, _S2T.convert) else None
    return "script:simplified" if _map_text(rec, _T2S.convert) else None


_FULLWIDTH = str.maketrans({":": "：", ",": "，", ";": "；", "(": "（", ")": "）", "!": "！", "?": "？",
                            "[": "［", "]": "］"})


def op_fullwidth(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """Full-width punctuation typed in the Chinese fields (：，；（）)."""
    def widen(text: str) -> str:
        return text.translate(_FULLWIDTH).replace(" ：", "：").replace(" ；", "；") if is_cjk(text) else text
    return "fullwidth" if _map_text(rec, widen) else None


def op_008(rng: random.Random, rec: pymarc.Record, ctx: Context) -> str | None:
    """The 008 cut short, as some systems export it (the language and dates may go with it)."""
    f = first(rec, "008") if is_marc21(rec) else None
    if f is None or len(f.data) < 20:
        return None
    f.data = f.data[: rng.choice((6, 11, 15, 18, 24, 32))]
    return "008:short"


OPS: dict[str, Op] = {
    "typo": op_typo, "article": op_article, "subtitle": op_subtitle, "publisher": op_publisher,
    "place": op_place, "edition": op_edition, "date": op_date, "extent": op_extent, "isbn": op_isbn,
    "author": op_author, "vernacular": op_vernacular, "diacritics": op_diacritics, "script": op_script,
    "fullwidth": op_fullwidth, "008": op_008,
}


# ------------------------------------------------------------------ MARC21 <-> CNMARC re-expression

def _vernacular_view(rec: pymarc.Record) -> pymarc.Record:
    """A copy of a MARC21 record with the 880 vernacular put into the fields it belongs to."""
    out = fresh_copy(rec)
    if out.get_fields("880"):
        vernacular_into_fields(out, move=True)
    return out


def _df(tag: str, ind: str, *pairs: tuple[str, str | None]) -> Field:
    return Field(tag=tag, indicators=Indicators(ind[0], ind[1]),
                 subfields=[Subfield(c, v) for c, v in pairs if v])


_GMD_CN = (("electronic", "电子资源"), ("电子", "电子资源"), ("video", "录像制品"), ("sound", "录音制品"),
           ("filmstrip", "幻灯片"), ("microform", "缩微制品"), ("map", "地图"), ("music", "乐谱"))


def _gmd_cn(gmd: str | None) -> str | None:
    """The CNMARC 200$b general material designation for a MARC21 245$h."""
    if not gmd:
        return None
    text = gmd.casefold()
    for word, cn in _GMD_CN:
        if word in text:
            return cn
    return strip_isbd(gmd.strip(" []")) or None


def to_cnmarc(rec: pymarc.Record, member: str) -> pymarc.Record:
    """A MARC21 record of a Chinese book as a CNMARC cataloguer would make it (010/100/101/200/205/210/
    215/225/606/701/702/801)."""
    src = _vernacular_view(rec)
    out = pymarc.Record(force_utf8=True, leader=f"00000n{leader_type(rec) or 'a'}m0a2200000   450 ")
    number = control_number(src)
    if number:
        out.add_field(Field(tag="001", data=number))
    for f in src.get_fields("020")[:1]:  # CNMARC records the ISBN printed on the book, once
        number_, rest = _split_isbn(sub(f, "a") or "")
        qual = rest.strip(" ()") or (sub(f, "q") or None)
        if number_:
            out.add_field(_df("010", "  ", ("a", number_), ("b", qual), ("d", sub(f, "c"))))
    year = year_of(src)
    ystr = str(year) if year else "    "
    out.add_field(_df("100", "  ", ("a", f"20260101d{ystr}    em y0chiy50      ea")))
    out.add_field(_df("101", "0 ", ("a", "chi")))
    out.add_field(_df("102", "  ", ("a", "CN")))
    t = first(src, "245")
    title = strip_isbd(sub(t, "a") or "")
    gmd = _gmd_cn(sub(t, "h"))
    if gmd == "电子资源" or _is_electronic(src):
        gmd = "电子资源"
        out.add_field(_df("135", "  ", ("a", "drnn ---uuuuu")))
    out.add_field(_df("200", "1 ", ("a", title), ("b", gmd),
                      ("e", strip_isbd(sub(t, "b") or "") or None), ("h", strip_isbd(sub(t, "n") or "") or None),
                      ("i", strip_isbd(sub(t, "p") or "") or None), ("f", strip_isbd(sub(t, "c") or "") or None)))
    e = first(src, "250")
    if e is not None and sub(e, "a"):
        out.add_field(_df("205", "  ", ("a", strip_isbd(sub(e, "a") or ""))))
    imp = imprint_field(src)
    if imp is not None:
        out.add_field(_df("210", "  ", ("a", strip_isbd(sub(imp, "a") or "") or None),
                          ("c", strip_isbd(sub(imp, "b") or "") or None), ("d", strip_isbd(sub(imp, "c") or "") or None)))
    x = first(src, "300")
    if x is not None:
        extent = re.sub(r"(\d+)\s*(?:p\b\.?|pages)", r"\1页", strip_isbd(sub(x, "a") or ""))
        extent = re.sub(r"(\d+)\s*v\.", r"\1册", extent)
        ill = strip_isbd(sub(x, "b") or "").replace("ill.", "图").replace("ill", "图").replace("ports.", "肖像")
        size = strip_isbd(sub(x, "c") or "").replace(" cm", "cm")
        out.add_field(_df("215", "  ", ("a", extent or None), ("c", ill or None), ("d", size or None)))
    for s in src.get_fields("490", "440"):
        out.add_field(_df("225", "2 ", ("a", strip_isbd(sub(s, "a") or "") or None)))
    for s in src.get_fields("650"):
        out.add_field(_df("606", "0 ", ("a", strip_isbd(sub(s, "a") or "") or None)))
    main = first(src, "100", "110", "111")
    if main is not None and sub(main, "a"):
        tag = "701" if main.tag == "100" else "711"
        out.add_field(_df(tag, " 0" if tag == "701" else "02", ("a", strip_isbd(sub(main, "a") or "")), ("4", "著")))
    for a in src.get_fields("700", "710"):
        role = strip_isbd(sub(a, "e") or "") or None
        tag = "702" if a.tag == "700" else "712"
        out.add_field(_df(tag, " 0" if tag == "702" else "02", ("a", strip_isbd(sub(a, "a") or "")), ("4", role)))
    out.add_field(_df("801", " 0", ("a", "CN"), ("b", member)))
    return out


def to_marc21(rec: pymarc.Record, member: str) -> pymarc.Record:
    """A CNMARC record re-expressed as MARC21 (008/020/100/245/250/260/300/490/650/700) with the
    Chinese directly in the fields, as BALIS members running MARC21 systems catalogue Chinese books."""
    out = pymarc.Record(force_utf8=True, leader=f"00000n{leader_type(rec) or 'a'}m a2200000 a 4500")
    number = control_number(rec)
    if number:
        out.add_field(Field(tag="001", data=number))
    year = year_of(rec)
    ystr = str(year) if year else "uuuu"
    out.add_field(Field(tag="008", data=f"260101s{ystr}    cc            000 0 chi d"))
    if _is_electronic(rec):
        out.add_ordered_field(Field(tag="007", data="cr |||||||||||"))
        f008 = first(out, "008")
        f008.data = f008.data[:23] + "o" + f008.data[24:]
    for f in rec.get_fields("010"):
        number_ = sub(f, "a")
        if number_:
            qual = sub(f, "b")
            out.add_field(_df("020", "  ", ("a", number_ + (f" ({qual})" if qual else "")), ("c", sub(f, "d"))))
    names = rec.get_fields("701", "711")
    if names:
        n = names[0]
        name = strip_isbd(sub(n, "a") or "") + (f", {sub(n, 'b')}" if sub(n, "b") else "")
        tag, ind = ("100", "1 ") if n.tag == "701" else ("110", "2 ")
        out.add_field(_df(tag, ind, ("a", name), ("e", sub(n, "4"))))
    t = first(rec, "200")
    a, e, f_, h, i = (strip_isbd(sub(t, c) or "") for c in ("a", "e", "f", "h", "i"))
    g = strip_isbd(sub(t, "g") or "")
    resp = f_ + (f" ; {g}" if g else "")
    pairs: list[tuple[str, str | None]] = [("a", a + (" :" if e else (". " if h or i else (" /" if resp else "."))))]
    if sub(t, "b"):  # the GMD follows the title proper and takes its closing punctuation
        a_text = pairs[0][1] or ""
        pairs[0] = ("a", strip_isbd(a_text))
        pairs.insert(1, ("h", f"[{strip_isbd(sub(t, 'b') or '')}]" + _end_punct(a_text).rstrip(". ")
                         .replace(":", " :").replace("/", " /").replace("  ", " ")))
    if e:
        pairs.append(("b", e + (" /" if resp else ".")))
    if h:
        pairs.append(("n", h + ("," if i else (" /" if resp else "."))))
    if i:
        pairs.append(("p", i + (" /" if resp else ".")))
    if resp:
        pairs.append(("c", resp + "."))
    out.add_field(_df("245", "10", *pairs))
    ed = first(rec, "205")
    if ed is not None and sub(ed, "a"):
        out.add_field(_df("250", "  ", ("a", strip_isbd(sub(ed, "a") or "") + ".")))
    imp = first(rec, "210")
    if imp is not None:
        place, pub, date = (strip_isbd(sub(imp, c) or "") for c in ("a", "c", "d"))
        out.add_field(_df("260", "  ", ("a", (place + " :") if place else None), ("b", (pub + ",") if pub else None),
                          ("c", (date + ".") if date else None)))
    x = first(rec, "215")
    if x is not None:
        ext, ill, size = (strip_isbd(sub(x, c) or "") for c in ("a", "c", "d"))
        out.add_field(_df("300", "  ", ("a", ext + (" :" if ill else (" ;" if size else ""))),
                          ("b", (ill + (" ;" if size else "")) if ill else None), ("c", size or None)))
    for s in rec.get_fields("225"):
        out.add_field(_df("490", "0 ", ("a", strip_isbd(sub(s, "a") or "") or None)))
    for s in rec.get_fields("606"):
        out.add_field(_df("650", " 4", ("a", strip_isbd(sub(s, "a") or "") or None)))
    for n in names[1:] + rec.get_fields("702", "712"):
        tag, ind = ("700", "1 ") if n.tag in ("701", "702") else ("710", "2 ")
        out.add_field(_df(tag, ind, ("a", strip_isbd(sub(n, "a") or "")), ("e", sub(n, "4"))))
    if _is_electronic(rec):
        out.add_ordered_field(_df("338", "  ", ("a", "online resource"), ("b", "cr"), ("2", "rdacarrier")))
    return out


def reexpress(rec: pymarc.Record, member: str) -> tuple[pymarc.Record, str]:
    """The record in the other syntax (MARC21 -> CNMARC or CNMARC -> MARC21), and the label."""
    if is_marc21(rec):
        return to_cnmarc(rec, member), "reexpress:cnmarc"
    return to_marc21(rec, member), "reexpress:marc21"


# ------------------------------------------------------------------ different-edition traps

def _isbn_values(rec: pymarc.Record) -> list[str]:
    out = []
    for f in _isbn_fields(rec):
        number = _split_isbn(sub(f, "a") or "")[0].replace("-", "").upper()
        if stdnum_isbn.is_valid(number):
            out.append(stdnum_isbn.to_isbn13(number))
    return out


def other_isbn(rng: random.Random, isbn13: str) -> str:
    """A valid ISBN-13 of the same publisher (registrant) for another book: the last digits changed."""
    body = isbn13[:12]
    while True:
        new = body[:9] + f"{rng.randrange(1000):03d}"
        if new != body:
            break
    return new + ean.calc_check_digit(new)


def replace_isbns(rng: random.Random, rec: pymarc.Record, *, drop_chance: float = 0.2) -> str:
    """Every ISBN of the record replaced by one other book's ISBN (the same registrant) in the same
    form, or all of them dropped; returns what was done."""
    fields = _isbn_fields(rec)
    values = _isbn_values(rec)
    if not fields:
        return "no-isbn"
    if not values or rng.random() < drop_chance:
        for f in fields:
            rec.remove_field(f)
        return "isbn-dropped"
    mapping: dict[str, str] = {}
    for old in values:
        if old not in mapping:
            mapping[old] = other_isbn(rng, old)
    for f in fields:
        number, rest = _split_isbn(sub(f, "a") or "")
        compact = number.replace("-", "").upper()
        old13 = stdnum_isbn.to_isbn13(compact) if stdnum_isbn.is_valid(compact) else values[0]
        new13 = mapping[old13]
        new = new13 if len(compact) == 13 else (stdnum_isbn.to_isbn10(new13) if new13.startswith("978") else new13)
        if "-" in number:
            new = stdnum_isbn.format(new)
        set_sub(f, "a", new + rest)
        set_sub(f, "z", None)
    return "isbn-new"


def _set_year(rec: pymarc.Record, year: int) -> bool:
    f = imprint_field(rec)
    code = imprint_codes(rec)[2]
    value = sub(f, code)
    if f is None or not value or not _YEAR.search(value):
        return False
    set_sub(f, code, _YEAR.sub(str(year), value, count=1))
    for x in rec.get_fields("880"):
        if (sub(x, "6") or "").startswith(("260", "264")) and sub(x, "c"):
            set_sub(x, "c", _YEAR.sub(str(year), sub(x, "c") or "", count=1))
    _set_008_year(rec, year)
    return True


def _scale_pages(rng: random.Random, rec: pymarc.Record, low: float, high: float) -> bool:
    f = first(rec, "300") if is_marc21(rec) else first(rec, "215")
    value = sub(f, "a")
    m = pages_match(value)
    if f is None or m is None:
        return False
    n = int(m.group("n"))
    factor = rng.uniform(low, high) * rng.choice((1, -1))
    new = max(12, round(n * (1 + factor)))
    if abs(new - n) < max(8, n * low):
        new = n + max(8, round(n * low)) + 1
    set_sub(f, "a", value[:m.start("n")] + str(new) + value[m.end("n"):])
    return True


def _set_edition(rec: pymarc.Record, n: int, ctx: Context, rng: random.Random) -> None:
    tag = "250" if is_marc21(rec) else "205"
    for x in rec.get_fields("880"):
        if (sub(x, "6") or "").startswith("250"):
            rec.remove_field(x)
    for f in rec.get_fields(tag):
        rec.remove_field(f)
    text = rng.choice(edition_forms(n, ctx.lang, ctx.chinese, _romanised(rec)))
    rec.add_ordered_field(_df(tag, "  ", ("a", text)))


def trap_edition(rng: random.Random, base: pymarc.Record, ctx: Context) -> list[pymarc.Record] | None:
    """Another edition: a later edition number, a later year, another extent and ISBN."""
    rec = fresh_copy(base)
    f = first(rec, "250" if is_marc21(rec) else "205")
    n = _edition_number(sub(f, "a") or "") if f is not None else 1
    if n is None:
        return None
    year = year_of(rec)
    _set_edition(rec, n + rng.choice((1, 1, 2)), ctx, rng)
    if year:
        _set_year(rec, year + rng.randint(1, 5))
    _scale_pages(rng, rec, 0.12, 0.4)
    replace_isbns(rng, rec)
    return [rec]


def _part_code(rec: pymarc.Record) -> str:
    return "n" if is_marc21(rec) else "h"


def _part_text(n: int, ctx: Context, count: int) -> str:
    if ctx.chinese:
        if count == 2:
            return ("上册", "下册")[n - 1]
        return f"第{n}卷"
    return rng_free_volume(n, ctx.lang)


def rng_free_volume(n: int, lang: str) -> str:
    return {"ger": f"Bd. {n}", "fre": f"t. {n}"}.get(lang, f"v. {n}")


def _set_part(rec: pymarc.Record, text: str) -> None:
    for x in rec.get_fields("880"):
        if (sub(x, "6") or "").startswith("245"):
            set_sub(x, "n", text, after="a")
    t = title_field(rec)
    code = _part_code(rec)
    if t is None:
        return
    if is_marc21(rec):
        a = sub(t, "a") or ""
        nxt = [s.code for s in t.subfields if s.code in ("b", "c")]
        if not sub(t, code):
            set_sub(t, "a", strip_isbd(a) + ".")
        end = " /" if "c" in nxt and "b" not in nxt else ("." if not nxt else "")
        set_sub(t, code, text + end, after="a")
        if "b" in nxt:
            # the subtitle follows the part
            b_index = next(i for i, s in enumerate(t.subfields) if s.code == "b")
            n_index = next(i for i, s in enumerate(t.subfields) if s.code == code)
            if n_index > b_index:
                part = t.subfields.pop(n_index)
                t.subfields.insert(b_index, Subfield(part.code, part.value + " :"))
    else:
        set_sub(t, code, text, after="a")


def trap_volume(rng: random.Random, base: pymarc.Record, ctx: Context) -> list[pymarc.Record] | None:
    """Another volume: v. 1 and v. 2 (上册 and 下册) of the book, each with its own extent and ISBN."""
    t = title_field(base)
    current = sub(t, _part_code(base)) or ""
    if sub(t, "p" if is_marc21(base) else "i"):
        return None  # a named part: its number goes with its name
    m = re.search(r"\d+", current)
    out = []
    if current and m:
        rec = fresh_copy(base)
        n = int(m.group(0))
        set_sub(title_field(rec), _part_code(rec), current[:m.start()] + str(n + 1) + current[m.end():])
        _scale_pages(rng, rec, 0.1, 0.3)
        replace_isbns(rng, rec, drop_chance=0.1)
        return [rec]
    if current in ("上册", "上"):
        rec = fresh_copy(base)
        set_sub(title_field(rec), _part_code(rec), current.replace("上", "下"))
        _scale_pages(rng, rec, 0.1, 0.3)
        replace_isbns(rng, rec, drop_chance=0.1)
        return [rec]
    if current:
        return None
    count = rng.choice((2, 3)) if not ctx.chinese else 2
    for n in (1, 2):
        rec = fresh_copy(base)
        _set_part(rec, _part_text(n, ctx, count))
        _scale_pages(rng, rec, 0.1, 0.3)
        replace_isbns(rng, rec, drop_chance=0.1)
        out.append(rec)
    return out


_TITLE_NUMBER = re.compile(r"\d+")


def trap_title_number(rng: random.Random, base: pymarc.Record, ctx: Context) -> list[pymarc.Record] | None:
    """A number in the title that differs ('96 / '97 report, no. 3 / no. 4, 1792 / 1793; vol. 8 /
    vol. 10 or 第2版 / 第3版 added to a title without one)."""
    t = title_field(base)
    a = sub(t, "a") or ""
    numbers = list(_TITLE_NUMBER.finditer(a))
    if numbers:
        rec = fresh_copy(base)
        m = rng.choice(numbers)
        n = int(m.group(0))
        new = str(n + rng.choice((1, 1, 2, -1)) if n > 1 else n + 1).zfill(len(m.group(0)))
        set_sub(title_field(rec), "a", a[:m.start()] + new + a[m.end():])
        for x in rec.get_fields("880"):
            if (sub(x, "6") or "").startswith("245"):
                xa = sub(x, "a") or ""
                set_sub(x, "a", xa.replace(m.group(0), new, 1))
        year = year_of(rec)
        if year and len(m.group(0)) in (2, 4) and rng.random() < 0.5:
            _set_year(rec, year + 1)
        _scale_pages(rng, rec, 0.08, 0.3)
        replace_isbns(rng, rec)
        return [rec]
    out = []
    first_n = rng.randint(2, 8)
    for n in (first_n, first_n + rng.choice((1, 2))):
        rec = fresh_copy(base)
        t2 = title_field(rec)
        a2 = sub(t2, "a") or ""
        core, end = strip_isbd(a2), _end_punct(a2)
        if ctx.chinese:
            added = f"{core} 第{n}版" if is_cjk(core) else f"{core} di {n} ban"
        else:
            added = f"{core}, vol. {n}"
        set_sub(t2, "a", added + end)
        for x in rec.get_fields("880"):
            if (sub(x, "6") or "").startswith("245"):
                xa = sub(x, "a") or ""
                set_sub(x, "a", f"{strip_isbd(xa)} 第{n}版{_end_punct(xa)}" if ctx.chinese
                        else f"{strip_isbd(xa)}, vol. {n}{_end_punct(xa)}")
        _scale_pages(rng, rec, 0.08, 0.3)
        replace_isbns(rng, rec)
        out.append(rec)
    return out


def trap_set(rng: random.Random, base: pymarc.Record, ctx: Context) -> list[pymarc.Record] | None:
    """A multi-volume set ("2 v.", "2册") against a single paged volume."""
    f = first(base, "300") if is_marc21(base) else first(base, "215")
    value = sub(f, "a") or ""
    rec = fresh_copy(base)
    g = first(rec, "300") if is_marc21(rec) else first(rec, "215")
    if g is None:
        return None
    end = _end_punct(value) if is_marc21(rec) else ""
    if _MULTI_VOLUME.match(value):
        pages = rng.randint(180, 620)
        set_sub(g, "a", (f"{pages}页" if ctx.chinese else f"{pages} p.") + end.rstrip("."))
    elif pages_match(value) or re.match(r"\s*1\s*v\.", value):  # "1 v." is one volume: the set is 2-3
        count = rng.choice((2, 2, 3))
        set_sub(g, "a", (f"{count}册" if ctx.chinese else f"{count} v.") + end.rstrip("."))
    else:
        return None
    replace_isbns(rng, rec, drop_chance=0.3)
    return [rec]


def romanise(text: str) -> str:
    """Chinese in pinyin syllables, as MARC21 romanised fields give it ("Zhong guo tong ji chu ban she")."""
    syllables = lazy_pinyin(_T2S.convert(text.replace("\u3000", "")))
    out = " ".join(x for x in syllables if x.strip())
    return out[:1].upper() + out[1:]


def _rename_house(rec: pymarc.Record, current: str, own: str, new: str) -> None:
    """A corporate entry that names the old publisher itself (LC's 整党学习材料: "本社编", compiled by this house,
    with the house as 710) names the new one: another publisher's edition compiled by itself says so, and a
    record that kept the old house beside "本社编" would contradict itself."""
    keys = {k for k in (_alnum_key(_T2S.convert(strip_isbd(x).replace("\u3000", "")))[:6] for x in (current, own))
            if k}
    for f in rec.get_fields("710", "711", "712", "880"):
        if f.tag == "880" and not (sub(f, "6") or "").startswith(("710", "711")):
            continue
        name = sub(f, "a") or ""
        if _alnum_key(_T2S.convert(strip_isbd(name).replace("\u3000", "")))[:6] in keys:
            vernacular = f.tag == "880" or is_cjk(name)
            set_sub(f, "a", (new if vernacular else romanise(new)) + _end_punct(name))


def trap_publisher(rng: random.Random, base: pymarc.Record, ctx: Context) -> list[pymarc.Record] | None:
    """The same title and year from another publisher (another ISBN)."""
    rec = fresh_copy(base)
    f = imprint_field(rec)
    place_c, pub_c, _ = imprint_codes(rec)
    current = strip_isbd(sub(f, pub_c) or "")
    if f is None or not current or _UNNAMED.search(current):
        return None  # against "[s.n.]" another publisher's edition cannot be told from a better-known imprint
    vernacular = [x for x in rec.get_fields("880") if (sub(x, "6") or "").startswith(("260", "264"))]
    romanised_cn = ctx.chinese and not is_cjk(current) and bool(vernacular)
    pool = ctx.pools.publishers_cjk if is_cjk(current) or romanised_cn else ctx.pools.publishers_latin
    own = sub(vernacular[0], "b") if romanised_cn else current
    key = _alnum_key(_T2S.convert(strip_isbd(own or "").replace("\u3000", "")))[:6]
    candidates = [p for p in pool if _alnum_key(_T2S.convert(p[1].replace("\u3000", "")))[:6] != key
                  and _alnum_key(p[1])]
    if not candidates:
        return None
    place, pub = rng.choice(candidates)
    _rename_house(rec, current, own or current, pub)
    if romanised_cn:
        for x in vernacular:
            set_sub(x, "b", pub + _end_punct(sub(x, "b") or ""))
            if place and sub(x, "a"):
                set_sub(x, "a", place + _end_punct(sub(x, "a") or ""))
        pub, place = romanise(pub), romanise(place)
    else:
        for x in vernacular:
            rec.remove_field(x)
            set_sub(f, "6", None)
    set_sub(f, pub_c, pub + _end_punct(sub(f, pub_c) or ""))
    if place and sub(f, place_c):
        set_sub(f, place_c, place + _end_punct(sub(f, place_c) or ""))
    if rng.random() < 0.5:
        _scale_pages(rng, rec, 0.1, 0.3)
    values = _isbn_values(rec)
    fields = _isbn_fields(rec)
    if values:
        new = other_isbn(rng, values[0])
        new = new[:4] + f"{(int(new[4]) + rng.randint(1, 8)) % 10}" + new[5:12]
        new += ean.calc_check_digit(new)
        for g in fields:
            rec.remove_field(g)
        rec.add_ordered_field(_df("020" if is_marc21(rec) else "010", "  ", ("a", new)))
    return [rec]


def _translator_fields(rec: pymarc.Record) -> list[Field]:
    out = []
    for f in rec.get_fields("700", "702"):
        role = " ".join(s.value for s in f.subfields if s.code in ("e", "4")).casefold()
        if any(r in role for r in _ROLES_TRANSLATOR):
            out.append(f)
    return out


def _add_translator(rec: pymarc.Record, name: str, ctx: Context) -> None:
    t = title_field(rec)
    cjk = is_cjk(name)
    if is_marc21(rec) and cjk and _romanised(rec):
        for x in rec.get_fields("880"):
            if (sub(x, "6") or "").startswith("245"):
                xc = sub(x, "c")
                if xc:
                    set_sub(x, "c", f"{strip_isbd(xc)} ; {name}译")
                else:
                    set_sub(x, "c", f"{name}译")
        syllables = romanise(name).split()
        name = f"{syllables[0]}, {''.join(syllables[1:]).capitalize()}" if len(syllables) > 1 else romanise(name)
        c = sub(t, "c")
        plain = f"{name.split(', ')[-1]} {name.split(',')[0]} yi"
        if c:
            set_sub(t, "c", strip_isbd(c) + " ; " + plain + ".")
        else:
            t.add_subfield("c", plain + ".")
        rec.add_ordered_field(_df("700", "1 ", ("a", name + ","), ("e", "translator.")))
    elif is_marc21(rec):
        c = sub(t, "c")
        statement = f"{name}译" if cjk else f"translated by {name.split(', ')[-1]} {name.split(',')[0]}"
        if c:
            set_sub(t, "c", strip_isbd(c) + " ; " + statement + ".")
        else:
            last = t.subfields[-1]
            t.subfields[-1] = Subfield(last.code, strip_isbd(last.value) + " /")
            t.add_subfield("c", statement + ".")
        rec.add_ordered_field(_df("700", "1 ", ("a", name + ","), ("e", "译" if cjk else "translator.")))
    else:
        set_sub(t, "g", f"{name}译")
        rec.add_ordered_field(_df("702", " 0", ("a", name), ("4", "730")))


def trap_translator(rng: random.Random, base: pymarc.Record, ctx: Context) -> list[pymarc.Record] | None:
    """Another translator of the same title (a different translation), each with its own ISBN."""
    pool = ctx.pools.names_cjk if ctx.chinese else ctx.pools.names_latin
    if len(pool) < 3:
        return None
    existing = _translator_fields(base)
    if existing:
        rec = fresh_copy(base)
        old = strip_isbd(sub(existing[0], "a") or "")
        new = rng.choice([n for n in pool if n != old])
        for f in _translator_fields(rec):
            set_sub(f, "a", new + ("," if is_marc21(rec) else ""))
        for f in rec.fields:
            if f.tag in ("245", "200"):
                f.subfields = [Subfield(s.code, s.value.replace(old, new)) for s in f.subfields]
        replace_isbns(rng, rec, drop_chance=0.1)
        return [rec]
    if not is_monograph(base):
        return None
    names = rng.sample(pool, 2)
    out = []
    for name in names:
        rec = fresh_copy(base)
        _add_translator(rec, name, ctx)
        replace_isbns(rng, rec, drop_chance=0.1)
        out.append(rec)
    return out


# What a re-catalogued copy of a trap keeps: a translation whose translator is dropped no longer says which
# translation it is (nothing could tell it from the other one).
TRAP_KEEPS = {"translator": ("author",)}

# Traps whose records differ from each other but not necessarily from the base record: two translations
# made from a base that names no translator (the base may be either of them, catalogued without the
# translator). Pairs of the base with such a trap are left out of the scores (truth "uncertain").
UNCERTAIN_WITH_BASE = {"translator": lambda base: not _translator_fields(base)}


def trap_year_extent(rng: random.Random, base: pymarc.Record, ctx: Context) -> list[pymarc.Record] | None:
    """A year one later with a different extent (a revised reissue), another ISBN or none."""
    rec = fresh_copy(base)
    year = year_of(rec)
    if not year or not _set_year(rec, year + 1) or not _scale_pages(rng, rec, 0.15, 0.45):
        return None
    replace_isbns(rng, rec, drop_chance=0.3)
    return [rec]


def _is_electronic(rec: pymarc.Record) -> bool:
    text = " ".join(s.value for f in rec.get_fields("245", "300", "338", "200", "215", "135")
                    for s in f.subfields).casefold()
    if first(rec, "135") is not None:
        return True
    f007 = first(rec, "007")
    return (f007 is not None and f007.data[:1] == "c") or any(
        w in text for w in ("electronic", "online resource", "电子资源", "在线资源"))


def trap_carrier(rng: random.Random, base: pymarc.Record, ctx: Context) -> list[pymarc.Record] | None:
    """Print vs e-book: 007 cr, 008 form o, 245$h, 300 "1 online resource", 337/338, 856 (MARC21);
    135 and 200$b 电子资源, 215 在线资源 (CNMARC). The ISBN is kept as often as it is replaced."""
    if _is_electronic(base) or leader_type(base) not in ("a", " "):
        return None
    rec = fresh_copy(base)
    number = control_number(rec) or "x"
    if is_marc21(rec):
        rec.add_ordered_field(Field(tag="007", data="cr |||||||||||"))
        f008 = first(rec, "008")
        if f008 is not None and len(f008.data) >= 24:
            f008.data = f008.data[:23] + "o" + f008.data[24:]
        t = first(rec, "245")
        if t is not None and rng.random() < 0.6:
            set_sub(t, "h", "[电子资源]" if ctx.chinese else "[electronic resource]", after="a")
        x = first(rec, "300")
        m = pages_match(sub(x, "a"))
        if x is not None:
            extent = (f"在线资源({m.group('n')}页)" if ctx.chinese else f"1 online resource ({m.group('n')} p.)") \
                if m else ("在线资源" if ctx.chinese else "1 online resource")
            x.subfields = [Subfield("a", extent)]
        rec.add_ordered_field(_df("337", "  ", ("a", "computer"), ("b", "c"), ("2", "rdamedia")))
        rec.add_ordered_field(_df("338", "  ", ("a", "online resource"), ("b", "cr"), ("2", "rdacarrier")))
        rec.add_ordered_field(_df("856", "40", ("u", f"https://ebooks.example.org/{number}")))
    else:
        rec.add_ordered_field(_df("135", "  ", ("a", "drnn ---uuuuu")))
        t = first(rec, "200")
        if t is not None:
            set_sub(t, "b", "电子资源", after="a")
        x = first(rec, "215")
        m = pages_match(sub(x, "a"))
        if x is not None:
            x.subfields = [Subfield("a", f"在线资源({m.group('n')}页)" if m else "在线资源")]
        rec.add_ordered_field(_df("856", "4 ", ("u", f"https://ebooks.example.org/{number}")))
    if rng.random() < 0.5:
        replace_isbns(rng, rec, drop_chance=0.4)
    return [rec]


def leader_type(rec: pymarc.Record) -> str:
    return str(rec.leader)[6:7]


def is_monograph(rec: pymarc.Record) -> bool:
    """A printed book (leader/06 a, leader/07 m): what edition statements and printings apply to."""
    leader = str(rec.leader)
    return leader[6:7] in ("a", " ") and leader[7:8] in ("m", " ")


TRAPS: dict[str, Callable[[random.Random, pymarc.Record, Context], list[pymarc.Record] | None]] = {
    "edition": trap_edition, "volume": trap_volume, "title-number": trap_title_number, "set": trap_set,
    "publisher": trap_publisher, "translator": trap_translator, "year-extent": trap_year_extent,
    "carrier": trap_carrier,
}


# ------------------------------------------------------------------ planning the catalogues

@dataclass
class Settings:
    """How many variants and traps: per Chinese / Western edition (the defaults give ~1,300 records)."""

    chinese_variants: tuple[int, ...] = (1, 2, 2, 3)  # drawn per Chinese edition
    western_variant_chance: float = 0.3
    western_variants: tuple[int, ...] = (1, 1, 2)
    chinese_trap_chance: float = 0.5
    western_trap_chance: float = 0.1
    trap_variant_chance: float = 0.3  # a trap edition also held (re-catalogued) by a second member
    max_ops: int = 4
    reexpress_chance: float = 0.3  # of a Chinese variant being made in the other syntax


@dataclass
class Planned:
    """One output record: its edition, member, where it came from and what was done to it."""

    rec: pymarc.Record
    edition: str
    member: str
    source: str
    ops: list[str]


@dataclass
class Catalogue:
    """Everything generated for one seed: the records per member and the truth."""

    seed: int
    records: list[Planned]
    editions: dict[str, dict]
    hard_negatives: list[dict]
    uncertain: list[dict]  # edition pairs whose record pairs are scored neither way
    problems: list[str]


def make_variant(rng: random.Random, base: pymarc.Record, ctx: Context, member: str,
                 settings: Settings, keep: tuple[str, ...] = ()) -> tuple[pymarc.Record, list[str]]:
    """A same-edition variant of `base`: 1-4 operations drawn at random among those that apply
    (a Chinese book may first be re-expressed in the other syntax); the operations named in `keep` are not
    drawn."""
    rec = without_local_fields(fresh_copy(base))
    ops: list[str] = []
    if ctx.chinese and rng.random() < settings.reexpress_chance:
        rec, label = reexpress(rec, member)
        ops.append(label)
    wanted = rng.randint(1, settings.max_ops)
    names = [n for n in OPS if n not in keep]
    rng.shuffle(names)
    for name in names:
        if len(ops) >= wanted + (1 if ops and ops[0].startswith("reexpress") else 0):
            break
        label = OPS[name](rng, rec, ctx)
        if label:
            ops.append(label)
    if not ops:
        ops.append("none")
    return rec, ops


def without_record_numbers(rec: pymarc.Record) -> pymarc.Record:
    """The record without the numbers that name the base edition's own record (LCCN 010, national
    bibliography number 015 / CNMARC 020): another edition gets numbers of its own, or none."""
    for tag in ("010", "015") if is_marc21(rec) else ("020",):
        for f in rec.get_fields(tag):
            rec.remove_field(f)
    return rec


def without_local_fields(rec: pymarc.Record) -> pymarc.Record:
    """The record without the source library's local fields (9XX, AVA/AVE/OWN holdings, 852/856 of its
    copies): another library's record of the book carries its own."""
    for f in list(rec.fields):
        if not f.tag.isdigit() or f.tag.startswith("9") or f.tag in ("852", "035"):
            rec.remove_field(f)
    return rec


def _context(rec: pymarc.Record, pools: Pools) -> Context:
    return Context(chinese=is_chinese(rec), lang=language(rec), pools=pools)


def plan(seed: int = DEFAULT_SEED, source: str | Path | None = None, settings: Settings | None = None) -> Catalogue:
    """All the records and the truth for one seed (pure: the same seed gives the same plan)."""
    settings = settings or Settings()
    rng = random.Random(seed)
    sources, problems = read_sources(source_dir(source))
    pools = build_pools(sources)
    groups = real_editions(sources)
    files = sorted({s.path for s in sources})
    members = list(MEMBERS)
    file_member = {path: members[(i + seed) % len(members)] for i, path in enumerate(files)}
    records: list[Planned] = []
    editions: dict[str, dict] = {}
    negatives: list[dict] = []
    uncertain: list[dict] = []
    n_edition = 0

    def new_edition(rec: pymarc.Record, origin: str, base: str | None = None) -> str:
        nonlocal n_edition
        n_edition += 1
        eid = f"E{n_edition:04d}"
        editions[eid] = {"title": display_title(rec), "chinese": is_chinese(rec), "origin": origin, "base": base}
        return eid

    def other_member(held: set[str]) -> str:
        free = [m for m in members if m not in held]
        return rng.choice(free or members)

    for group in groups:
        base_src = sources[group[0]]
        eid = new_edition(base_src.rec, "real")
        held = set()
        for i in group:
            s = sources[i]
            member = file_member[s.path]
            held.add(member)
            records.append(Planned(fresh_copy(s.rec), eid, member, s.label, ["real"]))
        ctx = _context(base_src.rec, pools)
        editions[eid]["chinese"] = ctx.chinese
        if ctx.chinese:
            count = rng.choice(settings.chinese_variants)
        else:
            count = rng.choice(settings.western_variants) if rng.random() < settings.western_variant_chance else 0
        for _ in range(count):
            member = other_member(held)
            held.add(member)
            rec, ops = make_variant(rng, base_src.rec, ctx, member, settings)
            records.append(Planned(rec, eid, member, base_src.label, ops))
        if rng.random() >= (settings.chinese_trap_chance if ctx.chinese else settings.western_trap_chance):
            continue
        kinds = list(TRAPS)
        rng.shuffle(kinds)
        for kind in kinds:
            made = TRAPS[kind](rng, base_src.rec, ctx)
            if not made:
                continue
            trap_ids = []
            for trap in made:
                without_local_fields(trap)
                without_record_numbers(trap)
                tid = new_edition(trap, f"trap:{kind}", eid)
                editions[tid]["chinese"] = ctx.chinese
                trap_ids.append(tid)
                member = other_member(set())
                records.append(Planned(trap, tid, member, base_src.label, [f"trap:{kind}"]))
                if rng.random() < settings.trap_variant_chance:
                    rec, ops = make_variant(rng, trap, ctx, other_member({member}), settings,
                                            keep=TRAP_KEEPS.get(kind, ()))
                    records.append(Planned(rec, tid, other_member({member}), base_src.label,
                                           [f"trap:{kind}"] + ops))
            uncertain_base = UNCERTAIN_WITH_BASE.get(kind, lambda _b: False)(base_src.rec)
            for tid in trap_ids:
                if uncertain_base:
                    uncertain.append({"a": eid, "b": tid, "why": f"{kind} trap from a base naming none"})
                else:
                    negatives.append({"a": eid, "b": tid, "kind": kind})
            for x, y in zip(trap_ids, trap_ids[1:], strict=False):
                negatives.append({"a": x, "b": y, "kind": kind})
            break
    negatives += _real_negatives(sources, groups, records, editions)
    return Catalogue(seed, records, editions, negatives, uncertain, problems)


def _real_negatives(sources: list[Source], groups: list[list[int]], records: list[Planned],
                    editions: dict[str, dict]) -> list[dict]:
    """Real editions that share a title proper but are different editions (other edition, year,
    publisher, carrier): hard negatives the real catalogues bring along."""
    edition_of_source = {r.source: r.edition for r in records if r.ops == ["real"]}
    by_title: dict[str, list[str]] = {}
    for group in groups:
        s = sources[group[0]]
        eid = edition_of_source[s.label]
        t = title_field(s.rec)
        key = _alnum_key(strip_isbd(sub(t, "a") or ""))
        if len(key) >= 4:
            by_title.setdefault(key, []).append(eid)
    out = []
    for eids in by_title.values():
        for i, a in enumerate(eids):
            for b in eids[i + 1:]:
                out.append({"a": a, "b": b, "kind": "real-same-title"})
    return out


# ------------------------------------------------------------------ writing

def write(cat: Catalogue, out_dir: str | Path) -> dict:
    """Write one ISO 2709 file per member (records in a seeded order) and truth.json; returns the truth."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(cat.seed * 7 + 1)
    by_member: dict[str, list[Planned]] = {m: [] for m in MEMBERS}
    for p in cat.records:
        by_member[p.member].append(p)
    truth_records: dict[str, dict] = {}
    edition_records: dict[str, list[str]] = {e: [] for e in cat.editions}
    files = []
    for member, planned in by_member.items():
        rng.shuffle(planned)
        name = f"{member}.mrc"
        files.append(name)
        with open(out_dir / name, "wb") as fh:
            for pos, p in enumerate(planned):
                fh.write(p.rec.as_marc())
                label = f"{name}#{pos}"
                edition_records[p.edition].append(label)
                truth_records[label] = {"edition": p.edition, "source": p.source, "ops": p.ops,
                                        "title": display_title(p.rec), "syntax": detect_syntax(p.rec)}
    truth = {
        "seed": cat.seed,
        "files": files,
        "editions": {e: {**info, "records": sorted(edition_records[e], key=_label_order)}
                     for e, info in cat.editions.items()},
        "hard_negatives": cat.hard_negatives,
        "uncertain": cat.uncertain,
        "records": truth_records,
        "source_problems": cat.problems,
    }
    (out_dir / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return truth


def _label_order(label: str) -> tuple[str, int]:
    name, pos = label.rsplit("#", 1)
    return name, int(pos)


def generate(out_dir: str | Path, seed: int = DEFAULT_SEED, source: str | Path | None = None,
             settings: Settings | None = None) -> dict:
    """Plan and write the catalogues for `seed` into `out_dir`; returns the truth."""
    return write(plan(seed, source, settings), out_dir)


def iter_ops() -> Iterator[str]:
    yield from OPS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for MEMBER.mrc files and truth.json")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--source", default=None, help="folder of real MARC records (default ../shared/data/marc)")
    args = ap.parse_args()
    truth = generate(args.out, args.seed, args.source)
    n_chinese = sum(1 for e in truth["editions"].values() if e["chinese"])
    print(f"{len(truth['records'])} records, {len(truth['editions'])} editions ({n_chinese} Chinese), "
          f"{len(truth['hard_negatives'])} hard negatives -> {args.out}")


if __name__ == "__main__":
    main()
