"""Reading real ISO 2709 and MARCXML records: charsets, broken records, MARCXML forms and XML safety."""

from __future__ import annotations

import io
import subprocess
import unicodedata

import pymarc
import pytest
from lxml import etree

from records.errors import RecordError
from records.marc import (
    MarcRecord,
    detect_syntax,
    iter_iso2709,
    iter_marcxml,
    read_iso2709,
    read_marcxml,
)
from records.normalise import normalise

ISO_FILES = {  # file -> number of records (testbed/data/marc/README.md)
    "yaz/marccol1.u8.marc": 19, "yaz/marccol2.u8.marc": 1, "yaz/marccol3.u8.marc": 1,
    "yaz/marccol4.u8.marc": 1, "yaz/marccol5.u8.marc": 11,
    "traject/test_data.utf8.mrc": 30,
    "marc-perl/cjk1.marc": 1, "marc-perl/cjk2.marc": 1, "marc-perl/cjk3.marc": 1, "marc-perl/cjk4.marc": 1,
    "marc4j/chinese_mangled_multibyte.mrc": 4, "marc4j/chabon.mrc": 2, "marc4j/chabon-loc.mrc": 2,
    "marc4j/oclc_63111280_export_as_UTF8_from_connexion.mrc": 1,
    "pymarc/marc8.dat": 1, "pymarc/test.dat": 10, "pymarc/testunimarc.dat": 1,
}
XML_FILES = {
    "loc-cc0/british_library.xml": 99, "loc-cc0/dnb.xml": 99, "loc-cc0/gwu.xml": 99,
    "loc-cc0/loc_general.xml": 99, "loc-cc0/nlm.xml": 99, "loc-cc0/oclc.xml": 99, "loc-cc0/princeton.xml": 99,
    "traject/test_data.utf8.marc.xml": 30,
    "dp2-cnmarc/sample_cnmarcxml.xml": 10, "dp2-cnmarc/sample_cnmarc.as_marcxml.xml": 10,
    "dp2-cnmarc/sample_marcxml.xml": 10, "dp2-cnmarc/sample_marc21_chi.as_marcxml.xml": 10,
}


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


@pytest.mark.parametrize("name, count", sorted(ISO_FILES.items()))
def test_every_iso_record_reads_and_normalises(marc_data, name, count):
    results = list(iter_iso2709(marc_data / name, member="m"))
    assert [p for p, _ in results] == list(range(1, count + 1))
    for position, rec in results:
        assert isinstance(rec, MarcRecord), f"{name} record {position}: {rec}"
        norm = normalise(rec, syntax=detect_syntax(rec), member="m", record_id=str(position))
        assert norm.title, f"{name} record {position} has no title"
        assert norm.record_id


@pytest.mark.parametrize("name, count", sorted(XML_FILES.items()))
def test_every_marcxml_record_reads_and_normalises(marc_data, name, count):
    results = list(iter_marcxml(marc_data / name, member="m"))
    assert len(results) == count
    for position, rec in results:
        assert isinstance(rec, MarcRecord), f"{name} record {position}: {rec}"
        norm = normalise(rec, syntax="auto", member="m", record_id=str(position))
        assert norm.record_id and (norm.title or norm.warnings)


def test_iso_reader_agrees_with_pymarc_on_utf8_files(marc_data):
    for name in ("yaz/marccol1.u8.marc", "traject/test_data.utf8.mrc", "pymarc/test.dat"):
        ours = [r for _, r in iter_iso2709(marc_data / name)]
        with open(marc_data / name, "rb") as fh:
            theirs = [r for r in pymarc.MARCReader(fh) if r is not None]
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert [str(f) for f in a.fields] == [str(f) for f in b.fields]


def _yaz_marcxml(path) -> list[MarcRecord]:
    """The same file converted MARC-8 -> UTF-8 by YAZ (Index Data's reference toolkit)."""
    out = subprocess.run(["yaz-marcdump", "-f", "MARC-8", "-t", "UTF-8", "-o", "marcxml", "-i", "marc", str(path)],
                         capture_output=True, check=True).stdout
    return [r for _, r in iter_marcxml(out)]


@pytest.mark.parametrize("name", ["marc-perl/cjk1.marc", "marc-perl/cjk2.marc", "marc-perl/cjk3.marc",
                                  "marc-perl/cjk4.marc", "pymarc/marc8.dat"])
