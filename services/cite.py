"""Citing and exporting editions: a formatted citation (GB/T 7714-2015, APA) and RIS, BibTeX, MARCXML files.

Readers writing a thesis cite by GB/T 7714-2015; the rest of the world by APA. The citation is formatted by
citeproc-py from the CSL styles in `services/data/csl/` (the CSL project's, licence kept there), fed a
CSL-JSON item made from the edition's display record. The files reference managers read (EndNote, Zotero,
NoteExpress: RIS; LaTeX: BibTeX) are written by rispy and bibtexparser, and MARCXML by pymarc from the
same record, as MARC21 (a member's CNMARC record is given in MARC21 tags: the export describes the edition,
it is not a copy of one member's record). docs/decisions/0013-citations-and-exports.md.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from records.fold import is_cjk

if TYPE_CHECKING:
    from dedup.work import Work
    from records.model import Author, Record

STYLES = {"gbt7714": "china-national-standard-gb-t-7714-2015-numeric.csl", "apa": "apa.csl"}
FORMATS = {"ris": ("application/x-research-info-systems", "ris"), "bibtex": ("application/x-bibtex", "bib"),
           "marcxml": ("application/marcxml+xml", "xml")}
MAX_EXPORT = 100  # editions in one export (a marked list of a page or two)

# CSL and RIS types for the record model's material types.
_CSL_TYPE = {"book": "book", "ebook": "book", "large_print": "book", "serial": "periodical",
             "ejournal": "periodical", "audio": "song", "video": "motion_picture", "map": "map", "score": "musical_score",
             "other": "document"}  # fmt: skip
_RIS_TYPE = {"book": "BOOK", "ebook": "EBOOK", "large_print": "BOOK", "serial": "JFULL", "ejournal": "EJOUR",
             "audio": "SOUND", "video": "VIDEO", "map": "MAP", "score": "MUSIC", "other": "GEN"}  # fmt: skip
_TRANSLATOR = re.compile(r"译|trl|translat", re.IGNORECASE)
_EDITOR = re.compile(r"^(?:主?编|edt|ed\.?|editor)$", re.IGNORECASE)
_FIRST_EDITION = re.compile(r"^(?:第?[1一]版|1st ed\.?|first edition|1\. Aufl\.?)$", re.IGNORECASE)
_CHINESE_EDITION = re.compile(r"^第?([0-9一二三四五六七八九十]+)版")
_TRAILING = re.compile(r"[\s/:;,=]+$")  # ISBD's closing punctuation; a final "." may end an abbreviation
_PUBLISHED_BY = re.compile(r"(社|公司|集团|中心)(?:出版发行|出版|发行)$")
_LEADER_TYPE = {"audio": "jm", "video": "gm", "map": "em", "score": "cm", "serial": "as", "ejournal": "as"}


class CiteError(ValueError):
    """An unknown citation style or export format; the message names the ones there are."""


def _clean(text: str | None) -> str:
    """A catalogued value without the ISBD punctuation it ends with ("北京 :", "Prentice Hall,")."""
    return _TRAILING.sub("", text or "").strip()


def _name(author: Author) -> dict:
    """A CSL name: family and given for "Kernighan, Brian W.", the whole name for CJK and corporate names."""
    name = _clean(author.name)
    if author.kind != "person":
        return {"literal": name}
    if is_cjk(name) or "," not in name:
        return {"family": name}
    family, given = (part.strip() for part in name.split(",", 1))
    given = re.sub(r",?\s*\d{4}-(?:\d{4})?\.?$", "", given).strip(" ,")  # life dates of a heading
    given = re.sub(r"\s*\([^)]*\)", "", given).strip()  # a fuller form: "B. (Benzion)"
    return {"family": family, "given": given} if given else {"family": family}


def _edition(text: str | None) -> str | None:
    """The edition as a citation gives it: none for a first edition, 第2版 → 2版, others as catalogued."""
    text = _clean(text)
    if not text or _FIRST_EDITION.match(text):
        return None
    m = _CHINESE_EDITION.match(text)
    return f"{m.group(1)}版" if m else text


def _title(r: Record) -> str:
    """Title proper and subtitle, in the record's own script where the record has one (880)."""
    if r.vernacular_parts:
        parts = [p for p in r.vernacular_parts[:2] if p]
        return "：".join(parts) if parts and is_cjk(parts[0]) else ": ".join(parts)
    title = _clean(r.title).rstrip(".")
    if r.subtitle:
        title += ("：" if is_cjk(title) else ": ") + _clean(r.subtitle)
    if r.part:
        title += ". " + _clean(r.part)
    return title


