"""Every reader, staff and administration page on a phone (390 × 844 CSS pixels, headless Chromium): no page
scrolls sideways (wide tables scroll inside their own box), axe-core finds no serious or critical violation at
that width either, the menu opens from its button, and a search shows its first result on the first screen with
the facets folded below the results.

Screenshots go to the test's tmp dir, and to docs/screenshots/phone-*.png with `make screenshots`.
"""

from __future__ import annotations

import json

from axe_playwright_python.async_playwright import Axe

from ill.store import Store
from tests.portal.deskkit import users
from tests.portal.test_portal_a11y_browser import SEVERE, codes, tour  # noqa: F401 - the codes fixture
from tests.portal.test_portal_browser import Shots, browser  # noqa: F401 - the browser fixture

PHONE = {"width": 390, "height": 844}
IN_DOCS = {"search", "edition", "my-requests", "my-request", "messages", "desk", "desk-request", "desk-batch",
           "admin", "admin-stats"}  # the phone pages docs/ shows; the others stay in the test's folder


async def overflow(page) -> dict | None:
    """The page's width past the screen's, with the widest elements that stick out; None when it fits."""
    return await page.evaluate("""() => {
        const doc = document.documentElement, width = window.innerWidth;
        if (doc.scrollWidth <= width) return null;
        const out = Array.from(document.querySelectorAll('body *'))
            .filter(el => el.getBoundingClientRect().right > width + 1)
            .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                       (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '') +
                       ' ' + Math.round(el.getBoundingClientRect().right))
            .slice(0, 8);
        return {scrollWidth: doc.scrollWidth, width, out};
    }""")


async def test_every_page_fits_a_phone(make_client, browser, tmp_path, codes):  # noqa: F811
    a, b, c = codes
    store = Store()
    users(store, a, b, c)
    client = await make_client(store=store, logins_per_minute=10_000)
    base = str(client.make_url("/"))
    shots, kept_here = Shots(tmp_path), Shots(tmp_path)
    kept_here.docs = None
    context = await browser.new_context(locale="zh-CN", viewport=PHONE, is_mobile=True, has_touch=True,
                                        device_scale_factor=2)
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    wide: dict[str, dict] = {}
    seen: list[str] = []
    axe, severe, every = Axe(), {}, {}

    async def visit(name: str, page) -> None:
        seen.append(name)
        if (too_wide := await overflow(page)) is not None:
            wide[name] = too_wide
        await (shots if name in IN_DOCS else kept_here).take(page, f"phone-{name}")
        every[name] = [f"{v['id']} ({v['impact']})" for v in (await axe.run(page)).response["violations"]]
        if found := [v for v in every[name] if any(f"({s})" in v for s in SEVERE)]:
            severe[name] = found
        if name == "search":
            await search_on_a_phone(page, shots)

    await tour(page, base, store, codes, visit)
    # every violation axe found at phone width, by page (moderate and minor ones too), for a person to read
    (tmp_path / "axe-phone.json").write_text(json.dumps(every, ensure_ascii=False, indent=1), encoding="utf-8")
    assert len(seen) == 29, seen
    assert wide == {}
    assert severe == {}  # axe-core at phone width too (the folded menu, the cards)
    assert [p for p in problems if "404 (Not Found)" not in p] == []  # the not-found page's own 404 is expected
    await context.close()
    store.close()


async def search_on_a_phone(page, shots: Shots) -> None:
    """The first result is on the first screen; the facets wait, closed, below the results; the menu opens."""
    first = await page.locator("li.work").first.bounding_box()
    assert first is not None and first["y"] + 20 < PHONE["height"], first
    drawer = page.locator("#facets-drawer")
    assert await drawer.get_attribute("open") is None
    results = await page.locator("#results").bounding_box()
    assert (await drawer.bounding_box())["y"] > results["y"]
    assert not await page.locator('section[data-facet="member"]').is_visible()
    await drawer.locator("summary").click()
    assert await page.locator('section[data-facet="member"]').is_visible()
    await drawer.locator("summary").click()

    nav = page.locator("#site-nav")
    button = page.locator("#menu-button")
    assert await button.is_visible() and not await nav.is_visible()
    await button.click()
    assert await button.get_attribute("aria-expanded") == "true"
    assert await page.locator('#site-nav a[href="/members"]').is_visible()
    await shots.take(page, "phone-menu")
    await button.click()
    assert not await nav.is_visible()


async def test_phone_without_javascript(make_client, browser, codes):  # noqa: F811
    """Without JavaScript the menu shows in full and the complete results page comes before its facets."""
    a, b, c = codes
    store = Store()
    users(store, a, b, c)
    client = await make_client(store=store)
    base = str(client.make_url("/"))
    context = await browser.new_context(locale="zh-CN", viewport=PHONE, java_script_enabled=False)
    page = await context.new_page()
    await page.goto(base + "search?q=中国")
    assert not await page.locator("#menu-button").is_visible()
    assert await page.locator('#site-nav a[href="/members"]').is_visible()
    assert await page.locator("li.work").count() > 0
    assert await overflow(page) is None
    results = await page.locator("#results").bounding_box()
    assert (await page.locator("#facets-drawer").bounding_box())["y"] > results["y"]
    await context.close()
    store.close()
