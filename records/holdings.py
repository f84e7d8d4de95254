"""Holdings and item status as each library system sends them, read into `Holding`s.

Pure. A member's ILS (registry key `ils`, else detected from the record) names a profile: which MARC
fields and subfields carry call number, location, library, barcode, due date and status, and what its
status words mean. Holdings that came beside the record (the Z39.50 OPAC record's holdingsData, as YAZ
renders it in XML, or ISO 20775 `isohold`) are read by `holdings_from_xml` and win over MARC item fields.
An unknown status word is kept in `Holding.status_word`, read as `unknown` (never as available) and
reported in the record's warnings with the word and the member's ILS.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import pymarc
from lxml import etree

from records.errors import RecordError
from records.model import (
    AVAILABLE,
    IN_TRANSIT,
    NOT_FOR_LOAN,
    ON_HOLD,
    ON_LOAN,
    UNKNOWN,
    Holding,
    SerialHolding,
)

__all__ = ["ILS_NAMES", "PROFILES", "ISO20775_NS", "Profile", "ItemField", "detect_ils", "marc_holdings",
           "holdings_from_xml", "read_status", "parse_due", "serial_holdings"]

ILS_NAMES = ("koha", "alma", "aleph", "evergreen", "folio", "horizon", "sierra", "symphony", "polaris", "voyager",
             "tlc", "wms", "huiwen", "interlib", "generic")
ISO20775_NS = "http://www.loc.gov/standards/iso20775/"


@dataclass(frozen=True, slots=True)
class ItemField:
    """One MARC field that carries one copy: the subfield codes of each part (several codes are joined)."""

    tag: str
    call_number: str = ""
    location: str = ""
    library: str = ""
    barcode: str = ""
    due: str = ""
    status: str = ""  # a subfield holding a status word or code
    not_for_loan: str = ""  # a subfield whose value other than 0 means not for loan (Koha 952$7, 995$o)
    ind1: str | None = None  # only fields with this first indicator
    silent: str = UNKNOWN  # the status of a copy whose field says nothing about circulation
    unlisted: str | None = None  # the status of a word the profile does not list (None: unknown + warning)
    call_fallback: str = ""  # subfields joined with "/" when `call_number` is empty (CNMARC 905 $d/$e)
    names_member: bool = False  # the library subfield names the consortium member (union-catalogue use)
    copies: str = ""  # a subfield counting the copies the field stands for (Alma/Aleph AVA $f)
    copies_out: str = ""  # a subfield counting those of them not available (AVA $g)


@dataclass(frozen=True, slots=True)
class Profile:
    """Where one ILS puts holdings in its MARC and what its own status words and codes mean."""

    name: str
    items: tuple[ItemField, ...] = ()
    words: Mapping[str, str] = field(default_factory=dict)  # folded word or code → status, beside COMMON_WORDS


# Status words members send, folded (casefold, spaces collapsed, trailing punctuation off). English words from
# Koha, Evergreen, Polaris, Sierra, Symphony, FOLIO, Alma/Aleph and the Z39.50 OPAC record; Chinese words from
# 汇文 (Libsys), Interlib (图创) and Aleph/Alma in Chinese libraries.
COMMON_WORDS: dict[str, str] = {
    **dict.fromkeys((
        "available", "in", "on shelf", "check shelf", "check shelves", "checked in", "reshelving", "recently returned",
        "not checked out", "in library", "on display", "item in place", "in place",
        "在架", "可借", "在馆", "在馆可借", "在架可借", "可外借", "入藏", "归还", "已归还", "上架", "流通", "可流通",
    ), AVAILABLE),
    **dict.fromkeys((
        "checked out", "check out", "checkedout", "charged", "on loan", "loan", "loaned", "out", "due",
        "overdue", "long overdue", "recalled", "renewed", "borrowed", "lent",
        "借出", "已借出", "外借", "已外借", "借阅中", "出借", "已借", "超期", "续借",
    ), ON_LOAN),
    **dict.fromkeys((
        "in transit", "transit", "intransit", "in-transit", "in transit for hold", "transfer", "in transfer",
        "在途", "调拨", "调拨中", "调拨在途", "运送中", "转送中", "传送中",
    ), IN_TRANSIT),
    **dict.fromkeys((
        "on hold", "held", "hold", "holds", "on holdshelf", "on hold shelf", "on holds shelf", "hold shelf",
        "waiting on hold shelf", "awaiting pickup", "reserved", "waiting", "on reserve for hold",
        "预约", "已预约", "预约中", "预约保留", "预约到书", "预留", "保留",
    ), ON_HOLD),
    **dict.fromkeys((
        "not for loan", "not for circulation", "non-circulating", "noncirculating", "library use only",
        "lib use only", "reference", "reserves", "course reserves", "reading room", "in library use only",
        "lost", "missing", "withdrawn", "discard", "discarded", "damaged", "claims returned", "claimed returned",
        "lost and paid", "billed", "bindery", "at bindery", "in repair", "repair", "in process", "in processing",
        "on order", "ordered", "cataloging", "cataloguing", "technical services", "restricted", "unavailable for loan",
        "馆内阅览", "阅览", "仅供阅览", "室内阅览", "不外借", "不可借", "不流通", "非流通", "参考", "参考书", "保存本",
        "闭架", "剔除", "剔旧", "注销", "丢失", "遗失", "赔书", "已赔", "破损", "修补", "装订", "编目中", "加工中",
        "验收", "采购中", "订购", "典藏", "停借", "下架", "暂停外借",
    ), NOT_FOR_LOAN),
    # known words that say "not on the shelf" without saying why: unknown, never available, not reported
    **dict.fromkeys(("not available", "unavailable", "check holdings", "check_holdings", "possibly available",
                     "unknown", "不可用", "不在架", "状态未知"), UNKNOWN),
}
# Chinese status phrases are often longer ("已借出,应还日期2024-05-01"): these keywords decide, first match wins.
_CHINESE_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("不外借", NOT_FOR_LOAN), ("不可借", NOT_FOR_LOAN), ("不流通", NOT_FOR_LOAN), ("阅览", NOT_FOR_LOAN),
    ("剔除", NOT_FOR_LOAN), ("剔旧", NOT_FOR_LOAN), ("丢失", NOT_FOR_LOAN), ("遗失", NOT_FOR_LOAN),
    ("注销", NOT_FOR_LOAN), ("在途", IN_TRANSIT), ("调拨", IN_TRANSIT), ("预约", ON_HOLD), ("预留", ON_HOLD),
    ("借出", ON_LOAN), ("应还", ON_LOAN), ("超期", ON_LOAN), ("在架", AVAILABLE), ("可借", AVAILABLE),
    ("在馆", AVAILABLE),
)

_KOHA_952 = ItemField("952", call_number="o", location="c", library="a", barcode="p", due="q", status="k",
                      not_for_loan="7", silent=AVAILABLE, names_member=True)
_UNIMARC_995 = ItemField("995", call_number="k", location="e", library="b", barcode="f", due="n",
                         not_for_loan="o", silent=AVAILABLE, names_member=True)
_CN_905 = ItemField("905", call_number="s", location="c", library="a", barcode="b", call_fallback="de",
                    names_member=True)
_MARC_852 = ItemField("852", call_number="khim", location="bc", barcode="p", call_fallback="j")
_AVA = ItemField("AVA", call_number="d", location="c", library="q", status="e", copies="f", copies_out="g")

PROFILES: dict[str, Profile] = {
    "koha": Profile("koha", (_KOHA_952, _UNIMARC_995)),
    "generic": Profile("generic", (_KOHA_952, _UNIMARC_995, _CN_905, _MARC_852)),
    "alma": Profile("alma", (_AVA, _MARC_852)),
    "aleph": Profile("aleph", (_AVA, ItemField("Z30", call_number="3", location="2", library="1", barcode="5"),
                               _MARC_852, _CN_905)),
    # Evergreen: 852 4_ $a copy location, $b circulating library, $c call number, $g barcode, $n status
    "evergreen": Profile("evergreen", (ItemField("852", call_number="c", location="a", library="b", barcode="g",
                                                 status="n", ind1="4"),),
                         {"on holds shelf": ON_HOLD, "reserves": NOT_FOR_LOAN}),
    # Polaris: 852 $a library, $b collection, $h call number, $p barcode, $r status (In/Out/Held...), $u due date
    "polaris": Profile("polaris", (ItemField("852", call_number="h", location="b", library="a", barcode="p",
                                             status="r", due="u"),),
                       {"in": AVAILABLE, "out": ON_LOAN, "held": ON_HOLD, "transferred": IN_TRANSIT,
                        "in-repair": NOT_FOR_LOAN, "unavailable": NOT_FOR_LOAN, "routed": IN_TRANSIT}),
    # FOLIO's MARC 952 (mod-rs / EBSCO Z39.50): $b barcode, $h call number; status only in the OPAC record
    "folio": Profile("folio", (ItemField("952", call_number="h", location="d", library="c", barcode="b"),)),
    # Symphony: 926 $a library, $b current location (a code: CHECKEDOUT, MISSING... else on the shelf), $c call
    "symphony": Profile("symphony", (ItemField("926", call_number="c", location="b", library="a", status="b",
                                               unlisted=AVAILABLE),
                                     ItemField("999", call_number="a", location="l", library="m", barcode="i",
                                               status="k", unlisted=AVAILABLE)),
                        {"checkedout": ON_LOAN, "reserves": NOT_FOR_LOAN, "missing": NOT_FOR_LOAN,
                         "discard": NOT_FOR_LOAN, "lost": NOT_FOR_LOAN, "intransit": IN_TRANSIT,
                         "holds": ON_HOLD, "lost-assum": NOT_FOR_LOAN, "lost-claim": NOT_FOR_LOAN,
                         "inprocess": NOT_FOR_LOAN, "on-order": NOT_FOR_LOAN, "repair": NOT_FOR_LOAN}),
    # TLC: 982 $1 available now (y/n), $b library, $c location, $i barcode, $m call number; 949 without status
    "tlc": Profile("tlc", (ItemField("982", call_number="m", location="c", library="b", barcode="i", status="1"),
                           ItemField("949", call_number="c", location="a", barcode="g")),
                   {"y": AVAILABLE, "n": UNKNOWN}),
    # Sierra: 945 item fields, $s a one-letter status code ("-" on the shelf)
    "sierra": Profile("sierra", (ItemField("945", call_number="a", location="l", barcode="i", status="s",
                                           due="h"),),
                      {"-": AVAILABLE, "o": NOT_FOR_LOAN, "m": NOT_FOR_LOAN, "n": NOT_FOR_LOAN, "z": NOT_FOR_LOAN,
                       "$": NOT_FOR_LOAN, "t": IN_TRANSIT, "!": ON_HOLD, "p": NOT_FOR_LOAN, "w": NOT_FOR_LOAN,
                       "d": NOT_FOR_LOAN, "r": NOT_FOR_LOAN, "e": NOT_FOR_LOAN}),
    # Horizon: 949/999 item fields without circulation status (the OPAC record carries it)
    "horizon": Profile("horizon", (ItemField("999", call_number="ab", location="l", barcode="i"),
                                   ItemField("949", call_number="ab", location="l", barcode="i"))),
    "voyager": Profile("voyager", (_MARC_852,)),
    "wms": Profile("wms", (_MARC_852,)),
    # 汇文 and Interlib serve CNMARC: 905 (库藏) and 995 items, status words in Chinese (COMMON_WORDS)
    "huiwen": Profile("huiwen", (_CN_905, _UNIMARC_995)),
    "interlib": Profile("interlib", (_CN_905, _UNIMARC_995)),
}

_SPACES = re.compile(r"\s+")
_TRAIL = " \t.:;,/-=。，；：、"
_CJK = re.compile(r"[\u3400-\u9fff]")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                        "dec"), 1)}
_ISO_DATE = re.compile(r"(?<!\d)(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?!\d)")
_COMPACT_DATE = re.compile(r"(?<!\d)(20\d\d|19\d\d)(\d\d)(\d\d)(?!\d)")
_US_DATE = re.compile(r"(?<!\d)(\d{1,2})[-/](\d{1,2})[-/](\d{2}|\d{4})(?!\d)")
_MONTH_DATE = re.compile(r"\b([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2}),?\s+(\d{4})\b")
_DATE_ANY = re.compile(r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?|\d{1,2}[-/]\d{1,2}[-/]\d{2,4}|\d{8}|"
                       r"[A-Za-z]{3}[a-z]*\.?\s+\d{1,2},?\s+\d{4}|\d{2}:\d{2}(:\d{2})?")


def _fold(word: str) -> str:
    s = unicodedata.normalize("NFKC", word).casefold()
    return _SPACES.sub(" ", s).strip(_TRAIL)


def _tidy(text: str | None) -> str | None:
    if text is None:
        return None
    s = _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip().rstrip(" /:;,=")
    return s or None


def _date(y: int, m: int, d: int) -> str | None:
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def parse_due(text: str | None) -> str | None:
    """A due date as members write it ("2024-05-01", "2024/5/1", "12-15-23", "Dec 15 2023", "20240501") as
    YYYY-MM-DD, or None."""
    if not text:
        return None
    if m := _ISO_DATE.search(text):
        return _date(int(m[1]), int(m[2]), int(m[3]))
    if m := _MONTH_DATE.search(text):
        month = _MONTHS.get(m[1].lower())
        return _date(int(m[3]), month, int(m[2])) if month else None
    if m := _US_DATE.search(text):
        year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
        return _date(year, int(m[1]), int(m[2]))
    if m := _COMPACT_DATE.search(text):
        return _date(int(m[1]), int(m[2]), int(m[3]))
    return None


def read_status(word: str | None, profile: Profile | None = None) -> tuple[str | None, str | None]:
    """What a member's status word means: (status, due date), or (None, due) when the word is not known.

    The profile's own words come first, then the shared vocabulary; a date in the phrase ("DUE 12-15-23",
    "借出 应还日期:2024-05-01") is the due date and the words around it decide.
    """
    if not word or not word.strip():
        return None, None
    folded = _fold(word)
    words = profile.words if profile else {}
    for table in (words, COMMON_WORDS):
        if folded in table:
            return table[folded], None
    due = parse_due(word)
    rest = _fold(_DATE_ANY.sub(" ", unicodedata.normalize("NFKC", word))) if due else folded
    rest = rest.rstrip(" :：").removesuffix("应还日期").removesuffix("还书日期").strip(_TRAIL + "：() （）")
    for table in (words, COMMON_WORDS):
        if rest in table:
            status = table[rest]
            return status, due if status == ON_LOAN else None
    if due and rest in ("", "due date", "due back", "应还日期", "还书日期", "到期"):
        return ON_LOAN, due
    if _CJK.search(folded):
        for key, status in _CHINESE_KEYWORDS:
            if key in folded:
                return status, due if status == ON_LOAN else None
    return None, due


def _unknown_word(warnings: list[str], member: str, ils: str, word: str, item: str | None) -> None:
    warnings.append(f"unknown item status {word!r} from member {member or '?'} (ILS {ils}) for item "
                    f"{item or '?'}: read as unknown, not as available; add the word to the {ils} profile")


# ---------------------------------------------------------------- MARC item fields

def _codes(f: pymarc.Field, codes: str) -> list[str]:
    return [sf.value for sf in f.subfields if sf.code in codes and sf.value and sf.value.strip()]


def _part(f: pymarc.Field, codes: str) -> str | None:
    if not codes:
        return None
    return _tidy(" ".join(v.strip() for v in _codes(f, codes))) if len(codes) > 1 else _tidy(next(
        iter(_codes(f, codes)), None))


def _item(f: pymarc.Field, spec: ItemField, profile: Profile, member: str, warnings: list[str],
          library_names_member: bool) -> Holding | None:
    if spec.ind1 is not None and (f.indicator1 or " ") != spec.ind1:
        return None
    call, location, library, barcode = (_part(f, spec.call_number), _part(f, spec.location),
                                        _part(f, spec.library), _part(f, spec.barcode))
    if call is None and spec.call_fallback:
        call = "/".join(p for p in (_tidy(v) for v in _codes(f, spec.call_fallback)) if p) or None
    if not any((call, location, library, barcode)):
        return None
    word = _part(f, spec.status)
    due_text = _part(f, spec.due)
    due = parse_due(due_text)
    status: str | None = None
    if word:
        status, word_due = read_status(word, profile)
        due = due or word_due
        if status is None:
            if spec.unlisted is not None:
                status = spec.unlisted
            else:
                status = UNKNOWN
                _unknown_word(warnings, member, profile.name, word, barcode)
    else:
        nfl = (_part(f, spec.not_for_loan) or "").strip()
        if nfl and nfl != "0":
            status = NOT_FOR_LOAN
        elif due_text:
            status = ON_LOAN
            if due is None:
                warnings.append(f"item {barcode or '?'} has due date {due_text!r}, not YYYY-MM-DD")
        else:
            status = spec.silent
    if status != ON_LOAN:
        due = None
    owner = (library if library_names_member and spec.names_member else None) or member or library or ""
    return Holding(member=owner, call_number=call, location=location, status=status,
                   due_date=due, barcode=barcode, library=library, status_word=word)


def _count(f: pymarc.Field, code: str) -> int | None:
    text = (_part(f, code) or "").strip() if code else ""
    return min(int(text), 100) if text.isdigit() else None


def _copies(f: pymarc.Field, spec: ItemField, h: Holding) -> list[Holding]:
    """A holdings-level field (AVA) as one Holding per copy it counts: the available ones first."""
    total = _count(f, spec.copies)
    if not total:
        return [h]
    out_count = min(_count(f, spec.copies_out) or 0, total)
    shelf = total - out_count if h.status == AVAILABLE else 0
    gone = Holding(h.member, h.call_number, h.location, UNKNOWN, None, h.barcode, h.library, "unavailable")
    return [h] * shelf + [gone if h.status == AVAILABLE else h] * (total - shelf)


def _tags(rec: pymarc.Record) -> dict[str, list[pymarc.Field]]:
    by_tag: dict[str, list[pymarc.Field]] = {}
    for f in rec.fields:
        by_tag.setdefault(f.tag, []).append(f)
    return by_tag


def detect_ils(rec: pymarc.Record) -> str:
    """The ILS a record's holdings fields look like it came from ("generic" when nothing tells)."""
    by_tag = _tags(rec)

    def has(tag: str, *codes: str, ind1: str | None = None) -> bool:
        return any((ind1 is None or f.indicator1 == ind1) and all(f.get(c) for c in codes)
                   for f in by_tag.get(tag, ()) if not f.is_control_field())

    if "AVA" in by_tag:
        return "alma"
    if "Z30" in by_tag:
        return "aleph"
    if any(f.indicator1 == "f" and _UUID.match(f.get("i") or f.get("s") or "")
           for f in by_tag.get("999", ()) if not f.is_control_field()):
        return "folio"
    if has("852", "g", "n", ind1="4"):
        return "evergreen"
    if has("852", "p", "r"):
        return "polaris"
    if has("982", "1"):
        return "tlc"
    if has("926", "b"):
        return "symphony"
    if any((f.get("y") or "").startswith(".i") for f in by_tag.get("945", ()) if not f.is_control_field()):
        return "sierra"
    if has("952", "k") or has("952", "p") or has("952", "o"):
        return "koha"
    return "generic"


