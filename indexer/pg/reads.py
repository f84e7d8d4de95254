"""Where searches of the PostgreSQL union index read: hot standbys first, the primary when none answers.

`balis serve --index-replica URL` (repeatable) names streaming-replication standbys of the index's primary.
Each read goes to the next standby in turn (round robin: the standbys share the load); a standby that cannot
be reached, or drops its connection, is skipped with a warning in the log and left out for `retry_after`
seconds, and the read goes to the next one, then to the primary. When every server is marked down, the
marked ones are tried all the same (oldest failure first): a read fails only when no server answers now.
Writes (the harvest) never come here: they open the primary (`indexer/pg/index.py`).

A standby may be a moment behind the primary (its replay lag); a reader then sees the previous commit, as
any reader that started before the commit does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import psycopg

from indexer.errors import LocalIndexError
from indexer.pg.index import connection_url, shown

log = logging.getLogger("balis.index")

T = TypeVar("T")
APPLICATION = "balis search"  # application_name of search connections (pg_stat_activity shows it)
# a search is one statement: its matches kept in memory (the default 4 MB spills 10,000 of them to a file), and
# no JIT compiling (50-100 ms to compile, more than a page takes to run)
SETTINGS = {"work_mem": "64MB", "jit": "off"}
CONNECT_TIMEOUT = 3  # seconds: a standby that does not answer is skipped quickly
RETRY_AFTER = 30.0


def _lost(exc: BaseException, conn: psycopg.Connection | None) -> bool:
    """Whether `exc` means the server is gone or cannot serve reads (not a fault of the query)."""
    if conn is not None and conn.closed:
        return True
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) and not isinstance(
        exc, psycopg.errors.QueryCanceled)


class ReadConnections:
    """Connections for reading the union index: `replicas` in turn, then `primary` (see the module docstring).

    Each searcher owns one; `run` serialises its callers (one connection per server, one statement at a time).
    """

    def __init__(self, primary: str, replicas: Sequence[str] = (), *, retry_after: float = RETRY_AFTER,
                 clock: Callable[[], float] = time.monotonic, primary_conn: psycopg.Connection | None = None) -> None:
        self.primary = primary
        self.replicas = list(dict.fromkeys(replicas))
        self.retry_after = retry_after
        self.clock = clock
        self.served_by: str | None = None  # the URL (no password) of the server that answered last
        self._conns: dict[str, psycopg.Connection] = {}
        if primary_conn is not None:
            primary_conn.execute(f"SET application_name = '{APPLICATION}'")
            for name, value in SETTINGS.items():
                primary_conn.execute(f"SET {name} = '{value}'")
            self._conns[primary] = primary_conn
        self._down: dict[str, float] = {}  # url → when it last failed
        self._next = 0
        self._lock = threading.Lock()

    def order(self, first: str | None = None) -> list[str]:
        """The servers to try for the next read: healthy standbys from the next in turn, the primary if
        healthy, then those marked down (oldest failure first). With `first` (a server another read chose for
        the same page), that one first when it is healthy, and the turn does not move on."""
        now = self.clock()
        healthy = [u for u in self.replicas if now - self._down.get(u, float("-inf")) >= self.retry_after]
        if healthy and first is None:
            k = self._next % len(healthy)
            self._next += 1
            healthy = healthy[k:] + healthy[:k]
        if now - self._down.get(self.primary, float("-inf")) >= self.retry_after:
            healthy.append(self.primary)
        marked = sorted((u for u in [*self.replicas, self.primary] if u not in healthy), key=self._down.get)
        if first in healthy:
            healthy.remove(first)
            healthy.insert(0, first)
        return healthy + marked

    def _connect(self, url: str) -> psycopg.Connection:
        conn = self._conns.get(url)
        if conn is not None and not conn.closed:
            return conn
        conn = psycopg.connect(connection_url(url), autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                               application_name=APPLICATION,
                               options=" ".join(f"-c {name}={value}" for name, value in SETTINGS.items()))
        self._conns[url] = conn
        return conn

    def _failed(self, url: str, exc: BaseException) -> None:
        was_down = url in self._down
        self._down[url] = self.clock()
        conn = self._conns.pop(url, None)
        if conn is not None:
            conn.close()
        role = "primary" if url == self.primary else "standby"
        if not was_down:
            log.warning("union index: the %s %s does not answer (%s); reading from %s", role, shown(url),
                        str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__,
                        "the next server" if len(self.replicas) else "nowhere else")

    def run(self, fn: Callable[[psycopg.Connection], T], first: str | None = None) -> T:
        """`fn(connection)` on the first server that answers (`first`, when given and healthy); LocalIndexError
        when none does. Errors of the query itself (bad SQL, a missing table) pass through."""
        with self._lock:
            problems = []
            for url in self.order(first):
                conn = None
                try:
                    conn = self._connect(url)
                    result = fn(conn)
                except psycopg.errors.SerializationFailure as exc:  # a standby cancelled it (replay conflict)
                    problems.append(f"{shown(url)}: {str(exc).strip()}")
                    continue
                except psycopg.Error as exc:
                    if not _lost(exc, conn):
                        raise
                    self._failed(url, exc)
                    problems.append(f"{shown(url)}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc}")
                    continue
                if url in self._down:
                    del self._down[url]
                    log.warning("union index: the %s %s answers again", "primary" if url == self.primary
                                else "standby", shown(url))
                self.served_by = shown(url)
                return result
        raise LocalIndexError("no server of the union index answers (" + "; ".join(problems) + "); check that "
                              "PostgreSQL runs on the primary or a standby")

    def close(self) -> None:
        with self._lock:
            for conn in self._conns.values():
                conn.close()
            self._conns.clear()
