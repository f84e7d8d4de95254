"""Fixtures for the federator tests: the shared test bed with faults cleared, its registry, a fake clock."""

from __future__ import annotations

import pytest

from members import load_registry


class FakeClock:
    """Seconds since the epoch that move only when the test says so."""

    def __init__(self, now: float = 1_900_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def bed(testbed):
    testbed.clear_faults()
    yield testbed
    testbed.clear_faults()


@pytest.fixture
def registry(bed):
    return load_registry(bed.registry_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
