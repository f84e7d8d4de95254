"""Invisible controls (bidi overrides, isolates, other format characters) in what people type are kept in the
store and left out of every page, so a title cannot show staff something other than what it says."""

from __future__ import annotations

import pytest

from portal.auth import set_password
from tests.portal.reader_helpers import PASSWORD, Clock, make_store, sign_in, token

SPOOF = "发票\u202egpj.exe"  # shows as 发票exe.jpg where the override is obeyed
CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\ufeff"


@pytest.fixture
def store():
    s = make_store(Clock())
    set_password(s, "S-NLC", PASSWORD)
    yield s
    s.close()


async def test_staff_pages_show_text_without_bidi_overrides_and_the_store_keeps_it(make_client, store):
    reader = await make_client(store=store)
    await sign_in(reader, "R-NLC-1")
    page = await (await reader.get("/requests/new")).text()
    r = await reader.post("/requests/new", data={"title": SPOOF, "citation": f"中华书局{CONTROLS}, 1999",
                                                  "csrf_token": token(page)}, allow_redirects=False)
    assert r.status == 303, await r.text()
    saved = store.list_requests(reader="R-NLC-1")[0]
    assert saved["title"] == SPOOF and CONTROLS in saved["citation"]  # stored as sent
    mine = await (await reader.get(r.headers["Location"])).text()
    staff = await make_client(store=store)
    await sign_in(staff, "S-NLC")
    desk = await (await staff.get(f"/desk/requests/{saved['id']}")).text()
    queue = await (await staff.get("/desk")).text()
    for html in (mine, desk, queue):
        assert not any(c in html for c in CONTROLS)
    assert "发票gpj.exe" in desk and "中华书局, 1999" in desk


async def test_joiners_that_scripts_need_are_kept(make_client, store):
    reader = await make_client(store=store)
    await sign_in(reader, "R-NLC-1")
    page = await (await reader.get("/requests/new")).text()
    persian = "می\u200cخواهم"  # ZWNJ inside a Persian word
    r = await reader.post("/requests/new", data={"title": persian, "csrf_token": token(page)},
                          allow_redirects=False)
    html = await (await reader.get(r.headers["Location"])).text()
    assert persian in html
