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
                                        ("xii, 350 pages", (350, "p", None)), ("2 v. (324; 319 leaves)", (643, "l", 2))])
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


# -- real records that look alike but are other items, and real records that merge only by a general rule -------

def _short_008(rec: pymarc.Record) -> None:
    rec["008"].data = rec["008"].data[:6]  # as some systems export it: the dates and language gone


def test_fragments_measured_to_other_sizes_are_other_items():
    """Princeton's "Ars minor [fragment]" leaves: one title, printer, year and former owner, but measured 21.8 x
    14.7 cm and 20.4 x 9.2 cm (leaves of a 30-line and a 27-line edition). Another library's record of the first
    (the printer's name as "Prototypography Ltd.", a typo) is the same leaf."""
    a, b = _real("loc-cc0/princeton.xml", "4612577"), _real("loc-cc0/princeton.xml", "4612558")
    assert not _merged(a, b)
    other_library = _variant(a, _set("245", "a", "Ars minr [fragment]."), _set("260", "b", "Prototypography Ltd.,"))
    assert _merged(a, other_library)
    assert _merged(_variant(a, _set("300", "c", "22 x 15 cm.")), a)  # measured again, to the next centimetre


def test_a_serial_and_the_serial_it_continues_stay_apart():
    """NLM: "Arbeitstagung für Klinische Cytologie" is continued by "… Zytologie" (785/780): two serials, one
    letter apart, same editor, same years, not a typo. A typo in either still meets its own serial."""
    cyto, zyto = _real("loc-cc0/nlm.xml", "513061"), _real("loc-cc0/nlm.xml", "513062")
    assert not _merged(cyto, zyto)
    typo = _variant(zyto, _set("245", "a", "Arbeitsfagung für Klinische Zytologie."))
    assert _merged(zyto, typo) and not _merged(cyto, typo)
    # "Abstracts" of the UCLA Symposia continues the "Abstracts" of another body: a generic title is not a succession
    abstracts = _real("loc-cc0/nlm.xml", "804178")
    assert _merged(abstracts, _variant(abstracts, _set("245", "a", "Abstrcts /")))


def test_initials_of_a_publisher_are_its_name():
    assert publisher_key("U.S. G.P.O.") == publisher_key("U.S. G.P.O Publishers") == publisher_key("U. S. G. P. O.")
    assert publisher_key("U.S. G.P.O.") != publisher_key("H.M.S.O.")


def test_an_article_catalogued_on_its_own_is_known_by_its_pages():
    """NLM's record of an article ("p. 61-74", no publisher): another library's copy without the author and
    with no 008 dates merges on title, year and pages; another article of the same title does not."""
    article = _real("loc-cc0/nlm.xml", "1057031")
    brief = _variant(article, _drop("100", "700"), _short_008)
    assert _merged(article, brief)
    assert not _merged(brief, _variant(article, _drop("100", "700"), _set("300", "a", "p. 75-88.")))


def test_a_record_with_no_year_is_still_compared():
    """Princeton's Handel score (1807) and another library's record of it with no date at all and a typo in the
    title: they never shared a block of year-keyed candidates."""
    score = _real("loc-cc0/princeton.xml", "3542217")
    undated = _variant(score, _short_008, _drop("260", code="c"), _drop("264", code="c"),
                       _set("245", "a", "Dettiigen Te Deum, Utrecht Te Deum and Utrecht Jubilate :"))
    assert _merged(score, undated)


def test_a_korean_publisher_is_compared_in_its_romanisation():
    """GWU's Kwangju sourcebook names its publisher in hangul (880) and romanised (260): another publisher's
    edition, romanised only, is another edition; a copy without the 880s is the same."""
    rec = _real("loc-cc0/gwu.xml", "11887260")
    assert _merged(rec, _variant(rec, _drop("880")))
    assert not _merged(rec, _variant(rec, _drop("880"), _set("260", "b", "Springer,")))


def test_a_named_part_meets_its_romanisation():
    """GWU's "Chaeoe tongp'osa yŏnp'yo. Ilbon" (part 일본 in the 880): a copy without the 880s is the same part."""
    rec = _real("loc-cc0/gwu.xml", "11867325")
    assert _merged(rec, _variant(rec, _drop("880")))


