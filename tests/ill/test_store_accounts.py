"""The store's part of signing in (password hashes, sessions) and of member suspensions, on both databases."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ill import Store
from ill.errors import InvalidRequest, NotAllowed, NotFound
from members import load_registry, with_member_states

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(db_url, clock):
    with Store(db_url, clock=clock) as s:
        s.add_user("r1", "reader", "PKU")
        s.add_user("s1", "staff", "THU")
        s.add_user("boss", "admin")
        yield s


def test_sessions_live_until_they_expire_or_end(store, clock):
    store.set_password_hash("r1", "$argon2id$placeholder")
    store.open_session("a" * 64, "r1", timedelta(hours=8))
    assert store.session_user("a" * 64)["id"] == "r1"
    assert "password_hash" not in store.session_user("a" * 64)
    assert store.session_user("b" * 64) is None
    clock.advance(hours=8, seconds=1)
    assert store.session_user("a" * 64) is None
    store.open_session("c" * 64, "r1", timedelta(hours=8))
    store.close_session("c" * 64)
    assert store.session_user("c" * 64) is None
    with pytest.raises(NotFound):
        store.open_session("d" * 64, "ghost", timedelta(hours=1))


def test_a_new_password_ends_every_session(store):
    store.open_session("e" * 64, "s1", timedelta(hours=8))
    store.set_password_hash("s1", "$argon2id$new")
    assert store.session_user("e" * 64) is None and store.password_hash("s1") == "$argon2id$new"
    assert store.password_hash("nobody") is None


def test_only_administrators_suspend_and_a_suspension_needs_a_reason(store):
    with pytest.raises(NotAllowed, match="only centre administrators"):
        store.set_member_state("PKU", "suspended", "s1", "系统升级")
    with pytest.raises(InvalidRequest, match="needs a reason"):
        store.set_member_state("PKU", "suspended", "boss", "  ")
    state = store.set_member_state("pku", "suspended", "boss", "系统升级")
    assert (state["status"], state["reason"], state["changed_by"]) == ("suspended", "系统升级", "boss")
    assert state["since"] is not None
    resumed = store.set_member_state("PKU", "active", "boss")
    assert resumed["status"] == "active" and resumed["since"] is None
    assert list(store.member_states()) == ["PKU"]


def test_portal_suspensions_override_the_registry_file():
    registry = load_registry(ROOT / "config" / "members.toml")
    first, second = registry.members[0].code, registry.members[1].code
    states = {first: {"status": "suspended", "reason": "闭馆装修", "since": None},
              second: {"status": "active", "reason": ""}, "NOPE": {"status": "suspended", "reason": "x"}}
    changed = with_member_states(registry, states)
    assert changed.get(first).status == "suspended" and changed.get(first).suspended_reason == "闭馆装修"
    assert changed.get(second).active and changed.get(second).suspended_reason is None
    assert len(changed.members) == len(registry.members)
    assert with_member_states(registry, {}) is registry
