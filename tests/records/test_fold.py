"""Match keys: traditional/simplified, full-width, ISBD punctuation, case and accents fold together."""

from __future__ import annotations

from records.fold import fold, is_cjk, script_forms, to_simplified, to_traditional


def test_traditional_and_simplified_give_one_key():
    assert fold("車輪滾滾") == fold("车轮滚滚")
    assert fold("長春電影製片廠") == fold("长春电影制片厂")
    assert fold("紅樓夢") != fold("红楼")  # folding must not make different titles equal


def test_full_width_and_isbd_punctuation():
    assert fold("《紅樓夢》 ： 上冊") == fold("红楼梦:上册") == "红楼梦上册"
    assert fold("ＡＢＣ　１２３") == "abc 123"
    assert fold("Title / by someone ; edited = Titre") == "title by someone edited titre"
    assert fold("[Beijing] :") == "beijing"


def test_spaces_between_cjk_words_are_dropped():
    # LoC romanised-era records put spaces between Chinese words; other catalogues do not.
    assert fold("鲁  迅  与  浙东  文化") == fold("鲁迅与浙东文化")


def test_latin_accents_and_case():
    assert fold("Café Society") == fold("CAFE SOCIETY") == "cafe society"
    assert fold("Łódź") == "lodz"
    assert fold("Straße") == fold("STRASSE")


def test_kana_voicing_marks_are_kept():
    assert fold("が") != fold("か")


def test_program_language_names_survive():
    assert fold("C++ 程序設計") == "c++ 程序设计"


def test_helpers():
    assert to_simplified("髮型") == "发型"
    assert to_simplified("Hello") == "Hello"
    assert is_cjk("abc 中") and not is_cjk("abc")
    assert fold("") == ""


def test_script_forms_are_what_either_script_would_catalogue():
    assert to_traditional("数据结构") == "數據結構" and to_traditional("头发") == "頭髮"  # by phrase, not by character
    assert script_forms("数据结构") == ["数据结构", "數據結構"]
    assert script_forms("數據結構") == ["數據結構", "数据结构"]
    assert script_forms("中國發展报告") == ["中國發展报告", "中国发展报告", "中國發展報告"]  # mixed, as typed
    assert script_forms("Hello") == ["Hello"] and script_forms("计算机 C++") == ["计算机 C++", "計算機 C++"]

