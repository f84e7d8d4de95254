"""The SRU response parser on captured real responses, hostile XML, and random/mutated bytes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from connectors.errors import DecodeError, Diagnostic, MemberError
from connectors.sru import MAX_BODY, SRU_2, parse_explain_response, parse_search_response

DATA = Path(__file__).parent / "data"
SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"
SAMPLE_CNMARC = Path(__file__).resolve().parents[2] / "testbed/data/marc/dp2-cnmarc/sample_cnmarcxml.xml"
XSD_DIR = SCHEMAS / "sru/xsd"

CAPTURED = [DATA / "zebra-2.0-search.xml", DATA / "zebra-1.2-string.xml", DATA / "zebra-1.1-diag.xml",
            SAMPLE_CNMARC]  # fmt: skip


def test_captured_zebra_2_0():
    page = parse_search_response((DATA / "zebra-2.0-search.xml").read_bytes(), "zeb")
    assert page.hits == 2 and len(page.records) == 2 and page.next_position is None
    assert page.records[0].data.startswith(b'<record xmlns="http://www.loc.gov/MARC21/slim">')


def test_captured_string_packing_and_start():
    page = parse_search_response((DATA / "zebra-1.2-string.xml").read_bytes(), "zeb", start=2)
    assert page.hits == 13 and [r.position for r in page.records] == [2, 3, 4] and page.next_position == 5


def test_captured_diagnostic_is_raised():
    with pytest.raises(Diagnostic) as e:
        parse_search_response((DATA / "zebra-1.1-diag.xml").read_bytes(), "zeb")
    assert e.value.code == "16" and e.value.uri == "info:srw/diagnostic/1/16" and e.value.member == "zeb"


def test_cnmarc_sample_from_a_real_aleph():
    page = parse_search_response(SAMPLE_CNMARC.read_bytes(), "pku")
    assert len(page.records) == 10 and page.hits >= 10
    root = etree.fromstring(page.records[0].data)
    assert root.tag == "{http://www.loc.gov/MARC21/slim}record"  # the NLC namespace is normalised
    titles = root.xpath("//*[local-name()='datafield'][@tag='200']/*[@code='a']/text()")
    assert titles and any("\u4e00" <= ch <= "\u9fff" for ch in titles[0])


def test_non_fatal_surrogate_diagnostic_is_kept():
    body = f"""<zs:searchRetrieveResponse xmlns:zs="{SRU_2}"><zs:numberOfRecords>2</zs:numberOfRecords>
    <zs:records><zs:record><zs:recordSchema>marcxml</zs:recordSchema><zs:recordXMLEscaping>xml</zs:recordXMLEscaping>
    <zs:recordData><d:diagnostic xmlns:d="http://docs.oasis-open.org/ns/search-ws/diagnostic">
    <d:uri>info:srw/diagnostic/1/65</d:uri><d:message>Record deleted by another request</d:message>
    </d:diagnostic></zs:recordData><zs:recordPosition>1</zs:recordPosition></zs:record>
    <zs:record><zs:recordSchema>marcxml</zs:recordSchema><zs:recordData>
    <record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>
    <controlfield tag="001">x1</controlfield></record></zs:recordData><zs:recordPosition>2</zs:recordPosition>
    </zs:record></zs:records><zs:nextRecordPosition>3</zs:nextRecordPosition></zs:searchRetrieveResponse>"""
    page = parse_search_response(body.encode(), "m")
    assert [r.position for r in page.records] == [2] and page.next_position == 3
    assert page.diagnostics[0].code == "65" and "record 1" in page.diagnostics[0].addinfo


BOMBS = [
    b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">
    <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/">
    <numberOfRecords>&lol3;</numberOfRecords></searchRetrieveResponse>""",
    b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
    <searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/"><numberOfRecords>1</numberOfRecords>
    <records><record><recordPacking>xml</recordPacking><recordData><record xmlns="http://www.loc.gov/MARC21/slim">
    <controlfield tag="001">&xxe;</controlfield></record></recordData></record></records></searchRetrieveResponse>""",
    b"""<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd"><searchRetrieveResponse
    xmlns="http://www.loc.gov/zing/srw/"><numberOfRecords>1</numberOfRecords></searchRetrieveResponse>""",
    b"<html><body>Service Unavailable</body></html>",
    b"not xml at all",
    b"",
    b'<searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/"><numberOfRecords>lots</numberOfRecords>'
    b"</searchRetrieveResponse>",
]


@pytest.mark.parametrize("body", BOMBS)
def test_hostile_or_broken_xml_is_a_decode_error(body):
    with pytest.raises(DecodeError):
        parse_search_response(body, "m")


def test_string_packed_record_cannot_smuggle_entities():
    inner = '&lt;!DOCTYPE r [&lt;!ENTITY e SYSTEM "file:///etc/passwd"&gt;]&gt;&lt;record&gt;&amp;e;&lt;/record&gt;'
    body = (f'<searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/"><numberOfRecords>1</numberOfRecords>'
            f"<records><record><recordPacking>string</recordPacking><recordData>{inner}</recordData></record>"
            f"</records></searchRetrieveResponse>").encode()  # fmt: skip
    with pytest.raises(DecodeError):
        parse_search_response(body, "m")


def test_oversized_body_is_refused_unparsed():
    with pytest.raises(DecodeError, match="limit"):
        parse_search_response(b" " * (MAX_BODY + 1), "m")


class _LocalSchemas(etree.Resolver):
    """Resolve the OASIS schema URLs the XSDs import to the copies under tests/data/schemas (no network)."""

    def resolve(self, url, pubid, context):
        local = XSD_DIR / url.rsplit("/", 1)[-1]
        return self.resolve_filename(str(local), context) if local.exists() else None


def test_captured_2_0_response_is_valid_per_oasis_xsd_and_namespace():
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalSchemas())
    schema = etree.XMLSchema(etree.parse(str(XSD_DIR / "sruResponse.xsd"), parser))
    doc = etree.parse(str(DATA / "zebra-2.0-search.xml"))
    assert schema.validate(doc), schema.error_log
    assert doc.getroot().tag == f"{{{SRU_2}}}searchRetrieveResponse"
    assert len(parse_search_response(etree.tostring(doc), "zeb").records) == 2


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_layer_errors(body):
    for parse in (parse_search_response, parse_explain_response):
        try:
            parse(body, "m")
        except MemberError:
            pass


@st.composite
def mutated(draw):
    base = draw(st.sampled_from(CAPTURED)).read_bytes()
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "dup", "insert", "tag"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[i] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[i: i + draw(st.integers(1, 200))]
        elif kind == "dup":
            data[i:i] = data[i: i + draw(st.integers(1, 300))]
        elif kind == "insert":
            data[i:i] = draw(st.sampled_from([b"<", b"&", b"&lol;", b"</zs:records>", b"<zs:record>",
                                              b"<!DOCTYPE x>", b"]]>", b"\x00", b"\xff\xfe", b"-1"]))
        else:
            data[i:i] = draw(st.sampled_from([b"<numberOfRecords>x</numberOfRecords>",
                                              b"<recordPosition>-5</recordPosition>",
                                              b"<recordPacking>string</recordPacking>"]))
    return bytes(data)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutated_real_responses_raise_only_layer_errors(body):
    try:
        page = parse_search_response(body, "m")
    except MemberError:
        return
    for rec in page.records:  # whatever comes through is a well-formed MARCXML record
        assert etree.fromstring(rec.data).tag.endswith("record")