def test_a_chinese_title_meets_its_pinyin_and_a_homophone_typo():
    """GWU's 故宫 (Gu gong) documentary with its 880 and a copy romanised only; and a CNMARC book whose title a
    pinyin input method typed with a homophone (河北 / 嗬北) when everything else agrees."""
    gugong = _real("loc-cc0/gwu.xml", "11587214")
    assert _merged(gugong, _variant(gugong, _drop("880"), _drop("100", "700", "710")))

    def cn(title: str, pages: str) -> pymarc.Record:
        r = pymarc.Record()
        r.leader = pymarc.Leader("00000nam0 2200000   450 ")
        r.add_field(Field(tag="001", data=title + pages))
        r.add_field(Field(tag="101", indicators=pymarc.Indicators("0", " "), subfields=[Subfield("a", "chi")]))
        r.add_field(Field(tag="200", indicators=pymarc.Indicators("1", " "), subfields=[Subfield("a", title)]))
        r.add_field(Field(tag="210", indicators=pymarc.Indicators(" ", " "),
                          subfields=[Subfield("a", "石家庄"), Subfield("c", "花山文艺出版社"), Subfield("d", "1983")]))
        r.add_field(Field(tag="215", indicators=pymarc.Indicators(" ", " "), subfields=[Subfield("a", pages)]))
        return r
    assert _merged(cn("河北民间故事选", "255页"), cn("嗬北民间故事选", "255页"))
    assert not _merged(cn("河北民间故事选", "255页"), cn("嗬北民间故事选", "310页"))
    assert not _merged(cn("河北民间故事选", "255页"), cn("湖北民间故事选", "255页"))  # not a homophone: another book


def test_a_record_in_two_languages_without_its_008_is_not_another_language():
    """OCLC's English-Bengali dictionary: 041 "beneng" (two languages in one code); with the 008 cut short
    the language is "mul", not Bengali against the full record's English."""
    rec = _real("yaz/marccol5.u8.marc", "ocm57665435")
    short = _variant(rec, _short_008)
    assert normalise(short, syntax="auto", member="M").language == "mul"
    assert _merged(rec, short)


def test_the_volumes_of_a_set_are_counted_together():
    """Princeton's Fust–Schöffer Bible in 2 v. (242; 239 leaves) against a reissue a year later in 2 v. (242; 168
    leaves): the second volumes differ, so the sets do."""
    bible = _real("loc-cc0/princeton.xml", "4609990")
    later = _variant(bible, _set("300", "a", "2 v. (242; 168 leaves) ;"),
                     lambda r: setattr(r["008"], "data", r["008"].data[:7] + "1463" + r["008"].data[11:]))
    assert extent_counts("2 v. (242; 239 leaves)") == (481, "l", 2)
    assert not _merged(bible, later)


def test_compiled_by_this_house_is_the_publisher():
    """LC's 整党学习材料 ("本社编", the publisher as 710) and a CNMARC record of it whose only creator is 本社
    (this house): the same book."""
    marc21 = next(r for _pos, r in iter_iso2709(REAL / "yaz" / "marccol1.u8.marc") if "Zheng dang" in str(r["245"]))
    cn = pymarc.Record()
    cn.leader = pymarc.Leader("00000nam0 2200000   450 ")
    cn.add_field(Field(tag="001", data="cn-zd"))
    cn.add_field(Field(tag="101", indicators=pymarc.Indicators("0", " "), subfields=[Subfield("a", "chi")]))
    cn.add_field(Field(tag="200", indicators=pymarc.Indicators("1", " "),
                       subfields=[Subfield("a", "整党学习材料"), Subfield("f", "本社编")]))
    cn.add_field(Field(tag="210", indicators=pymarc.Indicators(" ", " "),
                       subfields=[Subfield("a", "沈阳"), Subfield("c", "辽宁人氱出版社出版发行"), Subfield("d", "1984")]))
    cn.add_field(Field(tag="215", indicators=pymarc.Indicators(" ", " "), subfields=[Subfield("a", "v. <1, 3-5, >"),
                                                                                   Subfield("d", "19cm")]))
    cn.add_field(Field(tag="711", indicators=pymarc.Indicators("0", "2"), subfields=[Subfield("a", "本社"),
                                                                                   Subfield("4", "编")]))
    assert _merged(marc21, cn)
    assert not _merged(marc21, _variant(cn, _set("210", "c", "人民出版社")))


