"""SRU scan over a test bed Zebra member: the same record id list as Z39.50 Scan, in every SRU version."""

from __future__ import annotations

import pytest

from connectors.errors import DecodeError, Diagnostic
from connectors.rpn import Term
from connectors.sru import SruConnector, parse_scan_response
from connectors.z3950 import Z3950Connector
from testbed.seeds import seed_marcxml
from testbed.zebra import ZebraServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def member(tmp_path_factory):
    zebra = ZebraServer(tmp_path_factory.mktemp("zebra-scan"), syntax="unimarc")
    zebra.load(seed_marcxml("unimarc"))
    zebra.start()
    yield zebra
    zebra.stop()


@pytest.mark.parametrize("version", ["1.1", "1.2", "2.0"])
async def test_sru_scan_lists_the_ids_z3950_lists(member, version):
    sru = SruConnector("M", member.sru_url, version=version)
    try:
        over_sru = [t async for t in sru.index_terms("rec.id", page=4)]
        dated = (await sru.search_cql('rec.lastModificationDate >= "00000000000000"', 1, 0)).hits
    finally:
        await sru.close()
    async with Z3950Connector("M", "127.0.0.1", member.port, "Default", syntax="unimarc") as z:
        over_z3950 = [t async for t in z.index_terms(((1, 12), (4, 3)))]
        assert dated == (await z.search_rpn(Term("00000000000000", ((1, 1012), (2, 4), (4, 4))), 1, 0)).hits > 0
    assert over_sru == over_z3950 and len(over_sru) > 8


async def test_sru_scan_of_an_unknown_index_is_a_diagnostic(member):
    sru = SruConnector("M", member.sru_url)
    try:
        with pytest.raises(Diagnostic) as caught:
            await sru.scan('nosuch.index = "a"')
    finally:
        await sru.close()
    assert caught.value.member == "M"


def test_scan_response_parsing():
    body = (b'<scanResponse xmlns="http://docs.oasis-open.org/ns/search-ws/scan"><terms>'
            b'<term><value>a1</value><numberOfRecords>2</numberOfRecords></term>'
            b'<term><value>b2</value></term></terms></scanResponse>')
    assert [(t.term, t.occurrences) for t in parse_scan_response(body)] == [("a1", 2), ("b2", None)]
    with pytest.raises(DecodeError, match="without a <value>"):
        parse_scan_response(b'<scanResponse xmlns="http://www.loc.gov/zing/srw/"><terms><term>'
                            b'<numberOfRecords>1</numberOfRecords></term></terms></scanResponse>')
    with pytest.raises(DecodeError, match="numberOfRecords is not a number"):
        parse_scan_response(b'<scanResponse xmlns="http://www.loc.gov/zing/srw/"><terms><term><value>x</value>'
                            b'<numberOfRecords>many</numberOfRecords></term></terms></scanResponse>')
    with pytest.raises(DecodeError):
        parse_scan_response(b"<html>not SRU</html>")
