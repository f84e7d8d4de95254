"""Generated member catalogues with their ground truth, normalised in memory (no servers)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pytest

from records.model import Record
from testbed.generate import plan_catalogues, plan_records, truth
from testbed.members import member_profiles

TEST_SEED = 20071130  # the benchmark uses other seeds


@dataclass
class Labelled:
    records: list[Record]
    truth: dict
    editions: dict[str, list[str]]  # edition id -> MEMBER:record_id, as the generator says
    corrected: dict[str, list[str]]  # ... split by material type (see corrected_truth)
    synthetic: set[str]  # editions the generator made up (no real seed record)


def corrected_truth(records: list[Record], editions: dict[str, list[str]]) -> dict[str, list[str]]:
    """The generator renders a real seed that is a sound recording, score, serial or e-book as a printed
    book at the other members and labels them one edition; the issue forbids merging carriers, so such an
    edition is split by the records' material type."""
    kind = {f"{r.member}:{r.record_id}": r.material_type for r in records}
    out: dict[str, list[str]] = {}
    for eid, recs in editions.items():
        parts: dict[str, list[str]] = defaultdict(list)
        for x in recs:
            parts[kind[x]].append(x)
        for i, (_k, xs) in enumerate(sorted(parts.items())):
            out[eid if i == 0 else f"{eid}/{_k}"] = xs
    return out


def labelled(seed: int, members: int, size: int) -> Labelled:
    plan = plan_catalogues(seed, member_profiles(members), size)
    records = plan_records(plan)
    tr = truth(plan)
    editions = {e["id"]: e["records"] for e in tr["editions"]}
    synthetic = {e["id"] for e in tr["editions"] if e["seed"] is None}
    return Labelled(records, tr, editions, corrected_truth(records, editions), synthetic)


@pytest.fixture(scope="session")
def catalogues() -> Labelled:
    return labelled(TEST_SEED, 8, 150)
