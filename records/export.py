"""A normalised `Record` written back out: MARC 21 (as MARCXML) and Dublin Core, for the union SRU server.

The union catalogue's record is a merged edition, not any one member's MARC, so it is written afresh
from the record model: what the model holds is what other systems get. Holdings go out as MARC 21 852
fields (one per copy: $a member code, $b location, $h call number, $p barcode, $z status), the
standard holdings field rather than the local 952/995 conventions members use among themselves.
Pure functions: no I/O.
"""

from __future__ import annotations

from xml.etree import ElementTree

from lxml import etree
from pymarc import Field, Leader, Subfield
from pymarc import Record as MarcRecord
from pymarc.marcxml import record_to_xml_node

from records.model import Holding, Record

MARCXML_NS = "http://www.loc.gov/MARC21/slim"
SRW_DC_NS = "info:srw/schema/1/dc-schema"
DC_NS = "http://purl.org/dc/elements/1.1/"

_TYPE_OF_RECORD = {"book": "a", "large_print": "a", "ebook": "a", "serial": "a", "ejournal": "a", "audio": "i",
                   "video": "g", "map": "e", "score": "c", "other": "a"}
_BIB_LEVEL = {"serial": "s", "ejournal": "s"}
_FORM_OF_ITEM = {"ebook": "o", "ejournal": "o", "large_print": "d"}  # 008/23
_STATUS_TEXT = {"available": "在架 available", "on_loan": "借出 on loan", "not_for_loan": "不外借 not for loan",
                "in_transit": "在途 in transit", "on_hold": "已被预约 on hold", "unknown": "状态未知 status unknown"}


def _sf(code: str, value: str | None) -> list[Subfield]:
    return [Subfield(code, value)] if value else []


def _field(tag: str, indicators: tuple[str, str], subfields: list[Subfield]) -> Field | None:
    return Field(tag=tag, indicators=list(indicators), subfields=subfields) if subfields else None


def _fixed_008(rec: Record) -> str:
    """A 40-character 008: date entered blank, date type s + year, language, form of item."""
    year = f"{rec.year:04d}" if rec.year and 0 < rec.year < 10000 else "    "
    chars = list(" " * 40)
    chars[6] = "s" if rec.year else "n"
    chars[7:11] = list(year)
    chars[23] = _FORM_OF_ITEM.get(rec.material_type, " ")
    lang = (rec.language or "und")[:3].ljust(3)
    chars[35:38] = list(lang)
    chars[39] = "d"
    return "".join(chars)


