"""Every actor x every state x every action, in the store: an action is taken exactly when the workflow's
`explain` allows it, refused with the error its code names (and nothing changed) when it does not; and the
table of who may do what in docs/ill-requests.md is the one `explain` gives."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import ill.errors
from ill import machine as m
from ill.store import Store
from tests.ill.workflow_cases import (
    ACTORS,
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
from tests.ill.workflow_cases import ADMIN as ADMIN_ACTOR

NOW = datetime(2025, 9, 30, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Beijing
LIBS = Libraries("THU", "PKU", "RUC", "CUPL")
DOC = Path(__file__).resolve().parents[2] / "docs" / "ill-requests.md"


class Cast:
    """A store at NOW with the people of workflow_cases, and a new reader for every request built."""

    def __init__(self, path: Path):
        self.store = Store(path, clock=lambda: NOW)
        add_people(self.store, LIBS)
        self.readers = itertools.count(1)

    def request(self, state: str) -> tuple[int, str]:
        reader = f"r{next(self.readers)}"
        self.store.add_user(reader, "reader", LIBS.bor)
        return build(self.store, LIBS, state, reader, NOW), reader


@pytest.fixture
def cast(tmp_path):
    c = Cast(tmp_path / "ill.sqlite")
    yield c
    c.store.close()


@pytest.mark.parametrize("state", ALL_STATES)
def test_the_store_does_exactly_what_explain_says(cast, state):
    store = cast.store
    rid, owner = cast.request(state)
    req = store.get(rid)
    allowed: list[tuple[str, str]] = []
    for kind in ACTORS:
        user = actor_id(store, LIBS, kind, req, owner)
        verdicts = store.explain(rid, user)
        assert [v.action for v in verdicts] == list(m.PERSON_ACTIONS)
        assert verdicts == m.explain(req, store.user(user), NOW, undoable=any(v.allowed for v in verdicts
                                                                                if v.action == m.ROLLBACK))
        for v in verdicts:
            assert v.reason or v.allowed, (state, kind, v)
            if v.allowed:
                allowed.append((kind, v.action))
                continue
            error = getattr(ill.errors, ERROR_OF_CODE[v.code])
            with pytest.raises(error) as refused:
                store.act(rid, v.action, user, **inputs(v.action, LIBS))
            assert refused.value.code == v.code and refused.value.http_status == error.http_status
            assert store.get(rid)["version"] == req["version"], (state, kind, v.action)  # nothing changed
    # people with no part in the request may do nothing at all
    assert not [a for a in allowed if a[0] in (OTHER_READER, EARLIER, UNRELATED)]
    for kind, action in allowed:  # each allowed action, on a request of its own in the same state
        rid2, owner2 = cast.request(state)
        user = actor_id(store, LIBS, kind, store.get(rid2), owner2)
        before = store.get(rid2)
        after = store.act(rid2, action, user, **inputs(action, LIBS))
        last = store.history(rid2)[-1]
        assert (last["action"], last["actor"]) == (action, user), (state, kind, action)
        if action not in (m.NOTIFY, m.REPORT_DAMAGED, m.ROLLBACK):
            assert (after["status"], after["phase"]) != (before["status"], before["phase"]) or \
                after["lender"] != before["lender"], (state, kind, action)


def test_the_cancel_of_issue_16_has_one_answer(cast):
    """The first lender answered Unfilled and the request moved on: the borrowing library's staff and, within
    the hour, the reader may cancel; a reader an hour later may not; after the new lender's answer nobody may."""
    store = cast.store
    rid, owner = cast.request("received_forwarded")
    assert m.CANCEL in m.may(store.get(rid), store.user(LIBS.staff(LIBS.bor)), NOW)
    assert m.CANCEL in m.may(store.get(rid), store.user(owner), NOW)
    late, late_owner = cast.request("received_forwarded_late")
    v = next(v for v in store.explain(late, late_owner) if v.action == m.CANCEL)
    assert (v.allowed, v.code) == (False, "expired") and "1 小时" in v.reason
    answered, answered_owner = cast.request("will_forwarded")
    for user in (answered_owner, LIBS.staff(LIBS.bor)):
        v = next(v for v in store.explain(answered, user) if v.action == m.CANCEL)
        assert (v.allowed, v.code) == (False, "answered")


# -- the table in docs/ill-requests.md ---------------------------------------------------------------------
COLUMNS = (OWNER, BORROWING, LENDING, ADMIN_ACTOR)
HEADINGS = {OWNER: "the reader who asked", BORROWING: "borrowing library staff",
            LENDING: "staff of the current lender", ADMIN_ACTOR: "centre administrators"}
SHOWN_STATES = [s for s in ALL_STATES if s not in ("received_forwarded_late", "pending_late")]


def workflow_table(cast: Cast) -> str:
    """Who may do what, as `explain` says, in the words of the table in docs/ill-requests.md."""
    store = cast.store
    lines = ["| request | " + " | ".join(HEADINGS[c] for c in COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    for state in SHOWN_STATES:
        rid, owner = cast.request(state)
        req = store.get(rid)
        where = f"{req['status']}/{req['phase']}" if req["phase"] else req["status"]
        label = f"{req['kind']} {where}" + {"received_forwarded": " (after a forward)",
                                            "will_forwarded": " (after a forward)",
                                            "received_late": " (over an hour after submitting)"}.get(state, "")
        cells = []
        for kind in COLUMNS:
            may = [v.action for v in store.explain(rid, actor_id(store, LIBS, kind, req, owner)) if v.allowed]
            cells.append(", ".join(f"`{a}`" for a in may) or "—")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_the_documented_table_is_the_workflow(cast):
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- who-may-table -->\n(.*?)\n<!-- /who-may-table -->", text, re.S)
    assert found, "docs/ill-requests.md lost its table of who may do what"
    assert found.group(1).strip() == workflow_table(cast), "regenerate it: print(workflow_table(...))"
