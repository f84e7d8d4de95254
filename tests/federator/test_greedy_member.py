"""A member that answers every search with far more records than asked (and an absurd hit count) costs the
search only what was asked: the records asked for are kept, a flood past the byte allowance is refused
unread, and the member's outcome says what it did. A real SRU server on loopback plays the member."""

from __future__ import annotations

import pytest
from aiohttp import web

from connectors.query import parse
from federator.federation import Federator
from members import Endpoint, Member
from services.views import outcome_json
from testbed.seeds import seed_marcxml
from tests.sru.hostile import search_response, sru_server


@pytest.fixture
async def greedy():
    """An SRU server whose answer size the test sets: `state["records"]` records whatever was asked."""
    seeds = seed_marcxml("marc21")
    state = {"records": 10, "asked": []}

    async def sru(request: web.Request) -> web.Response:
        state["asked"].append(request.query.get("maximumRecords"))
        n = state["records"]
        body = search_response([seeds[i % len(seeds)] for i in range(n)], 999_999_999)
        return web.Response(body=body, content_type="text/xml")

    async with sru_server("/sru", sru) as port:
        yield state, Member("GREEDY", "贪婪馆", "Greedy Library", max_records=10,
                            endpoints=(Endpoint("sru", "127.0.0.1", port, "sru", "1.2"),))


async def _search(member):
    async with Federator([member]) as fed:
        result = await fed.run(parse("中国"), per_member=10)
    return result, result.outcomes[0]


async def test_a_member_sending_thousands_of_records_gives_only_those_asked(greedy):
    state, member = greedy
    state["records"] = 600  # about 2.5 MB: within what 10 records may cost, so it is read (off the event loop)
    result, outcome = await _search(member)
    assert state["asked"] == ["10"]
    assert outcome.status == "ok" and len(outcome.records) == 10 and outcome.excess == 590
    assert len(result.works) <= 10
    doc = outcome_json(outcome)
    assert doc["excess"] == 590 and "590" in doc["detail"]


async def test_a_flood_past_the_byte_allowance_is_refused_unread(greedy):
    state, member = greedy
    state["records"] = 3500  # about 15 MB, under the 16 MB body cap but far past what 10 records may cost
    result, outcome = await _search(member)
    assert outcome.status == "error" and "far more than it was asked for" in outcome.error
    assert not result.works
