"""The loader processes of `PgIndex.load`: each takes a part, makes its works (the caller's `make`), their rows,
and COPYs them into the load's new tables on a connection of its own, one transaction per part."""

from __future__ import annotations

import gc
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import psycopg

from indexer.errors import LocalIndexError
from indexer.pg.rows import row

_conn: psycopg.Connection | None = None  # a loader process's connection, opened at its first part


def _connection(location: str) -> psycopg.Connection:
    global _conn
    if _conn is None or _conn.closed or _conn.broken:
        from indexer.pg.index import connect

        _conn = connect(location)
    return _conn


def load_part(location: str, tables: tuple[str, str], make: Callable, note: Callable | None, part,
              conn: psycopg.Connection | None = None) -> tuple[int, list]:
    """COPY the rows of `make(part)`'s works into `tables` (editions, holdings) in one transaction, on `conn` or
    the loader process's own connection; returns how many editions, and `note(work)` of each."""
    from indexer.pg.index import PgIndex, shown

    notes: list = []

    def made():
        for w in make(part):
            if note is not None:
                notes.append(note(w))
            yield row(w)

    conn = conn or _connection(location)
    try:
        with conn.transaction(), conn.cursor() as cur:
            n = PgIndex._copy(cur, made(), editions=tables[0], holdings=tables[1])
    except psycopg.Error as exc:  # its message crosses back to the loading process; the error object may not
        raise LocalIndexError(f"loading the union index {shown(location)} failed ({str(exc).strip()})") from None
    return n, notes


def run_loaders(location: str, tables: tuple[str, str], parts: Iterable, make: Callable, note: Callable | None,
                loaders: int) -> tuple[int, list]:
    """`load_part` for every part, `loaders` at a time in processes of their own (0: here, one after another);
    the total and the notes in the parts' order. The first part that fails stops the load: parts not started
    are dropped, the running ones finish, and its error is raised."""
    n, notes = 0, []

    def add(got: tuple[int, list]) -> None:
        nonlocal n
        n += got[0]
        notes.extend(got[1])

    if loaders < 1:
        from indexer.pg.index import connect

        with connect(location) as conn:
            for part in parts:
                add(load_part(location, tables, make, note, part, conn))
        return n, notes
    # forkserver: loaders are forked from a clean process, never from the caller's threads (a harvest has them)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(loaders, mp_context=context, initializer=gc.disable) as pool:
        waiting: deque = deque()
        try:
            for part in parts:  # two parts ahead per loader, never every part at once
                waiting.append(pool.submit(load_part, location, tables, make, note, part))
                if len(waiting) > 2 * loaders:
                    add(waiting.popleft().result())
            while waiting:
                add(waiting.popleft().result())
        except BrokenProcessPool:
            pool.shutdown(wait=True, cancel_futures=True)
            raise LocalIndexError("a loader process of the union index load ended abruptly (killed, or out of "
                                  "memory: see the system log); the index is as it was; run the load again, "
                                  "with fewer loaders if memory is short") from None
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return n, notes


BUILD_MEMORY_MB = 1024  # maintenance_work_mem shared by the index builds running at once


def run_at_once(location: str, statements: list[str], connections: int) -> None:
    """Run `statements` (index builds, in the order given: the largest first) `connections` at a time, each on a
    connection of its own, committed as it ends. The first failure is raised once the running ones end; the
    others are not begun."""
    from indexer.pg.index import connect, shown

    memory = max(64, BUILD_MEMORY_MB // max(1, min(connections, len(statements))))

    def run(statement: str) -> None:
        conn = connect(location)
        try:
            conn.execute(f"SET maintenance_work_mem = '{memory}MB'")
            conn.execute(statement)
        except psycopg.Error as exc:
            raise LocalIndexError(f"building the union index {shown(location)} failed ({str(exc).strip()})"
                                  ) from None
        finally:
            conn.close()

    with ThreadPoolExecutor(max(1, connections), thread_name_prefix="index-build") as pool:
        try:
            for done in [pool.submit(run, s) for s in statements]:
                done.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # builds not started are not begun
            raise
