"""Document delivery end to end in headless Chromium: a reader pastes a reference into the copy form, checks the
fields, sees the suppliers and the price and confirms; the supplier's staff upload the scan on the desk; the reader
is told under 我的消息, confirms the copyright statement and downloads the PDF from 我的申请; when the link expires
the clock deletes the file, the request page says so and the deletion is in the request's history.

Screenshots go to the test's tmp dir, and to docs/screenshots/ with `make screenshots`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ill import machine as m
from tests.portal.deskkit import PASSWORD
from tests.portal.test_portal_browser import Shots, browser  # noqa: F401 - the browser fixture
from tests.portal.test_portal_copy import ISSN, PASTE, dd_registry, pdf, portal, serial_index  # noqa: F401


async def _sign_in(page, base: str, user: str) -> None:
    await page.goto(base + "login")
    await page.fill("#login-user", user)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#signed-in")


async def test_paste_confirm_upload_notice_download_expiry(portal, browser, tmp_path):  # noqa: F811
    client, store = portal, portal.store
    base = str(client.make_url("/"))
    shots = Shots(tmp_path)
    problems: list[str] = []
    reader_ctx = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 1000},
                                           accept_downloads=True)
    reader = await reader_ctx.new_page()
    reader.on("pageerror", lambda e: problems.append(str(e)))
    await _sign_in(reader, base, "ra1")

    # 我的申请 → the copy form; paste a GB/T 7714 reference and let balis read it
    await reader.goto(base + "requests")
    await reader.click("#copy-link")
    await reader.fill("#c-paste", PASTE)
    await reader.click("#copy-paste")
    await reader.wait_for_selector("#copy-note")
    assert await reader.input_value("#c-journal") == "图书情报工作"
    assert await reader.input_value("#c-pages") == "12-15" and await reader.input_value("#c-volume") == "24"
    await reader.fill("#c-issn", ISSN)  # the reader checks the fields and adds the ISSN from the journal's cover
    await reader.select_option("#c-method", "download")
    await shots.take(reader, "copy-request-form")
    await reader.click("#copy-check")
    await reader.wait_for_selector("#copy-price")
    assert await reader.inner_text("#price-reader") == "¥1.20"
    assert await reader.locator("#copy-rota li").count() == 2
    await shots.take(reader, "copy-request-confirm")
    await reader.click("#copy-submit")
    await reader.wait_for_selector("#submitted")
    rid = int(await reader.get_attribute("section.my-request", "data-request"))
    req = store.get(rid)
    assert req["citation_data"]["journal"] == "图书情报工作" and req["copy_method"] == "download"

    # the supplier's staff: answer, then upload the scan on the request page
    staff = {"PKU": "sb", "RUC": "sc"}[req["lender"]]
    store.act(rid, m.WILL, staff)
    desk_ctx = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 1000})
    desk = await desk_ctx.new_page()
    desk.on("pageerror", lambda e: problems.append(str(e)))
    await _sign_in(desk, base, staff)
    await desk.goto(base + f"desk/requests/{rid}")
    await desk.wait_for_selector("#scan-form")
    scan = pdf(4)
    (tmp_path / "scan.pdf").write_bytes(scan)
    await desk.set_input_files("#scan-file", str(tmp_path / "scan.pdf"))
    await desk.locator("#copy-delivery").scroll_into_view_if_needed()
    await shots.take(desk, "copy-desk-upload")
    await desk.click("#scan-submit")
    await desk.wait_for_selector("#done")
    assert "已传递：4 页" in await desk.inner_text("#copy-delivered")
    assert store.get(rid)["status"] == m.COPY_COMPLETED

    # the reader is told, reads the copyright statement, confirms it and downloads the PDF
    await reader.goto(base + "messages")
    assert "扫描件" in await reader.inner_text("main")
    await reader.goto(base + f"requests/{rid}")
    await reader.click("#copy-download")
    await reader.wait_for_selector("#copyright")
    await shots.take(reader, "copy-download-copyright")
    await reader.check("#download-agree")
    async with reader.expect_download() as info:
        await reader.click("#download-button")
    download = await info.value
    saved = tmp_path / "got.pdf"
    await download.save_as(str(saved))
    assert saved.read_bytes() == scan

    # a week later the link has expired: the clock deletes the file and the reader's page says so
    changes = store.tick(now=datetime.now(UTC) + timedelta(days=7, minutes=1))
    assert [(c["id"], c["action"]) for c in changes] == [(rid, "copy_deleted")]
    assert list(store.copies.glob("*.pdf")) == []
    await reader.goto(base + f"requests/{rid}")
    assert "扫描件已不可下载" in await reader.inner_text("#copy-gone")
    assert "扫描件已删除" in await reader.inner_text("#events")
    await shots.take(reader, "copy-request-expired")
    assert problems == []
    await reader_ctx.close()
    await desk_ctx.close()
