"""The matching rules on real records (testbed/data/marc, copied from ../shared/data/marc) and on variants of
them made as another library's cataloguer would: what must merge and what must stay apart."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pymarc
import pytest
from pymarc import Field, Subfield

from dedup import cluster
from dedup.keys import edition_key, extent_counts, publisher_key, title_numbers
from records.marc import iter_iso2709, iter_marcxml
from records.normalise import normalise

REAL = Path(__file__).resolve().parents[2] / "testbed" / "data" / "marc"


def _real(path: str, record_id: str) -> pymarc.Record:
    reader = iter_marcxml if path.endswith(".xml") else iter_iso2709
    for _pos, rec in reader(REAL / path):
        if not isinstance(rec, Exception) and rec["001"] is not None and rec["001"].data.strip() == record_id:
            return rec
    raise LookupError(f"{path} has no record {record_id}")


def _variant(rec: pymarc.Record, *edits: Callable[[pymarc.Record], None]) -> pymarc.Record:
    out = copy.deepcopy(rec)
    out["001"].data = out["001"].data + "v"
    for edit in edits:
        edit(out)
    return out


def _set(tag: str, code: str, value: str, *, ind2: str | None = None):
    def edit(rec: pymarc.Record) -> None:
        f = rec[tag]
        for i, sf in enumerate(f.subfields):
            if sf.code == code:
                f.subfields[i] = Subfield(code, value)
                break
        else:
            f.subfields.append(Subfield(code, value))
        if ind2 is not None:
            f.indicators = type(f.indicators)(f.indicators[0], ind2)
    return edit


def _drop(*tags: str, code: str | None = None):
    def edit(rec: pymarc.Record) -> None:
        for f in rec.get_fields(*tags):
            if code is None:
                rec.remove_field(f)
            else:
                f.subfields = [sf for sf in f.subfields if sf.code != code]
    return edit


def _merged(*recs: pymarc.Record) -> bool:
    records = [normalise(r, syntax="auto", member=f"M{i}") for i, r in enumerate(recs)]
    return len(cluster(records)) == 1


NO_ISBN = _drop("020")


@pytest.fixture(scope="module")
def kavalier() -> pymarc.Record:
    return _real("marc4j/chabon.mrc", "11939876")


@pytest.fixture(scope="module")
def summerland() -> pymarc.Record:
    return _real("marc4j/chabon.mrc", "12883376")


# -- candidates beyond the exact folded title ----------------------------------------------------------

@pytest.mark.parametrize("typo", ["Sumerland /", "Summerlnad /", "Summerlend /"])
def test_a_one_letter_typo_in_the_title_still_merges(summerland, typo):
    assert _merged(_variant(summerland, NO_ISBN), _variant(summerland, NO_ISBN, _set("245", "a", typo)))


def test_the_real_brief_and_full_records_of_one_book_merge():
    brief, full = _real("marc4j/chabon.mrc", "12883376"), _real("marc4j/chabon-loc.mrc", "12883376")
    assert _merged(_variant(brief, NO_ISBN), _variant(full, NO_ISBN))


@pytest.mark.parametrize("title,other", [
    ("Handbook of chemistry, vol. 8", "Handbook of chemistry, vol. 10"),
    ("Proceedings of the assembly, 1792", "Proceedings of the assembly, 1793"),
    ("数据结构 第2版", "数据结构 第3版"),
    ("数据结构 第二版", "数据结构 第3版"),
])
def test_numbers_in_the_titles_must_agree(summerland, title, other):
    a = _variant(summerland, NO_ISBN, _set("245", "a", title))
    b = _variant(summerland, NO_ISBN, _set("245", "a", other))
    assert not _merged(a, b)


def test_real_yearbooks_with_other_numbers_stay_apart():
    """The dp2 CNMARC sample: '94, '95 … '99 中国发展报告 from one publisher are other books."""
    records = [normalise(r, syntax="auto", member="BNU")
               for _pos, r in iter_marcxml(REAL / "dp2-cnmarc" / "sample_cnmarc.as_marcxml.xml")]
    yearbooks = [r for r in records if "中国发展报告" in r.title]
    assert len(yearbooks) >= 6
    assert len(cluster(yearbooks)) == len(yearbooks)
    assert title_numbers("'94中国发展报告") != title_numbers("'95中国发展报告")


def test_a_set_of_volumes_is_not_one_paged_volume(kavalier):
    single = _variant(kavalier, NO_ISBN)
    two = _variant(kavalier, NO_ISBN, _set("300", "a", "2 v. :"))
    four_in_five = _variant(kavalier, NO_ISBN, _set("300", "a", "4 in 5 v."))
    assert not _merged(single, two)
    assert not _merged(two, four_in_five)
    assert extent_counts("4 in 5 v.")[2] == 5


