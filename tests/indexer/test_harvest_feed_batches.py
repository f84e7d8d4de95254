"""Small change feed pages are written together, up to a batch of records, with the last page's resumptionToken:
a record sent in one page and deleted in a later page of the same batch ends deleted, as page by page."""

from __future__ import annotations

import asyncio

import pymarc

from connectors.base import Change, ChangePage, RawRecord
from indexer.harvest import MemberReport, Progress, RateLimiter, _MemberRun
from indexer.store import HarvestStore
from members import Member


def _marc(control: str, title: str) -> bytes:
    rec = pymarc.Record()
    rec.add_field(pymarc.Field(tag="001", data=control))
    rec.add_field(pymarc.Field(tag="245", indicators=["0", "0"], subfields=[pymarc.Subfield("a", title)]))
    return rec.as_marc()


def _sent(identifier: str, control: str, title: str) -> Change:
    return Change(identifier, "2026-12-01", False, RawRecord(_marc(control, title), "marc21", "utf-8", 0, "THU"))


class _Feed:
    """A member whose change feed sends these pages."""

    protocol = "oaipmh"

    def __init__(self, pages: list[ChangePage]) -> None:
        self.pages = pages

    async def _pages(self):
        for page in self.pages:
            yield page

    def changes(self, since=None, *, resume=None):
        return self._pages()


def test_a_record_sent_and_deleted_in_one_batch_of_pages_ends_deleted(tmp_path):
    store = HarvestStore.open(tmp_path)
    try:
        pages = [ChangePage([_sent("oai:1", "A1", "数据结构"), _sent("oai:2", "A2", "管理学原理")], token="t1"),
                 ChangePage([Change("oai:1", "2026-12-02", True, None)], token="t2"),
                 ChangePage([_sent("oai:3", "A3", "统计学")], token=None)]
        report = MemberReport("THU")
        run = _MemberRun(store, Member("THU", "清华大学", "Tsinghua University"), report, Progress(), RateLimiter(0))
        asyncio.run(run.prepare())
        assert asyncio.run(run.run_feed(_Feed(pages), True, None, "2026-12-07T00:00:00+00:00"))
        assert sorted(store.known("THU")[1]) == ["A2", "A3"]
        assert (report.records, report.added, report.deleted) == (4, 3, 1)
        assert store.checkpoint("THU").token is None
    finally:
        store.close()
