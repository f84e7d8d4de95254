"""The harvest store: every harvested member record, its content hash and dedup blocking keys, the work it
is in, and the per-member checkpoints. Two implementations of one interface (`Store`): a SQLite file in WAL
mode beside a whoosh index (`<index dir>/harvest.sqlite`, this module, one harvest process at a time), and
tables in the union index's PostgreSQL database (`indexer.pg.store`, several harvest processes at once, one
per member); `open_store` picks the one for an index location.

Each batch of records is committed together with the member's checkpoint, so an interrupted harvest
(Ctrl-C, kill -9, a member dying) continues where the last commit left it. Records whose row changed since
the index was last written are listed in `pending` (with the work they were in) and their old and new
blocking keys in `pending_keys`; the index phase re-merges exactly the editions those can touch and clears
both lists only after the index commit.

Each record's match keys (`dedup.keys.MatchKeys`, pickled) are kept beside it, stamped with the
`dedup.MERGE_RULES` they were made under: an index phase reads them instead of reading and keying the whole
record again. Keys stamped with other rules, or missing (a store written before they were kept), are made
anew from the record and written back after the index commit (`put_match`, only where the record is still
the one keyed).
"""

from __future__ import annotations

import json
import pickle
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from dedup import MERGE_RULES
from dedup.cluster import FUZZY, FUZZY_MAX
from dedup.keys import MatchKeys
from indexer.errors import HarvestStoreError
from records.model import Record

STORE_NAME = "harvest.sqlite"
STORE_VERSION = 2  # 2: other-editions keys in record_keys; scored pairs, group ids and title block sizes kept
RECORD_PICKLE = 5  # pickle protocol of the normalised Record kept beside the raw record
LOAD_CHUNK = 5000  # records read by one query in `load`
Rec = tuple[str, str]  # (member, record_id)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS records (
    member TEXT NOT NULL, record_id TEXT NOT NULL, hash TEXT NOT NULL, source_id TEXT, datestamp TEXT,
    syntax TEXT NOT NULL, charset TEXT NOT NULL, raw BLOB NOT NULL, record BLOB, work_id TEXT,
    harvested TEXT NOT NULL, first_seen TEXT, match_keys BLOB, match_rules TEXT, PRIMARY KEY (member, record_id));
