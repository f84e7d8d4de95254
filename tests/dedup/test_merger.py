"""`Merger` (merging a growing set again and again, as a federated search's views do) gives exactly `merge`."""

from __future__ import annotations

import random
import threading

from dedup import Merger, merge
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles


def _shape(works) -> list[tuple]:
    return [(w.work_id, w.group_id, [(r.member, r.record_id) for r in w.records], w.isbns,
             [(h.member, h.call_number, h.status) for h in w.holdings], w.display.title) for w in works]


def _records(seed: int, members: int = 12, per_member: int = 60):
    return plan_records(plan_catalogues(seed, member_profiles(members), per_member))


def test_growing_views_equal_a_fresh_merge():
    records = _records(4242)
    merger = Merger()
    for end in (40, 41, 200, 333, 600, len(records)):
        assert _shape(merger.merge(records[:end])) == _shape(merge(records[:end]))


def test_reordered_and_shrunk_sets_equal_a_fresh_merge():
    records = _records(77)
    merger = Merger()
    merger.merge(records)
    rng = random.Random(5)
    for _ in range(3):
        subset = rng.sample(records, len(records) // 2)
        assert _shape(merger.merge(subset)) == _shape(merge(subset))


def test_views_handed_out_keep_their_group_ids():
    records = _records(99)
    merger = Merger()
    first = merger.merge(records[:150])
    before = [w.group_id for w in first]
    merger.merge(records)
    assert [w.group_id for w in first] == before


def test_two_threads_merging_at_once_agree():
    records = _records(123)
    merger = Merger()
    out: dict[int, list] = {}

    def run(i: int) -> None:
        out[i] = _shape(merger.merge(records))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out[0] == out[1] == _shape(merge(records))


def _by_member(records, arrived: list[str]):
    """The records of the members that have answered, in the members' order (as a federated search merges)."""
    order = sorted({r.member for r in records})
    return [r for m in order if m in arrived for r in records if r.member == m]


def test_members_answering_in_any_order_equal_a_fresh_merge():
    records = _records(31337, members=10, per_member=50)
    members = sorted({r.member for r in records})
    rng = random.Random(8)
    for _ in range(3):
        rng.shuffle(members)
        merger = Merger()
        for n in range(1, len(members) + 1):
            view = _by_member(records, members[:n])  # the new member's records land in the middle
            assert _shape(merger.merge(view)) == _shape(merge(view)), (members[:n], n)


def test_a_title_block_growing_past_the_year_split_equals_a_fresh_merge():
    from dataclasses import replace

    from dedup.cluster import BIG_BLOCK

    base = _records(2718, members=8, per_member=40)
    rng = random.Random(3)
    # one title shared by more records than BIG_BLOCK once every member has answered, over a few years, so
    # the block is split by year only in the later views; some share an ISBN across years (kept apart by year)
    same = rng.sample(base, BIG_BLOCK + 20)
    chosen = {id(r) for r in same}
    records = [replace(r, title="中国近代史纲要", subtitle=None, year=2008 + rng.randrange(4))
               if id(r) in chosen else r for r in base]
    members = sorted({r.member for r in records})
    rng.shuffle(members)
    merger = Merger()
    sizes = []
    for n in range(1, len(members) + 1):
        view = _by_member(records, members[:n])
        sizes.append(sum(r.title == "中国近代史纲要" for r in view))
        assert _shape(merger.merge(view)) == _shape(merge(view)), n
    assert min(sizes) <= BIG_BLOCK < max(sizes)  # the block did cross the split
