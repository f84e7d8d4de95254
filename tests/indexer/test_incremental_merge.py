"""The index phase re-merges only a part of the catalogue, and the index still equals a full merge.

A generated catalogue (many editions of the same works, copies without ISBNs, romanized titles) goes
straight into a real harvest store; rounds of random changes (copies added, records retitled into other
editions, authors added so that "other editions" groups are renamed, records withdrawn) are applied and
each incremental index phase is compared with a full merge of every record held.
"""

from __future__ import annotations

import json
import random
import zlib
from collections import Counter
from dataclasses import replace

import pytest
from harvest_helpers import index_content, upsert_of

from dedup.work import merge
from indexer.harvest import Progress, write_index
from indexer.schema import dump_work
from indexer.store import HarvestStore
from records.model import Author, Record
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles


def _expected(held: dict) -> dict:
    records = [held[k] for k in sorted(held)]
    return {w.work_id: json.loads(zlib.decompress(dump_work(w))) for w in merge(records)}


def _apply(store: HarvestStore, changes: list, gone: list) -> None:
    by_member: dict[str, tuple[list, list]] = {}
    for rec in changes:
        by_member.setdefault(rec.member, ([], []))[0].append(upsert_of(rec))
    for member, record_id in gone:
        by_member.setdefault(member, ([], []))[1].append(record_id)
    for member, (ups, dels) in by_member.items():
        store.apply(member, upserts=ups, deletes=dels)


@pytest.mark.parametrize(("seed", "members", "per_member", "fuzzy_max"),
                         [(11, 10, 150, None), (2024, 20, 300, None), (11, 10, 150, 6)])
def test_rounds_of_random_changes_index_as_a_full_merge(tmp_path, monkeypatch, seed, members, per_member, fuzzy_max):
    """(20 × 300: title blocks of more than 48 records, compared year by year. A limit of 6 on fuzzy blocks:
    many of them past it, and crossing it as records come and go.)"""
    if fuzzy_max is not None:
        import sys

        import indexer.store

        monkeypatch.setattr(sys.modules["dedup.cluster"], "FUZZY_MAX", fuzzy_max)  # the package's `cluster` is a function
        monkeypatch.setattr(indexer.store, "FUZZY_MAX", fuzzy_max)
    rng = random.Random(seed)
    records = plan_records(plan_catalogues(seed, member_profiles(members), per_member))
    held = {(r.member, r.record_id): r for r in records}
    store = HarvestStore.open(tmp_path)
    try:
        _apply(store, records, [])
        first = write_index(store, tmp_path, full=False, harvested={}, progress=Progress())
        assert first["mode"] == "rebuild"
        assert index_content(tmp_path) == _expected(held)
        merged_parts, regrouped_somewhere, withdrew_across = [], False, 0
        # a union the merge refuses: B and E (copies without ISBN) join A; C (another ISBN) scores with B and
        # E but conflicts with A, so it stays apart with remembered pairs into A's edition
        a = next(held[k] for k in sorted(held) if held[k].isbns)
        other_isbn = next(held[k].isbns for k in sorted(held) if held[k].isbns and held[k].isbns != a.isbns)
        b, e = (replace(a, record_id=f"{a.record_id}-{x}", isbns=[]) for x in ("b", "e"))
        c = replace(a, record_id=f"{a.record_id}-c", isbns=list(other_isbn))
        _apply(store, [b, e, c], [])
        held.update({(r.member, r.record_id): r for r in (b, e, c)})
        write_index(store, tmp_path, full=False, harvested={}, progress=Progress())
        assert index_content(tmp_path) == _expected(held)
        for round_no in range(5):
            keys = sorted(held)
            changes, gone = [], []
            for i, k in enumerate(rng.sample(keys, 6)):  # copies joining editions (half without ISBN)
                src = held[k]
                copy = replace(src, record_id=f"{src.record_id}-c{round_no}-{i}",
                               isbns=[] if i % 2 else list(src.isbns), holdings=list(src.holdings))
                changes.append(copy)
            per_title = Counter(held[k].title for k in keys)
            big = [k for k in keys if held[k].year and per_title[held[k].title] > 48]
            for i, k in enumerate(rng.sample(big, min(2, len(big)))):  # a copy dated a year later, big block
                src = held[k]
                changes.append(replace(src, record_id=f"{src.record_id}-y{round_no}-{i}", year=src.year + 1,
                                       isbns=[], issns=[], lccn=None, national_number=None,
                                       holdings=list(src.holdings)))
            for k in rng.sample(keys, 4):  # retitled into another edition's title
                other = held[rng.choice(keys)]
                changes.append(replace(held[k], title=other.title, authors=list(other.authors)))
            content = index_content(tmp_path)
            groups: dict[str, list] = {}
            for w in content.values():
                groups.setdefault(w["group_id"], []).append(w)
            shared = sorted((r["member"], r["record_id"]) for ws in groups.values() if len(ws) >= 2
                            for w in ws for r in w["records"])
            for k in rng.sample(shared, 3):  # a new first author: its group gains a smaller title|creator key
                rec = held[k]
                changes.append(replace(rec, authors=[Author(name=f"Aaron {round_no}")] + list(rec.authors)))
            # withdrawn: random records, and records with a scored pair into another edition (a union the
            # merge refused), whose remembered pairs then name a record no longer held
            across = sorted({(m1, r1) for m1, r1, w1, w2 in store.db.execute(
                "SELECT e.m1, e.r1, a.work_id, b.work_id FROM record_edges e "
                "JOIN records a ON a.member = e.m1 AND a.record_id = e.r1 "
                "JOIN records b ON b.member = e.m2 AND b.record_id = e.r2") if w1 != w2})
            across = [k for k in across if k != (c.member, c.record_id)]
            picked = rng.sample(keys, 6) + rng.sample(across, min(3, len(across)))
            if round_no == 0:
                picked.append((b.member, b.record_id))  # E still leads to C, whose pair names B
            picked = [k for k in picked if k != (c.member, c.record_id)]
            withdrew_across += bool(across)
            changed_now = {(c.member, c.record_id) for c in changes}
            gone = [k for k in dict.fromkeys(picked) if k not in changed_now]
            _apply(store, changes, gone)
            for c in changes:
                held[(c.member, c.record_id)] = c
            for k in gone:
                held.pop(k)
            before_groups = {wid: w["group_id"] for wid, w in index_content(tmp_path).items()}
            out = write_index(store, tmp_path, full=False, harvested={}, progress=Progress())
            assert out["mode"] == "incremental"
            content = index_content(tmp_path)
            assert content == _expected(held), f"round {round_no}"
            merged_parts.append(out["records_merged"])
            changed_ids = {(c.member, c.record_id) for c in changes}
            regrouped_somewhere |= any(
                wid in before_groups and before_groups[wid] != w["group_id"]
                and not {(r["member"], r["record_id"]) for r in w["records"]} & changed_ids
                for wid, w in content.items())
        assert max(merged_parts) < len(held) // 2  # a part, not the catalogue
        assert regrouped_somewhere  # some untouched edition was renamed with its group
        assert withdrew_across
    finally:
        store.close()


