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
