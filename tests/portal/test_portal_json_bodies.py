"""JSON request bodies that are not what the API takes get a 400 or 415 naming the field, never a 500."""

from __future__ import annotations

import pytest

from tests.portal.reader_helpers import Clock, csrf_header, make_store, sign_in


@pytest.fixture
def store():
    s = make_store(Clock())
    yield s
    s.close()


@pytest.fixture
async def reader(make_client, store):
    client = await make_client(store=store)
    await sign_in(client, "R-NLC-1")
    return client


async def _post(client, body: bytes, content_type: str = "application/json"):
    headers = {**await csrf_header(client), "Content-Type": content_type}
    r = await client.post("/api/requests", data=body, headers=headers)
    return r.status, await r.json()


async def test_a_lone_surrogate_is_a_400_naming_the_field(reader, store):
    status, doc = await _post(reader, b'{"title": "\\ud800abc", "author": "x"}')
    assert status == 400 and doc["error"]["parameter"] == "title"
    assert store.list_requests(reader="R-NLC-1") == []


async def test_thirty_thousand_levels_of_nesting_is_a_400(reader):
    status, doc = await _post(reader, b"[" * 30_000 + b"]" * 30_000)
    assert status == 400 and doc["error"]["parameter"] == "body"
    status, doc = await _post(reader, b'{"title": ' + b"[" * 100 + b"]" * 100 + b"}")
    assert status == 400 and doc["error"]["parameter"] == "title"


async def test_a_body_that_is_not_said_to_be_json_is_a_415(reader):
    status, doc = await _post(reader, b'{"title": "x"}', content_type="text/plain")
    assert status == 415 and "application/json" in doc["error"]["message"]


async def test_signing_in_with_a_surrogate_in_the_user_name_is_a_400(client):
    r = await client.post("/api/session", data=b'{"user": "\\udfff", "password": "x"}',
                          headers={**await csrf_header(client), "Content-Type": "application/json"})
    assert r.status == 400 and (await r.json())["error"]["parameter"] == "user"
