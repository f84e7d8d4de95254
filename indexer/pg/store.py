"""The harvest store in the union index's PostgreSQL database (tables `harvest_*`, migration 0002).

The same store as `indexer.store.HarvestStore` (records, blocking keys, scored pairs, checkpoints, what changed
since the index was written), so that one database holds everything and several harvest processes, on one
machine or several, can fill it at once:

- **one process per member**: a member's pass holds a session advisory lock named after the member
  (`lock_member`); a second process asking for it is told who holds it and skips it. PostgreSQL drops the lock
  when the holder's connection ends, even after kill -9.
- **one index phase at a time** (`index_phase`): it waits for the one running, then reads a consistent
  snapshot (REPEATABLE READ) of every member's committed batches. The batches hold the merge lock shared;
  the index phase takes it exclusively only for a moment, to fix the boundary of what it merges (the
  `harvest_pending_seq` value), and again to clear exactly that in `mark_indexed`. A record a harvest changes
  while an index phase runs keeps its pending row (a later sequence number) and the edition that phase put it
  in is listed in `harvest_pending_works`, so the next index phase re-merges both.

Batches of records are written with COPY into a temporary table and merged into the store in one statement.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

from dedup import MERGE_RULES
from dedup.cluster import FUZZY, FUZZY_MAX
from indexer.errors import HarvestStoreError, LocalIndexError
from indexer.pg.index import WRITER_LOCK, connect, head_revision, import_snapshot, shown, upgrade
from indexer.schema import work_digest
from indexer.store import (
    CHECKPOINT_COLUMNS,
    IN_FIRST_HARVEST,
    LOAD_CHUNK,
    MEMBER_COLUMNS,
    NEW_EDITIONS,
    STORE_VERSION,
    Checkpoint,
    Rec,
    Upsert,
    checkpoint_of,
    kept,
    member_info_of,
    now_iso,
)
from records.model import Record

MEMBER_LOCKS = 0x62616C  # classid of the per-member advisory locks (objid: hashtext of the member code)
MERGE_LOCK = WRITER_LOCK + 2  # batches hold it shared; the index phase exclusively to fix its boundary
PHASE_LOCK = WRITER_LOCK + 3  # held for a whole index phase: one at a time
# now as a record's first-seen time is written (UTC ISO 8601 with microseconds, compared as text; migration 0003)
FIRST_SEEN_NOW = """to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""

_RECORD_COLUMNS = ("member", "record_id", "hash", "source_id", "datestamp", "syntax", "charset", "raw", "record",
                   "harvested", "match_keys", "match_rules")


class MemberBusy(Exception):
    """Another harvest process is fetching this member now (the message names it)."""


