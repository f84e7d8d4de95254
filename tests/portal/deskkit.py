"""Helpers of the staff desk and administration tests: users, signing in, requests in every state, and taking
an action through the page's two steps or through the API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import jsonschema
from referencing import Registry, Resource

from ill.store import Store
from portal.api import openapi
from portal.auth import hash_password

PASSWORD = "desk-test-pass"
_HASH = None


def validator(ref: str) -> jsonschema.Draft202012Validator:
    from referencing.jsonschema import DRAFT202012

    spec = openapi()
    registry = Registry().with_resource("urn:balis-api", Resource.from_contents(spec, DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": f"urn:balis-api#{ref}"}, registry=registry)


def response_schema(path: str, method: str = "get") -> jsonschema.Draft202012Validator:
    pointer = path.replace("~", "~0").replace("/", "~1")
    return validator(f"/paths/{pointer}/{method}/responses/200/content/application~1json/schema")


def users(store: Store, a: str, b: str, c: str) -> None:
    """Readers ra1..ra4 of A, rb1 of B, staff sa / sb / sc of A / B / C, the administrator adm; one password."""
    global _HASH
    if _HASH is None:
        _HASH = hash_password(PASSWORD)  # Argon2id once; every user gets the same hash
    made = [("ra1", "reader", a), ("ra2", "reader", a), ("ra3", "reader", a), ("ra4", "reader", a),
            ("rb1", "reader", b), ("sa", "staff", a), ("sb", "staff", b), ("sc", "staff", c), ("adm", "admin", None)]
    for uid, role, member in made:
        store.add_user(uid, role, member, f"{uid} 的名字")
        store.set_password_hash(uid, _HASH)


async def sign_in(client, user: str | None) -> str:
    """Sign out whoever is signed in, then sign `user` in (None: stay signed out). Returns the CSRF token."""
    token = (await (await client.get("/api/session")).json())["csrf_token"]
    await client.delete("/api/session", headers={"X-CSRF-Token": token})
    if user is not None:
        r = await client.post("/api/session", json={"user": user, "password": PASSWORD},
                              headers={"X-CSRF-Token": token})
        assert r.status == 200, await r.text()
    return token


def token_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def expect_of(html: str) -> str:
    return unescape(re.search(r'name="expect" value="([^"]*)"', html).group(1))


async def act_page(client, rid: int, action: str, **values) -> tuple[int, str]:
    """The page's two steps: the request page offers the action, its confirm page posts it.
    Returns (status of the post, the text of the page it ends on)."""
    page = await client.get(f"/desk/requests/{rid}")
    html = await page.text()
    assert page.status == 200, html
    assert f'data-action="{action}"' in html, f"{action} not offered on request {rid}"
    confirm = await client.get(f"/desk/requests/{rid}/confirm", params={"action": action})
    chtml = await confirm.text()
    assert confirm.status == 200, chtml
    form = {"csrf_token": token_of(chtml), "action": action, "expect": expect_of(chtml),
            **{k: str(v) for k, v in values.items()}}
    r = await client.post(f"/desk/requests/{rid}/act", data=form, allow_redirects=False)
    if r.status == 303:
        assert r.headers["Location"].startswith((f"/desk/requests/{rid}?done=", "/desk?done="))
        after = await client.get(r.headers["Location"])
        return 303, await after.text()
    return r.status, await r.text()


async def act_api(client, token: str, rid: int, action: str, **values) -> tuple[int, dict]:
    detail = await (await client.get(f"/api/desk/requests/{rid}")).json()
    assert action in detail["request"]["actions"], (action, detail["request"]["actions"])
    body = {"action": action, "expect": detail["request"]["state"], **values}
    r = await client.post(f"/api/desk/requests/{rid}/actions", json=body, headers={"X-CSRF-Token": token})
    doc = await r.json()
    if r.status == 200:
        response_schema("/api/desk/requests/{id}/actions", "post").validate(doc)
    return r.status, doc


def ago(**delta) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def scenario(store: Store, a: str, b: str, c: str) -> dict[str, int]:
    """Requests of A's readers at lender B in every place a desk cares about (ids by name)."""
    ids: dict[str, int] = {}
    editions = iter(f"W{n:016x}" for n in range(0x0123456789abcdf0, 0x0123456789abcfff))  # one each: no duplicates

    def new(name: str, reader: str, rota: list[str], steps: list[tuple[str, str]], **kw) -> None:
        req = store.submit(reader, title=f"书 {name}", author="作者", work_id=next(editions), rota=rota, **kw)
        for action, actor in steps:
            store.act(req["id"], action, actor)
        ids[name] = req["id"]

    # an overdue loan: lent two months ago, marked by the clock
    old = store.submit("ra1", title="书 overdue", work_id=next(editions), rota=[b], now=ago(days=70))
    for action, actor in (("WillSupply", "sb"), ("ship", "sb"), ("Received", "sa"), ("lend", "sa")):
        store.act(old["id"], action, actor, now=ago(days=65))
    store.tick()
    ids["overdue"] = old["id"]
    new("answer_late", "ra1", [b, c], [], now=ago(days=30))  # late even across the longest holiday
    new("answer", "ra1", [b], [])
    new("ship", "ra2", [b], [("WillSupply", "sb")])
    new("receive", "ra2", [b], [("WillSupply", "sb"), ("ship", "sb")])
    new("lend", "ra2", [b], [("ExpectToSupply", "sb"), ("ship", "sb"), ("Received", "sa")])
    new("reader", "ra3", [b], [("WillSupply", "sb"), ("ship", "sb"), ("Received", "sa"), ("lend", "sa")])
    new("returns_out", "ra3", [b], [("WillSupply", "sb"), ("ship", "sb"), ("Received", "sa"), ("lend", "sa"),
                                    ("take_back", "sa")])
    new("returns_in", "ra3", [b], [("WillSupply", "sb"), ("ship", "sb"), ("Received", "sa"),
                                   ("ShippedReturn", "sa")])
    manual = store.submit("ra4", title="手工 书名 甲", citation="某某. 手工书名甲. 北京: 出版社, 2001")
    ids["route"] = manual["id"]
    done = store.submit("ra4", title="书 done", work_id=next(editions), rota=[b], kind="copy")
    store.act(done["id"], "WillSupply", "sb")
    store.act(done["id"], "ship", "sb")
    ids["done"] = done["id"]
    return ids
