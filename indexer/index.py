"""The local whoosh index of editions: open, write (upsert + delete in one commit), rebuild, stats.

Every write is one whoosh commit: the new table of contents replaces the old one by a rename, so a reader
sees the old state or the new one, never half of a write, and a reader opened before a commit keeps seeing
the state it opened. One writer at a time: the writer holds an exclusive `flock` on `balis-writer.lock`
(which the kernel drops when the process dies, even on kill -9) and writes its process id and start time
into it; the next writer that finds a lock file left by a dead process says so, clears it and whoosh's own
lock, and goes on. Files a killed writer left half-written are never in a table of contents; whoosh removes
them at the next commit. Metadata that is not searched (last commit, last harvest per member) lives in
`balis.json` beside the index, replaced atomically after each commit.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh import writing

from dedup.work import Work
from indexer.errors import IndexBusyError, LocalIndexError, NoIndexError
from indexer.schema import SCHEMA_VERSION, build_schema, document

WHOOSH_DIR = "whoosh"
LOCK_NAME = "balis-writer.lock"
META_NAME = "balis.json"
WHOOSH_LOCK = "MAIN_WRITELOCK"  # whoosh's own lock file for the default index name


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _WriterLock:
    """An exclusive flock on `<whoosh>/balis-writer.lock` holding who writes (pid, host, since)."""

    def __init__(self, folder: Path, notify: Callable[[str], None]) -> None:
        self.path = folder / LOCK_NAME
        self.folder = folder
        self.notify = notify
        self.fd: int | None = None

    def acquire(self, timeout: float) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._holder(fd)
                    os.close(fd)
                    who = (f"process {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"
                           if holder else "another process")
                    raise IndexBusyError(
                        f"the local index {self.folder.parent} is being written by {who}; wait for it to "
                        "finish (a harvest), then try again") from None
                time.sleep(0.05)
        stale = self._holder(fd)
        if stale and stale.get("pid") and stale.get("host") == socket.gethostname():
            # The flock was free, so whoever wrote this file is gone (or on another host).
            alive = _pid_alive(int(stale["pid"])) and int(stale["pid"]) != os.getpid()
            self.notify(f"balis: cleared a stale write lock on {self.folder.parent} left by process "
                        f"{stale['pid']} (started {stale.get('since')}, "
                        f"{'no longer holding it' if alive else 'no longer running'}); "
                        "its unfinished write was discarded, the index keeps its last complete commit")
            whoosh_lock = self.folder / WHOOSH_LOCK
            if whoosh_lock.exists():
                whoosh_lock.unlink()
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": _now()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        os.fsync(fd)
        self.fd = fd

    @staticmethod
    def _holder(fd: int) -> dict:
        try:
            data = os.pread(fd, 4096, 0)
            return json.loads(data) if data.strip() else {}
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        if self.fd is None:
            return
        os.ftruncate(self.fd, 0)  # a clean release leaves no holder behind
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


class LocalIndex:
    """The union catalogue's local index of editions in `<index dir>/whoosh/`."""

    def __init__(self, index_dir: Path, ix, notify: Callable[[str], None] = _warn) -> None:
        self.index_dir = index_dir
        self.folder = index_dir / WHOOSH_DIR
        self._ix = ix
        self._notify = notify

    # -- opening ---------------------------------------------------------------------------------------
    @classmethod
    def open(cls, index_dir: str | os.PathLike, *, create: bool = False,
             notify: Callable[[str], None] = _warn) -> LocalIndex:
        """Open the index in `index_dir` (the folder from `indexer.paths.resolve_index_dir`).

        `create=True` makes an empty index when there is none. Without it a missing index raises
        NoIndexError saying to run `balis harvest`. `notify` receives messages for people (stale locks).
        """
        index_dir = Path(index_dir)
        folder = index_dir / WHOOSH_DIR
        try:
            if whoosh_index.exists_in(str(folder)):
                ix = whoosh_index.open_dir(str(folder))
                meta = _read_meta(folder)
                if meta.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
                    raise LocalIndexError(
                        f"the local index {index_dir} was built by another version of balis (schema "
                        f"{meta.get('schema_version')}, this one reads {SCHEMA_VERSION}); rebuild it with "
                        "'balis harvest --full'")
            elif create:
                folder.mkdir(parents=True, exist_ok=True)
                ix = whoosh_index.create_in(str(folder), build_schema())
                _write_meta(folder, {"schema_version": SCHEMA_VERSION, "created": _now(), "last_commit": None,
                                     "harvested": {}})
            else:
                raise NoIndexError(f"no local index in {index_dir}; build it with 'balis harvest' "
                                   "(or choose another with --index DIR / BALIS_INDEX)")
        except LocalIndexError:
            raise
        except (OSError, EOFError, ValueError, KeyError, AttributeError, ImportError) as exc:
            raise LocalIndexError(f"the local index {index_dir} cannot be read ({exc.__class__.__name__}: "
                                  f"{exc}); rebuild it with 'balis harvest --full'") from None
        except Exception as exc:  # whoosh raises its own errors (EmptyIndexError, IndexVersionError, ...)
            raise LocalIndexError(f"the local index {index_dir} cannot be read ({exc.__class__.__name__}: "
                                  f"{exc}); rebuild it with 'balis harvest --full'") from None
        return cls(index_dir, ix, notify)

    @property
    def whoosh(self):
        """The whoosh index (for searchers)."""
        return self._ix

    def close(self) -> None:
        self._ix.close()

    def __enter__(self) -> LocalIndex:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------------
    def _writer(self, timeout: float):
        lock = _WriterLock(self.folder, self._notify)
        lock.acquire(timeout)
        try:
            w = self._ix.writer(timeout=timeout, limitmb=256)
        except Exception as exc:
            lock.release()
            raise IndexBusyError(f"the local index {self.index_dir} is locked by whoosh ({exc}); wait for "
                                 "the other writer to finish, then try again") from None
        return lock, w

    def write(self, upsert: Iterable[Work] = (), delete: Iterable[str] = (), *,
              harvested: dict[str, str] | None = None, timeout: float = 30.0,
              documents: Iterable[dict] = ()) -> dict:
        """Add or replace `upsert` works and remove the works with ids in `delete`, in one commit.

        `documents`: more works to add or replace, already made into documents (`indexer.schema.document`).
        `harvested` ({member code: ISO time}) records when members were last harvested (shown by search
        and stats). Returns {"upserted": n, "deleted": n}. Nothing is visible to readers until the commit;
        on any error the write is cancelled and the index keeps its previous state.
        """
        lock, w = self._writer(timeout)
        _remember_columns(w)
        n_up = n_del = 0
        try:
            for wid in delete:
                w.delete_by_term("work_id", wid)
                n_del += 1
            for work in upsert:
                w.update_document(**document(work))
                n_up += 1
            for doc in documents:
                w.update_document(**doc)
                n_up += 1
        except BaseException:
            w.cancel()
            lock.release()
            raise
        try:
            w.commit()
            self._after_commit(harvested, replace=False)
        finally:
            lock.release()
        return {"upserted": n_up, "deleted": n_del}

    def rebuild(self, works: Iterable[Work], *, harvested: dict[str, str] | None = None,
                timeout: float = 30.0) -> dict:
        """Replace the whole index by `works` in one commit (readers see the old index until it is done)."""
        lock, w = self._writer(timeout)
        n = 0
        try:
            for work in works:
                w.add_document(**document(work))
                n += 1
        except BaseException:
            w.cancel()
            lock.release()
            raise
        try:
            w.commit(mergetype=writing.CLEAR)
            self._after_commit(harvested, replace=True)
        finally:
            lock.release()
        return {"documents": n}

    def optimize(self, timeout: float = 30.0) -> None:
        """Merge all segments into one (faster searches after a large build)."""
        lock, w = self._writer(timeout)
        try:
            w.commit(optimize=True)
            self._after_commit(None, replace=False)
        finally:
            lock.release()

    def _after_commit(self, harvested: dict[str, str] | None, *, replace: bool) -> None:
        self._ix = self._ix.refresh() if hasattr(self._ix, "refresh") else whoosh_index.open_dir(str(self.folder))
        meta = _read_meta(self.folder)
        meta["schema_version"] = SCHEMA_VERSION
        meta["last_commit"] = _now()
        got = {} if replace and harvested is not None else dict(meta.get("harvested") or {})
        got.update(harvested or {})
        meta["harvested"] = got
        _write_meta(self.folder, meta)

    # -- reading ---------------------------------------------------------------------------------------
    def work_ids(self) -> set[str]:
        """The ids of every work in the index."""
        with self._ix.reader() as r:
            if not r.doc_count():
                return set()
            col = r.column_reader("work_id")
            return {_text(col[d]) for d in r.all_doc_ids()}

    def doc_count(self) -> int:
        return self._ix.doc_count()

    def harvested(self) -> dict[str, str]:
        """When each member was last harvested into this index, as recorded by the harvest."""
        return dict(_read_meta(self.folder).get("harvested") or {})

    def stats(self) -> dict:
        """documents, holdings, holdings per member, size on disk (bytes), last commit, last harvest per member."""
        per_member: Counter[str] = Counter()
        with self._ix.reader() as r:
            docs = r.doc_count()
            if docs:
                col = r.column_reader("hold_members")
                for docnum in r.all_doc_ids():
                    per_member.update(col[docnum].decode("utf-8").split())
        size = sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())
        meta = _read_meta(self.folder)
        return {
            "path": str(self.index_dir),
            "documents": docs,
            "holdings": sum(per_member.values()),
            "holdings_per_member": dict(sorted(per_member.items())),
            "size_bytes": size,
            "last_commit": meta.get("last_commit"),
            "harvested": dict(meta.get("harvested") or {}),
            "schema_version": meta.get("schema_version", SCHEMA_VERSION),
        }


def _remember_columns(writer) -> None:
    """Let the writer's commit ask once per field whether the new segment has a length column.

    whoosh looks up each posting's field length while it writes a segment; for a field that keeps no
    lengths (identifiers, keywords, numbers: a third of our postings) it asks the file system again for
    every posting. The new segment's files are complete by then, so one answer per field is the answer.
    """
    make = writer.per_document_reader

    def per_document_reader():
        reader = make()
        known: dict[str, bool] = {}
        has_column = reader.has_column

        def remembered(fieldname: str) -> bool:
            if fieldname not in known:
                known[fieldname] = has_column(fieldname)
            return known[fieldname]

        reader.has_column = remembered
        return reader

    writer.per_document_reader = per_document_reader


def _read_meta(folder: Path) -> dict:
    try:
        return json.loads((folder / META_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_meta(folder: Path, meta: dict) -> None:
    tmp = folder / f".{META_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, folder / META_NAME)


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
