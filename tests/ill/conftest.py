"""ILL fixtures: every store test runs on SQLite (a file, WAL) and on the session's real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ill import Store
from members import FineRule

# Tuesday 2025-09-30 10:00 Beijing time: the last working day before the National Day holiday (10-01..08),
# two days after the swapped working Sunday 2025-09-28.
T0 = datetime(2025, 9, 30, 2, 0, tzinfo=UTC)

FINES = {"RUC": FineRule(overdue_per_day=0.5, lost_multiplier=2.0, lost_flat=10.0, damaged_fraction=0.3)}


class Clock:
    """An injectable clock the tests move by hand."""

    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> datetime:
        self.now += timedelta(**kw)
        return self.now


def _pg_database(server: str) -> Iterator[str]:
    name = "ill_" + uuid.uuid4().hex[:12]
    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(plain + "/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ill.sqlite'}"
    else:
        yield from _pg_database(request.getfixturevalue("postgres_url"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db_url, clock) -> Iterator[Store]:
    """A store with the test cast: readers of THU and PKU, staff of THU, PKU, RUC, CUPL, an administrator."""
    s = Store(db_url, clock=clock, fine_rules=FINES.get)
    for uid, role, member in (("r1", "reader", "THU"), ("r2", "reader", "THU"), ("p1", "reader", "PKU"),
                              ("thu", "staff", "THU"), ("pku", "staff", "PKU"), ("ruc", "staff", "RUC"),
                              ("cupl", "staff", "CUPL"), ("admin", "admin", None)):
        s.add_user(uid, role, member, now=clock.now)
    try:
        yield s
    finally:
        s.close()