class PgHarvestStore:
    """Open with `PgHarvestStore.open(url)`; any number of processes at once, one per member."""

    digests_in_index = True  # the union index's editions are in the same database

    def __init__(self, location: str, conn: psycopg.Connection) -> None:
        self.location = location
        self.path = shown(location)
        self.db = conn
        self._snapshot = None  # the index phase's read transaction
        self._boundary: int | None = None  # the last pending sequence number the index phase merges
        self._indexed = False  # an index phase has written to this store, or was running (`_unindexed`)
        self._upsert_table = False  # this connection's temporary table for batches of records exists

    @classmethod
    def open(cls, location: str, *, create: bool = True) -> PgHarvestStore:
        try:
            conn = connect(location)
        except LocalIndexError as exc:
            raise HarvestStoreError(str(exc)) from None
        try:
            found = conn.execute("SELECT to_regclass('index_alembic_version') IS NOT NULL").fetchone()[0]
            current = conn.execute("SELECT version_num FROM index_alembic_version").fetchone() if found else None
            if current is None and not create:
                raise HarvestStoreError(f"no harvest store in the database {shown(location)}; run "
                                        "'balis harvest --index URL' first")
            if current is None or current[0] != head_revision():
                upgrade(location)
            with conn.transaction():
                conn.execute("LOCK TABLE harvest_meta IN SHARE ROW EXCLUSIVE MODE")  # two processes opening it
                got = dict(conn.execute("SELECT key, value FROM harvest_meta").fetchall())
                if "version" not in got:
                    conn.execute("INSERT INTO harvest_meta VALUES ('version', %s)", (str(STORE_VERSION),))
                elif int(got["version"]) != STORE_VERSION:
                    raise HarvestStoreError(f"the harvest store in {shown(location)} has version {got['version']}, "
                                            f"this balis reads {STORE_VERSION}; upgrade balis on this machine")
                if got.get("merge_rules") != MERGE_RULES:
                    if "version" in got:  # merged by other matching rules: the next index phase re-merges all
                        conn.execute("INSERT INTO harvest_meta VALUES ('edges', 'stale') ON CONFLICT (key) DO "
                                     "UPDATE SET value = excluded.value")
                    conn.execute("INSERT INTO harvest_meta VALUES ('merge_rules', %s) ON CONFLICT (key) DO UPDATE "
                                 "SET value = excluded.value", (MERGE_RULES,))
        except HarvestStoreError:
            conn.close()
            raise
        except (psycopg.Error, LocalIndexError) as exc:
            conn.close()
            raise HarvestStoreError(f"the harvest store in {shown(location)} cannot be opened "
                                    f"({str(exc).strip()})") from None
        return cls(location, conn)

    def close(self) -> None:
        self.db.close()

    # -- several processes ---------------------------------------------------------------------------------
    def clock(self) -> object:
        """The database's time now: members finished after it were harvested by another process of this run."""
        return self.db.execute("SELECT clock_timestamp()").fetchone()[0]

    def lock_member(self, member: str, since: object | None = None) -> None:
        """Take the member for this process; MemberBusy when another process is fetching it, or finished it
        after `since` (the start of this run: it was harvested once in this round already)."""
        got = self.db.execute("SELECT pg_try_advisory_lock(%s::int, hashtext(%s))", (MEMBER_LOCKS, member)).fetchone()[0]
        if not got:
            row = self.db.execute(
                "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = CAST(%s AS oid) "
                "AND l.objid = CAST(hashtext(%s)::bigint & 4294967295 AS oid)", (MEMBER_LOCKS, member)).fetchone()
            who = (f"database process {row[0]}, client {row[1] or 'local'}, connected "
                   f"{row[2]:%Y-%m-%dT%H:%M:%S%z}" if row else "another process")
            raise MemberBusy(f"another harvest is fetching it now ({who}); it is harvested there")
        if since is not None:
            row = self.db.execute("SELECT last_finished FROM harvest_members WHERE member = %s AND finished_at > %s",
                                  (member, since)).fetchone()
            if row is not None:
                self.unlock_member(member)
                raise MemberBusy(f"another harvest fetched it at {row[0]}, after this one started")

    def unlock_member(self, member: str) -> None:
        self.db.execute("SELECT pg_advisory_unlock(%s::int, hashtext(%s))", (MEMBER_LOCKS, member))

    @contextmanager
    def index_phase(self, waiting=None):
        """One index phase at a time (waits for a running one; `waiting(text)` is told), reading one snapshot
        of every batch committed when it starts. `mark_indexed` ends the snapshot."""
        db = self.db
        if not db.execute("SELECT pg_try_advisory_lock(%s)", (PHASE_LOCK,)).fetchone()[0]:
            if waiting is not None:
                waiting("另一采集进程正在写索引，等待 waiting for another harvest's index phase")
            db.execute("SELECT pg_advisory_lock(%s)", (PHASE_LOCK,))
        try:
            db.execute("SELECT pg_advisory_lock(%s)", (MERGE_LOCK,))  # no batch in flight: a clean boundary
            try:
                self._snapshot = db.transaction()
                self._snapshot.__enter__()
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                self._boundary = db.execute("SELECT CASE WHEN is_called THEN last_value ELSE 0 END "
                                            "FROM harvest_pending_seq").fetchone()[0]
            finally:
                db.execute("SELECT pg_advisory_unlock(%s)", (MERGE_LOCK,))
            yield self
        finally:
            self._end_snapshot(*sys.exc_info())
            self._boundary = None
            if not db.closed:
                db.execute("SELECT pg_advisory_unlock(%s)", (PHASE_LOCK,))

    def export_snapshot(self) -> str:
        """The index phase's snapshot, for other connections to read the same records (`planned_works`)."""
        if self._snapshot is None:
            raise HarvestStoreError("the harvest store's snapshot is exported only during an index phase")
        return self.db.execute("SELECT pg_export_snapshot()").fetchone()[0]

    def _end_snapshot(self, *exc) -> None:
        snap, self._snapshot = self._snapshot, None
        if snap is not None and not self.db.closed:
            snap.__exit__(*(exc or (None, None, None)))

    # -- reading -----------------------------------------------------------------------------------------
    def _rows(self, sql: str, params=()) -> list[tuple]:
        return self.db.execute(sql, params).fetchall()

    def known(self, member: str) -> tuple[dict[str, str], dict[str, str]]:
        by_hash: dict[str, str] = {}
        by_id: dict[str, str] = {}
        with self.db.cursor() as cur:
            for rid, h in cur.execute("SELECT record_id, hash FROM harvest_records WHERE member = %s", (member,)):
                by_hash[h] = rid
                by_id[rid] = h
        return by_hash, by_id

    def record_id_for_source(self, member: str, source_id: str) -> str | None:
        row = self.db.execute("SELECT record_id FROM harvest_records WHERE member = %s AND source_id = %s LIMIT 1",
                              (member, source_id)).fetchone()
        return row[0] if row else None

    def count(self, member: str | None = None) -> int:
        if member is None:
            return self.db.execute("SELECT count(*) FROM harvest_records").fetchone()[0]
        return self.db.execute("SELECT count(*) FROM harvest_records WHERE member = %s", (member,)).fetchone()[0]

    def counts_per_member(self) -> dict[str, int]:
        return dict(self._rows("SELECT member, count(*) FROM harvest_records GROUP BY member ORDER BY member"))

    def size_bytes(self) -> int:
        return self.db.execute(
            "SELECT CAST(coalesce(sum(pg_total_relation_size(c.oid)), 0) AS bigint) FROM pg_class c JOIN pg_namespace n ON "
            "n.oid = c.relnamespace WHERE c.relkind = 'r' AND c.relname LIKE 'harvest\\_%%' AND "
            "n.nspname = current_schema()").fetchone()[0]

    def checkpoint(self, member: str) -> Checkpoint | None:
        return checkpoint_of(self.db.execute(
            f"SELECT {CHECKPOINT_COLUMNS} FROM harvest_checkpoints WHERE member = %s", (member,)).fetchone())

    def member_info(self, member: str) -> dict:
        return member_info_of(self.db.execute(f"SELECT {MEMBER_COLUMNS} FROM harvest_members WHERE member = %s",
                                              (member,)).fetchone())

    def members_info(self) -> dict[str, dict]:
        codes = [r[0] for r in self._rows("SELECT member FROM harvest_members ORDER BY member")]
        return {c: self.member_info(c) for c in codes}

    def pending_count(self) -> int:
        return self.db.execute(f"SELECT count(*) FROM harvest_pending WHERE true{self._upto()}").fetchone()[0]

    def new_editions(self, after: str) -> tuple[dict[str, tuple[str, str]], str | None]:
        """As HarvestStore.new_editions: editions whose every record was first harvested after `after` and after
        its member's first complete harvest into this store, and the first-seen time of the oldest record not in
        the index yet."""
        rows = self._rows(NEW_EDITIONS.format(records="harvest_records", members="harvest_members", p="%s",
                                              none_held=f"NOT bool_or({IN_FIRST_HARVEST})"), (after, after))
        waiting = self._rows("SELECT min(first_seen) FROM harvest_records WHERE work_id IS NULL")[0][0]
        return {w: (seen, key) for w, seen, key in rows}, waiting

    # -- writing one batch ---------------------------------------------------------------------------------
    @contextmanager
    def _batch(self):
        """One transaction holding the merge lock shared (an index phase fixing its boundary waits for it)."""
        with self.db.transaction(), self.db.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (MERGE_LOCK,))
            yield cur

    def apply(self, member: str, *, upserts: Iterable[Upsert] = (), deletes: Iterable[str] = (),
              seen: Iterable[str] = (), checkpoint: Checkpoint | None = None) -> None:
        """Write new/changed records, deletions, the ids seen and the checkpoint in one transaction."""
        stamp = now_iso()
        last = {up.record_id: up for up in upserts}  # the last version of a record sent twice wins
        deletes = [rid for rid in dict.fromkeys(deletes) if rid not in last]
        seen = list(dict.fromkeys(seen))
        with self._batch() as cur:
            ids = list(last)
            old = {r: w for r, w in cur.execute(
                "SELECT record_id, work_id FROM harvest_records WHERE member = %s AND record_id = ANY(%s) "
                "FOR UPDATE", (member, ids)).fetchall()} if ids else {}
            gone = {r: w for r, w in cur.execute(
                "SELECT record_id, work_id FROM harvest_records WHERE member = %s AND record_id = ANY(%s) "
                "FOR UPDATE", (member, deletes)).fetchall()} if deletes else {}
            forget = {**old, **gone}
            unindexed = self._unindexed(cur)
            if forget:
                self._forget(cur, member, forget, keys=not unindexed)
            new = [rid for rid in ids if rid not in old]
            if new:
                cur.execute("INSERT INTO harvest_pending (member, record_id) SELECT %s, unnest(%s::text[]) "
                            "ON CONFLICT (member, record_id) DO UPDATE SET seq = nextval('harvest_pending_seq')",
                            (member, new))
            if last:
                if not self._upsert_table:  # made once a connection (a statement less per batch)
                    cur.execute("CREATE TEMP TABLE IF NOT EXISTS q_upsert (LIKE harvest_records INCLUDING DEFAULTS) "
                                "ON COMMIT DELETE ROWS")
                with cur.copy(f"COPY q_upsert ({', '.join(_RECORD_COLUMNS)}) FROM STDIN") as copy:
                    for up in last.values():
                        copy.write_row((member, up.record_id, up.hash, up.source_id, up.datestamp, up.syntax,
                                        up.charset, up.raw, up.pickled(), stamp, up.match, up.match_rules))
                columns = ", ".join(_RECORD_COLUMNS)
                cur.execute(f"INSERT INTO harvest_records ({columns}) SELECT {columns} FROM q_upsert "
                            "ON CONFLICT (member, record_id) DO UPDATE SET "
                            + ", ".join(f"{c} = excluded.{c}" for c in _RECORD_COLUMNS[2:]))
                pending_keys: set[str] = set()
                with cur.copy("COPY harvest_record_keys (key, member, record_id) FROM STDIN") as copy:
                    for rid, up in last.items():
                        ks = dict.fromkeys(up.keys)
                        pending_keys.update(ks)
                        for k in ks:
                            copy.write_row((k, member, rid))
                if not unindexed:
                    self._pending_keys(cur, sorted(pending_keys))
            if gone:
                cur.execute("DELETE FROM harvest_records WHERE member = %s AND record_id = ANY(%s)",
                            (member, list(gone)))
            if seen:
                cur.execute("INSERT INTO harvest_seen SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING",
                            (member, seen))
            if checkpoint is not None:
                self._save_checkpoint(cur, checkpoint)
        self._upsert_table = self._upsert_table or bool(last)  # committed: the temporary table stays

    @staticmethod
    def _pending_keys(cur, keys: list[str]) -> None:
        if keys:
            cur.execute("INSERT INTO harvest_pending_keys (key) SELECT unnest(%s::text[]) ON CONFLICT (key) "
                        "DO UPDATE SET seq = nextval('harvest_pending_seq')", (keys,))

    def _unindexed(self, cur) -> bool:
        """True while no index phase has written anything and none is running: every index phase that can see
        this batch then rebuilds the index from the whole store, and needs no pending keys. Asked while the
        batch holds the merge lock (a phase starting now fixes its boundary after this batch); once an index
        is written, not asked again."""
        if self._indexed:
            return False
        self._indexed = cur.execute(
            "SELECT EXISTS (SELECT 1 FROM harvest_works) OR EXISTS (SELECT 1 FROM pg_locks WHERE locktype = "
            "'advisory' AND granted AND classid = CAST(%s AS oid) AND objid = CAST(%s AS oid) AND objsubid = 1)",
            (PHASE_LOCK >> 32, PHASE_LOCK & 0xFFFFFFFF)).fetchone()[0]
        return not self._indexed

    def _forget(self, cur, member: str, works: dict[str, str | None], keys: bool = True) -> None:
        """Before records change or go: remember their works and (`keys`) their old keys for the index phase."""
        rids = list(works)
        cur.execute("INSERT INTO harvest_pending (member, record_id, old_work_id) "
                    "SELECT %s, r, w FROM unnest(%s::text[], %s::text[]) AS q(r, w) ON CONFLICT (member, record_id) "
                    "DO UPDATE SET seq = nextval('harvest_pending_seq')", (member, rids, [works[r] for r in rids]))
        if not keys:
            cur.execute("DELETE FROM harvest_record_keys WHERE member = %s AND record_id = ANY(%s)", (member, rids))
            return
        old = [k for (k,) in cur.execute("DELETE FROM harvest_record_keys WHERE member = %s AND record_id = ANY(%s) "
                                         "RETURNING key", (member, rids)).fetchall()]
        self._pending_keys(cur, sorted(set(old)))

    @staticmethod
    def _save_checkpoint(cur, cp: Checkpoint) -> None:
        cur.execute(
            "INSERT INTO harvest_checkpoints VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (member) "
            "DO UPDATE SET protocol = excluded.protocol, mode = excluded.mode, position = excluded.position, "
            "token = excluded.token, hits = excluded.hits, since = excluded.since, next_from = excluded.next_from, "
            "started = excluded.started, counts = excluded.counts",
            (cp.member, cp.protocol, cp.mode, cp.position, cp.token, cp.hits, cp.since, cp.next_from,
             cp.started or now_iso(), json.dumps(cp.counts)))

    def start_member(self, cp: Checkpoint, *, fresh: bool) -> None:
        with self.db.transaction(), self.db.cursor() as cur:
            if fresh:
                cur.execute("DELETE FROM harvest_seen WHERE member = %s", (cp.member,))
            self._save_checkpoint(cur, cp)
            cur.execute("INSERT INTO harvest_members (member, last_started) VALUES (%s, %s) ON CONFLICT (member) "
                        "DO UPDATE SET last_started = excluded.last_started", (cp.member, now_iso()))

    def unseen(self, member: str) -> list[str]:
        # a set difference (hashed or sorted once), not an anti-join, whose plan rests on statistics that a
        # first pass has just made stale: the anti-join took 27 s for 15 members of 5,000 records
        return [r[0] for r in self._rows(
            "SELECT record_id FROM harvest_records WHERE member = %s EXCEPT "
            "SELECT record_id FROM harvest_seen WHERE member = %s ORDER BY 1", (member, member))]

    def finish_member(self, member: str, *, deletes: Iterable[str], status: str, report: dict,
                      next_from: str | None) -> None:
        self.apply(member, deletes=deletes)
        with self.db.transaction(), self.db.cursor() as cur:
            cur.execute("DELETE FROM harvest_seen WHERE member = %s", (member,))
            cur.execute("DELETE FROM harvest_checkpoints WHERE member = %s", (member,))
            cur.execute(
                "INSERT INTO harvest_members (member, last_finished, last_status, next_from, last_report, finished_at, "
                f"first_finished) VALUES (%s, %s, %s, %s, %s, clock_timestamp(), {FIRST_SEEN_NOW}) ON CONFLICT (member) "
                "DO UPDATE SET last_finished = excluded.last_finished, last_status = excluded.last_status, next_from = "
                "coalesce(excluded.next_from, harvest_members.next_from), last_report = excluded.last_report, "
                "finished_at = excluded.finished_at, "
                "first_finished = coalesce(harvest_members.first_finished, excluded.first_finished)",
                (member, now_iso(), status, next_from, json.dumps(report, ensure_ascii=False)))

    def fail_member(self, member: str, *, status: str, report: dict) -> None:
        self.db.execute("INSERT INTO harvest_members (member, last_status, last_report) VALUES (%s, %s, %s) "
                        "ON CONFLICT (member) DO UPDATE SET last_status = excluded.last_status, "
                        "last_report = excluded.last_report", (member, status, json.dumps(report, ensure_ascii=False)))

    # -- the index phase: what a change touches ---------------------------------------------------------------
    def _upto(self) -> str:
        """The condition on pending rows' `seq` of this index phase (all of them outside one)."""
        return "" if self._boundary is None else f" AND seq <= {int(self._boundary)}"

    def edges_ready(self) -> bool:
        return self.db.execute("SELECT 1 FROM harvest_meta WHERE key = 'edges'").fetchone() is None

    def pending_state(self) -> tuple[set[Rec], set[Rec], set[str], set[Rec], set[str]]:
        held, gone = set(), set()
        for m, r, there in self._rows(
                "SELECT p.member, p.record_id, r.member IS NOT NULL FROM harvest_pending p LEFT JOIN harvest_records r "
                f"ON r.member = p.member AND r.record_id = p.record_id WHERE true{self._upto()}"):
            (held if there else gone).add((m, r))
        old_works = {r[0] for r in self._rows(
            f"SELECT old_work_id FROM harvest_pending WHERE old_work_id IS NOT NULL{self._upto()} UNION "
            f"SELECT work_id FROM harvest_pending_works WHERE true{self._upto()}")}
        mates = {(m, r) for m, r in self._rows(
            "SELECT member, record_id FROM harvest_records WHERE work_id = ANY(%s)", (list(old_works),))}
        keys = {k for (k,) in self._rows(f"SELECT key FROM harvest_pending_keys WHERE true{self._upto()}")}
        return held, gone, old_works, mates, keys

    @staticmethod
    def _pair(records: Iterable[Rec]) -> tuple[list[str], list[str]]:
        ms, rs = [], []
        for m, r in records:
            ms.append(m)
            rs.append(r)
        return ms, rs

    def keys_of(self, records: Iterable[Rec]) -> dict[Rec, list[str]]:
        out: dict[Rec, list[str]] = {}
        for m, r, key in self._rows(
                "SELECT k.member, k.record_id, k.key FROM unnest(%s::text[], %s::text[]) AS q(member, record_id) "
                "JOIN harvest_record_keys k ON k.member = q.member AND k.record_id = q.record_id",
                self._pair(set(records))):
            out.setdefault((m, r), []).append(key)
        return out

    def records_with(self, keys: Iterable[str]) -> dict[str, list[Rec]]:
        out: dict[str, list[Rec]] = {}
        for key, m, r in self._rows("SELECT key, member, record_id FROM harvest_record_keys WHERE key = ANY(%s)",
                                    (list(set(keys)),)):
            out.setdefault(key, []).append((m, r))
        return out

    def records_with_titleyear(self, keys: Iterable[str], undated: Iterable[str] = ()
                               ) -> dict[str, list[tuple[Rec, str | None]]]:
        # a join (hashed: the title keys once), not a look-up per row; a record has one `titleyear:` key
        out: dict[str, list[tuple[Rec, str | None]]] = {}
        for key, m, r, ty in self._rows(
                "SELECT k.key, k.member, k.record_id, t.key FROM harvest_record_keys k LEFT JOIN harvest_record_keys t "
                "ON t.member = k.member AND t.record_id = k.record_id AND starts_with(t.key, 'titleyear:') "
                "WHERE k.key = ANY(%s) UNION ALL "
                "SELECT k.key, k.member, k.record_id, t.key FROM harvest_record_keys k JOIN harvest_record_keys t "
                "ON t.member = k.member AND t.record_id = k.record_id AND starts_with(t.key, 'titleyear:') "
                "AND right(t.key, 2) = '|-' WHERE k.key = ANY(%s)", (list(set(keys)), list(set(undated)))):
            out.setdefault(key, []).append(((m, r), ty))
        return out

    def key_counts(self, keys: Iterable[str]) -> dict[str, int]:
        return dict(self._rows("SELECT key, count(*) FROM harvest_record_keys WHERE key = ANY(%s) GROUP BY key",
                               (list(set(keys)),)))

    def title_sizes_of(self, keys: Iterable[str]) -> dict[str, int]:
        return dict(self._rows("SELECT key, size FROM harvest_title_sizes WHERE key = ANY(%s)", (list(set(keys)),)))

    def pairs_of(self, records: Iterable[Rec]) -> tuple[dict[Rec, set[Rec]], set[Rec]]:
        out: dict[Rec, set[Rec]] = {}
        gone: set[Rec] = set()
        for m, r, m2, r2, there in self._rows(
                "WITH q AS (SELECT * FROM unnest(%s::text[], %s::text[]) AS q(member, record_id)) "
                "SELECT q.member, q.record_id, e.m2, e.r2, x.member IS NOT NULL FROM q "
                "JOIN harvest_edges e ON e.m1 = q.member AND e.r1 = q.record_id "
                "LEFT JOIN harvest_records x ON x.member = e.m2 AND x.record_id = e.r2 "
                "UNION ALL "
                "SELECT q.member, q.record_id, e.m1, e.r1, x.member IS NOT NULL FROM q "
                "JOIN harvest_edges e ON e.m2 = q.member AND e.r2 = q.record_id "
                "LEFT JOIN harvest_records x ON x.member = e.m1 AND x.record_id = e.r1", self._pair(set(records))):
            if there:
                out.setdefault((m, r), set()).add((m2, r2))
            else:
                gone.add((m2, r2))
        return out, gone

    def keyed_works(self, keys: Iterable[str]) -> list[tuple[str, Rec, str | None]]:
        return [(key, (m, r), w) for key, m, r, w in self._rows(
            "SELECT k.key, k.member, k.record_id, r.work_id FROM harvest_record_keys k JOIN harvest_records r "
            "ON r.member = k.member AND r.record_id = k.record_id WHERE k.key = ANY(%s)", (list(set(keys)),))]

    def work_keys(self, work_ids: Iterable[str], prefix: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for w, key in self._rows(
                "SELECT r.work_id, k.key FROM harvest_records r JOIN harvest_record_keys k ON k.member = r.member "
                "AND k.record_id = r.record_id WHERE r.work_id = ANY(%s) AND starts_with(k.key, %s)",
                (list(set(work_ids)), prefix)):
            out.setdefault(w, set()).add(key)
        return out

    def records_of_works(self, work_ids: Iterable[str]) -> list[tuple[Rec, str]]:
        return [((m, r), w) for m, r, w in self._rows(
            "SELECT member, record_id, work_id FROM harvest_records WHERE work_id = ANY(%s)", (list(set(work_ids)),))]

    def works_of(self, records: Iterable[Rec]) -> set[str]:
        return {r[0] for r in self._rows(
            "SELECT DISTINCT r.work_id FROM unnest(%s::text[], %s::text[]) AS q(member, record_id) "
            "JOIN harvest_records r ON r.member = q.member AND r.record_id = q.record_id WHERE r.work_id IS NOT NULL",
            self._pair(set(records)))}

    def work_groups(self, work_ids: Iterable[str]) -> dict[str, str | None]:
        return dict(self._rows("SELECT work_id, group_id FROM harvest_works WHERE work_id = ANY(%s)",
                               (list(work_ids),)))

    def work_digests(self, work_ids: Iterable[str]) -> dict[str, str]:
        return dict(self._rows("SELECT work_id, digest FROM harvest_works WHERE work_id = ANY(%s)",
                               (list(work_ids),)))

    def indexed_works(self) -> set[str]:
        return {r[0] for r in self._rows("SELECT work_id FROM harvest_works")}

    def has_indexed(self) -> bool:
        return self.db.execute("SELECT 1 FROM harvest_works LIMIT 1").fetchone() is not None

    def fuzzy_blocks_over(self) -> dict[str, int]:
        """As `indexer.store.HarvestStore.fuzzy_blocks_over`."""
        return dict(self._rows("SELECT key, size FROM harvest_title_sizes WHERE left(key, 3) = ANY(%s) AND size > %s",
                               (list(FUZZY), FUZZY_MAX)))

    def block_sizes(self) -> dict[str, int]:
        """As `indexer.store.HarvestStore.block_sizes`."""
        return dict(self._rows(
            "SELECT key, count(*) FROM harvest_record_keys WHERE starts_with(key, 'title:') GROUP BY key UNION ALL "
            "SELECT key, count(*) FROM harvest_record_keys WHERE left(key, 3) = ANY(%s) GROUP BY key "
            "HAVING count(*) > %s", (list(FUZZY), FUZZY_MAX)))

    def all_keys(self) -> list[Rec]:
        return [(m, r) for m, r in self._rows("SELECT member, record_id FROM harvest_records ORDER BY member, record_id")]

    def load(self, keys: list[Rec], renormalise) -> Iterator[Record]:
        """The normalised records of `keys`, in that order (re-normalised from the raw record when the kept
        one cannot be read back)."""
        for member, record_id, blob in self._in_order("q.member, q.record_id, r.record", keys):
            rec = kept(blob, Record)
            if rec is None:
                raw, syntax, charset = self.db.execute(
                    "SELECT raw, syntax, charset FROM harvest_records WHERE member = %s AND record_id = %s",
                    (member, record_id)).fetchone()
                rec = renormalise(member, record_id, bytes(raw), syntax, charset)
            yield rec

    def match_blobs(self, keys: list[Rec]) -> Iterator[tuple[bytes | None, str]]:
        """As `indexer.store.HarvestStore.match_blobs`."""
        rows = self._in_order("CASE WHEN r.match_rules = %s THEN r.match_keys END, r.hash", keys, (MERGE_RULES,))
        return ((None if blob is None else bytes(blob), h) for blob, h in rows)

    def _in_order(self, columns: str, keys: list[Rec], params: tuple = ()) -> Iterator[tuple]:
        """As `indexer.store.HarvestStore._in_order` (`params`: those of `columns`)."""
        keys = list(keys)
        for i in range(0, len(keys), LOAD_CHUNK):
            yield from self._rows(
                f"SELECT {columns} FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS q(member, record_id, n) "
                "JOIN harvest_records r ON r.member = q.member AND r.record_id = q.record_id ORDER BY q.n",
                (*params, *self._pair(keys[i:i + LOAD_CHUNK])))

    def put_match(self, rows: Iterable[tuple[str, str, str, bytes]]) -> int:
        """As `indexer.store.HarvestStore.put_match`; outside an index phase (its snapshot would see the rows
        it writes as changed by another transaction)."""
        rows = list(rows)
        written = 0
        for i in range(0, len(rows), LOAD_CHUNK):
            part = rows[i:i + LOAD_CHUNK]
            with self.db.transaction():
                written += self.db.execute(
                    "UPDATE harvest_records r SET match_keys = q.blob, match_rules = %s FROM unnest(%s::text[], "
                    "%s::text[], %s::text[], %s::bytea[]) AS q(member, record_id, hash, blob) WHERE r.member = "
                    "q.member AND r.record_id = q.record_id AND r.hash = q.hash",
                    (MERGE_RULES, [m for m, _, _, _ in part], [r for _, r, _, _ in part], [h for _, _, h, _ in part],
                     [b for _, _, _, b in part])).rowcount
        return written

    # -- after the index commit ---------------------------------------------------------------------------
    def mark_indexed(self, assignment: dict[Rec, str], *, digests: dict[str, str] | None = None,
                     removed: Iterable[str] = (), replace_all: bool = False,
                     edges: list[tuple[Rec, Rec]] | None = None, keys: dict[Rec, list[str]] | None = None,
                     groups: dict[str, str] | None = None, sizes: dict[str, int] | None = None,
                     forget: Iterable[Rec] = ()) -> None:
        """As `indexer.store.HarvestStore.mark_indexed`; ends the index phase's snapshot and clears only the
        pending rows it merged. Records a harvest changed meanwhile stay pending, and the editions this phase
        put them in are listed for the next one. A rebuild (`replace_all`) without `digests` takes them from
        the stored works of the index it has just committed (the same bytes `dump_work` gives)."""
        self._end_snapshot()
        upto = self._upto()
        with self.db.transaction(), self.db.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (MERGE_LOCK,))
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS q_assign (member text COLLATE \"C\", record_id text COLLATE "
                        "\"C\", work_id text COLLATE \"C\") ON COMMIT DELETE ROWS")
            with cur.copy("COPY q_assign FROM STDIN") as copy:
                for (m, r), w in assignment.items():
                    copy.write_row((m, r, w))
            if edges is not None:
                if replace_all or keys is not None:
                    cur.execute("TRUNCATE harvest_edges")
                else:
                    listed = [*assignment, *forget]
                    cur.execute("CREATE TEMP TABLE IF NOT EXISTS q_edge_recs (member text COLLATE \"C\", record_id "
                                "text COLLATE \"C\") ON COMMIT DELETE ROWS")
                    with cur.copy("COPY q_edge_recs FROM STDIN") as copy:
                        for rec in listed:
                            copy.write_row(rec)
                    cur.execute("DELETE FROM harvest_edges e USING q_edge_recs q WHERE e.m1 = q.member AND "
                                "e.r1 = q.record_id")
                    cur.execute("DELETE FROM harvest_edges e USING q_edge_recs q WHERE e.m2 = q.member AND "
                                "e.r2 = q.record_id")
                with cur.copy("COPY harvest_edges FROM STDIN") as copy:
                    for a, b in edges:
                        copy.write_row((a[0], a[1], b[0], b[1]))
            if keys is not None:
                cur.execute("TRUNCATE harvest_record_keys")
                with cur.copy("COPY harvest_record_keys (key, member, record_id) FROM STDIN") as copy:
                    for (m, r), ks in keys.items():
                        for k in ks:
                            copy.write_row((k, m, r))
                cur.execute("DELETE FROM harvest_meta WHERE key = 'edges'")
            if replace_all:
                cur.execute("TRUNCATE harvest_works")
            if sizes is not None:
                if replace_all or keys is not None:
                    cur.execute("TRUNCATE harvest_title_sizes")
                if sizes:
                    cur.execute("INSERT INTO harvest_title_sizes SELECT * FROM unnest(%s::text[], %s::int[]) "
                                "ON CONFLICT (key) DO UPDATE SET size = excluded.size",
                                (list(sizes), list(sizes.values())))
            removed = list(removed)
            if removed:
                cur.execute("DELETE FROM harvest_works WHERE work_id = ANY(%s)", (removed,))
            if digests is None and replace_all:  # a rebuild: each work's digest as the index stored it
                digests = {w: work_digest(work) for w, work in cur.execute("SELECT work_id, work FROM editions")}
            if digests:
                ids = list(digests)
                cur.execute("INSERT INTO harvest_works SELECT w, d, g FROM unnest(%s::text[], %s::text[], %s::text[]) "
                            "AS q(w, d, g) ON CONFLICT (work_id) DO UPDATE SET digest = excluded.digest, "
                            "group_id = excluded.group_id",
                            (ids, [digests[w] for w in ids], [(groups or {}).get(w) for w in ids]))
            cur.execute("UPDATE harvest_records r SET work_id = q.work_id FROM q_assign q WHERE r.member = q.member "
                        "AND r.record_id = q.record_id AND r.work_id IS DISTINCT FROM q.work_id")
            if upto:  # records changed since this phase's snapshot: their editions are merged again next time
                cur.execute("INSERT INTO harvest_pending_works (work_id) SELECT DISTINCT q.work_id FROM harvest_pending p "
                            f"JOIN q_assign q ON q.member = p.member AND q.record_id = p.record_id WHERE NOT (true{upto}) "
                            "ON CONFLICT (work_id) DO UPDATE SET seq = nextval('harvest_pending_seq')")
            for table in ("harvest_pending", "harvest_pending_keys", "harvest_pending_works"):
                cur.execute(f"DELETE FROM {table} WHERE true{upto}")


@dataclass(frozen=True, slots=True)
class PlannedPart:
    """Editions of a merge plan for a loader process to build (`planned_works`): each edition's records, in
    order, and its group's name, read from the store at `location` in the index phase's `snapshot`."""

    location: str
    snapshot: str
    editions: list[list[tuple[str, str]]]
    groups: list[str | None]


def planned_works(part: PlannedPart) -> list:
    """The works of a part of a merge plan, built as `dedup.work.build_planned` builds them, from the records as
    the index phase's snapshot holds them (in a loader process: `PgIndex.load`; a connection a part, which is
    thousands of records)."""
    from dedup.work import build_work, name_group
    from indexer.harvest import renormaliser

    wanted = sorted({k for edition in part.editions for k in edition})
    with connect(part.location) as db:
        reader = PgHarvestStore(part.location, db)
        with db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            import_snapshot(db, part.snapshot)
            at = dict(zip(wanted, reader.load(wanted, renormaliser), strict=True))
    works = []
    for edition, name in zip(part.editions, part.groups, strict=True):
        w = build_work([at[k] for k in edition])
        name_group(w, name)
        works.append(w)
    return works
