"""MARC21 and UNIMARC/CNMARC records mapped onto the one `Record` model, holdings included.

Pure and fast: it runs on every record of a harvest. What had to be guessed or repaired is listed in
`Record.warnings`; a record that cannot be read at all raises `RecordError` naming member and position.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

import pymarc

from records.errors import RecordError
from records.holdings import holdings_from_xml, marc_holdings, serial_holdings
from records.identifiers import parse_isbn, parse_issn
from records.marc import detect_syntax, read_iso2709, read_marcxml
from records.model import Author, Holding, Isbn, Record

__all__ = ["normalise", "from_raw", "clean", "parse_year"]

# ISBD punctuation that ends a MARC subfield (and its full-width forms), and MARC non-sorting markers.
_TRAILING = " \t/:;,=+\u3000／：；，＝、"
_NONSORT = str.maketrans("", "", "\x88\x89\x98\x9c")
# A final "." that belongs to an abbreviation or an initial stays ("2nd ed.", "Smith, J."); else it is ISBD.
_ABBREVIATION_END = re.compile(
    r"(?:\b[A-Z]|\b(?:ed|eds|edn|etc|co|inc|ltd|jr|sr|dr|no|nos|vol|vols|v|p|pp|ca|cm|mm|ill|illus|min|st|"
    r"rev|enl|corp|dept|univ|b|d|fl|pbk|col|sd|in|ft|comp|trans|tr|repr|ser|pt|pts|bd|aufl|hrsg|éd|ms)|\.\.)\.$",
    re.IGNORECASE)
_INNER_SPACES = re.compile(r"\s{2,}")
_YEAR = re.compile(r"(?<!\d)(1[4-9]\d\d|20\d\d)(?!\d)")
_MINGUO = re.compile(r"民国\s*([0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*年?")
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_CONTROL_CODES = frozenset("0123456789")


def clean(text: str | None) -> str:
    """A subfield as displayed: ISBD trailing punctuation, non-sorting markers and spare spaces removed."""
    if not text:
        return ""
    s = unicodedata.normalize("NFC", text).translate(_NONSORT).strip()
    s = s.rstrip(_TRAILING)
    if s.endswith(".") and not _ABBREVIATION_END.search(s):
        s = s[:-1].rstrip(_TRAILING)
    if s.endswith("。"):
        s = s[:-1]
    return _INNER_SPACES.sub(" ", s).strip()


def _strip_brackets(text: str) -> str:
    s = text.strip()
    if s.startswith("[") and s.endswith("]") and s.count("[") == 1:
        return s[1:-1].strip()
    return s


def _cn_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _CN_DIGITS.get(text[1:], 0)
    if "十" in text:
        tens, _, units = text.partition("十")
        return _CN_DIGITS.get(tens, 0) * 10 + (_CN_DIGITS.get(units, 0) if units else 0)
    return _CN_DIGITS.get(text, 0)


def parse_year(text: str | None) -> int | None:
    """The publication year in a catalogued date: "2009印刷", "c1998", "[2001]", "2009.10", "民国25年"."""
    if not text:
        return None
    m = _YEAR.search(text)
    if m:
        return int(m.group(1))
    m = _MINGUO.search(text)
    if m:
        n = _cn_number(m.group(1))
        return 1911 + n if 0 < n < 39 else None
    return None


def _fixed_year(text: str) -> int | None:
    return int(text) if len(text) == 4 and text.isdigit() and 1400 <= int(text) <= 2100 else None


def _subfields(field: pymarc.Field, codes: str) -> list[str]:
    return [sf.value for sf in field.subfields if sf.code in codes and sf.value and sf.value.strip()]


def _first(field: pymarc.Field | None, code: str) -> str | None:
    if field is None:
        return None
    for sf in field.subfields:
        if sf.code == code and sf.value and sf.value.strip():
            return sf.value
    return None


def _join(parts: Iterable[str], sep: str = " ") -> str:
    return sep.join(p for p in (clean(x) for x in parts) if p)


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return out


class _Fields:
    """The record's fields by tag, gathered once (pymarc's get_fields scans every field per call)."""

    __slots__ = ("by_tag",)

    def __init__(self, rec: pymarc.Record) -> None:
        by_tag: dict[str, list[pymarc.Field]] = {}
        for f in rec.fields:
            by_tag.setdefault(f.tag, []).append(f)
        self.by_tag = by_tag

    def all(self, *tags: str) -> list[pymarc.Field]:
        if len(tags) == 1:
            return self.by_tag.get(tags[0], [])
        out: list[pymarc.Field] = []
        for t in tags:
            out.extend(self.by_tag.get(t, ()))
        return out

    def one(self, tag: str) -> pymarc.Field | None:
        got = self.by_tag.get(tag)
        return got[0] if got else None

    def control(self, tag: str) -> str:
        f = self.one(tag)
        if f is None:
            return ""
        return f.data if f.is_control_field() else (_first(f, "a") or "")


# ---------------------------------------------------------------- holdings

def _holdings(rec: pymarc.Record, syntax: str, member: str, warnings: list[str], ils: str | None,
              holdings_xml: bytes | None) -> list[Holding]:
    """The record's copies: from holdings sent beside it (OPAC record, ISO 20775) when there are any, else
    from its own item fields as the member's ILS writes them (records/holdings.py)."""
    if holdings_xml:
        return holdings_from_xml(holdings_xml, member=member, ils=ils, warnings=warnings)
    return marc_holdings(rec, member=member, ils=ils, warnings=warnings, syntax=syntax)


