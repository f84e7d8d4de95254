"""The compact pinyin table (records/tables.py) reads every text as pypinyin with its whole phrase dictionary
reads it: the titles, names and publishers of the real records (../shared/data/marc) and of the test bed's
catalogues, pypinyin's own phrases, and the places where its way of cutting a text decides a reading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pypinyin import Style as PStyle
from pypinyin import lazy_pinyin as pypinyin_reading
from pypinyin.constants import PHRASES_DICT

from dedup.keys import pinyin_key
from federator.rank import title_sort_key
from records import tables
from records.errors import RecordError
from records.fold import fold, is_cjk
from records.normalise import normalise
from records.tables import Style, lazy_pinyin
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles
from tests.marc_files import readable_marc

ROOT = Path(__file__).resolve().parents[2]
SHARED_MARC = ROOT.parent / "shared" / "data" / "marc"
PROJECT_MARC = ROOT / "testbed" / "data" / "marc"
STYLES = ((Style.NORMAL, PStyle.NORMAL), (Style.TONE3, PStyle.TONE3), (Style.WADEGILES, PStyle.WADEGILES))


def _texts_of(rec) -> set[str]:
    """A record's titles, names and publishers, as catalogued and as folded for matching and sorting."""
    texts = {rec.title, rec.subtitle or "", rec.part or "", rec.publisher or "", rec.vernacular_publisher or "",
             rec.place or "", *rec.parallel_titles, *rec.vernacular_titles, *rec.vernacular_parts,
             *rec.other_titles, *rec.other_names, *rec.series, *(a.name for a in rec.authors)}
    texts = {t for t in texts if t and is_cjk(t)}
    return texts | {fold(t) for t in texts}


def _marc_texts(folder: Path) -> set[str]:
    """Every CJK text of every record the project's readers read in the folder: the fields balis keeps, and
    every subfield of every field besides."""
    texts: set[str] = set()
    for _path, position, marc in readable_marc(folder):
        texts |= {sf.value for f in marc.fields if not f.is_control_field() for sf in f.subfields
                  if sf.value and is_cjk(sf.value)}
        try:
            texts |= _texts_of(normalise(marc, syntax="auto", member="T", record_id=str(position)))
        except RecordError:
            continue
    return texts


def _assert_read_as_pypinyin(texts) -> None:
    wrong = []
    for text in texts:
        for ours, theirs in STYLES:
            if lazy_pinyin(text, ours) != pypinyin_reading(text, style=theirs):
                wrong.append((text, ours.name, lazy_pinyin(text, ours), pypinyin_reading(text, style=theirs)))
    assert not wrong, f"{len(wrong)} readings differ from pypinyin's, e.g. {wrong[:3]}"


@pytest.fixture(scope="module")
def real_texts() -> list[str]:
    folder = SHARED_MARC if SHARED_MARC.is_dir() else PROJECT_MARC
    texts = sorted(_marc_texts(folder))
    assert len(texts) > 900  # the CNMARC and MARC21 Chinese samples are there
    return texts


@pytest.fixture(scope="module")
def testbed_texts() -> list[str]:
    records = plan_records(plan_catalogues(20071130, member_profiles(8), 300))
    texts = sorted(set().union(*(_texts_of(r) for r in records)))
    assert len(texts) > 1000
    return texts


def test_the_polyphonic_characters_read_as_in_their_phrases():
    assert lazy_pinyin("重庆", Style.TONE3) == ["chong2", "qing4"]
    assert lazy_pinyin("中国人民银行行长", Style.TONE3)[4:] == ["yin2", "hang2", "hang2", "zhang3"]
    assert lazy_pinyin("长安音乐学院") == ["chang", "an", "yin", "yue", "xue", "yuan"]
    assert lazy_pinyin("首都师范大学 (2009)", Style.TONE3) == ["shou3", "du1", "shi1", "fan4", "da4", "xue2",
                                                                " (2009)"]
    assert pinyin_key("重庆银行 行长") == "chongqingyinhanghangzhang"


def test_the_real_records_titles_names_and_publishers_read_as_pypinyin_reads_them(real_texts):
    _assert_read_as_pypinyin(real_texts)
    assert {pinyin_key(t) for t in real_texts} == {
        "".join(pypinyin_reading(t, errors="default")).replace(" ", "").casefold() for t in real_texts}
    assert [title_sort_key(t) for t in real_texts] == [
        t if (f := fold(t)).isascii() else " ".join(pypinyin_reading(f, style=PStyle.TONE3)).lower()
        for t in real_texts]


