"""APDU framing over arbitrary reads, and Presents sent ahead (pipelined harvest) against a real Zebra."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import DecodeError
from connectors.rpn import Term
from connectors.z3950 import Z3950Connector, apdu, ber
from connectors.z3950.connection import PduFramer

DATA = Path(__file__).parent / "data"
CAPTURED = [p.read_bytes() for p in sorted(DATA.glob("*.ber"))]
ALL = Term("", ((1, 1016), (2, 103)))


def _indefinite(content: bytes) -> bytes:
    """A Present-response-like APDU in indefinite-length form, nesting the given element twice."""
    inner = ber.identifier(16, ber.UNIVERSAL, True) + b"\x80" + content + b"\x00\x00"
    return ber.identifier(25, ber.CONTEXT, True) + b"\x80" + inner + inner + b"\x00\x00"


STREAM = [*CAPTURED, _indefinite(ber.tlv(ber.identifier(4, ber.UNIVERSAL), b"\x00\x00abc"))]


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=5000), max_size=60))
def test_framer_returns_each_apdu_whole_however_the_bytes_arrive(cuts):
    data = b"".join(STREAM)
    framer, out, pos = PduFramer(1 << 24), [], 0
    for size in [*cuts, len(data)]:
        framer.feed(data[pos:pos + size])
        pos += size
        while (pdu := framer.next_pdu()) is not None:
            out.append(pdu)
        if pos >= len(data):
            break
    assert out == STREAM and framer.buffer == bytearray()


def test_framed_apdus_decode_like_the_captured_ones():
    framer = PduFramer(1 << 24)
    framer.feed(b"".join(CAPTURED))
    for expected in CAPTURED:
        pdu = framer.next_pdu()
        assert pdu == expected and repr(apdu.decode_apdu(pdu)) == repr(apdu.decode_apdu(expected))
    assert framer.next_pdu() is None


@pytest.mark.parametrize("data", [
    b"HTTP/1.0 200 OK\r\n",                    # not a Z39.50 APDU
    bytes.fromhex("b5 84 7f ff ff ff"),          # claims a 2 GiB PDU
    bytes.fromhex("b5 87 01 02 03 04 05 06 07"), # a length field of 7 octets
    bytes.fromhex("95 80"),                      # indefinite length on a primitive element
])
def test_framer_refuses_what_cannot_be_an_apdu(data):
    framer = PduFramer(1 << 20)
    framer.feed(data)
    with pytest.raises(DecodeError):
        framer.next_pdu()


def test_framer_refuses_an_endless_indefinite_pdu():
    framer = PduFramer(1000)
    framer.feed(bytes.fromhex("b9 80") + ber.tlv(b"\x04", b"x" * 2000))
    with pytest.raises(DecodeError):
        framer.next_pdu()


@pytest.mark.integration
async def test_abandoned_harvest_leaves_the_connector_usable(zebra21):
    async with Z3950Connector("Z21", "127.0.0.1", zebra21.port, "Default", harvest_chunk_size=7) as conn:
        seen = []
        async for raw in conn.harvest():
            seen.append(raw.position)
            if len(seen) == 10:  # chunk 2 is being read, chunk 3 was sent ahead
                break
        assert seen == list(range(1, 11)) and len(conn.connection._ahead) == 1
        page = await conn.search_rpn(Term("history", ((1, 4),)), 1, 5)  # drops the answer sent ahead
        async with Z3950Connector("Z21", "127.0.0.1", zebra21.port, "Default") as fresh:
            expected = await fresh.search_rpn(Term("history", ((1, 4),)), 1, 5)
        assert page.hits == expected.hits > 0
        assert [r.data for r in page.records] == [r.data for r in expected.records]
        again = [r.position async for r in conn.harvest()]
        assert again == list(range(1, zebra21.records + 1))
        async for _ in conn.harvest():  # leave a Present in flight: close() must still end politely
            break
    assert not conn.connection.is_open


@pytest.mark.integration
async def test_answer_sent_ahead_is_gone_after_another_request(zebra21):
    async with Z3950Connector("Z21", "127.0.0.1", zebra21.port, "Default") as conn:
        await conn.search_rpn(ALL, 1, 0)
        rs = conn._result_set
        ticket = await conn.connection.send_ahead(conn._present_pdu(rs, 1, 3), "present 1+3")
        assert ticket is not None
        other = await conn.present(4, 2)
        assert [r.position for r in other.records] == [4, 5]
        assert await conn.connection.receive_ahead(ticket) is None
        ticket = await conn.connection.send_ahead(conn._present_pdu(rs, 6, 2), "present 6+2")
        answer = await conn.connection.receive_ahead(ticket)
        assert isinstance(answer, apdu.PresentResponse) and answer.records_returned == 2
