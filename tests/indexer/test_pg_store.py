"""The harvest store in PostgreSQL: the same incremental re-merge as the SQLite store (the index equals a full
merge after rounds of random changes), and a harvest writing while another process's index phase runs loses
nothing (what it wrote is merged by the next index phase)."""

from __future__ import annotations

import hashlib
import json
import random
import uuid
import zlib
from dataclasses import replace

import psycopg
import pytest
from test_incremental_merge import _apply, _expected, check_undated_copies

from dedup.work import merge
from indexer.harvest import Progress, write_index
from indexer.pg.index import connection_url
from indexer.pg.store import MemberBusy, PgHarvestStore
from indexer.schema import dump_work
from records.model import Author, Record
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles


@pytest.fixture()
def database(postgres_url):
    """A new, empty database for one test."""
    server = connection_url(postgres_url)
    name = "store_" + uuid.uuid4().hex[:10]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def index_content(url: str) -> dict[str, dict]:
    with psycopg.connect(url) as conn:
        return {w: json.loads(zlib.decompress(blob)) for w, blob in conn.execute("SELECT work_id, work FROM editions")}


def _changes(rng: random.Random, held: dict, round_no: int) -> tuple[list, list]:
    """Copies joining editions, records retitled into other editions, withdrawals."""
    keys = sorted(held)
    changes = []
    for i, k in enumerate(rng.sample(keys, 6)):
        src = held[k]
        changes.append(replace(src, record_id=f"{src.record_id}-c{round_no}-{i}",
                               isbns=[] if i % 2 else list(src.isbns), holdings=list(src.holdings)))
    for k in rng.sample(keys, 4):
        other = held[rng.choice(keys)]
        changes.append(replace(held[k], title=other.title, authors=list(other.authors)))
    changed = {(c.member, c.record_id) for c in changes}
    gone = [k for k in rng.sample(keys, 6) if k not in changed]
    return changes, gone


def _take(held: dict, changes: list, gone: list) -> None:
    for c in changes:
        held[(c.member, c.record_id)] = c
    for k in gone:
        held.pop(k, None)


def test_rounds_of_random_changes_index_as_a_full_merge(database):
    rng = random.Random(7)
    records = plan_records(plan_catalogues(7, member_profiles(10), 150))
    held = {(r.member, r.record_id): r for r in records}
    store = PgHarvestStore.open(database)
    try:
        _apply(store, records, [])
        first = write_index(store, database, full=False, harvested={}, progress=Progress())
        assert first["mode"] == "rebuild"
        assert index_content(database) == _expected(held)
        assert store.pending_count() == 0
        # the digests a rebuild keeps are taken from the stored works: the same as the harvest would make
        works = merge([held[k] for k in sorted(held)])
        assert dict(store.db.execute("SELECT work_id, digest FROM harvest_works").fetchall()) == {
            w.work_id: hashlib.blake2b(dump_work(w), digest_size=16).hexdigest() for w in works}
        merged = []
        for round_no in range(4):
            changes, gone = _changes(rng, held, round_no)
            _apply(store, changes, gone)
            _take(held, changes, gone)
            out = write_index(store, database, full=False, harvested={}, progress=Progress())
            assert out["mode"] == "incremental"
            assert index_content(database) == _expected(held), f"round {round_no}"
            merged.append(out["records_merged"])
        assert max(merged) < len(held) // 2  # a part, not the catalogue
        assert write_index(store, database, full=False, harvested={}, progress=Progress())["mode"] == "unchanged"
    finally:
        store.close()


class _WriteDuringPhase(Progress):
    """When the index phase has merged and is about to write, another process's harvest commits a batch."""

    def __init__(self, act) -> None:
        self.act = act

    def phase(self, text: str) -> None:
        if text.startswith("写索引") and self.act is not None:
            act, self.act = self.act, None
            act()


