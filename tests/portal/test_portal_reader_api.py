"""The reader's ILL JSON API against the real test bed and a real SQLite store: every answer validated
against its schema in /api/openapi.json; access refused signed out, to staff, and across readers."""

from __future__ import annotations

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ill import machine as m
from portal.api import openapi
from tests.portal.reader_helpers import Clock, csrf_header, lendable_works, make_store, sign_in


def _schema(ref: str) -> jsonschema.Draft202012Validator:
    registry = Registry().with_resource("urn:balis-api", Resource.from_contents(openapi(), DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": f"urn:balis-api#{ref}"}, registry=registry)


def _response(path: str, method: str = "get", status: str = "200") -> jsonschema.Draft202012Validator:
    escaped = path.replace("~", "~0").replace("/", "~1")
    return _schema(f"/paths/{escaped}/{method}/responses/{status}/content/application~1json/schema")


ERROR = "/components/schemas/Error"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(clock):
    s = make_store(clock)
    yield s
    s.close()


@pytest.fixture
async def reader(make_client, store):
    client = await make_client(store=store)
    await sign_in(client, "R-NLC-1")
    return client


async def test_the_reader_api_is_described(client):
    paths = openapi()["paths"]
    assert {"get", "post"} <= set(paths["/api/requests"])
    assert "post" in paths["/api/requests/{request_id}/cancel"] and "get" in paths["/api/works/{work_id}/rota"]


async def test_rota_submit_list_detail_and_cancel_match_their_schemas(reader, store):
    wid = (await lendable_works(reader))[0]
    r = await reader.get(f"/api/works/{wid}/rota")
    rota = await r.json()
    _response("/api/works/{work_id}/rota").validate(rota)
    assert rota["home"] == "NLC" and rota["can_request"] and rota["rules"]["open_loans"] == 0
    assert rota["rules"] == {"max_open_loans": 3, "open_loans": 0, "open_loan_ids": [], "loan_period": "P1M",
                             "renewals": 0, "cancel_window_minutes": 60}
    headers = await csrf_header(reader)
    r = await reader.post("/api/requests", json={"work_id": wid, "kind": "loan", "note": "第 2 章"}, headers=headers)
    assert r.status == 201, await r.text()
    made = (await r.json())["request"]
    _response("/api/requests", "post", "201").validate({"version": 1, "request": made})
    assert [e["member"] for e in made["rota"]] == [e["member"] for e in rota["rota"]["lenders"]]
    assert made["lender"] == rota["rota"]["lenders"][0]["member"] and made["can_cancel"]
    assert made["status"] == m.REQUEST_RECEIVED and made["status_text"] == "已发往出借馆，等待答复"
    manual = await reader.post("/api/requests", json={"title": "古代汉语", "author": "王力", "year": "1999",
                                                      "kind": "copy"}, headers=headers)
    assert manual.status == 201
    mine = await (await reader.get("/api/requests")).json()
    _response("/api/requests").validate(mine)
    assert {r["id"] for r in mine["open"]} == {made["id"], (await manual.json())["request"]["id"]}
    assert mine["rules"]["open_loans"] == 1  # the copy does not count
    one = await (await reader.get(f"/api/requests/{made['id']}")).json()
    _response("/api/requests/{request_id}").validate(one)
    assert one["legs"][0]["lender"] == made["lender"] and one["history"][0]["action"] == "submit"
    assert one["request"]["citation"].endswith("读者附言：第 2 章")
    r = await reader.post(f"/api/requests/{made['id']}/cancel", headers=headers)
    assert r.status == 200
    done = await r.json()
    _response("/api/requests/{request_id}/cancel", "post").validate(done)
    assert done["request"]["status"] == m.CANCELLED and store.get(made["id"])["status"] == m.CANCELLED
    en = await (await reader.get(f"/api/requests/{made['id']}", params={"lang": "en"})).json()
    assert en["request"]["status_text"] == "cancelled"


async def test_refusals_are_409_with_the_reason(reader, store, clock):
    wids = await lendable_works(reader, count=4)
    headers = await csrf_header(reader)
    ids = []
    for wid in wids[:3]:
        r = await reader.post("/api/requests", json={"work_id": wid}, headers=headers)
        assert r.status == 201
        ids.append((await r.json())["request"]["id"])
    r = await reader.post("/api/requests", json={"work_id": wids[3]}, headers=headers)
    assert r.status == 409
    doc = await r.json()
    _schema(ERROR).validate(doc)
    assert "每人最多 3 册" in doc["error"]["message"] and "、".join(map(str, ids)) in doc["error"]["message"]
    r = await reader.post("/api/requests", json={"title": "古代汉语"}, headers=headers)
    assert r.status == 409  # a manual loan request counts too
    rota = await (await reader.get(f"/api/works/{wids[3]}/rota")).json()
    assert rota["can_request"] is False and "每人最多 3 册" in rota["refusal"]
    clock.advance(minutes=61)
    r = await reader.post(f"/api/requests/{ids[0]}/cancel", headers=headers)
    assert r.status == 409 and "超过 1 小时" in (await r.json())["error"]["message"]
    assert store.get(ids[0])["status"] == m.REQUEST_RECEIVED
    assert len(store.list_requests(reader="R-NLC-1")) == 3


async def test_bad_input_is_400_naming_the_field(reader, store):
    headers = await csrf_header(reader)
    for body, parameter in (({"title": "x", "isbn": "12345"}, "isbn"), ({"author": "王力"}, "title"),
                            ({"title": "x", "kind": "gift"}, "kind"), ({"title": "x" * 301}, "title"),
                            ({"work_id": "not-an-id"}, "work_id"), ({"title": 5}, "body"),
                            ({"title": "x", "year": "199²"}, "year"), ({"title": "x\x00"}, "title")):
        r = await reader.post("/api/requests", json=body, headers=headers)
        assert r.status == 400, body
        doc = await r.json()
        _schema(ERROR).validate(doc)
        assert doc["error"]["parameter"] == parameter, body
    r = await reader.post("/api/requests", data=b"{oops", headers={**headers, "Content-Type": "application/json"})
    assert r.status == 400
    r = await reader.get("/api/requests", params={"until": "yesterday"})
    assert r.status == 400 and (await r.json())["error"]["parameter"] == "until"
    r = await reader.post("/api/requests", json={"work_id": "W0123456789abcdef"}, headers=headers)
    assert r.status == 404
    assert store.list_requests(reader="R-NLC-1") == []


async def test_access_is_refused_signed_out_to_staff_and_across_readers(make_client, reader, store):
    wid = (await lendable_works(reader))[0]
    r = await reader.post("/api/requests", json={"work_id": wid}, headers=await csrf_header(reader))
    rid = (await r.json())["request"]["id"]
    title = store.get(rid)["title"]

    anonymous = await make_client(store=store)
    headers = await csrf_header(anonymous)
    for method, path in (("get", "/api/requests"), ("get", f"/api/requests/{rid}"),
                         ("post", f"/api/requests/{rid}/cancel"), ("post", "/api/requests"),
                         ("get", f"/api/works/{wid}/rota")):
        r = await getattr(anonymous, method)(path, headers=headers, json={} if method == "post" else None)
        assert r.status == 401, path
        _schema(ERROR).validate(await r.json())

    staff = await make_client(store=store)
    await sign_in(staff, "S-THU")
    r = await staff.get("/api/requests")
    assert r.status == 403 and "读者" in (await r.json())["error"]["message"]

    other = await make_client(store=store)
    await sign_in(other, "R-NLC-2")
    headers = await csrf_header(other)
    for method, path in (("get", f"/api/requests/{rid}"), ("post", f"/api/requests/{rid}/cancel")):
        r = await getattr(other, method)(path, headers=headers)
        assert r.status == 404, path
        assert title not in await r.text()
    assert (await (await other.get("/api/requests")).json())["requests"] == []
    assert store.get(rid)["status"] == m.REQUEST_RECEIVED


async def test_changes_need_the_csrf_header(reader, store):
    wid = (await lendable_works(reader))[0]
    r = await reader.post("/api/requests", json={"work_id": wid})
    assert r.status == 403
    assert store.list_requests(reader="R-NLC-1") == []
    r = await reader.post("/api/requests", json={"work_id": wid}, headers=await csrf_header(reader))
    rid = (await r.json())["request"]["id"]
    r = await reader.post(f"/api/requests/{rid}/cancel")
    assert r.status == 403 and store.get(rid)["status"] == m.REQUEST_RECEIVED
