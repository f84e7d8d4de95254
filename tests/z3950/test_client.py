"""The Z39.50 client against real servers on loopback: yaz-ztest, Zebra (test bed) and yaz-client."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pymarc
import pytest

from connectors.errors import DecodeError, Diagnostic, MemberTimeout, MemberUnavailable, ProtocolError
from connectors.rpn import Op, Term, pqf
from connectors.z3950 import Z3950Connection, Z3950Connector, apdu, ber

pytestmark = pytest.mark.integration

TITLE, AUTHOR, SUBJECT, ANY = 4, 1003, 21, 1016
ALL = Term("", ((1, ANY), (2, 103)))


# ------------------------------------------------------------------------------------ yaz-ztest


async def test_init_negotiates_charset_with_ztest(ztest_port):
    conn = Z3950Connection("127.0.0.1", ztest_port, member="ZT")
    init = await conn.open()
    assert init.accepted and init.version == 3
    assert "negotiation" in init.options and init.charset == "ISO-8859-1"
    assert init.implementation_name == "GFS/YAZ"
    await conn.close()


async def test_init_without_negotiation_records_none(ztest_port):
    conn = Z3950Connection("127.0.0.1", ztest_port, member="ZT", propose_charset=None)
    init = await conn.open()
    assert init.charset is None and "negotiation" not in init.options
    await conn.close()


async def test_ztest_hits_paging_and_positions(ztest_port):
    async with Z3950Connector("ZT", "127.0.0.1", ztest_port, "Default", chunk_size=7) as conn:
        page = await conn.search_rpn(Term("57", ((1, TITLE),)), 1, 20)
        assert page.hits == 57 and [r.position for r in page.records] == list(range(1, 21))
        assert page.next_position == 21 and all(r.syntax == "marc21" for r in page.records)
        last = await conn.search_rpn(Term("57", ((1, TITLE),)), 50, 20)
        assert [r.position for r in last.records] == list(range(50, 58)) and last.next_position is None
        empty = await conn.search_rpn(Term("57", ((1, TITLE),)), 58, 10)
        assert empty.records == [] and empty.hits == 57


async def test_ztest_xml_record_syntax(ztest_port):
    async with Z3950Connector("ZT", "127.0.0.1", ztest_port, "Default", record_syntax="marcxml") as conn:
        page = await conn.search_rpn(Term("3"), 1, 3)
        assert [r.syntax for r in page.records] == ["marcxml"] * 3
        assert all(r.data.lstrip().startswith(b"<record") for r in page.records)


async def test_database_unavailable_is_a_diagnostic(ztest_port):
    async with Z3950Connector("ZT", "127.0.0.1", ztest_port, "NoSuchBase") as conn:
        with pytest.raises(Diagnostic) as info:
            await conn.search_rpn(Term("x"))
    assert info.value.code == "109" and info.value.addinfo == "NoSuchBase" and info.value.member == "ZT"


async def test_present_out_of_range_is_diagnostic_13(ztest_port):
    async with Z3950Connector("ZT", "127.0.0.1", ztest_port, "Default") as conn:
        await conn.search_rpn(Term("12"), 1, 0)
        with pytest.raises(Diagnostic) as info:
            await conn.present(20, 5)
    assert info.value.code == "13" and "out of range" in info.value.diagnostic_message


async def test_timeout_on_a_slow_database(ztest_port):
    async with Z3950Connector("ZT", "127.0.0.1", ztest_port, "Slow3", timeout=0.5) as conn:
        with pytest.raises(MemberTimeout) as info:
            await conn.search_rpn(Term("x"))
    assert info.value.member == "ZT" and "did not answer" in str(info.value)


async def test_refused_connection_is_unavailable(closed_port):
    async with Z3950Connector("DOWN", "127.0.0.1", closed_port, "Default") as conn:
        with pytest.raises(MemberUnavailable) as info:
            await conn.search_rpn(Term("x"))
    assert "refused" in str(info.value) and info.value.member == "DOWN"


async def test_connection_dropped_between_searches_is_reopened(ztest_port, dropping_proxy):
    proxy = dropping_proxy(ztest_port)
    port = await proxy.start()
    try:
        async with Z3950Connector("ZT", "127.0.0.1", port, "Default") as conn:
            first = await conn.search_rpn(Term("30"), 1, 5)
            generation = conn.connection.generation
            proxy.drop_all()
            again = await conn.search_rpn(Term("30"), 6, 5)  # same query pages on: result set is redone
            assert [r.position for r in again.records] == [6, 7, 8, 9, 10] and again.hits == first.hits == 30
            assert conn.connection.generation == generation + 1 and proxy.accepted == 2
    finally:
        await proxy.stop()


async def test_one_connection_is_reused_across_searches(ztest_port, dropping_proxy):
    proxy = dropping_proxy(ztest_port)
    port = await proxy.start()
    try:
        async with Z3950Connector("ZT", "127.0.0.1", port, "Default") as conn:
            for n in (3, 4, 5):
                assert (await conn.search_rpn(Term(str(n)), 1, 2)).hits == n
        assert proxy.accepted == 1
    finally:
        await proxy.stop()


@pytest.mark.parametrize("garbage", [
    b"HTTP/1.0 400 Bad Request\r\n\r\nnot z39.50",       # wrong protocol
    bytes.fromhex("b5 05 83 01 00 84") + b"\x00" * 3,     # init response with a broken inner length
    bytes.fromhex("b5 84 7f ff ff ff"),                  # claims a 2 GiB PDU
    bytes.fromhex("a1 03 02 01 00"),                     # a well-formed element that is no APDU
])
async def test_garbage_from_server_is_a_decode_error(garbage, scripted_server):
    server = scripted_server([garbage])
    port = await server.start()
    try:
        async with Z3950Connector("BAD", "127.0.0.1", port, "Default", timeout=3) as conn:
            with pytest.raises(ProtocolError) as info:  # DecodeError, or ProtocolError for a non-APDU
                await conn.search_rpn(Term("x"))
        assert info.value.member == "BAD" and (isinstance(info.value, DecodeError) or b"\xa1" in garbage)
    finally:
        await server.stop()


async def test_server_close_during_init_is_unavailable(scripted_server):
    server = scripted_server([apdu._cons(48, apdu._int(211, 4), apdu._str(3, "too many users"))])
    port = await server.start()
    try:
        async with Z3950Connector("FULL", "127.0.0.1", port, "Default", timeout=3) as conn:
            with pytest.raises(MemberUnavailable) as info:
                await conn.search_rpn(Term("x"))
        assert "resources" in str(info.value) and "too many users" in str(info.value)
    finally:
        await server.stop()


async def test_server_hanging_up_after_connect_is_unavailable(scripted_server):
    server = scripted_server([b""])
    port = await server.start()
    try:
        async with Z3950Connector("HANG", "127.0.0.1", port, "Default", timeout=3) as conn:
            with pytest.raises(MemberUnavailable):
                await conn.search_rpn(Term("x"))
    finally:
        await server.stop()


# ------------------------------------------------------------------------------------ Zebra


def _ids(page) -> list[str]:
    return [pymarc.Record(data=r.data, to_unicode=True, force_utf8=True)["001"].data for r in page.records]


async def test_zebra_attributes_and_booleans(zebra21):
    async with Z3950Connector("Z21", "127.0.0.1", zebra21.port, "Default", negotiate_charset=True) as conn:
        assert conn.connection is not None
        history = (await conn.search_rpn(Term("history", ((1, TITLE),)), 1, 0)).hits
        china = (await conn.search_rpn(Term("china", ((1, SUBJECT),)), 1, 0)).hits
        both = (await conn.search_rpn(Op("and", Term("history", ((1, TITLE),)),
                                         Term("china", ((1, SUBJECT),))), 1, 0)).hits
        either = (await conn.search_rpn(Op("or", Term("history", ((1, TITLE),)),
                                           Term("china", ((1, SUBJECT),))), 1, 0)).hits
        minus = (await conn.search_rpn(Op("not", Term("history", ((1, TITLE),)),
                                          Term("china", ((1, SUBJECT),))), 1, 0)).hits
        assert history > 0 and china > 0
        assert either == history + china - both and minus == history - both
        phrase = await conn.search_rpn(Term("history", ((1, TITLE), (2, 3), (4, 2), (5, 100))), 1, 0)
        assert phrase.hits <= history
        assert conn.connection.init.charset == "UTF-8"


async def test_zebra_unsupported_use_attribute(zebra21):
    async with Z3950Connector("Z21", "127.0.0.1", zebra21.port, "Default") as conn:
        with pytest.raises(Diagnostic) as info:
            await conn.search_rpn(Term("x", ((1, 9999),)))
    assert info.value.code == "114" and info.value.diagnostic_message == "Unsupported Use attribute"


async def test_zebra_paging_in_chunks_equals_one_fetch(zebra21):
    async with Z3950Connector("Z21", "127.0.0.1", zebra21.port, "Default", chunk_size=7) as small, \
            Z3950Connector("Z21", "127.0.0.1", zebra21.port, "Default", chunk_size=500) as big:
        pages = [await small.search_rpn(ALL, start, 25) for start in (1, 26, 51)]
        whole = await big.search_rpn(ALL, 1, 75)
        assert [r.data for p in pages for r in p.records] == [r.data for r in whole.records]
        assert len(set(_ids(whole))) == 75 and whole.hits == zebra21.records


async def test_zebra_unimarc_and_xml(zebra_unimarc):
    async with Z3950Connector("ZU", "127.0.0.1", zebra_unimarc.port, "Default", syntax="unimarc") as conn:
        page = await conn.search_rpn(Term("中国", ((1, TITLE),)), 1, 10)
        assert page.hits > 0 and all(r.syntax == "unimarc" for r in page.records)
        titles = [pymarc.Record(data=r.data, to_unicode=True, force_utf8=True)["200"]["a"] for r in page.records]
        assert all("中国" in t for t in titles)
    async with Z3950Connector("ZU", "127.0.0.1", zebra_unimarc.port, "Default", syntax="unimarc",
                              record_syntax="marcxml") as conn:
        xml = await conn.search_rpn(Term("中国", ((1, TITLE),)), 1, 3)
        assert xml.hits == page.hits and all(b"<record" in r.data for r in xml.records)


async def test_harvest_yields_every_record_once(zebra21):
    async with Z3950Connector("Z21", "127.0.0.1", zebra21.port, "Default", harvest_chunk_size=150) as conn:
        positions = [r.position async for r in conn.harvest()]
    assert positions == list(range(1, zebra21.records + 1))


def _run_yaz_client(port: int, commands: str, marclog: Path) -> str:
    script = f"open tcp:127.0.0.1:{port}/Default\n{commands}quit\n"
    return subprocess.run(["yaz-client", "-m", str(marclog)], input=script, capture_output=True,
                          text=True, check=True).stdout


def _yaz_client(port: int, query: str, count: int, syntax: str = "usmarc") -> tuple[int, list[bytes]]:
    """yaz-client's hit count and the records it writes with -m (it asks no more than the hits)."""
    with tempfile.TemporaryDirectory() as tmp:
        marclog = Path(tmp) / "out.mrc"
        out = _run_yaz_client(port, f"find {query}\n", marclog)
        hits = int(out.split("Number of hits: ")[1].split(",")[0])
        _run_yaz_client(port, f"format {syntax}\nfind {query}\nshow 1+{min(count, hits)}\n", marclog)
        data = marclog.read_bytes() if marclog.exists() else b""
    records, pos = [], 0
    while pos < len(data):
        n = int(data[pos:pos + 5])
        records.append(data[pos:pos + n])
        pos += n
    return hits, records