def test_a_year_apart_merges_only_when_the_extents_agree(kavalier):
    base = _variant(kavalier, NO_ISBN)
    reprint = _variant(kavalier, NO_ISBN, _set("260", "c", "2001."))
    new_pagination = _variant(kavalier, NO_ISBN, _set("260", "c", "2001."), _set("300", "a", "702 p. ;"))
    assert _merged(base, reprint)
    assert not _merged(base, new_pagination)


# -- non-filing articles ----------------------------------------------------------------------------------

@pytest.mark.parametrize("title,ind2", [
    ("Amazing adventures of Kavalier and Clay :", "0"),  # the article left out
    ("The amazing adventures of Kavalier and Clay :", "0"),  # kept but not marked
    ("\x98The \x9camazing adventures of Kavalier and Clay :", "0"),  # marked with MARC 21 NSB/NSE
    ("<<The>> amazing adventures of Kavalier and Clay :", "0"),  # marked as some systems do
])
def test_a_leading_article_in_any_form(kavalier, title, ind2):
    assert _merged(_variant(kavalier, NO_ISBN), _variant(kavalier, NO_ISBN, _set("245", "a", title, ind2=ind2)))


def test_articles_of_other_languages(kavalier):
    def french(title: str, ind2: str):
        return _variant(kavalier, NO_ISBN, _set("245", "a", title, ind2=ind2),
                        lambda r: setattr(r["008"], "data", r["008"].data[:35] + "fre" + r["008"].data[38:]))
    assert _merged(french("L'aventure de Kavalier et Clay :", "2"), french("Aventure de Kavalier et Clay :", "0"))
    assert _merged(french("Les aventures de Kavalier et Clay :", "0"), french("Aventures de Kavalier et Clay :", "0"))


def test_an_indicator_that_would_cut_a_word_is_ignored(kavalier):
    wrong = _variant(kavalier, NO_ISBN, _set("245", "a", "Amazing adventures of Kavalier and Clay :", ind2="4"))
    assert normalise(wrong, syntax="marc21").sort_title is None


# -- title and subtitle -------------------------------------------------------------------------------------

@pytest.mark.parametrize("edits", [
    [_set("245", "a", "The amazing adventures of Kavalier and Clay, a novel /"), _drop("245", code="b")],
    [_set("245", "a", "The amazing adventures of Kavalier and Clay. A novel /"), _drop("245", code="b")],
    [_set("245", "a", "The amazing adventures of Kavalier and Clay /"), _drop("245", code="b")],  # omitted
    [_set("245", "a", "The amazing adventures of Kavalier and Clay ;"), _set("245", "b", "or, a novel /")],
    [_set("245", "a", "Amazing adventures of Kavalier & Clay /", ind2="0"), _drop("245", code="b")],
])
def test_subtitle_forms_merge(kavalier, edits):
    assert _merged(_variant(kavalier, NO_ISBN), _variant(kavalier, NO_ISBN, *edits))


def test_a_parallel_title_is_not_a_subtitle():
    """A real GWU record: 245 $b "1949-2009 = Sixty years of China's foreign affairs"."""
    rec = normalise(_real("loc-cc0/gwu.xml", "11863566"), syntax="marc21")
    assert rec.subtitle == "1949-2009"
    assert "Sixty years of China's foreign affairs" in rec.parallel_titles
    assert rec.vernacular_parts[:2] == ["中国外交六十年", "1949-2009"]
    assert rec.vernacular_publisher == "中国社会科学出版社"


# -- publishers -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b", [
    ("Oxford University Press", "Oxford U.P."), ("Oxford University Press", "Oxford Univ. Pr."),
    ("Random House, Inc.", "Random House"), ("Random House Pub.", "Random House Publishers"),
    ("Verlag C.H. Beck", "C.H. Beck Vlg."), ("Editorial Gredos", "Ed. Gredos"),
    ("人民文学出版社", "人民文学出版社出版"), ("商务印书馆", "商务印书馆有限公司"), ("三联书店", "三聯書店"),
])
def test_publisher_forms_are_one_publisher(a, b):
    assert publisher_key(a) == publisher_key(b)


