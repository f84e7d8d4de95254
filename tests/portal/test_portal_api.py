"""The JSON API against the real test bed, and its OpenAPI document (validated, and obeyed by the API)."""

from __future__ import annotations

import jsonschema
import pytest
from openapi_spec_validator import validate
from referencing import Registry, Resource

from portal.api import openapi


async def test_openapi_document_is_valid_and_served(client):
    r = await client.get("/api/openapi.json")
    assert r.status == 200 and r.content_type == "application/json"
    spec = await r.json()
    assert spec == openapi()
    validate(spec)  # raises on an invalid OpenAPI 3.1 document
    served = {route.resource.canonical for route in client.app.router.routes()
              if route.resource is not None and route.resource.canonical.startswith("/api/")}
    assert served == set(spec["paths"])  # every API route is described, and nothing else


def _validator(spec: dict, ref: str) -> jsonschema.Draft202012Validator:
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resource("urn:balis-api", Resource.from_contents(spec, DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": f"urn:balis-api#{ref}"}, registry=registry)


async def test_search_answer_matches_its_schema(client):
    spec = openapi()
    r = await client.get("/api/search", params={"q": "中国", "sort": "year"})
    assert r.status == 200
    doc = await r.json()
    _validator(spec, "/components/schemas/SearchResult").validate(doc)
    assert doc["works"] and {m["code"] for m in doc["members"]} >= {"THU", "NLC", "CUPL"}
    work = doc["works"][0]
    r = await client.get(f"/api/works/{work['work_id']}")
    assert r.status == 200
    one = await r.json()
    _validator(spec, "/paths/~1api~1works~1{work_id}/get/responses/200/content/application~1json/schema").validate(one)
    assert one["work"]["work_id"] == work["work_id"] and one["work"]["holdings"] == work["holdings"]


async def test_members_answer_matches_its_schema(client, registry):
    doc = await (await client.get("/api/members")).json()
    _validator(openapi(), "/paths/~1api~1members/get/responses/200/content/application~1json/schema").validate(doc)
    assert [m["code"] for m in doc["members"]] == [m.code for m in registry.sorted_by_pinyin()]
    nlc = next(m for m in doc["members"] if m["code"] == "NLC")
    assert nlc["contact"]["phone"] == "010-88545426"


@pytest.mark.parametrize("query, parameter", [
    ({"q": "a", "page": "x"}, "page"),
    ({"q": "a", "sort": "price"}, "sort"),
    ({"q": "a" * 1001}, "q"),
    ({"q": "(unbalanced"}, "q"),
    ({}, "q"),
])
async def test_bad_search_parameters_are_400_json(client, query, parameter):
    r = await client.get("/api/search", params=query)
    assert r.status == 400
    doc = await r.json()
    _validator(openapi(), "/components/schemas/Error").validate(doc)
    assert doc["error"]["parameter"] == parameter and doc["error"]["message"]


async def test_unknown_and_malformed_work_ids(client):
    r = await client.get("/api/works/W0123456789abcdef")
    assert r.status == 404 and (await r.json())["error"]["status"] == 404
    r = await client.get("/api/works/../../etc")
    assert r.status in (400, 404)
    r = await client.get("/api/works/not-an-id")
    assert r.status == 400 and (await r.json())["error"]["parameter"] == "work_id"


async def test_english_errors_on_request(client):
    r = await client.get("/api/search", params={"q": "a", "page": "0", "lang": "en"})
    assert (await r.json())["error"]["message"] == "Parameter page: must be between 1 and 50"


def test_every_api_route_is_described(registry):
    """Each /api/ route the app serves has its path and method in the OpenAPI document."""
    from portal import create_app

    spec = openapi()
    app = create_app(registry)
    missing = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if not path.startswith("/api/") or route.method == "HEAD":
            continue
        if route.method.lower() not in spec["paths"].get(path, {}):
            missing.append(f"{route.method} {path}")
    assert not missing, f"routes missing from /api/openapi.json: {missing}"