def csl_item(work: Work) -> dict:
    """The edition as a CSL-JSON item (what citeproc-py formats)."""
    d = work.display
    authors = [a for a in d.authors if not _TRANSLATOR.search(a.role or "") and not _EDITOR.match(a.role or "")]
    item: dict = {"id": work.work_id, "type": _CSL_TYPE.get(d.material_type, "book"), "title": _title(d),
                  "author": [_name(a) for a in authors]}
    editors = [_name(a) for a in d.authors if _EDITOR.match(a.role or "")]
    translators = [_name(a) for a in d.authors if _TRANSLATOR.search(a.role or "")]
    if editors:
        item["editor"] = editors
    if translators:
        item["translator"] = translators
    publisher = _PUBLISHED_BY.sub(r"\1", _clean(d.vernacular_publisher or d.publisher))  # 某某出版社出版 → 某某出版社
    for key, value in (("publisher", publisher), ("publisher-place", _clean(d.place)), ("edition", _edition(d.edition)),
                       ("ISBN", work.isbns[0] if work.isbns else None), ("ISSN", d.issns[0] if d.issns else None),
                       ("language", d.language)):
        if value:
            item[key] = value
    if d.year:
        item["issued"] = {"date-parts": [[d.year]]}
    if d.material_type in ("ebook", "ejournal"):
        item["medium"] = "OL"
    return item


@lru_cache(maxsize=len(STYLES))
def _style(style: str):
    from citeproc import CitationStylesStyle

    path = resources.files("services").joinpath(f"data/csl/{STYLES[style]}")
    with resources.as_file(path) as file:
        return CitationStylesStyle(str(file), validate=False)


def citation(work: Work, style: str, *, html: bool = False) -> str:
    """The edition's reference in `style` ("gbt7714" or "apa"), as text or as HTML (italics where the style
    puts them; the text escaped)."""
    from citeproc import Citation, CitationItem, CitationStylesBibliography, formatter
    from citeproc.source.json import CiteProcJSON

    if style not in STYLES:
        raise CiteError(f"unknown citation style {style!r}; styles: {', '.join(STYLES)}")
    bibliography = CitationStylesBibliography(_style(style), CiteProcJSON([csl_item(work)]),
                                              formatter.html if html else formatter.plain)
    bibliography.register(Citation([CitationItem(work.work_id)]))
    text = str(bibliography.bibliography()[0])
    return re.sub(r"^\[1\]\s*", "", text)  # the numeric style's list number: a single reference has none


def ris(works: list[Work]) -> str:
    """The editions as an RIS file (EndNote, Zotero, NoteExpress, Mendeley)."""
    import rispy

    entries = []
    for w in works:
        item, d = csl_item(w), w.display
        entry = {"type_of_reference": _RIS_TYPE.get(d.material_type, "BOOK"), "title": item["title"],
                 "authors": [_plain_name(n) for n in item["author"]], "id": w.work_id}
        for key, value in (("publisher", item.get("publisher")), ("place_published", item.get("publisher-place")),
                           ("year", str(d.year) if d.year else None), ("edition", item.get("edition")),
                           ("language", d.language), ("notes", None)):
            if value:
                entry[key] = value
        if item.get("editor"):
            entry["secondary_authors"] = [_plain_name(n) for n in item["editor"]]
        if item.get("translator"):
            entry["translated_authors"] = [_plain_name(n) for n in item["translator"]]
        numbers = [*w.isbns, *d.issns]
        if numbers:
            entry["issn"] = numbers[0]  # RIS has one SN tag for both ISBN and ISSN
        if d.subjects:
            entry["keywords"] = list(dict.fromkeys(d.subjects))[:20]
        entries.append(entry)
    return rispy.dumps(entries)


def _plain_name(name: dict) -> str:
    if "literal" in name:
        return name["literal"]
    return f"{name['family']}, {name['given']}" if name.get("given") else name["family"]


