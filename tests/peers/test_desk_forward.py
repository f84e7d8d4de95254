"""The borrowing library's "send to another ILL network" block on the desk: shown when the workflow allows it and
a peer takes the service, the request goes to the peer as an ISO 18626 request, refused with the workflow's
words otherwise; the same through the JSON API."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient, TestServer

from ill import Store, peer_outbox
from ill import isomessages as im
from ill import machine as m
from members import load_registry
from portal.app import HTTP_LIMITS, create_app
from portal.auth import set_password
from tests.peers.exchange import SECRET, SECRET_ENV, write_registries

PASSWORD = "desk-pass-2026"


async def _client(tmp_path, monkeypatch) -> tuple[TestClient, Store]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    a, _ = write_registries(tmp_path, "http://balis.test/iso18626", "http://127.0.0.1:9/iso18626")
    registry = load_registry(a)
    store = Store(tmp_path / "balis.sqlite", registry=registry)
    for code in ("THU", "PKU"):
        store.add_user(f"s-{code.lower()}", "staff", code)
        set_password(store, f"s-{code.lower()}", PASSWORD)
    store.add_user("r1", "reader", "THU")
    server = TestServer(create_app(registry, store=store), host="127.0.0.1")
    await server.start_server(**HTTP_LIMITS)
    client = TestClient(server)
    await client.start_server()
    return client, store


async def _sign_in(client, user: str) -> str:
    token = (await (await client.get("/api/session")).json())["csrf_token"]
    r = await client.post("/api/session", json={"user": user, "password": PASSWORD}, headers={"X-CSRF-Token": token})
    assert r.status == 200
    return token


async def test_the_borrowing_library_sends_a_request_to_calis_from_the_desk(tmp_path, monkeypatch):
    client, store = await _client(tmp_path, monkeypatch)
    try:
        rid = store.submit("r1", title="敦煌学概论", work_id="w-dh", rota=["PKU"])["id"]
        await _sign_in(client, "s-pku")  # the lender sees no such block
        assert 'id="forward-peer"' not in await (await client.get(f"/desk/requests/{rid}")).text()
        await client.delete("/api/session", headers={"X-CSRF-Token": (await (await client.get("/api/session"))
                                                                      .json())["csrf_token"]})
        await _sign_in(client, "s-thu")
        page = await (await client.get(f"/desk/requests/{rid}")).text()
        assert 'id="forward-peer"' in page and 'value="CALIS"' in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = await client.post(f"/desk/requests/{rid}/forward", data={"csrf_token": token, "peer": "CALIS",
                                                                   "reason": "本市无馆藏"}, allow_redirects=False)
        assert r.status == 303
        done = await (await client.get(r.headers["Location"])).text()
        assert 'id="done"' in done and 'id="forward-peer"' not in done  # at CALIS now: not again
        req = store.get(rid)
        assert (req["status"], req["lender"]) == (m.REQUEST_RECEIVED, "CALIS")
        assert [leg["outcome"] for leg in store.legs(rid)] == ["cancelled", "open"]
        ((kind, body),) = peer_outbox.bodies(store, rid)
        assert kind == "request" and im.read(body).agency("supplying") == "CALIS:CN-100000"
        # the API: a second request, a peer that does not exist, then CALIS
        other = store.submit("r1", title="营造法式", work_id="w-yz", rota=["PKU"])["id"]
        token = (await (await client.get("/api/session")).json())["csrf_token"]
        r = await client.post(f"/api/desk/requests/{other}/forward", json={"peer": "TALIS"},
                              headers={"X-CSRF-Token": token})
        assert r.status == 400 and "CALIS" in (await r.json())["error"]["message"]
        r = await client.post(f"/api/desk/requests/{other}/forward", json={"peer": "CALIS", "reason": "急需"},
                              headers={"X-CSRF-Token": token})
        assert r.status == 200 and (await r.json())["request"]["lender"] == "CALIS"
        r = await client.post(f"/api/desk/requests/{other}/forward", json={"peer": "CALIS"},
                              headers={"X-CSRF-Token": token})
        assert r.status == 409 and "CALIS" in (await r.json())["error"]["message"]
    finally:
        await client.close()
        store.close()
