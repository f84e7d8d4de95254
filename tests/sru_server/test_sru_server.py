"""The union SRU server over a real local index (a whoosh folder and a PostgreSQL database): yaz-client as the
client, responses checked against the OASIS SRU 2.0 and MARCXML schemas, every error a standard diagnostic."""

from __future__ import annotations

import asyncio
import subprocess
import urllib.parse
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from lxml import etree

from dedup import merge
from indexer.backend import open_index
from indexer.index import LocalIndex
from portal.app import HTTP_LIMITS
from portal.sru_server import (
    DIAG_1,
    DIAG_2,
    MAXIMUM_RECORDS_LIMIT,
    SRU_1,
    SRU_2,
    LocalIndexBackend,
    ServerInfo,
    handler,
)
from records.fold import fold
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"
MARC = "http://www.loc.gov/MARC21/slim"
DC = "http://purl.org/dc/elements/1.1/"


class _LocalSchemas(etree.Resolver):
    """The OASIS XSDs import each other by URL: resolve those to the copies in tests/data (no network)."""

    def resolve(self, url, pubid, context):
        local = SCHEMAS / "sru" / "xsd" / url.rsplit("/", 1)[-1]
        return self.resolve_filename(str(local), context) if local.exists() else None


def _schema(path: Path) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_LocalSchemas())
    return etree.XMLSchema(etree.parse(str(path), parser))


SRU_XSD = _schema(SCHEMAS / "sru" / "xsd" / "sruResponse.xsd")
MARC_XSD = _schema(SCHEMAS / "marcxml" / "xsd" / "MARC21slim.xsd")


@pytest.fixture(scope="module")
def works():
    return merge(plan_records(plan_catalogues(7, member_profiles(4), 60)))


@pytest.fixture(scope="module", params=["whoosh", "postgresql"])
async def sru_url(works, tmp_path_factory, request):
    """The SRU server over the union index in each backend: a whoosh folder, a PostgreSQL database."""
    if request.param == "whoosh":
        index_dir = tmp_path_factory.mktemp("sru-index")
    else:
        index_dir = request.getfixturevalue("new_database")("sru_index")
    with open_index(index_dir, create=True) as ix:
        ix.rebuild(works)
    backend = LocalIndexBackend(index_dir)
    app = web.Application()
    app.router.add_route("*", "/sru", handler(backend, lambda request: ServerInfo()))
    app.on_cleanup.append(lambda _app: asyncio.to_thread(backend.close))
    runner = web.AppRunner(app, **HTTP_LIMITS)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/sru"
    await runner.cleanup()


async def _get(url: str, **params) -> etree._Element:
    async with aiohttp.ClientSession() as session, session.get(url, params=params) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/xml"
        return etree.fromstring(await resp.read())


def _diag_uris(doc, version: str) -> list[str]:
    diag = DIAG_2 if version == "2.0" else DIAG_1
    return [e.text for e in doc.iter(f"{{{diag}}}uri")]


def _text(doc, ns: str, name: str) -> str | None:
    e = doc.find(f"{{{ns}}}{name}")
    return e.text if e is not None else None


def _yaz(url: str, commands: list[str]) -> str:
    script = "\n".join([f"open {url}", *commands, "quit"]) + "\n"
    proc = subprocess.run(["yaz-client"], input=script.encode(), capture_output=True, timeout=60)
    return proc.stdout.decode("utf-8", "replace")


def _chinese_title_word(works) -> str:
    for w in works:
        t = w.display.title
        if len(t) >= 4 and all("\u4e00" <= ch <= "\u9fff" for ch in t[:2]):
            return t[:2]
    raise AssertionError("no Chinese title in the generated works")


async def test_yaz_client_searches_and_retrieves_marcxml(sru_url, works):
    word = _chinese_title_word(works)
    out = await asyncio.to_thread(_yaz, sru_url, ["sru get 1.2", "querytype cql", f"find dc.title={word}",
                                                  "schema marcxml", "format xml", "show 1+2"])
    hits = int(out.split("Number of hits: ")[1].split()[0])
    assert hits >= 1
    assert "pos=1 schema=info:srw/schema/1/marcxml-v1.1" in out
    assert '<datafield ind1=" " ind2=" " tag="852">' in out  # holdings of the members go along


