"""Fixtures for the portal tests: the session test bed plus two members that are not searched, and a live
portal app on a free loopback port (aiohttp's test server), one per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from members import load_registry
from portal import create_app
from portal.app import HTTP_LIMITS

EXTRA_MEMBERS = '''
[[member]]
code = "NLC"
name = "国家图书馆"
name_en = "National Library of China"
district = "海淀区"
status = "active"
[member.contact]
name = "馆际互借组"
phone = "010-88545426"
email = "ill@example.org"
address = "北京市海淀区中关村南大街33号"

[[member]]
code = "CUPL"
name = "中国政法大学"
name_en = "China University of Political Science and Law"
district = "昌平区"
status = "suspended"
suspended_reason = "系统升级"
suspended_since = 2026-11-01
'''


@pytest.fixture(scope="session")
def portal_registry_path(testbed, tmp_path_factory) -> Path:
    """The test bed's registry with a member that has no OPAC endpoint (with contacts) and a suspended one."""
    path = tmp_path_factory.mktemp("portal") / "registry.toml"
    path.write_text(Path(testbed.registry_path).read_text(encoding="utf-8") + EXTRA_MEMBERS, encoding="utf-8")
    return path


@pytest.fixture
def bed(testbed):
    testbed.clear_faults()
    yield testbed
    testbed.clear_faults()


@pytest.fixture
def registry(bed, portal_registry_path):
    return load_registry(portal_registry_path)


@pytest.fixture
async def make_client(registry):
    """Start a portal (options passed to create_app) and return an aiohttp TestClient for it."""
    clients: list[TestClient] = []

    async def make(**options) -> TestClient:
        options.setdefault("deadline", 20.0)
        app = create_app(registry, **options)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server(**HTTP_LIMITS)  # as `balis serve` runs it
        client = TestClient(server)
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.close()


@pytest.fixture
async def client(make_client):
    return await make_client()
