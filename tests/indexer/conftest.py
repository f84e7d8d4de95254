"""Fixtures of the union index tests: a fresh PostgreSQL database per test module (the cluster is the session's)."""

from __future__ import annotations

import re
import uuid

import psycopg
import pytest


@pytest.fixture(scope="module")
def index_database(postgres_url, request) -> str:
    """The URL of a new, empty database for this test module's union index (dropped afterwards)."""
    server = re.sub(r"^postgresql\+psycopg://", "postgresql://", postgres_url)
    name = "idx_" + re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])[:40] + "_" + uuid.uuid4().hex[:6]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
