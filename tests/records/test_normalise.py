"""MARC21 and CNMARC records mapped onto Record: spot checks on real records and the item conventions."""

from __future__ import annotations

import pytest
from lxml import etree
from pymarc import Field, Indicators, Record, Subfield

from records.errors import RecordError
from records.marc import iter_iso2709, iter_marcxml, read_iso2709
from records.model import AVAILABLE, NOT_FOR_LOAN, ON_LOAN, UNKNOWN
from records.normalise import clean, from_raw, normalise, parse_year


def _field(tag: str, *pairs: str, ind: str = "  ") -> Field:
    subs = [Subfield(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]
    return Field(tag=tag, indicators=Indicators(ind[0], ind[1]), subfields=subs)


def _xpath_all(el, tag: str, code: str) -> list[str]:
    return el.xpath(f".//*[local-name()='datafield'][@tag='{tag}']/*[@code='{code}']/text()")


def test_cnmarc_records_against_their_xml(marc_data):
    path = marc_data / "dp2-cnmarc/sample_cnmarc.as_marcxml.xml"
    elements = etree.parse(str(path)).xpath("//*[local-name()='record']")
    records = [r for _, r in iter_marcxml(path)]
    assert len(elements) == len(records) == 10
    for el, rec in zip(elements, records, strict=True):
        norm = normalise(rec, syntax="unimarc", member="bnu")
        assert norm.syntax == "unimarc" and norm.member == "bnu"
        assert norm.record_id == el.xpath("*[local-name()='controlfield'][@tag='001']/text()")[0]
        assert norm.title == clean(" ; ".join(_xpath_all(el, "200", "a")))
        assert norm.publisher == clean(_xpath_all(el, "210", "c")[0])
        pinyin = _xpath_all(el, "200", "A")
        if pinyin:
            assert norm.title_pinyin == clean(pinyin[0])
            assert norm.title_pinyin not in norm.title
        else:
            assert norm.title_pinyin is None
        assert norm.language == "chi"
        assert norm.classification["clc"][0] == _xpath_all(el, "690", "a")[0]
        assert str(norm.year) in (_xpath_all(el, "210", "d") or [""])[0]
        for raw, isbn in zip(_xpath_all(el, "010", "a"), norm.isbns, strict=True):
            assert isbn.raw == raw and isbn.valid and isbn.isbn13.startswith("9787")


def test_cnmarc_first_record_in_detail(marc_data):
    _, rec = next(iter_marcxml(marc_data / "dp2-cnmarc/sample_cnmarcxml.xml"))
    norm = normalise(rec, syntax="unimarc", member="bnu")
    assert norm.title == "'94中国发展报告"
    assert norm.place == "北京" and norm.publisher == "中国统计出版社" and norm.year == 1994
    assert norm.isbns[0].isbn13 == "9787503717444"
    assert [(a.name, a.role, a.kind) for a in norm.authors] == [
        ("叶震", "主编", "person"), ("李强", "主编", "person"), ("国家统计局", "编", "corporate")]
    assert norm.subjects == ["经济发展 -- 概况 -- 中国 -- 1994"]
    assert norm.extent == "320页 图 27cm"
    # Alma's AVA fields (one per holding, with copy counts) win over the CNMARC 905 call number
    assert [(h.library, h.call_number, h.status) for h in norm.holdings] == [
        ("总馆普通文献", "F124 26", AVAILABLE)] * 2


def test_marc21_chinese_ebook(marc_data):
    records = {normalise(r, syntax="marc21").record_id: normalise(r, syntax="marc21")
               for _, r in iter_marcxml(marc_data / "dp2-cnmarc/sample_marc21_chi.as_marcxml.xml")}
    ebooks = [r for r in records.values() if r.material_type == "ebook"]
    assert ebooks, "245$h 电子资源 / 300 在线资源 records are ebooks"
    for r in records.values():
        assert r.title and not r.title.endswith(("/", ":", "="))


def test_marc_perl_cjk_spot_checks(marc_data):
    rec = normalise(read_iso2709((marc_data / "marc-perl/cjk1.marc").read_bytes()), syntax="marc21", member="m")
    assert rec.title == "Kindaichi Kyōsuke to Ainugo"
    assert rec.vernacular_titles == ["金田一 京助 と アイヌ語"]
    assert rec.isbn13s == ["9784380012112"]
    assert rec.language == "jpn" and rec.year == 2001 and rec.publisher == "Sanʼichi Shobō"
    assert rec.authors[0].name == "Taishō, Tomizō"
    assert any(a.name == "大正 十三造" for a in rec.authors)


def test_unimarc_latin_record(marc_data):
    rec = read_iso2709((marc_data / "pymarc/testunimarc.dat").read_bytes())
    norm = normalise(rec, syntax="unimarc")
    assert norm.title == "L'altra faccia della spirale"  # non-sorting markers removed
    assert norm.authors[0].name == "Asimov, Isaac"
    assert norm.isbn13s == ["9788804406822"]
    assert norm.language == "ita" and norm.year == 1996
    assert "Il ciclo delle fondazioni ; 4" in norm.series


def test_marc21_subjects_series_classification(marc_data):
    rec = next(r for _, r in iter_iso2709(marc_data / "marc4j/chinese_mangled_multibyte.mrc") if not r.warnings)
    norm = normalise(rec, syntax="marc21")
    assert norm.material_type == "video"
    assert "China -- History -- Civil War, 1945-1949 -- Drama" in norm.subjects
    assert norm.classification["lcc"] == ["PN1995.9.W3"]
    assert norm.parallel_titles == ["Wheels are rolling"]
    assert norm.date_text == "[2003]" and norm.year == 2003


def test_material_types_follow_the_coded_data(marc_data):
    seen = set()
    for name in ("british_library", "oclc", "gwu", "dnb", "princeton"):
        for _, rec in iter_marcxml(marc_data / f"loc-cc0/{name}.xml"):
            norm = normalise(rec, syntax="marc21")
            seen.add(norm.material_type)
            leader = str(rec.leader)
            f250 = " ".join(f.value() for f in rec.get_fields("250")).lower()
            f008 = rec.get("008").data if rec.get("008") else ""
            if leader[7] == "s":  # a serial; online (008/23 o, s, q, or 007 cr) an e-journal
                online = f008[23:24] in ("o", "s", "q") or (rec.get("007") is not None and rec.get("007").data.startswith("cr"))
                assert norm.material_type == ("ejournal" if online else "serial")
            elif leader[6] in "ij":
                assert norm.material_type == "audio"
            elif leader[6] in "cd":
                assert norm.material_type == "score"
            elif leader[6] == "a" and "large print" in f250:
                assert norm.material_type == "large_print"
    assert {"serial", "audio", "video", "large_print", "score", "book"} <= seen


@pytest.mark.parametrize("text, year", [
    ("2009印刷", 2009), ("c1998.", 1998), ("[2001]", 2001), ("2009.10", 2009), ("民国25年", 1936),
    ("民国二十五年", 1936), ("[199-?]", None), ("", None), ("1998-2001", 1998),
])
def test_parse_year(text, year):
    assert parse_year(text) == year


def test_clean_strips_isbd_but_keeps_abbreviations():
    assert clean("Title /") == "Title"
    assert clean("北京 ：") == "北京"
    assert clean("2nd ed.") == "2nd ed."
    assert clean("Smith, J.") == "Smith, J."
    assert clean("Lucentini.") == "Lucentini"


# ---------------------------------------------------------------- holdings conventions

def _marc21_with_items(*items: Field) -> Record:
    rec = Record()
    rec.add_field(Field(tag="001", data="b1"))
    rec.add_field(_field("245", "a", "Test title /", ind="10"))
    rec.add_field(*items)
    return rec


def test_marc21_952_items():
    rec = _marc21_with_items(
        _field("952", "a", "PKU", "c", "总馆四层", "o", "F124/26", "p", "B001"),
        _field("952", "a", "PKU", "o", "F124/26", "p", "B002", "q", "2026-12-01"),
        _field("952", "a", "PKU", "o", "F124/26", "p", "B003", "7", "1"),
        _field("952", "o", "F124/26", "p", "B004", "7", "0"),
    )
    norm = normalise(rec, syntax="marc21", member="THU")
    assert [(h.member, h.barcode, h.status, h.due_date) for h in norm.holdings] == [
        ("PKU", "B001", AVAILABLE, None), ("PKU", "B002", ON_LOAN, "2026-12-01"),
        ("PKU", "B003", NOT_FOR_LOAN, None), ("THU", "B004", AVAILABLE, None)]
    assert norm.holdings[0].location == "总馆四层" and norm.holdings[0].call_number == "F124/26"


def test_unimarc_995_items_and_905_fallback():
    rec = Record()
    rec.add_field(Field(tag="001", data="c1"))
    rec.add_field(_field("200", "a", "红楼梦", "f", "(清)曹雪芹, 高鹗著", ind="1 "))
    rec.add_field(_field("995", "b", "BNU", "e", "主馆", "k", "I242.4/1", "f", "X1", "n", "2026-01-31"))
    rec.add_field(_field("995", "b", "BNU", "k", "I242.4/1", "f", "X2", "o", "1"))
    rec.add_field(_field("905", "a", "BNU", "d", "I242.4", "e", "1"))
    norm = normalise(rec, syntax="unimarc", member="BNU")
    assert [(h.barcode, h.status, h.due_date, h.location) for h in norm.holdings] == [
        ("X1", ON_LOAN, "2026-01-31", "主馆"), ("X2", NOT_FOR_LOAN, None, None)]
    assert [(a.name, a.role) for a in norm.authors] == [("曹雪芹", "著"), ("高鹗", "著")]
    rec.remove_fields("995")
    norm = normalise(rec, syntax="unimarc", member="BNU")
    assert [(h.member, h.call_number, h.status) for h in norm.holdings] == [("BNU", "I242.4/1", UNKNOWN)]


def test_marc21_852_call_numbers():
    rec = _marc21_with_items(_field("852", "a", "DLC", "b", "Main", "h", "PL2754.S5", "i", "Z67 1999"))
    norm = normalise(rec, syntax="marc21", member="M")
    assert [(h.call_number, h.location) for h in norm.holdings] == [("PL2754.S5 Z67 1999", "Main")]


def test_isbns_with_qualifiers_and_invalid_ones_kept():
    rec = _marc21_with_items()
    rec.add_field(_field("020", "a", "7-5037-1744-0 (平装) :"), _field("020", "a", "7503717441"),
                  _field("020", "z", "9787503717444"), _field("020", "a", "9780805056358", "q", "pbk."))
    norm = normalise(rec, syntax="marc21")
    got = [(i.isbn13, i.qualifier, i.valid) for i in norm.isbns]
    assert got == [("9787503717444", "平装", True), (None, None, False), (None, None, False),
                   ("9780805056358", "pbk.", True)]


def test_unknown_syntax_is_a_record_error():
    with pytest.raises(RecordError):
        normalise(_marc21_with_items(), syntax="dublincore", member="m")


def test_from_raw_iso_and_marcxml(marc_data):
    data = (marc_data / "marc-perl/cjk2.marc").read_bytes()
    norm = from_raw(data, syntax="marc21", charset="marc-8", member="pku", position=3)
    assert norm.member == "pku" and norm.vernacular_titles
    xml = etree.tostring(etree.parse(str(marc_data / "dp2-cnmarc/sample_cnmarc.as_marcxml.xml"))
                         .xpath("//*[local-name()='record']")[0])
    norm = from_raw(xml, syntax="marcxml", charset="utf-8", member="bnu", position=1)
    assert norm.syntax == "unimarc" and norm.title == "'94中国发展报告"
    with pytest.raises(RecordError) as info:
        from_raw(b"garbage", syntax="marc21", charset="utf-8", member="ruc", position=5)
    assert info.value.member == "ruc" and info.value.position == 5