CREATE INDEX IF NOT EXISTS records_by_source ON records (member, source_id);
CREATE INDEX IF NOT EXISTS records_by_work ON records (work_id);
CREATE TABLE IF NOT EXISTS record_keys (key TEXT NOT NULL, member TEXT NOT NULL, record_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS record_keys_by_key ON record_keys (key);
CREATE INDEX IF NOT EXISTS record_keys_by_record ON record_keys (member, record_id);
CREATE TABLE IF NOT EXISTS record_edges (m1 TEXT NOT NULL, r1 TEXT NOT NULL, m2 TEXT NOT NULL, r2 TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS record_edges_1 ON record_edges (m1, r1);
CREATE INDEX IF NOT EXISTS record_edges_2 ON record_edges (m2, r2);
CREATE TABLE IF NOT EXISTS pending (member TEXT NOT NULL, record_id TEXT NOT NULL, old_work_id TEXT,
    PRIMARY KEY (member, record_id));
CREATE TABLE IF NOT EXISTS pending_keys (key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS seen (member TEXT NOT NULL, record_id TEXT NOT NULL, PRIMARY KEY (member, record_id));
CREATE TABLE IF NOT EXISTS checkpoints (member TEXT PRIMARY KEY, protocol TEXT NOT NULL, mode TEXT NOT NULL,
    position INTEGER NOT NULL DEFAULT 1, token TEXT, hits INTEGER, since TEXT, next_from TEXT,
    started TEXT NOT NULL, counts TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS works (work_id TEXT PRIMARY KEY, digest TEXT NOT NULL, group_id TEXT);
CREATE TABLE IF NOT EXISTS title_sizes (key TEXT PRIMARY KEY, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS members (member TEXT PRIMARY KEY, last_started TEXT, last_finished TEXT,
    last_status TEXT, next_from TEXT, last_report TEXT, first_finished TEXT);
"""


# The editions whose every record came after `after` and after its member's first complete harvest into this
# store (`first_finished`; '~' sorts after every time: a member still in its first harvest). A store's first
# harvest of a member (a new or rebuilt store, a member that joins) is that library's catalogue as it stands,
# not new books, and must not reach the saved searches' alerts. {none_held}: no record of the edition was in it.
NEW_EDITIONS = """
    SELECT r.work_id, min(r.first_seen), min(r.member || ':' || r.record_id)
    FROM {records} r LEFT JOIN {members} m ON m.member = r.member
    WHERE r.work_id IN (SELECT work_id FROM {records} WHERE first_seen > {p} AND work_id IS NOT NULL)
    GROUP BY r.work_id HAVING min(r.first_seen) > {p} AND {none_held}"""
IN_FIRST_HARVEST = "r.first_seen <= coalesce(m.first_finished, '~')"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def first_seen_now() -> str:
    """Now as the store writes a record's first-seen time (UTC, microseconds: compared as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


CHECKPOINT_COLUMNS = "member, protocol, mode, position, token, hits, since, next_from, started, counts"
MEMBER_COLUMNS = "last_started, last_finished, last_status, next_from, last_report"


def checkpoint_of(row) -> Checkpoint | None:
    """A checkpoint row (CHECKPOINT_COLUMNS, either store) as a Checkpoint; None for no row."""
    return None if row is None else Checkpoint(*row[:9], counts=json.loads(row[9] or "{}"))


def member_info_of(row) -> dict:
    """A member row (MEMBER_COLUMNS, either store) as `member_info` gives it; {} for no row."""
    if row is None:
        return {}
    return {"last_started": row[0], "last_finished": row[1], "last_status": row[2], "next_from": row[3],
            "last_report": json.loads(row[4]) if row[4] else None}


@dataclass(slots=True)
class Upsert:
    """A new or changed member record, normalised, with its blocking keys."""

    record_id: str
    hash: str
    raw: bytes
    syntax: str
    charset: str
    record: Record | None  # None when read in another process (`blob` is the record then)
    keys: list[str]
    source_id: str | None = None
    datestamp: str | None = None
    blob: bytes | None = None  # `record` pickled (RECORD_PICKLE), made where the record was read
    match: bytes | None = None  # its match keys (`match_blob`), made where the record was read; None: none kept

    def pickled(self) -> bytes:
        return self.blob if self.blob is not None else pickle.dumps(self.record, protocol=RECORD_PICKLE)

    @property
    def match_rules(self) -> str | None:
        """The rules `match` was made under (the running ones), or None when no keys are kept."""
        return None if self.match is None else MERGE_RULES


def kept(blob, kind: type):
    """What a store kept pickled, if it reads back as a `kind`; else None (none kept, or one an upgrade of the
    model made unreadable: the caller makes it again from the raw record)."""
    try:
        got = pickle.loads(blob)
    except Exception:  # noqa: BLE001 - any unreadable pickle, or none
        return None
    return got if isinstance(got, kind) else None


def match_blob(keys: MatchKeys) -> bytes:
    """A record's match keys as a store keeps them (beside the `dedup.MERGE_RULES` they were made under)."""
    return pickle.dumps(keys, protocol=RECORD_PICKLE)


def match_of(blob: bytes | None) -> MatchKeys | None:
    """The match keys a store kept for a record, or None when it kept none or they cannot be read back (the
    record is keyed anew then)."""
    return kept(blob, MatchKeys)


@dataclass(slots=True)
class Checkpoint:
    """Where a member's interrupted harvest stands (committed with the records written so far)."""

    member: str
    protocol: str
    mode: str  # full | since
    position: int = 1  # next result-set position (Z39.50 / SRU)
    token: str | None = None  # next resumptionToken (OAI-PMH)
    hits: int | None = None
    since: str | None = None
    next_from: str | None = None  # the OAI-PMH `from` for the next run once this one completes
    started: str = ""
    counts: dict = field(default_factory=dict)


class Store(Protocol):
    """What the harvest asks of a harvest store (indexer/harvest.py); both implementations give it."""

    path: object  # the file, or the database URL without its password
    # a rebuild's `mark_indexed(digests=None, replace_all=True)` takes the digests of the works as the index
    # stored them (the index is in the store's database), so that the harvest need not make them again
    digests_in_index: bool

    # a member's pass (one transaction per batch, committed with the checkpoint)
    def lock_member(self, member: str, since: object | None = None) -> None: ...
    def unlock_member(self, member: str) -> None: ...
    def clock(self) -> object: ...
    def known(self, member: str) -> tuple[dict[str, str], dict[str, str]]: ...
    def record_id_for_source(self, member: str, source_id: str) -> str | None: ...
    def count(self, member: str | None = None) -> int: ...
    def checkpoint(self, member: str) -> Checkpoint | None: ...
    def member_info(self, member: str) -> dict: ...
    def apply(self, member: str, *, upserts: Iterable[Upsert] = (), deletes: Iterable[str] = (),
              seen: Iterable[str] = (), checkpoint: Checkpoint | None = None) -> None: ...
    def start_member(self, cp: Checkpoint, *, fresh: bool) -> None: ...
    def unseen(self, member: str) -> list[str]: ...
    def finish_member(self, member: str, *, deletes: Iterable[str], status: str, report: dict,
                      next_from: str | None) -> None: ...
    def fail_member(self, member: str, *, status: str, report: dict) -> None: ...

    # the index phase (one at a time, over committed batches)
    def index_phase(self, waiting=None): ...
    def pending_count(self) -> int: ...
    def new_editions(self, after: str) -> tuple[dict[str, tuple[str, str]], str | None]: ...
    def edges_ready(self) -> bool: ...
    def pending_state(self) -> tuple[set[Rec], set[Rec], set[str], set[Rec], set[str]]: ...
    def keys_of(self, records: Iterable[Rec]) -> dict[Rec, list[str]]: ...
    def records_with(self, keys: Iterable[str]) -> dict[str, list[Rec]]: ...
    def records_with_titleyear(self, keys: Iterable[str], undated: Iterable[str] = ()
                               ) -> dict[str, list[tuple[Rec, str | None]]]: ...
    def key_counts(self, keys: Iterable[str]) -> dict[str, int]: ...
    def title_sizes_of(self, keys: Iterable[str]) -> dict[str, int]: ...
    def pairs_of(self, records: Iterable[Rec]) -> tuple[dict[Rec, set[Rec]], set[Rec]]: ...
    def keyed_works(self, keys: Iterable[str]) -> list[tuple[str, Rec, str | None]]: ...
    def work_keys(self, work_ids: Iterable[str], prefix: str) -> dict[str, set[str]]: ...
    def records_of_works(self, work_ids: Iterable[str]) -> list[tuple[Rec, str]]: ...
    def works_of(self, records: Iterable[Rec]) -> set[str]: ...
    def work_groups(self, work_ids: Iterable[str]) -> dict[str, str | None]: ...
    def work_digests(self, work_ids: Iterable[str]) -> dict[str, str]: ...
    def indexed_works(self) -> set[str]: ...
    def has_indexed(self) -> bool: ...
    def block_sizes(self) -> dict[str, int]: ...
    def fuzzy_blocks_over(self) -> dict[str, int]: ...
    def all_keys(self) -> list[Rec]: ...
    def load(self, keys: list[Rec], renormalise) -> Iterator[Record]: ...
    def match_blobs(self, keys: list[Rec]) -> Iterator[tuple[bytes | None, str]]: ...
    def put_match(self, rows: Iterable[tuple[str, str, str, bytes]]) -> int: ...
    def mark_indexed(self, assignment: dict[Rec, str], **kw) -> None: ...

    # balis index stats
    def counts_per_member(self) -> dict[str, int]: ...
    def members_info(self) -> dict[str, dict]: ...
    def size_bytes(self) -> int: ...
    def close(self) -> None: ...


def open_store(location: str | Path, *, create: bool = True) -> Store:
    """The harvest store of the index at `location`: tables in its database, or the SQLite file in its folder."""
    from indexer.pg.index import is_database

    if is_database(location):
        from indexer.pg.store import PgHarvestStore

        return PgHarvestStore.open(str(location), create=create)
    return HarvestStore.open(location, create=create)


class HarvestStore:
    """The SQLite store: `HarvestStore.open(index_dir)`; one harvest process at a time (`indexer.harvest`
    holds a lock on the folder), so member locks and the index phase need nothing more."""

    digests_in_index = False  # the whoosh index beside it is not in this file

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self.db = db

    @classmethod
    def open(cls, index_dir: str | Path, *, create: bool = True) -> HarvestStore:
        folder = Path(index_dir)
        path = folder / STORE_NAME
        if not path.exists() and not create:
            raise HarvestStoreError(f"no harvest store at {path}; run 'balis harvest' first")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA temp_store=MEMORY")  # the index phase's lists of records and keys to look up
            db.executescript(_SCHEMA)
            if "first_seen" not in {row[1] for row in db.execute("PRAGMA table_info(records)")}:  # saved searches
                db.execute("ALTER TABLE records ADD COLUMN first_seen TEXT")
                db.execute("UPDATE records SET first_seen = harvested")
            db.execute("CREATE INDEX IF NOT EXISTS records_by_first_seen ON records (first_seen)")
            if "match_keys" not in {row[1] for row in db.execute("PRAGMA table_info(records)")}:  # made again
                db.execute("ALTER TABLE records ADD COLUMN match_keys BLOB")
                db.execute("ALTER TABLE records ADD COLUMN match_rules TEXT")
            if "first_finished" not in {row[1] for row in db.execute("PRAGMA table_info(members)")}:
                db.execute("ALTER TABLE members ADD COLUMN first_finished TEXT")  # past harvests count as before
                db.execute("UPDATE members SET first_finished = '' WHERE last_finished IS NOT NULL")
            version = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
            if version is None:
                db.execute("INSERT INTO meta VALUES ('version', ?)", (str(STORE_VERSION),))
            elif int(version[0]) == 1:  # upgrade: the next index phase re-merges everything once to fill them
                if "group_id" not in {row[1] for row in db.execute("PRAGMA table_info(works)")}:
                    db.execute("ALTER TABLE works ADD COLUMN group_id TEXT")
                db.execute("UPDATE meta SET value = ? WHERE key = 'version'", (str(STORE_VERSION),))
                db.execute("INSERT OR REPLACE INTO meta VALUES ('edges', 'stale')")
            elif int(version[0]) != STORE_VERSION:
                raise HarvestStoreError(f"the harvest store {path} has version {version[0]}, this balis reads "
                                 f"{STORE_VERSION}; move it away and run 'balis harvest --full'")
            rules = db.execute("SELECT value FROM meta WHERE key = 'merge_rules'").fetchone()
            if rules is None or rules[0] != MERGE_RULES:
                if version is not None:  # merged by other matching rules: the next index phase re-merges it all
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('edges', 'stale')")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('merge_rules', ?)", (MERGE_RULES,))
        except sqlite3.DatabaseError as exc:
            raise HarvestStoreError(f"the harvest store {path} cannot be opened ({exc}); move it away and run "
                             "'balis harvest --full'") from None
        return cls(path, db)

    def close(self) -> None:
        self.db.close()

    def lock_member(self, member: str, since: object | None = None) -> None:
        """Nothing to do: the folder's lock keeps every other harvest out."""

    def unlock_member(self, member: str) -> None:
        """Nothing to do (see lock_member)."""

    def clock(self) -> object:
        return None

    def index_phase(self, waiting=None):
        return nullcontext(self)

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(STORE_NAME + "*") if p.is_file())

    # -- reading -----------------------------------------------------------------------------------------
    def known(self, member: str) -> tuple[dict[str, str], dict[str, str]]:
        """({hash: record_id}, {record_id: hash}) of a member's stored records."""
        by_hash: dict[str, str] = {}
        by_id: dict[str, str] = {}
        for rid, h in self.db.execute("SELECT record_id, hash FROM records WHERE member = ?", (member,)):
            by_hash[h] = rid
            by_id[rid] = h
        return by_hash, by_id

    def record_id_for_source(self, member: str, source_id: str) -> str | None:
        row = self.db.execute("SELECT record_id FROM records WHERE member = ? AND source_id = ?",
                              (member, source_id)).fetchone()
        return row[0] if row else None

    def count(self, member: str | None = None) -> int:
        if member is None:
            return self.db.execute("SELECT count(*) FROM records").fetchone()[0]
        return self.db.execute("SELECT count(*) FROM records WHERE member = ?", (member,)).fetchone()[0]

    def counts_per_member(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT member, count(*) FROM records GROUP BY member ORDER BY member"))

    def checkpoint(self, member: str) -> Checkpoint | None:
        return checkpoint_of(self.db.execute(f"SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE member = ?",
                                             (member,)).fetchone())

    def member_info(self, member: str) -> dict:
        return member_info_of(self.db.execute(f"SELECT {MEMBER_COLUMNS} FROM members WHERE member = ?",
                                              (member,)).fetchone())

    def members_info(self) -> dict[str, dict]:
        codes = [r[0] for r in self.db.execute("SELECT member FROM members ORDER BY member")]
        return {c: self.member_info(c) for c in codes}

    def pending_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM pending").fetchone()[0]

    def new_editions(self, after: str) -> tuple[dict[str, tuple[str, str]], str | None]:
        """Editions of the index whose every record was first harvested after `after` (ISO time, UTC), and
        after its member's first complete harvest into this store (`NEW_EDITIONS`): {work_id: (its first-seen
        time, one MEMBER:record_id of it)}; and the first-seen time of the oldest record not in the index yet
        (None: every record is), up to which the answer is complete."""
        db = self.db
        rows = db.execute(NEW_EDITIONS.format(records="records", members="members", p="?",
                                              none_held=f"max({IN_FIRST_HARVEST}) = 0"), (after, after)).fetchall()
        waiting = db.execute("SELECT min(first_seen) FROM records WHERE work_id IS NULL").fetchone()[0]
        return {w: (seen, key) for w, seen, key in rows}, waiting

    # -- writing one batch ---------------------------------------------------------------------------------
    def apply(self, member: str, *, upserts: Iterable[Upsert] = (), deletes: Iterable[str] = (),
              seen: Iterable[str] = (), checkpoint: Checkpoint | None = None) -> None:
        """Write new/changed records, deletions, the ids seen and the checkpoint in one transaction."""
        db = self.db
        stamp = now_iso()
        first_seen = first_seen_now()  # kept when the record changes later
        upserts = list(upserts)
        db.execute("BEGIN IMMEDIATE")
        try:
            old_work: dict[str, str | None] = {}
            ids = list(dict.fromkeys(up.record_id for up in upserts))
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                old_work.update(db.execute(
                    f"SELECT record_id, work_id FROM records WHERE member = ? AND record_id IN "
                    f"({','.join('?' * len(chunk))})", (member, *chunk)).fetchall())
            forgotten: set[str] = set()
            for up in upserts:
                if up.record_id in old_work and up.record_id not in forgotten:
                    self._forget_keys(member, up.record_id, old_work[up.record_id])
                    forgotten.add(up.record_id)
            db.executemany("INSERT OR IGNORE INTO pending VALUES (?, ?, NULL)",
                           [(member, rid) for rid in ids if rid not in old_work])
            db.executemany(
                "INSERT OR REPLACE INTO records (member, record_id, hash, source_id, datestamp, syntax, charset, "
                "raw, record, work_id, harvested, match_keys, match_rules, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, coalesce((SELECT first_seen FROM records WHERE member = ? AND record_id = ?), ?))",
                [(member, up.record_id, up.hash, up.source_id, up.datestamp, up.syntax, up.charset, up.raw,
                  up.pickled(), old_work.get(up.record_id), stamp, up.match, up.match_rules,
                  member, up.record_id, first_seen) for up in upserts])
            last = {up.record_id: up for up in upserts}  # the last version of a record sent twice wins
            keys = [(k, member, rid) for rid, up in last.items() for k in sorted(set(up.keys))]
            db.executemany("INSERT INTO record_keys VALUES (?, ?, ?)", keys)
            db.executemany("INSERT OR IGNORE INTO pending_keys VALUES (?)", [(k,) for k, _, _ in keys])
            for rid in deletes:
                old = db.execute("SELECT work_id FROM records WHERE member = ? AND record_id = ?",
                                 (member, rid)).fetchone()
                if old is None:
                    continue
                self._forget_keys(member, rid, old[0])
                db.execute("DELETE FROM records WHERE member = ? AND record_id = ?", (member, rid))
            db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?)", [(member, rid) for rid in seen])
            if checkpoint is not None:
                self._save_checkpoint(checkpoint)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _forget_keys(self, member: str, rid: str, work_id: str | None) -> None:
        """Before a record changes or goes: remember its work and its old keys for the index phase."""
        db = self.db
        db.execute("INSERT OR IGNORE INTO pending VALUES (?, ?, ?)", (member, rid, work_id))
        db.execute("INSERT OR IGNORE INTO pending_keys SELECT key FROM record_keys WHERE member = ? AND "
                   "record_id = ?", (member, rid))
        db.execute("DELETE FROM record_keys WHERE member = ? AND record_id = ?", (member, rid))

    def _save_checkpoint(self, cp: Checkpoint) -> None:
        self.db.execute("INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (cp.member, cp.protocol, cp.mode, cp.position, cp.token, cp.hits, cp.since, cp.next_from,
                         cp.started or now_iso(), json.dumps(cp.counts)))

    def start_member(self, cp: Checkpoint, *, fresh: bool) -> None:
        """Begin (fresh: forget an old checkpoint and the ids seen) or continue a member's pass."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        if fresh:
            db.execute("DELETE FROM seen WHERE member = ?", (cp.member,))
        self._save_checkpoint(cp)
        db.execute("INSERT INTO members (member, last_started) VALUES (?, ?) ON CONFLICT(member) DO UPDATE "
                   "SET last_started = excluded.last_started", (cp.member, now_iso()))
        db.execute("COMMIT")

    def unseen(self, member: str) -> list[str]:
        """A member's stored records not seen in the current full pass (deleted at the member)."""
        return [r[0] for r in self.db.execute(
            "SELECT record_id FROM records WHERE member = ? AND record_id NOT IN "
            "(SELECT record_id FROM seen WHERE member = ?) ORDER BY record_id", (member, member))]

    def finish_member(self, member: str, *, deletes: Iterable[str], status: str, report: dict,
                      next_from: str | None) -> None:
        """A member's pass is complete: delete what it no longer has, drop the checkpoint, record the run."""
        self.apply(member, deletes=deletes)
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM seen WHERE member = ?", (member,))
        db.execute("DELETE FROM checkpoints WHERE member = ?", (member,))
        db.execute("INSERT INTO members (member, last_finished, last_status, next_from, last_report, first_finished) "
                   "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(member) DO UPDATE SET last_finished = excluded.last_finished, "
                   "last_status = excluded.last_status, next_from = coalesce(excluded.next_from, members.next_from), "
                   "last_report = excluded.last_report, "
                   "first_finished = coalesce(members.first_finished, excluded.first_finished)",
                   (member, now_iso(), status, next_from, json.dumps(report, ensure_ascii=False),
                    first_seen_now()))
        db.execute("COMMIT")

    def fail_member(self, member: str, *, status: str, report: dict) -> None:
        """A member could not be (fully) harvested: keep its records and its checkpoint, record the failure."""
        self.db.execute("INSERT INTO members (member, last_status, last_report) VALUES (?, ?, ?) "
                        "ON CONFLICT(member) DO UPDATE SET last_status = excluded.last_status, "
                        "last_report = excluded.last_report",
                        (member, status, json.dumps(report, ensure_ascii=False)))

    # -- the index phase -----------------------------------------------------------------------------------
    # -- what a change touches (indexer/harvest.py re-merges it) -------------------------------------------
    def edges_ready(self) -> bool:
        """False after an upgrade from a store without scored pairs: everything is re-merged once."""
        return self.db.execute("SELECT value FROM meta WHERE key = 'edges'").fetchone() is None

    def seeds(self) -> tuple[set[tuple[str, str]], set[str], set[str]]:
        """(records a change touches directly, works the pending records were in, the pending keys): the
        pending records still held and the other records of those works; the keys pending records have or had."""
        db = self.db
        old_works = {r[0] for r in db.execute("SELECT old_work_id FROM pending WHERE old_work_id IS NOT NULL")}
        seeds = {(m, r) for m, r in db.execute(
            "SELECT p.member, p.record_id FROM pending p JOIN records r ON r.member = p.member AND "
            "r.record_id = p.record_id")}
        if old_works:
            seeds |= {(m, r) for m, r in db.execute(
                "SELECT member, record_id FROM records WHERE work_id IN (SELECT old_work_id FROM pending "
                "WHERE old_work_id IS NOT NULL)")}
        return seeds, old_works, {k for (k,) in db.execute("SELECT key FROM pending_keys")}

    def title_sizes(self) -> dict[str, int]:
        """How many records each title block held when the index was last written."""
        return dict(self.db.execute("SELECT key, size FROM title_sizes"))

    def record_works(self) -> dict[tuple[str, str], str]:
        """Every record's work as last indexed."""
        return {(m, r): w for m, r, w in self.db.execute(
            "SELECT member, record_id, work_id FROM records WHERE work_id IS NOT NULL")}

    def work_groups(self, work_ids: Iterable[str]) -> dict[str, str | None]:
        """The "other editions" group id each work has in the index."""
        ids = list(work_ids)
        out: dict[str, str | None] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out.update(self.db.execute(f"SELECT work_id, group_id FROM works WHERE work_id IN "
                                       f"({','.join('?' * len(chunk))})", chunk).fetchall())
        return out

    def fuzzy_blocks_over(self) -> dict[str, int]:
        """The remembered size of every fuzzy block past FUZZY_MAX (as the last index phase left them)."""
        marks = ", ".join("?" * len(FUZZY))
        return dict(self.db.execute(f"SELECT key, size FROM title_sizes WHERE substr(key, 1, 3) IN ({marks}) "
                                    "AND size > ?", (*FUZZY, FUZZY_MAX)).fetchall())

    def block_sizes(self) -> dict[str, int]:
        """The block sizes a merge of the whole store remembers: of every `title:` key, and of every fuzzy key
        (`dedup.cluster.FUZZY`) that more than FUZZY_MAX records have (its block is not compared)."""
        marks = ", ".join("?" * len(FUZZY))
        return dict(self.db.execute(
            "SELECT key, count(*) FROM record_keys WHERE substr(key, 1, 6) = 'title:' GROUP BY key UNION ALL "
            f"SELECT key, count(*) FROM record_keys WHERE substr(key, 1, 3) IN ({marks}) GROUP BY key "
            "HAVING count(*) > ?", (*FUZZY, FUZZY_MAX)).fetchall())

    def edges(self) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """The pairs that scored in the merges so far, both ways: record → records it may join."""
        out: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for m1, r1, m2, r2 in self.db.execute("SELECT m1, r1, m2, r2 FROM record_edges"):
            out.setdefault((m1, r1), []).append((m2, r2))
            out.setdefault((m2, r2), []).append((m1, r1))
        return out

    def works_of(self, records: Iterable[tuple[str, str]]) -> set[str]:
        """The works (as last indexed) these records are in."""
        db = self.db
        with self._recs(records):
            return {r[0] for r in db.execute(
                "SELECT DISTINCT r.work_id FROM q_recs q CROSS JOIN records r ON r.member = q.member AND "
                "r.record_id = q.record_id WHERE r.work_id IS NOT NULL")}

    @contextmanager
    def _listed(self, records: Iterable[tuple[str, str]]):
        """The records in the temporary table comp_keys for the queries inside, emptied afterwards."""
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS comp_keys (member TEXT, record_id TEXT)")
        db.execute("DELETE FROM comp_keys")
        db.executemany("INSERT INTO comp_keys VALUES (?, ?)", list(records))
        try:
            yield
        finally:
            db.execute("DELETE FROM comp_keys")

    # -- indexed look-ups for an incremental index phase (each reads only the rows asked about) --------------
    @contextmanager
    def _temp(self, name: str, columns: tuple[str, ...], rows: Iterable[tuple]):
        """`rows` in the temporary table `name` for the queries inside, emptied afterwards."""
        db = self.db
        own = not db.in_transaction  # filled in one transaction (row by row, each insert would be one)
        if own:
            db.execute("BEGIN")
        try:
            db.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({', '.join(f'{c} TEXT' for c in columns)})")
            db.execute(f"DELETE FROM {name}")
            db.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(columns))})", list(rows))
        finally:
            if own:
                db.execute("COMMIT")
        try:
            yield
        finally:
            db.execute(f"DELETE FROM {name}")

    def _recs(self, records: Iterable[tuple[str, str]]):
        return self._temp("q_recs", ("member", "record_id"), records)

    def _keys(self, keys: Iterable[str]):
        return self._temp("q_keys", ("key",), ((k,) for k in keys))

    def _works(self, work_ids: Iterable[str]):
        return self._temp("q_works", ("work_id",), ((w,) for w in work_ids))

    def pending_state(self) -> tuple[set[Rec], set[Rec], set[str], set[Rec], set[str]]:
        """(pending records still held, pending records withdrawn, works pending records were in, the other
        records of those works, the keys pending records have or had)."""
        db = self.db
        held, gone = set(), set()
        for m, r, there in db.execute(
                "SELECT p.member, p.record_id, r.rowid IS NOT NULL FROM pending p LEFT JOIN records r "
                "ON r.member = p.member AND r.record_id = p.record_id"):
            (held if there else gone).add((m, r))
        old_works = {r[0] for r in db.execute(
            "SELECT old_work_id FROM pending WHERE old_work_id IS NOT NULL")}
        with self._works(old_works):
            mates = {(m, r) for m, r in db.execute(
                "SELECT r.member, r.record_id FROM q_works w CROSS JOIN records r ON r.work_id = w.work_id")}
        return held, gone, old_works, mates, {k for (k,) in db.execute("SELECT key FROM pending_keys")}

    def keys_of(self, records: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
        """Each record's keys (records without keys are left out)."""
        out: dict[tuple[str, str], list[str]] = {}
        with self._recs(records):
            for m, r, key in self.db.execute(
                    "SELECT k.member, k.record_id, k.key FROM q_recs q CROSS JOIN record_keys k "
                    "ON k.member = q.member AND k.record_id = q.record_id"):
                out.setdefault((m, r), []).append(key)
        return out

    def records_with(self, keys: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """The records that have each key (keys no record has are left out)."""
        out: dict[str, list[tuple[str, str]]] = {}
        with self._keys(set(keys)):
            for key, m, r in self.db.execute(
                    "SELECT k.key, k.member, k.record_id FROM q_keys q "
                    "CROSS JOIN record_keys k ON k.key = q.key"):
                out.setdefault(key, []).append((m, r))
        return out

    def records_with_titleyear(self, keys: Iterable[str], undated: Iterable[str] = ()
                               ) -> dict[str, list[tuple[Rec, str | None]]]:
        """The records that have each key, each with its `titleyear:` key (None if it has none); for the keys
        `undated`, only the records whose title key has no year."""
        out: dict[str, list[tuple[Rec, str | None]]] = {}
        undated = set(undated)
        with self._keys(set(keys) | undated):
            for key, m, r, ty in self.db.execute(
                    "SELECT q.key, k.member, k.record_id, (SELECT t.key FROM record_keys t WHERE t.member = k.member "
                    "AND t.record_id = k.record_id AND substr(t.key, 1, 10) = 'titleyear:') "
                    "FROM q_keys q CROSS JOIN record_keys k ON k.key = q.key"):
                if key not in undated or (ty is not None and ty.endswith("|-")):
                    out.setdefault(key, []).append(((m, r), ty))
        return out

    def key_counts(self, keys: Iterable[str]) -> dict[str, int]:
        """How many records have each key now (keys no record has are left out)."""
        with self._keys(set(keys)):
            return {k: n for k, n in self.db.execute(
                "SELECT q.key, (SELECT count(*) FROM record_keys k WHERE k.key = q.key) FROM q_keys q") if n}

    def title_sizes_of(self, keys: Iterable[str]) -> dict[str, int]:
        """`title_sizes` for these keys only."""
        with self._keys(set(keys)):
            return dict(self.db.execute(
                "SELECT t.key, t.size FROM q_keys q CROSS JOIN title_sizes t ON t.key = q.key"))

    def pairs_of(self, records: Iterable[Rec]) -> tuple[dict[Rec, set[Rec]], set[Rec]]:
        """({record: the held records it has a stored scored pair with}, records named by those pairs that
        are no longer held)."""
        out: dict[tuple[str, str], set[tuple[str, str]]] = {}
        gone: set[tuple[str, str]] = set()
        with self._recs(records):
            for m, r, m2, r2, there in self.db.execute(
                    "SELECT q.member, q.record_id, e.m2, e.r2, x.rowid IS NOT NULL FROM q_recs q "
                    "CROSS JOIN record_edges e ON e.m1 = q.member AND e.r1 = q.record_id "
                    "LEFT JOIN records x ON x.member = e.m2 AND x.record_id = e.r2 "
                    "UNION ALL "
                    "SELECT q.member, q.record_id, e.m1, e.r1, x.rowid IS NOT NULL FROM q_recs q "
                    "CROSS JOIN record_edges e ON e.m2 = q.member AND e.r2 = q.record_id "
                    "LEFT JOIN records x ON x.member = e.m1 AND x.record_id = e.r1"):
                if there:
                    out.setdefault((m, r), set()).add((m2, r2))
                else:
                    gone.add((m2, r2))
        return out, gone

    def keyed_works(self, keys: Iterable[str]) -> list[tuple[str, tuple[str, str], str | None]]:
        """(key, record, its work as last indexed) for every record with one of these keys."""
        with self._keys(set(keys)):
            return [(key, (m, r), w) for key, m, r, w in self.db.execute(
                "SELECT k.key, k.member, k.record_id, r.work_id FROM q_keys q "
                "CROSS JOIN record_keys k ON k.key = q.key "
                "CROSS JOIN records r ON r.member = k.member AND r.record_id = k.record_id")]

    def work_keys(self, work_ids: Iterable[str], prefix: str) -> dict[str, set[str]]:
        """The keys starting with `prefix` of the records of each work (as last indexed)."""
        out: dict[str, set[str]] = {}
        with self._works(set(work_ids)):
            for w, key in self.db.execute(
                    "SELECT r.work_id, k.key FROM q_works q CROSS JOIN records r ON r.work_id = q.work_id "
                    "CROSS JOIN record_keys k ON k.member = r.member AND k.record_id = r.record_id "
                    "WHERE substr(k.key, 1, ?) = ?", (len(prefix), prefix)):
                out.setdefault(w, set()).add(key)
        return out

    def records_of_works(self, work_ids: Iterable[str]) -> list[tuple[tuple[str, str], str]]:
        """(record, work) for every record of these works (as last indexed)."""
        with self._works(set(work_ids)):
            return [((m, r), w) for m, r, w in self.db.execute(
                "SELECT r.member, r.record_id, r.work_id FROM q_works q "
                "CROSS JOIN records r ON r.work_id = q.work_id")]

    def indexed_works(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT work_id FROM works")}

    def has_indexed(self) -> bool:
        """Whether an index phase of this store has written editions."""
        return self.db.execute("SELECT 1 FROM works LIMIT 1").fetchone() is not None

    def all_keys(self) -> list[tuple[str, str]]:
        return [(m, r) for m, r in self.db.execute("SELECT member, record_id FROM records ORDER BY member, record_id")]

    def load(self, keys: list[tuple[str, str]], renormalise) -> Iterator[Record]:
        """The normalised records of `keys`, in that order (re-normalised from the raw record if the kept
        one cannot be read back, e.g. after an upgrade changed the record model)."""
        for member, record_id, blob in self._in_order("q.member, q.record_id, r.record", keys):
            rec = kept(blob, Record)
            if rec is None:
                raw, syntax, charset = self.db.execute(
                    "SELECT raw, syntax, charset FROM records WHERE member = ? AND record_id = ?",
                    (member, record_id)).fetchone()
                rec = renormalise(member, record_id, raw, syntax, charset)
            yield rec

    def match_blobs(self, keys: list[tuple[str, str]]) -> Iterator[tuple[bytes | None, str]]:
        """Each record's kept match keys (`match_of`; None when none were kept under the running MERGE_RULES)
        and its content hash, in the order of `keys`."""
        return self._in_order("CASE WHEN r.match_rules = ? THEN r.match_keys END, r.hash", keys, (MERGE_RULES,))

    def _in_order(self, columns: str, keys: list[tuple[str, str]], params: tuple = ()) -> Iterator[tuple]:
        """`columns` (of `q`, the records asked, and `r`, their rows) of each stored record of `keys`, in that
        order: one indexed join per LOAD_CHUNK records."""
        keys = list(keys)
        for i in range(0, len(keys), LOAD_CHUNK):
            with self._temp("q_load", ("member", "record_id"), keys[i:i + LOAD_CHUNK]):
                rows = self.db.execute(
                    f"SELECT {columns} FROM q_load q CROSS JOIN records r ON r.member = q.member AND "
                    "r.record_id = q.record_id ORDER BY q.rowid", params).fetchall()
            yield from rows

    def put_match(self, rows: Iterable[tuple[str, str, str, bytes]]) -> int:
        """Keep match keys made anew under the running MERGE_RULES: (member, record_id, hash, match_blob) each,
        written only where the record's hash is still the one keyed. Returns how many were written."""
        db = self.db
        rows = list(rows)
        db.execute("BEGIN IMMEDIATE")
        try:
            before = db.total_changes
            db.executemany("UPDATE records SET match_keys = ?, match_rules = ? WHERE member = ? AND record_id = ? "
                           "AND hash = ?", [(blob, MERGE_RULES, m, r, h) for m, r, h, blob in rows])
            written = db.total_changes - before
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return written

    def work_digests(self, work_ids: Iterable[str]) -> dict[str, str]:
        """The digest of each work as the index holds it (what the last index write put there)."""
        ids = list(work_ids)
        out: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out.update(self.db.execute(f"SELECT work_id, digest FROM works WHERE work_id IN "
                                       f"({','.join('?' * len(chunk))})", chunk).fetchall())
        return out

    def mark_indexed(self, assignment: dict[tuple[str, str], str], *, digests: dict[str, str] | None = None,
                     removed: Iterable[str] = (), replace_all: bool = False,
                     edges: list[tuple[tuple[str, str], tuple[str, str]]] | None = None,
                     keys: dict[tuple[str, str], list[str]] | None = None, groups: dict[str, str] | None = None,
                     sizes: dict[str, int] | None = None, forget: Iterable[tuple[str, str]] = ()) -> None:
        """After the index commit: remember each record's work and each work's digest, clear the pending lists.

        `edges`: the scored pairs among the records of `assignment` (re-merged): they replace every stored
        pair touching those records (all pairs when everything was re-merged). `keys`: every record's keys,
        rewritten (the one re-merge after an upgrade). `groups`: the group id of each work written. `sizes`:
        title block sizes now (all of them when everything was re-merged; the changed ones otherwise).
        `forget`: withdrawn records whose stored pairs go too."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            if edges is not None:
                if replace_all or keys is not None:
                    db.execute("DELETE FROM record_edges")
                else:
                    with self._listed([*assignment, *forget]):
                        db.execute("DELETE FROM record_edges WHERE (m1, r1) IN (SELECT member, record_id FROM "
                                   "comp_keys) OR (m2, r2) IN (SELECT member, record_id FROM comp_keys)")
                db.executemany("INSERT INTO record_edges VALUES (?, ?, ?, ?)",
                               [(a[0], a[1], b[0], b[1]) for a, b in edges])
            if keys is not None:
                db.execute("DELETE FROM record_keys")
                db.executemany("INSERT INTO record_keys VALUES (?, ?, ?)",
                               [(k, m, r) for (m, r), ks in keys.items() for k in ks])
                db.execute("DELETE FROM meta WHERE key = 'edges'")
            if replace_all:
                db.execute("DELETE FROM works")
            if sizes is not None:
                if replace_all or keys is not None:
                    db.execute("DELETE FROM title_sizes")
                db.executemany("INSERT OR REPLACE INTO title_sizes VALUES (?, ?)", list(sizes.items()))
            db.executemany("DELETE FROM works WHERE work_id = ?", [(w,) for w in removed])
            db.executemany("INSERT OR REPLACE INTO works VALUES (?, ?, ?)",
                           [(w, d, (groups or {}).get(w)) for w, d in (digests or {}).items()])
            db.executemany("UPDATE records SET work_id = ? WHERE member = ? AND record_id = ? AND "
                           "work_id IS NOT ?", [(w, m, r, w) for (m, r), w in assignment.items()])
            db.execute("DELETE FROM pending")
            db.execute("DELETE FROM pending_keys")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def changes_total(self) -> int:
        return self.db.total_changes