def test_marc8_eacc_decodes_like_yaz(marc_data, name):
    ours = [r for _, r in iter_iso2709(marc_data / name)]
    reference = _yaz_marcxml(marc_data / name)
    assert len(ours) == len(reference) == 1
    assert ours[0].charset == "marc-8" and not ours[0].warnings
    for a, b in zip(ours[0].fields, reference[0].fields, strict=True):
        assert a.tag == b.tag
        if a.is_control_field():
            assert a.data == b.data
        else:
            assert [(s.code, _nfc(s.value)) for s in a.subfields] == [(s.code, _nfc(s.value)) for s in b.subfields]


def test_marc8_cjk_title_is_chinese(marc_data):
    rec = read_iso2709((marc_data / "marc-perl/cjk3.marc").read_bytes())
    vernacular = [f for f in rec.get_fields("880") if f.get("6", "").startswith("245")]
    assert vernacular[0].get("a").replace(" ", "").startswith("鲁迅与浙东文化")
    norm = normalise(rec, syntax="marc21")
    assert norm.title == "Lu Xun yu Zhe dong wen hua"
    assert norm.vernacular_titles and norm.vernacular_titles[0].replace(" ", "") == "鲁迅与浙东文化"
    assert norm.isbn13s == ["9787560123134"]


def test_mangled_multibyte_is_repaired_with_a_warning_and_the_stream_goes_on(marc_data):
    results = list(iter_iso2709(marc_data / "marc4j/chinese_mangled_multibyte.mrc", member="pku"))
    assert len(results) == 4
    first = results[0][1]
    assert isinstance(first, MarcRecord)
    assert any("undecodable MARC-8" in w for w in first.warnings)
    # the good copies of the same record decode to the right Chinese title
    for _, rec in results[1:]:
        f880 = [f for f in rec.get_fields("880") if f.get("6", "").startswith("245")][0]
        assert f880.get("a") == "車輪滾滾"
        assert not rec.warnings
    norm = normalise(first, syntax="marc21", member="pku")
    assert norm.warnings and norm.title == "Che lun gun gun"


def test_mangled_multibyte_strict_raises_with_member_and_position(marc_data):
    data = (marc_data / "marc4j/chinese_mangled_multibyte.mrc").read_bytes()
    first = data[: data.index(b"\x1d") + 1]
    with pytest.raises(RecordError) as info:
        read_iso2709(first, member="pku", position=7, strict=True)
    assert info.value.member == "pku" and info.value.position == 7
    assert "pku" in str(info.value) and "7" in str(info.value)


def _gbk_iso2709(rec: pymarc.Record, *, leader9: str = " ") -> bytes:
    """Write a record as ISO 2709 with GBK (GB18030) field data, as a GBK member's server sends it."""
    fields = [f.as_marc("gb18030") for f in rec.fields]
    directory = b""
    offset = 0
    for f, data in zip(rec.fields, fields, strict=True):
        directory += f"{f.tag}{len(data):04d}{offset:05d}".encode("ascii")
        offset += len(data)
    directory += b"\x1e"
    base = 24 + len(directory)
    body = b"".join(fields) + b"\x1d"
    leader = str(rec.leader)
    leader = f"{base + len(body):05d}{leader[5:9]}{leader9}22{base:05d}{leader[17:20]}4500"
    return leader.encode("ascii") + directory + body


@pytest.mark.parametrize("charset", ["gbk", "auto"])
def test_gbk_round_trip(marc_data, charset):
    originals = [r for _, r in iter_marcxml(marc_data / "dp2-cnmarc/sample_cnmarc.as_marcxml.xml")]
    for original in originals:
        data = _gbk_iso2709(original)
        assert data.decode("gb18030")  # really GBK bytes
        back = read_iso2709(data, charset=charset, member="bnu", position=1)
        assert back.charset == "gbk"
        assert [str(f) for f in back.fields] == [str(f) for f in original.fields]
        a = normalise(original, syntax="unimarc", member="bnu")
        b = normalise(back, syntax="unimarc", member="bnu")
        assert (a.title, a.authors, a.publisher, a.isbns) == (b.title, b.authors, b.publisher, b.isbns)


def _fields(rec) -> list[tuple]:
    return [(f.tag, f.data) if f.is_control_field() else (f.tag, f.indicators, [(s.code, s.value) for s in f.subfields])
            for f in rec.fields]