# ---------------------------------------------------------------- material type

# An extent or a title that says the copy is online, in the words RDA, AACR2 and Chinese cataloguing use.
_ONLINE = re.compile(r"online resource|electronic resource|在线资源|在線資源|电子资源|電子資源|电子图书|電子圖書|网络资源|"
                     r"網絡資源|computer file|e-?book", re.IGNORECASE)
_ONLINE_BRACKETED = re.compile(r"[\[［【](?:" + _ONLINE.pattern + r")[\]］】]", re.IGNORECASE)  # in a title: a GMD


def _online(fs: _Fields, extent_tag: str, extent_codes: str, title_tag: str) -> bool:
    extent = " ".join(v for f in fs.all(extent_tag) for v in _subfields(f, extent_codes))
    title = " ".join(v for f in fs.all(title_tag) for v in _subfields(f, "abh"))
    return bool(_ONLINE.search(extent)) or bool(_ONLINE_BRACKETED.search(title))


def _material_marc21(leader: str, fs: _Fields) -> str:
    rtype, level = leader[6:7], leader[7:8]
    f008 = fs.control("008")
    f007 = fs.control("007")
    gmd = " ".join(_subfields(fs.one("245"), "h")).lower() if fs.one("245") else ""
    if _online(fs, "300", "a", "245") or _ONLINE.search(gmd):
        gmd += " electronic resource"
    media = " ".join(v for f in fs.all("337", "338") for v in _subfields(f, "a")).lower()
    if rtype in ("i", "j") or "sound recording" in gmd or "录音" in gmd:
        return "audio"
    if (rtype == "g" and (f007[:1] in ("v", "m", "") or "video" in gmd or "motion picture" in gmd)
            and "filmstrip" not in gmd and "slide" not in gmd) or "videorecording" in gmd or "录像" in gmd:
        return "video"
    if rtype in ("e", "f"):
        return "map"
    if rtype in ("c", "d"):
        return "score"
    form = f008[23:24] if rtype in ("a", "t", "c", "d", "i", "j", "m", "p") else f008[29:30]
    electronic = (form in ("o", "s", "q") or f007[:2] == "cr" or rtype == "m"
                  or "electronic resource" in gmd or "电子资源" in gmd or "电子图书" in gmd
                  or "online resource" in media or "computer" in media)
    if level in ("s", "i") and rtype in ("a", ""):
        return "ejournal" if electronic else "serial"
    if electronic:
        return "ebook"
    editions = " ".join(v for f in fs.all("250") for v in _subfields(f, "a")).lower()
    if form == "d" or "large print" in gmd or "large print" in editions or "大字" in editions:
        return "large_print"
    if rtype in ("a", "t", ""):
        return "book"
    return "other"


def _material_unimarc(leader: str, fs: _Fields) -> str:
    rtype, level = leader[6:7], leader[7:8]
    gmd = " ".join(v for f in fs.all("200") for v in _subfields(f, "b")).lower()
    if _online(fs, "215", "a", "200") or _ONLINE.search(gmd):
        gmd += " electronic resource"
    f106 = (_first(fs.one("106"), "a") or "")[:1]
    f135 = fs.one("135")
    if rtype in ("i", "j") or "录音" in gmd or "sound recording" in gmd:
        return "audio"
    if rtype == "g" or "录像" in gmd or "视频" in gmd or "videorecording" in gmd:
        return "video"
    if rtype in ("e", "f"):
        return "map"
    if rtype in ("c", "d"):
        return "score"
    electronic = rtype == "l" or f106 == "s" or f135 is not None or "电子" in gmd or "electronic" in gmd
    if level == "s":
        return "ejournal" if electronic else "serial"
    if electronic:
        return "ebook"
    if f106 == "d" or "大字" in gmd:
        return "large_print"
    if rtype in ("a", "b", ""):
        return "book"
    return "other"


# ---------------------------------------------------------------- shared pieces


