"""Generated member catalogues with their ground truth, normalised in memory (no servers)."""

from __future__ import annotations

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
    synthetic: set[str]  # editions the generator made up (no real seed record)


def labelled(seed: int, members: int, size: int) -> Labelled:
    plan = plan_catalogues(seed, member_profiles(members), size)
    records = plan_records(plan)
    tr = truth(plan)
    editions = {e["id"]: e["records"] for e in tr["editions"]}
    synthetic = {e["id"] for e in tr["editions"] if e["seed"] is None}
    return Labelled(records, tr, editions, synthetic)


@pytest.fixture(scope="session")
def catalogues() -> Labelled:
    return labelled(TEST_SEED, 8, 150)
