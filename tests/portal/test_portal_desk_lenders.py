"""A rota typed at the desk names members that can answer: a code that is not a member, a suspended member
or one that does not lend through ILL is refused with its name, and the request stays where it was."""

from __future__ import annotations

import pytest

from ill import machine as m
from ill.store import Store
from tests.portal.deskkit import act_api, act_page, sign_in, users


@pytest.fixture
def codes(registry):
    a, b, c = [mem.code for mem in registry.members if mem.queryable][:3]
    return a, b, c


@pytest.fixture
def store(codes):
    s = Store()  # $BALIS_DB: this test's own file; the portal gives it its registry
    users(s, *codes)
    yield s
    s.close()


@pytest.mark.parametrize("transport", ["page", "api"])
async def test_routing_to_a_library_that_does_not_exist_is_refused(make_client, store, codes, transport):
    a, b, c = codes
    desk = await make_client(store=store, logins_per_minute=10_000)
    token = await sign_in(desk, "sa")
    manual = store.submit("ra1", title="手工申请", citation="某书, 2001")["id"]

    async def route(rota: str):
        if transport == "page":
            return await act_page(desk, manual, "route", rota=rota)
        return await act_api(desk, token, manual, "route", rota=rota.split(","))

    status, answer = await route(f"{b},ZZZ")
    assert status == 400 and "ZZZ" in str(answer) and "balis members" in str(answer)
    store.set_member_state(c, "suspended", "adm", "系统升级")
    status, answer = await route(c)
    assert status == 400 and c in str(answer) and "暂停服务" in str(answer)
    req = store.get(manual)
    assert req["status"] == m.PENDING and req["lender"] is None  # nothing was sent anywhere
    status, _ = await route(b)
    assert status in (200, 303) and store.get(manual)["lender"] == b


def test_the_store_checks_lenders_against_its_registry(registry, codes, tmp_path):
    a, b, _ = codes
    with Store(f"sqlite:///{tmp_path / 'ill.sqlite'}", registry=registry) as store:
        users(store, *codes)
        with pytest.raises(Exception, match="NOPE"):
            store.submit("ra1", title="x", work_id="W0123456789abcdef", rota=[b, "NOPE"])
        assert store.list_requests(reader="ra1") == []