@pytest.mark.parametrize("rpn", [
    Term("history", ((1, TITLE),)),
    Op("or", Term("china", ((1, SUBJECT),)), Term("music", ((1, ANY),))),
])
async def test_same_hits_and_bytes_as_yaz_client(zebra21, rpn):
    hits, expected = _yaz_client(zebra21.port, pqf(rpn), 20)
    async with Z3950Connector("Z21", "127.0.0.1", zebra21.port, "Default", element_set=None) as conn:
        conn.element_set = None  # yaz-client sends no element set name either
        page = await conn.search_rpn(rpn, 1, 20)
    assert page.hits == hits > 0
    assert [r.data for r in page.records] == expected


async def test_same_bytes_as_yaz_client_for_unimarc(zebra_unimarc):
    rpn = Term("中国", ((1, TITLE),))
    hits, expected = _yaz_client(zebra_unimarc.port, pqf(rpn), 10, "unimarc")
    async with Z3950Connector("ZU", "127.0.0.1", zebra_unimarc.port, "Default", syntax="unimarc") as conn:
        page = await conn.search_rpn(rpn, 1, 10)
    assert page.hits == hits and [r.data for r in page.records] == expected


def test_ber_module_has_no_socket_dependency():
    assert "asyncio" not in ber.__dict__