async def test_yaz_client_sees_standard_diagnostics(sru_url):
    out = await asyncio.to_thread(_yaz, sru_url, ["sru get 1.2", "querytype cql", "find foo.bar=1",
                                                  "find dc.title within x", "find (dc.title=x"])
    assert "SRW diagnostic info:srw/diagnostic/1/16" in out
    assert "SRW diagnostic info:srw/diagnostic/1/19" in out
    assert "SRW diagnostic info:srw/diagnostic/1/10" in out
    assert "Traceback" not in out


async def test_sru_2_search_response_is_valid_and_records_are_valid_marcxml(sru_url, works):
    word = _chinese_title_word(works)
    doc = await _get(sru_url, version="2.0", query=f"dc.title={word}", maximumRecords="3")
    assert SRU_XSD.validate(doc), SRU_XSD.error_log
    assert doc.tag == f"{{{SRU_2}}}searchRetrieveResponse"
    records = doc.findall(f".//{{{MARC}}}record")
    assert 1 <= len(records) <= 3
    for rec in records:
        assert MARC_XSD.validate(etree.ElementTree(rec)), MARC_XSD.error_log
        titles = rec.xpath("m:datafield[@tag='245']/m:subfield[@code='a']/text()", namespaces={"m": MARC})
        assert fold(word) in fold(titles[0]).replace(" ", "")  # 中国 finds 中國 too


async def test_isbn_search_finds_the_edition_with_every_holding_member(sru_url, works):
    work = next(w for w in works if w.isbns and len(w.members) >= 2)
    doc = await _get(sru_url, version="1.2", operation="searchRetrieve", query=f"bath.isbn={work.isbns[0]}")
    assert doc.tag == f"{{{SRU_1}}}searchRetrieveResponse"
    assert _text(doc, SRU_1, "numberOfRecords") == "1"
    rec = doc.find(f".//{{{MARC}}}record")
    assert rec.xpath("m:controlfield[@tag='001']/text()", namespaces={"m": MARC}) == [work.work_id]
    members = set(rec.xpath("m:datafield[@tag='852']/m:subfield[@code='a']/text()", namespaces={"m": MARC}))
    assert members == set(work.members)


async def test_paging_walks_every_record_once(sru_url, works):
    word = _chinese_title_word(works)
    seen, start, total = [], 1, None
    while start:
        doc = await _get(sru_url, version="2.0", query=f"cql.serverChoice={word}", startRecord=str(start),
                         maximumRecords="4")
        total = int(_text(doc, SRU_2, "numberOfRecords"))
        positions = [int(e.text) for e in doc.iter(f"{{{SRU_2}}}recordPosition")]
        assert positions == list(range(start, start + len(positions)))
        seen += doc.xpath("//m:controlfield[@tag='001']/text()", namespaces={"m": MARC})
        nxt = _text(doc, SRU_2, "nextRecordPosition")
        start = int(nxt) if nxt else 0
    assert total and len(seen) == total == len(set(seen))
    # an unaligned window gives the same records as the aligned walk
    doc = await _get(sru_url, version="2.0", query=f"cql.serverChoice={word}", startRecord="3", maximumRecords="3")
    assert doc.xpath("//m:controlfield[@tag='001']/text()", namespaces={"m": MARC}) == seen[2:5]


async def test_dublin_core_and_string_packing(sru_url, works):
    work = next(w for w in works if w.isbns)
    doc = await _get(sru_url, version="2.0", query=f"bath.isbn={work.isbns[0]}", recordSchema="dc")
    assert SRU_XSD.validate(doc), SRU_XSD.error_log
    assert doc.find(f".//{{{DC}}}title").text.startswith(work.display.title)
    assert f"urn:isbn:{work.isbns[0]}" in [e.text for e in doc.iter(f"{{{DC}}}identifier")]
    doc = await _get(sru_url, version="2.0", query=f"bath.isbn={work.isbns[0]}", recordXMLEscaping="string")
    data = doc.find(f".//{{{SRU_2}}}recordData")
    assert len(data) == 0 and data.text.lstrip().startswith("<record")
    assert etree.fromstring(data.text.encode()).tag == f"{{{MARC}}}record"


