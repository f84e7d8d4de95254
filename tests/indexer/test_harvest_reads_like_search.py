"""The harvest reads a member's records as a search does: with the member's character set and its library
system's holdings profile (registry `ils`), so the union index shows the same copies and statuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.sru import parse_search_response
from federator.fanout import normalise_page
from indexer.harvest import read_raw
from members import Member
from records.errors import RecordError

OPAC = Path(__file__).parent.parent / "data" / "opac-holdings"
ANSWERS = sorted(p for p in OPAC.glob("*.xml") if "notfound" not in p.name)

# A Horizon member's 999 item field: nothing in it says which system wrote it, so only the registry's
# `ils = "horizon"` tells where the copy is.
HORIZON = b"""<?xml version="1.0"?><zs:searchRetrieveResponse xmlns:zs="http://www.loc.gov/zing/srw/">
<zs:version>1.2</zs:version><zs:numberOfRecords>1</zs:numberOfRecords><zs:records><zs:record>
<zs:recordSchema>info:srw/schema/1/marcxml-v1.1</zs:recordSchema><zs:recordPacking>xml</zs:recordPacking>
<zs:recordData><record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 a 4500</leader>
<controlfield tag="001">h1</controlfield>
<controlfield tag="008">970101s1992    xx            000 0 eng d</controlfield>
<datafield tag="245" ind1="0" ind2="0"><subfield code="a">Marine mammals</subfield></datafield>
<datafield tag="999" ind1=" " ind2=" "><subfield code="a">SH 349</subfield><subfield code="b">.M34 1992</subfield>
<subfield code="l">MSEL Books</subfield><subfield code="i">39000011</subfield></datafield>
</record></zs:recordData><zs:recordPosition>1</zs:recordPosition></zs:record></zs:records>
</zs:searchRetrieveResponse>"""


def _copies(rec):
    return [(h.library, h.location, h.call_number, h.barcode, h.status, h.status_word) for h in rec.holdings]


def _harvested(raws, member):
    out = []
    for raw in raws:
        try:
            out.append(read_raw(raw, member))
        except RecordError:
            pass  # the search counts it unreadable too
    return out


@pytest.mark.parametrize("path", ANSWERS, ids=lambda p: p.stem)
def test_a_harvested_record_has_the_copies_a_search_shows(path):
    member = Member("M1", "成员馆", "Member", ils=path.name.split("-", 1)[0])
    page = parse_search_response(path.read_bytes(), "M1")
    searched, _ = normalise_page(page.records, member)
    assert [_copies(r) for r in _harvested(page.records, member)] == [_copies(r) for r in searched]


def test_a_member_whose_system_cannot_be_told_from_its_records_keeps_its_copies():
    member = Member("JHU", "成员馆", "Member", ils="horizon")
    page = parse_search_response(HORIZON, "JHU")
    [searched], _ = normalise_page(page.records, member)
    [harvested] = _harvested(page.records, member)
    assert _copies(harvested) == _copies(searched)
    assert [(h.location, h.call_number, h.barcode) for h in harvested.holdings] == [
        ("MSEL Books", "SH 349 .M34 1992", "39000011")]