def _set_imprint(out: Record, imprint, *, place: str, publisher: str, date: str) -> None:
    """Place, publisher and date from an imprint field (MARC21 260/264, UNIMARC 210/214) by subfield code."""
    out.place = clean(_strip_brackets(clean(_first(imprint, place) or ""))) or None
    out.publisher = clean(_strip_brackets(clean(_first(imprint, publisher) or ""))) or None
    text = _first(imprint, date)
    out.date_text = clean(text) or None
    out.year = parse_year(text)


def _isbn(raw: str, qualifier: str | None, *, cancelled: bool = False) -> Isbn:
    text = raw.strip()
    parsed = parse_isbn(text)
    q = clean(qualifier).strip("()（）") if qualifier else None
    if parsed is None:
        return Isbn(raw=clean(text), isbn13=None, qualifier=q or None, valid=False)
    if cancelled:
        return Isbn(raw=parsed.raw, isbn13=None, qualifier=q or parsed.qualifier, valid=False)
    return Isbn(raw=parsed.raw, isbn13=parsed.isbn13, qualifier=q or parsed.qualifier, valid=parsed.valid)


def _subject(field: pymarc.Field, main: str, subdivisions: str) -> str:
    heads, subs = [], []
    for sf in field.subfields:
        if sf.code in main and not subs:
            heads.append(sf.value)
        elif sf.code in subdivisions:
            subs.append(sf.value)
    parts = [_join(heads)] + [clean(s) for s in subs]
    return " -- ".join(p for p in parts if p)


def _language(code: str | None) -> str | None:
    if not code:
        return None
    c = code.strip().lower()[:3]
    return c if len(c) == 3 and c.isalpha() and c.isascii() and c not in ("zxx", "und") else None


# CNMARC linking fields of a serial's earlier and later titles: 430-437 continues, supersedes, absorbed,
# separated from; 440-448 continued by, superseded by, absorbed by, split into, merged with.
_UNI_SUCCESSION = tuple(str(t) for t in (*range(430, 438), *range(440, 449)))


def _linked_title(f: pymarc.Field) -> str:
    """The serial a 780/785 links to: its title ($t), after its body ($a) when the body is named apart
    ("ICN-UCLA Symposia … Abstracts" is not any other "Abstracts")."""
    title, body = _join(_subfields(f, "t")), _join(_subfields(f, "a"))
    if not title or not body or body.rstrip(" .").casefold() == title.rstrip(" .").casefold():
        return title or body
    return f"{body} {title}"


def _language_of_041(f: pymarc.Field | None) -> str | None:
    """The language of the text from 041 when the 008 gives none: "mul" when it names several ("beneng", or
    $a eng $a ben), so that a record in two languages is not taken for another language's edition."""
    codes = [c.strip().lower() for c in _subfields(f, "a")] if f is not None else []
    if len(codes) > 1 or (codes and len(codes[0]) >= 6 and len(codes[0]) % 3 == 0):
        return "mul"
    return _language(codes[0]) if codes else None


def _record_id(fs: _Fields, fallback: str | None, warnings: list[str], rec: pymarc.Record) -> str:
    rid = fs.control("001").strip()
    if rid:
        return rid
    if fallback:
        warnings.append(f"no 001 control number; using {fallback!r} as the record id")
        return str(fallback)
    digest = hashlib.sha1(str(rec).encode("utf-8", "replace")).hexdigest()[:16]
    warnings.append(f"no 001 control number and no position; using content hash {digest}")
    return digest


# ---------------------------------------------------------------- MARC21

_PARALLEL = re.compile(r"\s+[=＝]\s*|^\s*[=＝]\s*")  # ISBD " = " before a parallel title
_ANGLE_NONSORT = re.compile(r"<<([^<>]{1,40})>>")  # non-sorting text as some systems mark it: <<Die>> Welt
_MARKED_NONSORT = re.compile(r"[\x88\x98]([^\x88\x89\x98\x9c]{0,40})[\x89\x9c]")  # NSB ... NSE


def _unmark(text: str) -> str:
    """The text as displayed: non-sorting markers (NSB/NSE, <<...>>) removed, what they enclose kept."""
    return _ANGLE_NONSORT.sub(r"\1", text) if "<<" in text else text


def sort_form(raw: str, nonfiling: str = "") -> str | None:
    """The title proper as it files: the text between non-sorting markers (NSB/NSE control characters
    of UNIMARC and MARC 21, or <<...>>) dropped, or the number of characters a MARC 21 245/240/242/830
    second indicator gives; None when nothing is marked. An indicator that would cut a word is ignored."""
    if _MARKED_NONSORT.search(raw):
        return clean(_MARKED_NONSORT.sub("", raw)) or None
    if "<<" in raw and _ANGLE_NONSORT.search(raw):
        return clean(_ANGLE_NONSORT.sub("", raw)) or None
    if nonfiling.isdigit() and nonfiling != "0":
        n = int(nonfiling)
        text = raw.lstrip()
        if 0 < n < len(text) and (not text[n - 1].isalnum() or not text[n].isalnum()):
            return clean(text[n:]) or None
    return None