def test_fields_decoded_at_once_equal_the_careful_subfield_by_subfield_reading(marc_data, monkeypatch):
    """UTF-8 and GBK data fields are decoded in one call each (0x1F is never inside a character); a field
    that does not decode, or has odd indicators, is read subfield by subfield with repairs. Both agree."""
    import records.marc as marc

    samples = [(rec_bytes, charset) for name in ISO_FILES
               for rec_bytes, charset in _raw_records(marc_data / name, "auto")]
    samples += [(_gbk_iso2709(r), "gbk")
                for _, r in iter_marcxml(marc_data / "dp2-cnmarc/sample_cnmarc.as_marcxml.xml")]
    broken = bytearray(samples[-1][0])
    broken[broken.index(b"\x1fa", broken.index(b"\x1e") + 1) + 2] = 0x81  # a GBK lead byte without its trail
    broken[broken.index(b"\x1fa", broken.index(b"\x1e") + 1) + 3] = 0x1F
    samples.append((bytes(broken), "gbk"))
    fast = [read_iso2709(data, charset=charset) for data, charset in samples]
    monkeypatch.setattr(marc, "_whole_field_decoder", lambda chosen, fast: None)
    careful = [read_iso2709(data, charset=charset) for data, charset in samples]
    assert len(fast) > 90
    for a, b in zip(fast, careful, strict=True):
        assert _fields(a) == _fields(b)
        assert (a.warnings, a.charset) == (b.warnings, b.charset)
    assert any("undecodable GB18030" in w or "undecodable GBK" in w for w in fast[-1].warnings)


def _raw_records(path, charset):
    data = path.read_bytes()
    for chunk in data.split(b"\x1d"):
        if chunk.strip(b"\r\n\x00 "):
            yield chunk + b"\x1d", charset


def test_gbk_mislabelled_as_utf8_is_detected(marc_data):
    original = next(r for _, r in iter_marcxml(marc_data / "dp2-cnmarc/sample_cnmarc.as_marcxml.xml"))
    back = read_iso2709(_gbk_iso2709(original, leader9="a"), charset="utf-8")
    assert back.charset == "gbk"
    assert any("GBK" in w for w in back.warnings)
    assert back.get("200").get("a") == original.get("200").get("a")


def test_utf8_declared_marc8_is_read_as_utf8(marc_data):
    data = (marc_data / "yaz/marccol2.u8.marc").read_bytes()
    forced = read_iso2709(data, charset="marc-8")
    plain = read_iso2709(data)
    assert [str(f) for f in forced.fields] == [str(f) for f in plain.fields]
    if not data.isascii():
        assert any("UTF-8" in w for w in forced.warnings)


def test_ncr_escapes_in_marc8_are_decoded(marc_data):
    results = list(iter_iso2709(marc_data / "marc4j/chinese_mangled_multibyte.mrc"))
    rec = results[2][1]
    f880 = [f for f in rec.get_fields("880") if f.get("6", "").startswith("245")][0]
    assert f880.get("a") == "車輪滾滾"


# ---------------------------------------------------------------- broken structure

def _good(marc_data) -> bytes:
    data = (marc_data / "marc4j/chabon.mrc").read_bytes()
    return data[: data.index(b"\x1d") + 1]


@pytest.mark.parametrize("data, words", [
    (b"", "bytes"),
    (b"00000", "bytes"),
    (b"abcde" + b" " * 40, "record length"),
    (b"00100nam a22xxxxx a 4500" + b" " * 40, "base address"),
    (b"00060nam a2200037 a 4500" + b"245001200000" + b"\x1e" + b"x" * 30, "truncated"),
])
def test_unreadable_records_raise_record_error(data, words):
    with pytest.raises(RecordError) as info:
        read_iso2709(data, member="tsinghua", position=3)
    assert words in str(info.value)
    assert "tsinghua" in str(info.value) and "record 3" in str(info.value)


def test_wrong_record_length_is_repaired(marc_data):
    data = bytearray(_good(marc_data))
    data[0:5] = b"99999"
    rec = read_iso2709(bytes(data))
    assert rec.title and any("leader says 99999" in w for w in rec.warnings)


def test_wrong_base_address_is_repaired(marc_data):
    good = _good(marc_data)
    data = bytearray(good)
    data[12:17] = b"00030"
    rec = read_iso2709(bytes(data))
    assert [str(f) for f in rec.fields] == [str(f) for f in read_iso2709(good).fields]
    assert any("base address" in w for w in rec.warnings)