@pytest.mark.parametrize(("params", "number"), [
    ({"query": "(dc.title=x"}, 10),
    ({"query": "foo.bar=x"}, 16),
    ({"query": "dc.title within x"}, 19),
    ({"query": "dc.title=x", "recordSchema": "mods"}, 66),
    ({"query": "dc.title=x", "startRecord": "zero"}, 6),
    ({"query": "dc.title=x", "startRecord": "0"}, 6),
    ({"query": "dc.title=x", "maximumRecords": "-1"}, 6),
    ({"query": "cql.serverChoice=a", "startRecord": "100000"}, 61),
    ({"query": "dc.title=x", "recordXMLEscaping": "base64"}, 71),
    ({"query": "dc.title=x", "sortKeys": "title"}, 80),
    ({"query": "dc.title=x sortBy dc.date"}, 80),
    ({"query": "dc.title=x prox dc.title=y"}, 37),
    ({"query": "  "}, 7),
])
async def test_errors_are_standard_diagnostics_in_a_valid_response(sru_url, params, number):
    doc = await _get(sru_url, version="2.0", **params)
    assert SRU_XSD.validate(doc), SRU_XSD.error_log
    assert _diag_uris(doc, "2.0") == [f"info:srw/diagnostic/1/{number}"]
    assert doc.find(f".//{{{DIAG_2}}}message").text


async def test_unknown_version_and_operation(sru_url):
    doc = await _get(sru_url, version="3.0", operation="searchRetrieve", query="dc.title=x")
    assert _diag_uris(doc, "2.0") == ["info:srw/diagnostic/1/5"]
    assert _text(doc, SRU_2, "version") == "2.0"
    doc = await _get(sru_url, version="1.2", operation="scan", scanClause="dc.title=x")
    assert doc.tag == f"{{{SRU_1}}}explainResponse"
    assert _diag_uris(doc, "1.2") == ["info:srw/diagnostic/1/4"]


async def test_explain_describes_indexes_and_schemas(sru_url):
    doc = await _get(sru_url, version="2.0")
    assert SRU_XSD.validate(doc), SRU_XSD.error_log
    assert doc.tag == f"{{{SRU_2}}}explainResponse"
    ns = {"e": "http://explain.z3950.org/dtd/2.0/"}
    names = {f"{m.get('set')}.{m.text}" for m in doc.xpath("//e:index/e:map/e:name", namespaces=ns)}
    assert {"cql.serverChoice", "dc.title", "dc.creator", "dc.subject", "dc.date", "bath.isbn"} <= names
    schemas = {s.get("name") for s in doc.xpath("//e:schemaInfo/e:schema", namespaces=ns)}
    assert schemas == {"marcxml", "dc"}
    doc = await _get(sru_url, version="1.2", operation="explain")
    assert doc.tag == f"{{{SRU_1}}}explainResponse"


async def test_post_and_hostile_input_get_xml_not_tracebacks(sru_url):
    async with aiohttp.ClientSession() as session:
        body = urllib.parse.urlencode({"version": "1.2", "operation": "searchRetrieve",
                                       "query": "dc.title=\"" + "中" * 5000 + "\""})
        async with session.post(sru_url, data=body,
                                headers={"Content-Type": "application/x-www-form-urlencoded"}) as resp:
            doc = etree.fromstring(await resp.read())
    assert _diag_uris(doc, "1.2") == ["info:srw/diagnostic/1/10"]
    doc = await _get(sru_url, version="1.2", operation="searchRetrieve", query="<x>&amp;</x>")
    assert doc.tag == f"{{{SRU_1}}}searchRetrieveResponse"