def _title_statement(f: pymarc.Field) -> tuple[str, str | None, str | None, list[str], str | None]:
    """(title, subtitle, part, parallel titles, filing form of the title) of a 245 or of its 880, read
    subfield by subfield: a $b (or the rest of a subfield) after ISBD " = " is a parallel title, not a
    subtitle; $n/$p name the part."""
    title: list[str] = []
    subtitle: list[str] = []
    part: list[str] = []
    parallel: list[str] = []
    raw_title: list[str] = []
    after_equals = False  # the previous subfield ended with "=": this one is a parallel title
    for sf in f.subfields:
        code, value = sf.code, sf.value or ""
        if not value.strip() or code not in "abknp":
            continue
        if code in "np":
            part.append(value)
            continue
        if code == "k" and (title or any(x.code == "a" for x in f.subfields)):
            continue
        pieces = _PARALLEL.split(value)
        head, rest = pieces[0], [p for p in pieces[1:] if p.strip()]
        if after_equals:
            parallel.append(value)
        elif code in "ak" and not subtitle:
            title.append(head)
            raw_title.append(head)
            parallel.extend(rest)
        else:
            subtitle.append(head)
            parallel.extend(rest)
        after_equals = value.rstrip().endswith(("=", "＝"))
    text = clean(_unmark(" ".join(title)))
    filing = sort_form(" ".join(raw_title), f.indicator2 or "") if raw_title else None
    return (text, _join(_unmark(s) for s in subtitle) or None, _join(part, ". ") or None,
            [p for p in (clean(_unmark(x)) for x in parallel) if p], filing if filing != text else None)


def _marc21_title_fields(fields: list[pymarc.Field], out: Record) -> None:
    out.title, out.subtitle, out.part, parallel, out.sort_title = _title_statement(fields[0])
    out.parallel_titles.extend(parallel)


def _marc21_linked(fs: _Fields) -> dict[str, list[pymarc.Field]]:
    """880 fields by the tag they render (from $6 "245-01/$1")."""
    out: dict[str, list[pymarc.Field]] = {}
    for f in fs.all("880"):
        link = _first(f, "6") or ""
        out.setdefault(link[:3], []).append(f)
    return out


