"""The member strip with 70 members, in headless Chromium: one line that counts what the members did
(已响应 · 无法连接 · 暂停服务 · 未检索), which opens to every member's detail; with a handful of members it is
shown whole. The live search streams into it without closing what the reader opened."""

from __future__ import annotations

import socket
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from members import load_registry
from portal.app import HTTP_LIMITS, create_app
from tests.portal.test_portal_browser import _done, browser  # noqa: F401 - the browser fixture


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens on it once the socket is closed


def _seventy(testbed, tmp_path: Path) -> Path:
    """The test bed's 8 answering members plus 3 whose port is closed, 4 suspended and the rest without an
    OPAC endpoint: 70 in all, as BALIS has."""
    text = Path(testbed.registry_path).read_text(encoding="utf-8")
    extra = []
    for i in range(3):
        extra += ["[[member]]", f'code = "DOWN{i}"', f'name = "断线馆{i}"', "timeout = 2.0", "",
                  "[[member.endpoint]]", 'protocol = "z3950"', 'host = "127.0.0.1"', f"port = {_closed_port()}", ""]
    for i in range(4):
        extra += ["[[member]]", f'code = "SUSP{i}"', f'name = "暂停馆{i}"', 'status = "suspended"',
                  'suspended_reason = "系统升级"', ""]
    answering = len(load_registry(testbed.registry_path).members)
    for i in range(70 - answering - 7):
        extra += ["[[member]]", f'code = "M{i:02d}"', f'name = "成员馆{i:02d}"', ""]
    path = tmp_path / "seventy.toml"
    path.write_text(text + "\n" + "\n".join(extra), encoding="utf-8")
    return path


async def test_seventy_members_fit_in_one_line_that_opens_to_the_details(testbed, browser, tmp_path):  # noqa: F811
    testbed.clear_faults()
    registry = load_registry(_seventy(testbed, tmp_path))
    assert len(registry.members) == 70
    server = TestServer(create_app(registry, deadline=20.0), host="127.0.0.1")
    await server.start_server(**HTTP_LIMITS)
    client = TestClient(server)
    await client.start_server()
    try:
        context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
        page = await context.new_page()
        testbed.set_fault("BNU", latency_ms=2500)  # the stream lasts a few seconds
        await page.goto(str(client.make_url("/search?q=中国&live=1")))
        await page.wait_for_selector("li.work", timeout=30_000)
        assert await page.locator('#search[data-done="0"]').count() == 1
        await page.locator(".strip-summary").click()  # the reader opens the strip while members still answer
        await _done(page)
        assert await page.locator(".members-strip").is_visible()  # the updates kept it open
        await page.locator(".strip-summary").click()
        summary = page.locator(".strip-summary")
        counts = {await s.get_attribute("data-summary"): int((await s.inner_text()).split()[0])
                  for s in await summary.locator("[data-summary]").all()}
        answering = sum(1 for m in registry.members if m.endpoints and m.active) - 3
        assert counts.get("answered") == answering and counts.get("down") == 3 and counts.get("suspended") == 4
        assert sum(counts.values()) == 70
        text = await summary.inner_text()
        assert f"{answering} 已响应" in text and "3 无法连接" in text and "4 暂停服务" in text
        box = await page.locator("#status-strip").bounding_box()
        assert box["height"] < 80, box  # one line, not 70 labels
        assert not await page.locator(".members-strip").is_visible()
        await summary.click()
        await page.wait_for_selector(".members-strip", state="visible")
        assert await page.locator(".members-strip li.st").count() == 70
        assert await page.locator('.st[data-member="SUSP0"] .st-detail').inner_text() == "暂停服务"
        await context.close()
    finally:
        testbed.clear_faults()
        await client.close()


async def test_a_few_members_are_shown_whole(make_client, browser):  # noqa: F811
    client = await make_client()
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    await page.goto(str(client.make_url("/search?q=中国")))
    await page.wait_for_selector(".members-strip", state="visible")  # open while the search streams in
    await _done(page)
    assert await page.locator(".members-strip").is_visible()
    assert await page.locator(".strip-details[open]").count() == 1
    await context.close()
