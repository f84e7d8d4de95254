"""Words, not codes, for the ILL pages: what the store wrote about a request (the reader's message, why the
clock acted, closed legs, notices) reads in the page's language only, a lender's reason picked from the list
reads in the page's language, a reason a person typed stays as written, and a rate is written one way."""

from __future__ import annotations

import re
from html import unescape

import pytest

from ill import machine as m
from ill.store import Store
from portal.render import calendar_error, rate, said
from tests.portal.deskkit import ago, sign_in, users

CJK = re.compile("[\u3400-\u9fff]")


@pytest.fixture
def codes(registry):
    a, b, c = [mem.code for mem in registry.members if mem.queryable][:3]
    return a, b, c


def parts(html: str, *patterns: str) -> str:
    """The text of the page's parts that `patterns` find (tags dropped)."""
    found = [re.search(p, html, re.S) for p in patterns]
    assert all(found), [p for p, f in zip(patterns, found, strict=True) if not f]
    return unescape(re.sub(r"<[^>]+>", " ", " ".join(f.group(0) for f in found)))


def unfilled_after_a_timeout(store: Store, a: str, b: str, c: str) -> int:
    """A request of A's reader that B let lapse and C could not supply ("not on the shelf", from the list)."""
    rid = store.submit("ra1", title="Data Structures", author="Yan Weimin", work_id="W0123456789abcde0",
                       rota=[b, c], now=ago(days=30))["id"]
    store.tick()  # B did not answer in time: on to C
    assert store.get(rid)["lender"] == c
    store.act(rid, m.ANSWER_UNFILLED, "sc", reason="not on the shelf")
    assert store.get(rid)["status"] == m.UNFILLED
    return rid


async def test_a_readers_request_page_in_one_language(make_client, codes):
    a, b, c = codes
    store = Store()
    users(store, a, b, c)
    rid = unfilled_after_a_timeout(store, a, b, c)
    client = await make_client(store=store)
    await sign_in(client, "ra1")

    pieces = (r'<dd id="r-message">.*?</dd>', r'<table class="legs" id="legs">.*?</table>',
              r'<table class="events" id="events">.*?</table>')
    en = parts(await (await client.get(f"/requests/{rid}", params={"lang": "en"})).text(), *pieces)
    assert not CJK.search(en), en
    assert "no lender could supply" in en and re.search(r"did not answer within \d working days?", en)
    assert "not on the shelf" in en
    zh = parts(await (await client.get(f"/requests/{rid}")).text(), *pieces)
    assert "未能满足" in zh and "架上未找到" in zh and re.search(r"未在 \d 个工作日内答复", zh)
    assert not re.search(r"\((no lender|due |skipped)", zh), zh  # no English glosses on a Chinese page

    en_notices = await (await client.get("/messages", params={"lang": "en"})).text()
    subjects = [unescape(s) for s in re.findall(r'<strong class="subject">(.*?)</strong>', en_notices)]
    assert subjects and not any(CJK.search(s) for s in subjects), subjects
    bodies = [unescape(s) for s in re.findall(r'<pre class="body">(.*?)</pre>', en_notices, re.S)]
    assert bodies and not any(CJK.search(body.split("\n\n")[0]) for body in bodies), bodies
    zh_notices = await (await client.get("/messages")).text()
    assert "Request " not in zh_notices and "申请单" in zh_notices
    store.close()


async def test_the_desk_request_page_in_one_language(make_client, codes):
    a, b, c = codes
    store = Store()
    users(store, a, b, c)
    rid = unfilled_after_a_timeout(store, a, b, c)
    client = await make_client(store=store)
    await sign_in(client, "sa")
    pieces = (r'<section class="legs">.*?</section>', r'<section class="history">.*?</section>')
    en = parts(await (await client.get(f"/desk/requests/{rid}", params={"lang": "en"})).text(), *pieces)
    assert not CJK.search(en.replace("ra1 的名字", "")), en
    zh = parts(await (await client.get(f"/desk/requests/{rid}")).text(), *pieces)
    assert "架上未找到" in zh and "(due " not in zh
    # the confirm page of an answer offers the common reasons in the page's language
    await sign_in(client, "sb")
    other = store.submit("ra2", title="Another", work_id="W0123456789abcde1", rota=[b])["id"]
    page = await (await client.get(f"/desk/requests/{other}/confirm",
                                   params={"action": m.ANSWER_UNFILLED, "lang": "en"})).text()
    assert 'list="lender-reasons"' in page and '<option value="not held by this library">' in page
    store.close()


def test_said_keeps_what_a_person_typed():
    assert said("书太旧 (old)", "en", typed=True) == "书太旧 (old)"
    assert said("本馆无此书", "en", typed=True) == "not held by this library"  # chosen from the list
    assert said("on loan", "zh") == "已借出"
    assert said("修复中，下月可借", "en") == "修复中，下月可借"  # typed in Chinese: as written
    assert said("已发往 BUAA (sent to BUAA), 答复期限 2026-12-08 24:00", "zh") == "已发往 BUAA, 答复期限 2026-12-08 24:00"
    assert said("已发往 BUAA (sent to BUAA), 答复期限 2026-12-08 24:00", "en") == "sent to BUAA, answer due 2026-12-08 24:00"
    assert said("3 day(s) late", "zh") == "逾期 3 天"
    assert said("", "en") == "" and said(None, "zh") == ""


def test_one_way_to_write_a_rate():
    assert rate(0.5789) == "57.9 %" and rate(1) == "100.0 %" and rate(0) == "0.0 %" and rate(None) == ""


def test_the_stores_own_phrases_turn():
    assert said("请于 2027-01-07 24:00 前归还 (due back)", "en") == "due back by 2027-01-07 24:00"
    assert said("请于 2027-01-07 24:00 前归还 (due back)", "zh") == "请于 2027-01-07 24:00 前归还"
    assert said("申请单 7: 没有可撤销的操作 (nothing to roll back)", "en") == "Request 7: nothing to roll back"
    assert said("PKU 无法提供: 本馆无此书", "en") == "PKU could not supply it: not held by this library"


async def test_districts_in_english(client):
    en = await (await client.get("/members", params={"lang": "en"})).text()
    districts = re.findall(r'<td data-label="District">([^<]*)</td>', en)
    assert "Haidian" in districts and not any(CJK.search(d) for d in districts), districts
    zh = await (await client.get("/members")).text()
    assert '<td data-label="所在区">海淀区</td>' in zh
    english_map = await (await client.get("/map", params={"lang": "en"})).text()
    assert ">Haidian</text>" in english_map
    assert "Tsinghua University" in english_map and "清华大学" not in english_map  # members named in English too


def test_holiday_calendar_errors_in_the_pages_language():
    text = "/admin/holidays (adm), year 2027, holidays: '2027-02-30' is not a date (YYYY-MM-DD)"
    assert calendar_error(text, "zh") == "2027 年节假日：“2027-02-30”不是日期（应写作 YYYY-MM-DD）"
    assert calendar_error(text, "en") == "2027, holidays: “2027-02-30” is not a date (YYYY-MM-DD)"
    both = "/admin/holidays (adm), year 2027: 2027-05-01 is listed both as a holiday and as a working day"
    assert calendar_error(both, "zh") == "2027 年：2027-05-01 同时列为节假日和调休上班日"
