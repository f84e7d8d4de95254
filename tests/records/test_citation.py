"""Pasted citations → structured fields (records/citation.py): GB/T 7714-2015, APA 7, Chinese descriptions and
DOIs, in both languages, with full-width punctuation and messy spacing as readers paste them."""

from __future__ import annotations

import pytest

from records.citation import ARTICLE, BOOK, CHAPTER, Citation, page_count, parse_citation, parse_doi

# (pasted text, style, fields that must be read exactly, fields reported missing)
CASES = [
    # GB/T 7714-2015 [J], Chinese, the standard's own example form
    ("袁训来, 陈哲, 肖书海, 等. 蓝田生物群: 一个认识多细胞生物起源和早期演化的新窗口[J]. 科学通报, 2012, 55(34): 3219-3227.",
     "gbt7714", dict(kind=ARTICLE, journal="科学通报", year=2012, volume="55", issue="34", pages="3219-3227",
                     authors=("袁训来", "陈哲", "肖书海"),
                     article="蓝田生物群: 一个认识多细胞生物起源和早期演化的新窗口"), ()),
    # English, surname in capitals, initials without full stops
    ("KANAMORI H. Shaking without quaking[J]. Science, 1998, 279(5359): 2063.",
     "gbt7714", dict(journal="Science", year=1998, volume="279", issue="5359", pages="2063",
                     authors=("KANAMORI H",), article="Shaking without quaking"), ()),
    # full-width letters, digits and punctuation from a Chinese input method
    ("李炳穆．韩国图书馆法［Ｊ］．图书情报工作，２００８，５２（６）：６－１２．",
     "gbt7714", dict(journal="图书情报工作", year=2008, volume="52", issue="6", pages="6-12", authors=("李炳穆",),
                     article="韩国图书馆法"), ()),
    # no author; an abbreviated journal title
    ("Coffee drinking and cancer of the pancreas[J]. Br Med J, 1981, 283(6292): 628.",
     "gbt7714", dict(journal="Br Med J", year=1981, volume="283", issue="6292", pages="628", authors=(),
                     article="Coffee drinking and cancer of the pancreas"), ()),
    # a Chinese journal numbered by year and issue only, extra spaces, an en dash
    ("王晓明.  试论图书馆文献传递服务[J] .  情报学报 ,2010(3):12–15.",
     "gbt7714", dict(journal="情报学报", year=2010, volume="", issue="3", pages="12-15"), ()),
    # initials with full stops, a DOI at the end
    ("Smith J. A., Jones B. Deep learning for catalogues[J]. Library Hi Tech, 2019, 37(2): 201-219. "
     "DOI:10.1108/LHT-01-2018-0012.",
     "gbt7714", dict(journal="Library Hi Tech", volume="37", issue="2", pages="201-219", article="Deep learning for "
                     "catalogues", doi="10.1108/LHT-01-2018-0012"), ()),
    # spaces around every sign
    ("GUO Li, ZHANG Wei. Interlibrary loan in China[J]. Journal of Academic Librarianship, 2015, 41 (4) : 512 - 520 .",
     "gbt7714", dict(journal="Journal of Academic Librarianship", year=2015, volume="41", issue="4",
                     pages="512-520", authors=("GUO Li", "ZHANG Wei")), ()),
    # online journal, a supplement issue, a cited date, a body as author
    ("华北电力大学学报编辑部. 电力系统稳定性研究进展[J/OL]. 华北电力大学学报, 2020, 47(增刊1): 1-8[2021-03-01].",
     "gbt7714", dict(journal="华北电力大学学报", volume="47", issue="增刊1", pages="1-8",
                     authors=("华北电力大学学报编辑部",), article="电力系统稳定性研究进展"), ()),
    # an ISSN given with the reference is kept (check digit right)
    ("刘兹恒, 周佳贵. 新时期高校图书馆文献传递服务[J]. 大学图书馆学报, 2012, 30(1): 15-20. ISSN 1002-1027",
     "gbt7714", dict(issn="1002-1027", volume="30", issue="1"), ()),
    # a wrong ISSN check digit is not kept
    ("刘兹恒. 文献传递[J]. 大学图书馆学报, 2012, 30(1): 15-20. ISSN 1002-1028",
     "gbt7714", dict(issn=""), ()),
    # without pages: reported missing
    ("张明. 高校图书馆馆际互借调查[J]. 图书馆杂志, 2009, 28(4).",
     "gbt7714", dict(journal="图书馆杂志", volume="28", issue="4", pages=""), ("pages",)),
    # newspaper [N]: the date is the issue, the page (版) the pages
    ("丁文祥. 数字革命与竞争国际化[N]. 中国青年报, 2000-11-20(15).",
     "gbt7714", dict(journal="中国青年报", year=2000, issue="2000-11-20", pages="15"), ()),
    # book [M] with the page cited
    ("陈登原. 国史旧闻: 第1卷[M]. 北京: 中华书局, 2000: 29.",
     "gbt7714", dict(kind=BOOK, journal="国史旧闻: 第1卷", place="北京", publisher="中华书局", year=2000,
                     pages="29"), ()),
    # book with an edition statement and an ISBN
    ("蒋有绪, 郭泉水, 马娟, 等. 中国森林群落分类及其群落学特征[M]. 2版. 北京: 科学出版社, 1998. ISBN 978-7-03-006657-2",
     "gbt7714", dict(kind=BOOK, journal="中国森林群落分类及其群落学特征", publisher="科学出版社", year=1998,
                     isbn="9787030066572"), ()),
    # English book
    ("CRAWFORD W, GORMAN M. Future libraries: dreams, madness, & reality[M]. Chicago: American Library "
     "Association, 1995.",
     "gbt7714", dict(kind=BOOK, journal="Future libraries: dreams, madness, & reality", place="Chicago",
                     publisher="American Library Association", year=1995), ()),
    # chapter of a book, "[M]//"
    ("程根伟. 1998年长江洪水的成因与减灾对策[M]//许厚泽, 赵其国. 长江流域洪涝灾害与科技对策. 北京: 科学出版社, "
     "1999: 32-36.",
     "gbt7714", dict(kind=CHAPTER, journal="长江流域洪涝灾害与科技对策", article="1998年长江洪水的成因与减灾对策",
                     editors=("许厚泽", "赵其国"), year=1999, pages="32-36", publisher="科学出版社"), ()),
    # paper in proceedings, "[C]//"
    ("BABU B V, NAGAR A K, DEEP K, et al. Proceedings of the second international conference on soft computing "
     "for problem solving[C]//SocProS 2012. New Delhi: Springer, 2014: 245-252.",
     "gbt7714", dict(kind=CHAPTER, year=2014, pages="245-252", publisher="Springer", place="New Delhi"), ()),
    # APA 7 journal article with a doi.org link
    ("Grady, J. S., Her, M., Moreno, G., Perez, C., & Yelinek, J. (2019). Emotions in storybooks: A comparison of "
     "storybooks that represent ethnic and racial groups in the United States. Psychology of Popular Media Culture, "
     "8(3), 207–217. https://doi.org/10.1037/ppm0000185",
     "apa", dict(kind=ARTICLE, journal="Psychology of Popular Media Culture", year=2019, volume="8", issue="3",
                 pages="207-217", doi="10.1037/ppm0000185",
                 authors=("Grady, J. S.", "Her, M.", "Moreno, G.", "Perez, C.", "Yelinek, J.")), ()),
    # APA article number instead of pages, a title ending in a quotation
    ("Jerrentrup, A., Mueller, T., Glowalla, U., Herder, M., Henrichs, N., Neubauer, A., & Schaefer, J. R. (2018). "
     "Teaching medicine with the help of “Dr. House.” PLoS ONE, 13(3), Article e0193972. "
     "https://doi.org/10.1371/journal.pone.0193972",
     "apa", dict(journal="PLoS ONE", year=2018, volume="13", issue="3", pages="e0193972"), ()),
    # APA book with edition
    ("Jackson, L. M. (2019). The psychology of prejudice: From attitudes to social action (2nd ed.). American "
     "Psychological Association. https://doi.org/10.1037/0000168-000",
     "apa", dict(kind=BOOK, journal="The psychology of prejudice: From attitudes to social action",
                 publisher="American Psychological Association", year=2019), ()),
    # APA chapter in an edited book
    ("Aron, L., Botella, M., & Lubart, T. (2019). Culinary arts: Talent and their development. In R. F. Subotnik, "
     "P. Olszewski-Kubilius, & F. C. Worrell (Eds.), The psychology of high performance: Developing human potential "
     "into domain-specific talent (pp. 345–359). American Psychological Association.",
     "apa", dict(kind=CHAPTER, article="Culinary arts: Talent and their development", pages="345-359",
                 editors=("R. F. Subotnik", "P. Olszewski-Kubilius", "F. C. Worrell"), year=2019), ()),
    # APA in Chinese, full-width commas and brackets
    ("张三，李四．（2019）．高校图书馆原文传递服务研究．大学图书馆学报，37（2），45–52．",
     "apa", dict(journal="大学图书馆学报", year=2019, volume="37", issue="2", pages="45-52",
                 authors=("张三", "李四"), article="高校图书馆原文传递服务研究"), ()),
    # APA without a date
    ("Wang, X. (n.d.). Document delivery in Beijing. Library Review, 12(1), 1-9.",
     "apa", dict(journal="Library Review", year=None, volume="12"), ("year",)),
    # Chinese description with 《》 for the article and the journal
    ("王五：《文献传递的现状》，《情报学报》2010年第29卷第3期，第12-15页。",
     "chinese", dict(journal="情报学报", article="文献传递的现状", authors=("王五",), year=2010, volume="29",
                     issue="3", pages="12-15"), ()),
    ("《中国图书馆学报》2011年第2期 第45-50页", "chinese",
     dict(journal="中国图书馆学报", year=2011, issue="2", pages="45-50"), ("article",)),
    # bare DOIs and doi.org links: only the DOI
    ("10.1016/j.acalib.2019.06.004", "doi", dict(doi="10.1016/j.acalib.2019.06.004"),
     ("journal", "year", "volume_or_issue", "pages", "article")),
    ("https://doi.org/10.1002/asi.24117", "doi", dict(doi="10.1002/asi.24117"),
     ("journal", "year", "volume_or_issue", "pages", "article")),
    ("doi: 10.1108/JD-05-2019-0091 ", "doi", dict(doi="10.1108/JD-05-2019-0091"),
     ("journal", "year", "volume_or_issue", "pages", "article")),
    # not a citation at all
    ("请帮我找一篇关于文献传递的文章", "unknown", dict(article="请帮我找一篇关于文献传递的文章"),
     ("journal", "year", "volume_or_issue", "pages")),
]