def undated_copies() -> tuple:
    """A dated record, a copy of it without a year and with a typo in its title, and a dated copy with another
    typo: each pair shares only wildcard-year blocks (`tp:…|*`, `au:…|*`), where a record without a year is
    compared with every other."""
    dated = Record(member="ZZA", record_id="d1", syntax="marc21", title="Zebra crossings of the world",
                   authors=[Author("Adams, Ann")], year=1990, publisher="Penguin", extent="320 p.")
    undated = replace(dated, member="ZZB", record_id="u1", title="Zebra crosings of the world", year=None,
                      authors=list(dated.authors))
    later = replace(dated, member="ZZC", record_id="d2", title="Zebra crossngs of the world", year=2004,
                    authors=list(dated.authors))
    return dated, undated, later


def check_undated_copies(store, location, content) -> None:
    """A record without a year added later joins the dated record it matches only in wildcard blocks; a dated
    record added after that joins it too (the index equals a full merge each time)."""
    records = plan_records(plan_catalogues(5, member_profiles(4), 60))
    dated, undated, later = undated_copies()
    held = {(r.member, r.record_id): r for r in [*records, dated]}
    _apply(store, list(held.values()), [])
    assert write_index(store, location, full=False, harvested={}, progress=Progress())["mode"] == "rebuild"
    for rec in (undated, later):
        _apply(store, [rec], [])
        held[(rec.member, rec.record_id)] = rec
        assert write_index(store, location, full=False, harvested={}, progress=Progress())["mode"] == "incremental"
        assert content(location) == _expected(held)
    joined = [w for w in content(location).values() if {r["record_id"] for r in w["records"]} >= {"d1", "u1"}]
    assert len(joined) == 1


def test_a_record_without_a_year_joins_what_it_meets_only_in_wildcard_blocks(tmp_path):
    store = HarvestStore.open(tmp_path)
    try:
        check_undated_copies(store, tmp_path, index_content)
    finally:
        store.close()
