"""One connector contract for every protocol (connectors/base.py), against real servers: a Zebra member over
Z39.50 and SRU, and the test bed's OAI-PMH repository. Each connector honours `since` and `start`, counts,
lists record ids, and says Unsupported (before any I/O) for what its protocol cannot do."""

from __future__ import annotations

import asyncio
import re

import pytest
from lxml import etree

from connectors.errors import ResumeExpired, Unsupported
from connectors.factory import open_connector
from connectors.query import modified_since, parse, record_id
from members import Endpoint, Member
from testbed.oaipmh import apply_changes, make_app
from testbed.seeds import seed_marcxml
from testbed.zebra import ZebraServer, free_port, listening_socket

pytestmark = pytest.mark.integration

MARC = "{http://www.loc.gov/MARC21/slim}"


def _control(data: bytes, tag: str) -> str | None:
    root = etree.fromstring(data)
    return next(((cf.text or "").strip() for cf in root.iter(f"{MARC}controlfield") if cf.get("tag") == tag), None)


@pytest.fixture(scope="module")
def zebra(tmp_path_factory):
    server = ZebraServer(tmp_path_factory.mktemp("zebra-contract"), syntax="marc21")
    server.load(seed_marcxml("marc21"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def catalogue():
    """Each seed record's 001 and 005 (yyyymmddhhmmss)."""
    out = []
    for data in seed_marcxml("marc21"):
        stamp = _control(data, "005") or ""
        out.append((_control(data, "001"), stamp[:14] if re.fullmatch(r"\d{14}(\.\d)?", stamp) else None))
    return out


def _member(zebra) -> Member:
    return Member("M", "测试馆", "test", endpoints=(Endpoint("z3950", "127.0.0.1", zebra.port),
                                               Endpoint("sru", "127.0.0.1", zebra.port, "Default")))


PROTOCOLS = ["z3950", "sru"]
CONTRACT = ("search", "count", "harvest", "changes", "record_ids", "set_timeout", "fresh", "close")


@pytest.mark.parametrize("protocol", ["z3950", "sru", "oaipmh"])
def test_every_connector_offers_the_whole_contract(protocol):
    member = Member("M", "测试馆", "test", endpoints=(Endpoint(protocol, "127.0.0.1", free_port()),))
    conn = open_connector(member.target(protocol, timeout=3))
    assert conn.protocol == protocol and conn.member == "M" and isinstance(conn.harvest_page, int)
    assert [name for name in CONTRACT if not callable(getattr(conn, name, None))] == []
    conn.set_timeout(1.5)
    conn.fresh()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_count_harvest_and_start(zebra, catalogue, protocol):
    conn = open_connector(_member(zebra).target(protocol))
    try:
        total = await conn.count()
        assert total == len(catalogue)
        whole = [r async for r in conn.harvest(page_size=7)]
        assert [r.position for r in whole] == list(range(1, total + 1))
        tail = [r async for r in conn.harvest(start=total - 9, page_size=4)]  # resuming an interrupted harvest
        assert [r.position for r in tail] == list(range(total - 9, total + 1))
        assert [_control(r.data, "001") for r in tail] == [_control(r.data, "001") for r in whole[-10:]] \
            if whole[0].syntax == "marcxml" else [r.data for r in tail] == [r.data for r in whole[-10:]]
        assert {_id(r) for r in whole} == {rid for rid, _ in catalogue}
    finally:
        await conn.close()


def _id(raw) -> str | None:
    if raw.syntax == "marcxml":
        return _control(raw.data, "001")
    from records.normalise import from_raw

    return from_raw(raw.data, syntax=raw.syntax, charset=raw.charset, member="M", position=raw.position).record_id


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_harvest_since_gives_only_the_records_changed_since(zebra, catalogue, protocol):
    stamps = sorted(s for _, s in catalogue if s)
    newest, middle = stamps[-1], stamps[len(stamps) // 2]
    later = str(int(newest) + 1)
    conn = open_connector(_member(zebra).target(protocol))
    try:
        assert await conn.count(modified_since("00000000000000")) == len(stamps)
        recent = [r async for r in conn.harvest(since=middle)]
        assert sorted(_id(r) for r in recent) == sorted(rid for rid, s in catalogue if s and s >= middle)
        assert len(recent) == await conn.count(modified_since(middle)) < len(catalogue)
        resumed = [r async for r in conn.harvest(since=middle, start=2)]
        assert [_id(r) for r in resumed] == [_id(r) for r in recent[1:]]
        assert [r async for r in conn.harvest(since=later)] == []
    finally:
        await conn.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_record_ids_and_id_queries(zebra, catalogue, protocol):
    conn = open_connector(_member(zebra).target(protocol))
    try:
        listed = [t async for t in conn.record_ids(page=5)]
        assert sorted(t.term for t in listed) == sorted(rid for rid, _ in catalogue)
        assert sum(t.occurrences for t in listed) == await conn.count()
        some = listed[3].term
        assert await conn.count(record_id(some)) == 1
        prefix = some[:-1]
        assert await conn.count(record_id(prefix, prefix=True)) == sum(rid.startswith(prefix) for rid, _ in catalogue)
        fetched = [_id(r) async for r in conn.harvest(query=record_id(prefix, prefix=True))]
        assert sorted(fetched) == sorted(rid for rid, _ in catalogue if rid.startswith(prefix))
    finally:
        await conn.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_typed_search_and_no_change_feed(zebra, protocol):
    conn = open_connector(_member(zebra).target(protocol))
    try:
        page = await conn.search(parse("ti:history"), 1, 3)
        assert page.hits > 0 and len(page.records) == min(3, page.hits)
        with pytest.raises(Unsupported, match="no change feed"):
            conn.changes()  # raised at the call, before anything is sent
    finally:
        await conn.close()


async def test_both_protocols_give_the_same_counts(zebra, catalogue):
    member = _member(zebra)
    z, sru = open_connector(member.target("z3950")), open_connector(member.target("sru"))
    try:
        for query in (None, parse("ti:history"), modified_since(sorted(s for _, s in catalogue if s)[-3])):
            assert await z.count(query) == await sru.count(query)
    finally:
        await z.close()
        await sru.close()


# ----------------------------------------------------------------------------- OAI-PMH

@pytest.fixture()
async def repository(tmp_path):
    """The test bed's OAI-PMH server with one member of 20 records, 7 a page."""
    from aiohttp import web

    records = seed_marcxml("marc21")[:20]
    db = tmp_path / "members" / "TST"
    db.mkdir(parents=True)
    apply_changes(db / "oai.sqlite", "TST", {f"R{i:02d}": x for i, x in enumerate(records)}, [])
    (tmp_path / "faults.json").write_text("{}")
    runner = web.AppRunner(make_app(tmp_path, ["TST"], page_size=7), access_log=None)
    await runner.setup()
    sock = listening_socket(0)
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    member = Member("TST", "测试馆", "test", endpoints=(Endpoint("oaipmh", "127.0.0.1", port, "oai/TST"),))
    yield db / "oai.sqlite", member, records
    await runner.cleanup()


async def test_oai_harvest_honours_since_and_start_and_its_feed_has_deletions(repository):
    db, member, records = repository
    conn = open_connector(member.target(member.harvest_endpoint()))
    try:
        whole = [r async for r in conn.harvest()]
        assert [r.position for r in whole] == list(range(1, 21))
        tail = [r async for r in conn.harvest(start=15)]
        assert [r.data for r in tail] == [r.data for r in whole[14:]]
        await asyncio.sleep(1.1)  # datestamps have one-second granularity and `from` includes its second
        first = [p async for p in conn.changes()]
        since = first[0].response_date
        resumed = [c for p in [p async for p in conn.changes(resume=first[0].token)] for c in p.records]
        assert [c.identifier for c in resumed] == [c.identifier for p in first[1:] for c in p.records]
        await asyncio.sleep(1.1)
        apply_changes(db, "TST", {"R05": records[6]}, ["R07"])
        changed = [r async for r in conn.harvest(since=since)]
        assert [_control(r.data, "001") for r in changed] == [_control(records[6], "001")]
        feed = [c for p in [p async for p in conn.changes(since)] for c in p.records]
        assert sorted((c.identifier.rsplit(":", 1)[-1], c.deleted) for c in feed) == [("R05", False), ("R07", True)]
    finally:
        await conn.close()


async def test_oai_says_unsupported_for_what_it_cannot_do(repository):
    _, member, _ = repository
    conn = open_connector(member.target("oaipmh"))
    try:
        with pytest.raises(Unsupported):
            await conn.search(parse("history"))
        with pytest.raises(Unsupported):
            await conn.count()
        with pytest.raises(Unsupported):
            conn.record_ids()
        with pytest.raises(Unsupported):
            [r async for r in conn.harvest(query=record_id("R01"))]
        with pytest.raises(ResumeExpired):  # a kept token the repository forgot: the caller starts again
            [p async for p in conn.changes(resume="long-expired")]
    finally:
        await conn.close()


async def test_an_unknown_protocol_is_unsupported():
    member = Member("X", "测试馆", "test", endpoints=(Endpoint("ftp", "127.0.0.1", free_port()),))
    with pytest.raises(Unsupported, match="ftp"):
        open_connector(member.target("ftp"))