def test_a_subtitle_typed_after_a_period_meets_the_title_alone():
    """GWU's 故宫 (Gu gong) documentary: a copy with no 880 and the subtitle typed into the title after ". "."""
    gugong = _real("loc-cc0/gwu.xml", "11587214")
    joined = _variant(gugong, _drop("880"), _drop("100", "700", "710"), _short_008, _drop("245", code="b"),
                      _set("245", "a", "Gu gong. Shi er ji da xing ji lu pian."))
    assert _merged(gugong, joined)


def test_an_item_measured_the_same_in_both_records_is_evidence():
    """Princeton's photograph album of El Paso (1902, "1 v. ; 15 x 19 cm", no creator, no publisher): another
    library's record with a typo in the title has only the title and the year besides the size it measured;
    the same height and width (to a centimetre) make it the same album. Without the size, or with another, it
    stays apart: a title and a year alone are not an item."""
    album = _real("loc-cc0/princeton.xml", "4572280")
    typo = _set("245", "a", "Photograph album of cityscape views of El Pass, Texas,")
    assert _merged(album, _variant(album, typo))
    assert not _merged(album, _variant(album, typo, _short_008))  # the 008 held the year: title and size alone
    assert _merged(album, _variant(album, typo, _set("300", "c", "16 x 19 cm.")))
    assert not _merged(album, _variant(album, typo, _drop("300", code="c")))
    assert not _merged(album, _variant(album, typo, _set("300", "c", "24 x 30 cm.")))


def test_a_set_of_as_many_volumes_is_evidence():
    """NLM's "Archiv für experimentelle Zellforschung" (1925-1944, "25 v. in 20", no publisher, no creator): a copy
    with the subtitle typed after a comma and the umlauts dropped merges on title, year and the 20 volumes; a run
    of another length does not."""
    archiv = _real("loc-cc0/nlm.xml", "191628")
    other = _variant(archiv, _drop("245", code="b"),
                     _set("245", "a", "Archiv fur experimentelle Zellforschung, besonders Gewebezuchtung."))
    assert _merged(archiv, other)
    assert not _merged(archiv, _variant(other, _set("300", "a", "19 v.")))


def test_a_typo_in_a_manuscript_title_merges_when_its_leaves_and_size_agree():
    """Princeton's Organon manuscript (no publisher, no year: "[Constantinople, 12--?]"; 165 leaves, 330 x 245 mm,
    eight creators): "Ogranon" in another library's record is a typo when creators, leaves and the size in
    millimetres all agree; without the size there is nothing but creators and a leaf count, and it stays apart."""
    organon = _real("loc-cc0/princeton.xml", "3599298")
    typo = _set("245", "a", "Ogranon.")
    assert _merged(organon, _variant(organon, typo))
    assert not _merged(organon, _variant(organon, typo, _drop("300", code="c")))
    assert not _merged(organon, _variant(organon, typo, _set("300", "c", "280 x 200 mm.")))


# -- Chinese romanised in Wade-Giles --------------------------------------------------------------------------

def _cn_book(title: str, publisher: str, *, author: str | None = None) -> pymarc.Record:
    r = pymarc.Record()
    r.leader = pymarc.Leader("00000nam0 2200000   450 ")
    r.add_field(Field(tag="001", data=f"cn-{title}-{publisher}"))
    r.add_field(Field(tag="101", indicators=pymarc.Indicators("0", " "), subfields=[Subfield("a", "chi")]))
    r.add_field(Field(tag="200", indicators=pymarc.Indicators("1", " "), subfields=[Subfield("a", title)]))
    r.add_field(Field(tag="210", indicators=pymarc.Indicators(" ", " "),
                      subfields=[Subfield("a", "石家庄"), Subfield("c", publisher), Subfield("d", "1983")]))
    r.add_field(Field(tag="215", indicators=pymarc.Indicators(" ", " "),
                      subfields=[Subfield("a", "2, 255页"), Subfield("d", "19cm")]))
    if author:
        r.add_field(Field(tag="701", indicators=pymarc.Indicators(" ", "0"), subfields=[Subfield("a", author)]))
    return r


