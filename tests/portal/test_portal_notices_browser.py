"""End to end in headless Chromium: a reader whose book is ready to collect opens 我的消息 from the top bar, reads
where to collect it, marks the notices read and gives a mail address; a lender's staff member sees the new
request on the desk. Screenshots go to the test's tmp dir, and to docs/screenshots/ with `make screenshots`."""

from __future__ import annotations

import pytest

from ill import machine as m
from portal.auth import set_password
from tests.portal.reader_helpers import PASSWORD, Clock, make_store
from tests.portal.test_portal_browser import Shots, browser  # noqa: F401 - the browser fixture


@pytest.fixture
def store():
    s = make_store(Clock())
    set_password(s, "S-PKU", PASSWORD)
    yield s
    s.close()


async def _sign_in(page, base: str, user: str) -> None:
    await page.goto(base + "login")
    await page.fill("#login-user", user)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#signed-in")


async def test_reader_reads_my_messages_and_staff_see_notices_on_the_desk(make_client, browser, store,  # noqa: F811
                                                                         tmp_path):
    client = await make_client(store=store)
    base = str(client.make_url("/"))
    shots = Shots(tmp_path)
    ready = store.submit("R-NLC-1", title="红楼梦", author="曹雪芹", work_id="W0123456789abcdef", rota=["PKU"])["id"]
    for action, who in ((m.WILL, "S-PKU"), (m.SHIP, "S-PKU"), (m.RECEIVED, "S-NLC")):
        store.act(ready, action, who)
    store.submit("R-NLC-1", title="水浒传", work_id="W0123456789abcde0", rota=["PKU"])
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 1000})
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))

    await _sign_in(page, base, "R-NLC-1")
    await page.click("#nav-messages")
    await page.wait_for_selector("#notice-list")
    assert "4 条未读" in await page.inner_text("#unread-count")
    first = page.locator("li.notice").first
    assert await first.get_attribute("data-kind") == "sent"  # newest first: the second request's
    ready_notice = page.locator('li.notice[data-kind="ready"]')
    text = await ready_notice.inner_text()
    assert "红楼梦" in text and "已到达国家图书馆，请到国家图书馆馆际互借处取书" in text and "010-88545426" in text
    await shots.take(page, "messages")
    await page.click("#mark-read")
    await page.wait_for_selector("#notice-list")
    assert await page.locator("li.notice.unread").count() == 0
    await page.fill("#email", "zhang@example.org")
    await page.check("#email-notices")
    await page.click("#save-settings")
    await page.wait_for_selector("#settings-saved")
    assert store.user("R-NLC-1")["email"] == "zhang@example.org"
    await ready_notice.locator("a.open-link").click()
    await page.wait_for_selector("#desk-contact")
    assert "010-88545426" in await page.inner_text("#desk-contact")

    await page.click("#logout")
    await _sign_in(page, base, "S-PKU")
    await page.click("#nav-desk")
    await page.wait_for_selector("#desk-notices")
    kinds = await page.locator("#desk-notices li").evaluate_all("items => items.map(i => i.dataset.kind)")
    assert kinds.count("new_request") == 2 and "to_ship" in kinds
    await shots.take(page, "desk-notices")
    assert not problems, problems
    await context.close()
