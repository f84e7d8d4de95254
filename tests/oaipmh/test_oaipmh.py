"""The OAI-PMH connector: response parsing (pure) and ListRecords against the test bed's real repository server."""

from __future__ import annotations

import asyncio
import json

import pytest

from connectors.errors import DecodeError, Diagnostic, MemberTimeout, MemberUnavailable
from connectors.oaipmh import OaiPmhConnector, oai_datetime, parse_list_records
from records.normalise import from_raw
from testbed.oaipmh import apply_changes, make_app
from testbed.seeds import seed_marcxml
from testbed.zebra import free_port, listening_socket

HEAD = ('<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        "<responseDate>2026-11-20T02:00:00Z</responseDate><request>http://x/oai</request>")
MARC_BARE = ('<record><leader>00000nam a2200000 a 4500</leader><controlfield tag="001">B1</controlfield>'
             '<datafield tag="245" ind1="0" ind2="0"><subfield code="a">数据结构</subfield></datafield></record>')


def body(inner: str) -> bytes:
    return (HEAD + inner + "</OAI-PMH>").encode("utf-8")


def test_list_records_with_deleted_record_and_token():
    page = parse_list_records(body(
        "<ListRecords>"
        f"<record><header><identifier>oai:x:B1</identifier><datestamp>2026-11-19T10:00:00Z</datestamp></header>"
        f"<metadata>{MARC_BARE}</metadata></record>"
        '<record><header status="deleted"><identifier>oai:x:B2</identifier>'
        "<datestamp>2026-11-19T11:00:00Z</datestamp></header></record>"
        '<resumptionToken completeListSize="12" cursor="0">tok-2</resumptionToken></ListRecords>'), "M", 1)
    assert page.token == "tok-2" and page.complete_size == 12 and page.response_date == "2026-11-20T02:00:00Z"
    live, gone = page.records
    assert (live.identifier, live.deleted, gone.identifier, gone.deleted) == ("oai:x:B1", False, "oai:x:B2", True)
    assert gone.raw is None and live.raw.syntax == "marcxml" and live.raw.member == "M"
    assert b'xmlns="http://www.loc.gov/MARC21/slim"' in live.raw.data  # a bare record gets the MARCXML namespace
    rec = from_raw(live.raw.data, syntax="marcxml", charset="utf-8", member="M", position=1)
    assert (rec.record_id, rec.title) == ("B1", "数据结构")


def test_empty_token_ends_the_list_and_no_records_match_is_an_empty_page():
    page = parse_list_records(body('<ListRecords><resumptionToken completeListSize="1" cursor="1"/></ListRecords>'))
    assert page.token is None and page.records == []
    page = parse_list_records(body('<error code="noRecordsMatch">nothing changed</error>'))
    assert page.records == [] and page.token is None and page.response_date == "2026-11-20T02:00:00Z"


@pytest.mark.parametrize("inner, error, text", [
    ('<error code="badResumptionToken">expired</error>', Diagnostic, "badResumptionToken"),
    ('<error code="cannotDisseminateFormat">no</error>', Diagnostic, "cannotDisseminateFormat"),
    ("<ListRecords><record><header><identifier>a</identifier></header></record></ListRecords>", DecodeError,
     "no metadata"),
    ("<Identify/>", DecodeError, "neither ListRecords"),
])
def test_oai_errors_and_broken_answers(inner, error, text):
    with pytest.raises(error, match=text):
        parse_list_records(body(inner), "M")


def test_hostile_or_foreign_xml_is_refused():
    with pytest.raises(DecodeError, match="DOCTYPE|entit"):
        parse_list_records(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><OAI-PMH '
                           b'xmlns="http://www.openarchives.org/OAI/2.0/">&e;</OAI-PMH>')
    with pytest.raises(DecodeError, match="not an OAI-PMH response"):
        parse_list_records(b"<html><body>maintenance</body></html>")
    with pytest.raises(DecodeError, match="not well-formed"):
        parse_list_records(b"<OAI-PMH")


def test_from_dates_follow_the_repository_granularity():
    assert oai_datetime("2026-11-20") == "2026-11-20T00:00:00Z"
    assert oai_datetime("2026-11-20", "YYYY-MM-DD") == "2026-11-20"
    assert oai_datetime("2026-11-20T10:00:00+08:00") == "2026-11-20T02:00:00Z"


# ----------------------------------------------------------------------------- against a real repository

@pytest.fixture()
async def repository(tmp_path):
    """The test bed's OAI-PMH server (aiohttp, real HTTP on loopback) with one member of 20 records, 7 a page."""
    from aiohttp import web

    records = seed_marcxml("marc21")[:20]
    apply_changes(_db(tmp_path), "TST", {f"R{i:02d}": x for i, x in enumerate(records)}, [])
    (tmp_path / "faults.json").write_text("{}")
    runner = web.AppRunner(make_app(tmp_path, ["TST"], page_size=7), access_log=None)
    await runner.setup()
    sock = listening_socket(0)
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    yield tmp_path, f"http://127.0.0.1:{port}/oai/TST", records
    await runner.cleanup()


def _db(state_dir):
    folder = state_dir / "members" / "TST"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "oai.sqlite"


async def test_list_records_pages_through_resumption_tokens(repository):
    _, url, records = repository
    conn = OaiPmhConnector("TST", url, timeout=10)
    try:
        info = await conn.identify()
        assert info["deletedRecord"] == "persistent" and info["granularity"] == "YYYY-MM-DDThh:mm:ssZ"
        pages = [p async for p in conn.pages()]
        assert [len(p.records) for p in pages] == [7, 7, 6]
        assert [p.complete_size for p in pages] == [20, 20, 20] and pages[-1].token is None
        ids = [r.identifier for p in pages for r in p.records]
        assert len(set(ids)) == 20
        resumed = [p async for p in conn.pages(token=pages[0].token)]  # an interrupted harvest continues
        assert [r.identifier for p in resumed for r in p.records] == ids[7:]
        assert len([r async for r in conn.harvest()]) == 20
    finally:
        await conn.close()


async def test_from_gives_only_changes_including_deletes(repository):
    state, url, records = repository
    conn = OaiPmhConnector("TST", url, timeout=10)
    try:
        await asyncio.sleep(1.1)  # datestamps have one-second granularity and `from` includes its second
        first = [p async for p in conn.pages()]
        since = first[0].response_date
        nothing = [p async for p in conn.pages(since="2999-01-01")]
        assert [r for p in nothing for r in p.records] == []
        await asyncio.sleep(1.1)
        apply_changes(_db(state), "TST", {"R05": records[6]}, ["R07"])
        changed = [r for p in [p async for p in conn.pages(since)] for r in p.records]
        assert sorted((r.identifier.rsplit(":", 1)[-1], r.deleted) for r in changed) == [("R05", False),
                                                                                       ("R07", True)]
    finally:
        await conn.close()


async def test_bad_token_and_faults_are_member_errors(repository):
    state, url, _ = repository
    conn = OaiPmhConnector("TST", url, timeout=10)
    hasty = OaiPmhConnector("TST", url, timeout=0.5)
    try:
        with pytest.raises(Diagnostic) as err:
            [p async for p in conn.pages(token="not-a-token")]
        assert err.value.code == "badResumptionToken"
        (state / "faults.json").write_text(json.dumps({"TST": {"latency_ms": 0, "mode": "refuse"}}))
        with pytest.raises(MemberUnavailable, match="503"):
            [p async for p in conn.pages()]
        (state / "faults.json").write_text(json.dumps({"TST": {"latency_ms": 1500, "mode": None}}))
        with pytest.raises(MemberTimeout):
            [p async for p in hasty.pages()]
    finally:
        await conn.close()
        await hasty.close()
    closed = OaiPmhConnector("TST", f"http://127.0.0.1:{free_port()}/oai/TST", timeout=2)
    try:
        with pytest.raises(MemberUnavailable, match="cannot connect"):
            [p async for p in closed.pages()]
    finally:
        await closed.close()
