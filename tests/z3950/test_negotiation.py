"""Character-set negotiation, per member: what a stock MARC21 Zebra does when it agrees UTF-8 (double-encodes),
what the test bed's Zebras do (nothing), shown with yaz-client and our connector; records read the same either way."""

from __future__ import annotations

import dataclasses
import subprocess

import pymarc
import pytest

from connectors.rpn import Term
from connectors.z3950 import Z3950Connector
from records.normalise import from_raw
from testbed.stock import STOCK_RECORDS, StockZebraServer

pytestmark = pytest.mark.integration

ANY = Term("", ((1, 1016), (2, 103)))


@pytest.fixture(scope="module")
def stock_zebra(tmp_path_factory):
    """Zebra's stock MARC21 configuration (grs.marcxml.marc21) serving real UTF-8 ISO 2709 records."""
    zebra = StockZebraServer(tmp_path_factory.mktemp("zebra-stock"))
    zebra.load()
    zebra.start()
    yield zebra
    zebra.stop()


async def _fetch(port: int, negotiate: bool, syntax: str = "marc21", count: int = 100):
    async with Z3950Connector("M", "127.0.0.1", port, syntax=syntax, negotiate_charset=negotiate) as member:
        page = await member.search_rpn(ANY, 1, count)
        return page.records, member.connection.init.charset


@pytest.fixture(scope="module")
async def stock_both(stock_zebra):
    plain, plain_charset = await _fetch(stock_zebra.port, False)
    negotiated, agreed = await _fetch(stock_zebra.port, True)
    assert plain_charset is None and agreed == "UTF-8"
    return plain, negotiated


def test_stock_zebra_sends_what_it_stored_without_negotiation(stock_zebra, stock_both):
    plain, _ = stock_both
    source = b"".join(p.read_bytes() for p in STOCK_RECORDS)
    assert len(plain) == stock_zebra.records == source.count(b"\x1d")
    assert all(r.data in source for r in plain)


def test_stock_zebra_double_encodes_when_it_agreed_utf8(stock_both):
    plain, negotiated = stock_both
    changed = [(a, b) for a, b in zip(plain, negotiated, strict=True) if a.data != b.data]
    assert len(changed) > len(plain) // 2  # every record with a non-ASCII character
    for a, b in changed:
        clean = pymarc.Record(data=a.data, to_unicode=True, force_utf8=True)
        mangled = pymarc.Record(data=b.data, to_unicode=True, force_utf8=True)
        for fa, fb in zip(clean.get_fields(), mangled.get_fields(), strict=True):
            assert fb.value().encode("latin-1").decode("utf-8") == fa.value()  # UTF-8 read as Latin-1, again


def test_yaz_client_sees_the_same(stock_zebra, stock_both, tmp_path):
    """The reference client gets byte for byte what our connector gets, with `charset UTF-8` and without."""
    plain, negotiated = stock_both
    for charset, ours in (("", plain), ("charset UTF-8\n", negotiated)):
        dump = tmp_path / f"dump{len(charset)}.mrc"
        script = (f"{charset}open tcp:127.0.0.1:{stock_zebra.port}/Default\nfind @attr 1=1016 @attr 2=103 \"\"\n"
                  f"format usmarc\nset_marcdump {dump}\nshow 1+10\nquit\n")
        subprocess.run(["yaz-client"], input=script, capture_output=True, text=True, timeout=30, check=True)
        theirs = [r + b"\x1d" for r in dump.read_bytes().split(b"\x1d") if r]
        assert theirs == [r.data for r in ours[:10]]


def test_stock_records_read_the_same_with_negotiation_on_and_off(stock_both):
    """The record reader repairs the double encoding (records/repair.py), so a member set up either way reads
    the same."""
    plain, negotiated = stock_both
    for a, b in zip(plain, negotiated, strict=True):
        ra = from_raw(a.data, syntax=a.syntax, charset=a.charset, member="M", position=a.position)
        rb = from_raw(b.data, syntax=b.syntax, charset=b.charset, member="M", position=b.position)
        assert dataclasses.replace(rb, warnings=[]) == dataclasses.replace(ra, warnings=[]), a.position


@pytest.mark.parametrize("fixture,syntax", [("zebra21", "marc21"), ("zebra_unimarc", "unimarc")])
async def test_test_bed_zebras_ignore_negotiation(request, fixture, syntax):
    """The test bed's Zebras convert records in their retrieval configuration: negotiation changes nothing."""
    port = request.getfixturevalue(fixture).port
    plain, _ = await _fetch(port, False, syntax)
    negotiated, agreed = await _fetch(port, True, syntax)
    assert agreed == "UTF-8" and plain and [r.data for r in plain] == [r.data for r in negotiated]


async def test_a_member_that_double_encodes_is_told_apart(stock_zebra):
    """Searched with negotiation on, the stock Zebra's records are repaired, and its outcome says how many (the
    CLI line and the JSON tell staff to ask the library to fix its setup); with it off, nothing is reported."""
    from balis.output import outcome_text
    from connectors.query import parse
    from federator.federation import Federator
    from members import Endpoint, Member
    from services.views import outcome_json

    members = [Member(code, code, code, syntax="marc21", max_records=50, negotiate_charset=negotiate,
                      endpoints=(Endpoint("z3950", "127.0.0.1", stock_zebra.port),))
               for code, negotiate in (("ON", True), ("OFF", False))]
    async with Federator(members, cache_ttl=0, answer_times=None) as fed:
        result = await fed.run(parse("any:history OR any:china OR any:music"), per_member=50)
    outcomes = {o.code: o for o in result.outcomes}
    assert outcomes["OFF"].status == outcomes["ON"].status == "ok"
    assert outcomes["OFF"].repaired == 0 and outcome_json(outcomes["OFF"])["repaired"] == 0
    assert outcomes["ON"].repaired > 0 and outcome_json(outcomes["ON"])["repaired"] == outcomes["ON"].repaired
    assert f"{outcomes['ON'].repaired} record(s) arrived double-encoded" in outcome_text(outcomes["ON"])
    on = sorted((r.record_id, r.title) for r in outcomes["ON"].records)
    assert on == sorted((r.record_id, r.title) for r in outcomes["OFF"].records)  # and read the same
