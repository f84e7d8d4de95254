"""An index phase that merges the whole store (a first harvest, `--full`) holds one part of the records at a
time, and still writes exactly what a merge of every record at once gives: the same editions, groups and
scored pairs, on both backends."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from harvest_helpers import upsert_of

from dedup.work import merge
from indexer import harvest
from indexer.harvest import Progress, write_index
from indexer.schema import dump_work
from indexer.store import open_store
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles

PART = 97  # records read at a time to build editions: many parts in a catalogue of 6,000


@pytest.fixture(params=["whoosh", "postgresql"])
def location(request, tmp_path):
    """An empty index of each backend (with its harvest store)."""
    return tmp_path if request.param == "whoosh" else request.getfixturevalue("new_database")("parts")


def _holding(location, records, unkeyed=()):
    """The harvest store of the index at `location`, holding `records` as a harvest writes them (those of
    `unkeyed` without their match keys, as a store written before they were kept)."""
    store = open_store(location)
    by_member: dict[str, list] = {}
    for rec in records:
        by_member.setdefault(rec.member, []).append(upsert_of(rec, match=(rec.member, rec.record_id) not in unkeyed))
    for member, ups in by_member.items():
        store.apply(member, upserts=ups, deletes=[])
    return store


def test_a_whole_store_merge_built_a_part_at_a_time_is_the_merge_of_everything(location, monkeypatch):
    records = plan_records(plan_catalogues(2024, member_profiles(20), 300))  # title blocks past 48 records
    records.sort(key=lambda r: (r.member, r.record_id))
    unkeyed = {(r.member, r.record_id) for r in records[::7]}  # the others' match keys are read, not made
    store = _holding(location, records, unkeyed)
    try:
        reads: list[int] = []
        load = type(store).load

        def counted(self, keys, renormalise):
            keys = list(keys)
            reads.append(len(keys))
            return load(self, keys, renormalise)

        # every store object's reads: in a database the editions' records are read by the load's own reader
        monkeypatch.setattr(type(store), "load", counted)
        monkeypatch.setattr(harvest, "PART_RECORDS", PART)
        monkeypatch.setattr(harvest, "LOAD_PART_RECORDS", PART)
        out = write_index(store, location, full=True, harvested={}, progress=Progress())
        edges: list[tuple[int, int]] = []
        works = merge(records, edges=edges)
        assert out["mode"] == "rebuild" and list(out["phases"]) == ["merge", "write", "store"]  # seconds each
        assert out["keyed_anew"] == len(unkeyed)
        assert out["upserted"] == len(works) < len(records)
        ids = [w.work_id for w in works]
        expected = {w.work_id: hashlib.blake2b(dump_work(w), digest_size=16).hexdigest() for w in works}
        assert store.work_digests(ids) == expected
        assert store.work_groups(ids) == {w.work_id: w.group_id for w in works}
        assert len({w.group_id for w in works}) < len(works)  # some editions are grouped with others
        key = [(r.member, r.record_id) for r in records]
        stored, _gone = store.pairs_of(key)
        assert edges and {(key[a], key[b]) for a, b in edges} == {(a, b) for a, bs in stored.items() for b in bs
                                                                  if a < b}
        # the records without kept keys were read once to key them, then every record a part at a time: each
        # once, no part much past PART
        biggest = max(len(w.records) for w in works)
        assert reads[0] == len(unkeyed)
        assert len(reads) > len(records) // (PART + biggest) and sum(reads[1:]) == len(records)
        assert max(reads[1:]) < PART + biggest
        assert Counter(len(w.records) for w in works)[1] < len(works)  # editions of several records built too
    finally:
        store.close()


def test_a_whole_store_re_merge_after_new_rules_writes_only_what_differs_as_it_goes(location, monkeypatch):
    """After new matching rules (MERGE_RULES), the next phase re-merges the whole store a part at a time and
    writes only the editions whose stored form differs; here three whose stored digests were made otherwise."""
    records = plan_records(plan_catalogues(7, member_profiles(6), 120))
    store = _holding(location, records)
    try:
        write_index(store, location, full=True, harvested={}, progress=Progress())
        works = merge(sorted(records, key=lambda r: (r.member, r.record_id)))
        expected = {w.work_id: hashlib.blake2b(dump_work(w), digest_size=16).hexdigest() for w in works}
        stale = [w.work_id for w in works[:3]]
        meta, table = ("harvest_meta", "harvest_works") if isinstance(location, str) else ("meta", "works")
        mark = "?" if meta == "meta" else "%s"
        for wid in stale:
            store.db.execute(f"UPDATE {table} SET digest = 'made otherwise' WHERE work_id = {mark}", (wid,))
        store.db.execute(f"UPDATE {meta} SET value = 'old' WHERE key = 'merge_rules'")
        if meta == "meta":
            store.db.commit()
    finally:
        store.close()
    store = open_store(location)  # opened by these rules: the stored pairs are stale
    try:
        monkeypatch.setattr(harvest, "PART_RECORDS", PART)
        monkeypatch.setattr(harvest, "PART_EDITIONS", 40)
        out = write_index(store, location, full=False, harvested={}, progress=Progress())
        assert (out["mode"], out["upserted"], out["deleted"]) == ("upgrade", 3, 0)
        assert store.work_digests(expected) == expected
        assert store.edges_ready()
    finally:
        store.close()
