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


@pytest.fixture(scope="module")
def broad_works():
    """A generated consortium of a few thousand editions (the test bed's generator, 8 members), in which common
    words match hundreds of editions: what the tests of broad queries load into a database."""
    from dedup import merge
    from testbed.generate import plan_catalogues, plan_records
    from testbed.members import member_profiles

    return merge(plan_records(plan_catalogues(57, member_profiles(8), 900)))


@pytest.fixture(scope="module")
def broad_database(broad_works, index_database) -> str:
    """The URL of this module's database holding `broad_works` as the union index, analysed as after a harvest
    (the word statistics a searcher reads)."""
    from indexer.backend import open_index

    with open_index(index_database, create=True) as ix:
        ix.rebuild(broad_works)
        ix.optimize()
    return index_database
