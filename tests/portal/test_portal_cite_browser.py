"""Citing and exporting in the portal, in headless Chromium against the test bed: the edition page shows the
GB/T 7714-2015 and APA references and downloads RIS / BibTeX / MARCXML; a reader marks two results and
exports them as one file; the same over plain HTTP, with the errors a bad export gets."""

from __future__ import annotations

import re
from html import unescape

import bibtexparser
import rispy
from lxml import etree

from services.cite import MAX_EXPORT
from tests.portal.test_portal_browser import Shots, _done, browser  # noqa: F401 - the browser fixture


async def test_a_reader_cites_an_edition_and_exports_marked_results(make_client, browser, tmp_path):  # noqa: F811
    client = await make_client()
    base = str(client.make_url("/"))
    shots = Shots(tmp_path)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900}, accept_downloads=True)
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    await page.goto(base + "search?q=" + "经济")
    await _done(page)
    marks = page.locator("li.work input.mark")
    assert await marks.count() >= 2
    wanted = [await marks.nth(i).get_attribute("value") for i in (0, 1)]
    await marks.nth(0).check()
    await marks.nth(1).check()
    await page.select_option("#export-format", "ris")
    async with page.expect_download() as info:
        await page.click("#export-form button[type=submit]")
    download = await info.value
    assert download.suggested_filename == "balis-2.ris"
    await download.save_as(tmp_path / "marked.ris")
    entries = rispy.loads((tmp_path / "marked.ris").read_text(encoding="utf-8"))
    assert [e["id"] for e in entries] == wanted

    await page.locator("li.work a.title").first.click()
    await page.wait_for_selector("section.cite")
    gb = await page.locator('dd.reference[data-style="gbt7714"]').inner_text()
    apa = await page.locator('dd.reference[data-style="apa"]').inner_text()
    assert re.search(r"\[(M|M/OL|J|Z)\]", gb) and gb.endswith("."), gb
    assert re.search(r"\(\d{4}\)|\(n\.d\.\)", apa), apa
    await page.locator("section.cite").scroll_into_view_if_needed()
    await shots.take(page, "edition-cite")
    async with page.expect_download() as info:
        await page.click('a.export[data-format="bibtex"]')
    download = await info.value
    await download.save_as(tmp_path / "one.bib")
    library = bibtexparser.parse_string((tmp_path / "one.bib").read_text(encoding="utf-8"))
    assert len(library.entries) == 1 and library.entries[0].key == wanted[0]
    assert not problems, problems
    await context.close()


async def test_exports_over_http_and_what_a_bad_export_is_told(client):
    doc = await (await client.get("/api/search", params={"q": "中国"})).json()
    ids = [w["work_id"] for w in doc["works"][:3]]
    r = await client.get(f"/work/{ids[0]}/export", params={"format": "marcxml"})
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/marcxml+xml")
    assert f'filename="{ids[0]}.xml"' in r.headers["Content-Disposition"]
    root = etree.fromstring(await r.read())
    assert root.tag == "{http://www.loc.gov/MARC21/slim}collection" and len(root) == 1
    r = await client.get("/export", params=[("work", i) for i in ids] + [("format", "bibtex")])
    assert r.status == 200 and [e.key for e in bibtexparser.parse_string(await r.text()).entries] == ids
    cited = await (await client.get(f"/api/works/{ids[0]}/citation")).json()
    assert set(cited["citations"]) == {"gbt7714", "apa"} and cited["citations"]["gbt7714"]["text"]
    page = unescape(await (await client.get(f"/work/{ids[0]}")).text())
    assert cited["citations"]["gbt7714"]["text"] in page and "引用与导出" in page

    r = await client.get("/export", params={"format": "ris"})
    assert r.status == 400 and "请先勾选要导出的版本" in await r.text()
    r = await client.get("/export", params={"work": "W0123456789abcdef", "format": "ris"})
    assert r.status == 400 and "找不到版本 W0123456789abcdef" in await r.text()
    r = await client.get("/export", params={"work": ids[0], "format": "docx"})
    assert r.status == 400 and "ris, bibtex, marcxml" in await r.text()
    r = await client.get("/export", params=[("work", ids[0])] * (MAX_EXPORT + 1))
    assert r.status == 400 and f"一次最多导出 {MAX_EXPORT} 种版本" in await r.text()
    r = await client.get("/export", params={"work": "../../etc/passwd", "format": "ris"})
    assert r.status == 400
