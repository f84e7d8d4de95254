"""Accessibility of every reader, staff and administration page, checked by axe-core (axe-playwright-python's
copy of axe, docs/decisions/0015-axe-core.md) in headless Chromium against the real test bed and a real SQLite
store: no serious or critical violation on any page, one h1, the landmarks, a skip link to the main content,
a name on every control, the active menu item marked, and the live search saying how much it found.

`tour()` signs in as a reader, a lender's staff and the administrator in turn and visits each of their pages;
the phone test (test_portal_phone_browser.py) takes the same tour at 390 px. The print-only slips page
(/desk/slips) is left out: it is made for paper and leaves the screen at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

import pytest
from axe_playwright_python.async_playwright import Axe

from ill import machine as m
from ill.store import Store
from portal.app import LANG_COOKIE
from tests.portal.deskkit import PASSWORD, scenario, users
from tests.portal.test_portal_browser import Shots, browser  # noqa: F401 - the browser fixture

Visit = Callable[[str, object], Awaitable[None]]
SEVERE = ("serious", "critical")


@pytest.fixture
def codes(registry):
    a, b, c = [mem.code for mem in registry.members if mem.queryable][:3]
    return a, b, c


async def sign_in(page, base: str, user: str) -> None:
    await page.context.clear_cookies()
    await page.goto(base + "login?next=/")
    await page.fill("#login-user", user)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#signed-in")


async def tour(page, base: str, store: Store, codes: tuple[str, str, str], visit: Visit,
               lang: str | None = None) -> dict[str, int]:
    """Every page a reader, a lender's staff and the administrator see, each handed to `visit(name, page)` once
    it has loaded (in `lang` when given: "en"). Returns the requests the tour used, by name."""
    a, b, c = codes
    ids = scenario(store, a, b, c)

    async def chosen() -> None:  # the language a reader chose with the switch (signing in clears the cookies)
        if lang:
            await page.context.add_cookies([{"name": LANG_COOKIE, "value": lang, "url": base}])

    async def go(name: str, path: str, ready: str = "main") -> None:
        await chosen()
        await page.goto(base + path.lstrip("/"))
        await page.wait_for_selector(ready)
        await visit(name, page)

    # signed out: home, a live search as it finishes, an edition, the member list and map, nothing found
    await go("home", "/")
    await page.fill("#q", "中国")
    await page.click("#search-button")
    await page.wait_for_selector('#search[data-done="1"]', timeout=60_000)
    await page.wait_for_selector("li.work")
    await visit("search", page)
    work = await page.locator("li.work a.title").first.get_attribute("href")
    await go("edition", work, "article.edition")
    await go("members", "/members")
    await go("map", "/map")
    await go("no-results", "/search?q=qqzzxxwwvv")
    await go("not-found", "/no/such/page")
    await go("login", "/login")

    # a reader of member A: requests, one request, a manual request, asking for an edition, cancelling, messages
    await sign_in(page, base, "ra1")
    await go("my-requests", "/requests", "table.requests")
    await go("my-request", f"/requests/{ids['answer']}")
    await go("request-manual", "/requests/new")
    await go("request-edition", f"{work}/request")
    await go("request-cancel", f"/requests/{ids['answer']}/cancel")
    await go("messages", "/messages")
    await go("copy-request", "/requests/copy")
    await go("copy-fees", "/requests/fees")
    await go("saved-searches", "/searches")

    # lender B's staff: the queues, a request, its confirm step, the lenders tool, a batch and its result
    await sign_in(page, base, "sb")
    await go("desk", "/desk", "#desk")
    await go("desk-request", f"/desk/requests/{ids['answer']}", "#ill-request")
    await go("desk-confirm", f"/desk/requests/{ids['answer']}/confirm?action=WillSupply", "#confirm")
    await go("desk-messages", "/messages")
    await chosen()
    await page.goto(base + "desk")
    await page.check(f'#q-answer input[data-tick="{ids["answer"]}"]')
    await page.select_option('select[data-batch-action="answer"]', m.WILL_SUPPLY)
    await page.click('button[data-batch-go="answer"]')
    await page.wait_for_selector("main")
    await visit("desk-batch", page)
    await sign_in(page, base, "sa")
    await go("desk-locate", f"/desk/locate?request={ids['route']}", "#locate-target")

    # the administrator: the dashboard, a member's suspension step, a request, statistics, the calendar
    await sign_in(page, base, "adm")
    await go("admin", "/admin", "#admin")
    await go("admin-member", f"/admin/members/{c}/confirm?status=suspended&reason=x", "#confirm-reason")
    await go("admin-request", f"/admin/requests/{ids['reader']}")
    await go("admin-stats", "/admin/stats", "#chart-monthly")
    await go("admin-holidays", "/admin/holidays")
    await go("admin-copies", "/admin/dd")
    return ids


async def landmarks(page) -> dict:
    return await page.evaluate("""() => ({
        lang: document.documentElement.lang,
        h1: document.querySelectorAll('h1').length,
        header: document.querySelectorAll('body > header').length,
        nav: document.querySelectorAll('header nav').length,
        main: document.querySelectorAll('main#main').length,
        footer: document.querySelectorAll('body > footer').length,
        skip: (document.querySelector('body > a.skip') || {}).hash || null,
        unnamed: Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby'))
            .map(el => el.outerHTML.slice(0, 120)),
    })""")


@pytest.mark.parametrize("lang", [None, "en"])
async def test_every_page_passes_axe(make_client, browser, tmp_path, codes, lang):  # noqa: F811
    a, b, c = codes
    store = Store()
    users(store, a, b, c)
    client = await make_client(store=store, logins_per_minute=10_000)
    base = str(client.make_url("/"))
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    axe = Axe()
    found: dict[str, list[str]] = {}
    shapes: dict[str, dict] = {}

    async def visit(name: str, page) -> None:
        results = await axe.run(page)
        found[name] = [f"{v['id']} ({v['impact']}): {len(v['nodes'])} × {v['nodes'][0]['target']}"
                       for v in results.response["violations"]]
        shapes[name] = await landmarks(page)

    await tour(page, base, store, codes, visit, lang)
    # every violation axe found, by page (moderate and minor ones too), for a person to read after the run
    (tmp_path / "axe.json").write_text(json.dumps(found, ensure_ascii=False, indent=1), encoding="utf-8")
    assert len(found) == 29, sorted(found)
    severe = {k: [v for v in vs if any(f"({s})" in v for s in SEVERE)] for k, vs in found.items()}
    assert {k: v for k, v in severe.items() if v} == {}
    for name, shape in shapes.items():
        assert shape == {"lang": lang or "zh-CN", "h1": 1, "header": 1, "nav": 1, "main": 1, "footer": 1,
                         "skip": "#main", "unnamed": []}, (name, shape)
    assert [p for p in problems if "404 (Not Found)" not in p] == []  # the not-found page's own 404 is expected
    await context.close()
    store.close()


async def test_skip_link_menu_and_announcement(make_client, browser, codes, tmp_path):  # noqa: F811
    """The skip link is the first thing a keyboard reaches and leads into the page; the menu marks where the
    reader is; a live search tells a screen reader how many editions it found once it has finished."""
    a, b, c = codes
    store = Store()
    users(store, a, b, c)
    client = await make_client(store=store, logins_per_minute=10_000)
    base = str(client.make_url("/"))
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    page = await context.new_page()

    await page.goto(base + "members")
    await page.keyboard.press("Tab")
    focused = await page.evaluate("() => [document.activeElement.className, document.activeElement.textContent]")
    assert focused == ["skip", "跳到正文"]
    assert await page.locator("a.skip").is_visible()  # shown when it has the focus
    await Shots(tmp_path).take(page, "a11y-skip-link")
    await page.keyboard.press("Enter")
    assert page.url.endswith("#main")
    assert await page.get_attribute('header nav a[href="/members"]', "aria-current") == "page"
    assert not await page.locator("#menu-button").is_visible()  # a wide screen shows the menu itself
    assert await page.locator("header nav [aria-current]").count() == 1

    await page.goto(base)
    await page.fill("#q", "中国")
    await page.click("#search-button")
    await page.wait_for_selector('#search[data-done="1"]', timeout=60_000)
    live = page.locator("#announce")
    assert await live.get_attribute("aria-live") == "polite"
    works = await page.locator("li.work").count()
    await page.wait_for_function("() => /检索完成/.test(document.getElementById('announce').textContent)")
    said = await live.inner_text()
    assert re.search(rf"本页 {works} 种版本", said), said

    await sign_in(page, base, "sb")
    await page.goto(base + "desk")
    assert await page.get_attribute("#nav-desk", "aria-current") == "page"
    await context.close()
    store.close()
