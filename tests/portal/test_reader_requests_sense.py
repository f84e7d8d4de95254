"""Requests that make sense at the portal: the reader chooses how to get the book and a need-before date, sees
them on the request and in the history, and is refused (with a link) or asked to confirm when asking again for
an edition; the same through the JSON API. Real test bed, real SQLite store, aiohttp in process."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest

from ill import machine as m
from ill.workdays import local_date
from members import load_registry
from tests.portal.reader_helpers import Clock, csrf_header, lendable_works, make_store, sign_in, token

PICKUPS = '''
[[member.pickup]]
code = "main"
name = "总馆馆际互借处"
name_en = "ILL desk, main library"
hours = "周一至周五 9:00-17:00"
[[member.pickup]]
code = "reading"
name = "古籍馆服务台"
name_en = "Service desk, rare books"
[[member.delivery]]
code = "office"
name = "送到办公室"
name_en = "Delivered to your office"
days = 1
'''


@pytest.fixture
def registry(bed, portal_registry_path, tmp_path):
    """The portal's registry with NLC (the readers' library) offering two pick-up points and a delivery method."""
    text = Path(portal_registry_path).read_text(encoding="utf-8")
    anchor = 'address = "北京市海淀区中关村南大街33号"\n'
    path = tmp_path / "registry.toml"
    path.write_text(text.replace(anchor, anchor + PICKUPS, 1), encoding="utf-8")
    return load_registry(path)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(clock):
    s = make_store(clock)
    yield s
    s.close()


@pytest.fixture
async def reader(make_client, store):
    client = await make_client(store=store)
    await sign_in(client, "R-NLC-1")
    return client


def _text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


async def _request(client, wid: str, **form):
    page = await client.get(f"/work/{wid}/request")
    assert page.status == 200, await page.text()
    data = {"kind": "copy", "note": "", "csrf_token": token(await page.text()), **form}
    return await client.post(f"/work/{wid}/request", data=data, allow_redirects=False)


def _id(response) -> int:
    return int(re.match(r"/requests/(\d+)\?submitted=1", response.headers["Location"]).group(1))


async def test_the_reader_chooses_where_to_collect_and_a_need_before_date(reader, store, clock):
    wid = (await lendable_works(reader))[0]
    html = await (await reader.get(f"/work/{wid}/request")).text()
    options = re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', html)
    assert options == [("desk:main", "到 总馆馆际互借处 取书 (周一至周五 9:00-17:00)"),
                       ("desk:reading", "到 古籍馆服务台 取书"), ("office", "送到办公室（约多 1 个工作日）")]
    today = local_date(clock.now)
    assert f'name="need_before" id="need-before" min="{today.isoformat()}"' in html
    day = (today + timedelta(days=30)).isoformat()
    r = await _request(reader, wid, delivery="desk:reading", need_before=day)
    assert r.status == 303, await r.text()
    saved = store.get(_id(r))
    assert (saved["delivery"], saved["pickup"], saved["need_before"].isoformat()) == ("desk", "reading", day)
    text = _text(await (await reader.get(f"/requests/{saved['id']}")).text())
    assert "取书方式 到 古籍馆服务台 取书" in text and f"需要日期（选填） {day}" in text
    mine = _text(await (await reader.get("/requests")).text())
    assert f"到 古籍馆服务台 取书 · {day} 前需要" in mine
    english = _text(await (await reader.get(f"/requests/{saved['id']}?lang=en")).text())
    assert "Collect at Service desk, rare books" in english


async def test_a_need_before_date_in_the_past_or_not_a_date_is_refused_at_the_field(reader, store, clock):
    wid = (await lendable_works(reader))[0]
    yesterday = (local_date(clock.now) - timedelta(days=1)).isoformat()
    for bad, words in ((yesterday, "已过"), ("2026-02-30", "有效日期")):
        r = await _request(reader, wid, need_before=bad, note="第 2 章")
        html = await r.text()
        assert r.status == 400 and 'id="error-need_before"' in html and words in _text(html)
        assert f'value="{bad}"' in html and "第 2 章</textarea>" in html  # what was typed is kept
    assert store.list_requests(reader="R-NLC-1") == []


async def test_asking_again_for_an_edition_is_refused_or_confirmed(reader, store, make_client):
    wid = (await lendable_works(reader))[0]
    first = _id(await _request(reader, wid))
    r = await _request(reader, wid, kind="loan")
    html = await r.text()
    assert r.status == 409 and f"申请单 {first} 仍在处理中" in _text(html)
    assert f'<a href="/requests/{first}" id="duplicate-link">' in html and 'id="confirm-duplicate"' not in html
    store.cancel(first, "R-NLC-1")
    r = await _request(reader, wid)
    html = await r.text()
    assert r.status == 409 and "30 天内申请过此版本" in _text(html) and 'id="confirm-duplicate"' in html
    r = await _request(reader, wid, confirm_duplicate="1")
    assert r.status == 303 and _id(r) != first
    # another reader of the same library is not asking again
    other = await make_client(store=store)
    await sign_in(other, "R-NLC-2")
    assert wid in await lendable_works(other, count=3)  # the same search: the edition is known to this portal
    assert (await _request(other, wid)).status == 303


async def test_a_manual_request_with_the_isbn_of_an_open_one_is_refused(reader, store):
    page = await reader.get("/requests/new")
    form = {"title": "数据结构", "isbn": "978-7-302-02368-5", "kind": "copy", "csrf_token": token(await page.text())}
    assert (await reader.post("/requests/new", data=form, allow_redirects=False)).status == 303
    (first,) = store.list_requests(reader="R-NLC-1")
    assert first["isbn"] == "9787302023685"
    form["isbn"] = "7302023689"  # the same book as an ISBN-10
    r = await reader.post("/requests/new", data=form, allow_redirects=False)
    assert r.status == 409 and f'href="/requests/{first["id"]}"' in await r.text()


async def test_the_api_names_the_earlier_request_and_takes_a_confirmation_flag(reader, store, clock):
    wid = (await lendable_works(reader))[0]
    headers = await csrf_header(reader)
    day = (local_date(clock.now) + timedelta(days=20)).isoformat()
    body = {"work_id": wid, "kind": "copy", "delivery": "office", "need_before": day}
    r = await reader.post("/api/requests", json=body, headers=headers)
    assert r.status == 201, await r.text()
    made = (await r.json())["request"]
    assert (made["delivery"], made["pickup"], made["delivery_text"], made["need_before"]) == (
        "office", "", "送到办公室", day)
    r = await reader.post("/api/requests", json=body, headers=headers)
    error = (await r.json())["error"]
    assert r.status == 409 and (error["code"], error["request_id"], error["confirm"]) == (
        "duplicate_open", made["id"], None)
    assert error["request"] == f"/api/requests/{made['id']}" and str(made["id"]) in error["message"]
    store.cancel(made["id"], "R-NLC-1")
    r = await reader.post("/api/requests", json=body, headers=headers)
    error = (await r.json())["error"]
    assert r.status == 409 and (error["code"], error["confirm"]) == ("duplicate_recent", "confirm_duplicate")
    r = await reader.post("/api/requests", json={**body, "confirm_duplicate": True}, headers=headers)
    assert r.status == 201
    r = await reader.post("/api/requests", json={"title": "x", "delivery": "drone"}, headers=headers)
    error = (await r.json())["error"]
    assert r.status == 400 and "drone" in error["message"] and "office" in error["message"]
    r = await reader.post("/api/requests", json={"title": "y", "need_before": "soon"}, headers=headers)
    assert r.status == 400 and (await r.json())["error"]["parameter"] == "need_before"
    assert store.get(made["id"])["status"] == m.CANCELLED
