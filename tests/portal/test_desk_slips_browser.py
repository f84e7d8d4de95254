"""The lender's desk in headless Chromium (Debian's /usr/bin/chromium driven by Playwright) over the real test
bed: the queue shows the lender's own copy, staff tick several requests and answer them at once, then print
their pull slips (A4, six a page) and shipping labels (100 × 150 mm) to PDF; the PDF's text (pypdf) has each
request's number, call number, location, borrowing library and the reader's pick-up desk.

Screenshots go to the test's tmp dir, and to docs/screenshots/ with `make screenshots`.
"""

from __future__ import annotations

import io
import re
import unicodedata

from pypdf import PdfReader

from ill import machine as m
from ill.rota import Lender
from ill.store import Store
from tests.portal.deskkit import PASSWORD, users
from tests.portal.test_desk_copy import _held_edition
from tests.portal.test_portal_browser import Shots, browser  # noqa: F401 - the browser fixture

MM = 72 / 25.4  # PDF points per millimetre


async def _sign_in(page, base: str, user: str, path: str) -> None:
    await page.goto(base + path.lstrip("/"))
    await page.wait_for_selector("#login-user")
    await page.fill("#login-user", user)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#signed-in")


def _pdf(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data))


def _flat(text: str) -> str:
    """Text without spaces, NFKC: the PDF's text layer gives some characters as Kangxi radicals (⼤ for 大)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


async def test_tick_answer_and_print_pull_slips_and_labels(make_client, browser, tmp_path, registry):  # noqa: F811
    finder = await make_client()
    work, b, record_id, holding = await _held_edition(finder, registry)
    c = next(mem.code for mem in registry.members if mem.queryable and mem.code != b)
    a = "NLC"  # the borrowing library: its contacts in the registry say where its readers collect books
    nlc = registry.get(a).contact
    store = Store()
    users(store, a, b, c)
    for i in range(7):  # one reader per request: a reader asks once for an edition
        store.add_user(f"rx{i}", "reader", a, f"读者 {i}")
    ids = [store.submit(f"rx{i}", title=f"数据结构 第{i + 1}册", author="严蔚敏", work_id=work.work_id,
                        kind="copy" if i >= 4 else "loan",
                        rota=[Lender(b, "在架", record_id=record_id, holding=holding.call_number)])["id"]
           for i in range(7)]
    client = await make_client(store=store, logins_per_minute=10_000)
    base = str(client.make_url("/"))
    shots = Shots(tmp_path)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    # the lender's queue: each row with our copy and its status now
    await _sign_in(page, base, "sb", "/desk")
    await page.wait_for_selector("#q-answer")
    first = page.locator(f'#q-answer tr[data-request="{ids[0]}"]')
    assert holding.call_number in await first.locator("td.own-copy").inner_text()
    assert await first.locator("td.own-copy").get_attribute("data-live") == "answered"
    await page.locator("#q-answer").scroll_into_view_if_needed()
    await shots.take(page, "desk-queue-own-copy")

    # tick three, answer "will supply" at once; one was answered meanwhile and is refused with why
    for rid in ids[:3]:
        await page.check(f'#q-answer input[data-tick="{rid}"]')
    store.act(ids[2], m.WILL, "sb")
    await page.select_option('select[data-batch-action="answer"]', m.WILL)
    await page.click('button[data-batch-go="answer"]')
    await page.wait_for_selector("#batch-result")
    assert await page.get_attribute("#batch-result", "data-done") == "2"
    refused = page.locator(f'tr[data-result="{ids[2]}"]')
    assert await refused.get_attribute("data-code") == "changed"
    assert "已被他人处理" in await refused.inner_text()
    await shots.take(page, "desk-batch-result")

    # the pull slips of all seven: A4, six a page
    await page.goto(base + "desk/slips?" + "&".join(f"id={rid}" for rid in ids) + "&format=a4")
    await page.wait_for_selector('#slips[data-format="a4"]')
    assert await page.locator("article.slip").count() == 7
    assert await page.locator("article.slip svg.segno").count() == 7  # the request number as a QR code
    await shots.take(page, "desk-pull-slips")
    slips = _pdf(await page.pdf(prefer_css_page_size=True, print_background=True))
    assert len(slips.pages) == 2
    width, height = float(slips.pages[0].mediabox.width), float(slips.pages[0].mediabox.height)
    assert (round(width / MM), round(height / MM)) == (210, 297)
    text = _flat("".join(p.extract_text() for p in slips.pages))
    for rid in ids:
        assert f"申请单{rid}" in text
    assert _flat(holding.call_number) in text and _flat(holding.location) in text and holding.barcode in text
    assert "国家图书馆(NLC)" in text and _flat(nlc.address) in text  # the borrowing library and its pick-up desk
    assert "打印取书单" not in text and "返回工作台" not in text  # the screen's toolbar is not printed

    # the shipping labels: one 100 × 150 mm label a page, to the borrowing library's ILL desk
    await page.click("#slips-other")
    await page.wait_for_selector('#slips[data-format="label"]')
    labels = _pdf(await page.pdf(prefer_css_page_size=True, print_background=True))
    assert len(labels.pages) == 7
    size = labels.pages[0].mediabox
    assert (round(float(size.width) / MM), round(float(size.height) / MM)) == (100, 150)
    first_label = _flat(labels.pages[0].extract_text())
    assert f"申请单{ids[0]}" in first_label and "国家图书馆(NLC)" in first_label and _flat(nlc.address) in first_label
    assert problems == []
    await context.close()
