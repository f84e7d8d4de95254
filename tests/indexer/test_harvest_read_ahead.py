"""A change feed's page is read ahead in the normalising thread (`_MemberRun.read_ahead`) and then classified in
order in the store's thread: the same records, counts and errors as classifying it alone, for a new, an
unchanged, an unreadable and a repeated record."""

from __future__ import annotations

import asyncio

import pymarc

from connectors.base import RawRecord
from indexer.harvest import MemberReport, Progress, RateLimiter, _MemberRun
from indexer.store import HarvestStore
from members import Member


def _marc(control: str, title: str) -> bytes:
    rec = pymarc.Record()
    rec.add_field(pymarc.Field(tag="001", data=control))
    rec.add_field(pymarc.Field(tag="245", indicators=["0", "0"], subfields=[pymarc.Subfield("a", title)]))
    return rec.as_marc()


def _classified(store, page: list[RawRecord], ahead: bool):
    report = MemberReport("THU")
    run = _MemberRun(store, Member("THU", "清华大学", "Tsinghua University"), report, Progress(), RateLimiter(0))
    asyncio.run(run.prepare())
    read = run.read_ahead(page) if ahead else [None] * len(page)
    got = []
    for raw, r in zip(page, read, strict=True):
        rid, up = run.classify(raw, read=r)
        got.append((rid, None if up is None else (up.record_id, up.hash, up.record.title, tuple(up.keys))))
    return got, report.as_dict()


def test_a_page_read_ahead_is_classified_as_one_read_in_order(tmp_path):
    store = HarvestStore.open(tmp_path)
    try:
        held = _marc("ABC1", "数据结构")
        run = _MemberRun(store, Member("THU", "清华大学", "Tsinghua University"), MemberReport("THU"), Progress(),
                         RateLimiter(0))
        _rid, up = run.classify(RawRecord(held, "marc21", "utf-8", 1, "THU"))
        store.apply("THU", upserts=[up])
        new = _marc("ABC2", "管理学原理")
        page = [RawRecord(data, "marc21", "utf-8", i, "THU") for i, data in
                enumerate([held, new, held[:-8], new, _marc("ABC1", "数据结构 第二版")], 1)]
        alone, counted = _classified(store, page, ahead=False)
        ahead, counted_ahead = _classified(store, page, ahead=True)
        assert ahead == alone and counted_ahead == counted
        assert counted["unchanged"] == 2 and counted["errors"] == 1 and counted["added"] == 1
        assert counted["changed"] == 1
    finally:
        store.close()