def test_the_test_beds_catalogues_read_as_pypinyin_reads_them(testbed_texts):
    _assert_read_as_pypinyin(testbed_texts)


def test_pypinyins_own_phrases_read_as_pypinyin_reads_them():
    """Every 50th phrase alone, and phrases run together (cuts across their borders) and with other text."""
    phrases = list(PHRASES_DICT)[::50]
    _assert_read_as_pypinyin(phrases)
    _assert_read_as_pypinyin(["".join(phrases[i:i + 5]) for i in range(0, len(phrases), 5)])
    _assert_read_as_pypinyin([f"{a}, {b}2009" for a, b in zip(phrases[::7], phrases[3::7], strict=False)])


@pytest.mark.parametrize("text", ["三人为", "下不了", "不为人", "七返还", "这是三人为", "三人为众"])
def test_the_end_of_a_text_is_cut_as_pypinyins_mmseg_cuts_it(text):
    """At the end of a text that is the start of a longer phrase (三人为 of 三人为众), mmseg reads the rest
    character by character, so 人为 there reads ren2 wei4, not as the phrase (wei2)."""
    _assert_read_as_pypinyin([text])
    if text == "三人为":
        assert lazy_pinyin(text, Style.TONE3) == ["san1", "ren2", "wei4"]


def test_text_without_chinese_and_characters_without_a_reading_are_kept_as_pypinyin_keeps_them():
    _assert_read_as_pypinyin(["", "abc", "Ünïcode 2009", "〇", "\u3400\u9fff\U00020000", "中\u3402国", "中\n国", "日本語のテキスト",
                              "한국어 제목", "（第2版）", "ｆｕｌｌ－ｗｉｄｔｈ 中文"])


def test_other_styles_are_refused_with_a_message():
    with pytest.raises(ValueError, match="Style.NORMAL, Style.TONE3 and Style.WADEGILES"):
        lazy_pinyin("中国", 1)  # pypinyin's TONE


def _fresh(home: Path) -> dict:
    code = ("import json, sys; from records.tables import lazy_pinyin, Style; "
            "r = lazy_pinyin('重庆银行', Style.TONE3); "
            "print(json.dumps([r, 'pypinyin' in sys.modules]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BALIS_")}
    env["BALIS_HOME"] = str(home)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    reading, imported = json.loads(out.stdout)
    return {"reading": reading, "pypinyin imported": imported}


def test_the_table_is_built_once_kept_in_the_home_folder_and_rebuilt_for_another_pypinyin(tmp_path):
    expected = ["chong2", "qing4", "yin2", "hang2"]
    assert _fresh(tmp_path) == {"reading": expected, "pypinyin imported": True}  # built with pypinyin
    kept = tmp_path / tables.FILE_NAME
    assert kept.is_file()
    assert _fresh(tmp_path) == {"reading": expected, "pypinyin imported": False}  # read back
    import marshal

    doc = marshal.loads(kept.read_bytes())
    kept.write_bytes(marshal.dumps(("another pypinyin", *doc[1:])))
    assert _fresh(tmp_path) == {"reading": expected, "pypinyin imported": True}  # stale: built again
    kept.write_bytes(b"not a table")
    assert _fresh(tmp_path) == {"reading": expected, "pypinyin imported": True}
    assert marshal.loads(kept.read_bytes())[0] == doc[0]


def test_a_table_that_reads_otherwise_than_pypinyin_is_refused():
    """The build checks its table against pypinyin before keeping it; a reading that went wrong (重庆 read as
    its characters, zhong4 qing4) is refused, and the process then reads with pypinyin itself."""
    import dataclasses

    good = tables.build("test")
    tables.check(good, ["重庆"])
    group = good.phrases["重"]
    at = group.index("\n重庆\t") + len("\n重庆\t")
    wrong = {**good.phrases, "重": group[:at] + group[group.index("\n", at):]}  # its reading left out
    with pytest.raises(tables.PinyinTableError, match="重庆"):
        tables.check(dataclasses.replace(good, phrases=wrong), ["去重庆"])
