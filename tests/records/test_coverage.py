"""Serial holdings coverage (records/coverage.py): statements as members write them → runs, gaps, covers()."""

from __future__ import annotations

import pymarc
import pytest

from records.coverage import Span, coded_coverage, merge, parse_coverage
from records.normalise import normalise

# (statement, what it reads as, [(year, volume, issue, covered?)])
CASES = [
    ("1990-2005, 2008-", "1990-2005, 2008-",
     [(1989, None, None, False), (1990, None, None, True), (2005, 7, None, True), (2006, None, None, False),
      (2008, None, None, True), (2026, None, None, True)]),
    ("v.1(1980)-v.25(2004)", "v.1(1980)-v.25(2004)",
     [(1980, 1, None, True), (2004, 25, None, True), (2005, None, None, False), (1990, 11, None, True),
      (1990, 40, None, False), (1979, None, None, False)]),
    ("1-12 (1995-2006)", "v.1(1995)-v.12(2006)", [(2000, 6, None, True), (2007, 13, None, False)]),
    ("v.3-10; v.12-", "v.3-v.10, v.12-",
     [(2000, 3, None, True), (2000, 11, None, False), (2000, 40, None, True), (2000, None, None, None)]),
    ("1990-2005年", "1990-2005", [(1998, None, None, True), (2006, None, None, False)]),
    ("1985年第1期-2010年第6期", "no.1(1985)-no.6(2010)", [(1985, None, 1, True), (2010, None, None, True),
                                                   (2011, None, None, False)]),
    ("1990-2010 缺1998年", "1990-2010; 缺 1998", [(1997, None, None, True), (1998, None, None, False)]),
    ("1990-2010年（缺1998年第3期）", "1990-2010; 缺 no.3(1998)",
     [(1998, None, 3, False), (1998, None, 4, True), (1998, None, None, True)]),
    ("第1卷(1980)-第25卷(2004)", "v.1(1980)-v.25(2004)", [(1990, 11, None, True)]),
    ("2001-2010年 第1-20卷", "v.1(2001)-v.20(2010)", [(2005, 5, None, True), (2011, 21, None, False)]),
    ("1995年-", "1995-", [(2020, None, None, True), (1994, None, None, False)]),
    ("1990－2005，2008－", "1990-2005, 2008-", [(2007, None, None, False), (2009, None, None, True)]),
    ("1980-2004 lacking v.5", "1980-2004; 缺 v.5", [(1985, 5, None, False), (1985, 6, None, True)]),
    # forms from real records: British Library 852 $3, NLM and DNB 362 (testbed/data/marc/loc-cc0)
    ("Vol. 52 (1933)-issue 24 (2011)***UKRR Retained Title", "v.52(1933)-no.24(2011)",
     [(1950, None, None, True), (2012, None, None, False)]),
    ("1944- ; Deficient: 1991, no.2; 1992, no.19", "1944-; 缺 no.2(1991), no.19(1992)",
     [(1991, None, 2, False), (1991, None, 3, True), (1943, None, None, False)]),
    ("(May/Nov. 2000)-(May/Nov. 2010)", "2000-2010", [(2005, None, None, True)]),
    ("No. 23 (Oct. 1991)-no. 35 (2006)", "no.23(1991)-no.35(2006)", [(2000, None, None, True)]),
    ("Vol. 186, Issue 1 (2006)-v. 203, issue 4 (2011)***See ESTAR for full holdings.",
     "v.186:no.1(2006)-v.203:no.4(2011)", [(2008, 190, None, True), (2008, 100, None, False)]),
    ("1974-1994; Vol.78-98. No.935-1187.", "v.78(1974)-v.98(1994)", [(1980, 84, None, True), (1995, None, None, False)]),
    ("1.1984 - 189.2009; N.F. 1.2010 -", "v.1(1984)-v.189(2009), v.1(2010)-", [(2015, None, None, True)]),
    ("1977,1 - 1978,6; 1.1979 - 54.2008", "no.1(1977)-no.6(1978), v.1(1979)-v.54(2008)", [(1978, None, None, True)]),
    ("v. 1-3; 1971-74.", "v.1(1971)-v.3(1974)", [(1972, 2, None, True), (1975, None, None, False)]),
    ("1985-86-1995-1996.", "1985-1996", [(1990, None, None, True)]),
    ("Vol. 7, no. 1 (Mar. 1985)-", "v.7:no.1(1985)-", [(2000, 22, None, True), (1984, None, None, False)]),
]


@pytest.mark.parametrize(("statement", "reads_as", "asks"), CASES, ids=[c[0][:40] for c in CASES])
def test_statement_coverage(statement, reads_as, asks):
    coverage = parse_coverage(statement)
    assert coverage.text() == reads_as
    assert coverage.unread == ()
    for year, volume, issue, covered in asks:
        assert coverage.covers(year, volume, issue) is covered, (year, volume, issue)


