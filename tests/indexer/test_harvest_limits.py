"""A member whose harvest would never end is stopped and reported failed, and the other members' records
are indexed regardless: one member never holds back the nightly index. Real SRU servers on loopback play
the members: one claims 999,999,999 records, one sends the same page for ever, one behaves."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from aiohttp import web

from indexer.harvest import HarvestOptions, harvest
from members import Endpoint, Member, Registry
from testbed.seeds import seed_marcxml
from tests.indexer.harvest_helpers import index_content
from tests.sru.hostile import search_response, sru_server


@pytest.fixture
async def members():
    seeds = seed_marcxml("marc21")[:40]
    asked: dict[str, int] = {}

    async def sru(request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        start = int(request.query.get("startRecord", "1"))
        count = int(request.query.get("maximumRecords", "10"))
        asked[kind] = asked.get(kind, 0) + 1
        if kind == "huge":  # claims a billion records; sends real ones at any position
            hits, records = 999_999_999, [seeds[(start - 1 + i) % 40] for i in range(count)]
        elif kind == "loop":  # a plausible count, but every page is the same ten records
            hits, records = 50_000, seeds[:count]
        else:  # 25 records, then the end
            hits, records = 25, seeds[start - 1:min(25, start - 1 + count)]
        return web.Response(body=search_response(records if count else [], hits, start), content_type="text/xml")

    async with sru_server("/{kind}", sru) as port:
        def member(code: str, kind: str) -> Member:
            return Member(code, f"{code} 馆", code, endpoints=(Endpoint("sru", "127.0.0.1", port, kind, "1.2"),),
                          harvest_rate=0)

        yield [member("HUGE", "huge"), member("LOOP", "loop"), member("GOOD", "good")], asked


async def test_runaway_members_are_stopped_and_the_others_indexed(members, tmp_path):
    ms, asked = members
    registry = Registry(path=Path("test-registry.toml"), members=tuple(ms))
    result = await harvest(registry, tmp_path / "index", HarvestOptions(page_size=10, full=True))
    by = {r.member: r for r in result.members}
    assert by["HUGE"].status == "failed" and "999,999,999" in by["HUGE"].message
    assert asked.get("huge", 0) <= 2  # counted, never paged through
    assert by["LOOP"].status == "failed" and "nothing new" in by["LOOP"].message
    assert asked["loop"] <= 10  # three pages of repeats after the first, then it stops
    assert by["GOOD"].status == "ok" and by["GOOD"].added == 25
    indexed = {r["member"] for w in index_content(tmp_path / "index").values() for r in w["records"]}
    assert "GOOD" in indexed  # the well-behaved member's records reached the index in the same run


async def test_a_member_past_its_record_limit_is_stopped(members, tmp_path):
    ms, _ = members
    small = dataclasses.replace(ms[1], harvest_max_records=15)
    registry = Registry(path=Path("test-registry.toml"), members=(small, ms[2]))
    result = await harvest(registry, tmp_path / "index", HarvestOptions(page_size=10, full=True))
    by = {r.member: r for r in result.members}
    assert by["LOOP"].status == "failed" and "15" in by["LOOP"].message
    assert by["GOOD"].status == "ok"