async def test_the_portal_serves_sru_at_sru_and_post_needs_no_csrf_token(works, tmp_path):
    from members import DEFAULT_REGISTRY, load_registry
    from portal.app import create_app

    with LocalIndex.open(tmp_path, create=True) as ix:
        ix.rebuild(works[:20])
    runner = web.AppRunner(create_app(load_registry(DEFAULT_REGISTRY), index_dir=tmp_path))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/sru"
    try:
        isbn = next(w.isbns[0] for w in works[:20] if w.isbns)
        doc = await _get(url, version="2.0", query=f"bath.isbn={isbn}")
        assert SRU_XSD.validate(doc), SRU_XSD.error_log
        assert _text(doc, SRU_2, "numberOfRecords") == "1"
        async with aiohttp.ClientSession() as session, session.post(
                url, data={"version": "1.2", "operation": "searchRetrieve", "query": f"bath.isbn={isbn}"}) as resp:
            assert resp.status == 200
            assert _text(etree.fromstring(await resp.read()), SRU_1, "numberOfRecords") == "1"
        explain = await _get(url, version="1.2", operation="explain")
        ns = {"e": "http://explain.z3950.org/dtd/2.0/"}
        assert explain.xpath("//e:serverInfo/e:port/text()", namespaces=ns) == [url.split(":")[2].split("/")[0]]
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("value", ["dc.title=\x00x", "dc.title=a\x01", "dc.title=\x1b[31m", "dc.title=\ufffe",
                                   "dc.title=\uffff"])
async def test_characters_no_xml_can_carry_get_a_diagnostic(sru_url, value):
    for params in ({"query": value}, {"query": "dc.title=x", "recordSchema": value},
                   {"query": "dc.title=x", "startRecord": value}):
        doc = await _get(sru_url, version="2.0", **params)
        assert SRU_XSD.validate(doc), SRU_XSD.error_log
        assert _diag_uris(doc, "2.0") == ["info:srw/diagnostic/1/6"]
        assert doc.find(f"{{{SRU_2}}}records") is None


async def test_a_cql_of_ten_thousand_parentheses_gets_a_diagnostic_not_an_http_error(sru_url):
    query = "(" * 10_000 + "dc.title=x" + ")" * 10_000
    doc = await _get(sru_url, version="1.2", operation="searchRetrieve", query=query)
    assert _diag_uris(doc, "1.2") == ["info:srw/diagnostic/1/10"]


async def test_an_unsupported_version_gets_its_diagnostic_alone(sru_url, works):
    word = _chinese_title_word(works)
    doc = await _get(sru_url, version="3.0", operation="searchRetrieve", query=f"dc.title={word}")
    assert SRU_XSD.validate(doc), SRU_XSD.error_log
    assert _diag_uris(doc, "2.0") == ["info:srw/diagnostic/1/5"]
    assert doc.find(f"{{{SRU_2}}}records") is None and _text(doc, SRU_2, "numberOfRecords") == "0"
    assert doc.find(f".//{{{DIAG_2}}}details").text == "2.0"  # the highest version this server speaks


@pytest.mark.parametrize("value", ["abc", "20x9", "2010-2000", "1999-01-32"])
async def test_a_date_that_is_not_a_date_is_a_diagnostic(sru_url, value):
    doc = await _get(sru_url, version="2.0", query=f'dc.date="{value}"')
    assert SRU_XSD.validate(doc), SRU_XSD.error_log
    assert _diag_uris(doc, "2.0") == ["info:srw/diagnostic/1/36"]


async def test_maximum_records_beyond_the_limit_is_the_documented_cap(sru_url, works):
    doc = await _get(sru_url, version="2.0", query="dc.date>1000", maximumRecords="100000")
    total = int(_text(doc, SRU_2, "numberOfRecords"))
    records = doc.findall(f"{{{SRU_2}}}records/{{{SRU_2}}}record")
    assert total > MAXIMUM_RECORDS_LIMIT and len(records) == MAXIMUM_RECORDS_LIMIT
    assert _text(doc, SRU_2, "nextRecordPosition") == str(MAXIMUM_RECORDS_LIMIT + 1)