def test_unreadable_statement_cannot_say():
    coverage = parse_coverage("汇编本")
    assert not coverage.readable and coverage.unread == ("汇编本",)
    assert coverage.covers(2000, 1) is None


def test_real_british_library_and_nlm_statements_are_read(marc_data):
    """Every 852 $3 of the British Library's serial records and every 362 of NLM's reads into runs."""
    read = unread = 0
    for name, tag, code in (("british_library.xml", "852", "3"), ("nlm.xml", "362", "a")):
        for rec in pymarc.parse_xml_to_array(str(marc_data / "loc-cc0" / name)):
            if rec is None or rec.leader[7] not in "si":
                continue
            for f in rec.get_fields(tag):
                for value in f.get_subfields(code):
                    if not any(ch.isdigit() for ch in value) or value.lower().startswith(("ceased", "began")):
                        continue
                    coverage = parse_coverage(value)
                    read += coverage.readable
                    unread += not coverage.readable
    assert read >= 30 and unread == 0


def test_coded_853_863_pairs():
    captions = [("1", {"8": "1", "a": "v.", "b": "no.", "i": "(year)"})]
    values = [("1.1", {"8": "1.1", "a": "1-25", "b": "1-12", "i": "1980-2004"}),
              ("1.2", {"8": "1.2", "a": "30-", "i": "2009-"})]
    coverage = coded_coverage(captions, values)
    assert coverage.text() == "v.1:no.1(1980)-v.25:no.12(2004), v.30(2009)-"
    assert coverage.covers(1990, 11) is True
    assert coverage.covers(2006, 27) is False
    assert coverage.covers(2020, 41) is True
    # the text it renders reads back as the same runs (the record keeps it as the statement)
    assert parse_coverage(coverage.text()).spans == coverage.spans


def test_merge_of_a_members_statements():
    both = merge([parse_coverage("1990-1995"), parse_coverage("2000-")])
    assert both.covers(1993) and both.covers(2010) and both.covers(1997) is False


def test_span_text_and_open_end():
    assert Span(1990, None, None, None, open_end=True).text() == "1990-"


def _serial(fields, leader="00000cas a2200000 a 4500") -> pymarc.Record:
    rec = pymarc.Record(leader=leader)
    rec.add_field(pymarc.Field(tag="001", data="s1"))
    rec.add_field(pymarc.Field(tag="245", indicators=["0", "0"], subfields=[pymarc.Subfield("a", "图书情报工作")]))
    rec.add_field(pymarc.Field(tag="022", indicators=[" ", " "], subfields=[pymarc.Subfield("a", "0252-3116")]))
    for f in fields:
        rec.add_field(f)
    return rec


def _field(tag, **subs):
    return pymarc.Field(tag=tag, indicators=[" ", " "],
                        subfields=[pymarc.Subfield(k.strip("_"), v) for k, v in subs.items()])


def test_normaliser_keeps_866_statement_and_its_coverage():
    rec = _serial([_field("852", _8="1", b="期刊阅览室", h="G25"),
                   _field("866", _8="1", a="1990-2005年, 2008-", z="缺1998年")])
    out = normalise(rec, syntax="marc21", member="THU")
    assert out.material_type == "serial"
    (held,) = out.serial_holdings
    assert held.member == "THU" and held.source == "866" and held.location == "期刊阅览室"
    assert held.statement == "1990-2005年, 2008-; 缺1998年"
    assert held.coverage.covers(2001) and held.coverage.covers(1998) is False
    # the 852 still gives its one copy, as before serial holdings were read
    assert [(h.call_number, h.location) for h in out.holdings] == [("G25", "期刊阅览室")]


def test_normaliser_renders_coded_863_when_no_866():
    rec = _serial([_field("853", _8="1", a="v.", i="(year)"), _field("863", _8="1.1", a="1-20", i="2001-2020")])
    (held,) = normalise(rec, syntax="marc21", member="PKU").serial_holdings
    assert held.source == "863" and held.coverage.covers(2010, 10)


def test_normaliser_reads_852_3_of_a_serial_only():
    field = _field("852", a="British Library", b="DSC", j="3170.000000", _3="Vol. 52 (1933)-issue 24 (2011)")
    (held,) = normalise(_serial([field]), syntax="marc21", member="BL").serial_holdings
    assert held.source == "852$3" and held.location == "DSC" and held.coverage.covers(1990)
    book = _serial([field], leader="00000cam a2200000 a 4500")
    assert normalise(book, syntax="marc21", member="BL").serial_holdings == []


def test_record_with_serial_holdings_survives_the_union_index_json():
    from dedup.work import Work
    from indexer.schema import dump_work, load_work

    rec = normalise(_serial([_field("866", a="v.1(1980)-v.25(2004)")]), syntax="marc21", member="THU")
    back = load_work(dump_work(Work("W1", rec, [rec], list(rec.holdings), [])))
    assert back.records[0].serial_holdings == rec.serial_holdings
    assert back.records[0].serial_holdings[0].coverage.covers(1990, 11)