def test_wrong_directory_offsets_fall_back_to_field_order(marc_data):
    good = _good(marc_data)
    data = bytearray(good)
    data[24 + 7:24 + 12] = b"00007"  # first entry's offset now points inside another field
    rec = read_iso2709(bytes(data))
    assert [str(f) for f in rec.fields] == [str(f) for f in read_iso2709(good).fields]
    assert any("matched to their entries" in w for w in rec.warnings)


def test_truncated_record_raises(marc_data):
    good = _good(marc_data)
    with pytest.raises(RecordError):
        read_iso2709(good[: len(good) // 2], member="m", position=1)


def test_stream_goes_on_after_bad_record(marc_data):
    good = _good(marc_data)
    stream = good + b"this is not MARC\x1d" + good + b"\n"
    results = list(iter_iso2709(io.BytesIO(stream), member="m"))
    assert [p for p, _ in results] == [1, 2, 3]
    assert isinstance(results[0][1], MarcRecord)
    assert isinstance(results[1][1], RecordError) and results[1][1].position == 2
    assert isinstance(results[2][1], MarcRecord)


def test_missing_001_falls_back_to_position(marc_data):
    rec = read_iso2709(_good(marc_data))
    rec.remove_fields("001")
    norm = normalise(rec, syntax="marc21", member="m", record_id="42")
    assert norm.record_id == "42" and any("001" in w for w in norm.warnings)


# ---------------------------------------------------------------- MARCXML forms

RECORD_XML = b"""<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>
<controlfield tag="001">x1</controlfield><datafield tag="245" ind1="1" ind2="0">
<subfield code="a">Title one /</subfield><subfield code="c">Someone.</subfield></datafield></record>"""


def test_read_marcxml_single_record_and_one_record_collection():
    rec = read_marcxml(RECORD_XML)
    assert rec["001"].data == "x1" and rec["245"]["a"] == "Title one /"
    coll = b'<collection xmlns="http://www.loc.gov/MARC21/slim">' + RECORD_XML + b"</collection>"
    assert read_marcxml(coll)["001"].data == "x1"
    with pytest.raises(RecordError, match="2 records"):
        read_marcxml(b'<collection xmlns="http://www.loc.gov/MARC21/slim">' + RECORD_XML * 2 + b"</collection>")


def test_read_marcxml_from_sru_elements(marc_data):
    tree = etree.parse(str(marc_data / "dp2-cnmarc/sample_cnmarcxml.xml"))
    ns = {"srw": "http://www.loc.gov/zing/srw/"}
    record_data = tree.findall(".//srw:recordData", ns)
    assert len(record_data) == 10
    for el in record_data:
        rec = read_marcxml(el)
        assert detect_syntax(rec) == "unimarc"
        # the title, read independently with XPath, is what the reader gives
        title = el.xpath(".//*[local-name()='datafield'][@tag='200']/*[@code='a']/text()")[0]
        assert rec["200"]["a"] == title


def test_sru_record_packing_string():
    escaped = RECORD_XML.decode().replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    sru = (f'<searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/"><records><record>'
           f"<recordPacking>string</recordPacking><recordData>{escaped}</recordData>"
           f"</record></records></searchRetrieveResponse>").encode()
    assert read_marcxml(sru)["001"].data == "x1"


def test_xml_entities_and_external_references_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xml = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">'
           '<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
           '<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>'
           '<datafield tag="245" ind1="1" ind2="0"><subfield code="a">&x;&b;</subfield></datafield>'
           "</record>").encode()
    try:
        rec = read_marcxml(xml)
    except RecordError:
        return  # refusing the document is fine too
    assert "TOPSECRET" not in str(rec) and "aaaaaaaaaa" not in str(rec)


def test_oversized_xml_is_refused():
    huge = RECORD_XML.replace(b"Title one", b"T" * (5 * 1024 * 1024))
    with pytest.raises(RecordError, match="limit"):
        read_marcxml(huge, member="m", position=1)


def test_broken_xml_raises_record_error_and_iter_reports_it():
    with pytest.raises(RecordError, match="well-formed"):
        read_marcxml(b"<record><leader>", member="m", position=1)
    results = list(iter_marcxml(b'<collection xmlns="http://www.loc.gov/MARC21/slim">' + RECORD_XML + b"<record>"))
    assert isinstance(results[0][1], MarcRecord) and isinstance(results[-1][1], RecordError)


def test_detect_syntax(marc_data):
    uni = read_iso2709((marc_data / "pymarc/testunimarc.dat").read_bytes())
    assert detect_syntax(uni) == "unimarc"
    assert detect_syntax(read_iso2709(_good(marc_data))) == "marc21"
