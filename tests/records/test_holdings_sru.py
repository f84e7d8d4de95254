"""ISO 20775 holdings over SRU, live: a small aiohttp SRU server on loopback serves the real answers of a
BALIS member's Alma (tests/data/isohold) by recordSchema, as the member's server did; the connector asks
for both and joins them. (Zebra cannot serve isohold, so this real HTTP server stands in for the member.)"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from connectors.sru import SruConnector
from records.model import AVAILABLE
from records.normalise import from_raw

DATA = Path(__file__).parent.parent / "data" / "isohold"
REFUSED = (b'<?xml version="1.0"?><searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/"><version>1.2'
           b'</version><numberOfRecords>0</numberOfRecords><diagnostics><diagnostic xmlns="http://www.loc.gov/'
           b'zing/srw/diagnostic/"><uri>info:srw/diagnostic/1/66</uri><details>isohold</details><message>Unknown'
           b' schema for retrieval</message></diagnostic></diagnostics></searchRetrieveResponse>')


@pytest.fixture
async def alma_sru():
    """An SRU server answering searchRetrieve with the saved UNIMARC or isohold answer, by recordSchema;
    at /plain it knows no isohold. Yields its base URL and the schemas it was asked for."""
    asked: list[str] = []
    answers = {"unimarcxml": (DATA / "sample_unimarcxml.xml").read_bytes(),
               "isohold": (DATA / "sample_isohold.xml").read_bytes()}

    async def handle(request: web.Request) -> web.Response:
        schema = request.query.get("recordSchema", "")
        asked.append(schema)
        if request.path == "/plain" and schema == "isohold":
            return web.Response(body=REFUSED, content_type="text/xml")
        return web.Response(body=answers.get(schema, REFUSED), content_type="text/xml")

    app = web.Application()
    app.router.add_get("/alma", handle)
    app.router.add_get("/plain", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", asked
    await runner.cleanup()


async def test_member_with_isohold_gets_each_record_its_copies(alma_sru):
    base, asked = alma_sru
    async with aiohttp.ClientSession() as session:
        sru = SruConnector("BNU", f"{base}/alma", session=session, record_schema="unimarcxml", syntax="unimarc")
        sru.holdings_schema = "isohold"
        page = await sru.search_cql('dc.title = "中国发展报告"', 1, 10)
    assert asked == ["unimarcxml", "isohold"]
    records = [from_raw(r.data, syntax=r.syntax, charset=r.charset, member="BNU", position=r.position, ils="alma",
                        holdings=r.holdings) for r in page.records]
    assert [len(r.holdings) for r in records] == [2, 3, 4, 0, 2, 2, 3, 2, 4, 1]
    assert records[0].holdings[0].barcode == "N00837624" and records[0].holdings[0].status == AVAILABLE


async def test_member_that_refuses_isohold_still_gives_its_records(alma_sru):
    base, _ = alma_sru
    async with aiohttp.ClientSession() as session:
        sru = SruConnector("BNU", f"{base}/plain", session=session, record_schema="unimarcxml", syntax="unimarc")
        sru.holdings_schema = "isohold"
        page = await sru.search_cql('dc.title = "中国发展报告"', 1, 10)
    assert len(page.records) == 10 and all(r.holdings is None for r in page.records)
    assert any(d.code == "holdings-unavailable" and "isohold" in str(d) for d in page.diagnostics), page.diagnostics
