"""Citing and exporting editions made from real records (../shared/data/marc): GB/T 7714-2015 and APA as
citeproc-py formats them, and RIS, BibTeX and MARCXML files that their own readers (rispy, bibtexparser,
the MARCXML schema) read back."""

from __future__ import annotations

from pathlib import Path

import bibtexparser
import pytest
import rispy
from lxml import etree

from dedup import merge
from dedup.batch import read_file
from records.model import Author, Record
from services.cite import CiteError, bibtex, citation, csl_item, marcxml, ris

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "marc"
MARC_XSD = Path(__file__).resolve().parents[1] / "data" / "schemas" / "marcxml" / "xsd" / "MARC21slim.xsd"


def _records(*names: str) -> list[Record]:
    out = []
    for name in names:
        path = SHARED / name
        for _pos, rec in read_file(path, fmt=None, syntax="auto", encoding=None, label=path.stem[:8].upper()):
            if isinstance(rec, Record):
                out.append(rec)
    return out


@pytest.fixture(scope="module")
def western():
    works = merge(_records("loc-cc0/loc_general.xml", "loc-cc0/british_library.xml"))
    assert len(works) > 20
    return works


@pytest.fixture(scope="module")
def chinese():
    works = merge(_records("dp2-cnmarc/sample_unimarcxml.xml", "pymarc/testunimarc.dat"))
    assert works
    return works


def _book(**kw) -> Record:
    base = dict(member="THU", record_id="1", syntax="unimarc", title="数据结构", subtitle="C语言版",
                authors=[Author("严蔚敏", "编著"), Author("吴伟民", "编著")], edition="第2版", publisher="清华大学出版社",
                place="北京", year=2007, language="chi")
    base.update(kw)
    return Record(**base)


def test_gbt7714_and_apa_for_a_chinese_book():
    (work,) = merge([_book()])
    assert citation(work, "gbt7714") == "严蔚敏, 吴伟民. 数据结构：C语言版[M]. 2版. 北京: 清华大学出版社, 2007."
    assert citation(work, "apa") == "严蔚敏, & 吴伟民. (2007). 数据结构：C语言版 (2版). 清华大学出版社."
    assert "<i>数据结构：C语言版</i>" in citation(work, "apa", html=True)
    with pytest.raises(CiteError, match="styles: gbt7714, apa"):
        citation(work, "mla")


def test_the_publisher_without_the_words_of_its_imprint_statement():
    (work,) = merge([_book(publisher="经济科学出版社出版", edition=None)])
    assert citation(work, "gbt7714") == "严蔚敏, 吴伟民. 数据结构：C语言版[M]. 北京: 经济科学出版社, 2007."


def test_a_translator_an_ebook_and_a_first_edition():
    (work,) = merge([_book(authors=[Author("Knuth, Donald E.", "著"), Author("苏运霖", "译")], edition="第1版",
                           material_type="ebook")])
    text = citation(work, "gbt7714")
    assert text.startswith("KNUTH D E. 数据结构：C语言版[M/OL]. 苏运霖, 译.") and "版." not in text, text
    assert csl_item(work)["translator"] == [{"family": "苏运霖"}] and "edition" not in csl_item(work)


def test_real_western_records_cite_with_their_author_title_publisher_and_year(western):
    for work in western[:30]:
        d = work.display
        gb, apa = citation(work, "gbt7714"), citation(work, "apa")
        if d.year:
            assert str(d.year) in gb and f"({d.year})" in apa, (gb, apa)
        if d.authors and d.authors[0].kind == "person" and "," in d.authors[0].name:
            family = d.authors[0].name.split(",")[0].strip()
            assert family.upper() in gb and family in apa, (gb, apa)
        assert "[M]" in gb or d.material_type != "book", gb
        assert gb.rstrip().endswith(".") and "[1]" not in gb


def test_ris_and_bibtex_read_back_with_the_same_editions(western, chinese):
    works = western[:15] + chinese[:5]
    entries = rispy.loads(ris(works))
    assert [e["id"] for e in entries] == [w.work_id for w in works]
    for entry, work in zip(entries, works, strict=True):
        assert entry["title"] == csl_item(work)["title"] and entry["type_of_reference"] in ("BOOK", "EBOOK", "JFULL",
                                                                                              "SOUND", "VIDEO", "MAP",
                                                                                              "MUSIC", "GEN", "EJOUR")
        if work.display.year:
            assert entry["year"] == str(work.display.year)
        if work.isbns:
            assert entry["issn"] == work.isbns[0]
    library = bibtexparser.parse_string(bibtex(works))
    assert not library.failed_blocks
    assert [e.key for e in library.entries] == [w.work_id for w in works]
    assert all(e["title"] == csl_item(w)["title"] for e, w in zip(library.entries, works, strict=True))


def test_marcxml_export_is_valid_marcxml_with_the_editions(western, chinese):
    works = western[:10] + chinese[:5]
    doc = marcxml(works)
    schema = etree.XMLSchema(etree.parse(str(MARC_XSD)))
    root = etree.fromstring(doc)
    schema.assertValid(root)
    ns = {"m": "http://www.loc.gov/MARC21/slim"}
    assert root.xpath("//m:controlfield[@tag='001']/text()", namespaces=ns) == [w.work_id for w in works]
    first_titles = root.xpath("//m:datafield[@tag='245']/m:subfield[@code='a']/text()", namespaces=ns)
    assert len(first_titles) == len(works) and all(first_titles)
