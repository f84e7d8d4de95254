"""Serial holdings in CNMARC records (records/cnmarc_holdings.py): Chinese members' journal records read into the
same coverage model as MARC 21 866/863, and a copy rota built from them.

Where each form comes from (docs/document-delivery.md says which parts are documented and which assumed):
- the record's shape: CNMARC serial records as GB/T 33286-2016 describes them and the NLC's 民国时期文献普查
  rules apply them to Chinese journals (leader/07 s, 011 ISSN, 200 title, 207 $a numbering "1980,no.1-",
  210 imprint, 326 frequency);
- 905 with $a library, $b barcode, $c location, $d/$e call number: the CALIS holdings field 馆藏信息, as
  汇文 and Interlib send it (records/holdings.py reads copies from it); the run in $f (卷期) is the assumption;
- the statements: the Chinese forms members write on their journal holdings pages and in union lists
  ("1980-2004年", "第1卷(1980)-第25卷(2004)", "缺1998年第3期", "现刊", "总第1期-"), the English-style forms
  of libraries cataloguing in Latin captions ("v.1(1980)-v.25(2004)"), and 207's own "1980,no.1-".
"""

from __future__ import annotations

from datetime import date

import pymarc
import pytest

from members import Member
from records.coverage import parse_coverage
from records.normalise import normalise
from routing.copy import Article, build_copy_rota


def _f(tag, *pairs, ind=("", "")) -> pymarc.Field:
    return pymarc.Field(tag=tag, indicators=[ind[0] or " ", ind[1] or " "],
                        subfields=[pymarc.Subfield(c, v) for c, v in pairs])


def cnmarc_journal(*holdings: pymarc.Field, level: str = "s") -> pymarc.Record:
    """图书情报工作 as a CNMARC serial record, with the holdings fields given."""
    rec = pymarc.Record(leader=f"00000na{level}0 2200000   450 ")
    rec.add_field(pymarc.Field(tag="001", data="012003001234"))
    rec.add_field(_f("011", ("a", "0252-3116"), ("b", "CN11-1541/G2")))
    rec.add_field(_f("100", ("a", "20030101a19569999km y0chiy0121    ea")))
    rec.add_field(_f("200", ("a", "图书情报工作"), ("A", "tu shu qing bao gong zuo"), ("f", "中国科学院文献情报中心"),
                     ind=("1", "")))
    rec.add_field(_f("207", ("a", "1980,no.1-"), ind=("", "0")))  # the journal's own numbering, not holdings
    rec.add_field(_f("210", ("a", "北京"), ("c", "图书情报工作杂志社"), ("d", "1980-")))
    rec.add_field(_f("326", ("a", "半月刊")))
    for f in holdings:
        rec.add_field(f)
    return rec


def f905(run: str, *, member="THU", location="过刊库", barcode="Q0012345", note: str | None = None) -> pymarc.Field:
    pairs = [("a", member), ("b", barcode), ("c", location), ("d", "G25"), ("e", "12"), ("f", run)]
    return _f("905", *pairs, *([("z", note)] if note else []))


def read(rec: pymarc.Record, member="THU"):
    return normalise(rec, syntax="unimarc", member=member).serial_holdings


# (905 $f as written, [(year, volume, issue, held?)]); None: the statement cannot say
FORMS = [
    ("1990-2005", [(1990, None, None, True), (2005, None, None, True), (2006, None, None, False)]),
    ("1980-2004年", [(1998, None, None, True), (1979, None, None, False)]),
    ("第1卷(1980)-第25卷(2004)", [(1990, 11, None, True), (2005, 26, None, False)]),
    ("v.1(1980)-v.25(2004)", [(2004, 25, None, True), (2004, 26, None, False)]),
    ("1980,no.1-", [(1980, None, 1, True), (2026, None, None, True), (1979, None, None, False)]),
    ("1980-2004年 缺1998年第3期", [(1998, None, 3, False), (1998, None, 4, True), (2003, None, None, True)]),
    ("1985-2003年; 现刊", [(1990, None, None, True), (2026, None, None, None)]),
    ("现刊", [(2026, None, None, None), (1990, None, None, None)]),
    ("总第1期-", [(1990, None, None, None)]),
]