def _map_marc21(rec: pymarc.Record, fs: _Fields, out: Record) -> None:
    warnings = out.warnings
    linked = _marc21_linked(fs)
    titles = fs.all("245")
    if titles:
        _marc21_title_fields(titles, out)
    elif linked.get("245"):
        _marc21_title_fields(linked["245"], out)
        warnings.append("no 245; title taken from its 880 vernacular field")
    else:
        alt = fs.all("240", "130", "246")
        if alt:
            out.title = _join(_subfields(alt[0], "a"))
            warnings.append("no 245; title taken from a uniform/variant title")
        else:
            warnings.append("no title (245)")
    for f in linked.get("245", [])[:1]:
        title, subtitle, part, parallel, _filing = _title_statement(f)
        if title:
            out.vernacular_parts = [title, subtitle or "", part or ""]
            out.vernacular_titles.append(" ".join(x for x in (title, f": {subtitle}" if subtitle else "", part) if x))
        out.parallel_titles.extend(parallel)
    for f in linked.get("245", [])[1:] + linked.get("246", []) + linked.get("240", []) + linked.get("130", []):
        t = _join(_subfields(f, "abnp"))
        if t:
            out.vernacular_titles.append(t)
    out.vernacular_titles = _dedupe(out.vernacular_titles)
    out.parallel_titles = _dedupe(out.parallel_titles + [_join(_subfields(f, "ab"), " : ") for f in fs.all("246")])
    for f in linked.get("260", []) + [x for x in linked.get("264", []) if x.indicator2 in ("1", " ")]:
        vernacular = clean(_strip_brackets(clean(_first(f, "b") or "")))
        if vernacular:
            out.vernacular_publisher = vernacular
            break

    roles = {"100": "person", "110": "corporate", "111": "meeting",
             "700": "person", "710": "corporate", "711": "meeting"}
    for f in fs.all("100", "110", "111", "700", "710", "711"):
        kind = roles[f.tag]
        name_codes = "abq" if kind == "person" else ("ab" if kind == "corporate" else "acn")
        name = _join(_subfields(f, name_codes))
        if not name:
            continue
        role = _join(_subfields(f, "e" if kind != "meeting" else "j"), ", ") or _join(_subfields(f, "4"), ", ") or None
        out.authors.append(Author(name=name, role=role, kind=kind))
    for tag in ("100", "110", "111", "700", "710", "711"):
        for f in linked.get(tag, []):
            name = _join(_subfields(f, "abq" if tag[1] == "0" else "ab"))
            if name:
                out.authors.append(Author(name=name, role=_join(_subfields(f, "e"), ", ") or None, kind=roles[tag]))

    out.edition = _join(_subfields(fs.one("250"), "ab")) if fs.one("250") else None
    out.edition = out.edition or None

    imprint = fs.one("260")
    if imprint is None:
        f264 = fs.all("264")
        imprint = next((f for f in f264 if f.indicator2 == "1"), f264[0] if f264 else None)
    if imprint is not None:
        _set_imprint(out, imprint, place="a", publisher="b", date="c")
    f008 = fs.control("008")
    if out.year is None:
        out.year = _fixed_year(f008[7:11]) if f008[6:7] not in ("n", "|", "") else None
    out.extent = _join(v for f in fs.all("300") for v in _subfields(f, "abcef")) or None

    for f in fs.all("020"):
        qualifier = _first(f, "q")
        for code, cancelled in (("a", False), ("z", True)):
            for raw in _subfields(f, code):
                out.isbns.append(_isbn(raw, qualifier, cancelled=cancelled))
    out.issns = _dedupe(i for i in (parse_issn(v) for f in fs.all("022") for v in _subfields(f, "a")) if i)
    lccn = _first(fs.one("010"), "a")
    out.lccn = lccn.strip() if lccn else None
    nbn = _first(fs.one("015"), "a")
    out.national_number = clean(nbn) or None

    lang = f008[35:38] if len(f008) >= 38 else ""
    out.language = _language(lang) or _language_of_041(fs.one("041"))
    out.succession_titles = _dedupe(_linked_title(f) for f in fs.all("780", "785"))
    out.material_type = _material_marc21(str(rec.leader), fs)

    subjects = [_subject(f, "abcdqt", "vxyz") for f in fs.all("600", "610", "611", "630", "647", "648",
                                                                   "650", "651", "655")]
    subjects += [clean(v) for f in fs.all("653") for v in _subfields(f, "a")]
    out.subjects = _dedupe(subjects)

    classification: dict[str, list[str]] = {}
    for f in fs.all("084"):
        scheme = (_first(f, "2") or "").strip().lower()
        if scheme.startswith("clc") or scheme in ("zhongtufa", "ztf", "cclc"):
            classification.setdefault("clc", []).extend(clean(v) for v in _subfields(f, "a"))
    for f in fs.all("050", "090"):
        classification.setdefault("lcc", []).extend(clean(v) for v in _subfields(f, "a"))
    for f in fs.all("082"):
        classification.setdefault("ddc", []).extend(clean(v).replace("/", "") for v in _subfields(f, "a"))
    out.classification = {k: _dedupe(v) for k, v in classification.items() if any(v)}

    series = [_join(_subfields(f, "av"), " ; ") for f in fs.all("490", "440")]
    series += [_join(_subfields(f, "anpv"), " ; ") for f in fs.all("830", "800", "810", "811")]
    out.series = _dedupe(series)
    _marc21_search_fields(fs, out)


# ---------------------------------------------------------------- UNIMARC / CNMARC

_CN_ROLE = re.compile(r"(主编|副主编|总主编|编著|编写|编译|编辑|编纂|编选|编注|选编|合编|改编|汇编|主译|翻译|合译|译注|"
                      r"校注|注释|校点|整理|原著|合著|撰文|撰|著|编|译|绘|摄影?|摄|口述|记录|审校|校)\s*$")
_CN_PREFIX = re.compile(r"^\s*[\(（\[［〔【][^\)）\]］〕】]{1,8}[\)）\]］〕】]\s*")  # (清) [美] 〔英〕
_SPLIT_NAMES = re.compile(r"\s*[,，、;；]\s*|\s+等\s*")


def _authors_from_responsibility(statement: str) -> list[Author]:
    """Names and roles from a CNMARC 200$f/$g statement such as "(清)曹雪芹, 高鹗著" or "国家统计局编"."""
    text = clean(statement)
    m = _CN_ROLE.search(text)
    role = m.group(1) if m else None
    if m:
        text = text[:m.start()]
    text = re.sub(r"等$", "", text.strip())
    out = []
    for piece in _SPLIT_NAMES.split(text):
        name = _CN_PREFIX.sub("", piece).strip()
        if name and len(name) <= 60:
            out.append(Author(name=name, role=role, kind="person"))
    return out