def bibtex(works: list[Work]) -> str:
    """The editions as BibTeX entries (@book, …), keyed by work id."""
    import bibtexparser
    from bibtexparser.model import Entry, Field

    library = bibtexparser.Library()
    for w in works:
        item, d = csl_item(w), w.display
        kind = "book" if item["type"] == "book" else "misc"
        fields = [Field("title", item["title"])]
        if item["author"]:
            fields.append(Field("author", " and ".join(_bib_name(n) for n in item["author"])))
        if item.get("editor"):
            fields.append(Field("editor", " and ".join(_bib_name(n) for n in item["editor"])))
        for key, value in (("publisher", item.get("publisher")), ("address", item.get("publisher-place")),
                           ("year", str(d.year) if d.year else None), ("edition", item.get("edition")),
                           ("isbn", w.isbns[0] if w.isbns else None), ("issn", d.issns[0] if d.issns else None),
                           ("language", d.language)):
            if value:
                fields.append(Field(key, value))
        library.add(Entry(kind, w.work_id, fields))
    return bibtexparser.write_string(library)


def _bib_name(name: dict) -> str:
    if "literal" in name:
        return "{" + name["literal"] + "}"  # braces: a corporate or CJK name is not split into parts
    return _plain_name(name)


def marcxml(works: list[Work]) -> bytes:
    """The editions as a MARCXML collection (MARC21 tags), one record each, valid against the MARCXML schema."""
    import pymarc

    out = [b'<?xml version="1.0" encoding="UTF-8"?>\n<collection xmlns="http://www.loc.gov/MARC21/slim">\n']
    for w in works:
        out.append(pymarc.record_to_xml(_marc21(w), namespace=False) + b"\n")
    out.append(b"</collection>\n")
    return b"".join(out)


def _marc21(work: Work):
    import pymarc
    from pymarc import Field, Subfield

    d, item = work.display, csl_item(work)
    kind = _LEADER_TYPE.get(d.material_type, "am")
    rec = pymarc.Record(force_utf8=True, leader=f"00000n{kind} a2200000 i 4500")
    rec.add_field(Field(tag="001", data=work.work_id))
    lang = (d.language or "und")[:3].ljust(3)
    year = f"{d.year:04d}" if d.year and 0 < d.year < 10000 else "    "
    rec.add_field(Field(tag="008", data=f"      s{year}    xx            000 0 {lang} d"))
    for isbn in work.isbns:
        rec.add_field(Field(tag="020", indicators=[" ", " "], subfields=[Subfield("a", isbn)]))
    for issn in d.issns:
        rec.add_field(Field(tag="022", indicators=[" ", " "], subfields=[Subfield("a", issn)]))
    people = [a for a in d.authors if a.kind == "person"]
    bodies = [a for a in d.authors if a.kind != "person"]
    first = people[0] if people else (bodies[0] if bodies else None)
    if first is not None:
        rec.add_field(Field(tag="100" if first.kind == "person" else "110", indicators=["1" if "," in first.name else "0", " "],
                            subfields=[Subfield("a", _clean(first.name))]
                            + ([Subfield("e", first.role)] if first.role else [])))
    title = [Subfield("a", _clean(d.title) + (" :" if d.subtitle else ""))]
    if d.subtitle:
        title.append(Subfield("b", _clean(d.subtitle)))
    rec.add_field(Field(tag="245", indicators=["1" if first else "0", "0"], subfields=title))
    if d.edition:
        rec.add_field(Field(tag="250", indicators=[" ", " "], subfields=[Subfield("a", _clean(d.edition))]))
    imprint = [Subfield(code, value) for code, value in (("a", item.get("publisher-place")),
                                                         ("b", _clean(d.publisher)),
                                                         ("c", str(d.year) if d.year else None)) if value]
    if imprint:
        rec.add_field(Field(tag="264", indicators=[" ", "1"], subfields=imprint))
    if d.extent:
        rec.add_field(Field(tag="300", indicators=[" ", " "], subfields=[Subfield("a", _clean(d.extent))]))
    for series in d.series:
        rec.add_field(Field(tag="490", indicators=["0", " "], subfields=[Subfield("a", series)]))
    for subject in d.subjects:
        rec.add_field(Field(tag="650", indicators=[" ", "4"], subfields=[Subfield("a", subject)]))
    for other in (people[1:] if people else []) + (bodies[1:] if not people else bodies):
        rec.add_field(Field(tag="700" if other.kind == "person" else "710",
                            indicators=["1" if "," in other.name else "0", " "],
                            subfields=[Subfield("a", _clean(other.name))] + ([Subfield("e", other.role)] if other.role else [])))
    for h in work.holdings:
        sub = [Subfield("a", h.member)] + ([Subfield("h", h.call_number)] if h.call_number else [])
        rec.add_field(Field(tag="852", indicators=[" ", " "], subfields=sub))
    return rec
