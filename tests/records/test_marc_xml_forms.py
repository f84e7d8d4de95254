"""MARCXML in every wrapping servers use, each built around real records: prefixed, default namespace, no
namespace, SRU 1.x and 2.0 responses packed as XML or as strings, OAI-PMH; and a document that holds
records but yields none is an error, never an empty result."""

from __future__ import annotations

import pathlib
from xml.sax.saxutils import escape, quoteattr

import pytest

from records.errors import RecordError
from records.marc import MarcRecord, iter_marcxml, read_marcxml

SLIM = "http://www.loc.gov/MARC21/slim"
SRU1 = "http://www.loc.gov/zing/srw/"
SRU2 = "http://docs.oasis-open.org/ns/search-ws/sruResponse"
UNIMARCXML = pathlib.Path(__file__).parents[1] / "data" / "isohold" / "sample_unimarcxml.xml"  # BNU's


def _fields(rec) -> list[tuple]:
    return [(f.tag, f.data) if f.is_control_field() else (f.tag, f.indicators, [(s.code, s.value) for s in f.subfields])
            for f in rec.fields]


def _marcxml(rec, *, prefix: str | None = None, namespace: str | None = SLIM) -> str:
    """One record as MARCXML: default namespace (prefix None), a prefix, or no namespace at all."""
    p = f"{prefix}:" if prefix else ""
    if namespace is None:
        decl = ""
    else:
        decl = f" xmlns:{prefix}={quoteattr(namespace)}" if prefix else f" xmlns={quoteattr(namespace)}"
    out = [f"<{p}record{decl}><{p}leader>{escape(str(rec.leader))}</{p}leader>"]
    for f in rec.fields:
        if f.is_control_field():
            out.append(f"<{p}controlfield tag={quoteattr(f.tag)}>{escape(f.data)}</{p}controlfield>")
        else:
            subs = "".join(f"<{p}subfield code={quoteattr(s.code)}>{escape(s.value)}</{p}subfield>" for s in f.subfields)
            out.append(f"<{p}datafield tag={quoteattr(f.tag)} ind1={quoteattr(f.indicators[0])} "
                       f"ind2={quoteattr(f.indicators[1])}>{subs}</{p}datafield>")
    out.append(f"</{p}record>")
    return "".join(out)


def _sru(records: list[str], *, version: str, packing: str) -> str:
    ns = SRU2 if version == "2.0" else SRU1
    items = []
    for i, xml in enumerate(records, 1):
        data = escape(xml) if packing == "string" else xml
        items.append(f"<srw:record><srw:recordSchema>info:srw/schema/1/marcxml-v1.1</srw:recordSchema>"
                     f"<srw:recordPacking>{packing}</srw:recordPacking><srw:recordData>{data}</srw:recordData>"
                     f"<srw:recordPosition>{i}</srw:recordPosition></srw:record>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><srw:searchRetrieveResponse xmlns:srw="{ns}">'
            f"<srw:version>{version}</srw:version><srw:numberOfRecords>{len(records)}</srw:numberOfRecords>"
            f"<srw:records>{''.join(items)}</srw:records></srw:searchRetrieveResponse>")


def _forms(records) -> dict[str, str]:
    default = [_marcxml(r) for r in records]
    return {
        "collection, default namespace": f'<collection xmlns="{SLIM}">{"".join(default)}</collection>',
        "collection, marc: prefix": (f'<marc:collection xmlns:marc="{SLIM}">'
                                     + "".join(_marcxml(r, prefix="marc", namespace=None) for r in records)
                                     + "</marc:collection>"),
        "records with their own prefix": "<collection>" + "".join(_marcxml(r, prefix="mx") for r in records)
                                         + "</collection>",
        "no namespace": "<collection>" + "".join(_marcxml(r, namespace=None) for r in records) + "</collection>",
        "SRU 1.2, recordPacking=xml": _sru(default, version="1.2", packing="xml"),
        "SRU 2.0, recordPacking=xml": _sru(default, version="2.0", packing="xml"),
        "SRU 1.1, recordPacking=string": _sru(default, version="1.1", packing="string"),
        "SRU 2.0, recordPacking=string": _sru(default, version="2.0", packing="string"),
        "SRU string with its own XML declaration": _sru(
            ['<?xml version="1.0" encoding="GBK"?>' + x for x in default], version="1.2", packing="string"),
        "SRU, no namespace at all": _sru([_marcxml(r, namespace=None) for r in records], version="1.2",
                                         packing="xml").replace("srw:", "").replace(f' xmlns:srw="{SRU1}"', ""),
        "OAI-PMH ListRecords": ('<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
                                + "".join(f"<record><header><identifier>oai:x:{i}</identifier></header>"
                                          f"<metadata>{x}</metadata></record>" for i, x in enumerate(default))
                                + "</ListRecords></OAI-PMH>"),
    }


