"""End to end in headless Chromium against the real test bed and a real SQLite store: a reader signs in,
searches in Chinese, watches results arrive, filters by a facet, opens an edition, requests it by ILL, finds it
under 我的申请 and cancels it; and the manual request form refuses a wrong ISBN keeping what was typed.

Screenshots of each page go to the test's tmp dir, and to docs/screenshots/ with `make screenshots`.
"""

from __future__ import annotations

import re

import pytest

from ill import machine as m
from portal.keys import CATALOGUE
from services.lenders import rota_for_work
from tests.portal.reader_helpers import PASSWORD, Clock, make_store
from tests.portal.test_portal_browser import Shots, browser  # noqa: F401 - the browser fixture


@pytest.fixture
def store():
    s = make_store(Clock())
    yield s
    s.close()


async def _done(page) -> None:
    await page.wait_for_selector('#search[data-done="1"]', timeout=60_000)


async def test_reader_requests_an_edition_and_cancels_it(make_client, bed, browser, store, tmp_path):  # noqa: F811
    bed.set_fault("BNU", latency_ms=3000)  # one member answers ~6 s late: results arrive before it does
    client = await make_client(store=store, slow_after=0.8)
    base = str(client.make_url("/"))
    shots = Shots(tmp_path)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    # sign in
    await page.goto(base + "login")
    await page.fill("#login-user", "R-NLC-1")
    await page.fill("#login-password", PASSWORD)
    await shots.take(page, "reader-login")
    await page.click("#login-submit")
    await page.wait_for_selector("#signed-in")
    assert "张读者" in await page.inner_text("#signed-in")

    # search in Chinese; results arrive while a member is still being asked
    await page.fill("#q", "中国")
    await page.click("#search-button")
    await page.wait_for_selector("li.work", timeout=30_000)
    assert await page.locator('#search[data-done="0"]').count() == 1
    await _done(page)

    # filter by the first library in the member facet
    link = page.locator('section[data-facet="member"] a[data-facet-value]').first
    count = int(await link.locator("xpath=following-sibling::span[1]").inner_text())
    await link.click()
    await _done(page)
    assert await page.locator("li.work").count() == count

    # an edition some other library can lend to this reader (the reader's library, NLC, never lends)
    catalogue = client.app[CATALOGUE]
    shown = [w for w in await page.locator("li.work").evaluate_all(
        "items => items.map(i => i.dataset.work)") if w]
    wid = None
    for candidate in shown:
        _found, rota = await rota_for_work(catalogue.work(candidate), "NLC", catalogue.registry, history={},
                                           fresh=True)
        if rota.lenders:
            wid = candidate
            break
    assert wid, "an edition on the page can be lent"
    await page.locator(f'li.work[data-work="{wid}"] a.title').click()
    await page.wait_for_selector("article.edition")
    await shots.take(page, "edition-request-button")

    # 申请馆际互借: the rota, the rules, the form
    await page.click("#request-ill")
    await page.wait_for_selector("#request-form")
    lenders = await page.locator("#rota li").evaluate_all("items => items.map(i => i.dataset.member)")
    assert lenders == rota.codes
    assert "最多同时借 3 册" in await page.inner_text("#rules")
    await page.fill("#request-note", "需要第 3 章")
    await shots.take(page, "request")
    await page.click("#request-submit")
    await page.wait_for_selector("#submitted")
    rid = int(await page.get_attribute("section.my-request", "data-request"))
    assert store.get(rid)["status"] == m.REQUEST_RECEIVED and store.get(rid)["lender"] == lenders[0]
    assert "已发往出借馆" in await page.inner_text("#r-status")
    await shots.take(page, "request-submitted")

    # 我的申请
    await page.click("#nav-requests")
    await page.wait_for_selector("#open-requests")
    assert await page.locator(f'#open-requests tr[data-request="{rid}"]').count() == 1
    await shots.take(page, "my-requests")

    # cancel, after a confirmation
    await page.click(f"#open-requests #cancel-{rid}")
    await page.wait_for_selector("#cancel-form")
    await shots.take(page, "request-cancel")
    await page.click("#cancel-confirm")
    await page.wait_for_selector("#cancelled")
    assert "已取消" in await page.inner_text("#r-status")
    assert store.get(rid)["status"] == m.CANCELLED
    await shots.take(page, "request-cancelled")

    assert not problems, problems  # no script errors, no CSP violations

    # the manual request form: a wrong ISBN is named (a 400 answer), and what was typed stays
    await page.goto(base + "requests/new")
    await page.fill("#m-title", "古代汉语")
    await page.fill("#m-author", "王力")
    await page.fill("#m-isbn", "978-7-101-00000-1")
    await page.fill("#m-citation", "王力. 古代汉语. 中华书局, 1999. 第2册 pp.10-30")
    await page.click("#manual-submit")
    await page.wait_for_selector("#error-isbn")
    assert await page.input_value("#m-title") == "古代汉语"
    assert re.search("第2册", await page.input_value("#m-citation"))
    await shots.take(page, "request-manual")
    await page.fill("#m-isbn", "7-101-00000-2")
    await page.click("#manual-submit")
    await page.wait_for_selector("#submitted")
    assert "等待本馆馆员处理" in await page.inner_text("#r-status")

    assert [p for p in problems if "status of 400" not in p] == [], problems
    await context.close()