def _embedded_titles(field: pymarc.Field) -> list[str]:
    """Titles in a UNIMARC 4xx linking field: the $a after an embedded "$1200..", or plain $a/$t."""
    titles, inside_200, current = [], False, []
    has_embedded = any(sf.code == "1" for sf in field.subfields)
    if not has_embedded:
        return [t for t in (_join(_subfields(field, "atv"), " ; "),) if t]
    for sf in field.subfields:
        if sf.code == "1":
            if current:
                titles.append(" ; ".join(current))
                current = []
            inside_200 = sf.value.startswith("200")
        elif inside_200 and sf.code in "av":
            v = clean(sf.value)
            if v:
                current.append(v)
    if current:
        titles.append(" ; ".join(current))
    return titles


def _map_unimarc(rec: pymarc.Record, fs: _Fields, out: Record) -> None:
    warnings = out.warnings
    f200 = fs.one("200")
    if f200 is not None:
        titles, parallel = [], []
        for t in _subfields(f200, "a"):
            head, *rest = _PARALLEL.split(t)
            titles.append(head)
            parallel.extend(clean(x) for x in rest if x.strip())
        out.title = _join((_unmark(t) for t in titles), " ; ")
        filing = sort_form(titles[0]) if titles else None
        if filing and len(titles) > 1:
            filing = _join([filing, *titles[1:]], " ; ")
        out.sort_title = filing if filing and filing != out.title else None
        subtitles = []
        for e in _subfields(f200, "e"):
            head, *rest = _PARALLEL.split(e)
            subtitles.append(head)
            parallel.extend(clean(x) for x in rest if x.strip())
        out.subtitle = _join(subtitles, " : ") or None
        out.part = _join(_subfields(f200, "hi"), " ") or None
        pinyin = _subfields(f200, "A9")
        out.title_pinyin = clean(pinyin[0]) if pinyin else None
        out.parallel_titles = [clean(v.lstrip("= ")) for v in _subfields(f200, "d")] + parallel
    else:
        warnings.append("no title (200)")
    if out.title_pinyin is None:  # some systems put the pinyin of the title in 9xx $a / 500 $A
        for f in fs.all("500", "517"):
            pinyin = _subfields(f, "A9")
            if pinyin:
                out.title_pinyin = clean(pinyin[0])
                break
    out.parallel_titles = _dedupe(out.parallel_titles + [_join(_subfields(f, "ae"), " : ") for f in fs.all("510")])

    kinds = {"700": "person", "701": "person", "702": "person", "710": "corporate", "711": "corporate",
             "712": "corporate", "720": "family", "721": "family", "722": "family"}
    for f in fs.all(*kinds):
        kind = kinds[f.tag]
        if kind == "corporate" and f.indicator1 == "1":
            kind = "meeting"
        a = clean(_first(f, "a") or "")
        b = clean((_first(f, "b") or "").lstrip(", "))
        if not a:
            continue
        name = f"{a}, {b}" if b and a.isascii() else a + b
        role = _join(_subfields(f, "4"), ", ") or None
        out.authors.append(Author(name=name, role=role, kind=kind))
    if not out.authors and f200 is not None:
        for statement in _subfields(f200, "fg"):
            out.authors.extend(_authors_from_responsibility(statement))

    out.edition = _join(v for f in fs.all("205") for v in _subfields(f, "ab")) or None
    imprint = fs.one("210") or fs.one("214")
    if imprint is not None:
        _set_imprint(out, imprint, place="a", publisher="c", date="d")
    f100 = fs.control("100")
    if out.year is None:
        out.year = _fixed_year(f100[9:13])
    out.extent = _join(v for f in fs.all("215") for v in _subfields(f, "acde")) or None

    for f in fs.all("010"):
        qualifier = _first(f, "b")
        for code, cancelled in (("a", False), ("z", True)):
            for raw in _subfields(f, code):
                out.isbns.append(_isbn(raw, qualifier, cancelled=cancelled))
    out.issns = _dedupe(i for i in (parse_issn(v) for f in fs.all("011") for v in _subfields(f, "a")) if i)
    nbn = fs.one("020")
    if nbn is not None:
        out.national_number = clean(_first(nbn, "b") or "") or None
    out.language = _language(_first(fs.one("101"), "a"))
    out.succession_titles = _dedupe(t for f in fs.all(*_UNI_SUCCESSION) for t in _embedded_titles(f))
    out.material_type = _material_unimarc(str(rec.leader), fs)

    subjects = [_subject(f, "abcdfgt", "jxyz") for f in fs.all("600", "601", "602", "604", "605", "606", "607",
                                                                  "608", "615", "616", "617")]
    subjects += [clean(v) for f in fs.all("610") for v in _subfields(f, "a")]
    out.subjects = _dedupe(subjects)

    classification: dict[str, list[str]] = {}
    for f in fs.all("690"):
        classification.setdefault("clc", []).extend(clean(v) for v in _subfields(f, "a"))
    for f in fs.all("686"):
        scheme = (_first(f, "2") or "").strip().lower()
        if scheme.startswith("clc") or scheme in ("zhongtufa", "ztf", "cclc"):
            classification.setdefault("clc", []).extend(clean(v) for v in _subfields(f, "a"))
    for f in fs.all("676"):
        classification.setdefault("ddc", []).extend(clean(v) for v in _subfields(f, "a"))
    for f in fs.all("680"):
        classification.setdefault("lcc", []).extend(clean(v) for v in _subfields(f, "a"))
    out.classification = {k: _dedupe(v) for k, v in classification.items() if any(v)}

    series = [_join(_subfields(f, "av"), " ; ") for f in fs.all("225")]
    for f in fs.all("410", "411"):
        series.extend(_embedded_titles(f))
    out.series = _dedupe(series)
    _unimarc_search_fields(fs, out)