def marc_holdings(rec: pymarc.Record, *, member: str, ils: str | None, warnings: list[str],
                  syntax: str = "marc21") -> list[Holding]:
    """The copies a record's own fields list, read by the member's ILS profile (detected when `ils` is None).

    When a profile has several item tags, the first tag that gives copies is used (so a TLC 982 and its 949
    twin are not counted twice). Without a declared ILS, a 952$a/995$b/905$a names the holding member, as
    union-catalogue records and the test bed write it; a member declared `koha` keeps its own code.
    """
    name = ils or detect_ils(rec)
    profile = PROFILES.get(name) or PROFILES["generic"]
    by_tag = _tags(rec)
    specs = profile.items
    if syntax == "unimarc" and name in ("generic", "koha"):  # UNIMARC has 852/952 for other purposes
        specs = tuple(s for s in specs if s.tag in ("995", "905"))
    elif syntax != "unimarc" and name == "generic":
        specs = tuple(s for s in specs if s.tag not in ("995", "905"))
    for spec in specs:
        items = []
        for f in by_tag.get(spec.tag, ()):
            if not f.is_control_field() and (h := _item(f, spec, profile, member, warnings, ils is None)):
                items.extend(_copies(f, spec, h))
        if items:
            return items
    return []


# ---------------------------------------------------------------- holdings beside the record (XML)