@pytest.fixture(scope="module")
def ho_pei() -> pymarc.Record:
    """LC's 河北民间故事选 (1983), romanised in Wade-Giles as Western libraries romanised Chinese until 2000:
    "Ho-pei min chien ku shih hsüan", "Hua shan wen i chʻu pan she", with its 880s."""
    return next(r for _pos, r in iter_iso2709(REAL / "yaz" / "marccol1.u8.marc") if "Ho-pei min" in str(r["245"]))


def test_wade_giles_without_its_880_meets_the_book_in_characters_and_in_pinyin(ho_pei):
    wade = _variant(ho_pei, _drop("880", "010", "035"))  # another library's copy: its own numbers
    pinyin = _variant(wade, _set("245", "a", "Hebei min jian gu shi xuan /"),
                      _set("260", "b", "Hua shan wen yi chu ban she :"))
    assert _merged(wade, _cn_book("河北民间故事选", "花山文艺出版社"))
    assert _merged(wade, pinyin)
    assert _merged(pinyin, _cn_book("河北民间故事选", "花山文艺出版社"))
    with_author = _variant(wade, lambda r: r.add_ordered_field(
        Field(tag="100", indicators=pymarc.Indicators("1", " "), subfields=[Subfield("a", "Chang, Wen-hsüeh.")])))
    assert _merged(with_author, _cn_book("河北民间故事选", "花山文艺出版社", author="张文学"))


def test_wade_giles_keeps_other_books_and_publishers_apart(ho_pei):
    wade = _variant(ho_pei, _drop("880", "010", "035"))  # another library's copy: its own numbers
    assert not _merged(wade, _cn_book("湖北民间故事选", "花山文艺出版社"))  # Hu-pei, another province's tales
    assert not _merged(wade, _cn_book("河北民间故事选", "人民文学出版社"))  # another publisher's edition
    assert not _merged(wade, _variant(wade, _set("245", "a", "Hubei min jian gu shi xuan /")))
    pinyin = _variant(wade, _set("245", "a", "Hebei min jian gu shi xuan /"),
                      _set("260", "b", "Hua shan wen yi chu ban she :"))
    assert not _merged(pinyin, _cn_book("湖北民间故事选", "花山文艺出版社"))  # a syllable is a character, not a letter
    with_author = _variant(wade, lambda r: r.add_ordered_field(
        Field(tag="100", indicators=pymarc.Indicators("1", " "), subfields=[Subfield("a", "Chang, Wen-hsüeh.")])))
    assert not _merged(with_author, _cn_book("河北民间故事选", "花山文艺出版社", author="李文学"))


def test_romanisations_compared():
    from records.romanisation import pinyin_as_wade_giles, wade_giles

    assert wade_giles("河北民间故事选") == wade_giles("Ho-pei min chien ku shih hsüan") == "ho pei min chien ku shih hsuan"
    assert pinyin_as_wade_giles("Hebei min jian gu shi xuan") == "ho pei min chien ku shih hsuan"
    assert pinyin_as_wade_giles("Hebei minjian gushi xuan") == "ho pei min chien ku shih hsuan"  # words joined
    assert pinyin_as_wade_giles("Qing nian wen xue cong shu") == wade_giles("Chʻing nien wen hsüeh tsʻung shu")
    assert pinyin_as_wade_giles("Ho-pei min chien") == ""  # Wade-Giles is not pinyin
    assert pinyin_as_wade_giles("Zhan lüe wen ti") == wade_giles("战略问题") == "chan lueh wen ti"
    assert pinyin_as_wade_giles("Kavalier & Clay") == ""


def test_a_japanese_title_is_known_by_its_kana_when_the_008_gives_no_language():
    """Princeton's 東海道パノラマ地図 (Kanao Bun'endō, 金尾文淵堂): with a short 008 the record names no language,
    but its kana say the book is Japanese, so its publisher is not read in pinyin against another copy's
    romanised one (which would make them two publishers)."""
    chizu = _real("loc-cc0/princeton.xml", "6226606")
    assert _merged(_variant(chizu, _short_008), _variant(chizu, _drop("880", "035"), _short_008))