# ---------------------------------------------------------------- what a library catalogue's indexes cover

# MARC21: the subfields that are a title in each field a title index covers (names go to the author index).
_M21_TITLES = {"130": "adfgklmnoprst", "240": "adfgklmnoprs", "242": "abnp", "243": "adfgklmnoprs",
               "246": "abfgnp", "247": "abfgnp", "440": "anpv", "490": "av", "730": "adfgklmnoprst",
               "740": "anp", "830": "adfgklmnoprstv"}
_M21_NAME_TITLE = "tfklmnoprs"  # the title part of a name/title field (6xx, 7xx, 8xx $t)
_M21_NAMES = {"100": "abcdq", "700": "abcdq", "800": "abcdq", "110": "abcdn", "710": "abcdn", "810": "abcdn",
              "111": "acdn", "711": "acdn", "811": "acdn", "720": "a"}
_M21_SUBJECT = "abcdfgklmnopqrstvxyz"
_M21_NO_NAME_TITLE = frozenset(("630", "730", "740", "830"))  # titles themselves, not name/title entries
_UNI_SUBJECT = "abcdfgjtxyz"
_TEXT_CODES = "abcdefghijklmnopqrstuvwxyz"  # numeric codes are links and sources; capitals are pinyin
# The subfields of a field that the title, author or subject text already holds, so keywords skip them.
_M21_COVERED = {"245": "abnp", **{t: c + _M21_NAME_TITLE for t, c in _M21_NAMES.items()}, **_M21_TITLES}
_UNI_COVERED = {"200": "adehi", "225": "adehiv", **{t: "ab" for t in ("700", "701", "702", "710", "711", "712",
                                                                    "720", "721", "722")}}


def _text(field: pymarc.Field, codes: str) -> str:
    """Subfields as search text: joined as catalogued (the index's analyzer drops punctuation; no cleaning)."""
    return " ".join(sf.value for sf in field.subfields if sf.code in codes and sf.value)


def _marc21_search_fields(fs: _Fields, out: Record) -> None:
    """Titles, names, subjects and keywords a MARC21 OPAC's title, author, subject and keyword indexes cover
    beyond what the record shows: 130/240/242/243/246/247, series, 730/740, 6xx/7xx/8xx $t, 1xx/7xx/8xx/720
    names and the 245 $c statement of responsibility, every 6xx, the rest of the text of 1xx-8xx (not holdings 841-878), and the 880 linked to any of them
    (see docs/local-search.md). Plain joins, no cleaning: it runs on every record of a harvest."""
    titles: list[str] = []
    names: list[str] = []
    subjects: list[str] = []
    keywords: list[str] = []
    for tag, fields in fs.by_tag.items():
        head = tag[:1]
        if head == "0" or head == "9" or ("841" <= tag <= "878") or not tag.isdigit():
            continue
        for f in fields:
            t = tag
            if tag == "880":
                t = (_first(f, "6") or "")[:3]
                if not t.isdigit() or t[:1] in "09" or t == "880" or "841" <= t <= "878":
                    continue
            codes = _M21_TITLES.get(t)
            if codes is not None:
                titles.append(_text(f, codes))
            name_codes = _M21_NAMES.get(t)
            covered = codes or ""
            if name_codes is not None or (t[:1] in "678" and t not in _M21_NO_NAME_TITLE):
                name, title, in_title = [], [], False
                for sf in f.subfields:
                    code = sf.code
                    if code == "t":
                        in_title = True
                    if in_title:
                        if code in _M21_NAME_TITLE and sf.value:
                            title.append(sf.value)
                    elif name_codes is not None and code in name_codes and sf.value:
                        name.append(sf.value)
                if title:
                    titles.append(" ".join(title))
                if name:
                    names.append(" ".join(name))
                covered = _M21_COVERED.get(t, _M21_NAME_TITLE if title else "")
            if t[:1] == "6":
                subjects.append(_text(f, _M21_SUBJECT))
                covered = _M21_SUBJECT
            elif t == "245":
                covered = "abcnp"
                names.append(_text(f, "c"))  # the statement of responsibility, which OPACs index as author
            keywords.append(" ".join(sf.value for sf in f.subfields
                                     if sf.code in _TEXT_CODES and sf.code not in covered and sf.value))
    out.other_titles = _dedupe(titles)
    out.other_names = _dedupe(names)
    out.subject_terms = _dedupe(subjects)
    out.keywords = _dedupe(keywords)


