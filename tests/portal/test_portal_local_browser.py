"""In headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): a search answered from the union
index shows its results at once and then the holding libraries' live availability; the link to a live search
of every member; a misspelt word offered the spelling the index knows (whoosh and PostgreSQL alike); the same
search without JavaScript says the status is the harvested one.

Screenshots go to the test's tmp dir, and to docs/screenshots/ with `make screenshots`."""

from __future__ import annotations

import re

from connectors.query import parse
from indexer.backend import open_searcher
from tests.portal.test_portal_browser import Shots, browser  # noqa: F401 - the browser fixture
from tests.portal.test_portal_local import harvested, harvested_folder, index_dir  # noqa: F401 - the index fixtures


async def test_reader_search_from_the_union_index(make_client, bed, browser, index_dir, tmp_path):  # noqa: F811
    bed.set_fault("BNU", latency_ms=1500)  # one holder answers the availability check slowly
    client = await make_client(index_dir=index_dir, slow_after=0.8)
    shots = Shots(tmp_path)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    await page.goto(str(client.make_url("/")))
    await page.fill("#q", "中国")
    await page.click("#search-button")
    await page.wait_for_selector("li.work")
    assert await page.locator("li.work").count() == 20  # at once, from the index
    assert await page.locator('.source[data-source="local"]').count() == 1
    assert "结果来自联合目录索引" in await page.locator(".source").inner_text()
    await page.wait_for_selector('#search[data-done="1"]', timeout=60_000)
    assert await page.locator('.source[data-availability="checked"]').count() == 1
    assert await page.locator('.st[data-state="answered"]').count() >= 1
    assert await page.locator('.st[data-state="asking"]').count() == 0
    await shots.take(page, "search-local")

    # a facet click is answered from the index too, then checked again
    link = page.locator('section[data-facet="member"] a[data-facet-value]').first
    count = int(await link.locator("xpath=following-sibling::span[1]").inner_text())
    await link.click()
    await page.wait_for_selector('#search[data-done="1"]', timeout=60_000)
    assert await page.locator("li.work").count() == min(count, 20)
    assert "live=1" in page.url and await page.locator('.source[data-availability="checked"]').count() == 1

    # the edition page from the index
    await page.locator("li.work a.title").first.click()
    await page.wait_for_selector("article.edition")
    assert await page.locator("tr.holding").count() >= 1

    # a live search of every member, one click away
    await page.go_back()
    await page.click('a[data-source-switch="live"]')
    await page.wait_for_selector('.source[data-source="live"]', timeout=60_000)
    await page.wait_for_selector('#search[data-done="1"]', timeout=60_000)
    assert await page.locator('.st[data-state="answered"]').count() == 8
    await shots.take(page, "search-live-source")

    # a misspelt word: the spellings the union index knows, from either backend
    with open_searcher(index_dir) as s:
        titles = [w.display.title for w in s.search(parse("a OR the OR of"), size=200).works]
    word = next(w.lower() for t in titles for w in re.findall(r"[A-Za-z]{7,}", t))
    await page.goto(str(client.make_url("/search")) + f"?q={word[0]}{word[2]}{word[1]}{word[3:]}")
    await page.wait_for_selector("#no-results")
    offer = page.locator('#no-results a[data-try="spelling"]').first
    assert word in await offer.inner_text()
    await shots.take(page, "search-spelling")
    await offer.click()
    await page.wait_for_selector("li.work")
    assert not problems, problems
    await context.close()


async def test_union_index_search_without_javascript(make_client, browser, index_dir, tmp_path):  # noqa: F811
    client = await make_client(index_dir=index_dir)
    context = await browser.new_context(java_script_enabled=False, locale="zh-CN",
                                        viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await page.goto(str(client.make_url("/")))
    await page.fill("#q", "历史")
    await page.click("#search-button")
    await page.wait_for_selector("li.work")
    text = await page.locator(".source").inner_text()
    assert "结果来自联合目录索引" in text and "未向成员馆实时查询" in text
    assert await page.locator('.st[data-state="not_asked"]').count() == 10
    await Shots(tmp_path).take(page, "search-local-nojs")
    await context.close()
