"""In headless Chromium against the real test bed and a real SQLite store: a reader chooses where to collect the
book and a need-before date, sees them on the request and in the history, and asking again for the edition is
refused with a link while it is open and takes a ticked confirmation after it closed; staff choose among the
editions a query matches on the locate page.

Screenshots go to the test's tmp dir, and to docs/screenshots/ with `make screenshots`.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ill import machine as m
from ill.store import Store
from ill.workdays import local_date
from tests.portal.deskkit import PASSWORD as DESK_PASSWORD
from tests.portal.deskkit import users
from tests.portal.reader_helpers import PASSWORD, Clock, lendable_works, make_store, sign_in
from tests.portal.test_portal_browser import Shots, browser  # noqa: F401 - the browser fixture
from tests.portal.test_reader_requests_sense import registry  # noqa: F401 - NLC with pick-up points


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(clock):
    s = make_store(clock)
    yield s
    s.close()


async def test_delivery_need_before_and_asking_again_in_a_browser(make_client, bed, browser, store, clock,  # noqa: F811
                                                                  tmp_path):
    client = await make_client(store=store)
    await sign_in(client, "R-NLC-1")  # only to find an edition some library lends to NLC's readers
    wid = (await lendable_works(client))[0]
    base = str(client.make_url("/"))
    shots = Shots(tmp_path)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 1100})
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(base + "login")
    await page.fill("#login-user", "R-NLC-1")
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#signed-in")

    await page.goto(base + f"work/{wid}/request")
    await page.wait_for_selector("#request-form")
    await page.check("#kind-copy")
    await page.select_option("#delivery-choice", "desk:reading")
    day = (local_date(clock.now) + timedelta(days=14)).isoformat()
    await page.fill("#need-before", day)
    await page.locator("#delivery").scroll_into_view_if_needed()
    await shots.take(page, "request-delivery")
    await page.click("#request-submit")
    await page.wait_for_selector("#submitted")
    rid = int(await page.get_attribute("section.my-request", "data-request"))
    assert "古籍馆服务台" in await page.inner_text("#r-delivery")
    assert await page.inner_text("#r-need-before") == day
    saved = store.get(rid)
    assert (saved["pickup"], saved["need_before"].isoformat()) == ("reading", day)

    # again while it is open: refused, with a link to it
    await page.goto(base + f"work/{wid}/request")
    await page.check("#kind-copy")
    await page.click("#request-submit")
    await page.wait_for_selector("#duplicate-link")
    assert "仍在处理中" in await page.inner_text("#request-failed")
    assert await page.locator("#confirm-duplicate").count() == 0
    await page.click("#duplicate-link")
    await page.wait_for_selector(f'section.my-request[data-request="{rid}"]')

    # after it closed: a ticked confirmation lets it go
    store.cancel(rid, "R-NLC-1")
    await page.goto(base + f"work/{wid}/request")
    await page.check("#kind-copy")
    await page.click("#request-submit")
    await page.wait_for_selector("#confirm-duplicate")
    await page.locator("#duplicate").scroll_into_view_if_needed()
    await shots.take(page, "request-duplicate")
    await page.check("#confirm-duplicate")
    await page.click("#request-submit")
    await page.wait_for_selector("#submitted")
    again = int(await page.get_attribute("section.my-request", "data-request"))
    assert again != rid and store.get(again)["status"] == m.REQUEST_RECEIVED
    assert not problems, problems
    await context.close()


async def test_staff_choose_an_edition_on_the_locate_page(make_client, bed, browser, tmp_path, registry):  # noqa: F811
    a, b, c = [mem.code for mem in registry.members if mem.queryable][:3]
    store = Store()
    users(store, a, b, c)
    client = await make_client(store=store, logins_per_minute=10_000)
    base = str(client.make_url("/"))
    shots = Shots(tmp_path)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1300, "height": 1000})
    page = await context.new_page()
    await page.goto(base + "login")
    await page.fill("#login-user", "sa")
    await page.fill("#login-password", DESK_PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#signed-in")
    await page.goto(base + "desk/locate")
    await page.fill("#locate-q", "中国")
    await page.click("#locate-button")
    await page.wait_for_selector("#editions", timeout=60_000)
    first = await page.get_attribute("#locate-edition", "data-work")
    assert await page.get_attribute("#editions tr.chosen", "data-work") == first
    await shots.take(page, "desk-locate-editions")
    other = await page.locator("#editions tr.edition:not(.chosen)").first.get_attribute("data-work")
    await page.locator(f'#editions tr[data-work="{other}"] a.choose').click()
    await page.wait_for_selector(f'#locate-edition[data-work="{other}"]', timeout=60_000)
    assert await page.get_attribute("#editions tr.chosen", "data-work") == other
    await context.close()
    store.close()
