"""Where the members' servers are (host names, ports) is shown to staff, never to anonymous readers."""

from __future__ import annotations

import re

import pytest

from services.search import MemberStatus, for_readers
from tests.portal.reader_helpers import Clock, make_store, sign_in

ADDRESS = re.compile(r"127\.0\.0\.1|localhost|tcp:|:\d{4,5}\b")


@pytest.mark.parametrize("detail", [
    "cannot connect to tcp:127.0.0.1:21001/Default (connection refused)",
    "SRU request to http://opac.bnu.edu.cn:8080/sru failed: timeout",
    "no answer from z3950.lib.pku.edu.cn port 210",
    "connection to [::1]:2100 reset",
])
def test_readers_see_no_server_address_in_a_members_detail(detail):
    for state in ("down", "refused"):
        shown = for_readers(MemberStatus("BNU", "北京师范大学", state, "error", detail=detail))
        assert shown.detail is None or not ADDRESS.search(shown.detail), shown.detail
    refused = for_readers(MemberStatus("BNU", "北京师范大学", "refused", "diagnostic",
                                       detail="Unsupported attribute type 1=31 (server 10.0.0.7:210)"))
    assert refused.detail == "Unsupported attribute type 1=31 (server …)"


@pytest.fixture
def store():
    s = make_store(Clock())
    yield s
    s.close()


async def test_a_member_that_is_down_is_shown_without_its_address(bed, make_client, store):
    bed.set_fault("BNU", mode="refuse")
    anonymous = await make_client(store=store)
    doc = await (await anonymous.get("/api/search", params={"q": "中国", "source": "live"})).json()
    bnu = next(m for m in doc["members"] if m["code"] == "BNU")
    assert bnu["state"] == "down" and not ADDRESS.search(str(bnu["detail"] or ""))
    html = await (await anonymous.get("/search", params={"q": "中国", "source": "live"})).text()
    assert not ADDRESS.search(html)
    members = await (await anonymous.get("/api/members")).json()
    assert not ADDRESS.search(str(members)) and all(e.keys() == {"protocol"}
                                                    for m in members["members"] for e in m["endpoints"])
    staff = await make_client(store=store)
    await sign_in(staff, "S-THU")
    doc = await (await staff.get("/api/search", params={"q": "中国", "source": "live"})).json()
    bnu = next(m for m in doc["members"] if m["code"] == "BNU")
    assert bnu["state"] == "down" and ADDRESS.search(bnu["detail"]), bnu  # staff tell the member what failed
    members = await (await staff.get("/api/members")).json()
    assert any(e.get("host") for m in members["members"] for e in m["endpoints"])