def test_a_manuscript_is_known_by_its_leaves_and_its_measured_size():
    """Princeton's illuminated Siḥr al-Bayān (Urdu, "[India, 18--?]": no publisher, no year; "i, 103, i leaves ;
    210 x 135 (165 x 100) mm"): another library's copy without the 880s and with a short 008 has only the title
    besides the item itself, whose leaves and measured size are two facts of it. Another copy of the text, with
    other leaves or another size, or a record that does not measure it, stays apart."""
    sihr = _real("loc-cc0/princeton.xml", "5559859")
    other = _variant(sihr, _drop("880", "035"), _short_008)
    assert _merged(sihr, other)
    assert not _merged(sihr, _variant(other, _drop("300", code="c")))
    assert not _merged(sihr, _variant(other, _set("300", "c", "190 x 120 (150 x 90) mm.")))
    assert not _merged(sihr, _variant(other, _set("300", "a", "i, 98, i leaves :")))


def test_a_typo_merges_when_every_fact_either_record_gives_agrees():
    """A letter wrong in a title merges only when the other facts all agree; a publisher or a year that neither
    record names is no disagreement. Princeton's Handel "Joseph : an oratorio" (manuscript score, [ca. 1745], 274
    p., three creators, no publisher) against "Josewh" without the subtitle; its "[Thabat]" (1453, 10 leaves, 180 x
    135 mm) against "[Thamat]"; its block-book "Biblia pauperum" (Hans Spoerer, 1471, 40 leaves) against a copy
    that names no creator and reads "Biilia pauperum". A year or leaves that differ keep each apart."""
    joseph = _real("loc-cc0/princeton.xml", "3550721")
    josewh = _variant(joseph, _drop("245", code="b"), _set("245", "a", "Josewh :"))
    assert _merged(joseph, josewh)
    assert not _merged(joseph, _variant(josewh, lambda r: setattr(
        r["008"], "data", r["008"].data[:7] + "1746" + r["008"].data[11:])))
    thabat = _real("loc-cc0/princeton.xml", "5184576")
    assert _merged(thabat, _variant(thabat, _set("245", "a", "[Thamat].")))
    assert not _merged(thabat, _variant(thabat, _set("245", "a", "[Thamat]."), _set("300", "a", "12 leaves :")))
    biblia = _real("loc-cc0/princeton.xml", "4606238")
    biilia = _variant(biblia, _drop("100", "700", "710"), _set("245", "a", "Biilia pauperum."))
    assert _merged(biblia, biilia)
    assert not _merged(biblia, _variant(biilia, _set("300", "a", "38 leaves ;")))
    undated = (_short_008, _drop("260", code="c"))  # without creators a typo needs the year too
    assert not _merged(_variant(biblia, *undated), _variant(biilia, *undated))


def test_a_typo_in_the_word_that_names_a_part_is_not_another_part():
    """OCLC's filmstrip "How to write a term paper. Part 4: Preparing a final draft": "Prat 4" in another library's
    record names the same number where the word for a part is mistyped; the same title without the part, or
    with another number, stays apart."""
    filmstrip = _real("loc-cc0/oclc.xml", "896014")
    title = "How to write a term paper. {}: Preparing a final draft."
    assert _merged(filmstrip, _variant(filmstrip, _set("245", "a", title.format("Prat 4"))))
    assert not _merged(filmstrip, _variant(filmstrip, _set("245", "a", title.format("Prat 5"))))
    assert not _merged(filmstrip, _variant(filmstrip, _set("245", "a", "How to write a term paper.")))


# -- Arabic script against its ALA-LC romanisation ------------------------------------------------------------

def _vernacular_only(rec: pymarc.Record) -> None:
    """The record as a library that catalogues in the book's own script sends it: each field linked to an 880
    carries the 880's text, and no romanisation is left."""
    for f in rec.get_fields("880"):
        link = (f.get_subfields("6") or [""])[0]
        for target in rec.get_fields(link[:3]):
            if (target.get_subfields("6") or [""])[0][4:6] == link[4:6]:
                target.subfields = [sf for sf in f.subfields if sf.code != "6"]
    _drop("880")(rec)