def _unimarc_search_fields(fs: _Fields, out: Record) -> None:
    """What a CNMARC OPAC's indexes cover beyond the titles, names and subjects the record shows: 225 series,
    4xx linked titles ($a, or the embedded 200 $a), every 5xx title; 200 $f/$g responsibility statements as
    names; 60x, 610 and 690 subjects; the rest of
    the text of 2xx-7xx for keywords (see docs/local-search.md). Pinyin subfields ($A, $9) stay out, as in
    the member's OPAC."""
    titles: list[str] = []
    names: list[str] = []
    subjects: list[str] = []
    keywords: list[str] = []
    for tag, fields in fs.by_tag.items():
        head = tag[:1]
        if head not in "234567" or not tag.isdigit():
            continue
        for f in fields:
            covered = _UNI_COVERED.get(tag, "")
            if tag == "225":
                titles.append(_text(f, "adehiv"))
            elif head == "4":
                titles.extend(_embedded_titles(f))
            elif head == "5":
                titles.append(_text(f, "aehi"))
                covered = "aehi"
            elif tag[:2] == "60" or tag == "610" or tag == "690":
                covered = _UNI_SUBJECT if tag != "690" else "a"
                subjects.append(_text(f, covered))
            elif tag == "200":
                names.append(_text(f, "fg"))  # statements of responsibility, which OPACs index as author
                covered = "adefghi"
            keywords.append(" ".join(sf.value for sf in f.subfields
                                     if sf.code in _TEXT_CODES and sf.code not in covered and sf.value))
    out.other_titles = _dedupe(titles)
    out.other_names = _dedupe(names)
    out.subject_terms = _dedupe(subjects)
    out.keywords = _dedupe(keywords)


# ---------------------------------------------------------------- entry points

def normalise(rec: pymarc.Record, *, syntax: str, member: str = "", record_id: str | None = None,
              ils: str | None = None, holdings_xml: bytes | None = None) -> Record:
    """Map a MARC21 or UNIMARC/CNMARC pymarc record (with its 952/995 items) onto `Record`.

    `syntax` is `marc21`, `unimarc` or `auto` (decided by `detect_syntax`); `record_id` is the fallback
    id (usually the position) used, with a warning, when the record has no 001. `ils` names the member's
    holdings profile (detected when None); `holdings_xml` is holdings sent beside the record.
    """
    if syntax not in ("marc21", "unimarc"):
        if syntax in ("auto", "marcxml", "", None):
            syntax = detect_syntax(rec)
        else:
            raise RecordError(f"unknown record syntax {syntax!r}; use marc21, unimarc or auto",
                              member=member or None, position=record_id)
    fs = _Fields(rec)
    warnings = list(getattr(rec, "warnings", None) or ())
    try:
        rid = _record_id(fs, record_id, warnings, rec)
        out = Record(member=member, record_id=rid, syntax=syntax, warnings=warnings)
        if syntax == "marc21":
            _map_marc21(rec, fs, out)
        else:
            _map_unimarc(rec, fs, out)
        out.holdings = _holdings(rec, syntax, member, warnings, ils, holdings_xml)
        out.serial_holdings = serial_holdings(rec, member=member, syntax=syntax, by_tag=fs.by_tag)
    except RecordError:
        raise
    except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise RecordError(f"could not map the {syntax} record: {type(exc).__name__}: {exc}",
                          member=member or None, position=record_id) from exc
    return out


def from_raw(data: bytes, *, syntax: str, charset: str, member: str, position: int, ils: str | None = None,
             holdings: bytes | None = None) -> Record:
    """Read and normalise one record as a connector delivered it (ISO 2709 or MARCXML bytes).

    `syntax` is `marc21`, `unimarc` or `marcxml` (then MARC21 vs UNIMARC is detected from the tags).
    `ils` and `holdings` (XML sent beside the record) go to `normalise`.
    Raises RecordError naming member and position when the record cannot be read.
    """
    if syntax == "marcxml" or (syntax not in ("marc21", "unimarc") and data.lstrip()[:1] == b"<"):
        rec = read_marcxml(data, member=member, position=position)
        syntax = detect_syntax(rec)
    else:
        rec = read_iso2709(data, charset=charset or "auto", member=member, position=position)
        if syntax not in ("marc21", "unimarc"):
            syntax = detect_syntax(rec)
    return normalise(rec, syntax=syntax, member=member, record_id=str(position), ils=ils, holdings_xml=holdings)
