"""A harvest store keeps each record's match keys beside it, so that an index phase reads them instead of
reading and keying every record again; keys made under other rules, unreadable or missing are made anew from
the record and kept, never over a record that changed meanwhile. On both backends."""

from __future__ import annotations

import pickle
from dataclasses import replace

import pytest
from harvest_helpers import upsert_of

import dedup.work
from dedup.keys import match_keys
from dedup.work import merge
from indexer import harvest
from indexer.harvest import Progress, renormaliser, write_index
from indexer.pg.store import PgHarvestStore
from indexer.store import match_blob, match_of, open_store
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles


@pytest.fixture(params=["whoosh", "postgresql"])
def location(request, tmp_path):
    """An empty index of each backend (with its harvest store)."""
    return tmp_path if request.param == "whoosh" else request.getfixturevalue("new_database")("match_keys")


def _records(seed: int = 5) -> list:
    records = plan_records(plan_catalogues(seed, member_profiles(6), 80))
    return sorted(records, key=lambda r: (r.member, r.record_id))


def _apply(store, records) -> None:
    by_member: dict[str, list] = {}
    for rec in records:
        by_member.setdefault(rec.member, []).append(upsert_of(rec))
    for member, ups in by_member.items():
        store.apply(member, upserts=ups, deletes=[])


def _sql(store, sql: str, params=()) -> None:
    """A statement on the store's records table, written for SQLite (`records`, `?`) and run on either."""
    if isinstance(store, PgHarvestStore):
        store.db.execute(sql.replace("records", "harvest_records").replace("?", "%s"), params)
    else:
        store.db.execute(sql, params)


def _merged(records) -> set[frozenset]:
    return {frozenset((r.member, r.record_id) for r in w.records) for w in merge(records)}


def _held(store, keys) -> set[frozenset]:
    """The store's editions of `keys` as sets of records."""
    works = dict(zip(keys, _work_ids(store, keys), strict=True))
    out: dict[str, set] = {}
    for rec, wid in works.items():
        out.setdefault(wid, set()).add(rec)
    return {frozenset(v) for v in out.values()}


def _work_ids(store, keys) -> list[str]:
    table = "harvest_records" if isinstance(store, PgHarvestStore) else "records"
    mark = "%s" if isinstance(store, PgHarvestStore) else "?"
    return [store.db.execute(f"SELECT work_id FROM {table} WHERE member = {mark} AND record_id = {mark}",
                             key).fetchone()[0] for key in keys]


def test_index_phases_read_the_kept_keys_and_key_no_record(location, monkeypatch):
    records = _records()
    store = open_store(location)
    try:
        _apply(store, records)

        def no_keying(rec):
            raise AssertionError(f"{rec.member}:{rec.record_id} keyed again")

        def phase():
            with monkeypatch.context() as m:
                m.setattr(harvest, "match_keys", no_keying)
                m.setattr(dedup.work, "match_keys", no_keying)
                return write_index(store, location, full=False, harvested={}, progress=Progress())

        first = phase()
        assert (first["mode"], first["keyed_anew"]) == ("rebuild", 0)
        keys = [(r.member, r.record_id) for r in records]
        assert _held(store, keys) == _merged(records)
        # a change: two records retitled as a third, one new copy; the re-merge reads kept keys too
        a, b, c = records[3], records[40], records[77]
        changed = [replace(b, title=a.title, authors=list(a.authors)), replace(c, title=a.title, authors=list(a.authors)),
                   replace(a, record_id=a.record_id + "-copy", holdings=list(a.holdings))]
        _apply(store, changed)  # upsert_of keys them here, as the harvest's normalising thread does
        held = {(r.member, r.record_id): r for r in records} | {(r.member, r.record_id): r for r in changed}
        out = phase()
        assert (out["mode"], out["keyed_anew"]) == ("incremental", 0)
        ordered = sorted(held)
        assert _held(store, ordered) == _merged([held[k] for k in ordered])
    finally:
        store.close()


def test_keys_of_other_rules_or_unreadable_are_made_anew_kept_and_not_believed(location):
    records = _records(9)
    keys = [(r.member, r.record_id) for r in records]
    store = open_store(location)
    try:
        _apply(store, records)
        # kept keys that must not be believed: another record's keys under other rules, and a blob that is no
        # MatchKeys under these rules; and a record whose keys were never kept
        wrong = match_blob(match_keys(records[50]))
        _sql(store, "UPDATE records SET match_keys = ?, match_rules = 'old' WHERE member = ? AND record_id = ?",
             (wrong, *keys[10]))
        _sql(store, "UPDATE records SET match_keys = ? WHERE member = ? AND record_id = ?",
             (pickle.dumps("not keys"), *keys[11]))
        _sql(store, "UPDATE records SET match_keys = NULL, match_rules = NULL WHERE member = ? AND record_id = ?",
             keys[12])
        if not isinstance(store, PgHarvestStore):
            store.db.commit() if store.db.in_transaction else None
        out = write_index(store, location, full=False, harvested={}, progress=Progress())
        assert (out["mode"], out["keyed_anew"]) == ("rebuild", 3)
        assert _held(store, keys) == _merged(records)
        # made anew and kept: every record's kept keys are its own now
        kept = [match_of(blob) for blob, _ in store.match_blobs(keys)]
        assert kept == [match_keys(r) for r in records]
    finally:
        store.close()


def test_kept_keys_are_not_written_over_a_record_that_changed(location):
    records = _records(3)[:20]
    store = open_store(location)
    try:
        _apply(store, records)
        key = (records[0].member, records[0].record_id)
        (blob, digest), = store.match_blobs([key])
        other = match_blob(match_keys(records[1]))
        assert store.put_match([(*key, "a hash the record no longer has", other)]) == 0
        assert store.match_blobs([key]).__next__() == (blob, digest)
        assert store.put_match([(*key, digest, other)]) == 1
        assert match_of(next(store.match_blobs([key]))[0]) == match_keys(records[1])
        assert [r.record_id for r in store.load([key], renormaliser)] == [key[1]]
    finally:
        store.close()


def test_a_store_from_before_kept_keys_gets_them_at_its_next_index_phase(tmp_path):
    """A SQLite store written before match keys were kept: opening it adds their columns; the first phase
    keys every record and keeps the keys, the next reads them."""
    records = _records(4)
    store = open_store(tmp_path)
    try:
        _apply(store, records)
        store.db.execute("ALTER TABLE records DROP COLUMN match_keys")
        store.db.execute("ALTER TABLE records DROP COLUMN match_rules")
    finally:
        store.close()
    store = open_store(tmp_path)
    try:
        out = write_index(store, tmp_path, full=False, harvested={}, progress=Progress())
        assert (out["mode"], out["keyed_anew"]) == ("rebuild", len(records))
        out = write_index(store, tmp_path, full=True, harvested={}, progress=Progress())
        assert (out["mode"], out["keyed_anew"]) == ("rebuild", 0)
    finally:
        store.close()
