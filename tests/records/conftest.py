"""Paths to the real MARC test records (testbed/data/marc, see its README.md)."""

from __future__ import annotations

import pathlib

import pytest

DATA = pathlib.Path(__file__).resolve().parents[2] / "testbed" / "data" / "marc"


@pytest.fixture(scope="session")
def marc_data() -> pathlib.Path:
    return DATA