@pytest.mark.parametrize("other", ["江苏人民出版社", "北京师范大学出版社"])
def test_a_chinese_publisher_is_not_a_part_of_another(other):
    base = pymarc.Record()
    base.leader = pymarc.Leader("00000nam0 2200000   450 ")
    base.add_field(Field(tag="001", data="c1"))
    base.add_field(Field(tag="101", indicators=pymarc.Indicators("0", " "), subfields=[Subfield("a", "chi")]))
    base.add_field(Field(tag="200", indicators=pymarc.Indicators("1", " "),
                         subfields=[Subfield("a", "中国经济发展史"), Subfield("f", "王明著")]))
    base.add_field(Field(tag="210", indicators=pymarc.Indicators(" ", " "),
                         subfields=[Subfield("a", "北京"), Subfield("c", "人民出版社"), Subfield("d", "2009")]))
    base.add_field(Field(tag="215", indicators=pymarc.Indicators(" ", " "), subfields=[Subfield("a", "350页")]))
    same = _variant(base, _set("210", "c", "人民出版社出版"))
    if other.startswith("北京师范"):
        base = _variant(base, _set("210", "c", "北京大学出版社"))
        same = _variant(base, _set("210", "c", "北京大学出版社"))
    assert _merged(base, same)
    assert not _merged(base, _variant(base, _set("210", "c", other)))


def test_numbered_printers_are_other_publishers():
    """Two real Princeton incunabula: type of the 42-line Bible, type of the 36-line Bible (a year apart)."""
    a, b = _real("loc-cc0/princeton.xml", "4606192"), _real("loc-cc0/princeton.xml", "4606209")
    assert not _merged(a, b)


# -- edition statements -----------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b", [("2nd ed.", "2d ed."), ("3rd ed.", "3d ed."), ("Second edition", "2nd ed."),
                                 ("第二版", "第2版"), ("第2版", "2版"), ("修订版", "修訂版"), ("增订本", "修订版")])
def test_edition_forms_are_one_edition(a, b):
    assert edition_key(a) == edition_key(b) is not None


@pytest.mark.parametrize("statement", ["2009印刷", "2009年10月印刷", "第3次印刷", "1st ed., 3rd printing", "Reprinted"])
def test_a_printing_is_not_an_edition(statement):
    assert edition_key(statement) is None


def test_edition_variants_of_a_real_record(summerland):
    first = _variant(summerland, NO_ISBN)
    second = _variant(summerland, NO_ISBN, _set("250", "a", "2nd ed."))
    second_old = _variant(summerland, NO_ISBN, _set("250", "a", "2d ed."))
    assert _merged(second, second_old)
    assert not _merged(first, second)


# -- extents ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,count", [("vii, 472, [4] p.", (472, "p", None)), ("350 l.", (350, "l", None)),
                                        ("385,[10]页", (385, "p", None)), ("10, 374页", (374, "p", None)),
                                        ("xii, 350 pages", (350, "p", None)), ("2 v. (324; 319 leaves)", (324, "l", 2))])
def test_complex_paginations(text, count):
    assert extent_counts(text) == count


def test_preliminaries_do_not_make_another_edition(kavalier):
    assert _merged(_variant(kavalier, NO_ISBN),
                   _variant(kavalier, NO_ISBN, _set("300", "a", "xiv, 639, [3] p. ;")))


# -- 880 vernacular fields ----------------------------------------------------------------------------------

def test_a_romanised_record_with_880s_meets_the_chinese_record_of_the_book():
    """The GWU record of 中国外交六十年 (romanised 245/260 with 880s) and a CNMARC record of the same book."""
    marc21 = _real("loc-cc0/gwu.xml", "11863566")
    cn = pymarc.Record()
    cn.leader = pymarc.Leader("00000nam0 2200000   450 ")
    cn.add_field(Field(tag="001", data="cn1"))
    cn.add_field(Field(tag="101", indicators=pymarc.Indicators("0", " "), subfields=[Subfield("a", "chi")]))
    cn.add_field(Field(tag="200", indicators=pymarc.Indicators("1", " "),
                       subfields=[Subfield("a", "中国外交六十年"), Subfield("e", "1949-2009"),
                                  Subfield("d", "= Sixty years of China's foreign affairs"), Subfield("f", "王逸舟主编")]))
    cn.add_field(Field(tag="210", indicators=pymarc.Indicators(" ", " "),
                       subfields=[Subfield("a", "北京"), Subfield("c", "中国社会科学出版社"), Subfield("d", "2009")]))
    cn.add_field(Field(tag="215", indicators=pymarc.Indicators(" ", " "), subfields=[Subfield("a", "280页")]))
    assert _merged(_variant(marc21, NO_ISBN), cn)
    other_publisher = _variant(cn, _set("210", "c", "世界知识出版社"))
    assert not _merged(_variant(marc21, NO_ISBN), other_publisher)
    short_008 = _variant(marc21, NO_ISBN, lambda r: setattr(r["008"], "data", r["008"].data[:20]))
    assert not _merged(short_008, other_publisher)  # the cross-script check runs without a language too
