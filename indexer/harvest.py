"""The nightly harvest: pull each member's catalogue, keep what changed in the harvest store, re-merge the
editions that change touches and write them to the local index in one commit.

Per member (concurrently, bounded, each at its own request rate), by what its connector can do
(connectors/base.py; what it cannot do raises Unsupported, and the next way is taken):
  its change feed (changes since the last run, deletions included) where the member offers one (OAI-PMH),
  else, where the member can search by the date its records last changed, the records changed since the
  last run, its record count telling whether any were deleted (then found by counts per record id prefix,
  a scan of its record ids, or a whole-catalogue pass); otherwise the whole catalogue page by page (change
  detection by record id + content hash; a record not seen in a complete pass was deleted at the member).
This module never asks which protocol a member speaks.
Then, from committed store state only: the connected components (shared dedup blocking keys) of every
new, changed or deleted record are merged again (`dedup.merge`) and written with one `LocalIndex.write`
(or one `rebuild` for a first or `--full` run). Kill it anywhere and run it again: it continues from the
checkpoints and ends with the index an uninterrupted run gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import gc
import logging
import os
import pickle
import re
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from itertools import islice
from pathlib import Path

from connectors.base import Connector, RawRecord
from connectors.errors import (
    Diagnostic,
    MemberError,
    MemberUnavailable,
    ProtocolError,
    ResumeExpired,
    Unsupported,
)
from connectors.factory import open_connector
from connectors.normalise import content_hash, normalise_raw
from connectors.query import MEMBER_TIME, modified_since, record_id
from dedup.cluster import BIG_BLOCK, YEAR_UNKNOWN, block_limit, candidate_pairs
from dedup.keys import MatchKeys, match_keys
from dedup.score import YEAR_SLACK, match_score
from dedup.work import (
    MergePlan,
    Work,
    build_planned,
    build_work,
    group_id_for,
    group_name,
    index_keys,
    merge,
    plan_merge,
)
from indexer.errors import HarvestError, HarvestStopped
from indexer.pg.store import MemberBusy, PgHarvestStore, PlannedPart, planned_works
from indexer.schema import document, dump_work, work_digest
from indexer.store import (
    RECORD_PICKLE,
    Checkpoint,
    Rec,
    Store,
    Upsert,
    match_blob,
    match_of,
    now_iso,
    open_store,
)
from members import Endpoint, Member, Registry
from records.errors import RecordError
from records.model import Record
from records.repair import is_repaired

log = logging.getLogger("balis.harvest")

DEFAULT_CONCURRENCY = 4
# processes reading received records beside the harvest's own: one core is left to it (receiving, writing,
# merging); at most one per member harvested at once. 0 (one core): read in a thread of the harvest process
DEFAULT_READ_PROCESSES = max(0, min(DEFAULT_CONCURRENCY, (os.cpu_count() or 1) - 1))
READ_ELSEWHERE_AFTER = 2_000  # records read in the harvest process before its reading processes start
STALL_PAGES = 3  # pages in a row that bring only records already sent in this pass stop a member's pass
DEFAULT_HARVEST_PAGE = 500
BATCH = 500  # records per store transaction (and checkpoint) in a paged pass
REPORT_VERSION = 1
LOCK_NAME = "harvest.lock"
PART_RECORDS = 20_000  # records read at a time to build the editions of a whole-store merge
LOAD_PART_RECORDS = 5_000  # records of a loader process's part (a whole-store merge into a database)
LOADERS_FROM = 20_000  # records: a smaller store's editions are loaded in the harvest process itself
PART_EDITIONS = 2_000  # editions whose stored digests are read at a time


class NoDateSearch(Exception):
    """A member cannot say what changed since a date (or list its record ids): compare its whole catalogue."""


# A member's 005 is its local time: Beijing for every BALIS member. Records changed up to CHANGE_MARGIN
# before the last run are asked for again, for member clocks that run late; what did not change since is
# recognised by its hash and costs only the transfer.
CHANGE_MARGIN = timedelta(hours=1)
PREFIX_LEAF = 16  # a group of at most this many stored ids whose count is off is fetched, not split
EARLIEST = "00000000000000"  # a date search from here must find every record the member dates


def change_stamp(since: str | date | datetime) -> str:
    """The 005 value (yyyymmddhhmmss, the members' local time) from which a member's records count as
    changed: `since` (an ISO date or time; the members' local time when it names no zone) less
    `CHANGE_MARGIN`."""
    if isinstance(since, str):
        since = datetime.fromisoformat(since.replace("Z", "+00:00"))
    if not isinstance(since, datetime):
        since = datetime(since.year, since.month, since.day)
    if since.tzinfo is None:
        since = since.replace(tzinfo=MEMBER_TIME)
    return (since.astimezone(MEMBER_TIME) - CHANGE_MARGIN).strftime("%Y%m%d%H%M%S")


@dataclass(slots=True)
class MemberReport:
    """What one member's harvest did (printed, and one entry of the JSON report)."""

    member: str
    protocol: str | None = None
    status: str = "ok"  # ok | failed | skipped
    records: int = 0  # records received in this run
    added: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    errors: int = 0
    repaired: int = 0  # records whose double-encoded UTF-8 was repaired (tell the member: records/repair.py)
    seconds: float = 0.0
    total: int | None = None  # the member's catalogue size (or the size of the list asked for), when known
    # full (whole catalogue compared) | since (a change feed since a date) | changes (a date search)
    mode: str = "full"
    resumed_from: str | None = None
    message: str | None = None
    error_samples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        return out


@dataclass(slots=True)
class HarvestOptions:
    members: list[str] | None = None
    full: bool = False
    since: date | datetime | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    rate: float | None = None  # requests per second for every member (None: each member's registry value)
    page_size: int | None = None  # records per page (None: the connector's own: 500 / the member's max_records)
    timeout: float | None = None
    read_processes: int | None = None  # processes reading received records (None: DEFAULT_READ_PROCESSES)


@dataclass(slots=True)
class HarvestResult:
    members: list[MemberReport]
    index: dict  # what the index phase did
    seconds: float
    started: str

    @property
    def ok(self) -> bool:
        """Every member asked for was harvested to the end (members without an endpoint aside)."""
        return all(m.status in ("ok", "skipped") for m in self.members)

    def as_dict(self) -> dict:
        return {"version": REPORT_VERSION, "started": self.started, "seconds": round(self.seconds, 3),
                "ok": self.ok, "members": [m.as_dict() for m in self.members], "index": self.index,
                "totals": {k: sum(getattr(m, k) for m in self.members)
                           for k in ("records", "added", "changed", "deleted", "unchanged", "errors", "repaired")}}


class Progress:
    """What the harvest tells the person watching; the CLI gives a rich or a plain-lines implementation."""

    def member_started(self, code: str, total: int | None, note: str) -> None: ...

    def advance(self, code: str, n: int) -> None: ...

    def member_finished(self, report: MemberReport) -> None: ...

    def phase(self, text: str) -> None: ...


class RateLimiter:
    """At most `rate` requests per second (0 or None: no limit); one page of records is one request."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self._next > now:
            await asyncio.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


def read_processes(asked: int | None) -> int:
    """How many processes read received records: as asked, else DEFAULT_READ_PROCESSES."""
    return DEFAULT_READ_PROCESSES if asked is None else max(0, asked)


def harvest_endpoint(member: Member) -> Endpoint | None:
    """The endpoint a member is harvested over: a change feed first (None if it has no endpoint)."""
    return member.harvest_endpoint()


def read_raw(raw: RawRecord, member: Member | None = None) -> Record:
    """The Record of a received raw record, read as a search reads that member's records (its character set
    and its library system's holdings profile); a record without 001 is named by its content hash, not its
    position (so it keeps its name between harvests)."""
    if member is None:
        return normalise_raw(raw, name_by_hash=True)
    return normalise_raw(raw, charset=member.charset, ils=member.ils, name_by_hash=True)


_XML_001 = re.compile(rb"<(?:[\w.-]+:)?controlfield\s+tag=[\"']001[\"']\s*>\s*([^<]*?)\s*<")


def control_number(data: bytes) -> str | None:
    """The 001 of a raw record that could not be read as a whole (MARCXML or ISO 2709), if it can be found."""
    if data.lstrip()[:1] == b"<":
        m = _XML_001.search(data)
        return m.group(1).decode("utf-8", "replace") if m else None
    try:
        base = int(data[12:17])
        end = data.index(b"\x1e", 24)
        for i in range(24, end - 11, 12):
            if data[i:i + 3] == b"001":
                length, start = int(data[i + 3:i + 7]), int(data[i + 7:i + 12])
                text = data[base + start:base + start + length].rstrip(b"\x1e").strip()
                return text.decode("ascii", "replace") or None
    except (ValueError, IndexError):
        return None
    return None


def _stored(rec: Record) -> tuple[list[str], bytes, bytes]:
    """What the store keeps of a read record besides its bytes: its blocking keys (each once, in order), its
    pickle and its match keys; made in the normalising thread, so that the store's thread only writes."""
    keys = match_keys(rec)
    return sorted(set(index_keys(keys))), pickle.dumps(rec, protocol=RECORD_PICKLE), match_blob(keys)


# A received record read (`read_record`): its record id, whether reading it repaired it, and what the store keeps
# of it (`_stored`); or the RecordError that kept it from being read.
Read = tuple[str, bool, tuple[list[str], bytes, bytes]]


def read_record(code: str, member: Member | None, raw: RawRecord) -> Read | RecordError:
    """One received record of member `code` read as the store keeps it. A pure function of its arguments: it
    runs in a reading process (`StoreWorker.read`) as well as in the harvest's own threads."""
    try:
        rec = read_raw(raw if raw.member == code else dataclasses.replace(raw, member=code), member)
    except RecordError as exc:
        return exc
    return rec.record_id, is_repaired(rec.warnings), _stored(rec)


def read_records(code: str, member: Member | None, raws: list[RawRecord]) -> list[Read | RecordError]:
    """`read_record` of each (a page at a time, the unit sent to a reading process)."""
    return [read_record(code, member, raw) for raw in raws]


def _upsert(member: str, raw, digest: str, record_id: str, stored, source_id=None, datestamp=None) -> Upsert:
    keys, blob, match = stored
    return Upsert(record_id=record_id, hash=digest, raw=raw.data, syntax=raw.syntax, charset=raw.charset,
                  record=None, keys=keys, source_id=source_id, datestamp=datestamp, blob=blob, match=match)


class StoreWorker:
    """Runs store writes and merging in one worker thread, one call at a time, and reading received records
    (`read`: MARC parsing, normalising, keys, pickles) in a second one, or in `processes` reading processes,
    so the event loop stays free to read the members' answers (CPU work on the loop would make their timeouts
    fire), and one member's page is read while another's is written. In the harvest's own thread, reading
    shares one interpreter with receiving and writing; in processes it runs on other cores (a raw record goes
    there and its record id, keys and pickles come back: what the store keeps anyway). The processes start
    once READ_ELSEWHERE_AFTER records were read (a small harvest does not wait for them to start); should they
    fail, reading goes on in the thread."""

    def __init__(self, threaded: bool = True, processes: int = 0) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="balis-harvest") if threaded else None
        self._cpu = ThreadPoolExecutor(max_workers=1, thread_name_prefix="balis-normalise") if threaded else None
        self._processes = processes if threaded else 0
        self._readers = None
        self._read = 0  # records read so far

    @classmethod
    def inline(cls) -> StoreWorker:
        return cls(threaded=False)

    async def __call__(self, fn, *args, **kwargs):
        return await self._run(self._pool, fn, *args, **kwargs)

    async def normalise(self, fn, *args, **kwargs):
        """`fn` in the normalising thread: work that reads no store (a member's pass keeps one page in flight)."""
        return await self._run(self._cpu, fn, *args, **kwargs)

    async def read(self, code: str, member: Member | None, raws: list[RawRecord]) -> list[Read | RecordError]:
        """`read_records` in a reading process, or in the normalising thread when there is none (yet)."""
        if not raws:
            return []
        self._read += len(raws)
        if self._readers is None and self._processes and self._read > READ_ELSEWHERE_AFTER:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._readers = ProcessPoolExecutor(max_workers=self._processes,
                                                mp_context=multiprocessing.get_context("forkserver"))
        if self._readers is not None:
            try:
                return await asyncio.get_running_loop().run_in_executor(self._readers, read_records, code, member,
                                                                        raws)
            except BrokenProcessPool as exc:  # a reading process died (killed, out of memory): read here
                log.warning("a process reading received records stopped (%s); reading goes on in the harvest "
                            "process", exc)
                self._readers.shutdown(wait=False)
                self._readers, self._processes = None, 0
        return await self.normalise(read_records, code, member, raws)

    @staticmethod
    async def _run(pool, fn, *args, **kwargs):
        if pool is None:
            return fn(*args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(pool, partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        for pool in (self._cpu, self._pool, self._readers):
            if pool is not None:
                pool.shutdown(wait=True)


class _MemberRun:
    """One member's pass: compares what the member sends with the store and writes the difference."""

    def __init__(self, store: Store, member: Member, report: MemberReport, progress: Progress,
                 limiter: RateLimiter, worker: StoreWorker | None = None) -> None:
        self.store, self.member, self.report = store, member, report
        self.code = member.code
        self.progress, self.limiter = progress, limiter
        self.db = worker or StoreWorker.inline()
        self.by_hash, self.by_id = {}, {}
        self.next_from: str | None = None  # where a change feed says the next run starts
        self.sent: set[str] = set()  # digests of the records received in this pass
        self.repeats = 0  # records in a row that this pass had already received
        self.stall_after = STALL_PAGES * DEFAULT_HARVEST_PAGE

    async def prepare(self) -> None:
        self.by_hash, self.by_id = await self.db(self.store.known, self.code)

    def classify(self, raw, source_id=None, datestamp=None, read=None) -> tuple[str | None, Upsert | None]:
        """(record id, upsert or None when unchanged) for one received record; (None, None) if unreadable.
        `read`: its (content hash, `read_record`'s answer) worked out beforehand (`read_ahead`)."""
        self.report.records += 1
        digest = read[0] if read else content_hash(raw.data)
        self._check_progress(digest)
        rid = self.by_hash.get(digest)
        if rid is not None:
            self.report.unchanged += 1
            return rid, None
        try:
            if read is None:
                read = (digest, read_record(self.code, self.member, raw))
            if isinstance(read[1], RecordError):
                raise read[1]
            record_id, repaired, stored = read[1]
        except RecordError as exc:
            self.report.errors += 1
            if len(self.report.error_samples) < 5:
                self.report.error_samples.append(str(exc))
            rid = control_number(raw.data)  # its earlier, readable version is kept (not taken as deleted)
            return (rid if rid in self.by_id else None), None
        if repaired:
            self.report.repaired += 1
        if record_id in self.by_id:
            self.report.changed += 1
        else:
            self.report.added += 1
        old = self.by_id.get(record_id)
        if old is not None:
            self.by_hash.pop(old, None)
        self.by_hash[digest] = record_id
        self.by_id[record_id] = digest
        return record_id, _upsert(self.code, raw, digest, record_id, stored, source_id, datestamp)

    async def read_ahead(self, raws: list) -> list:
        """Each raw record's (content hash, `read_record`'s answer), None for one the store holds unchanged (or
        None itself): the costly part of `classify`, done in a reading process or the normalising thread for a
        page that `classify` then takes in order (a record the page itself changes meanwhile is read there)."""
        digests = [content_hash(raw.data) if raw is not None else None for raw in raws]
        todo = [i for i, d in enumerate(digests) if d is not None and d not in self.by_hash]
        out: list = [None] * len(raws)
        for i, read in zip(todo, await self.db.read(self.code, self.member, [raws[i] for i in todo]), strict=True):
            out[i] = (digests[i], read)
        return out

    def _check_progress(self, digest: str) -> None:
        """HarvestStopped when the pass passes the member's record limit, or when pages in a row bring only
        records it already sent in this pass (a member that repeats itself would be paged through for ever)."""
        limit = self.member.harvest_max_records
        if self.report.records > limit:
            raise HarvestStopped(f"it sent more than {limit:,} records in one pass (registry harvest_max_records)")
        if digest in self.sent:
            self.repeats += 1
            if self.repeats >= self.stall_after:
                raise HarvestStopped(f"its last {self.repeats:,} records were ones it had already sent in this pass "
                                     f"(pages bring nothing new); stopped at record {self.report.records:,}")
        else:
            self.sent.add(digest)
            self.repeats = 0

    def check_total(self, hits: int) -> None:
        """HarvestStopped for a record count past the member's limit: such a count is not paged through."""
        if hits > self.member.harvest_max_records:
            raise HarvestStopped(f"it says it has {hits:,} records, more than its limit of "
                                 f"{self.member.harvest_max_records:,} (registry harvest_max_records); not paged "
                                 "through")

    def counts(self) -> dict:
        r = self.report
        return {"records": r.records, "added": r.added, "changed": r.changed, "deleted": r.deleted,
                "unchanged": r.unchanged, "errors": r.errors}

    async def run_paged(self, conn: Connector, fresh: bool, started: str, page_size: int | None,
                        since: str | None = None) -> bool:
        """The whole catalogue (or, with `since`, the records changed since then) page by page from the
        checkpoint on; True when the pass completed."""
        mode = "changes" if since else "full"
        hits = await conn.count(modified_since(since) if since else None)
        self.check_total(hits)
        cp = None if fresh else await self.db(self.store.checkpoint, self.code)
        if cp is not None and (cp.protocol != conn.protocol or cp.hits != hits or cp.mode != mode
                               or cp.since != since):
            cp = None  # the catalogue changed size since the interruption: positions moved, start again
        start = cp.position if cp else 1
        self.report.total = hits
        self.report.resumed_from = f"position {start}" if start > 1 else None
        cp = Checkpoint(self.code, conn.protocol, mode, position=start, hits=hits, since=since, started=started)
        await self.db(self.store.start_member, cp, fresh=start == 1)
        what = f"{hits} changed since {since}" if since else f"{hits} records"
        self.progress.member_started(self.code, hits, f"{conn.protocol}, {what}"
                                     + (f", resumed at {start}" if start > 1 else ""))
        if start > 1:
            self.progress.advance(self.code, start - 1)
        page = page_size or conn.harvest_page
        self.stall_after = STALL_PAGES * page
        batch: list = []
        position = start
        await self.limiter.wait()
        if start <= hits:
            async for raw in conn.harvest(since, start, page_size=page):
                batch.append(raw)
                position = raw.position + 1
                if (position - start) % page == 0:
                    await self.limiter.wait()
                if len(batch) >= min(BATCH, page):  # one commit (and checkpoint) per page, at most BATCH
                    await self._commit(batch, cp, position)
                    batch = []
        await self._commit(batch, cp, position)
        return True

    async def run_changes(self, conn: Connector, since: str, started: str, page_size: int | None) -> list[str]:
        """With a date search: fetch the records changed since `since` (yyyymmddhhmmss) and return the ids of
        stored records deleted at the member. NoDateSearch: compare the whole catalogue instead.

        A date search does not show deletions. The member's record count does: every record it has now is
        one the store knows or one the date search just brought (a new record carries a new 005), so a count
        below that means deletions and a count above it a record the date search missed. Equal counts: nothing
        was deleted. Otherwise the member's `harvest_deletions` says how to find them: "prefixes" (the
        default) counts its records by record id prefixes and looks only where a count is off, "scan" lists
        its record ids, "compare" fetches the whole catalogue again.
        """
        try:
            # a server may take the date attribute without indexing anything under it: a search from the
            # earliest date must find records, or "nothing changed" would be a silent miss
            dated = await conn.count(modified_since(EARLIEST))
        except (Diagnostic, Unsupported) as exc:
            raise NoDateSearch(exc.message) from None
        if not dated:
            raise NoDateSearch("its date search finds none of its records")
        self.report.mode = "changes"
        await self.run_paged(conn, False, started, page_size, since=since)
        hits = await conn.count()
        self.report.total = hits
        if hits == len(self.by_id):
            return []
        how = self.member.harvest_deletions
        if how == "prefixes":
            return await self._deleted_by_prefixes(conn, hits)
        if how == "scan":
            return await self._deleted_by_scan(conn, hits)
        raise NoDateSearch(f"it has {hits} records, {len(self.by_id)} were expected: whole catalogue compared "
                           "to find which went")

    async def _deleted_by_prefixes(self, conn: Connector, hits: int) -> list[str]:
        """Stored records the member no longer has, found by counting its records per record id prefix.

        The stored ids are grouped by their first character, each group named by the longest prefix its ids
        share, and the member counts the records whose id starts with it (the record id as a whole field,
        right truncation). The counts must add up to the catalogue's size, or some record has no id or an id
        no group covers: NoDateSearch. A group whose count equals its stored ids is settled; one that is off is
        split the same way by the next character, until it holds at most PREFIX_LEAF ids: then its records are
        fetched and classified (a record the date search missed is added here), and each stored id among
        them that did not come is searched for by itself: no hit, deleted. A count that no split accounts for
        (an id under the group no subgroup covers) has the whole group fetched.
        """
        async def count(prefix: str, exact: bool = False) -> int:
            return await conn.count(record_id(prefix, prefix=not exact))

        def split(ids: list[str], depth: int) -> list[tuple[str, list[str]]]:
            by_next: dict[str, list[str]] = {}
            for rid in ids:
                if len(rid) > depth:
                    by_next.setdefault(rid[depth], []).append(rid)
            return [(os.path.commonprefix(group), group) for group in by_next.values()]

        async def fetch(prefix: str, ids: list[str]) -> list[str]:
            raws = [raw async for raw in conn.harvest(query=record_id(prefix, prefix=True))]
            seen = await self.db(self._write_records, raws)
            return [rid for rid in ids if rid not in seen]

        candidates: list[str] = []
        try:
            todo = [(prefix, ids, await count(prefix)) for prefix, ids in split(list(self.by_id), 0)]
            listed = sum(n for _, _, n in todo)
            if listed != hits:
                raise NoDateSearch(f"its record ids account for {listed} of its {hits} records")
            while todo:
                prefix, ids, n = todo.pop()
                if n == len(ids):
                    continue
                if len(ids) <= PREFIX_LEAF:
                    candidates += await fetch(prefix, ids)
                    continue
                parts = [(p, group, await count(p)) for p, group in split(ids, len(prefix))]
                same = [rid for rid in ids if rid == prefix]
                exact = await count(prefix, exact=True) if same else 0
                if sum(c for _, _, c in parts) + exact != n:
                    candidates += await fetch(prefix, ids)
                    continue
                candidates += same if not exact else []
                todo += parts
            gone = [rid for rid in candidates if not await count(rid, exact=True)]
        except (Diagnostic, Unsupported) as exc:
            raise NoDateSearch(f"it cannot count records by record id prefix ({exc.message})") from None
        return sorted(gone)

    async def _deleted_by_scan(self, conn: Connector, hits: int) -> list[str]:
        """Stored records whose ids a Scan of the member's id index no longer lists. The ids must account for
        every record (their counts add up to the catalogue's size: no record without an id), and must not
        drop more than half the store (ids in a form the store does not know)."""
        listed: set[str] = set()
        occurrences = 0
        try:
            async for term in conn.record_ids():
                listed.add(term.term)
                occurrences += term.occurrences or 0
        except (Diagnostic, Unsupported, ProtocolError, MemberUnavailable) as exc:
            # refused, unreadable, or the connection closed on it (some servers do on a scan they cannot
            # serve); a member that is down fails in the whole-catalogue pass instead
            raise NoDateSearch(f"no scan of its record ids ({exc.message})") from None
        if occurrences != hits:
            raise NoDateSearch(f"its record id list accounts for {occurrences} of its {hits} records")
        gone = sorted(rid for rid in self.by_id if rid not in listed)
        if len(gone) > 10 and 2 * len(gone) > len(self.by_id):
            raise NoDateSearch(f"its record id list lacks {len(gone)} of the {len(self.by_id)} records stored: "
                               "taken as ids in another form, not as deletions")
        return gone

    async def _commit(self, batch: list, cp: Checkpoint, position: int) -> None:
        """Classify one page in the normalising thread, then write it in the store's (the event loop stays free
        for I/O)."""
        reads = await self.read_ahead(batch)
        await self.db(self._write_page, batch, reads, cp, position)
        self.progress.advance(self.code, len(batch))

    def _classify_all(self, raws: list, reads: list | None = None) -> tuple[list, list[str]]:
        """The upserts and the record ids of received records (`reads`: as `read_ahead` gives them)."""
        upserts, seen = [], []
        for i, raw in enumerate(raws):
            rid, up = self.classify(raw, read=reads[i] if reads else None)
            if rid is not None:
                seen.append(rid)
            if up is not None:
                upserts.append(up)
        return upserts, seen

    def _write_records(self, raws: list) -> set[str]:
        """Classify and store records fetched outside a paged pass; the ids they have."""
        upserts, seen = self._classify_all(raws)
        self.store.apply(self.code, upserts=upserts)
        return set(seen)

    def _write_page(self, raws: list, reads: list, cp: Checkpoint, position: int) -> None:
        upserts, seen = self._classify_all(raws, reads)
        cp.position, cp.counts = position, self.counts()
        self.store.apply(self.code, upserts=upserts, seen=seen, checkpoint=cp)

    async def run_feed(self, conn: Connector, fresh: bool, since: str | None, started: str) -> bool | None:
        """The member's change feed (with deletions) from the resume token kept, or from the start (the changes
        since `since`); None, before anything is written, when the member has no change feed."""
        cp = None if fresh else await self.db(self.store.checkpoint, self.code)
        mode = "since" if since else "full"
        if cp is not None and (cp.protocol != conn.protocol or cp.mode != mode or cp.since != since):
            cp = None
        token = cp.token if cp else None
        try:
            pages = conn.changes(since, resume=token)
        except Unsupported:
            return None
        if cp is None:
            cp = Checkpoint(self.code, conn.protocol, mode, since=since, started=started)
            await self.db(self.store.start_member, cp, fresh=True)
        else:
            self.report.resumed_from = "resumptionToken"
            await self.db(self.store.start_member, cp, fresh=False)
        self.report.mode = mode
        self.progress.member_started(self.code, None, conn.protocol + (f", changes since {since}" if since else ""))
        unwritten: list = []  # pages read ahead, written together with the last one's resumptionToken
        try:
            async for page in self._limited(pages):
                if cp.next_from is None and page.response_date:
                    cp.next_from = page.response_date  # the next run asks for what changed from now on
                if page.complete_size is not None:
                    self.report.total = page.complete_size
                    self.progress.member_started(self.code, page.complete_size, "")
                read = await self.read_ahead([None if rec.deleted else rec.raw for rec in page.records])
                unwritten.append((page, read))
                if sum(len(p.records) for p, _ in unwritten) >= BATCH:  # several small pages in one commit
                    await self._write_feed(unwritten, cp)
                    unwritten = []
            await self._write_feed(unwritten, cp)
        except ResumeExpired:
            if token:  # the kept token expired: start the list again
                self.report.resumed_from = None
                return await self.run_feed(conn, True, since, started)
            raise
        self.next_from = cp.next_from
        return True

    async def _write_feed(self, pages: list, cp: Checkpoint) -> None:
        """Classify and write change feed pages (each with its records read ahead) in one store transaction."""
        if pages:
            await self.db(self._write_feed_pages, pages, cp)
            self.progress.advance(self.code, sum(len(page.records) for page, _ in pages))

    def _write_feed_pages(self, pages: list, cp: Checkpoint) -> None:
        upserts, seen, deletes = [], [], []
        listed: set[str] = set()  # identifiers of the records written by this call
        for page, read in pages:
            for i, rec in enumerate(page.records):
                if rec.deleted:
                    if rec.identifier in listed:  # sent earlier in these pages: write that first, then delete it
                        self.store.apply(self.code, upserts=upserts, deletes=deletes, seen=seen)
                        upserts, seen, deletes, listed = [], [], [], set()
                    self.report.records += 1
                    rid = self.store.record_id_for_source(self.code, rec.identifier)
                    if rid is not None:
                        deletes.append(rid)
                        self.report.deleted += 1
                        old = self.by_id.pop(rid, None)
                        if old:
                            self.by_hash.pop(old, None)
                    continue
                rid, up = self.classify(rec.raw, rec.identifier, rec.datestamp, read[i] if read else None)
                if rid is not None:
                    seen.append(rid)
                if up is not None:
                    upserts.append(up)
                    listed.add(rec.identifier)
        cp.token, cp.counts = pages[-1][0].token, self.counts()
        self.store.apply(self.code, upserts=upserts, deletes=deletes, seen=seen, checkpoint=cp)

    async def _limited(self, pages):
        await self.limiter.wait()
        async for page in pages:
            yield page
            await self.limiter.wait()


async def harvest_member(store: Store, member: Member, opts: HarvestOptions, progress: Progress,
                         session=None, worker: StoreWorker | None = None, since: object | None = None
                         ) -> MemberReport:
    """One member's pass, its errors turned into the member's report (never raised).

    The member's connector is asked by capability: its change feed (with deletions) if it has one; else,
    after an earlier run, a date search for what changed (NoDateSearch: it cannot); else the whole catalogue.
    A member another harvest process is fetching, or fetched after `since` (the store's clock when this run
    began), is skipped: every member is harvested once in a round.
    """
    db = worker or StoreWorker.inline()
    report = MemberReport(member.code)
    endpoint = harvest_endpoint(member)
    if endpoint is None:
        report.status, report.message = "skipped", ("no endpoint in the registry; add a [[member.endpoint]] "
                                                    "(docs/registry.md)")
        progress.member_finished(report)
        return report
    report.protocol = endpoint.protocol
    try:
        await db(store.lock_member, member.code, since)
    except MemberBusy as exc:  # another harvest process has it (several harvesters on one database)
        report.status, report.message = "skipped", str(exc)
        progress.member_finished(report)
        return report
    report = await _harvest_member(store, member, endpoint, report, opts, progress, session, db)
    await db(store.unlock_member, member.code)  # interrupted instead: the lock goes with the store's connection
    return report


async def _harvest_member(store: Store, member: Member, endpoint: Endpoint, report: MemberReport,
                          opts: HarvestOptions, progress: Progress, session, db: StoreWorker) -> MemberReport:
    t0 = time.monotonic()
    rate = opts.rate if opts.rate is not None else member.harvest_rate
    limiter = RateLimiter(rate)
    run = _MemberRun(store, member, report, progress, limiter, db)
    await run.prepare()
    conn = open_connector(member.target(endpoint, timeout=opts.timeout), session=session)
    started = now_iso()
    complete: bool | None = False
    next_from = None
    deletes: list[str] = []
    try:
        async with asyncio.timeout(member.harvest_max_hours * 3600):
            stored = await db(store.count, member.code)
            last = (await db(store.member_info, member.code)).get("next_from") if stored else None
            if opts.full:
                feed_since = None
            elif opts.since is not None:
                feed_since = opts.since.isoformat() if isinstance(opts.since, (date, datetime)) else str(opts.since)
            else:
                feed_since = last
            complete = await run.run_feed(conn, opts.full, feed_since, started)
            if complete is not None:
                next_from = run.next_from
            else:
                since = None if opts.full or not stored else (opts.since if opts.since is not None else last)
                if since is not None:
                    try:
                        deletes = await run.run_changes(conn, change_stamp(since), started, opts.page_size)
                        complete = True
                    except NoDateSearch as why:
                        report.message = (f"{why}" if report.mode == "changes" else
                                          f"no date search ({why}): whole catalogue compared")
                        report.mode = "full"
                if not complete:
                    complete = await run.run_paged(conn, opts.full, started, opts.page_size)
                next_from = started
    except MemberError as exc:
        report.status = "failed"
        report.message = f"{exc.kind}: {exc.message}; its {await db(store.count, member.code)} records from " \
                         "earlier harvests are kept, and the next run continues from the checkpoint"
    except HarvestStopped as exc:
        complete = False
        report.status = "failed"
        report.message = (f"stopped: {exc}; its {await db(store.count, member.code)} records from earlier "
                          "harvests are kept (tell the member; see docs/harvest.md)")
    except TimeoutError:
        complete = False
        report.status = "failed"
        report.message = (f"stopped after {member.harvest_max_hours:g} h (registry harvest_max_hours); its "
                          f"{await db(store.count, member.code)} records are kept, and the next run continues "
                          "from the checkpoint")
    finally:
        try:
            await conn.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not hide the outcome
            pass
    if complete:
        if report.mode == "changes":
            report.deleted += len(deletes)
        elif report.mode == "full":
            kept = await db(store.count, member.code)
            if run.report.records == 0 and kept > 0:
                report.status = "failed"
                report.message = (f"the member sent no records; its {kept} records are kept "
                                  "(an empty answer is not taken as 'everything deleted')")
            else:
                deletes = await db(store.unseen, member.code)
                report.deleted += len(deletes)
        report.seconds = time.monotonic() - t0
        if report.status == "ok":
            await db(store.finish_member, member.code, deletes=deletes, status="ok", report=report.as_dict(),
                     next_from=next_from)
        else:
            await db(store.fail_member, member.code, status=report.status, report=report.as_dict())
    else:
        report.seconds = time.monotonic() - t0
        await db(store.fail_member, member.code, status=report.status, report=report.as_dict())
    progress.member_finished(report)
    return report


def renormaliser(member: str, record_id: str, raw: bytes, syntax: str, charset: str):
    """A stored record read again (its stored id kept)."""
    rec = read_raw(RawRecord(raw, syntax, charset, 0, member))
    rec.record_id = record_id
    return rec


def write_index(store: Store, index_dir: Path | str, *, full: bool, harvested: dict[str, str],
                progress: Progress) -> dict:
    """Re-merge what changed (or everything) from committed store state and write the index in one commit.

    One index phase at a time per store: with several harvest processes on one database the second waits for
    the first, then merges what the others committed since (`Store.index_phase`)."""
    t0 = time.monotonic()
    collecting = gc.isenabled()
    try:
        with store.index_phase(progress.phase):
            out = _write_index(store, index_dir, full=full, harvested=harvested, progress=progress)
    finally:
        if collecting:  # only once the phase's objects are gone: a first collection would walk them all
            gc.enable()
    out["seconds"] = round(time.monotonic() - t0, 3)
    return out


def _write_index(store: Store, index_dir: Path | str, *, full: bool, harvested: dict[str, str],
                 progress: Progress) -> dict:
    from indexer.backend import open_index

    ix = open_index(index_dir, create=True)  # the folder's whoosh index, or the database it names
    try:
        empty = ix.doc_count() == 0
        pending = store.pending_count()
        # an index this store never wrote (a new store beside an index built otherwise) is built anew
        rebuild = full or (store.count() > 0 and (empty or not store.has_indexed()))
        upgrade = not rebuild and not store.edges_ready()
        if not rebuild and not upgrade and not pending:
            return {"mode": "unchanged", "records_merged": 0, "upserted": 0, "deleted": 0}
        if not (rebuild or upgrade):
            # an incremental phase makes many small objects without reference cycles (records, keys, pairs,
            # documents); the cyclic collector's passes over them and the rest of the heap would cost a
            # tenth of its time (write_index turns it on again)
            gc.disable()
            # re-merged in a call of its own, so that only its result stays alive: opening a writer, whoosh
            # keeps a caught exception in a reference cycle that holds every calling frame until collected
            lap = _Laps()
            step = _remerge(store, progress)
            lap("merge")
            progress.phase(f"写索引 index: {len(step.documents)} editions changed, "
                           f"{len(step.delete)} removed")
            done = ix.write(documents=step.documents, delete=step.delete, harvested=harvested)
            lap("write")
            out = {"mode": "incremental", "records_merged": step.records, "upserted": done["upserted"],
                   "deleted": done["deleted"]}
            store.mark_indexed(step.assignment, digests=step.digests, removed=step.delete, edges=step.pairs,
                               groups=step.groups, sizes=step.sizes, forget=step.gone)
            _keep_keys(store, step.rekeyed)
            lap("store")
            return out | {"keyed_anew": len(step.rekeyed), "phases": lap.seconds}
        lap = _Laps()
        keys = store.all_keys()
        old_works = store.indexed_works() if upgrade else set()
        progress.phase(f"合并 merge: {len(keys)} records")
        rekeyed: list[tuple[str, str, str, bytes]] = []
        plan, pairs, new_keys = _plan_all(store, keys, upgrade, progress, rekeyed)
        if upgrade:
            sizes = _limited_sizes(new_keys.items())
        else:
            sizes = store.block_sizes()
        lap("merge")  # the editions are built in the write, as it takes them
        # the records are read again a part at a time to build the editions, so only a part's are held
        works = build_planned(plan, lambda wanted: store.load([keys[i] for i in wanted], renormaliser),
                              PART_RECORDS)
        assignment: dict[tuple[str, str], str] = {}
        groups: dict[str, str] = {}
        # a rebuild into a database: the store hashes the works as the index stored them (one dump of each)
        digests = None if rebuild and store.digests_in_index else {}
        works = _noted(works, assignment, groups, digests)
        if rebuild:
            progress.phase(f"写索引 index: {len(plan.editions)} editions")
            if isinstance(store, PgHarvestStore):  # the editions built and loaded by loader processes
                parts = _planned_parts(plan, keys, store.location, store.export_snapshot())
                done = ix.load(parts, planned_works, note=_edition_note, harvested=harvested,
                               loaders=None if len(keys) >= LOADERS_FROM else 0, told=progress.phase)
                for work_id, group, recs in done["notes"]:
                    groups[work_id] = group
                    assignment.update(dict.fromkeys(recs, work_id))
            else:
                done = ix.rebuild(works, harvested=harvested)
            lap("write")
            out = {"mode": "rebuild", "records_merged": len(keys), "upserted": done["documents"], "deleted": 0}
            store.mark_indexed(assignment, digests=digests, replace_all=True, edges=pairs, groups=groups,
                               sizes=sizes)
        else:
            # only editions that differ from what the index holds are written, as they are built
            delete = sorted(old_works - set(plan.work_ids()))
            written: dict[str, str] = {}
            progress.phase(f"写索引 index: {len(plan.editions)} editions compared, {len(delete)} removed")
            done = ix.write(upsert=_differing(works, store, digests, written), delete=delete, harvested=harvested)
            lap("write")
            out = {"mode": "upgrade", "records_merged": len(keys), "upserted": done["upserted"],
                   "deleted": done["deleted"]}
            store.mark_indexed(assignment, digests=written, removed=delete, edges=pairs, keys=new_keys,
                               groups=groups, sizes=sizes)
        _keep_keys(store, rekeyed)
        lap("store")
        out["keyed_anew"] = len(rekeyed)
        out["phases"] = lap.seconds
    finally:
        ix.close()
    return out


class _Laps:
    """Seconds spent in each step of an index phase (`lap(name)` ends the step begun at the last lap)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._since = time.monotonic()

    def __call__(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = round(now - self._since, 1)
        self._since = now


def _plan_all(store: Store, keys: list[tuple[str, str]], fresh_keys: bool, progress: Progress,
              rekeyed: list[tuple[str, str, str, bytes]]
              ) -> tuple[MergePlan, list[tuple[tuple[str, str], tuple[str, str]]], dict | None]:
    """The merge of every stored record (`keys`, in that order), worked out from their match keys (`_keyed`):
    the plan, the pairs that scored, and (`fresh_keys`) each record's index keys made anew. Records keyed
    anew are read once and not kept (a million records take about 7 GB as objects, their match keys under
    3 GB)."""
    match = _keyed(store, keys, rekeyed)
    names = [f"{member}:{rid}" for member, rid in keys]  # dedup.work.record_key
    progress.phase(f"合并 merge: {len(match)} records keyed ({len(rekeyed)} anew); comparing those that share a "
                   "block")
    new_keys = {k: index_keys(mk) for k, mk in zip(keys, match, strict=True)} if fresh_keys else None
    edges: list[tuple[int, int]] = []
    plan = plan_merge(match, names, edges=edges)
    return plan, [(keys[a], keys[b]) for a, b in edges], new_keys


def _keyed(store: Store, recs: list[Rec], rekeyed: list[tuple[str, str, str, bytes]]) -> list[MatchKeys]:
    """The match keys of the stored records `recs`, in that order: as the store keeps them, or made anew from
    the record where it keeps none under the running MERGE_RULES (a store from before they were kept, or after
    the rules changed). Each made anew is added to `rekeyed` as (member, record_id, hash, match blob), for
    `_keep_keys` after the index commit."""
    out: list[MatchKeys | None] = []
    stale: list[tuple[int, str]] = []
    for i, (blob, digest) in enumerate(store.match_blobs(recs)):
        keys = match_of(blob)
        if keys is None:
            stale.append((i, digest))
        out.append(keys)
    for (i, digest), rec in zip(stale, store.load([recs[i] for i, _ in stale], renormaliser), strict=True):
        keys = out[i] = match_keys(rec)
        rekeyed.append((*recs[i], digest, match_blob(keys)))
    return out  # type: ignore[return-value]  # every None was filled


def _keep_keys(store: Store, rekeyed: list[tuple[str, str, str, bytes]]) -> None:
    """Keep the match keys an index phase made anew, so the next one reads them. After the index commit (the
    phase's snapshot would see its own rows change); where a harvest changed a record meanwhile its new keys
    stay. A failure here loses nothing: they are made again the next time."""
    if not rekeyed:
        return
    try:
        store.put_match(rekeyed)
    except Exception as exc:  # noqa: BLE001 - the index is written; the keys are only a saving
        log.warning("the match keys of %d records could not be kept (%s); the next index phase makes them again",
                    len(rekeyed), exc)


def _planned_parts(plan: MergePlan, keys: list[tuple[str, str]], location: str, snapshot: str
                   ) -> Iterator[PlannedPart]:
    """The plan's editions, LOAD_PART_RECORDS records or so a part, for the loader processes to build."""
    editions: list[list[tuple[str, str]]] = []
    groups: list[str | None] = []
    size = 0
    for edition, name in zip(plan.editions, plan.groups, strict=True):
        editions.append([keys[i] for i in edition])
        groups.append(name)
        size += len(edition)
        if size >= LOAD_PART_RECORDS:
            yield PlannedPart(location, snapshot, editions, groups)
            editions, groups, size = [], [], 0
    if editions:
        yield PlannedPart(location, snapshot, editions, groups)


def _edition_note(w: Work) -> tuple[str, str, list[tuple[str, str]]]:
    """What the index phase keeps of each edition a loader built: its id, group and records."""
    return w.work_id, w.group_id, [(r.member, r.record_id) for r in w.records]


def _noted(works: Iterable[Work], assignment: dict, groups: dict, digests: dict | None) -> Iterator[Work]:
    """`works` as they go by, each one's records, group (and, unless `digests` is None, digest) noted."""
    for w in works:
        wid = w.work_id
        for r in w.records:
            assignment[(r.member, r.record_id)] = wid
        groups[wid] = w.group_id
        if digests is not None:
            digests[wid] = work_digest(dump_work(w))
        yield w


def _differing(works: Iterable[Work], store: Store, digests: dict[str, str], written: dict[str, str]
               ) -> Iterator[Work]:
    """The works whose digest differs from the one the index holds for them (each noted in `written`)."""
    it = iter(works)
    while part := list(islice(it, PART_EDITIONS)):
        held = store.work_digests(w.work_id for w in part)
        for w in part:
            if held.get(w.work_id) != digests[w.work_id]:
                written[w.work_id] = digests[w.work_id]
                yield w


@dataclass(slots=True)
class _Remerged:
    """What an incremental re-merge gives the index write and the store (see `_remerge`)."""

    records: int  # records re-merged
    documents: list[dict]  # whoosh documents of the editions that differ from what the index holds
    delete: list[str]  # editions to remove
    assignment: dict[tuple[str, str], str]  # each re-merged record's edition
    pairs: list[tuple[tuple[str, str], tuple[str, str]]]  # the scored pairs among them
    digests: dict[str, str]  # of the editions written
    groups: dict[str, str]  # the group id of every edition re-merged or renamed
    sizes: dict[str, int]  # block sizes to keep for the next phase (`Part.remember`)
    gone: list[tuple[str, str]]
    rekeyed: list[tuple[str, str, str, bytes]]  # match keys made anew (`_keyed`)


def _remerge(store: Store, progress: Progress) -> _Remerged:
    """The part a change can re-cluster, merged again (`affected`, `dedup.merge`, `regroup`), as documents."""
    part = affected(store)
    progress.phase(f"合并 merge: {len(part.keys)} records")
    edges: list[tuple[int, int]] = []
    works = merge(part.records, keys=part.match, block_sizes=part.sizes, edges=edges)
    written = works + regroup(store, part, works)
    # each document made once: its stored work gives the digest, and it is what gets written
    docs = {w.work_id: document(w) for w in written}
    digests = {wid: work_digest(d["work"]) for wid, d in docs.items()}
    held = store.work_digests(digests)
    changed = [wid for wid in docs if held.get(wid) != digests[wid]]  # most of a part is unchanged
    return _Remerged(
        records=len(part.keys), documents=[docs[wid] for wid in changed],
        delete=sorted(part.old_works - set(digests)),
        assignment={(r.member, r.record_id): w.work_id for w in works for r in w.records},
        pairs=[(part.keys[a], part.keys[b]) for a, b in edges],
        digests={wid: digests[wid] for wid in changed},
        groups={w.work_id: w.group_id for w in written},
        sizes=part.remember, gone=part.gone, rekeyed=part.rekeyed)


def _limited_sizes(keys_of_records) -> dict[str, int]:
    """The sizes a merge remembers (`Store.block_sizes`): of every `title:` block, and of every other block
    with a size limit (`block_limit`) that is past it."""
    sizes: dict[str, int] = {}
    for _rec, ks in keys_of_records:
        for k in ks:
            if block_limit(k) is not None:
                sizes[k] = sizes.get(k, 0) + 1
    return {k: n for k, n in sizes.items() if k.startswith("title:") or n > block_limit(k)}


@dataclass(slots=True)
class Part:
    """The part of the catalogue an incremental index phase re-merges (see `affected`)."""

    keys: list[tuple[str, str]]  # its records, in merge order
    records: list
    match: list[MatchKeys]  # their match keys
    old_works: set[str]  # works the index may hold for them
    sizes: dict[str, int]  # catalogue-wide size now of its records' and the pending keys' blocks with a limit
    keys_of: dict[tuple[str, str], list[str]]  # its records' keys
    pending_keys: set[str]
    gone: list[tuple[str, str]]  # withdrawn records the stored pairs may still name
    remember: dict[str, int]  # block sizes to keep for the next phase (`Store.block_sizes`)
    rekeyed: list[tuple[str, str, str, bytes]]  # match keys made anew on the way (`_keyed`)
    loaded: dict = field(default_factory=dict)  # records read from the store on the way, outside the part too


def affected(store: Store) -> Part:
    """What a change can re-cluster.

    Clusters only ever join along pairs that score, so re-merging a part of the catalogue closed under those
    pairs gives exactly what a full merge gives for it. The part: the pending records and the other records
    of the editions they were in (and a whole title block when its size crossed the size at which big blocks
    are split by year, which changes its candidate pairs); then everything reachable from them over scored
    pairs. Pairs are worked out anew for the records whose pairs can have changed (the pending records and
    such a title block); every other record's pairs are as stored from earlier merges, since neither its
    keys nor its candidates changed (a stored pair to a pending record only leads back into the part). A
    fuzzy block that crossed its size limit (`dedup.cluster.FUZZY_MAX`: past it, it is not compared) changes the
    pairs of all its records, as a title block crossing BIG_BLOCK does, and is treated alike. A
    record more than YEAR_SLACK years from every fresh record of a block cannot score with them (a year
    conflict) and is not read for it. Only the rows these records reach are read from the store, by indexed
    look-ups. Candidate pairs split big title blocks by their sizes in the whole catalogue, as a full merge
    does. "Other editions" groups reach further and are named afterwards (`regroup`).
    """
    pending, withdrawn, old_works, mates, pending_keys = store.pending_state()
    limited = [k for k in pending_keys if block_limit(k) is not None]
    now = store.key_counts(limited)
    before = store.title_sizes_of(limited)  # a fuzzy block's only while it is (or was) past its limit
    crossed = {k for k in limited if (before.get(k, 0) > block_limit(k)) != (now.get(k, 0) > block_limit(k))}
    # remembered: every title block's size, and a fuzzy block's while it is past its limit or was
    remember = {k: now.get(k, 0) for k in limited
                if k.startswith("title:") or k in crossed or now.get(k, 0) > block_limit(k)}
    # the fuzzy blocks past their limit: as remembered, and as now for the pending keys (no other block changed
    # size); every other fuzzy block is within its limit, so its size need not be counted
    over = store.fuzzy_blocks_over()
    over.update({k: now.get(k, 0) for k in limited if not k.startswith("title:")})
    fresh_for = set(pending)  # records whose scored pairs are worked out anew
    for recs in store.records_with(crossed).values():
        fresh_for.update(recs)
    keys_of = store.keys_of(fresh_for)
    # catalogue-wide block sizes: the pending keys' are counted above; every other title block is counted here
    sizes = {k: n for k, n in now.items() if k.startswith("title:")} | over
    sizes |= store.key_counts({k for ks in keys_of.values() for k in ks if k.startswith("title:")} - set(limited))
    wanted: set[str] = set()  # the parts of big title blocks the fresh records are compared in
    blocks: dict[str, set[int | None]] = {}  # the other blocks they are in, with their years
    for rec in fresh_for:
        ks = keys_of.get(rec, ())
        ty = next((k for k in ks if k.startswith("titleyear:")), None)
        for k in ks:
            if k.startswith(("group:", "titleyear:")):
                continue
            limit = block_limit(k)
            if limit is not None and not k.startswith("title:") and sizes.get(k, 0) > limit:
                continue  # a fuzzy block too big to be compared
            if k.startswith("title:") and sizes.get(k, 0) > BIG_BLOCK and ty is not None:
                # a big title block is compared year by year: the same year and the years either side
                title, year = ty[len("titleyear:"):].rsplit("|", 1)
                wanted.update(f"titleyear:{title}|{y}"
                              for y in ([year] if year == "-" else [str(int(year) + d) for d in (-1, 0, 1)]))
            else:
                blocks.setdefault(k, set()).add(_key_year(ty))
    near = set(fresh_for)  # the fresh records and every record that can score with one of them
    for recs in store.records_with(wanted).values():
        near.update(recs)
    # in a wildcard block (`|*`) a record with a year is compared only with records without one: where every
    # fresh record of the block has a year, only the block's undated records can score with them
    undated = {k for k, years in blocks.items() if k.endswith("|" + YEAR_UNKNOWN) and None not in years}
    for k, rows in store.records_with_titleyear(blocks.keys() - undated, undated).items():
        years = blocks[k]  # a record whose year is too far from every fresh record's cannot score with one
        near.update(rec for rec, ty in rows if None in years or (y := _key_year(ty)) is None
                    or any(abs(y - f) <= YEAR_SLACK for f in years))
    near_order = sorted(near)
    rekeyed: list[tuple[str, str, str, bytes]] = []
    near_keys = _keyed(store, near_order, rekeyed)  # only the part's records are read whole
    fresh: dict[tuple[str, str], set[tuple[str, str]]] = {}
    touching = {i for i, r in enumerate(near_order) if r in fresh_for}  # pairs among the others are stored
    for a, b in candidate_pairs(near_keys, sizes, touching=touching):
        ra, rb = near_order[a], near_order[b]
        if (ra in fresh_for or rb in fresh_for) and match_score(near_keys[a], near_keys[b]) is not None:
            fresh.setdefault(ra, set()).add(rb)
            fresh.setdefault(rb, set()).add(ra)
    part = fresh_for | mates
    frontier = list(part)
    gone = set(withdrawn)
    while frontier:  # breadth first: one read of stored pairs per step
        stored, named_gone = store.pairs_of([r for r in frontier if r not in fresh_for])
        gone |= named_gone
        step = []
        for rec in frontier:
            for x in (*fresh.get(rec, ()), *stored.get(rec, ())):
                if x not in part:
                    part.add(x)
                    step.append(x)
        frontier = step
    order = sorted(part)
    loaded = dict(zip(order, store.load(order, renormaliser), strict=True))
    at = {r: i for i, r in enumerate(near_order)}
    further = [r for r in order if r not in at]  # reached over stored pairs only
    match = dict(zip(further, _keyed(store, further, rekeyed), strict=True))
    part_keys = store.keys_of(order)
    titles = {k for ks in part_keys.values() for k in ks if k.startswith("title:")}
    sizes.update(store.key_counts(titles - sizes.keys() - set(limited)))
    return Part(order, [loaded[r] for r in order], [near_keys[at[r]] if r in at else match[r] for r in order],
                old_works | store.works_of(order), sizes, part_keys, pending_keys, sorted(gone), remember, rekeyed,
                loaded)


def _key_year(titleyear: str | None) -> int | None:
    """The year in a record's `titleyear:` key (None: no year, or no such key)."""
    year = titleyear.rsplit("|", 1)[1] if titleyear else "-"
    return None if year == "-" else int(year)


def regroup(store: Store, part: Part, works: list) -> list:
    """Name the "other editions" groups of the re-merged `works` as a full merge would, and rebuild the
    editions outside the part whose group id changes with them (returned, to be written too).

    A group is every edition reachable over shared title|creator keys; it is named after the key the most of
    its editions have (`dedup.work.group_name`).
    Editions outside the part keep their records (their clusters cannot have changed); only the groups
    reached from the part's keys, and from keys pending records had, are looked at: read from the store a
    step at a time, the editions of each key reached and each such edition's keys.
    """
    new_work = {(r.member, r.record_id): w.work_id for w in works for r in w.records}
    unit_keys: dict[str, set[str]] = {}
    key_units: dict[str, set[str]] = {}
    for rec, ks in part.keys_of.items():
        wid = new_work.get(rec)
        if wid is None:
            continue
        for k in ks:
            if k.startswith("group:"):
                unit_keys.setdefault(wid, set()).add(k)
    start = {k for w in works for k in unit_keys.get(w.work_id, ())}
    start |= {k for k in part.pending_keys if k.startswith("group:")}
    read: set[str] = set()
    todo = set(start)
    while todo:  # every edition with a key reached, and every key of those editions
        read |= todo
        outside: set[str] = set()
        for k, rec, wid in store.keyed_works(todo):
            wid = new_work.get(rec, wid)
            if wid is None:
                continue
            key_units.setdefault(k, set()).add(wid)
            if wid not in unit_keys:
                outside.add(wid)
        unit_keys.update(store.work_keys(outside, "group:"))
        todo = {k for wid in outside for k in unit_keys.get(wid, ())} - read
    new_group: dict[str, str] = {}
    done: set[str] = set()
    for first in start:
        if first in done or first not in key_units:
            continue
        names, units, stack = {first}, set(), [first]
        while stack:
            for unit in key_units[stack.pop()]:
                if unit not in units:
                    units.add(unit)
                    for k in unit_keys[unit]:
                        if k not in names:
                            names.add(k)
                            stack.append(k)
        done |= names
        gid = group_id_for(group_name(names, {k: len(key_units[k]) for k in names})[len("group:"):])
        new_group.update(dict.fromkeys(units, gid))
    mine = {w.work_id for w in works}
    for w in works:
        if w.work_id in new_group:
            w.group_id = new_group[w.work_id]
    outside = [wid for wid in new_group if wid not in mine]
    held = store.work_groups(outside)
    moved = {wid for wid in outside if held.get(wid) != new_group[wid]}
    if not moved:
        return []
    rec_work = {rec: wid for rec, wid in store.records_of_works(moved) if rec not in new_work}
    recs = sorted(rec_work)
    missing = [r for r in recs if r not in part.loaded]
    part.loaded.update(zip(missing, store.load(missing, renormaliser), strict=True))
    by_work: dict[str, list] = {}
    for rec in recs:
        by_work.setdefault(rec_work[rec], []).append(part.loaded[rec])
    rebuilt = []
    for wid, records in by_work.items():
        w = build_work(records)
        w.group_id = new_group[wid]
        rebuilt.append(w)
    return rebuilt


async def harvest(registry: Registry, index_dir: Path | str, opts: HarvestOptions | None = None,
                  progress: Progress | None = None) -> HarvestResult:
    """Harvest the chosen members (default: every active member with an endpoint) into the store of the index
    at `index_dir` (a folder or a database URL), then write the index. One harvest at a time per index folder
    (HarvestError names the running one); into a database several at once, each member fetched by one of them
    (`indexer.pg.store`)."""
    opts = opts or HarvestOptions()
    progress = progress or Progress()
    if opts.members:
        members = registry.select(opts.members)
    else:
        members = [m for m in registry if m.active and harvest_endpoint(m) is not None]
    if not members:
        raise HarvestError(f"no member to harvest in {registry.path}: none is active with an endpoint; "
                           "check the registry (docs/registry.md) or --members")
    t0 = time.monotonic()
    started = now_iso()
    location = index_location(index_dir)
    with _harvest_lock(location):
        store = open_store(location)
        worker = StoreWorker(processes=read_processes(opts.read_processes))
        try:
            sem = asyncio.Semaphore(max(1, opts.concurrency))
            round_started = await worker(store.clock)

            async def one(m: Member) -> MemberReport:
                async with sem:
                    return await harvest_member(store, m, opts, progress, worker=worker, since=round_started)

            reports = await asyncio.gather(*(one(m) for m in members))
            harvested = {r.member: started for r in reports if r.status == "ok"}
            index = await worker(write_index, store, location, full=opts.full, harvested=harvested,
                                 progress=progress)
        finally:
            worker.shutdown()  # a batch in flight finishes (one transaction) before the store closes
            store.close()
    return HarvestResult(list(reports), index, time.monotonic() - t0, started)


def index_location(location: Path | str) -> Path | str:
    """The index a harvest fills: a folder (Path) or a database URL (str); a folder made by
    `indexer.backend.store_folder` for a database names that database."""
    from indexer.backend import LOCATION_FILE, is_database

    if is_database(location):
        return str(location)
    folder = Path(location)
    try:
        named = (folder / LOCATION_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return folder
    return named if is_database(named) else folder


@contextlib.contextmanager
def _harvest_lock(location: Path | str):
    """An exclusive lock on `<index>/harvest.lock` for the whole run (the kernel drops it if we die). A
    database needs none: its store locks each member and the index phase (`indexer.pg.store`)."""
    if not isinstance(location, Path):
        yield
        return
    index_dir = location
    index_dir.mkdir(parents=True, exist_ok=True)
    path = index_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise HarvestError(f"another harvest is running on {index_dir} ({holder}); wait for it to finish "
                               "(a cron job and 'balis serve --harvest-at' must not both harvest one index)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {now_iso()}".encode(), 0)
        yield
    finally:
        os.close(fd)


def run_harvest(registry: Registry, index_dir: Path | str, opts: HarvestOptions | None = None,
                progress: Progress | None = None) -> HarvestResult:
    return asyncio.run(harvest(registry, index_dir, opts, progress))