@pytest.mark.parametrize(("text", "style", "expected", "missing"), CASES, ids=[c[0][:30] for c in CASES])
def test_pasted_citation_fills_fields(text, style, expected, missing):
    parsed = parse_citation(text)
    assert parsed.style == style
    for name, value in expected.items():
        assert getattr(parsed.citation, name) == value, name
    assert parsed.missing == missing


def test_unrecognised_text_says_so_in_both_languages():
    parsed = parse_citation("随便写的 something")
    assert parsed.style == "unknown"
    assert "style not recognised" in parsed.notes[0] and "未识别" in parsed.notes[0]
    assert "刊名" in parsed.missing_text


def test_empty_paste():
    parsed = parse_citation("   ")
    assert parsed.style == "unknown" and parsed.notes


def test_doi_only_note_says_balis_does_not_look_it_up():
    parsed = parse_citation("https://dx.doi.org/10.1371/journal.pone.0193972")
    assert parsed.citation.doi == "10.1371/journal.pone.0193972"
    assert "does not look DOIs up" in parsed.notes[0]


@pytest.mark.parametrize(("text", "doi"), [
    ("see doi:10.1000/182.", "10.1000/182"),
    ("(https://doi.org/10.1016/S0140-6736(20)30183-5)", "10.1016/S0140-6736(20)30183-5"),
    ("no doi here", ""),
])
def test_parse_doi(text, doi):
    assert parse_doi(text) == doi


@pytest.mark.parametrize(("pages", "count"), [
    ("12-15", 4), ("2063", 1), ("3219-27", 9), ("5-7, 9", 4), ("e0193972", None), ("", None), ("15-12", None),
])
def test_page_count(pages, count):
    assert page_count(pages) == count


def test_citation_round_trips_through_json_shape():
    c = parse_citation("刘兹恒, 周佳贵. 新时期高校图书馆文献传递服务[J]. 大学图书馆学报, 2012, 30(1): 15-20.").citation
    data = c.to_dict()
    assert data["authors"] == ["刘兹恒", "周佳贵"] and "doi" not in data
    assert Citation.from_dict(data) == c
    assert c.text() == "刘兹恒, 周佳贵. 新时期高校图书馆文献传递服务. 大学图书馆学报, 2012, 30(1): 15-20"


def test_citation_from_data_written_elsewhere_is_read_leniently():
    c = Citation.from_dict({"journal": "情报学报", "year": "2010年", "volume": 29, "authors": "张三, 李四",
                            "title": "a key this model does not have"})
    assert (c.year, c.volume, c.authors) == (2010, "29", ("张三", "李四"))
    assert Citation.from_dict(None) == Citation()
