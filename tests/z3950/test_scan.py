"""Z39.50 Scan (the harvest lists a member's record ids with it) and the date search it pairs with."""

from __future__ import annotations

import re
import subprocess

import pytest
from lxml import etree

from connectors.errors import Diagnostic, MemberUnavailable
from connectors.rpn import Term
from connectors.z3950 import Z3950Connector
from testbed.seeds import seed_marcxml

pytestmark = pytest.mark.integration

ALL = Term("", ((1, 1016), (2, 103)))
IDS = ((1, 12), (4, 3))  # Local-number, whole field
MARC = "{http://www.loc.gov/MARC21/slim}"


def _control(syntax: str, tag: str) -> list[str]:
    out = []
    for data in seed_marcxml(syntax):
        root = etree.fromstring(data)
        out += [(cf.text or "").strip() for cf in root.iter(f"{MARC}controlfield") if cf.get("tag") == tag]
    return out


async def test_scan_lists_every_record_id_with_its_count(zebra21):
    async with Z3950Connector("M", "127.0.0.1", zebra21.port, "Default") as conn:
        paged = [t async for t in conn.index_terms(IDS, page=7)]  # many pages: each starts at the last term
        whole = [t async for t in conn.index_terms(IDS, page=1000)]
        hits = (await conn.search_rpn(ALL, 1, 0)).hits
    assert paged == whole
    ids = _control("marc21", "001")
    assert sorted(t.term for t in whole) == sorted(set(ids))
    assert sum(t.occurrences for t in whole) == hits == len(ids)


def test_first_scan_page_equals_yaz_client(zebra21):
    """yaz-client is the reference: its first 20 terms of the id index are ours."""
    out = subprocess.run(["yaz-client"], input=f'open tcp:127.0.0.1:{zebra21.port}/Default\n'
                         'scan @attr 1=12 @attr 4=3 ""\nquit\n', capture_output=True, text=True, timeout=30).stdout
    reference = re.findall(r"^[* ] (\S+) \((\d+)\)$", out, flags=re.M)
    assert len(reference) == 20

    async def ours():
        async with Z3950Connector("M", "127.0.0.1", zebra21.port, "Default") as conn:
            return await conn.scan(Term("", IDS), count=20)

    import asyncio

    terms = asyncio.run(ours())
    assert [(t.term, str(t.occurrences)) for t in terms] == reference


async def test_unknown_index_is_a_diagnostic_and_the_session_goes_on(zebra21):
    async with Z3950Connector("M", "127.0.0.1", zebra21.port, "Default") as conn:
        with pytest.raises(Diagnostic) as caught:
            await conn.scan(Term("a", ((1, 9999),)))
        assert caught.value.code == "114" and caught.value.member == "M"
        assert (await conn.search_rpn(ALL, 1, 1)).hits > 0


async def test_a_server_that_closes_on_scan_is_reported_and_the_connector_recovers(ztest_port):
    """yaz-ztest without its word list closes the connection on a scan (yaz-client sees the same)."""
    async with Z3950Connector("M", "127.0.0.1", ztest_port, "Default") as conn:
        with pytest.raises(MemberUnavailable, match="during scan"):
            await conn.scan(Term("a", ((1, 4),)))
        assert (await conn.search_rpn(Term("57", ((1, 4),)), 1, 1)).hits > 0


async def test_date_search_finds_records_by_their_005(zebra21):
    stamps = [s[:14] for s in _control("marc21", "005") if re.fullmatch(r"\d{14}(\.\d)?", s)]
    newest = max(stamps)
    async with Z3950Connector("M", "127.0.0.1", zebra21.port, "Default") as conn:
        since = lambda stamp: Term(stamp, ((1, 1012), (2, 4), (4, 4)))  # noqa: E731
        assert (await conn.search_rpn(since("00000000000000"), 1, 0)).hits == len(stamps)
        assert (await conn.search_rpn(since(newest), 1, 0)).hits == stamps.count(newest)
        later = str(int(newest) + 1)
        assert (await conn.search_rpn(since(later), 1, 0)).hits == 0
