"""A merge too big to hold as records: pairs scored record by record are the candidate pairs that score, and
editions built a part at a time from a plan made of match keys alone are the editions of `merge`."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dedup import merge
from dedup.cluster import BIG_BLOCK, candidate_pairs, scored_pairs
from dedup.keys import match_keys
from dedup.score import match_score
from dedup.work import build_planned, plan_merge, record_key
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles


@pytest.fixture(scope="module")
def records():
    """Generated catalogues with big title blocks (split by year), plus copies without a year (wildcard
    blocks: compared only with records that have none on one side)."""
    recs = plan_records(plan_catalogues(2024, member_profiles(20), 300))
    undated = [replace(r, record_id=f"{r.record_id}-undated", year=None, isbns=[]) for r in recs[::40]]
    return recs + undated


def _shape(works) -> list[tuple]:
    return [(w.work_id, w.group_id, [record_key(r) for r in w.records], w.isbns, w.display.title) for w in works]


def test_pairs_scored_record_by_record_are_the_candidate_pairs_that_score(records):
    keys = [match_keys(r) for r in records]
    titles: dict[str, int] = {}
    for k in keys:
        titles[k.title] = titles.get(k.title, 0) + 1
    assert max(titles.values()) > BIG_BLOCK and any(k.year is None for k in keys)
    expected = {(a, b): s for a, b in candidate_pairs(keys) if (s := match_score(keys[a], keys[b])) is not None}
    got = {(a, b): s for a, b, s in scored_pairs(keys)}
    assert got == expected and len(got) > len(records) // 4
    # every candidate pair is gathered (a score that takes them all), with the block sizes of a bigger
    # catalogue too: a part's big title blocks are then split by year as there
    part = keys[: len(keys) // 3]
    sizes = {f"title:{k.title.replace(' ', '')}": 10 * BIG_BLOCK for k in part}
    for some, given in ((keys, None), (part, sizes)):
        assert {(a, b) for a, b, _s in scored_pairs(some, lambda _a, _b: 1.0, given)} == candidate_pairs(some, given)
    assert candidate_pairs(part, sizes) < candidate_pairs(part)

def test_editions_built_a_part_at_a_time_are_the_merge(records):
    keys = [match_keys(r) for r in records]
    plan = plan_merge(keys, [record_key(r) for r in records])
    asked: list[list[int]] = []

    def read(wanted):
        asked.append(wanted)
        return [records[i] for i in wanted]

    works = list(build_planned(plan, read, part=50))
    assert _shape(works) == _shape(merge(records))
    assert plan.work_ids() == [w.work_id for w in works]  # known before a record is read
    biggest = max(len(g) for g in plan.editions)
    assert max(len(a) for a in asked) < 50 + biggest
    assert sorted(i for a in asked for i in a) == list(range(len(records)))  # each record read once
