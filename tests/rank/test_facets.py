"""Facets over merged editions: counts, year bins, labels, CLC classes, and filtering by selection."""

from __future__ import annotations

import pytest

from dedup.work import build_work
from federator.facets import CLC_CLASSES, apply, clc_classes, compute, year_bins


@pytest.fixture()
def works(make_work, make_rec):
    return [
        make_work("数据结构", members=("THU", "PKU"), year=2003, language="chi", clc=("TP311.12",)),
        make_work("操作系统", members=("THU",), year=2011, language="chi", clc=("TP316",)),
        make_work("红楼梦", members=("PKU", "RUC"), year=1982, language="chi", clc=("I242.4",)),
        make_work("War and peace", members=("BNU",), year=1942, language="eng", syntax="marc21"),
        make_work("音乐欣赏", members=("CCOM",), year=None, language=None, material_type="audio", clc=("J6",)),
        build_work([make_rec("经济与法", member="CUPL", year=2019, language="chi", clc=("F0", "D9")),
                    make_rec("经济与法", member="RUC", year=2019, language="chi", clc=("F0",))]),
    ]


def counts(facet: list[dict]) -> dict[str, int]:
    return {v["value"]: v["count"] for v in facet}


def test_single_valued_facets_add_up(works):
    f = compute(works)
    for name in ("year", "language", "material_type"):
        assert sum(v["count"] for v in f[name]) == len(works), name


def test_member_counts_each_holder_once(works):
    f = compute(works, names={"THU": "清华大学", "PKU": "北京大学"})
    c = counts(f["member"])
    assert c == {"THU": 2, "PKU": 2, "RUC": 2, "BNU": 1, "CCOM": 1, "CUPL": 1}
    labels = {v["value"]: v["label"] for v in f["member"]}
    assert labels["THU"] == "清华大学" and labels["BNU"] is None
    assert [v["count"] for v in f["member"]] == sorted((v["count"] for v in f["member"]), reverse=True)


def test_language_and_material_type_labels(works):
    f = compute(works)
    assert counts(f["language"]) == {"chi": 4, "eng": 1, "unknown": 1}
    assert f["language"][0]["label"] == "中文" and f["language"][-1]["value"] == "unknown"
    assert counts(f["material_type"]) == {"book": 5, "audio": 1}
    assert {v["value"]: v["label"] for v in f["material_type"]}["audio"] == "录音资料"


def test_clc_top_level_classes(works):
    f = compute(works)
    assert counts(f["clc"]) == {"T": 2, "I": 1, "J": 1, "F": 1, "D": 1, "unknown": 1}
    assert {v["value"]: v["label"] for v in f["clc"]}["T"] == "T 工业技术"
    assert clc_classes(works[-1]) == ["D", "F"]


def test_clc_names_cover_the_22_classes():
    assert len(CLC_CLASSES) == 22
    assert "".join(CLC_CLASSES) == "ABCDEFGHIJKNOPQRSTUVXZ"
    assert CLC_CLASSES["A"][0].startswith("马克思主义") and CLC_CLASSES["Z"] == ("综合性图书", "General works")
    assert all(zh and en and en.isascii() for zh, en in CLC_CLASSES.values())


def test_codes_are_shown_as_words_in_both_languages():
    from records.vocabulary import clc_class, clc_name, language_name

    assert (clc_name("F"), clc_name("F", "en")) == ("F 经济", "F Economics")
    assert clc_class("f832.2", "en") == "F Economics" and clc_class("W123") is None and clc_class("") is None
    named = {c: (language_name(c), language_name(c, "en")) for c in ("chi", "ger", "ben", "san", "mul", "xyz", "")}
    assert named == {"chi": ("中文", "Chinese"), "ger": ("德文", "German"), "ben": ("孟加拉语", "Bengali"),
                     "san": ("梵语", "Sanskrit"), "mul": ("多语种", "Multiple languages"), "xyz": ("xyz", "xyz"),
                     "": ("", "")}


def test_clc_letter_from_lower_case_and_unknown_letters(make_work):
    assert clc_classes(make_work("x", clc=("tp311.1",))) == ["T"]
    assert clc_classes(make_work("y", clc=("W123", "？"))) == []


def test_year_bins_chosen_from_the_data():
    assert year_bins([1952, 1999, 2021]) == [(1950, 1959), (1960, 1969), (1970, 1979), (1980, 1989),
                                             (1990, 1999), (2000, 2009), (2010, 2019), (2020, 2029)]
    assert year_bins([2003, 2011, 2019]) == [(2000, 2004), (2005, 2009), (2010, 2014), (2015, 2019)]
    assert year_bins([1900]) == []


def test_year_facet_newest_first_with_before_1950(works):
    f = compute(works)
    assert [(v["value"], v["count"]) for v in f["year"]] == [
        ("2010-2019", 2), ("2000-2009", 1), ("1980-1989", 1), ("-1949", 1), ("unknown", 1)]
    assert f["year"][3]["label"] == "1950年以前"


def test_apply_and_across_or_within(works):
    assert {w.display.title for w in apply(works, {"member": ["THU"]})} == {"数据结构", "操作系统"}
    assert {w.display.title for w in apply(works, {"member": ["THU", "RUC"]})} == {
        "数据结构", "操作系统", "红楼梦", "经济与法"}
    assert {w.display.title for w in apply(works, {"member": ["THU", "RUC"], "clc": ["T"]})} == {
        "数据结构", "操作系统"}
    assert {w.display.title for w in apply(works, {"clc": ["F", "I"], "year": ["2010-2019"]})} == {"经济与法"}
    assert [w.display.title for w in apply(works, {"year": ["-1949"]})] == ["War and peace"]
    assert [w.display.title for w in apply(works, {"language": ["unknown"]})] == ["音乐欣赏"]
    assert apply(works, {}) == works
    assert apply(works, {"member": []}) == works


def test_apply_counts_match_compute(works):
    """Selecting any facet value yields exactly as many works as its count said."""
    f = compute(works)
    for name, values in f.items():
        for v in values:
            assert len(apply(works, {name: [v["value"]]})) == v["count"], (name, v)


def test_apply_keeps_order_and_accepts_any_year_range(works):
    assert [w.display.year for w in apply(works, {"year": ["2000-2012"]})] == [2003, 2011]
    assert [w.display.year for w in apply(works, {"year": ["2019"]})] == [2019]


def test_apply_refuses_unknown_facets_and_bad_years(works):
    with pytest.raises(ValueError, match="unknown facet 'colour'"):
        apply(works, {"colour": ["red"]})
    with pytest.raises(ValueError, match="not a year or a range"):
        apply(works, {"year": ["recent"]})
    with pytest.raises(ValueError, match="not a year or a range"):
        apply([], {"year": ["recent"]})
