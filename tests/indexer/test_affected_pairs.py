"""The incremental re-merge asks only for the candidate pairs of the changed records (`touching`): exactly the
pairs of a full enumeration that have one of them, with small blocks and with big title blocks split by year."""

from __future__ import annotations

import random

import pytest

from dedup.cluster import BIG_BLOCK, candidate_pairs
from dedup.keys import match_keys
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles


class _AllBig(dict):
    """Every block as big as a big title block in the whole catalogue."""

    def get(self, key, default=None):
        return BIG_BLOCK + 1


@pytest.fixture(scope="module")
def keys():
    records = plan_records(plan_catalogues(23, member_profiles(6), 300))
    return [match_keys(r) for r in records]


@pytest.mark.parametrize("sizes", [None, _AllBig()], ids=["blocks as they are", "big title blocks"])
def test_pairs_touching_changed_records_are_those_of_the_full_enumeration(keys, sizes):
    everything = candidate_pairs(keys, sizes)
    assert everything
    rng = random.Random(5)
    for share in (0.0, 0.02, 0.3, 1.0):
        touching = {i for i in range(len(keys)) if rng.random() < share}
        expected = {(a, b) for a, b in everything if a in touching or b in touching}
        assert candidate_pairs(keys, sizes, touching=touching) == expected
