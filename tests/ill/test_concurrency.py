"""The 3-books rule under concurrency: 50 simultaneous submissions by one reader, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import threading
import uuid

from ill import Duplicate, RuleViolation, Store
from ill import machine as m

N = 50


def _submit(store: Store, results: list, barrier) -> None:
    barrier.wait()
    try:
        work = f"w-c-{uuid.uuid4().hex[:8]}"  # each a different edition: only the 3-books rule refuses
        results.append(store.submit("r1", kind="loan", title="并发", work_id=work, rota=["PKU"])["id"])
    except RuleViolation:
        results.append("refused")


def _submit_same(store: Store, results: list, barrier) -> None:
    barrier.wait()
    try:
        results.append(store.submit("r1", kind="copy", title="同一版本", work_id="w-same", rota=["PKU"])["id"])
    except Duplicate as exc:
        results.append(("duplicate", exc.request_id))


def test_50_threads_asking_for_one_edition_leave_one_request(store):
    """The duplicates rule is decided in the transaction that writes the request: one of 50 goes through,
    every other is refused naming it."""
    results: list = []
    barrier = threading.Barrier(N)
    threads = [threading.Thread(target=_submit_same, args=(store, results, barrier)) for _ in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    (accepted,) = [r for r in results if isinstance(r, int)]
    assert results.count(("duplicate", accepted)) == N - 1
    assert [r["id"] for r in store.list_requests(reader="r1")] == [accepted]


def _open_loans_in_db(store: Store) -> int:
    return len([r for r in store.list_requests(reader="r1") if r["kind"] == m.LOAN and r["status"] in m.OPEN])


def test_50_threads_never_leave_more_than_3_open(store):
    results: list = []
    barrier = threading.Barrier(N)
    threads = [threading.Thread(target=_submit, args=(store, results, barrier)) for _ in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == N
    assert sum(isinstance(r, int) for r in results) == 3
    assert results.count("refused") == N - 3
    assert _open_loans_in_db(store) == 3 == store.open_loans("r1")


def _process(url: str, count: int, barrier, queue) -> None:
    store = Store(url, migrate=False)
    results: list = []
    inner = threading.Barrier(count)
    barrier.wait()
    threads = [threading.Thread(target=_submit, args=(store, results, inner)) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    store.close()
    queue.put(results)


def test_50_submissions_from_10_processes_never_leave_more_than_3_open(store, db_url):
    ctx = multiprocessing.get_context("forkserver")  # children fork from a clean server, not from pytest
    ctx.set_forkserver_preload(["ill.store"])
    barrier, queue = ctx.Barrier(10), ctx.Queue()
    procs = [ctx.Process(target=_process, args=(db_url, N // 10, barrier, queue)) for _ in range(10)]
    for p in procs:
        p.start()
    results = [r for _ in procs for r in queue.get(timeout=180)]
    for p in procs:
        p.join(30)
    assert len(results) == N
    assert sum(isinstance(r, int) for r in results) == 3
    assert _open_loans_in_db(store) == 3
