"""Piggybacked records: a first page comes in the Search response itself, one round trip instead of two."""

from __future__ import annotations

import pytest

from connectors.rpn import Term
from connectors.z3950 import Z3950Connector, apdu

pytestmark = pytest.mark.integration

ALL = Term("", ((1, 1016), (2, 103)))


def _spy(conn: Z3950Connector) -> list[str]:
    """The operations the connector sends over its real association (Init happens in open())."""
    sent: list[str] = []
    original = conn.connection.request

    async def request(pdu, operation, **options):
        sent.append(operation.split()[0])
        return await original(pdu, operation, **options)

    conn.connection.request = request
    return sent


@pytest.mark.parametrize("server", ["zebra", "ztest"])
async def test_first_page_needs_no_present(server, zebra21, ztest_port):
    port = zebra21.port if server == "zebra" else ztest_port
    query = ALL if server == "zebra" else Term("57", ((1, 4),))
    async with Z3950Connector("M", "127.0.0.1", port, "Default") as conn:
        sent = _spy(conn)
        page = await conn.search_rpn(query, 1, 5)
        assert sent == ["search"]
        assert [r.position for r in page.records] == [1, 2, 3, 4, 5] and page.next_position == 6
        more = await conn.search_rpn(query, 6, 5)  # the next page presents from the same result set
        assert sent == ["search", "present"] and [r.position for r in more.records] == [6, 7, 8, 9, 10]


async def test_piggybacked_records_equal_presented_ones(zebra21):
    async with Z3950Connector("M", "127.0.0.1", zebra21.port, "Default") as piggy, \
            Z3950Connector("M", "127.0.0.1", zebra21.port, "Default", piggyback=False) as plain:
        sent = _spy(plain)
        a = await piggy.search_rpn(ALL, 1, 8)
        b = await plain.search_rpn(ALL, 1, 8)
        assert sent == ["search", "present"]
        assert [r.data for r in a.records] == [r.data for r in b.records] and a.hits == b.hits


async def test_a_whole_result_set_asked_at_once_is_complete(zebra21):
    """All records asked in one go: what does not fit in the Search response comes by Present."""
    async with Z3950Connector("M", "127.0.0.1", zebra21.port, "Default", chunk_size=1000) as conn:
        sent = _spy(conn)
        page = await conn.search_rpn(ALL, 1, 1000)
        assert sent[0] == "search" and page.hits > 10
        assert [r.position for r in page.records] == list(range(1, page.hits + 1)) and page.next_position is None


def test_search_request_asks_for_a_medium_set_of_the_page():
    pdu = apdu.encode_search_request(ALL, "Default", piggyback=10, element_set="F")
    plain = apdu.encode_search_request(ALL, "Default")
    assert pdu != plain and b"\x9f\x64" not in plain  # [100] smallSetElementSetNames only when piggybacking
    assert b"\xbf\x64" in pdu and b"\xbf\x65" in pdu  # [100] and [101], constructed (a CHOICE inside)