@pytest.fixture(scope="module")
def originals(marc_data) -> list[MarcRecord]:
    """Real records: German diacritics (DNB), Chinese CNMARC, MARC21 with Chinese in 245."""
    out = []
    for name in ("loc-cc0/dnb.xml", "dp2-cnmarc/sample_cnmarc.as_marcxml.xml",
                 "dp2-cnmarc/sample_marc21_chi.as_marcxml.xml"):
        out += [r for _, r in iter_marcxml(marc_data / name)][:3]
    return out


@pytest.mark.parametrize("form", sorted(_forms([MarcRecord()]).keys()))
def test_every_wrapping_yields_every_record(originals, form, tmp_path):
    xml = _forms(originals)[form]
    path = tmp_path / "records.xml"
    path.write_text(xml, encoding="utf-8")
    for source in (xml.encode("utf-8"), path):
        got = [r for _, r in iter_marcxml(source, member="m")]
        assert all(isinstance(r, MarcRecord) for r in got), [str(r) for r in got if not isinstance(r, MarcRecord)]
        assert [_fields(r) for r in got] == [_fields(r) for r in originals], form
    one = _forms(originals[:1])[form]
    assert _fields(read_marcxml(one.encode("utf-8"))) == _fields(originals[0])


def test_the_unimarcxml_namespace_of_a_real_member(marc_data):
    from_unimarcxml = [r for _, r in iter_marcxml(UNIMARCXML)]
    from_slim = [r for _, r in iter_marcxml(marc_data / "dp2-cnmarc/sample_cnmarcxml.xml")]
    assert len(from_unimarcxml) == 10 and all(isinstance(r, MarcRecord) for r in from_unimarcxml)
    assert [r["200"]["a"] for r in from_unimarcxml] == [r["200"]["a"] for r in from_slim]


DUBLIN_CORE = (f'<searchRetrieveResponse xmlns="{SRU1}"><numberOfRecords>2</numberOfRecords><records>'
               + "".join(f'<record><recordSchema>dc</recordSchema><recordData><dc xmlns="http://purl.org/dc/elements/1.1/">'
                         f"<title>书名 {i}</title></dc></recordData></record>" for i in (1, 2))
               + "</records></searchRetrieveResponse>")


def test_records_that_are_not_marc_are_an_error_not_an_empty_result(tmp_path):
    path = tmp_path / "dc.xml"
    path.write_text(DUBLIN_CORE, encoding="utf-8")
    for source in (DUBLIN_CORE.encode("utf-8"), path):
        results = list(iter_marcxml(source, member="pku"))
        assert len(results) == 1 and isinstance(results[0][1], RecordError)
        message = str(results[0][1])
        assert "pku" in message and "2 <record>" in message and "marcxml" in message
    with pytest.raises(RecordError, match="no MARCXML"):
        read_marcxml(DUBLIN_CORE)


def test_a_string_packed_record_that_is_not_xml_is_reported_and_the_rest_read(originals):
    good = _marcxml(originals[0])
    xml = _sru([good, "<record><leader>broken", good], version="1.2", packing="string")
    results = [r for _, r in iter_marcxml(xml.encode("utf-8"))]
    assert [type(r).__name__ for r in results] == ["MarcRecord", "RecordError", "MarcRecord"]
    assert "string-packed" in str(results[1])


def test_an_empty_answer_is_not_an_error():
    empty = f'<searchRetrieveResponse xmlns="{SRU1}"><numberOfRecords>0</numberOfRecords></searchRetrieveResponse>'
    assert list(iter_marcxml(empty.encode())) == []