def _local(el: etree._Element) -> str:
    tag = el.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _kids(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if _local(c) == name]


def _kid(el: etree._Element | None, name: str) -> etree._Element | None:
    if el is None:
        return None
    return next((c for c in el if _local(c) == name), None)


def _txt(el: etree._Element | None, name: str | None = None) -> str | None:
    node = _kid(el, name) if name else el
    if node is None:
        return None
    return _tidy("".join(node.itertext()))


def _flag(el: etree._Element | None, name: str) -> bool | None:
    node = _kid(el, name)
    if node is None:
        return None
    value = (node.get("value") or "".join(node.itertext())).strip().lower()
    if value in ("1", "true", "yes", "y"):
        return True
    if value in ("0", "false", "no", "n"):
        return False
    return None


def _opac_circulation(circ: etree._Element | None, note: str | None, profile: Profile, member: str, ils: str,
                      warnings: list[str], item: str | None) -> tuple[str, str | None, str | None]:
    """(status, due date, status word) of one OPAC-record circulation entry (YAZ's XML names)."""
    now = _flag(circ, "availableNow")
    on_hold = _flag(circ, "onHold")
    due = parse_due(_txt(circ, "availablityDate") or _txt(circ, "availabilityDate"))
    words = [w for w in (_txt(circ, "restrictions"), _txt(circ, "availableThru"), note) if w]
    if now is True:
        return AVAILABLE, None, next(iter(words), None)
    for word in words:
        status, word_due = read_status(word, profile)
        if status is not None and (now is None or status != AVAILABLE):
            due = due or word_due
            return status, due if status == ON_LOAN else None, word
    if now is False:
        if on_hold:
            return ON_HOLD, None, None
        if due:
            return ON_LOAN, due, None
    if words:  # a word we cannot read: say so, read as unknown
        _unknown_word(warnings, member, ils, words[0], item)
    return UNKNOWN, None, next(iter(words), None)