def test_a_batch_committed_during_an_index_phase_is_merged_by_the_next(database):
    rng = random.Random(11)
    records = plan_records(plan_catalogues(11, member_profiles(8), 120))
    held = {(r.member, r.record_id): r for r in records}
    store, other = PgHarvestStore.open(database), PgHarvestStore.open(database)
    try:
        _apply(store, records, [])
        write_index(store, database, full=False, harvested={}, progress=Progress())
        first, second = _changes(rng, held, 0), None
        _apply(store, *first)
        _take(held, *first)
        # the second batch changes records the first phase is merging, withdraws others, adds copies
        second = _changes(rng, held, 1)

        def concurrent():
            _apply(other, *second)

        _take(held, *second)
        _phase_beside(concurrent, store, database, "incremental", held)
    finally:
        store.close()
        other.close()


def _phase_beside(concurrent, store, database, mode: str, held) -> None:
    """An index phase (`mode`) while `concurrent` writes batches: they stay pending, and the next phase merges
    them, leaving the index the records in `held` make."""
    out = write_index(store, database, full=False, harvested={}, progress=_WriteDuringPhase(concurrent))
    assert out["mode"] == mode
    assert store.pending_count() > 0  # the concurrent batches are still pending
    out = write_index(store, database, full=False, harvested={}, progress=Progress())
    assert out["mode"] == "incremental"
    assert index_content(database) == _expected(held)
    assert store.pending_count() == 0


def test_a_member_is_fetched_by_one_process_at_a_time(database):
    a, b = PgHarvestStore.open(database), PgHarvestStore.open(database)
    try:
        started = b.clock()
        a.lock_member("THU")
        with pytest.raises(MemberBusy, match="another harvest is fetching it now .database process"):
            b.lock_member("THU", started)
        b.lock_member("PKU", started)  # other members are free
        a.finish_member("THU", deletes=[], status="ok", report={}, next_from=None)
        a.unlock_member("THU")
        with pytest.raises(MemberBusy, match="another harvest fetched it at .*after this one started"):
            b.lock_member("THU", started)
        b.lock_member("THU", b.clock())  # a later round takes it again
    finally:
        a.close()
        b.close()
    c = PgHarvestStore.open(database)  # a process that died drops its locks with its connection
    try:
        c.lock_member("PKU")
    finally:
        c.close()


def test_a_batch_committed_during_the_first_index_phase_is_merged_by_the_next(database):
    """Batches written before any index skip the pending keys (the first index phase rebuilds from the whole
    store); a batch written while that first phase runs must keep them, or the next phase would miss the
    "other editions" groups the changed records leave: here B's group is named after A's first author until
    A is withdrawn."""
    rng = random.Random(23)
    a = Record(member="ZZA", record_id="a1", syntax="marc21", title="Zebra crossings", year=1990,
               authors=[Author("Adams, Ann"), Author("Brown, Bob")], publisher="Penguin")
    b = Record(member="ZZB", record_id="b1", syntax="marc21", title="Zebra crossings", year=2010,
               authors=[Author("Brown, Bob")], edition="2nd ed.", publisher="Vintage")
    records = [*plan_records(plan_catalogues(23, member_profiles(6), 100)), a, b]
    held = {(r.member, r.record_id): r for r in records}
    store, other = PgHarvestStore.open(database), PgHarvestStore.open(database)
    try:
        _apply(store, records, [])
        assert other.db.execute("SELECT count(*) FROM harvest_pending_keys").fetchone()[0] == 0
        batches = [([], [("ZZA", "a1")])]
        for round_no in range(2):  # each round changes what the rounds before it left
            batches.append(_changes(rng, held, round_no))
            _take(held, *batches[-1])
        held.pop(("ZZA", "a1"))

        def concurrent():
            for change in batches:
                _apply(other, *change)

        _phase_beside(concurrent, store, database, "rebuild", held)
    finally:
        store.close()
        other.close()


def test_a_record_without_a_year_joins_what_it_meets_only_in_wildcard_blocks(database):
    store = PgHarvestStore.open(database)
    try:
        check_undated_copies(store, database, index_content)
    finally:
        store.close()
