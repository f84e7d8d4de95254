"""The reader's ILL pages over HTTP against the real test bed and a real SQLite ILL store: request an
edition (the rota, the rules, the form), the manual request form, my requests, cancelling, and refusals."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from ill import machine as m
from ill.workdays import deadline_text, loan_due
from portal.keys import CATALOGUE
from services.lenders import rota_for_work
from tests.portal.reader_helpers import Clock, lendable_works, make_store, sign_in, token


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
    """A portal signed in as reader R-NLC-1 (of NLC, a member with no OPAC: every holder is another library)."""
    client = await make_client(store=store)
    await sign_in(client, "R-NLC-1")
    return client


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


async def _request(client, wid: str, **form):
    page = await client.get(f"/work/{wid}/request")
    assert page.status == 200, await page.text()
    data = {"kind": "loan", "note": "", "csrf_token": token(await page.text()), **form}
    return await client.post(f"/work/{wid}/request", data=data, allow_redirects=False)


async def test_pages_need_a_signed_in_reader(make_client, store):
    client = await make_client(store=store)
    for path in ("/requests", "/requests/new", "/work/W0123456789abcdef/request", "/requests/1"):
        r = await client.get(path, allow_redirects=False)
        assert r.status == 303 and r.headers["Location"].startswith("/login?next=/"), path
    await sign_in(client, "S-THU")  # staff work at the desk, not here
    r = await client.get("/requests")
    assert r.status == 403 and "读者" in await r.text()


async def test_edition_page_offers_the_request_button(reader):
    wid = (await lendable_works(reader))[0]
    html = await (await reader.get(f"/work/{wid}")).text()
    assert f'href="/work/{wid}/request"' in html and "申请馆际互借" in html


async def test_request_page_shows_the_rota_the_rules_and_the_form(reader, registry):
    wid = (await lendable_works(reader))[0]
    r = await reader.get(f"/work/{wid}/request")
    assert r.status == 200
    html = await r.text()
    work = reader.app[CATALOGUE].work(wid)
    _found, rota = await rota_for_work(work, "NLC", reader.app[CATALOGUE].registry, history={}, fresh=True)
    assert rota.lenders
    shown = re.findall(r'<ol class="rota" id="rota">(.*?)</ol>', html, re.S)[0]
    assert re.findall(r'data-member="([A-Z]+)"', shown) == rota.codes  # the order the request will follow
    assert rota.lenders[0].text in unescape(shown)  # with the reasons
    text = _text(html)
    assert "最多同时借 3 册" in text and "现有 0 册" in text
    assert "借期一个月，不能续借" in text and "60 分钟内" in text
    assert "NLC" not in rota.codes and "不会作为出借馆" in text  # the own library never lends
    for x in rota.excluded:
        assert x.reason in text
    assert 'name="csrf_token"' in html and 'value="copy"' in html and 'name="note"' in html


async def test_the_rota_reasons_read_in_english_on_an_english_page(reader):
    wid = (await lendable_works(reader))[0]
    html = await (await reader.get(f"/work/{wid}/request", params={"lang": "en"})).text()
    reasons = [unescape(x) for x in re.findall(r'<span class="reasons">(.*?)</span>', html, re.S)]
    excluded = [unescape(x) for x in re.findall(r'<li data-member="[A-Z]+">([^<]*)</li>', html)]
    assert reasons and all("fill rate" in r or "no lending history" in r for r in reasons), reasons
    assert not any(re.search(r"[\u4e00-\u9fff]", r) for r in reasons), reasons
    assert not any(re.search(r"[\u4e00-\u9fff]", x) for x in excluded), excluded  # left-out members too


async def test_submitting_shows_the_new_request_and_lists_it(reader, store):
    wid = (await lendable_works(reader))[0]
    r = await _request(reader, wid, note="需要第 3 章")
    assert r.status == 303
    rid = int(re.match(r"/requests/(\d+)\?submitted=1", r.headers["Location"]).group(1))
    saved = store.get(rid)
    assert saved["reader_id"] == "R-NLC-1" and saved["work_id"] == wid and saved["status"] == m.REQUEST_RECEIVED
    assert "需要第 3 章" in saved["citation"]
    page = await reader.get(r.headers["Location"])
    text = _text(await page.text())
    names = reader.app[CATALOGUE].names("zh")
    assert "申请已提交" in text and "已发往出借馆，等待答复" in text
    assert names[saved["lender"]] in text
    assert deadline_text(saved["answer_due"]) in text  # the lender's answer deadline, Beijing time
    assert [e["member"] for e in saved["rota"]] == re.findall(
        r'<li data-member="([A-Z]+)">', (await (await reader.get(f"/requests/{rid}")).text()))
    mine = await (await reader.get("/requests")).text()
    opened = mine[mine.index('id="open-requests"'):mine.index("申请单查询")]
    assert f'data-request="{rid}"' in opened and f'id="cancel-{rid}"' in opened


async def test_a_fourth_book_is_refused_in_words_and_the_form_keeps_what_was_typed(reader, store):
    wids = await lendable_works(reader, count=4)
    for wid in wids[:3]:
        assert (await _request(reader, wid)).status == 303
    r = await _request(reader, wids[3], note="请尽快，谢谢")
    assert r.status == 409
    html = await r.text()
    text = _text(html)
    assert "申请未提交" in text and "每人最多 3 册" in text and "请先归还一册" in text
    assert "请尽快，谢谢</textarea>" in html  # nothing lost
    assert len(store.list_requests(reader="R-NLC-1")) == 3
    # a copy does not count towards the 3 books
    r = await _request(reader, wids[3], kind="copy", note="请尽快，谢谢")
    assert r.status == 303
    assert store.get(int(r.headers["Location"].split("/")[2].split("?")[0]))["kind"] == m.COPY


async def test_the_own_librarys_shelf_copy_is_pointed_to_instead(make_client, store):
    client = await make_client(store=store)
    await sign_in(client, "R-THU-1")
    doc = await (await client.get("/api/search", params={"q": "中国", "source": "live"})).json()
    own = [w for w in doc["works"] if any(h["member"] == "THU" and h["status"] == "available"
                                          for h in w["holdings"])]
    assert own, "the test bed has THU copies on the shelf"
    for w in own:
        rota = (await (await client.get(f"/api/works/{w['work_id']}/rota")).json())["rota"]
        if rota["own_available"]:
            break
    else:
        raise AssertionError("no THU shelf copy is lendable")
    html = await (await client.get(f"/work/{w['work_id']}/request")).text()
    text = _text(html)
    assert "您所在的图书馆（清华大学）有在架可借的副本" in text
    assert 'id="request-form"' not in html
    copy = rota["own_copies"][0]
    assert (copy["call_number"] or "—") in text
    r = await client.post(f"/work/{w['work_id']}/request", data={"kind": "loan", "csrf_token": token(html)})
    assert r.status == 409 and "无需馆际互借" in _text(await r.text())
    assert store.list_requests(reader="R-THU-1") == []


async def test_cancel_within_the_hour_after_a_confirmation(reader, store, clock):
    wid = (await lendable_works(reader))[0]
    rid = int((await _request(reader, wid)).headers["Location"].split("/")[2].split("?")[0])
    clock.advance(minutes=59)
    page = await reader.get(f"/requests/{rid}/cancel")
    html = await page.text()
    assert page.status == 200 and 'id="cancel-confirm"' in html and "确定要取消" in _text(html)
    assert store.get(rid)["status"] == m.REQUEST_RECEIVED  # asking is not cancelling
    r = await reader.post(f"/requests/{rid}/cancel", data={"csrf_token": token(html)}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == f"/requests/{rid}?cancelled=1"
    assert store.get(rid)["status"] == m.CANCELLED
    text = _text(await (await reader.get(r.headers["Location"])).text())
    assert f"申请单 {rid} 已取消" in text and "已取消" in text and "读者" in text
    history = await (await reader.get("/requests")).text()
    assert 'id="no-open"' in history and f'data-request="{rid}" data-status="Cancelled"' in history


async def test_cancel_after_an_hour_is_refused_in_words(reader, store, clock):
    wid = (await lendable_works(reader))[0]
    rid = int((await _request(reader, wid)).headers["Location"].split("/")[2].split("?")[0])
    clock.advance(hours=1, seconds=1)
    detail = await (await reader.get(f"/requests/{rid}")).text()
    assert f'id="cancel-{rid}"' not in detail and "提交已超过 1 小时" in _text(detail)
    page = await reader.get(f"/requests/{rid}/cancel")
    html = await page.text()
    assert page.status == 409 and 'id="cancel-confirm"' not in html
    r = await reader.post(f"/requests/{rid}/cancel", data={"csrf_token": token(html)}, allow_redirects=False)
    assert r.status == 409 and "联系本馆馆际互借馆员" in _text(await r.text())
    assert store.get(rid)["status"] == m.REQUEST_RECEIVED


async def test_cancel_after_the_lender_answered_is_refused(reader, store):
    wid = (await lendable_works(reader))[0]
    rid = int((await _request(reader, wid)).headers["Location"].split("/")[2].split("?")[0])
    lender = store.get(rid)["lender"]
    store.act(rid, m.EXPECT, f"S-{lender}")
    html = await (await reader.get(f"/requests/{rid}")).text()
    assert "出借馆预计可以提供" in _text(html) and f'id="cancel-{rid}"' not in html
    r = await reader.post(f"/requests/{rid}/cancel", data={"csrf_token": token(html)}, allow_redirects=False)
    assert r.status == 409 and "出借馆已答复" in _text(await r.text())
    assert store.get(rid)["status"] == m.EXPECT_TO_SUPPLY


async def test_a_loan_shows_where_the_book_is_and_its_due_date(reader, store, clock):
    wid = (await lendable_works(reader))[0]
    rid = int((await _request(reader, wid)).headers["Location"].split("/")[2].split("?")[0])
    lender = store.get(rid)["lender"]
    store.act(rid, m.WILL, f"S-{lender}")
    store.act(rid, m.SHIP, f"S-{lender}")
    assert "出借馆已寄出，运送中" in _text(await (await reader.get(f"/requests/{rid}")).text())
    store.act(rid, m.RECEIVED, "S-NLC")
    clock.advance(hours=2)
    store.act(rid, m.LEND, "S-NLC")
    text = _text(await (await reader.get(f"/requests/{rid}")).text())
    assert "借阅中" in text and deadline_text(loan_due(clock.now)) in text
    listing = _text(await (await reader.get("/requests")).text())
    assert f"应还日期 {deadline_text(loan_due(clock.now))}" in listing
    en = _text(await (await reader.get(f"/requests/{rid}", params={"lang": "en"})).text())
    assert "on loan to you" in en and "Due back" in en


async def test_another_readers_request_is_not_found(make_client, reader, store):
    wid = (await lendable_works(reader))[0]
    rid = int((await _request(reader, wid)).headers["Location"].split("/")[2].split("?")[0])
    title = store.get(rid)["title"]
    other = await make_client(store=store)
    await sign_in(other, "R-NLC-2")
    for path in (f"/requests/{rid}", f"/requests/{rid}/cancel", "/requests/999999"):
        r = await other.get(path)
        assert r.status == 404, path
        assert title not in await r.text()
    html = await (await other.get("/requests")).text()
    r = await other.post(f"/requests/{rid}/cancel", data={"csrf_token": token(html)})
    assert r.status == 404 and store.get(rid)["status"] == m.REQUEST_RECEIVED
    assert f'data-request="{rid}"' not in html


async def test_manual_request_checks_each_field_and_keeps_what_was_typed(reader, store):
    page = await (await reader.get("/requests/new")).text()
    assert "手工填写申请单" in page
    bad = {"title": "古代汉语" + "长" * 400, "author": "王力", "year": "19x9", "isbn": "978-7-101-00000-1",
           "citation": "中华书局, 1999. 第2册", "csrf_token": token(page)}
    r = await reader.post("/requests/new", data=bad)
    assert r.status == 400
    html = await r.text()
    text = _text(html)
    assert "太长，最多 300 个字符" in text and "写作四位年份" in text and "不是有效的 ISBN" in text
    assert 'value="王力"' in html and "中华书局, 1999. 第2册</textarea>" in html and 'value="19x9"' in html
    r = await reader.post("/requests/new", data={"author": "王力", "csrf_token": token(page)})
    assert r.status == 400 and "请填写题名或出处" in _text(await r.text())
    assert store.list_requests(reader="R-NLC-1") == []
    good = {**bad, "title": "古代汉语", "year": "1999", "isbn": "7101000002", "kind": "copy", "note": "pp.10-30"}
    r = await reader.post("/requests/new", data=good, allow_redirects=False)
    assert r.status == 303
    saved = store.list_requests(reader="R-NLC-1")[0]
    assert (saved["source"], saved["status"], saved["kind"], saved["title"]) == ("manual", m.PENDING, "copy", "古代汉语")
    assert "ISBN：7-101-00000-2" in saved["citation"] and "出版年：1999" in saved["citation"]
    text = _text(await (await reader.get(r.headers["Location"])).text())
    assert "等待本馆馆员处理" in text and "尚未发往出借馆" in text


async def test_markup_in_a_citation_is_shown_as_text(reader, store):
    page = await (await reader.get("/requests/new")).text()
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r = await reader.post("/requests/new", data={"title": evil, "citation": evil, "csrf_token": token(page)},
                          allow_redirects=False)
    assert r.status == 303
    for path in (r.headers["Location"], "/requests"):
        html = await (await reader.get(path)).text()
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


async def test_every_form_needs_the_csrf_token(reader, store):
    wid = (await lendable_works(reader))[0]
    r = await reader.post(f"/work/{wid}/request", data={"kind": "loan"})
    assert r.status == 403 and "表单已过期" in await r.text()
    r = await reader.post("/requests/new", data={"title": "古代汉语"})
    assert r.status == 403
    r = await reader.post(f"/work/{wid}/request", data={"kind": "loan", "csrf_token": "0" * 64})
    assert r.status == 403
    assert store.list_requests(reader="R-NLC-1") == []
    rid = int((await _request(reader, wid)).headers["Location"].split("/")[2].split("?")[0])
    r = await reader.post(f"/requests/{rid}/cancel", data={})
    assert r.status == 403 and store.get(rid)["status"] == m.REQUEST_RECEIVED


async def test_history_search_by_title_words_dates_and_pages(reader, store, clock):
    start = clock.now - timedelta(days=40)
    for i in range(13):
        store.submit("R-NLC-1", kind="copy", title=f"{'数据结构' if i % 2 else '古代汉语'} 第{i}册",
                     citation=f"第 {i} 份", now=start + timedelta(days=3 * i))
    html = await (await reader.get("/requests")).text()
    assert html.count('class="request rs-Pending"') == 13 + 10  # 13 open, and the first history page of 10
    assert 'id="history-next"' in html
    page2 = await (await reader.get("/requests", params={"page": "2"})).text()
    history2 = page2[page2.index('id="history"'):]
    assert history2.count('class="request rs-') == 3
    found = await (await reader.get("/requests", params={"q": "数据结构"})).text()
    history = found[found.index('id="history"'):]
    assert history.count('class="request rs-') == 6 and "古代汉语" not in history
    day = (start + timedelta(days=6)).astimezone(__import__("ill.workdays", fromlist=["BEIJING"]).BEIJING).date()
    ranged = await (await reader.get("/requests", params={"since": day.isoformat(),
                                                          "until": (day + timedelta(days=3)).isoformat()})).text()
    history = ranged[ranged.index('id="history"'):]
    assert history.count('class="request rs-') == 2  # the 3rd and the 4th, submitted on those days
    bad = await reader.get("/requests", params={"since": "2026-13-01"})
    assert bad.status == 400 and "since" in _text(await bad.text())
    bad = await reader.get("/requests", params={"since": "2026-02-01", "until": "2026-01-01"})
    assert bad.status == 400
    for page in ("²", "0", "x"):
        bad = await reader.get("/requests", params={"page": page})
        assert bad.status == 400 and "page" in _text(await bad.text())


async def test_english_switch(reader):
    html = await (await reader.get("/requests", params={"lang": "en"})).text()
    assert "Open requests" in html and "Request history" in html and "At most 3 books" in html


async def test_the_route_so_far_and_why_no_lender_could_supply(reader, store):
    req = store.submit("R-NLC-1", title="古代汉语", author="王力", work_id="W0123456789abcdef",
                       rota=["THU", "PKU"])
    store.act(req["id"], m.ANSWER_UNFILLED, "S-THU", reason="该册已遗失")
    html = await (await reader.get(f"/requests/{req['id']}")).text()
    legs = _text(html[html.index('id="legs"'):html.index("处理记录")])
    assert "清华大学" in legs and "无法提供" in legs and "该册已遗失" in legs
    assert "北京大学" in legs and "处理中" in legs  # forwarded to the next lender of the rota
    # THU answered, PKU (the lender now) has not: within the hour the reader may still cancel
    assert "已发往出借馆，等待答复" in _text(html) and f'id="cancel-{req["id"]}"' in html
    store.act(req["id"], m.ANSWER_UNFILLED, "S-PKU", reason="不外借")
    text = _text(await (await reader.get(f"/requests/{req['id']}")).text())
    assert "未能满足" in text and "轮询的各馆都无法提供" in text and "不外借" in text
    listing = await (await reader.get("/requests")).text()
    assert 'id="no-open"' in listing and f'data-request="{req["id"]}" data-status="Unfilled"' in listing


async def test_rota_for_an_edition_not_seen_just_now_asks_its_holders(registry):
    """An edition from the union index (not a live search): its holders are asked for their copies now."""
    from connectors.query import parse
    from federator.federation import Federator

    async with Federator(registry.members) as fed:
        result = await fed.run(parse("中国"), per_member=10)
    work = next(w for w in result.works if len({r.member for r in w.records}) >= 2)
    found, rota = await rota_for_work(work, "NLC", registry, history={}, fresh=False, timeout=20)
    holders = {r.member for r in work.records}
    assert found.live_members and set(found.live_members) <= holders
    assert {o.code for o in found.outcomes} <= holders and set(rota.codes) <= holders


async def test_the_request_page_in_english(reader):
    wid = (await lendable_works(reader))[0]
    text = _text(await (await reader.get(f"/work/{wid}/request", params={"lang": "en"})).text())
    assert "Lenders, in the order they are asked" in text and "one month, with no renewal" in text
    assert "Submit the request" in text


def test_history_words_match_in_any_order_and_width():
    from portal.reader import matches

    req = {"title": "数据结构（C语言版）", "author": "严蔚敏", "citation": "清华大学出版社；2007"}
    assert matches(req, "严蔚敏 数据") and matches(req, "ｃ语言") and matches(req, "")
    assert not matches(req, "数据 算法")
