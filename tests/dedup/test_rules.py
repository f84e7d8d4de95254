"""The matching rules on hand-made records: what must merge and what must stay apart."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dedup import cluster, merge
from dedup.keys import edition_key, volume_key
from records.model import Author, Holding, Isbn, Record


def _book(member: str, rid: str, **kw) -> Record:
    base = dict(member=member, record_id=rid, syntax="unimarc", title="红楼梦", authors=[Author("曹雪芹", "著")],
                publisher="人民文学出版社", year=1982, extent="1606页", language="chi",
                isbns=[Isbn("7-02-000220-X", "9787020002207")], holdings=[Holding(member, status="available")])
    base.update(kw)
    return Record(**base)


@pytest.mark.parametrize("text,key", [("第2版", "2"), ("第二版", "2"), ("2nd ed.", "2"), ("Di 2 ban", "2"),
                                      ("2. Aufl.", "2"), ("修订版", "r"), ("第3版修订", "3"), ("第1版", None),
                                      ("初版", None), (None, None), ("Rev. ed.", "r")])
def test_edition_key(text, key):
    assert edition_key(text) == key


@pytest.mark.parametrize("text,key", [("上册", "上"), ("下冊", "下"), ("v. 1", "1"), ("Vol. 2", "2"), ("第1卷", "1"),
                                      ("第一册", "1"), ("Shang ce", "上"), ("Bd. 3", "3"), (None, None)])
def test_volume_key(text, key):
    assert volume_key(text) == key


def test_marc21_and_cnmarc_of_one_book_merge():
    cn = _book("PKU", "p1", title_pinyin="Hong lou meng")
    m21 = _book("THU", "t1", syntax="marc21", title="红楼梦 /", publisher="人民文学出版社出版", extent="1606页 ; 26 cm",
                isbns=[Isbn("978-7-02-000220-7", "9787020002207")], holdings=[Holding("THU")])
    assert cluster([cn, m21]) == [[0, 1]]


def test_traditional_and_simplified_merge_without_isbn():
    simp = _book("PKU", "p1", isbns=[])
    trad = _book("BNU", "b1", title="紅樓夢", authors=[Author("曹雪芹", "著")], publisher="人民文學出版社", isbns=[])
    assert cluster([simp, trad]) == [[0, 1]]


def test_romanised_record_with_vernacular_merges():
    cn = _book("PKU", "p1", isbns=[])
    loc = _book("BUAA", "a1", syntax="marc21", title="Hong lou meng", vernacular_titles=["红楼梦"],
                authors=[Author("Cao, Xueqin"), Author("曹雪芹")], publisher="Ren min wen xue chu ban she", isbns=[])
    assert cluster([cn, loc]) == [[0, 1]]


def test_pinyin_subfield_is_not_used_for_matching():
    a = _book("PKU", "p1", title="红楼梦", title_pinyin="Hong lou meng", isbns=[])
    b = _book("RUC", "r1", title="西游记", title_pinyin="Hong lou meng", isbns=[])
    assert cluster([a, b]) == [[0], [1]]


@pytest.mark.parametrize("change", [
    dict(part="下册"),  # volume
    dict(material_type="ebook"),  # carrier
    dict(material_type="audio"),
    dict(material_type="large_print"),
    dict(edition="第2版"),
    dict(year=1996),
    dict(language="eng", title="A dream of red mansions"),
])
def test_shared_isbn_with_a_conflict_stays_apart(change):
    a = _book("PKU", "p1", part="上册" if "part" in change else None)
    b = replace(_book("THU", "t1"), **change)
    assert cluster([a, b]) == [[0], [1]]


def test_other_publisher_or_translator_stays_apart():
    a = _book("PKU", "p1", title="经济学", authors=[Author("萨缪尔森", "著"), Author("萧琛", "译")], isbns=[])
    other_translator = replace(a, member="THU", record_id="t1",
                               authors=[Author("萨缪尔森", "著"), Author("高鸿业", "译")])
    other_publisher = replace(a, member="RUC", record_id="r1", publisher="商务印书馆")
    assert cluster([a, other_translator, other_publisher]) == [[0], [1], [2]]


def test_a_record_without_isbn_does_not_chain_two_isbns():
    a = _book("PKU", "p1", isbns=[Isbn("x", "9787020002207")])
    b = _book("THU", "t1", isbns=[Isbn("y", "9787020008742")])
    c = _book("RUC", "r1", isbns=[])
    groups = cluster([a, b, c])
    assert len(groups) == 2 and [0, 1] not in groups


def test_work_merges_display_fields():
    a = _book("PKU", "p1", extent="1606页", subjects=["章回小说"], isbns=[Isbn("x", "9787020002207")])
    b = _book("THU", "t1", syntax="marc21", extent="1606页 : 插图 ; 26 cm", subjects=["章回小說", "中国文学"],
              isbns=[Isbn("x", "9787020002207"), Isbn("7-02-000221-8", "9787020002214", "精装")])
    (work,) = merge([a, b])
    assert work.isbns == ["9787020002207", "9787020002214"]
    assert work.display.extent == "1606页 : 插图 ; 26 cm"
    assert len(work.display.subjects) == 2
    assert {h.member for h in work.holdings} == {"PKU", "THU"}
    assert work.work_id == merge([b, a])[0].work_id
