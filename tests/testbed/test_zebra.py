"""A single Zebra member answers yaz-client (the reference client) and SRU over HTTP as a real OPAC would."""

from __future__ import annotations

import subprocess
import urllib.parse
import urllib.request

import pymarc
import pytest
from lxml import etree

pytestmark = pytest.mark.integration


def yaz(port: int, *commands: str, marc_file=None) -> str:
    """Run yaz-client against 127.0.0.1:port with the given commands; return its output."""
    script = f"open tcp:127.0.0.1:{port}/Default\n" + "\n".join(commands) + "\nquit\n"
    args = ["yaz-client"] + (["-m", str(marc_file)] if marc_file else [])
    proc = subprocess.run(args, input=script.encode(), capture_output=True, timeout=60)
    return proc.stdout.decode("utf-8", "replace")


def hits(port: int, query: str) -> int:
    out = yaz(port, f"find {query}")
    for line in out.splitlines():
        if "Number of hits:" in line:
            return int(line.split(":")[1].split(",")[0])
    raise AssertionError(f"no hit count in yaz-client output:\n{out}")


def sru(port: int, query: str, maximum: int = 10) -> etree._Element:
    q = urllib.parse.urlencode({"version": "1.2", "operation": "searchRetrieve", "query": query,
                                "maximumRecords": maximum, "recordSchema": "marcxml"})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/Default?{q}", timeout=30) as resp:
        return etree.fromstring(resp.read())


NS = {"zs": "http://www.loc.gov/zing/srw/", "marc": "http://www.loc.gov/MARC21/slim"}


def test_cnmarc_chinese_title_word(zebra_cnmarc):
    # 中国 is a word inside longer titles (e.g. '94中国发展报告): found only with ICU word breaks
    assert hits(zebra_cnmarc.port, "@attr 1=4 中国") >= 5
    assert hits(zebra_cnmarc.port, "@attr 1=4 发展") >= 5
    assert hits(zebra_cnmarc.port, "@attr 1=4 zzzznotaword") == 0


def test_cnmarc_isbn_as_catalogued_and_digits(zebra_cnmarc):
    assert hits(zebra_cnmarc.port, "@attr 1=7 7-5037-1744-0") == 1
    assert hits(zebra_cnmarc.port, "@attr 1=7 7503717440") == 1


def test_cnmarc_other_bib1_uses(zebra_cnmarc):
    port = zebra_cnmarc.port
    assert hits(port, "@attr 1=1003 国家统计局") >= 1
    assert hits(port, "@attr 1=12 990002180740203961") == 1
    assert hits(port, "@attr 1=31 1994") >= 1
    assert hits(port, "@attr 1=1016 北京") >= 1


def test_cnmarc_record_served_as_unimarc(zebra_cnmarc, tmp_path):
    out = tmp_path / "out.mrc"
    yaz(zebra_cnmarc.port, "find @attr 1=12 990002180740203961", "format unimarc", "show 1", marc_file=out)
    rec = next(pymarc.MARCReader(out.read_bytes(), to_unicode=True, force_utf8=True))
    assert rec["001"].data == "990002180740203961"
    assert "中国发展报告" in rec["200"]["a"]


def test_marc21_usmarc_utf8(zebra_marc21, tmp_path):
    out = tmp_path / "out.mrc"
    yaz(zebra_marc21.port, "find @attr 1=4 中国", "format usmarc", "show 1", marc_file=out)
    data = out.read_bytes()
    assert data[9:10] == b"a"  # leader/09: UCS/Unicode
    rec = next(pymarc.MARCReader(data, to_unicode=True, force_utf8=True))
    assert "中国" in rec["245"].value()


def test_marc21_refuses_unimarc_syntax(zebra_marc21):
    out = yaz(zebra_marc21.port, "find @attr 1=4 中国", "format unimarc", "show 1")
    assert "[239]" in out  # Record syntax not supported


def test_sru_searchretrieve_returns_marcxml(zebra_cnmarc):
    doc = sru(zebra_cnmarc.port, "dc.title=发展", maximum=2)
    assert int(doc.findtext("zs:numberOfRecords", namespaces=NS)) >= 5
    records = doc.findall(".//zs:recordData/marc:record", NS)
    assert len(records) == 2
    assert doc.findtext(".//zs:recordSchema", namespaces=NS) == "info:srw/schema/1/marcxml-v1.1"


def test_sru_bath_isbn(zebra_cnmarc):
    doc = sru(zebra_cnmarc.port, "bath.isbn=7503717440", maximum=1)
    assert doc.findtext("zs:numberOfRecords", namespaces=NS) == "1"


def test_ztest_answers(ztest):
    assert hits(ztest, "@attr 1=4 water") > 0


@pytest.mark.parametrize("query, at_least", [
    ("@attr 1=8 1471-2989", 1),  # ISSN as catalogued (British Library serial)
    ("@attr 1=8 14712989", 1),  # ISSN digits only
    ("@attr 1=12 007177759", 1),  # local number = 001
    ("@attr 1=4 @attr 4=1 \"flight atlas\"", 1),  # title phrase
    ("@attr 1=1003 chabon", 1),  # author (100/700)
    ("@attr 1=21 history", 1),  # subject (6XX)
    ("@attr 1=1018 press", 1),  # publisher (260/264 $b)
    ("@attr 1=31 2010", 1),  # date of publication (008/07-10)
    ("@attr 1=30 2010", 1),  # date (what SRU dc.date maps to)
    ("@attr 1=1016 water", 1),  # any
    ("@attr 1=4 半田", 1),  # vernacular title in 880 linked to 245
])
def test_marc21_bib1_use_attributes(zebra_marc21, query, at_least):
    assert hits(zebra_marc21.port, query) >= at_least


@pytest.mark.parametrize("cql", [
    "dc.title=water", "dc.creator=chabon", "dc.subject=history", "dc.date=2010", "dc.publisher=press",
    "bath.issn=1471-2989", "bath.isbn=0679450041", "cql.serverChoice=water", "water", "rec.id=007177759",
])
def test_sru_indexes(zebra_marc21, cql):
    doc = sru(zebra_marc21.port, cql, maximum=0)
    assert doc.find("zs:diagnostics", NS) is None, etree.tostring(doc)
    assert int(doc.findtext("zs:numberOfRecords", namespaces=NS)) >= 1, cql