def _opac_holdings(root: etree._Element, profile: Profile, member: str, warnings: list[str]) -> list[Holding]:
    out: list[Holding] = []
    for h in (c for c in root.iter() if _local(c) == "holding"):
        library = _txt(h, "localLocation") or _txt(h, "nucCode")
        location = _txt(h, "shelvingLocation") or _txt(h, "shelvingData")
        call = _txt(h, "callNumber")
        note = _txt(h, "publicNote")
        circs = [c for cs in _kids(h, "circulations") for c in _kids(cs, "circulation")]
        for circ in circs or [None]:
            barcode = _txt(circ, "itemId") if circ is not None else None
            status, due, word = _opac_circulation(circ, note, profile, member, profile.name, warnings, barcode)
            where = (_txt(circ, "temporaryLocation") if circ is not None else None) or location
            out.append(Holding(member=member or library or "", call_number=call, location=where, status=status,
                               due_date=due, barcode=barcode, library=library, status_word=word))
    return out


_ISO_AVAILABLE = {"1", "available", "availablenow"}
_ISO_NOT = {"0", "2", "notavailable", "unavailable", "not available"}


def _iso_copy(el: etree._Element, library: str | None, member: str, ils: str,
              warnings: list[str]) -> Holding:
    barcode = _txt(_kid(el, "pieceIdentifier"), "value")
    info = _kid(el, "availabilityInformation")
    codes = [(_fold(_txt(s, "availabilityStatus") or ""), parse_due(_txt(s, "dateTimeAvailable")))
             for s in _kids(info, "status")] if info is not None else []
    status, due, word = UNKNOWN, None, None
    if codes:
        word = codes[0][0] or None
        if any(c in _ISO_AVAILABLE for c, _ in codes):
            status, word = AVAILABLE, next(c for c, _ in codes if c in _ISO_AVAILABLE)
        elif all(c in _ISO_NOT for c, _ in codes):
            dates = [d for _, d in codes if d]
            status, due = (ON_LOAN, min(dates)) if dates else (UNKNOWN, None)
        elif word and word not in ("possiblyavailable", "unknown", "3"):
            _unknown_word(warnings, member, ils, word, barcode)
    return Holding(member=member or library or "", call_number=_txt(el, "shelfLocator"),
                   location=_txt(el, "sublocation"), status=status, due_date=due, barcode=barcode,
                   library=library, status_word=word)