@pytest.mark.parametrize(("run", "asks"), FORMS, ids=[f[0] for f in FORMS])
def test_a_905_run_is_read_into_the_coverage_model(run, asks):
    (held,) = read(cnmarc_journal(f905(run)))
    assert (held.member, held.source, held.location, held.call_number) == ("THU", "905$f", "过刊库", "G25/12")
    assert held.statement == run
    for year, volume, issue, covered in asks:
        assert held.coverage.covers(year, volume, issue) is covered, (run, year, volume, issue)


def test_a_gap_in_the_905_note_counts():
    (held,) = read(cnmarc_journal(f905("1980-2004年", note="缺1998年第3期")))
    assert held.statement == "1980-2004年; 缺1998年第3期"
    assert held.coverage.covers(1998, None, 3) is False and held.coverage.covers(1998, None, 4) is True


def test_one_905_per_bound_volume_adds_up():
    """汇文-style: each bound volume a copy with its own 905; together they are the member's run."""
    volumes = [f905(f"{y}年 第{y - 1979}卷 第1-24期", barcode=f"Q{y}") for y in (2001, 2002, 2004)]
    held = read(cnmarc_journal(*volumes))
    assert [h.statement for h in held] == ["2001年 第22卷 第1-24期", "2002年 第23卷 第1-24期", "2004年 第25卷 第1-24期"]
    from records.coverage import merge

    run = merge(h.coverage for h in held)
    assert run.covers(2002, 23) is True and run.covers(2003, 24) is False and run.covers(2004) is True


def test_an_aleph_866_in_a_cnmarc_record_is_read_first():
    rec = cnmarc_journal(_f("866", ("a", "1990-2005"), ("z", "缺1998年第3期"), ind=("", "0")), f905("现刊"))
    (held,) = read(rec, member="PKU")
    assert (held.source, held.statement) == ("866", "1990-2005; 缺1998年第3期")
    assert held.coverage.covers(1998, None, 3) is False and held.coverage.covers(2000) is True


def test_what_is_not_a_holdings_statement():
    assert read(cnmarc_journal()) == []  # 207 "1980,no.1-" is the journal's numbering, not the member's run
    assert read(cnmarc_journal(f905(""))) == []  # a copy without a run: the member has the journal, no statement
    assert read(cnmarc_journal(f905("合订本"))) == []  # words without a number or 现刊
    assert read(cnmarc_journal(f905("v.2"), level="m")) == []  # a book's volume, not a serial's run


def test_a_copy_rota_from_cnmarc_holdings():
    members = [Member(code=c, name=f"{c}大学", name_en=c, district="海淀区") for c in ("THU", "PKU", "RUC", "BNU", "CNU")]
    holdings = {
        "PKU": read(cnmarc_journal(f905("1980-2004年", note="缺1998年第3期", member="PKU")), "PKU"),
        "RUC": read(cnmarc_journal(f905("第1卷(1980)-第25卷(2004)", member="RUC")), "RUC"),
        "BNU": read(cnmarc_journal(f905("2005-", member="BNU")), "BNU"),
        "CNU": read(cnmarc_journal(f905("现刊", member="CNU")), "CNU"),
    }
    rota = build_copy_rota(Article(("0252-3116",), 1998, 19, 3), "THU", members, print_holdings=holdings,
                           now=date(2026, 12, 7))
    assert [(e.member, e.certain) for e in rota.lenders] == [("RUC", True), ("CNU", False)]
    assert {x.member for x in rota.excluded} == {"PKU", "BNU"}
    assert "缺1998年第3期" in next(x.reason for x in rota.excluded if x.member == "PKU")


def test_the_statements_parse_alone_too():
    assert parse_coverage("1985-2003年、现刊").text() == "1985-2003, 现刊"
    assert parse_coverage("总第1期(1980)-总第300期(2004)").text() == "1980-2004"
    assert parse_coverage("总第1期-").readable is False
