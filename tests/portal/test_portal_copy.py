"""Document delivery (原文传递) through the portal over HTTP: the reader pastes a reference and the copy form is
filled, checks it, sees the suppliers by coverage and the price before confirming; the supplier's staff upload the
scan on the desk (a file that is not a PDF is refused there with the reason); the reader confirms the copyright
statement and downloads it, nobody else can; the reader's fees page and the administrators' statistics, settlement
and CSV say the same sums. Real portal in process, real SQLite store, a real whoosh union index with the journal's
holdings, the test bed's registry with copy prices and a subsidy."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import aiohttp
import pymarc
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pypdf import PdfWriter

from connectors.query import parse
from dedup import merge
from ill import Store
from ill import machine as m
from ill.workdays import BEIJING
from indexer.backend import open_index, open_searcher
from members import load_registry
from portal import create_app
from portal.app import HTTP_LIMITS
from records.normalise import normalise
from tests.portal.deskkit import sign_in, token_of, users

ISSN = "0252-3116"
PASTE = "张三, 李四. 高校图书馆文献传递服务研究[J]. 图书情报工作, 2003, 24(6): 12-15."
COPY_TOML = """
[defaults.copy]
price_per_request = 1.0
price_per_page = 0.3

[copy]
subsidy_per_request = 1.0
subsidy_budget = 1000.0
download_days = 7
download_limit = 2
file_max_mb = 1
"""


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def pdf(pages: int = 4) -> bytes:
    w = PdfWriter()
    for _ in range(pages):
        w.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def serial(member: str, statement: str):
    rec = pymarc.Record(leader="00000cas a2200000 a 4500")
    rec.add_field(pymarc.Field(tag="001", data=f"{member.lower()}-tsqb"))
    rec.add_field(pymarc.Field(tag="022", indicators=["0", " "], subfields=[pymarc.Subfield("a", ISSN)]))
    rec.add_field(pymarc.Field(tag="245", indicators=["0", "0"], subfields=[pymarc.Subfield("a", "图书情报工作")]))
    rec.add_field(pymarc.Field(tag="866", indicators=["4", "1"], subfields=[pymarc.Subfield("a", statement)]))
    return normalise(rec, syntax="marc21", member=member)


@pytest.fixture(scope="module")
def serial_index(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dd-index")
    ix = open_index(folder, create=True)
    ix.rebuild(merge([serial("PKU", "1980-2010年"), serial("RUC", "v.1(1980)-v.25(2004)")]), harvested={})
    ix.close()
    return folder


@pytest.fixture
def dd_registry(portal_registry_path, tmp_path):
    path = tmp_path / "registry.toml"
    path.write_text(portal_registry_path.read_text(encoding="utf-8") + COPY_TOML, encoding="utf-8")
    return load_registry(path)


@pytest.fixture
async def portal(bed, dd_registry, serial_index):
    store = Store()  # $BALIS_DB: this test's own file; scans go beside it
    users(store, "THU", "PKU", "RUC")
    server = TestServer(create_app(dd_registry, store=store, index_dir=serial_index, logins_per_minute=10_000,
                                   deadline=20.0), host="127.0.0.1")
    await server.start_server(**HTTP_LIMITS)
    client = TestClient(server)
    await client.start_server()
    client.store = store
    yield client
    await client.close()
    store.close()


async def form_post(client, path: str, data: dict) -> aiohttp.ClientResponse:
    page = await client.get("/requests/copy")
    return await client.post(path, data={**data, "csrf_token": token_of(await page.text())}, allow_redirects=False)


async def test_paste_check_price_confirm_upload_download(portal):
    client, store = portal, portal.store
    await sign_in(client, "ra1")  # a reader of THU
    r = await form_post(client, "/requests/copy", {"step": "paste", "paste": PASTE})
    html = await r.text()
    assert r.status == 200 and "已按 GB/T 7714 格式读取" in text(html)
    for field, value in (("journal", "图书情报工作"), ("article", "高校图书馆文献传递服务研究"), ("year", "2003"),
                         ("volume", "24"), ("issue", "6"), ("pages", "12-15"), ("authors", "张三, 李四")):
        assert re.search(rf'name="{field}" id="c-{field}" value="{re.escape(value)}"', html), field

    fields = {"kind": "article", "journal": "图书情报工作", "article": "高校图书馆文献传递服务研究",
              "authors": "张三, 李四", "year": "2003", "volume": "24", "issue": "6", "pages": "12-15", "issn": ISSN,
              "method": "download"}
    r = await form_post(client, "/requests/copy", {**fields, "step": "check", "issn": "0252-3117"})
    assert r.status == 400 and "ISSN 不正确" in text(await r.text())  # a wrong check digit: said at the field
    r = await form_post(client, "/requests/copy", {**fields, "step": "check", "pages": "1-80"})
    assert r.status == 409 and "最多 50 页" in text(await r.text())
    r = await form_post(client, "/requests/copy", {**fields, "step": "check"})
    page = await r.text()
    assert r.status == 200
    rota = re.findall(r'<li data-member="(\w+)">', page)
    assert set(rota) == {"PKU", "RUC"}
    # 1.00 + 4 pages x 0.30 = 2.20; the centre pays 1.00; the reader 1.20: shown before confirming
    assert 'data-reader-fen="120"' in page and "¥2.20" in page and "¥1.00" in page and "¥1.20" in page

    r = await form_post(client, "/requests/copy", {**fields, "step": "confirm"})
    assert r.status == 303
    rid = int(r.headers["Location"].split("/")[2].split("?")[0])
    req = store.get(rid)
    assert req["kind"] == m.COPY and req["copy_method"] == "download" and req["lender"] == rota[0]
    assert req["citation_data"]["issn"] == ISSN and req["citation_data"]["authors"] == ["张三", "李四"]

    lender_staff = {"PKU": "sb", "RUC": "sc"}[req["lender"]]
    store.act(rid, m.WILL, lender_staff)
    await sign_in(client, lender_staff)
    desk = await client.get(f"/desk/requests/{rid}")
    html = await desk.text()
    assert 'id="scan-form"' in html and "高校图书馆文献传递服务研究" in text(html)
    assert 'data-action="ship"' not in html  # the reader asked for the scan: the plain Ship is not offered

    async def upload(data: bytes, name: str = "scan.pdf"):
        form = aiohttp.FormData()
        form.add_field("csrf_token", token_of(html))
        form.add_field("request", str(rid))
        form.add_field("scan", data, filename=name, content_type="application/pdf")
        return await client.post("/desk/scan", data=form, allow_redirects=False)

    r = await upload(b"<html>not a scan</html>", "scan.html")
    assert r.status == 400 and "只接受 PDF" in text(await r.text())
    r = await upload(b"%PDF-1.7 " + b"0" * 1_100_000)  # over the registry's 1 MB
    assert r.status == 413 and "1 MB" in text(await r.text())
    forged = aiohttp.FormData()
    forged.add_field("request", str(rid))
    forged.add_field("scan", pdf(), filename="scan.pdf", content_type="application/pdf")
    assert (await client.post("/desk/scan", data=forged, allow_redirects=False)).status == 403  # no CSRF token
    assert store.get(rid)["status"] == m.WILL_SUPPLY
    scan = pdf(5)
    r = await upload(scan)
    assert r.status == 303 and r.headers["Location"] == f"/desk/requests/{rid}?done=ship"
    done = store.get(rid)
    assert done["status"] == m.COPY_COMPLETED and (done["fee_fen"], done["subsidy_fen"], done["reader_fen"]) == (
        250, 100, 150)  # 5 pages delivered
    assert "已传递：5 页" in text(await (await client.get(f"/desk/requests/{rid}")).text())

    await sign_in(client, "ra2")  # another reader of THU: as if the request did not exist
    assert (await client.get(f"/requests/{rid}/download")).status == 404
    await sign_in(client, "ra1")
    mine = text(await (await client.get(f"/requests/{rid}")).text())
    assert "下载扫描件" in mine and "读者支付 ¥1.50" in mine
    page = await client.get(f"/requests/{rid}/download")
    html = await page.text()
    assert page.status == 200 and "著作权法" in text(html)
    r = await client.post(f"/requests/{rid}/download", data={"csrf_token": token_of(html)})
    assert r.status == 400 and "请先确认版权声明" in text(await r.text())
    r = await client.post(f"/requests/{rid}/download", data={"csrf_token": token_of(html), "agree": "1"})
    assert r.status == 200 and r.content_type == "application/pdf" and await r.read() == scan
    assert r.headers["Cache-Control"] == "no-store"

    fees = text(await (await client.get("/requests/fees")).text())
    assert "供应馆收费 ¥2.50，中心补贴 ¥1.00，您支付 ¥1.50" in fees

    await sign_in(client, "adm")
    month = datetime.now(UTC).astimezone(BEIJING).strftime("%Y-%m")
    page = await client.get("/admin/dd", params={"month": month})
    html = await page.text()
    assert page.status == 200 and f'data-pair="THU-{req["lender"]}"' in html
    rows = list(csv.DictReader(io.StringIO((await (await client.get(
        "/admin/dd", params={"month": month, "format": "csv", "table": "stats"})).text()).removeprefix("\ufeff"))))
    thu = next(row for row in rows if row["代码 Code"] == "THU")  # headers in both languages, money in yuan
    assert (thu["原文传递申请 Copy requests"], thu["满足 Filled"], thu["页数 Pages"], thu["费用(元) Price (yuan)"],
            thu["补贴(元) Subsidy (yuan)"], thu["满足率 Fill rate"]) == ("1", "1", "5", "2.50", "1.00", "100.0 %")
    settle = list(csv.reader(io.StringIO((await (await client.get(
        "/admin/dd", params={"month": month, "format": "csv", "table": "settlement"})).text()).removeprefix("\ufeff"))))
    assert ["轧差 net", month, "THU", req["lender"], "", "", "", "", "1.50"] in settle
    await sign_in(client, "ra1")
    assert (await client.get("/admin/dd")).status == 403


async def test_the_form_from_a_catalogue_edition_has_the_journals_fields(portal, serial_index):
    with open_searcher(serial_index) as searcher:
        work_id = searcher.search(parse(f"issn:{ISSN}"), size=5).works[0].work_id
    await sign_in(portal, "ra1")
    html = await (await portal.get("/requests/copy", params={"work": work_id})).text()
    assert "已从目录中的版本填入书刊信息：图书情报工作" in text(html)
    assert 'id="c-journal" value="图书情报工作"' in html and f'id="c-issn" value="{ISSN}"' in html
    assert 'id="c-kind-article" checked' in html


async def test_a_paste_that_reads_nothing_and_missing_fields_are_said_at_the_form(portal):
    client = portal
    await sign_in(client, "ra1")
    r = await form_post(client, "/requests/copy", {"step": "paste", "paste": "随便写的几个字"})
    assert r.status == 400 and "未能从粘贴的文本中读出参考文献" in text(await r.text())
    r = await form_post(client, "/requests/copy", {"step": "check", "kind": "article", "year": "20"})
    body = text(await r.text())
    assert r.status == 400 and "请填写刊名或 ISSN" in body and "请填写四位年份" in body
    await sign_in(client, None)
    assert (await client.get("/requests/copy", allow_redirects=False)).status in (302, 303)
