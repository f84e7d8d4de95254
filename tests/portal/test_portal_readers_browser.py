"""What readers type and see, in headless Chromium against the real test bed (issue 21's reader items that no
other browser test shows): a title pasted as the results list shows it and an ISBN as a copyright page prints
it find that edition; a CQL mistake is explained in Chinese and in English; a search that finds nothing offers
ways on and a request form filled in from the query, reached through a sign-in that keeps where the reader was
going after a mistyped password and takes the user name in capitals; page numbers; words instead of codes in
the facets and on the edition page; an edition's overdue loans, links to the members' own records, permanent
address, and an e-book's pointer to the print editions that can be lent; an English request page with the lenders'
reasons in English, and what the store wrote about a request and an administrator's mistake in English; the administrators' statistics with a rate written as everywhere and a CSV download with
Chinese and English headers.

Screenshots go to the test's tmp dir, and to docs/screenshots/ with `make screenshots`.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from ill.store import Store
from ill.workdays import BEIJING
from tests.portal.deskkit import PASSWORD, scenario, users
from tests.portal.test_portal_browser import Shots, browser  # noqa: F401 - the browser fixture
from tests.portal.test_portal_said import unfilled_after_a_timeout

CODES = re.compile(r"^(chi|eng|jpn|ger|fre|rus|book|ebook|serial)$")


async def _search(page, text: str) -> None:
    await page.fill("#q", text)
    await page.click("#search-button")
    await page.wait_for_selector('#search[data-done="1"]', timeout=60_000)


async def _works(client, q: str) -> list[dict]:
    return (await (await client.get("/api/search", params={"q": q})).json())["works"]


async def test_what_readers_type_and_read(make_client, registry, browser, tmp_path, carrier_pair):  # noqa: F811
    a, b, c = [m.code for m in registry.members if m.queryable][:3]
    store = Store()
    users(store, a, b, c)
    rid = unfilled_after_a_timeout(store, a, b, c)  # a request a lender let lapse and another could not supply
    scenario(store, a, b, c)  # requests, for the statistics
    client = await make_client(store=store, logins_per_minute=10_000)
    base = str(client.make_url("/"))
    shots = Shots(tmp_path)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    # page numbers, the current one marked; words in the facets, not codes
    await page.goto(base)
    await _search(page, "中国")
    assert await page.locator("nav.pager a.page[data-page]").count() >= 1
    assert await page.get_attribute("nav.pager .page.current", "aria-current") == "page"
    await page.locator('nav.pager a.page[data-page="2"]').click()
    await page.wait_for_selector('#search[data-done="1"]', timeout=60_000)
    assert await page.get_attribute("nav.pager .page.current", "data-page") == "2"
    await shots.take(page, "search-pages")
    for facet in ("language", "material_type", "clc"):
        labels = await page.locator(f'section[data-facet="{facet}"] li a').all_inner_texts()
        assert labels and not [x for x in labels if CODES.match(x.strip())], (facet, labels)
    assert all(re.match(r"^[A-Z] \S", x) for x in await page.locator('section[data-facet="clc"] li a').all_inner_texts())

    # a title pasted as the list shows it, and the ISBN as the copyright page prints it
    titles = await page.locator("li.work a.title").all_inner_texts()
    pasted = next((t for t in titles if " : " in t or " / " in t or " = " in t), titles[0])
    await _search(page, pasted)
    assert pasted in await page.locator("li.work a.title").all_inner_texts(), pasted
    with_isbn = next(w for w in await _works(client, "中国") if w.get("isbns"))
    isbn = with_isbn["isbns"][0]
    await _search(page, f"ISBN {isbn[:3]}-{isbn[3]}-{isbn[4:8]}-{isbn[8:12]}-{isbn[12:]}")
    assert with_isbn["title"] in await page.locator("li.work a.title").all_inner_texts()

    # a CQL mistake, explained with an example, in Chinese and in English
    await page.fill("#q", "dc.title = (数据结构")
    await page.click("#search-button")
    await page.wait_for_selector("main")
    said = await page.locator("main").inner_text()
    assert "CQL 检索式语法有误" in said and 'dc.title = "数据结构" AND dc.creator = 严蔚敏' in said, said[:500]
    await shots.take(page, "search-query-error")
    await page.click("#lang-switch")
    await page.wait_for_selector("html[lang=en]")
    said = await page.locator("main").inner_text()
    assert "CQL syntax error" in said and "语法" not in said, said[:500]
    await page.click("#lang-switch")
    await page.wait_for_selector("html[lang=zh-CN]")

    # nothing found: what was searched and where, ways on, and the request form filled in from the query
    await page.goto(base)
    await _search(page, "ti:数据结构 AND au:不存在的作者名")
    none = page.locator("#no-results")
    assert "已实时检索所有成员馆" in await none.inner_text()
    await shots.take(page, "search-none")
    await none.locator('a[data-try="request"]').click()
    await page.wait_for_selector("#login-user")
    await page.fill("#login-user", "RA1")  # the user name in capitals
    await page.fill("#login-password", "not the password")
    await page.click("#login-submit")
    await page.wait_for_selector("#login-user")
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")  # the mistyped password kept where the reader was going
    await page.wait_for_selector("#m-title")
    assert "/requests/new" in page.url
    assert (await page.input_value("#m-title"), await page.input_value("#m-author")) == ("数据结构", "不存在的作者名")
    await page.goto(base + "search?q=" + "ti:数据结构 AND au:不存在的作者名")
    await page.wait_for_selector('#search[data-done="1"]', timeout=60_000)
    await page.locator('#no-results a[data-try="fewer_words"]', has_text="ti:数据结构").click()
    await page.wait_for_selector('#search[data-done="1"]', timeout=60_000)
    assert await page.locator("li.work").count() > 0

    # the edition page: overdue loans marked, the members' own records, the permanent address, words not codes
    today = datetime.now(BEIJING).date().isoformat()
    works = await _works(client, "中国") + await _works(client, "经济")
    late = next(w for w in works for h in w["holdings"]
                if h["status"] == "on_loan" and h.get("due_date") and h["due_date"] < today)
    await page.goto(base + f"work/{late['work_id']}")
    await page.wait_for_selector("article.edition")
    assert await page.locator("tr.holding.overdue .overdue-mark").count() >= 1
    assert "已逾期" in await page.locator("tr.holding.overdue").first.inner_text()
    assert (await page.get_attribute("#permalink", "href")).endswith(f"/work/{late['work_id']}")
    linked = [w for w in works if any(h["member"] in {m.code for m in registry.members if m.opac_url}
                                      for h in w["holdings"])][0]
    await page.goto(base + f"work/{linked['work_id']}")
    await page.wait_for_selector("article.edition")
    assert await page.locator("a.opac-link").count() >= 1
    details = await page.locator("article.edition").inner_text()
    assert not re.search(r"\b(chi|eng)\b", details), details[:400]
    await shots.take(page, "edition-holdings")

    # an e-book points to the print editions that can be lent
    ebook, printed = carrier_pair
    found = await _works(client, f'ti:"{ebook["title"]}"')
    e_work = next(w for w in found if ebook["isbn13"] in w.get("isbns", []))
    await page.goto(base + f"work/{e_work['work_id']}")
    await page.wait_for_selector("#print-editions")
    assert "电子资源不能馆际互借" in await page.locator("#print-editions").inner_text()
    await shots.take(page, "edition-ebook")

    # an English page is English throughout: the lenders' reasons on the request page too
    elsewhere = next(w for w in works if a not in {h["member"] for h in w["holdings"]}
                     and any(h["status"] == "available" for h in w["holdings"]))  # not on the reader's own shelf
    await page.goto(base + f"work/{elsewhere['work_id']}/request")
    await page.click("#lang-switch")
    await page.wait_for_selector("html[lang=en]")
    reasons = await page.locator("span.reasons").all_inner_texts()
    assert reasons and all(("fill rate" in r or "no lending history" in r) and not re.search("[\u4e00-\u9fff]", r)
                           for r in reasons), reasons
    assert all(re.fullmatch(r"\d{1,3}\.\d %", x) for r in reasons for x in re.findall(r"[\d.]+ ?%", r)), reasons
    await page.goto(base + f"requests/{rid}")
    await page.wait_for_selector("#events")  # what the store wrote about a request, in the page's language
    said = " ".join([await page.locator(x).inner_text() for x in ("#r-message", "#legs", "#events")])
    assert "no lender could supply" in said and not re.search("[\u4e00-\u9fff]", said), said

    # the administrators' statistics: a rate as everywhere (57.9 %), and a CSV with Chinese and English headers
    await page.context.clear_cookies()
    await page.goto(base + "login?next=/admin/stats")
    await page.fill("#login-user", "adm")
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#chart-monthly")
    rates = [x.strip() for x in await page.locator('td[data-figure="fill_rate"]').all_inner_texts()]
    assert rates and all(re.fullmatch(r"\d{1,3}\.\d %|—", x) for x in rates), rates
    async with page.expect_download() as got:
        await page.click("#stats-csv")
    download = await got.value
    head = Path(await download.path()).read_text(encoding="utf-8-sig").splitlines()[0]
    assert head.startswith("代码 Code,月份 Month,发出申请 Requests sent,") and "满足率 Fill rate" in head, head

    # an administrator's mistake is told in the page's language
    await page.goto(base + "admin/holidays")
    await page.click("#lang-switch")
    await page.wait_for_selector("html[lang=en]")
    await page.fill("#holiday-year", "2027")
    await page.fill("#holiday-days", "2027-02-30")
    await page.click("#holiday-save")
    error = await page.locator("#holidays-error").inner_text()
    assert "is not a date" in error and not re.search("[\u4e00-\u9fff]", error), error

    expected = ("status of 400", "status of 401")  # the query the page explains, and the mistyped password
    assert [p for p in problems if not any(x in p for x in expected)] == [], problems
    await context.close()
    store.close()