def _iso_holdings(root: etree._Element, member: str, ils: str, warnings: list[str]) -> list[Holding]:
    out: list[Holding] = []
    for h in (c for c in root.iter(f"{{{ISO20775_NS}}}holding")):
        library = _txt(h, "physicalLocation")
        for simple in _kids(h, "holdingSimple"):
            out.extend(_iso_copy(c, library, member, ils, warnings) for c in _kids(simple, "copyInformation"))
        for structured in _kids(h, "holdingStructured"):
            for s in _kids(structured, "set"):
                for comp in _kids(s, "component"):
                    copy = _iso_copy(comp, library, member, ils, warnings)
                    if copy.location is None or copy.call_number is None:
                        copy = Holding(copy.member, copy.call_number or _txt(s, "shelfLocator"),
                                       copy.location or _txt(s, "sublocation"), copy.status, copy.due_date,
                                       copy.barcode, copy.library, copy.status_word)
                    out.append(copy)
    return out


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True)


def holdings_from_xml(data: bytes | etree._Element, *, member: str, ils: str | None,
                      warnings: list[str]) -> list[Holding]:
    """The copies in holdings sent beside a record: ISO 20775 (`isohold`) or the OPAC record's holdingsData
    (YAZ's XML: holding/circulations/circulation with availableNow, itemId, restrictions...)."""
    if isinstance(data, bytes):
        try:
            root = etree.fromstring(data, _parser())
        except etree.XMLSyntaxError as exc:
            raise RecordError(f"the holdings beside the record are not XML: {exc}", member=member or None) from exc
    else:
        root = data
    name = ils or "generic"
    profile = PROFILES.get(name) or PROFILES["generic"]
    if root.tag == f"{{{ISO20775_NS}}}holdings" or root.find(f".//{{{ISO20775_NS}}}holding") is not None:
        return _iso_holdings(root, member, name, warnings)
    return _opac_holdings(root, profile, member, warnings)


