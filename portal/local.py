"""The local union index inside the portal: searches answered from it, editions and their other editions
found in it by id, and the live availability of the editions a page shows.

One `PortalIndex` per app, over either backend of the index (`indexer/backend.py`: a whoosh folder or a
PostgreSQL database, whose searches may read from hot standbys). Searches run in one worker thread of their
own: the event loop keeps serving, and the searcher's caches (whoosh's bit sets) are never used by two threads
at once; a database searcher builds no bit sets, facets and sorts come from SQL. Lookups of editions by id use a
searcher of their own (and a lock of their own), so an edition page never waits behind searches. At most
every `refresh_every` seconds the index is checked for a newer commit (a harvest in this process or another
one); a newer state is opened and warmed in a background thread while the old one keeps answering, then
swapped in. A missing or unreadable index is a state with a message, never an exception for the reader: the
catalogue then searches the members live and says why (`IndexUnavailable`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from connectors.query import Clause, Query, from_clauses
from dedup.work import Work
from indexer.backend import is_database, open_searcher
from indexer.errors import LocalIndexError, NoIndexError
from indexer.livecheck import MAX_IDS
from indexer.livecheck import with_live as with_live_holdings
from indexer.pg.index import shown
from indexer.search import LocalResult

log = logging.getLogger("balis.portal")

READY, MISSING, BROKEN, UNKNOWN = "ready", "missing", "broken", "unknown"
MAX_OTHER_EDITIONS = 50
SEARCH_THREADS = 4  # searches of a database index running at once (and 2 more per standby)


class IndexUnavailable(Exception):
    """The local index cannot answer now: `state` is MISSING or BROKEN, the message says why (for the log)."""

    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state


class _Open:
    """One opened state of the index.

    A whoosh folder: one searcher for queries and facets (used by the one search thread: its bit sets are
    built once per state) and one for lookups by id, so an edition page never waits behind a search.
    A database: searchers lent out one per thread (each its own connections, to the standbys or the
    primary), opened as threads need them and kept for the next; the work is the database servers', so
    several searches run at once, spread over the standbys."""

    def __init__(self, location: Path | str, replicas: Sequence[str] = (), slices: int | None = None) -> None:
        self.location, self.replicas, self.slices = location, list(replicas), slices
        self.database = is_database(location)
        self._idle: list = []
        self._closed = False
        self._pool_lock = threading.Lock()
        self.searcher = self.lookup = None
        first = open_searcher(location, replicas, slices)
        try:
            if self.database:
                self._idle.append(first)
                self.seen = first.generation()
            else:
                self.searcher = first
                self.lookup = open_searcher(location)
            self.harvested = first.harvested()
            first.warm()  # whoosh: facet and sort bit sets; a database: nothing to build
        except BaseException:
            if self.lookup is not None:
                self.lookup.close()
            first.close()
            raise

    @contextmanager
    def borrowed(self):
        """A database searcher for this thread's use (returned to the pool after, closed if it failed)."""
        with self._pool_lock:
            searcher = self._idle.pop() if self._idle else None
        if searcher is None:
            searcher = open_searcher(self.location, self.replicas, self.slices)
        ok = False
        try:
            yield searcher
            ok = True
        finally:
            with self._pool_lock:
                keep = ok and not self._closed
                if keep:
                    self._idle.append(searcher)
            if not keep:
                searcher.close()

    def search(self, query: Query, **kw) -> LocalResult:
        if not self.database:
            return self.searcher.search(query, **kw)
        with self.borrowed() as s:
            return s.search(query, **kw)

    def stale(self) -> bool:
        if not self.database:
            return not self.lookup.up_to_date()
        with self.borrowed() as s:
            return s.generation() != self.seen

    def work(self, work_id: str) -> Work | None:
        if not self.database:
            return self.lookup.work(work_id)
        with self.borrowed() as s:
            return s.work(work_id)

    def group(self, group_id: str) -> list[Work]:
        if not self.database:
            return self.lookup.group(group_id, MAX_OTHER_EDITIONS + 1)
        with self.borrowed() as s:
            return s.group(group_id, MAX_OTHER_EDITIONS + 1)

    def suggest(self, words: list[str]) -> list[str]:
        if not self.database:
            return self.lookup.suggest(words)
        with self.borrowed() as s:
            return s.suggest(words)

    def doc_count(self) -> int:
        if not self.database:
            return self.searcher.doc_count()
        with self.borrowed() as s:
            return s.doc_count()

    def close(self) -> None:
        """Close the searchers; a database searcher lent out now is closed when it comes back."""
        with self._pool_lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for s in idle:
            s.close()
        for s in (self.searcher, self.lookup):
            if s is not None:
                s.close()


