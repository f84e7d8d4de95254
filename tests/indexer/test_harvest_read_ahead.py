"""A page is read ahead in the normalising thread or a reading process (`_MemberRun.read_ahead`) and then
classified in order in the store's thread: the same records, counts and errors as classifying it alone, for a
new, an unchanged, an unreadable and a repeated record."""

from __future__ import annotations

import asyncio
import pickle

import pymarc

from connectors.base import RawRecord
from indexer import harvest
from indexer.harvest import MemberReport, Progress, RateLimiter, StoreWorker, _MemberRun
from indexer.store import HarvestStore
from members import Member


def _marc(control: str, title: str) -> bytes:
    rec = pymarc.Record()
    rec.add_field(pymarc.Field(tag="001", data=control))
    rec.add_field(pymarc.Field(tag="245", indicators=["0", "0"], subfields=[pymarc.Subfield("a", title)]))
    return rec.as_marc()


def _classified(store, page: list[RawRecord], ahead: bool, processes: int = 0):
    report = MemberReport("THU")
    worker = StoreWorker(processes=processes)
    try:
        run = _MemberRun(store, Member("THU", "清华大学", "Tsinghua University"), report, Progress(), RateLimiter(0),
                         worker)
        asyncio.run(run.prepare())
        read = asyncio.run(run.read_ahead(page)) if ahead else [None] * len(page)
        assert (worker._readers is not None) == (ahead and processes > 0)  # read where asked
    finally:
        worker.shutdown()
    got = []
    for raw, r in zip(page, read, strict=True):
        rid, up = run.classify(raw, read=r)
        got.append((rid, None if up is None else (up.record_id, up.hash, pickle.loads(up.blob).title,
                                                  tuple(up.keys), up.match)))
    return got, report.as_dict()


def test_a_page_read_ahead_is_classified_as_one_read_in_order(tmp_path, monkeypatch):
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
        monkeypatch.setattr(harvest, "READ_ELSEWHERE_AFTER", 0)  # the reading process from the first record on
        elsewhere, counted_elsewhere = _classified(store, page, ahead=True, processes=1)
        assert elsewhere == alone and counted_elsewhere == counted
        assert counted["unchanged"] == 2 and counted["errors"] == 1 and counted["added"] == 1
        assert counted["changed"] == 1
    finally:
        store.close()
