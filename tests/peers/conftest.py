"""Fixtures of the peer tests: the ILL tests' hand-moved clock."""

from __future__ import annotations

import pytest

from tests.ill.conftest import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()
