"""The staff desk and the administration pages in headless Chromium (Debian's /usr/bin/chromium driven by
Playwright) against the real test bed and a real SQLite store: the lender's staff answers and ships a
request, the borrowing library's staff receives it, and the administrator's dashboard shows it.

Screenshots of each page go to the test's tmp dir, and to docs/screenshots/ with `make screenshots`.
"""

from __future__ import annotations

import re

import pytest

from ill import machine as m
from ill import stats
from ill.store import Store
from tests.portal.deskkit import PASSWORD, scenario, users
from tests.portal.test_portal_browser import Shots, browser  # noqa: F401 - the browser fixture


@pytest.fixture
def codes(registry):
    a, b, c = [mem.code for mem in registry.members if mem.queryable][:3]
    return a, b, c


async def _sign_in(page, base: str, user: str, path: str) -> None:
    await page.goto(base + path.lstrip("/"))  # signed out: the sign-in page, then back here
    await page.wait_for_selector("#login-user")
    await page.fill("#login-user", user)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#signed-in")


async def _act(page, action: str, shots: Shots | None = None, name: str = "") -> None:
    """Press the action's button on the request page, then confirm it on the confirm page."""
    await page.click(f'#actions button[data-action="{action}"]')
    await page.wait_for_selector(f'#confirm[data-action="{action}"]')
    if shots:
        await shots.take(page, name)
    await page.click("#confirm-button")
    await page.wait_for_selector("#done")


async def test_answer_ship_receive_and_the_dashboard(make_client, browser, tmp_path, codes):  # noqa: F811
    a, b, c = codes
    store = Store()
    users(store, a, b, c)
    scenario(store, a, b, c)  # other requests in every queue, over three months
    rid = store.submit("ra4", title="数据结构（C语言版）", author="严蔚敏", work_id="W0123456789abcdef",
                       rota=[b, c])["id"]
    client = await make_client(store=store, logins_per_minute=10_000)
    base = str(client.make_url("/"))
    shots = Shots(tmp_path)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    # the lender's staff: the request waits in "to answer", with its due-by time
    await _sign_in(page, base, "sb", "/desk")
    await page.wait_for_selector("#desk")
    row = page.locator(f'#q-answer tr[data-request="{rid}"]')
    assert await row.count() == 1
    assert "24:00" in await row.inner_text()
    await shots.take(page, "desk-queues")
    await row.locator("a.open").click()
    await page.wait_for_selector(f'#ill-request[data-request="{rid}"]')
    await shots.take(page, "desk-request")
    await _act(page, "WillSupply", shots, "desk-confirm")
    assert await page.get_attribute("#ill-request", "data-status") == m.WILL_SUPPLY
    await _act(page, "ship")
    assert await page.get_attribute("#ill-request", "data-status") == m.LOANED
    assert await page.get_attribute("#ill-request", "data-phase") == m.TRANSIT
    await page.click("#logout")

    # the borrowing library's staff receives it
    await _sign_in(page, base, "sa", "/desk")
    await page.wait_for_selector(f'#q-receive tr[data-request="{rid}"]')
    await page.locator(f'#q-receive tr[data-request="{rid}"] a.open').click()
    await _act(page, "Received")
    assert await page.get_attribute("#ill-request", "data-phase") == m.LIBRARY
    await shots.take(page, "desk-received")
    await page.goto(base + "desk")
    assert await page.locator(f'#q-lend tr[data-request="{rid}"]').count() == 1
    # the locate-lenders tool, for a manual request to route
    manual = next(r for r in store.list_requests(member=a, side="borrower", status=m.PENDING))
    await page.goto(base + f"desk/locate?request={manual['id']}")
    await page.wait_for_selector("#locate-target")
    found = await (await client.get("/api/search", params={"q": "中国", "source": "live"})).json()
    isbn = next(w["isbns"][0] for w in found["works"] if w["isbns"] and a not in w["members"]
                and len(w["members"]) >= 2)
    await page.fill("#locate-q", "")
    await page.fill("#locate-isbn", isbn)
    await page.click("#locate-button")
    await page.wait_for_selector("#rota tr.lender", timeout=60_000)
    await shots.take(page, "desk-locate")
    # the reader wrote another title: routing to this edition needs staff to confirm they checked it
    assert "题名不符" in await page.inner_text("#locate-mismatch")
    await page.check("#confirm-edition")
    await page.click("#route-with-rota")
    await page.wait_for_selector("#done")
    assert store.get(manual["id"])["status"] == m.REQUEST_RECEIVED
    await page.click("#logout")
    assert store.get(rid)["status"] == m.LOANED and store.get(rid)["phase"] == m.LIBRARY

    # the administrator's dashboard counts it
    await _sign_in(page, base, "adm", "/admin")
    await page.wait_for_selector("#admin")
    await shots.take(page, "admin")
    await page.click("#admin-stats")
    await page.wait_for_selector("#chart-monthly")
    month = stats.active_months(store)[-1]
    figures = stats.member_month(store, a, month)
    cells = page.locator(f'#stats-table tr[data-member="{a}"][data-month="{month}"]')
    assert await cells.locator('td[data-figure="requests_sent"]').inner_text() == str(figures["requests_sent"])
    assert await cells.locator('td[data-figure="filled"]').inner_text() == str(figures["filled"])
    bar = page.locator(f'#chart-monthly g.bar[data-label="{month}"]')
    assert await bar.get_attribute("data-value") == str(stats.member_month(store, None, month)["requests_sent"])
    assert await page.locator("#chart-fill g.bar").count() == len(stats.active_members(store))
    await shots.take(page, "admin-stats")
    await page.goto(base + "admin")
    await page.fill("#rollback-id", str(rid))
    await page.click("#rollback-show")
    await page.wait_for_selector("#rollback-last")
    last = await page.locator("#rollback-last").inner_text()
    assert re.search("已收到.*寄往借入馆途中 → 已借出 · 在借入馆", last), last
    await page.locator("#rollback").scroll_into_view_if_needed()
    await shots.take(page, "admin-rollback")
    await page.fill("#rollback-reason", "误点：书尚未到馆")
    await page.click("#rollback-button")
    await page.wait_for_selector("#done")
    assert store.get(rid)["phase"] == m.TRANSIT
    # suspend a member: the confirm step, then the member list says so
    await page.goto(base + "admin")
    await page.fill(f'tr[data-member="{c}"] input[name="reason"]', "系统升级")
    await page.click(f'button[data-suspend="{c}"]')
    await page.wait_for_selector("#confirm-reason")
    await shots.take(page, "admin-suspend")
    await page.click("#confirm-button")
    await page.wait_for_selector(f'tr[data-member="{c}"][data-status="suspended"]')

    assert not problems, problems  # no script errors, no CSP violations
    await context.close()
    store.close()
