"""The workflow's one answer, everywhere: for requests in every state and the seven people who look at them,
the desk's buttons and JSON `actions`, the reader's cancel link and `can_cancel`, the administrator's rollback
form, the answers to POSTs (page API, reader API, administrator API) and `balis request act` / `explain` are
exactly what `ill.machine.explain` says (a real SQLite store, a live portal, the command line in process).

Every state is shown to every person; refused actions are posted once per person and action (the state
chosen in turn), allowed ones once per person and action on a request of their own."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import ill.errors
from balis.cli import main as balis_main
from ill import machine as m
from ill.store import Store
from portal.auth import hash_password
from tests.ill.workflow_cases import (
    ACTORS,
    ADMIN,
    ALL_STATES,
    BORROWING,
    EARLIER,
    ERROR_OF_CODE,
    LENDING,
    OTHER_READER,
    OWNER,
    UNRELATED,
    Libraries,
    actor_id,
    add_people,
    build,
    inputs,
)

PASSWORD = "matrix-test-pass"
STAFF = (BORROWING, LENDING, EARLIER, UNRELATED)
DESK_ACTIONS = tuple(a for a in m.PERSON_ACTIONS if a != m.ROLLBACK)
ORDER = ("overdue_reader", *[s for s in ALL_STATES if s != "overdue_reader"])  # the clock's state first


class World:
    """The store behind the portal, its people (one password), and a new reader for every request."""

    def __init__(self, store: Store, libs: Libraries):
        self.store, self.libs, self.n = store, libs, 0
        self.hash = hash_password(PASSWORD)
        add_people(store, libs, self.add)

    def add(self, uid: str, role: str, member: str | None) -> None:
        self.store.add_user(uid, role, member)
        self.store.set_password_hash(uid, self.hash)

    def request(self, state: str) -> tuple[int, str]:
        self.n += 1
        reader = f"rm{self.n}"
        self.add(reader, "reader", self.libs.bor)
        return build(self.store, self.libs, state, reader, datetime.now(UTC)), reader

    def user(self, kind: str, rid: int, owner: str) -> str:
        return actor_id(self.store, self.libs, kind, self.store.get(rid), owner)

    def verdicts(self, rid: int, user: str) -> dict[str, m.Verdict]:
        return {v.action: v for v in self.store.explain(rid, user)}


@pytest.fixture
def world(registry):
    codes = [mem.code for mem in registry.members if mem.queryable][:3]
    s = Store()  # $BALIS_DB: this test's own file (tests/conftest.py)
    yield World(s, Libraries(*codes, "NLC"))
    s.close()


def _status_of(v: m.Verdict) -> int:
    return getattr(ill.errors, ERROR_OF_CODE[v.code]).http_status


async def _sign_in(client, world: World, user: str) -> str:
    if getattr(client, "h1_user", None) == user:
        return client.h1_token
    token = (await (await client.get("/api/session")).json())["csrf_token"]
    await client.delete("/api/session", headers={"X-CSRF-Token": token})
    r = await client.post("/api/session", json={"user": user, "password": PASSWORD}, headers={"X-CSRF-Token": token})
    assert r.status == 200, await r.text()
    client.h1_user = user
    client.h1_token = (await (await client.get("/api/session")).json())["csrf_token"]
    return client.h1_token


async def _shown(client, kind: str, rid: int, verdicts: dict[str, m.Verdict]) -> None:
    """What the pages and the JSON views offer this person on this request equals the verdicts."""
    allowed = [a for a, v in verdicts.items() if v.allowed]
    if kind in STAFF:
        doc = await client.get(f"/api/desk/requests/{rid}")
        html = await client.get(f"/desk/requests/{rid}")
        if not any(v.code != "not_yours" for v in verdicts.values()):  # no part in it: not even shown
            assert doc.status == 403 and html.status == 403 and not allowed
            return
        assert doc.status == 200
        assert (await doc.json())["request"]["actions"] == [a for a in allowed if a != m.ROLLBACK]
        buttons = re.findall(r'<button [^>]*data-action="([^"]+)"', await html.text())
        assert sorted(set(buttons)) == sorted(a for a in allowed if a != m.ROLLBACK), (rid, kind)
    elif kind in (OWNER, OTHER_READER):
        doc = await client.get(f"/api/requests/{rid}")
        html = await client.get(f"/requests/{rid}")
        if kind == OTHER_READER:  # another reader's request is answered as not found
            assert doc.status == 404 and html.status == 404 and not allowed
            return
        view = (await doc.json())["request"]
        assert view["can_cancel"] == verdicts[m.CANCEL].allowed
        assert (f'id="cancel-{rid}"' in await html.text()) == verdicts[m.CANCEL].allowed
        if not verdicts[m.CANCEL].allowed and view["open"]:
            assert view["cancel_state"] == {"answered": "answered", "expired": "expired"}.get(
                verdicts[m.CANCEL].code, "closed")
    else:
        html = await (await client.get(f"/admin/requests/{rid}")).text()
        assert ('id="rollback-button"' in html) == verdicts[m.ROLLBACK].allowed
        assert allowed == [a for a in (m.NOTIFY, m.ROLLBACK) if verdicts[a].allowed]


async def _post(client, token: str, kind: str, rid: int, action: str, libs: Libraries):
    """POST the action where this person would; None when the portal offers it nowhere to them."""
    values = inputs(action, libs)
    headers = {"X-CSRF-Token": token}
    if action == m.ROLLBACK:
        return await client.post(f"/api/admin/requests/{rid}/rollback", json={"reason": "测试"}, headers=headers)
    if kind in STAFF:
        return await client.post(f"/api/desk/requests/{rid}/actions", json={"action": action, **values},
                                 headers=headers)
    if kind in (OWNER, OTHER_READER) and action == m.CANCEL:
        return await client.post(f"/api/requests/{rid}/cancel", headers=headers)
    return None  # a reader's or an administrator's Notification: no page offers it


async def test_every_person_sees_and_gets_what_explain_says(make_client, world):
    store, libs = world.store, world.libs
    client = await make_client(store=store, logins_per_minute=100_000)
    built = {state: world.request(state) for state in ORDER}
    posted: set[tuple[str, str]] = set()
    plan: list[tuple[str, str, str]] = []
    formed: set[tuple[str, str]] = set()
    for k, kind in enumerate(ACTORS):
        for s, state in enumerate(ORDER):
            rid, owner = built[state]
            user = world.user(kind, rid, owner)
            token = await _sign_in(client, world, user)
            verdicts = world.verdicts(rid, user)
            plan.extend((state, kind, a) for a, v in verdicts.items() if v.allowed)
            await _shown(client, kind, rid, verdicts)
            # refused actions: each (person, action) once, the state chosen in turn
            for a, action in enumerate(m.PERSON_ACTIONS):
                v = verdicts[action]
                if v.allowed or (a + k) % len(ORDER) != s and (kind, action) in posted:
                    continue
                before = store.get(rid)["version"]
                r = await _post(client, token, kind, rid, action, libs)
                if r is None:
                    continue
                posted.add((kind, action))
                expected = (403 if kind != ADMIN else _status_of(v)) if action == m.ROLLBACK else \
                    404 if kind == OTHER_READER else _status_of(v)
                assert r.status == expected, (state, kind, action, v.code, await r.text())
                if kind in STAFF and action != m.ROLLBACK and (kind, action) not in formed:  # the page's form too
                    formed.add((kind, action))
                    form = {"csrf_token": token, "action": action, **{k: str(x) if not isinstance(x, list) else
                                                                       ",".join(x) for k, x in inputs(action, libs).items()}}
                    page = await client.post(f"/desk/requests/{rid}/act", data=form, allow_redirects=False)
                    assert page.status == expected, (state, kind, action, v.code)
                assert store.get(rid)["version"] == before
    # allowed actions: each (person, action) once, on a request of its own in the first state allowing it
    done = set()
    for state, kind, action in sorted(plan, key=lambda p: ORDER.index(p[0])):
        if (kind, action) in done:
            continue
        rid, owner = world.request(state)
        user = world.user(kind, rid, owner)
        token = await _sign_in(client, world, user)
        r = await _post(client, token, kind, rid, action, libs)
        if r is None:
            continue
        assert r.status == 200, (state, kind, action, await r.text())
        assert (store.history(rid)[-1]["action"], store.history(rid)[-1]["actor"]) == (action, user)
        done.add((kind, action))
    assert {(OWNER, m.CANCEL), (BORROWING, m.CANCEL), (BORROWING, m.ROUTE), (LENDING, m.SHIP),
            (LENDING, m.CHECK_IN), (ADMIN, m.ROLLBACK), (BORROWING, m.REPORT_LOST)} <= done
    # every refused (person, action) the portal offers a place for was posted at least once
    for kind in ACTORS:
        for action in m.PERSON_ACTIONS:
            reachable = action == m.ROLLBACK or kind in STAFF or (kind in (OWNER, OTHER_READER) and action == m.CANCEL)
            if reachable and (kind, action) not in done:
                assert (kind, action) in posted, (kind, action)


@pytest.fixture
def cli(world, tmp_path, capsys, portal_registry_path):
    db = str(Path(world.store.engine.url.database))

    def run(*argv: str) -> tuple[int, str, str]:
        code = balis_main([*argv, "--db", db, "--registry", str(portal_registry_path)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_the_command_line_does_what_explain_says(world, cli):
    store, libs = world.store, world.libs
    built = {state: world.request(state) for state in ORDER}
    posted, done, plan = set(), set(), []
    for k, kind in enumerate(ACTORS):
        for s, state in enumerate(ORDER):
            rid, owner = built[state]
            user = world.user(kind, rid, owner)
            verdicts = world.verdicts(rid, user)
            plan.extend((state, kind, a) for a, v in verdicts.items() if v.allowed)
            if (s + k) % 4 == 0:  # explain as printed, for a quarter of the pairs of state and person
                code, out, _ = cli("request", "explain", str(rid), "--as", user, "--json")
                assert code == 0
                assert [(a["action"], a["allowed"], a["code"]) for a in json.loads(out)["actions"]] == [
                    (v.action, v.allowed, v.code) for v in verdicts.values()]
            for a, action in enumerate(m.PERSON_ACTIONS):
                v = verdicts[action]
                if v.allowed or (a + k) % len(ORDER) != s and (kind, action) in posted:
                    continue
                values = inputs(action, libs)
                extra = [*(["--price", str(values["price"])] if "price" in values else []),
                         *(["--rota", ",".join(values["rota"])] if "rota" in values else [])]
                before = store.get(rid)["version"]
                code, _, err = cli("request", "act", str(rid), action, "--as", user, "--reason", "测试", *extra)
                assert code == 1 and err.startswith("balis: "), (state, kind, action, err)
                assert store.get(rid)["version"] == before
                posted.add((kind, action))
    for state, kind, action in sorted(plan, key=lambda p: ORDER.index(p[0])):
        if (kind, action) in done:
            continue
        rid, owner = world.request(state)
        user = world.user(kind, rid, owner)
        values = inputs(action, libs)
        extra = [*(["--price", str(values["price"])] if "price" in values else []),
                 *(["--rota", ",".join(values["rota"])] if "rota" in values else [])]
        code, _, err = cli("request", "act", str(rid), action, "--as", user, "--reason", "测试", *extra)
        assert code == 0, (state, kind, action, err)
        done.add((kind, action))
    assert {(kind, action) for kind in ACTORS for action in m.PERSON_ACTIONS} == posted | done