def latest(harvested: Mapping[str, str]) -> str | None:
    """The most recent of the members' harvest times (ISO 8601), or None when none is recorded."""
    times = []
    for text in harvested.values():
        try:
            times.append((datetime.fromisoformat(text), text))
        except (TypeError, ValueError):
            continue
    return max(times)[1] if times else None


class PortalIndex:
    """The local index as the portal uses it; see the module docstring. `start()` … `close()`."""

    def __init__(self, location: Path | str, *, replicas: Sequence[str] = (), refresh_every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, threads: int | None = None,
                 slices: int | None = None) -> None:
        self.location = location if is_database(location) else Path(location)
        self.replicas = list(replicas)
        self.slices = slices  # a database: the slices a broad search is split into (None: the searcher's default)
        self.index_dir = shown(location) if is_database(location) else self.location  # as the log names it
        self.refresh_every = refresh_every
        self.clock = clock
        self.state = UNKNOWN
        self.problem: str | None = None
        self.generation = 0  # counts the states swapped in (results cached under an older one are stale)
        self._open: _Open | None = None
        self._harvested: dict[str, str] = {}
        self._lock = threading.Lock()  # held while a state's searcher is used, or the state swapped
        self._lookup_lock = threading.Lock()  # held while a state's id lookups are used, or the state swapped
        # whoosh: one search thread (its searcher's caches are not for two threads); a database: searches at
        # once, SEARCH_THREADS and 2 more per standby (each thread its own connections; the servers do the work)
        self.database = is_database(location)
        if threads is None:
            threads = SEARCH_THREADS + 2 * len(self.replicas) if self.database else 1
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="balis-index")
        self._shared = contextlib.nullcontext()  # a database state is used by many threads at once
        self._checked = float("-inf")
        self._checking = threading.Lock()
        self._reopening: threading.Thread | None = None

    # -- life ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._reopen_now)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._reopening is not None:
            self._reopening.join()
        with self._lock, self._lookup_lock:
            if self._open is not None:
                self._open.close()
                self._open = None

    @property
    def harvested(self) -> dict[str, str]:
        """When each member was last harvested into the index (member code → ISO 8601), as read at the last
        search or opening (no I/O: the event loop asks)."""
        return dict(self._harvested) if self._open is not None else {}

    def usable(self) -> bool:
        """Whether searches should go to the index now (cheap; schedules a check for a newer state)."""
        now = self.clock()
        if now - self._checked >= self.refresh_every:
            self._checked = now
            try:
                self._executor.submit(self._check)
            except RuntimeError:  # closed: the app is stopping
                return False
        return self.state == READY

    # -- opening and refreshing --------------------------------------------------------------------------
    def _reopen_now(self) -> None:
        """Open the newest state (worker thread); the state and problem say how it went."""
        try:
            fresh = _Open(self.location, self.replicas, self.slices)
        except NoIndexError as exc:
            self._fail(MISSING, str(exc))
            return
        except LocalIndexError as exc:
            self._fail(BROKEN, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - whoosh raises its own kinds on damaged files
            self._fail(BROKEN, f"the local index {self.index_dir} cannot be read ({exc.__class__.__name__}: "
                               f"{exc}); rebuild it with 'balis harvest --full'")
            return
        with self._lock, self._lookup_lock:
            old, self._open = self._open, fresh
            self._harvested = fresh.harvested
            self.generation += 1
        if old is not None:
            old.close()
        if self.state != READY:
            log.info("portal: answering from the local index %s (%d editions)", self.index_dir,
                     fresh.doc_count())
        self.state, self.problem = READY, None

    def _fail(self, state: str, message: str) -> None:
        if (state, message) != (self.state, self.problem):
            log.warning("portal: the local index is not used: %s", message)
        with self._lock, self._lookup_lock:
            old, self._open = self._open, None
        if old is not None:
            old.close()
        self.state, self.problem = state, message

    def _check(self) -> None:
        """Worker thread: open the index if it was missing or broken, or start reopening a newer state (one
        check at a time: a database index has several worker threads)."""
        if not self._checking.acquire(blocking=False):
            return
        try:
            self._check_now()
        finally:
            self._checking.release()

    def _check_now(self) -> None:
        if self._reopening is not None and self._reopening.is_alive():
            return
        current = self._open
        if current is None:
            self._reopen_now()
            return
        try:
            stale = current.stale()
        except LocalIndexError as exc:  # a database that no server of answers now
            self._fail(BROKEN, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - the folder went away or was damaged
            self._fail(BROKEN, f"the local index {self.index_dir} cannot be read ({exc}); rebuild it with "
                               "'balis harvest --full'")
            return
        if stale:  # open and warm the new state beside the old one, which keeps answering
            self._reopening = threading.Thread(target=self._reopen_now, name="balis-index-reopen", daemon=True)
            self._reopening.start()

    # -- using -------------------------------------------------------------------------------------------
    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _with_open(self, fn, lock: threading.Lock | None = None):
        """`fn(current state)` under the lock (a database's state needs none: see _Open); a state that fails
        while read is dropped (and reopened at the next check) and IndexUnavailable raised. A query the index
        cannot run, or a bad facet, is no fault of the index: those errors pass through."""
        with self._shared if self.database else lock or self._lock:
            current = self._open
            if current is None:
                raise IndexUnavailable(self.state if self.state != READY else BROKEN,
                                       self.problem or f"the local index {self.index_dir} is not open")
            try:
                return fn(current)
            except ValueError:
                raise
            except LocalIndexError as exc:
                if "could not run this query" in str(exc):
                    raise
                problem = str(exc)
            except Exception as exc:  # noqa: BLE001 - files changed or damaged under a reader
                log.error("portal: reading the local index failed", exc_info=True)
                problem = (f"the local index {self.index_dir} cannot be read ({exc.__class__.__name__}: {exc}); "
                           "rebuild it with 'balis harvest --full'")
        self._fail(BROKEN, problem)
        raise IndexUnavailable(BROKEN, problem)

    def _search(self, query: Query, sort: str, page: int, size: int, selected, names) -> tuple[LocalResult, int]:
        def go(current: _Open) -> tuple[LocalResult, int]:
            result = current.search(query, sort=sort, page=page, size=size, selected=selected, names=names)
            self._harvested = dict(result.harvested)
            return result, self.generation
        return self._with_open(go)

    async def search(self, query: Query, *, sort: str = "relevance", page: int = 1, size: int = 20,
                     selected: Mapping[str, list[str]] | None = None,
                     names: Mapping[str, str] | None = None) -> tuple[LocalResult, int]:
        """One page from the index and the generation that answered (IndexUnavailable when it cannot)."""
        return await self._run(self._search, query, sort, page, size, selected or {}, names or {})

    async def suggest(self, words: list[str]) -> list[str]:
        """Spellings the index knows for the words it does not (a search that found nothing); [] when the
        index cannot answer."""
        try:
            return await self._run(lambda: self._with_open(lambda current: current.suggest(words), self._lookup_lock))
        except IndexUnavailable:
            return []

    def work(self, work_id: str) -> Work | None:
        """The edition with this id (in the caller's thread; a lookup by a unique key takes a millisecond)."""
        try:
            return self._with_open(lambda current: current.work(work_id), self._lookup_lock)
        except IndexUnavailable:
            return None

    def _edition(self, work_id: str) -> tuple[Work | None, list[Work]]:
        def go(current: _Open):
            work = current.work(work_id)
            if work is None or not work.group_id:
                return work, []
            return work, [w for w in current.group(work.group_id) if w.work_id != work_id]
        try:
            return self._with_open(go, self._lookup_lock)
        except IndexUnavailable:
            return None, []

    async def edition(self, work_id: str) -> tuple[Work | None, list[Work]]:
        """The edition with this id and the other editions of its group, from the index (in a thread of its
        own: a lookup by key takes milliseconds and need not wait behind searches)."""
        return await asyncio.to_thread(self._edition, work_id)


def records_by_member(works: list[Work]) -> dict[str, list[str]]:
    """Each member's record ids among `works`, in order, at most MAX_IDS per member (one query each)."""
    out: dict[str, list[str]] = {}
    for w in works:
        for r in w.records:
            ids = out.setdefault(r.member, [])
            if r.record_id not in ids and len(ids) < MAX_IDS:
                ids.append(r.record_id)
    return out


def availability_query(record_ids: list[str]) -> Query:
    """A member's own records, by id (`id:a OR id:b …`)."""
    return from_clauses([Clause("id", "=", rid) for rid in record_ids], "or")


def with_live(works: list[Work], live: dict[tuple[str, str], list], answered: set[str]) -> list[Work]:
    """The works with the holdings of every member that answered replaced by what it says now (pure)."""
    return [with_live_holdings(w, live, answered) for w in works]
