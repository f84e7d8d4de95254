"""The nightly harvest: pull each member's catalogue, keep what changed in the harvest store, re-merge the
editions that change touches and write them to the local index in one commit.

Per member (concurrently, bounded, each at its own request rate):
  OAI-PMH ListRecords (incremental by `from`, deletes as deleted records) where the member offers it,
  else Z39.50 Present / SRU paging over the whole catalogue (change detection by record id + content hash;
  a record not seen in a complete pass was deleted at the member).
Then, from committed store state only: the connected components (shared dedup blocking keys) of every
new, changed or deleted record are merged again (`dedup.merge`) and written with one `LocalIndex.write`
(or one `rebuild` for a first or `--full` run). Kill it anywhere and run it again: it continues from the
checkpoints and ends with the index an uninterrupted run gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path

from connectors.errors import Diagnostic, MemberError
from connectors.factory import open_connector
from dedup.cluster import BIG_BLOCK, candidate_pairs
from dedup.keys import match_keys
from dedup.score import match_score
from dedup.work import build_work, group_id_for, index_keys, merge
from federator.registry import Member, Registry
from indexer.schema import dump_work
from indexer.store import Checkpoint, HarvestStore, Upsert, now_iso
from records.errors import RecordError
from records.normalise import from_raw

HARVEST_PROTOCOLS = ("oaipmh", "z3950", "sru")  # the order a member's endpoints are preferred in
DEFAULT_CONCURRENCY = 4
BATCH = 500  # records per store transaction (and checkpoint) for Z39.50 / SRU
REPORT_VERSION = 1
LOCK_NAME = "harvest.lock"


class HarvestError(Exception):
    """The harvest cannot start (no members, a bad option); the message says what to do."""


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
    seconds: float = 0.0
    total: int | None = None  # the member's catalogue size (or the size of the list asked for), when known
    mode: str = "full"  # full (whole catalogue compared) | since (OAI-PMH changes since a date)
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
    page_size: int | None = None  # records per Z39.50 Present / SRU page (None: 500 / the member's max_records)
    timeout: float | None = None


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
                           for k in ("records", "added", "changed", "deleted", "unchanged", "errors")}}


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


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def harvest_endpoint(member: Member):
    """The endpoint a member is harvested over: OAI-PMH, else Z39.50, else SRU (None if it has none)."""
    for proto in HARVEST_PROTOCOLS:
        for e in member.endpoints:
            if e.protocol == proto:
                return e
    return None


def normalise_raw(member: str, raw: bytes, syntax: str, charset: str, position: int, digest: str):
    """The Record of a raw record; a record without 001 is named by its content hash, not its position."""
    rec = from_raw(raw, syntax=syntax, charset=charset, member=member, position=position)
    if any(w.startswith("no 001 control number") for w in rec.warnings):
        rec.record_id = f"h{digest[:16]}"
        rec.warnings = [w for w in rec.warnings if not w.startswith("no 001 control number")]
        rec.warnings.append(f"no 001 control number; named by its content hash {rec.record_id}")
    return rec


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


def _upsert(member: str, raw, digest: str, rec, source_id=None, datestamp=None) -> Upsert:
    return Upsert(record_id=rec.record_id, hash=digest, raw=raw.data, syntax=raw.syntax, charset=raw.charset,
                  record=rec, keys=index_keys(match_keys(rec)), source_id=source_id, datestamp=datestamp)


class StoreWorker:
    """Runs store writes, normalisation and merging in one worker thread, one call at a time, so the event
    loop stays free to read the members' answers (CPU work on the loop would make their timeouts fire)."""

    def __init__(self, threaded: bool = True) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="balis-harvest") if threaded else None

    @classmethod
    def inline(cls) -> StoreWorker:
        return cls(threaded=False)

    async def __call__(self, fn, *args, **kwargs):
        if self._pool is None:
            return fn(*args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class _MemberRun:
    """One member's pass: compares what the member sends with the store and writes the difference."""

    def __init__(self, store: HarvestStore, member: Member, report: MemberReport, progress: Progress,
                 limiter: RateLimiter, worker: StoreWorker | None = None) -> None:
        self.store, self.member, self.report = store, member, report
        self.code = member.code
        self.progress, self.limiter = progress, limiter
        self.db = worker or StoreWorker.inline()
        self.by_hash, self.by_id = {}, {}
        self._next_from: str | None = None

    async def prepare(self) -> None:
        self.by_hash, self.by_id = await self.db(self.store.known, self.code)

    def classify(self, raw, source_id=None, datestamp=None) -> tuple[str | None, Upsert | None]:
        """(record id, upsert or None when unchanged) for one received record; (None, None) if unreadable."""
        self.report.records += 1
        digest = content_hash(raw.data)
        rid = self.by_hash.get(digest)
        if rid is not None:
            self.report.unchanged += 1
            return rid, None
        try:
            rec = normalise_raw(self.code, raw.data, raw.syntax, raw.charset, raw.position, digest)
        except RecordError as exc:
            self.report.errors += 1
            if len(self.report.error_samples) < 5:
                self.report.error_samples.append(str(exc))
            rid = control_number(raw.data)  # its earlier, readable version is kept (not taken as deleted)
            return (rid if rid in self.by_id else None), None
        if rec.record_id in self.by_id:
            self.report.changed += 1
        else:
            self.report.added += 1
        old = self.by_id.get(rec.record_id)
        if old is not None:
            self.by_hash.pop(old, None)
        self.by_hash[digest] = rec.record_id
        self.by_id[rec.record_id] = digest
        return rec.record_id, _upsert(self.code, raw, digest, rec, source_id, datestamp)

    def counts(self) -> dict:
        r = self.report
        return {"records": r.records, "added": r.added, "changed": r.changed, "deleted": r.deleted,
                "unchanged": r.unchanged, "errors": r.errors}

    async def run_paged(self, conn, protocol: str, fresh: bool, started: str, page_size: int | None) -> bool:
        """Z39.50 / SRU: the whole catalogue from the checkpoint on; True when the pass completed."""
        first = await conn.search_rpn(_ALL_RPN, 1, 0) if protocol == "z3950" else \
            await conn.search_cql("cql.allRecords = 1", 1, 0)
        hits = first.hits
        cp = None if fresh else await self.db(self.store.checkpoint, self.code)
        if cp is not None and (cp.protocol != protocol or cp.hits != hits or cp.mode != "full"):
            cp = None  # the catalogue changed size since the interruption: positions moved, start again
        start = cp.position if cp else 1
        self.report.total = hits
        self.report.resumed_from = f"position {start}" if start > 1 else None
        cp = Checkpoint(self.code, protocol, "full", position=start, hits=hits, started=started)
        await self.db(self.store.start_member, cp, fresh=start == 1)
        self.progress.member_started(self.code, hits, f"{protocol}, {hits} records"
                                     + (f", resumed at {start}" if start > 1 else ""))
        if start > 1:
            self.progress.advance(self.code, start - 1)
        page = page_size or (conn.harvest_chunk_size if protocol == "z3950" else min(conn.max_records, 500))
        if protocol == "z3950":
            conn.harvest_chunk_size = page
        batch: list = []
        position = start
        await self.limiter.wait()
        if start <= hits:
            records = conn.harvest(start=start) if protocol == "z3950" else conn.harvest(start=start, page_size=page)
            async for raw in records:
                batch.append(raw)
                position = raw.position + 1
                if (position - start) % page == 0:
                    await self.limiter.wait()
                if len(batch) >= min(BATCH, page):  # one commit (and checkpoint) per page, at most BATCH
                    await self._commit(batch, cp, position)
                    batch = []
        await self._commit(batch, cp, position)
        return True

    async def _commit(self, batch: list, cp: Checkpoint, position: int) -> None:
        """Classify and write one page in the store's worker thread (the event loop stays free for I/O)."""
        await self.db(self._write_page, batch, cp, position)
        self.progress.advance(self.code, len(batch))

    def _write_page(self, batch: list, cp: Checkpoint, position: int) -> None:
        upserts, seen = [], []
        for raw in batch:
            rid, up = self.classify(raw)
            if rid is not None:
                seen.append(rid)
            if up is not None:
                upserts.append(up)
        cp.position, cp.counts = position, self.counts()
        self.store.apply(self.code, upserts=upserts, seen=seen, checkpoint=cp)

    async def run_oai(self, conn, fresh: bool, since: str | None, started: str) -> bool:
        """OAI-PMH: ListRecords from the resumptionToken kept, or from the start (since `since`)."""
        cp = None if fresh else await self.db(self.store.checkpoint, self.code)
        mode = "since" if since else "full"
        if cp is not None and (cp.protocol != "oaipmh" or cp.mode != mode or cp.since != since):
            cp = None
        token = cp.token if cp else None
        if cp is None:
            cp = Checkpoint(self.code, "oaipmh", mode, since=since, started=started)
            await self.db(self.store.start_member, cp, fresh=True)
        else:
            self.report.resumed_from = "resumptionToken"
            await self.db(self.store.start_member, cp, fresh=False)
        self.report.mode = mode
        self.progress.member_started(self.code, None, "oaipmh" + (f", changes since {since}" if since else ""))
        try:
            pages = conn.pages(since, token=token) if token else conn.pages(since)
            async for page in self._limited(pages):
                if cp.next_from is None and page.response_date:
                    cp.next_from = page.response_date  # the next run asks for what changed from now on
                if page.complete_size is not None:
                    self.report.total = page.complete_size
                    self.progress.member_started(self.code, page.complete_size, "")
                await self.db(self._write_oai_page, page, cp)
                self.progress.advance(self.code, len(page.records))
        except Diagnostic as d:
            if token and d.code == "badResumptionToken":  # the kept token expired: start the list again
                return await self.run_oai(conn, True, since, started)
            raise
        self._next_from = cp.next_from
        return True

    def _write_oai_page(self, page, cp: Checkpoint) -> None:
        upserts, seen, deletes = [], [], []
        for rec in page.records:
            if rec.deleted:
                self.report.records += 1
                rid = self.store.record_id_for_source(self.code, rec.identifier)
                if rid is not None:
                    deletes.append(rid)
                    self.report.deleted += 1
                    old = self.by_id.pop(rid, None)
                    if old:
                        self.by_hash.pop(old, None)
                continue
            rid, up = self.classify(rec.raw, rec.identifier, rec.datestamp)
            if rid is not None:
                seen.append(rid)
            if up is not None:
                upserts.append(up)
        cp.token, cp.counts = page.token, self.counts()
        self.store.apply(self.code, upserts=upserts, deletes=deletes, seen=seen, checkpoint=cp)

    async def _limited(self, pages):
        await self.limiter.wait()
        async for page in pages:
            yield page
            await self.limiter.wait()


_ALL_RPN = None  # set lazily (the Z39.50 package is imported only when a Z39.50 member is harvested)


async def harvest_member(store: HarvestStore, member: Member, opts: HarvestOptions, progress: Progress,
                         session=None, worker: StoreWorker | None = None) -> MemberReport:
    """One member's pass, its errors turned into the member's report (never raised)."""
    global _ALL_RPN
    db = worker or StoreWorker.inline()
    report = MemberReport(member.code)
    t0 = time.monotonic()
    endpoint = harvest_endpoint(member)
    if endpoint is None:
        report.status, report.message = "skipped", ("no endpoint in the registry; add a [[member.endpoint]] "
                                                    "(docs/registry.md)")
        progress.member_finished(report)
        return report
    report.protocol = endpoint.protocol
    rate = opts.rate if opts.rate is not None else member.harvest_rate
    limiter = RateLimiter(rate)
    run = _MemberRun(store, member, report, progress, limiter, db)
    await run.prepare()
    conn = open_connector(member, endpoint, timeout=opts.timeout, session=session)
    started = now_iso()
    complete = False
    next_from = None
    try:
        if endpoint.protocol == "oaipmh":
            info = await db(store.member_info, member.code)
            if opts.full:
                since = None
            elif opts.since is not None:
                since = opts.since.isoformat() if isinstance(opts.since, (date, datetime)) else str(opts.since)
            else:
                since = info.get("next_from") if await db(store.count, member.code) else None
            complete = await run.run_oai(conn, opts.full, since, started)
            next_from = run._next_from
        else:
            if opts.since is not None and not opts.full:
                report.message = f"{endpoint.protocol} cannot ask for changes since a date: whole catalogue compared"
            if endpoint.protocol == "z3950" and _ALL_RPN is None:
                from connectors.rpn import Term

                _ALL_RPN = Term("", ((1, 1016), (2, 103)))
            complete = await run.run_paged(conn, endpoint.protocol, opts.full, started, opts.page_size)
    except MemberError as exc:
        report.status = "failed"
        report.message = f"{exc.kind}: {exc.message}; its {await db(store.count, member.code)} records from " \
                         "earlier harvests are kept, and the next run continues from the checkpoint"
    finally:
        try:
            await conn.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not hide the outcome
            pass
    if complete:
        deletes: list[str] = []
        if report.mode == "full":
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
    rec = normalise_raw(member, raw, syntax, charset, 0, content_hash(raw))
    rec.record_id = record_id
    return rec


def write_index(store: HarvestStore, index_dir: Path, *, full: bool, harvested: dict[str, str],
                progress: Progress) -> dict:
    """Re-merge what changed (or everything) from committed store state and write the index in one commit."""
    from indexer.index import LocalIndex

    t0 = time.monotonic()
    ix = LocalIndex.open(index_dir, create=True)
    try:
        empty = ix.doc_count() == 0
        pending = store.pending_count()
        rebuild = full or (empty and store.count() > 0)
        upgrade = not rebuild and not store.edges_ready()
        if not rebuild and not upgrade and not pending:
            return {"mode": "unchanged", "records_merged": 0, "upserted": 0, "deleted": 0,
                    "seconds": round(time.monotonic() - t0, 3)}
        new_keys, regrouped, gone = None, [], []
        edges: list[tuple[int, int]] = []
        if rebuild or upgrade:
            keys = store.all_keys()
            old_works = store.indexed_works() if upgrade else set()
            progress.phase(f"合并 merge: {len(keys)} records")
            records = list(store.load(keys, renormaliser))
            if upgrade:
                new_keys = {k: index_keys(match_keys(r)) for k, r in zip(keys, records, strict=True)}
                sizes = _title_sizes(new_keys.items())
            else:
                sizes = _title_sizes(store.key_index()[1].items())
            works = merge(records, edges=edges)
        else:
            part = affected(store)
            keys, records, old_works, sizes = part.keys, part.records, part.old_works, part.sizes
            progress.phase(f"合并 merge: {len(keys)} records")
            works = merge(records, block_sizes=sizes, edges=edges)
            regrouped = regroup(store, part, works)
            gone = part.gone
            sizes = {k: sizes.get(k, 0) for k in part.pending_keys if k.startswith("title:")}
        pairs = [(keys[a], keys[b]) for a, b in edges]
        assignment = {(r.member, r.record_id): w.work_id for w in works for r in w.records}
        written = works + regrouped
        digests = {w.work_id: hashlib.blake2b(dump_work(w), digest_size=16).hexdigest() for w in written}
        groups = {w.work_id: w.group_id for w in written}
        if rebuild:
            progress.phase(f"写索引 index: {len(works)} editions")
            done = ix.rebuild(works, harvested=harvested)
            out = {"mode": "rebuild", "records_merged": len(records), "upserted": done["documents"], "deleted": 0}
            store.mark_indexed(assignment, digests=digests, replace_all=True, edges=pairs, groups=groups,
                               sizes=sizes)
        else:
            # only editions that differ from what the index holds are written (most of a part is unchanged)
            held = store.work_digests(digests)
            changed = [w for w in written if held.get(w.work_id) != digests[w.work_id]]
            delete = sorted(old_works - set(digests))
            progress.phase(f"写索引 index: {len(changed)} editions changed, {len(delete)} removed")
            done = ix.write(upsert=changed, delete=delete, harvested=harvested)
            out = {"mode": "upgrade" if upgrade else "incremental", "records_merged": len(records),
                   "upserted": done["upserted"], "deleted": done["deleted"]}
            store.mark_indexed(assignment, digests={w.work_id: digests[w.work_id] for w in changed}, removed=delete,
                               edges=pairs, keys=new_keys, groups=groups, sizes=sizes, forget=gone)
    finally:
        ix.close()
    out["seconds"] = round(time.monotonic() - t0, 3)
    return out


def _title_sizes(keys_of_records) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for _rec, ks in keys_of_records:
        for k in ks:
            if k.startswith("title:"):
                sizes[k] = sizes.get(k, 0) + 1
    return sizes


@dataclass(slots=True)
class Part:
    """The part of the catalogue an incremental index phase re-merges (see `affected`)."""

    keys: list[tuple[str, str]]  # its records, in merge order
    records: list
    old_works: set[str]  # works the index may hold for them
    sizes: dict[str, int]  # every title block's size in the whole catalogue now
    keys_of: dict[tuple[str, str], list[str]]  # every record's keys
    pending_keys: set[str]
    gone: list[tuple[str, str]]  # withdrawn records the stored pairs still name


def affected(store: HarvestStore) -> Part:
    """What a change can re-cluster.

    Clusters only ever join along pairs that score, so re-merging a part of the catalogue closed under those
    pairs gives exactly what a full merge gives for it. The part: the pending records and the other records
    of the editions they were in (and a whole title block when its size crossed the size at which big blocks
    are split by year, which changes its candidate pairs); then everything reachable from them over scored
    pairs — worked out anew for those records, as stored from earlier merges for the rest. Candidate pairs
    split big title blocks by their sizes in the whole catalogue, as a full merge does. "Other editions"
    groups reach further and are named afterwards (`regroup`).
    """
    seeds, old_works, pending_keys = store.seeds()
    by_key, keys_of = store.key_index()
    sizes = {k: len(v) for k, v in by_key.items() if k.startswith("title:")}
    before = store.title_sizes()
    for k in pending_keys:
        if k.startswith("title:") and (before.get(k, 0) > BIG_BLOCK) != (sizes.get(k, 0) > BIG_BLOCK):
            seeds.update(by_key.get(k, ()))
    near = set(seeds)  # the seeds and every record they are compared with in a merge
    for rec in seeds:
        ks = keys_of.get(rec, ())
        ty = next((k for k in ks if k.startswith("titleyear:")), None)
        for k in ks:
            if k.startswith(("group:", "titleyear:")):
                continue
            if k.startswith("title:") and sizes.get(k, 0) > BIG_BLOCK and ty is not None:
                # a big title block is compared year by year: the same year and the years either side
                title, year = ty[len("titleyear:"):].rsplit("|", 1)
                for y in ([year] if year == "-" else [str(int(year) + d) for d in (-1, 0, 1)]):
                    near.update(by_key.get(f"titleyear:{title}|{y}", ()))
            else:
                near.update(by_key[k])
    near_order = sorted(near)
    loaded = dict(zip(near_order, store.load(near_order, renormaliser), strict=True))
    near_keys = [match_keys(loaded[r]) for r in near_order]
    fresh: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for a, b in candidate_pairs(near_keys, sizes):
        ra, rb = near_order[a], near_order[b]
        if (ra in seeds or rb in seeds) and match_score(near_keys[a], near_keys[b]) is not None:
            fresh.setdefault(ra, set()).add(rb)
            fresh.setdefault(rb, set()).add(ra)
    stored = store.edges()
    held = set(store.all_keys())  # stored pairs may still name records withdrawn since
    part = set(seeds)
    queue = list(seeds)
    while queue:
        rec = queue.pop()
        linked = set(fresh.get(rec, ()))
        if rec not in seeds:  # a seed's stored pairs are stale: its fresh ones replace them
            linked.update(x for x in stored.get(rec, ()) if x not in seeds and x in held)
        for x in linked:
            if x not in part:
                part.add(x)
                queue.append(x)
    order = sorted(part)
    missing = [r for r in order if r not in loaded]
    loaded.update(zip(missing, store.load(missing, renormaliser), strict=True))
    gone = [r for r in stored if r not in held]
    return Part(order, [loaded[r] for r in order], old_works | store.works_of(order), sizes, keys_of,
                pending_keys, gone)


def regroup(store: HarvestStore, part: Part, works: list) -> list:
    """Name the "other editions" groups of the re-merged `works` as a full merge would, and rebuild the
    editions outside the part whose group id changes with them (returned, to be written too).

    A group is every edition reachable over shared title|creator keys; it is named after its smallest key.
    Editions outside the part keep their records (their clusters cannot have changed); only the groups
    reached from the part's keys, and from keys pending records had, are looked at.
    """
    rec_work = store.record_works()
    for w in works:
        for r in w.records:
            rec_work[(r.member, r.record_id)] = w.work_id
    unit_keys: dict[str, set[str]] = {}
    key_units: dict[str, set[str]] = {}
    for rec, ks in part.keys_of.items():
        wid = rec_work.get(rec)
        if wid is None:
            continue
        for k in ks:
            if k.startswith("group:"):
                unit_keys.setdefault(wid, set()).add(k)
                key_units.setdefault(k, set()).add(wid)
    start = {k for w in works for k in unit_keys.get(w.work_id, ())}
    start |= {k for k in part.pending_keys if k.startswith("group:")}
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
        gid = group_id_for(min(names)[len("group:"):])
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
    recs = sorted(rec for rec, wid in rec_work.items() if wid in moved)
    by_work: dict[str, list] = {}
    for rec, record in zip(recs, store.load(recs, renormaliser), strict=True):
        by_work.setdefault(rec_work[rec], []).append(record)
    rebuilt = []
    for wid, records in by_work.items():
        w = build_work(records)
        w.group_id = new_group[wid]
        rebuilt.append(w)
    return rebuilt


async def harvest(registry: Registry, index_dir: Path, opts: HarvestOptions | None = None,
                  progress: Progress | None = None) -> HarvestResult:
    """Harvest the chosen members (default: every active member with an endpoint) into `index_dir`'s store,
    then write the index. One harvest at a time per index folder (HarvestError names the running one)."""
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
    with _harvest_lock(Path(index_dir)):
        store = HarvestStore.open(index_dir)
        worker = StoreWorker()
        try:
            sem = asyncio.Semaphore(max(1, opts.concurrency))

            async def one(m: Member) -> MemberReport:
                async with sem:
                    return await harvest_member(store, m, opts, progress, worker=worker)

            reports = await asyncio.gather(*(one(m) for m in members))
            harvested = {r.member: started for r in reports if r.status == "ok"}
            index = await worker(write_index, store, index_dir, full=opts.full, harvested=harvested,
                                 progress=progress)
        finally:
            worker.shutdown()  # a batch in flight finishes (one transaction) before the store closes
            store.close()
    return HarvestResult(list(reports), index, time.monotonic() - t0, started)


@contextlib.contextmanager
def _harvest_lock(index_dir: Path):
    """An exclusive lock on `<index>/harvest.lock` for the whole run (the kernel drops it if we die)."""
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


def run_harvest(registry: Registry, index_dir: Path, opts: HarvestOptions | None = None,
                progress: Progress | None = None) -> HarvestResult:
    return asyncio.run(harvest(registry, index_dir, opts, progress))