def to_marc21(rec: Record, *, control_number: str | None = None,
              holdings: list[Holding] | None = None) -> MarcRecord:
    """The record as MARC 21 bibliographic (UTF-8), with its holdings as 852 fields."""
    marc = MarcRecord(force_utf8=True)
    leader = Leader("00000nam a2200000 a 4500")
    leader[6] = _TYPE_OF_RECORD.get(rec.material_type, "a")
    leader[7] = _BIB_LEVEL.get(rec.material_type, "m")
    marc.leader = leader
    fields: list[Field | None] = [
        Field(tag="001", data=control_number or f"{rec.member}:{rec.record_id}"),
        Field(tag="008", data=_fixed_008(rec)),
    ]
    for isbn in rec.isbns:
        fields.append(_field("020", (" ", " "), _sf("a" if isbn.valid else "z", isbn.isbn13 or isbn.raw)
                             + _sf("q", isbn.qualifier)))
    for issn in rec.issns:
        fields.append(_field("022", (" ", " "), _sf("a", issn)))
    if rec.lccn:
        fields.append(_field("010", (" ", " "), _sf("a", rec.lccn)))
    if rec.language:
        fields.append(_field("041", ("0", " "), _sf("a", rec.language)))
    for code, numbers in sorted(rec.classification.items()):
        tag, ind = {"lcc": ("050", (" ", "4")), "ddc": ("082", ("0", "4"))}.get(code, ("084", (" ", " ")))
        for number in numbers:
            extra = _sf("2", "clc") if tag == "084" and code == "clc" else (_sf("2", code) if tag == "084" else [])
            fields.append(_field(tag, ind, _sf("a", number) + extra))
    authors = list(rec.authors)
    main = authors[0] if authors else None
    if main:
        tag = {"corporate": "110", "meeting": "111"}.get(main.kind, "100")
        fields.append(_field(tag, ("1" if tag == "100" else "2", " "), _sf("a", main.name) + _sf("e", main.role)))
    title_subfields = _sf("a", rec.title) + _sf("b", rec.subtitle) + _sf("n", rec.part)
    fields.append(_field("245", ("1" if main else "0", "0"), title_subfields))
    for parallel in rec.parallel_titles:
        fields.append(_field("246", ("3", "1"), _sf("a", parallel)))
    if rec.edition:
        fields.append(_field("250", (" ", " "), _sf("a", rec.edition)))
    imprint = _sf("a", rec.place) + _sf("b", rec.publisher) + _sf("c", rec.date_text or (str(rec.year) if rec.year else None))
    fields.append(_field("264", (" ", "1"), imprint))
    if rec.extent:
        fields.append(_field("300", (" ", " "), _sf("a", rec.extent)))
    for series in rec.series:
        fields.append(_field("490", ("0", " "), _sf("a", series)))
    for subject in rec.subjects:
        fields.append(_field("650", (" ", "4"), _sf("a", subject)))
    for other in authors[1:]:
        tag = {"corporate": "710", "meeting": "711"}.get(other.kind, "700")
        fields.append(_field(tag, ("1" if tag == "700" else "2", " "), _sf("a", other.name) + _sf("e", other.role)))
    for h in rec.holdings if holdings is None else holdings:
        fields.append(_field("852", (" ", " "), _sf("a", h.member) + _sf("b", h.location) + _sf("h", h.call_number)
                             + _sf("p", h.barcode) + _sf("z", _STATUS_TEXT.get(h.status, h.status))
                             + _sf("y", h.due_date)))
    for f in fields:
        if f is not None:
            marc.add_field(f)
    return marc


def to_marcxml(rec: Record, **kwargs) -> etree._Element:
    """The record as one MARCXML <record> element (namespace http://www.loc.gov/MARC21/slim)."""
    node = record_to_xml_node(to_marc21(rec, **kwargs), namespace=True)
    return etree.fromstring(ElementTree.tostring(node, encoding="utf-8"))  # pymarc builds with ElementTree


def to_dc(rec: Record, *, identifier: str | None = None) -> etree._Element:
    """The record as SRU Dublin Core (info:srw/schema/1/dc-v1.1): title, creators, subjects, publisher,
    date, type, format, identifiers (ISBN, ISSN, the union catalogue's id) and language."""
    root = etree.Element(f"{{{SRW_DC_NS}}}dc", nsmap={"srw_dc": SRW_DC_NS, "dc": DC_NS})

    def add(name: str, value: str | None) -> None:
        if value:
            etree.SubElement(root, f"{{{DC_NS}}}{name}").text = value

    title = rec.title + (f" : {rec.subtitle}" if rec.subtitle else "") + (f". {rec.part}" if rec.part else "")
    add("title", title)
    for a in rec.authors:
        add("creator" if (a.role or "") not in ("译", "譯", "trl", "translator") else "contributor", a.name)
    for s in rec.subjects:
        add("subject", s)
    add("publisher", rec.publisher)
    add("date", str(rec.year) if rec.year else rec.date_text)
    add("type", "Text" if rec.material_type in ("book", "large_print", "ebook", "serial", "ejournal") else rec.material_type)
    add("format", rec.extent)
    add("identifier", identifier)
    for isbn in rec.isbns:
        add("identifier", f"urn:isbn:{isbn.isbn13 or isbn.raw}")
    for issn in rec.issns:
        add("identifier", f"urn:issn:{issn}")
    add("language", rec.language)
    if rec.edition:
        add("description", rec.edition)
    return root
