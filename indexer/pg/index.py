"""The union index in a PostgreSQL database: open (migrating the schema), write, rebuild, stats.

Every write is one transaction: readers see the state before it or after it (MVCC), never half of it, and
go on reading while it runs. One writer at a time: a writer holds a transaction-level advisory lock, which
PostgreSQL releases when the writer's connection ends, even when its process is killed. Rows are sent with
COPY. The schema is kept by Alembic migrations (`indexer/pg/migrations`), applied when a writer opens the
index. Metadata that is not searched (last harvest per member, last commit, the commit generation) is in
`index_meta`.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from itertools import chain, islice
from typing import TypeVar

import psycopg
from psycopg import sql

from dedup.work import Work
from indexer.errors import IndexBusyError, LocalIndexError, NoIndexError
from indexer.pg.rows import COLUMNS, HOLDING_COLUMNS, row, row_of_document, rows_of

WRITER_LOCK = 0x62616C6973  # "balis": the advisory lock a writer holds
MIGRATION_LOCK = WRITER_LOCK + 1
CONNECT_TIMEOUT = 10  # seconds: a server that does not answer is reported rather than waited for
SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")
WRITE_CHUNK = 5000  # editions a write replaces at a time (one DELETE and one COPY each)
REBUILD_MEMORY = "512MB"  # maintenance_work_mem of a rebuild's index builds (its session only)
LOADERS_MAX = 8  # loader processes a load starts at most by default
TABLES = ("editions", "holdings")  # what a rebuild replaces (the referenced table first)


P = TypeVar("P")  # a part of a load
N = TypeVar("N")  # what a load notes of each work


def default_loaders() -> int:
    """Loader processes of a `PgIndex.load`: one per core (the server's COPY parsing shares them), at most
    LOADERS_MAX."""
    return max(1, min(LOADERS_MAX, os.cpu_count() or 1))


def is_database(location: object) -> bool:
    """Whether an --index / BALIS_INDEX value names a PostgreSQL database rather than a folder."""
    return isinstance(location, str) and location.startswith(SCHEMES)


def connection_url(location: str) -> str:
    """The URL psycopg connects to (SQLAlchemy's `postgresql+psycopg://` form is accepted too)."""
    return re.sub(r"^postgresql\+psycopg://", "postgresql://", location)


def shown(location: str) -> str:
    """The URL as people see it (no password)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", connection_url(location))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def _config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "indexer.pg:migrations")
    return cfg


@functools.cache
def head_revision() -> str:
    """The newest migration of the index's schema."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def upgrade(location: str) -> str:
    """Bring the index's schema to the newest migration (no-op when current); returns the revision."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    cfg = _config()
    head = head_revision()
    engine = create_engine(connection_url(location).replace("postgresql://", "postgresql+psycopg://", 1),
                           poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")  # one upgrader at a time
            ctx = MigrationContext.configure(conn, opts={"version_table": "index_alembic_version"})
            if ctx.get_current_revision() == head:
                return head
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    finally:
        engine.dispose()
    return head


def import_snapshot(conn: psycopg.Connection, name: str) -> None:
    """Make the transaction just begun (repeatable read) see the snapshot another transaction exported
    (`pg_export_snapshot`): a loader reading the store as its index phase sees it, a slice reading its page's
    snapshot. psycopg.Error when that snapshot is gone or of another server."""
    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(name)))


def connect(location: str) -> psycopg.Connection:
    try:
        return psycopg.connect(connection_url(location), autocommit=True, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.Error as exc:
        raise LocalIndexError(f"the union index database {shown(location)} cannot be reached "
                              f"({str(exc).strip()}); check the URL and that PostgreSQL is running") from None


class PgIndex:
    """The union catalogue's index of editions in a PostgreSQL database."""

    def __init__(self, location: str, conn: psycopg.Connection, notify: Callable[[str], None] = _warn) -> None:
        self.location = location
        self.index_dir = shown(location)  # what results and stats name as the index
        self.conn = conn
        self._notify = notify

    @classmethod
    def open(cls, location: str, *, create: bool = False, notify: Callable[[str], None] = _warn) -> PgIndex:
        """Open the index in the database at `location`; `create=True` makes (or migrates) its tables.

        Without `create`, a database without the index's tables raises NoIndexError saying to harvest.
        """
        conn = connect(location)
        try:
            found = conn.execute("SELECT to_regclass('index_alembic_version') IS NOT NULL").fetchone()[0]
            if not found and not create:
                raise NoIndexError(f"no union index in the database {shown(location)}; build it with "
                                   "'balis harvest --index URL' (or choose another with --index / BALIS_INDEX)")
            current = conn.execute("SELECT version_num FROM index_alembic_version").fetchone() if found else None
            if current is None or current[0] != head_revision():
                upgrade(location)
        except LocalIndexError:
            conn.close()
            raise
        except psycopg.Error as exc:
            conn.close()
            raise LocalIndexError(f"the union index database {shown(location)} cannot be read "
                                  f"({str(exc).strip()})") from None
        return cls(location, conn, notify)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> PgIndex:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------------
    def _lock(self, cur: psycopg.Cursor, timeout: float) -> None:
        cur.execute(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")
        try:
            cur.execute(f"SELECT pg_advisory_xact_lock({WRITER_LOCK})")
        except psycopg.errors.LockNotAvailable:
            raise self._busy() from None
        cur.execute("SET LOCAL lock_timeout = 0")

    def _busy(self) -> IndexBusyError:
        return IndexBusyError(f"the union index {self.index_dir} is being written by {self._writer()}; wait for it "
                              "to finish (a harvest), then try again")

    def _writer(self) -> str:
        with psycopg.connect(connection_url(self.location), autocommit=True) as other:
            got = other.execute(
                "SELECT a.pid, a.client_addr, a.xact_start FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = CAST(%s AS oid)", (WRITER_LOCK & 0xFFFFFFFF,)
            ).fetchone()
        if not got:
            return "another process"
        return f"database process {got[0]} (client {got[1] or 'local'}) since {got[2]:%Y-%m-%dT%H:%M:%S%z}"

    def write(self, upsert: Iterable[Work] = (), delete: Iterable[str] = (), *,
              harvested: dict[str, str] | None = None, timeout: float = 30.0,
              documents: Iterable[dict] = ()) -> dict:
        """Add or replace `upsert` works (and `documents`, whoosh documents of works), remove `delete`, in one
        transaction. Returns {"upserted": n, "deleted": n}; on any error nothing changes. The works are taken
        WRITE_CHUNK at a time: a stream of them (a whole catalogue re-merged) is never held in memory."""
        delete = list(delete)
        n = 0
        with self.conn.transaction(), self.conn.cursor() as cur:
            self._lock(cur, timeout)
            if delete:
                cur.execute("DELETE FROM editions WHERE work_id = ANY(%s)", (delete,))
            made = chain((row(w) for w in upsert), (row_of_document(d) for d in documents))
            while rows := list(islice(made, WRITE_CHUNK)):
                cur.execute("DELETE FROM editions WHERE work_id = ANY(%s)", ([r.values[0] for r in rows],))
                n += self._copy(cur, rows)
            self._after(cur, harvested, replace=False)
        return {"upserted": n, "deleted": len(delete)}

    def rebuild(self, works: Iterable[Work], *, harvested: dict[str, str] | None = None,
                timeout: float = 30.0, processes: int | None = None) -> dict:
        """Replace the whole index by `works` in one transaction (readers see the old index until it is done).

        The rows go into new tables made like the live ones but without their indexes (COPY FREEZE: no WAL
        hint bits to set later), the indexes and constraints are built after the load (sorted once rather than
        kept up row by row), and the new tables take the old ones' names at commit. Rows are made in
        `processes` worker processes (`indexer.pg.rows.rows_of`) while this one streams them to the server.
        The cyclic garbage collector is off meanwhile: reading works and making rows creates no reference
        cycles, and its passes over the many short-lived objects cost a third of the loader's time.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._rebuild(works, harvested, timeout, processes)
        finally:
            if collecting:
                gc.enable()

    def _rebuild(self, works: Iterable[Work], harvested: dict[str, str] | None, timeout: float,
                 processes: int | None) -> dict:
        with self.conn.transaction(), self.conn.cursor() as cur:
            self._lock(cur, timeout)
            cur.execute("SET LOCAL synchronous_commit = off")  # a lost rebuild is made again, never half-made
            cur.execute(f"SET LOCAL maintenance_work_mem = '{REBUILD_MEMORY}'")
            staged = _Staged()
            staged.create(cur)
            n = self._copy(cur, rows_of(works, processes), editions=staged.name("editions"),
                           holdings=staged.name("holdings"), freeze=True)
            staged.build(cur)
            staged.swap(cur)
            self._after(cur, harvested, replace=True)
        self.conn.execute("ANALYZE editions")
        self.conn.execute("ANALYZE holdings")
        return {"documents": n}

    def load(self, parts: Iterable[P], make: Callable[[P], Iterable[Work]], *,
             note: Callable[[Work], N] | None = None, loaders: int | None = None,
             harvested: dict[str, str] | None = None, timeout: float = 30.0,
             told: Callable[[str], None] | None = None) -> dict:
        """Replace the whole index by the works `make(part)` gives for each of `parts`, with `loaders` processes
        at once (None: `default_loaders()`; 0: in this process). Each loader makes its part's works, their rows,
        and COPYs them into the new tables on a connection of its own, so the reading, the row making and the
        server's parsing of COPY run on as many cores as there are loaders. `make` and `note` must be
        module-level functions and the parts picklable (they go to the loader processes). `told(text)` hears
        when the loading is done and the index builds begin.

        Returns {"documents": n, "notes": [note(work) for every work, in the parts' order], "seconds": the
        loading, the index builds, the swap's transaction and the ANALYZE after it}. As `rebuild`,
        readers see the old index until the new tables are swapped in, and a load that fails, or is killed,
        leaves the index as it was: the new tables are committed before the loaders fill them (each loader's
        part is a transaction of its own), and are dropped when the load fails or, after a kill, when the next
        rebuild or load starts. The writer's lock is held by this connection's session throughout.
        """
        from indexer.pg import terms
        from indexer.pg.loaders import run_at_once, run_loaders

        loaders = default_loaders() if loaders is None else max(0, loaders)
        staged = _Staged(also=(terms.COUNTED,))
        collecting = gc.isenabled()
        gc.disable()
        self._lock_session(timeout)
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                staged.create(cur)  # what a load that was killed left is dropped first
            try:
                started = time.monotonic()
                n, notes = run_loaders(self.location, tuple(staged.name(t) for t in TABLES), parts, make, note,
                                       loaders)
                loaded = time.monotonic()
                if told is not None:
                    told(f"写索引 index: {n} editions loaded in {loaded - started:.0f} s; building its indexes")
                with self.conn.cursor() as cur:
                    builds, after = staged.plan(cur)
                # the indexes and the spelling words' counts, each on a connection of its own; the counts
                # take about as long as the match vector's index, so they start second
                count = terms.count_into(terms.COUNTED, staged.name("editions"))
                run_at_once(self.location, [*builds[:1], count, *builds[1:]], max(1, loaders))
                built = time.monotonic()
                with self.conn.transaction(), self.conn.cursor() as cur:
                    cur.execute("SET LOCAL synchronous_commit = off")
                    for statement in after:
                        cur.execute(statement)
                    staged.swap(cur)
                    self._after(cur, harvested, replace=True, counted=terms.COUNTED)
            except BaseException:
                if not self.conn.closed and not self.conn.broken:
                    try:
                        with self.conn.transaction(), self.conn.cursor() as cur:
                            staged.drop(cur)
                    except psycopg.Error:  # the load's own error is the one to tell; the next load drops them
                        pass
                raise
        finally:
            if not self.conn.closed and not self.conn.broken:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK,))
            if collecting:
                gc.enable()
        swapped = time.monotonic()
        self.conn.execute("ANALYZE editions")
        self.conn.execute("ANALYZE holdings")
        seconds = {"loading": loaded - started, "indexing": built - loaded, "swap": swapped - built,
                   "analyze": time.monotonic() - swapped}
        return {"documents": n, "notes": notes, "seconds": {k: round(v, 1) for k, v in seconds.items()}}

    def _lock_session(self, timeout: float) -> None:
        """The writer's lock for this connection's session (a write's transaction-level lock waits for it)."""
        self.conn.execute(f"SET lock_timeout = '{int(timeout * 1000)}ms'")
        try:
            self.conn.execute(f"SELECT pg_advisory_lock({WRITER_LOCK})")
        except psycopg.errors.LockNotAvailable:
            raise self._busy() from None
        finally:
            self.conn.execute("SET lock_timeout = 0")

    def optimize(self, timeout: float = 30.0) -> None:
        """Reclaim the space of replaced rows and refresh the planner's statistics."""
        self.conn.execute("VACUUM ANALYZE editions")
        self.conn.execute("VACUUM ANALYZE holdings")

    @staticmethod
    def _copy(cur: psycopg.Cursor, rows, chunk: int = 20000, *, editions: str = "editions",
              holdings: str = "holdings", freeze: bool = False) -> int:
        """COPY the rows' editions, then their holdings, `chunk` editions at a time (a stream of millions is
        never held in memory)."""
        n = 0
        rows = iter(rows)
        options = " (FREEZE)" if freeze else ""
        while True:
            copies: list[tuple] = []
            done = n
            with cur.copy(f"COPY {editions} ({', '.join(COLUMNS)}) FROM STDIN{options}") as copy:
                for r in rows:
                    copy.write_row(r.values)
                    copies += r.holdings
                    n += 1
                    if n - done == chunk:
                        break
            if copies:
                with cur.copy(f"COPY {holdings} ({', '.join(HOLDING_COLUMNS)}) FROM STDIN{options}") as copy:
                    for h in copies:
                        copy.write_row(h)
            if n - done < chunk:
                return n

    def _after(self, cur: psycopg.Cursor, harvested: dict[str, str] | None, *, replace: bool,
               counted: str | None = None) -> None:
        if replace:
            from indexer.pg import terms  # the rebuilt editions' words, for spelling suggestions

            terms.refresh(cur, counted)
        got = {} if replace and harvested is not None else self.harvested(cur)
        got.update(harvested or {})
        cur.execute("UPDATE index_meta SET value = to_jsonb(CAST(value AS text)::bigint + 1) WHERE key = 'generation'")
        cur.execute("UPDATE index_meta SET value = %s WHERE key = 'harvested'", (json.dumps(got),))
        cur.execute("UPDATE index_meta SET value = %s WHERE key = 'last_commit'", (json.dumps(_now()),))

    # -- reading ---------------------------------------------------------------------------------------
    def _meta(self, key: str, cur=None):
        got = (cur or self.conn).execute("SELECT value FROM index_meta WHERE key = %s", (key,)).fetchone()
        return got[0] if got else None

    def work_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT work_id FROM editions")}

    def doc_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM editions").fetchone()[0]

    def harvested(self, cur=None) -> dict[str, str]:
        """When each member was last harvested into this index, as recorded by the harvest."""
        return dict(self._meta("harvested", cur) or {})

    def generation(self) -> int:
        """Counts the commits: a searcher compares it to see whether the index changed."""
        return int(self._meta("generation") or 0)

    def stats(self) -> dict:
        """documents, holdings, holdings per member, size on disk (bytes), last commit, last harvest per member."""
        per_member = dict(self.conn.execute(
            "SELECT member, count(*) FROM holdings GROUP BY member ORDER BY member").fetchall())
        size = self.conn.execute("SELECT pg_total_relation_size('editions') + pg_total_relation_size('holdings')"
                                 ).fetchone()[0]
        revision = self.conn.execute("SELECT version_num FROM index_alembic_version").fetchone()
        return {
            "path": self.index_dir,
            "backend": "postgresql",
            "documents": self.doc_count(),
            "holdings": sum(per_member.values()),
            "holdings_per_member": per_member,
            "size_bytes": size,
            "last_commit": self._meta("last_commit"),
            "harvested": self.harvested(),
            "schema_version": revision[0] if revision else None,
        }


class _Staged:
    """New tables made like `tables` (columns, defaults, storage, checks) to be loaded, indexed as the live
    ones are (read from the catalogue, so a migration's new index is built too) and swapped in for them.

    Every name gets the suffix `_load` until the swap; all of it happens in the caller's transaction, so a
    rebuild that fails or is killed leaves nothing behind.
    """

    SUFFIX = "_load"

    def __init__(self, tables: tuple[str, ...] = TABLES, also: tuple[str, ...] = ()) -> None:
        self.tables = tables
        self.also = also  # tables made beside them (by the caller), dropped with them
        self.indexes: list[str] = []

    def create(self, cur: psycopg.Cursor) -> None:
        """The new tables, empty (any left by a load that was killed are dropped first)."""
        self.drop(cur)
        for t in self.tables:
            cur.execute(f"CREATE TABLE {self.name(t)} (LIKE {t} INCLUDING DEFAULTS INCLUDING STORAGE "
                        "INCLUDING COMPRESSION INCLUDING CONSTRAINTS INCLUDING STATISTICS)")
            options = cur.execute("SELECT reloptions FROM pg_class WHERE oid = CAST(%s AS regclass)", (t,)).fetchone()
            if options and options[0]:  # the table's storage parameters (0004: editions keep vectors in the row)
                cur.execute(f"ALTER TABLE {self.name(t)} SET ({', '.join(options[0])})")

    def drop(self, cur: psycopg.Cursor) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {', '.join([*(self.name(t) for t in self.tables), *self.also])}")

    def name(self, table: str) -> str:
        return table + self.SUFFIX

    def _retarget(self, definition: str) -> str:
        """A catalogue definition with the staged tables named instead of the live ones."""
        names = "|".join(re.escape(t) for t in self.tables)
        return re.sub(rf"\b(ON|REFERENCES) (?:ONLY )?(?:\w+\.)?({names})\b(?=[ (])",
                      lambda m: f"{m[1]} {self.name(m[2])}", definition)

    def plan(self, cur: psycopg.Cursor) -> tuple[list[str], list[str]]:
        """What makes the live tables' indexes, primary keys, unique and foreign keys on the loaded tables: the
        index builds (largest first, as the live ones are; each may run on a connection of its own once the
        loaded tables are committed) and what must follow them in the swap's transaction (constraints put on
        the built indexes, exclusion constraints, foreign keys)."""
        builds: list[str] = []
        after: list[str] = []
        for t in self.tables:
            for index, definition, constraint, kind, condef in cur.execute(
                    "SELECT c.relname, pg_get_indexdef(i.indexrelid), k.conname, k.contype, "
                    "pg_get_constraintdef(k.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                    "LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid "
                    "AND k.contype IN ('p', 'u', 'x') WHERE i.indrelid = CAST(%s AS regclass) "
                    "ORDER BY pg_relation_size(i.indexrelid) DESC, c.relname", (t,)).fetchall():
                staged = f"{index}{self.SUFFIX}"
                if kind == "x":  # an exclusion constraint builds its own index
                    after.append(f"ALTER TABLE {self.name(t)} ADD CONSTRAINT {constraint}{self.SUFFIX} {condef}")
                    self.indexes.append(constraint)
                    continue
                definition = re.sub(rf"^CREATE (UNIQUE )?INDEX {re.escape(index)} ",
                                    lambda m, n=staged: f"CREATE {m[1] or ''}INDEX {n} ", definition)
                builds.append(self._retarget(definition))
                if kind is None:
                    self.indexes.append(index)
                else:  # the constraint takes the index (and its name)
                    after.append(f"ALTER TABLE {self.name(t)} ADD CONSTRAINT {constraint}{self.SUFFIX} "
                                 f"{'PRIMARY KEY' if kind == 'p' else 'UNIQUE'} USING INDEX {staged}")
                    self.indexes.append(constraint)
        for t in self.tables:
            for name, definition in cur.execute(
                    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = "
                    "CAST(%s AS regclass) AND contype = 'f' ORDER BY conname", (t,)).fetchall():
                after.append(f"ALTER TABLE {self.name(t)} ADD CONSTRAINT {name} {self._retarget(definition)}")
        return builds, after

    def build(self, cur: psycopg.Cursor) -> None:
        """The live tables' indexes, primary keys, unique and foreign keys, on the loaded tables, in `cur`'s
        transaction."""
        builds, after = self.plan(cur)
        for statement in builds + after:
            cur.execute(statement)

    def swap(self, cur: psycopg.Cursor) -> None:
        """Drop the live tables and give the loaded ones, and their indexes, the live names."""
        for t in reversed(self.tables):  # the referencing tables first
            cur.execute(f"DROP TABLE {t}")
        for t in self.tables:
            cur.execute(f"ALTER TABLE {self.name(t)} RENAME TO {t}")
        for name in self.indexes:
            cur.execute(f"ALTER INDEX {name}{self.SUFFIX} RENAME TO {name}")
