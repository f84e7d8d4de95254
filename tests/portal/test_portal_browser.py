"""End to end in headless Chromium (Debian's /usr/bin/chromium driven by Playwright) against the real test
bed: a reader searches in Chinese, watches results arrive, filters by a facet, sorts, opens an edition,
switches to English, opens the member list and the map; and the same search without JavaScript.

Screenshots of each page go to the test's tmp dir, and to docs/screenshots/ with `make screenshots`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

@pytest.fixture
async def browser():
    assert Path(CHROMIUM).exists(), "chromium is missing: run 'sudo make deps' (scripts/install-system.sh)"
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


class Shots:
    """Screenshots of the pages in the test's folder; copied to docs/screenshots/ only when asked for
    (`make screenshots`: BALIS_SCREENSHOTS=1), so an ordinary test run leaves the working tree as it was."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.docs = DOCS if os.environ.get("BALIS_SCREENSHOTS") == "1" else None
        if self.docs is not None:
            self.docs.mkdir(parents=True, exist_ok=True)

    async def take(self, page, name: str) -> None:
        path = self.tmp / f"{name}.png"
        await page.screenshot(path=str(path))  # the first screen, as a reader sees it
        assert path.stat().st_size > 0, f"empty screenshot {path}"
        if self.docs is not None:
            shutil.copyfile(path, self.docs / f"{name}.png")


async def _done(page) -> None:
    await page.wait_for_selector('#search[data-done="1"]', timeout=60_000)


async def test_reader_journey(make_client, bed, browser, tmp_path):
    bed.set_fault("BNU", latency_ms=3000)  # Init and search, two round trips: BNU answers after ~6 s, the strip says slow
    client = await make_client(slow_after=0.8)
    base = str(client.make_url("/"))
    shots = Shots(tmp_path)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    await page.goto(base)
    await shots.take(page, "home")
    await page.fill("#q", "中国")
    await page.click("#search-button")
    # results arrive while a member is still being asked, and the strip says which one is slow
    await page.wait_for_selector('[data-member="BNU"][data-state="slow"]', timeout=30_000)
    await page.wait_for_selector("li.work", timeout=30_000)
    assert await page.get_attribute('[data-member="BNU"]', "data-state") == "slow"
    assert await page.locator('#search[data-done="0"]').count() == 1
    assert await page.locator('.st[data-state="answered"]').count() >= 1
    await shots.take(page, "search-live")
    await _done(page)
    assert await page.get_attribute('[data-member="BNU"]', "data-state") == "answered"
    assert await page.locator('.st[data-state="answered"]').count() == 8
    assert await page.locator('.st[data-state="not_asked"]').count() == 2
    assert "live=1" in page.url
    works = await page.locator("li.work").count()
    assert works > 0
    await shots.take(page, "search")

    # facet: the first library in the facet list
    link = page.locator('section[data-facet="member"] a[data-facet-value]').first
    code = await link.get_attribute("data-facet-value")
    count = int(await link.locator("xpath=following-sibling::span[1]").inner_text())
    await link.click()
    await _done(page)
    assert await page.locator("li.work").count() == count
    assert await page.locator('section[data-facet="member"] li.selected').count() == 1
    names = await page.locator('li.work .holders').all_inner_texts()
    member_name = await page.get_attribute(f'.st[data-member="{code}"]', "data-member")
    assert member_name == code and all(names)
    await shots.take(page, "search-facet")

    # sort by year, newest first
    await page.click('a[data-sort="year"]')
    await _done(page)
    years = [int(y) for y in await page.locator("li.work .year").all_inner_texts()]
    assert years == sorted(years, reverse=True)
    await shots.take(page, "search-sorted")

    # the edition page
    title = await page.locator("li.work a.title").first.inner_text()
    await page.locator("li.work a.title").first.click()
    await page.wait_for_selector("article.edition")
    assert (await page.locator("h1").inner_text()) == title
    assert await page.locator("tr.holding").count() >= 1
    await shots.take(page, "edition")

    # English
    await page.click("#lang-switch")
    await page.wait_for_selector("html[lang=en]")
    assert await page.locator("article.edition").count() == 1
    assert "Holdings" in await page.locator("article.edition").inner_text()
    await shots.take(page, "edition-en")

    # member list and map, in English now
    await page.click("header nav >> text=Member libraries")
    await page.wait_for_selector("table.members")
    assert await page.locator("table.members tbody tr").count() == 10
    assert "Tsinghua University" in await page.locator("table.members").inner_text()
    await shots.take(page, "members-en")
    await page.click("header nav >> text=Map")
    await page.wait_for_selector("svg#district-map")
    assert await page.locator("svg#district-map circle.dot").count() == 10
    await shots.take(page, "map-en")
    await page.click("#lang-switch")
    await page.wait_for_selector("html[lang=zh-CN]")
    await shots.take(page, "map")
    await page.goto(base + "members")
    await shots.take(page, "members")

    assert not problems, problems  # no script errors, no CSP violations
    await context.close()


async def test_search_without_javascript(make_client, browser, tmp_path):
    client = await make_client()
    context = await browser.new_context(java_script_enabled=False, locale="zh-CN",
                                        viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await page.goto(str(client.make_url("/")))
    await page.fill("#q", "历史")
    await page.click("#search-button")
    await page.wait_for_selector("li.work")  # the complete page, after the search has finished
    assert "live" not in page.url
    assert await page.locator('.st[data-state="answered"]').count() == 8
    assert await page.locator('.st[data-state="asking"]').count() == 0
    # a live address without JavaScript falls back to the complete page (noscript refresh)
    await page.goto(str(client.make_url("/search?q=文学&live=1")))
    await page.wait_for_url("**/search?q=*", timeout=30_000)
    await page.wait_for_selector('#search[data-done="1"]', timeout=60_000)
    assert "live" not in page.url
    await Shots(tmp_path).take(page, "search-nojs")
    await context.close()