# ---------------------------------------------------------------- serial holdings (what runs of a journal)

def serial_holdings(rec: pymarc.Record, *, member: str, syntax: str = "marc21",
                    by_tag: Mapping[str, list[pymarc.Field]] | None = None) -> list[SerialHolding]:
    """The print runs of a serial a MARC 21 record states: 866 textual holdings ($a, with a $z note naming gaps),
    853/863 captions and coded values (rendered as text), and on serial records an 852 $3 ("Vol. 52 (1933)-").

    CNMARC records: records/cnmarc_holdings.py (905 $f, an embedded 866).
    `by_tag`: the record's fields by tag, when the caller has gathered them already.
    """
    by_tag = _tags(rec) if by_tag is None else by_tag  # the normaliser's own index of the fields, when given
    if syntax == "unimarc":
        from records.cnmarc_holdings import cnmarc_serial_holdings

        return cnmarc_serial_holdings(rec, member=member, by_tag=by_tag)
    if "866" not in by_tag and "863" not in by_tag and "852" not in by_tag:
        return []
    locations = {}
    for f in by_tag.get("852", ()):
        if not f.is_control_field():
            link = (f.get("8") or "").split(".")[0]
            locations[link] = (_tidy(f.get("b") or f.get("a")), _tidy(" ".join(_codes(f, "hij"))) or None)
    default = next(iter(locations.values()), (None, None)) if len(locations) == 1 else (None, None)
    out: list[SerialHolding] = []
    for f in by_tag.get("866", ()):
        if f.is_control_field():
            continue
        text = " ".join(v.strip() for v in _codes(f, "a"))
        note = " ".join(v.strip() for v in _codes(f, "z"))
        if note and re.search(r"缺|lack|deficient|missing|wanting", note, re.IGNORECASE):
            text = f"{text}; {note}" if text else note
        if text:
            where = locations.get((f.get("8") or "").split(".")[0], default)
            out.append(SerialHolding(member, text, where[0], where[1], "866"))
    captions = [((f.get("8") or ""), {sf.code: sf.value for sf in f.subfields}) for f in by_tag.get("853", ())
                if not f.is_control_field()]
    values = [((f.get("8") or ""), {sf.code: sf.value for sf in f.subfields}) for f in by_tag.get("863", ())
              if not f.is_control_field()]
    if values and not out:  # 866 is the summary of the same runs when both are there
        from records.coverage import coded_coverage

        coded = coded_coverage(captions, values)
        if coded.spans:
            where = default
            out.append(SerialHolding(member, coded.text(), where[0], where[1], "863"))
    if not out and str(rec.leader)[7:8] in ("s", "i"):
        for f in by_tag.get("852", ()):
            statement = (f.get("3") or "").strip() if not f.is_control_field() else ""
            if statement and re.search(r"\d", statement):
                out.append(SerialHolding(member, statement, _tidy(f.get("b") or f.get("a")),
                                         _tidy(" ".join(_codes(f, "hij"))) or None, "852$3"))
    return out