@pytest.fixture(scope="module")
def thuqub() -> pymarc.Record:
    """LC's ثقوب في عقل الأمة (Cairo: Markaz Yāfā, 2006, 85 p.), romanised with its 880s."""
    return _real("traject/test_data.utf8.marc.xml", "2005461726")


def test_an_arabic_record_meets_its_romanisation_by_consonants_and_the_other_facts(thuqub):
    romanised = _variant(thuqub, _drop("880", "010", "035"))
    arabic = _variant(thuqub, _vernacular_only, _drop("010", "035"))
    assert arabic["245"]["a"].startswith("ثقوب") and "Thuq" in romanised["245"]["a"]
    assert _merged(romanised, arabic)
    assert _merged(romanised, _variant(arabic, _drop("100")))  # no creator: publisher, year and pages all agree


def test_consonants_alone_do_not_merge_an_arabic_record_with_a_romanised_one(thuqub):
    romanised = _variant(thuqub, _drop("880", "010", "035"))
    arabic = _variant(thuqub, _vernacular_only, _drop("010", "035"))
    assert not _merged(romanised, _variant(arabic, _set("260", "b", "دار الشروق،")))  # another publisher
    assert not _merged(romanised, _variant(arabic, _set("245", "a", "دروب في عقل الأمة :")))  # another title
    bare = _variant(arabic, _drop("100", "260", "300"), _short_008)  # the title's consonants and nothing else
    assert not _merged(romanised, bare)


def test_consonant_skeletons_of_arabic_script_and_its_romanisation():
    from records.romanisation import consonant_skeleton

    assert consonant_skeleton("سحر البيان") == consonant_skeleton("[Siḥr al-Bayān].") == consonant_skeleton(
        "Sihr al-Bayan")
    assert consonant_skeleton("مفتاح المقاصد") == consonant_skeleton("Miftāḥ al-maqāṣid.")
    assert consonant_skeleton("كفايه مجاهده در طب") == consonant_skeleton("Kifāyah-i mujāhadah dar ṭibb.")  # Persian
    assert consonant_skeleton("Nuzʹhat") != consonant_skeleton("Nuzhat")  # ʹ parts z and h


def test_the_real_pinyin_romanisations_read_as_their_characters_syllable_by_syllable():
    """Every romanised 245 in pinyin of the real Chinese records (GWU, LC) against its 880, read by pypinyin and
    put into Wade-Giles: the same syllables, so comparing characters and pinyin syllable by syllable costs no real
    match. (Japanese books, "Handa shishi" / 半田市誌, are not read in pinyin at all.)"""
    from records.fold import is_cjk
    from records.romanisation import pinyin_as_wade_giles, wade_giles

    pairs = []
    for path in ("loc-cc0/gwu.xml", "yaz/marccol1.u8.marc", "traject/test_data.utf8.marc.xml"):
        reader = iter_marcxml if path.endswith(".xml") else iter_iso2709
        for _pos, rec in reader(REAL / path):
            if rec["008"] is None or rec["008"].data[35:38] != "chi":
                continue
            for f in rec.get_fields("880"):
                vernacular = " ".join(f.get_subfields("a"))
                if (f.get_subfields("6") or [""])[0].startswith("245") and is_cjk(vernacular) and "\ufffd" not in vernacular:
                    pinyin = pinyin_as_wade_giles(rec["245"]["a"])
                    if pinyin:
                        pairs.append((pinyin.split(), wade_giles(vernacular).split()))
    assert len(pairs) >= 15
    assert [p for p in pairs if p[0] != p[1]] == []


def test_a_printed_books_size_is_not_evidence_of_its_edition():
    """Princeton's Biblia pauperum (Hans Spoerer, 1471, 40 leaves, 28.2 x 37.6 cm) against a record of that
    title and year with the same size but no publisher and no leaves: a block-book's format is shared by other
    editions, so title, year and size do not make one (an album that no publisher issued is another matter)."""
    biblia = _real("loc-cc0/princeton.xml", "4606238")
    sparse = _variant(biblia, _drop("100", "700", "710"), _drop("260", code="b"), _set("300", "a", "1 v. ;"))
    assert not _merged(biblia, sparse)
