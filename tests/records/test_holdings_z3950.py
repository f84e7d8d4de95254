"""Holdings over Z39.50 in the OPAC record syntax: decoded from yaz-ztest's records and compared with what
yaz-client (the reference client) shows for the same record; circulation fields ztest never sends are
checked on a record encoded here with the BER codec."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess

import pytest

from connectors.query import parse
from connectors.z3950 import Z3950Connector, ber
from connectors.z3950.opac import decode_opac
from members import Endpoint, Member
from records.model import AVAILABLE, ON_HOLD, ON_LOAN
from records.normalise import from_raw


def _yaz_client_holdings(port: int) -> dict[str, str]:
    """The first record's holdings fields as yaz-client prints them for `format opac`."""
    script = f"open tcp:127.0.0.1:{port}/Default\nfind @attr 1=4 computer\nformat opac\nshow 1\nquit\n"
    out = subprocess.run([shutil.which("yaz-client") or "yaz-client"], input=script, capture_output=True,
                         text=True, timeout=30, check=True).stdout
    fields = dict(re.findall(r"^ ?(\w+): (.*)$", out.split("Data holdings", 1)[1], re.MULTILINE))
    return {k: v.strip() for k, v in fields.items()}


def test_opac_records_from_ztest_match_yaz_client(ztest):
    async def fetch():
        connector = Z3950Connector("ZT", "127.0.0.1", ztest, "Default", record_syntax="opac")
        try:
            return await connector.search(parse("computer"), 1, 2)
        finally:
            await connector.close()

    page = asyncio.run(fetch())
    assert page.hits > 0 and len(page.records) == 2 and not page.diagnostics
    raw = page.records[0]
    assert raw.syntax == "marc21" and raw.holdings  # the bibliographic part, and the holdings beside it
    rec = from_raw(raw.data, syntax=raw.syntax, charset=raw.charset, member="ZT", position=1, holdings=raw.holdings)
    reference = _yaz_client_holdings(ztest)
    [copy] = rec.holdings
    assert rec.title == "How to program a computer"
    assert (copy.library, copy.call_number, copy.location, copy.barcode) == (
        reference["localLocation"], reference["callNumber"], reference["shelvingData"], reference["itemId"])
    assert reference["availableNow"] == "1" and copy.status == AVAILABLE


def test_registry_opac_syntax_asks_the_member_for_opac_records():
    from connectors.factory import open_connector

    member = Member(code="ZT", name="测试馆", name_en="", opac_syntax=True,
                    endpoints=(Endpoint("z3950", "127.0.0.1", 9999, "Default", "1.2"),))
    assert open_connector(member.target()).record_syntax == "opac"
    plain = Member(code="ZT", name="测试馆", name_en="", endpoints=member.endpoints)
    assert open_connector(plain.target()).record_syntax == "marc21"


def _s(number: int, text: str) -> bytes:
    return ber.tlv(ber.identifier(number), text.encode("utf-8"))


def _b(number: int, value: bool) -> bytes:
    return ber.tlv(ber.identifier(number), b"\xff" if value else b"\x00")


def _seq(*parts: bytes, number: int | None = None) -> bytes:
    ident = ber.identifier(16, ber.UNIVERSAL, True) if number is None else ber.identifier(number, constructed=True)
    return ber.tlv(ident, b"".join(parts))


def test_opac_record_with_loans_and_holds_encoded_here():
    marc = b"00026nam  2200025   4500\x1e\x1d"
    bib = _seq(ber.tlv(ber.identifier(6, ber.UNIVERSAL), ber.oid_content("1.2.840.10003.5.10")),
               ber.tlv(ber.identifier(1), marc), number=1)
    out = _seq(_b(1, False), _s(2, "2026-12-01"), _s(4, "已借出"), _s(5, "C1"), _b(6, True), _b(7, False))
    held = _seq(_b(1, False), _s(5, "C2"), _b(6, False), _b(7, True))
    shelf = _seq(_b(1, True), _s(5, "C3"), _b(6, True), _b(7, False), _s(10, "新书架"))
    holding = _seq(_s(9, "总馆"), _s(10, "中文图书"), _s(11, "I247.5/88"), _seq(out, held, shelf, number=19),
                   number=2)
    record = _seq(bib, _seq(holding, number=2))
    opac = decode_opac(record)
    assert opac.syntax == "1.2.840.10003.5.10" and opac.data == marc
    from records.holdings import holdings_from_xml

    copies = holdings_from_xml(opac.holdings, member="BNU", ils="huiwen", warnings=[])
    assert [(h.barcode, h.status, h.due_date, h.location) for h in copies] == [
        ("C1", ON_LOAN, "2026-12-01", "中文图书"), ("C2", ON_HOLD, None, "中文图书"), ("C3", AVAILABLE, None, "新书架")]
    assert {h.library for h in copies} == {"总馆"} and {h.call_number for h in copies} == {"I247.5/88"}


def test_a_broken_opac_record_is_a_decode_error():
    from connectors.errors import DecodeError

    with pytest.raises(DecodeError):
        decode_opac(b"\x02\x01\x00")
