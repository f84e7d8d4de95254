"""The reader pages over HTTP against the real test bed: search (complete page and live stream), edition
page, member list, map, language switch."""

from __future__ import annotations

import re
from html import unescape

import pytest

from connectors.query import parse
from federator.federation import Federator
from tests.portal.helpers import attrs, read_events, states

SEARCHED = {"THU", "PKU", "RUC", "BUAA", "USTB", "BNU", "NCEPU", "BUPT"}


async def test_home_page_is_chinese_and_offers_search(client):
    r = await client.get("/")
    assert r.status == 200
    html = await r.text()
    assert "联合检索" in html and 'name="q"' in html and "高级检索" in html
    assert "可检索成员馆：8 个" in html  # NLC has no endpoint, CUPL is suspended
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline scripts"
    assert "balis_csrf" in r.headers.get("Set-Cookie", "")


async def test_complete_search_page_matches_the_federator(client, registry):
    r = await client.get("/search", params={"q": "中国"})
    assert r.status == 200
    html = await r.text()
    async with Federator(registry.members) as fed:
        result = await fed.run(parse("中国"), per_member=10)
    shown = attrs(html, "data-work")
    assert len(shown) == len(result.works) > 0
    assert set(shown) == {w.work_id for w in result.works}
    strip = states(html)
    assert {c for c, s in strip.items() if s == "answered"} == SEARCHED
    assert strip["NLC"] == "not_asked" and strip["CUPL"] == "not_asked"
    assert "暂停服务" in html and "未接入联合检索" in html  # the reasons
    assert "检索中" not in html  # a complete page has no member still being asked


async def test_works_show_title_authors_year_and_holders(client, registry):
    r = await client.get("/api/search", params={"q": "中国"})
    doc = await r.json()
    html = await (await client.get("/search", params={"q": "中国"})).text()
    first = doc["works"][0]
    block = html[html.index(f'data-work="{first["work_id"]}"'):]
    block = unescape(block[:block.index("</li>")])
    assert first["title"] in block
    if first["year"]:
        assert str(first["year"]) in block
    names = {m.code: m.name for m in registry.members}
    for code in first["members"]:
        assert names[code] in block


async def test_advanced_search_combines_fields(client):
    base = await (await client.get("/api/search", params={"ti": "中国"})).json()
    assert base["query"]["cql"] == "dc.title = 中国" and base["works"]
    work = next(w for w in base["works"] if w["publisher"])
    pub = work["publisher"].split()[0]
    r = await client.get("/api/search", params={"ti": "中国", "pub": pub})
    doc = await r.json()
    assert r.status == 200 and doc["query"]["cql"] == f"dc.title = 中国 and dc.publisher = {pub}"
    assert work["work_id"] in {w["work_id"] for w in doc["works"]}
    assert len(doc["works"]) <= len(base["works"])


async def test_year_search_is_answered_in_range_or_refused_with_the_reason(client):
    r = await client.get("/search", params={"ti": "中国", "year": "2000-2010"})
    html = unescape(await r.text())
    strip = states(html)
    assert set(strip[c] for c in SEARCHED) <= {"answered", "refused"}
    doc = await (await client.get("/api/search", params={"ti": "中国", "year": "2000-2010"})).json()
    assert doc["query"]["cql"] == "dc.title = 中国 and (dc.date >= 2000 and dc.date <= 2010)"
    for m in doc["members"]:
        if m["state"] == "refused":  # the test bed's Zebra has no year index: its diagnostic is shown
            assert m["detail"] and m["detail"] in html
    for w in doc["works"]:
        assert w["year"] is None or 2000 <= w["year"] <= 2010, w


async def test_facet_filter_and_sorts(client):
    base = await (await client.get("/api/search", params={"q": "中国"})).json()
    member = base["facets"]["member"][0]
    r = await client.get("/api/search", params={"q": "中国", "facet": f"member:{member['value']}"})
    doc = await r.json()
    assert len(doc["works"]) == member["count"]
    assert all(member["value"] in w["members"] for w in doc["works"])
    years = [w["year"] for w in (await (await client.get(
        "/api/search", params={"q": "中国", "sort": "year"})).json())["works"]]
    dated = [y for y in years if y is not None]
    assert dated == sorted(dated, reverse=True) and years[:len(dated)] == dated
    html = await (await client.get("/search", params={"q": "中国", "sort": "title"})).text()
    assert '<strong data-sort="title" aria-current="true">' in html


async def test_paging_asks_members_for_their_next_records(client):
    one = await (await client.get("/api/search", params={"q": "中国"})).json()
    assert one["has_more"]
    two = await (await client.get("/api/search", params={"q": "中国", "page": "2"})).json()
    assert two["page"] == 2 and two["works"]
    assert not {w["work_id"] for w in one["works"]} & {w["work_id"] for w in two["works"]}
    html = await (await client.get("/search", params={"q": "中国", "page": "2"})).text()
    assert 'rel="prev"' in html and "第 2 页" in html


async def test_live_page_is_a_shell_and_events_bring_the_results(client):
    r = await client.get("/search", params={"q": "数据", "live": "1"})
    html = await r.text()
    assert attrs(html, "data-work") == []
    events_url = unescape(attrs(html, "data-events")[0])
    assert events_url.startswith("/search/events?") and "live" not in events_url
    assert '<noscript><meta http-equiv="refresh"' in html  # without JavaScript: the complete page
    assert set(states(html).values()) == {"asking"}
    r = await client.get(events_url)
    assert r.headers["Content-Type"].startswith("text/event-stream")
    assert r.headers["Content-Security-Policy"]
    events = await read_events(r)
    names = [e for e, _ in events]
    assert names[-1] == "done" and "status" in names and "results" in names
    finals = [d for e, d in events if e == "results" and d["done"]]
    assert len(finals) == 1
    # the answered members appear one by one
    answered = [sum(s == "answered" for s in d["states"].values()) for e, d in events if e == "status"]
    assert answered == sorted(answered) and answered[-1] == len(SEARCHED) and answered[0] < answered[-1]
    complete = await (await client.get("/search", params={"q": "数据"})).text()
    assert re.findall(r'data-work="(W\w+)"', finals[0]["html"]) == attrs(complete, "data-work")


async def test_a_slow_member_turns_slow_then_answers(make_client, bed):
    bed.set_fault("BNU", latency_ms=1500)
    client = await make_client(slow_after=0.5)
    r = await client.get("/search/events", params={"q": "历史"})
    events = await read_events(r)
    bnu = [d["states"]["BNU"] for e, d in events if e == "status"]
    assert "slow" in bnu and bnu[-1] == "answered", bnu
    assert bnu.index("slow") < bnu.index("answered")
    slow_html = next(d["html"] for e, d in events if e == "status" and d["states"]["BNU"] == "slow")
    assert "已等待" in slow_html


async def test_a_member_that_is_down_is_reported_and_the_rest_answer(make_client, bed):
    bed.set_fault("USTB", mode="refuse")
    client = await make_client()
    html = await (await client.get("/search", params={"q": "文学"})).text()
    strip = states(html)
    assert strip["USTB"] == "down"
    assert {c for c, s in strip.items() if s == "answered"} == SEARCHED - {"USTB"}
    assert "连接出错" in html


async def test_edition_page_shows_record_holdings_and_other_editions(client, registry):
    doc = await (await client.get("/api/search", params={"q": "中国"})).json()
    work = max(doc["works"], key=lambda w: len(w["holdings"]))
    r = await client.get(f"/work/{work['work_id']}", params={"back": "/search?q=中国"})
    assert r.status == 200
    html = await r.text()
    assert unescape(work["title"]) in unescape(html)
    rows = re.findall(r'<tr class="holding hs-(\w+)[^"]*" data-member="(\w+)"', html)
    assert [(s, m) for s, m in rows] == [(h["status"], h["member"]) for h in work["holdings"]]
    for h in work["holdings"]:
        if h["call_number"]:
            assert h["call_number"] in unescape(html)
    assert 'class="back" href="/search?q=' in html
    # other editions: a work with a group shared by another work of the same search
    groups: dict[str, list[str]] = {}
    for w in doc["works"]:
        groups.setdefault(w["group_id"], []).append(w["work_id"])
    shared = [ids for ids in groups.values() if len(ids) > 1]
    if shared:
        a, b = shared[0][:2]
        page = await (await client.get(f"/work/{a}")).text()
        assert f'href="/work/{b}"' in page


async def test_an_ebook_is_told_apart_from_its_print_edition(client, carrier_pair):
    """Two editions with the same title, author, publisher and year: the list, the edition pages and the
    other-editions list say which one is the e-book, in the reader's language."""
    ebook, printed = carrier_pair
    doc = await (await client.get("/api/search", params={"q": f'ti:"{ebook["title"]}"'})).json()
    work_of = {r: w["work_id"] for w in doc["works"] for r in w["records"]}
    e_id, p_id = work_of[ebook["records"][0]], work_of[printed["records"][0]]
    html = unescape(await (await client.get("/search", params={"q": f'ti:"{ebook["title"]}"'})).text())

    def item(wid: str) -> str:
        block = html[html.index(f'data-work="{wid}"'):]
        return block[:block.index("</li>")]

    assert '<span class="carrier" data-carrier="ebook">电子书</span>' in item(e_id)
    assert 'class="carrier"' not in item(p_id)
    e_page = unescape(await (await client.get(f"/work/{e_id}")).text())
    p_page = unescape(await (await client.get(f"/work/{p_id}")).text())
    assert "<dt>文献类型</dt><dd>电子书</dd>" in e_page and "<dt>文献类型</dt><dd>图书</dd>" in p_page
    other = p_page[p_page.index(f'href="/work/{e_id}"'):]
    assert "电子书" in other[:other.index("</li>")]
    en = unescape(await (await client.get(f"/work/{e_id}", params={"lang": "en"})).text())
    assert "<dt>Material type</dt><dd>E-book</dd>" in en


async def test_unknown_edition_is_a_clear_404(client):
    for wid in ("W0123456789abcdef", "nonsense", "W" + "f" * 40):
        r = await client.get(f"/work/{wid}")
        assert r.status == 404
        html = await r.text()
        assert "找不到版本" in html and "请重新检索" in html and "Traceback" not in html


async def test_members_sorted_by_pinyin_with_contacts(client, registry):
    html = await (await client.get("/members")).text()
    order = re.findall(r'<tr id="m-(\w+)"', html)
    assert order == [m.code for m in registry.sorted_by_pinyin()]
    assert order.index("PKU") < order.index("BUAA") < order.index("THU")  # Beijing Da-, Beijing Hang-, Qing-
    assert "010-88545426" in html and "mailto:ill@example.org" in html
    assert "暂停服务" in html and "系统升级" in html and "未接入" in html


async def test_map_draws_every_member_in_its_district(client, registry):
    html = await (await client.get("/map")).text()
    assert html.count('<g class="district') == 16
    dots = re.findall(r'<circle class="dot( suspended)?" data-member="(\w+)"', html)
    assert {code for _, code in dots} == {m.code for m in registry.members}
    assert [code for s, code in dots if s] == ["CUPL"]
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched from afar
    haidian = html[html.index('data-district="海淀区"'):]
    haidian = haidian[:haidian.index("</g>")]
    assert 'data-member="THU"' in haidian and 'data-member="PKU"' in haidian


async def test_english_switch_by_form_and_by_parameter(client):
    html = await (await client.get("/members")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = await client.post("/lang", data={"lang": "en", "next": "/members?lang=zh", "csrf_token": token},
                          allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/members"
    english = await (await client.get("/members")).text()
    assert "Member libraries" in english and "Tsinghua University" in english and 'lang="en"' in english
    assert "Union search of Beijing" in await (await client.get("/?lang=en")).text()
    r = await client.post("/lang", data={"lang": "zh", "next": "/", "csrf_token": token}, allow_redirects=False)
    assert "联合检索" in await (await client.get("/")).text()


async def test_search_text_is_escaped(client):
    evil = '"<i>中国</i>"'
    r = await client.get("/search", params={"q": evil})
    html = await r.text()
    assert r.status == 200 and "<i>" not in html and 'value="&#34;&lt;i&gt;中国&lt;/i&gt;&#34;"' in html
    evil = '<script>alert("x")</script>'
    r = await client.get("/search", params={"q": evil})
    html = await r.text()
    assert r.status == 400 and evil not in html and "无法理解检索式" in html
    assert 'value="&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"' in html  # the form, to correct it


async def test_a_query_that_cannot_be_read_is_explained_in_the_readers_language(client):
    zh = unescape(await (await client.get("/search", params={"q": "ti：“数据结构"})).text())
    assert "无法理解检索式：引号没有配对，请补上后引号（第 4 个字符）" in zh
    en = await client.get("/api/search", params={"q": "year:abc", "lang": "en"})
    assert en.status == 400
    assert "Query not understood: year: takes a year such as 2009" in (await en.json())["error"]["message"]


@pytest.mark.parametrize("q,zh,en", [
    ("foo=bar", "不认识的检索字段 foo；可用 dc.title（题名）", "unknown CQL index 'foo'"),
    ("dc.title = (数据结构", "CQL 检索式语法有误：此处不应出现 (", "CQL syntax error: ( is not expected here"),
    ("(dc.title = 数据结构", "CQL 检索式语法有误：括号没有闭合", "CQL syntax error: a parenthesis is not closed"),
    ("dc.title = ", "CQL 检索式语法有误：检索式提前结束", "CQL syntax error: the query ends too early"),
    ('dc.title = "数据结构', "引号没有配对", "a quotation mark is not closed"),
    ("dc.title = 数据 prox 结构", "不支持 CQL 运算符 PROX，请用 AND、OR 或 NOT", "CQL boolean 'PROX' is not supported"),
    ("dc.title = 数据结构 sortBy dc.date", "不支持 CQL 的 sortBy", "CQL sortBy is not supported"),
    ("dc.title any/rel.algorithm=cql 数据结构", "不支持 CQL 关系修饰", "CQL relation modifiers"),
])
async def test_a_cql_error_is_explained_in_the_readers_language_with_an_example(client, q, zh, en):
    page = unescape(await (await client.get("/search", params={"q": q})).text())
    assert "无法理解检索式：" + zh in page or ("无法理解检索式：" in page and zh in page), page[:2000]
    assert "Found symbol" not in page and "Expected any of" not in page  # never the parser's own text
    if "语法有误" in zh:
        assert 'dc.title = "数据结构" AND dc.creator = 严蔚敏' in page  # an example to follow
    english = await (await client.get("/api/search", params={"q": q, "lang": "en"})).json()
    text = english["error"]["message"]
    assert en in text and not re.search(r"[\u4e00-\u9fff]{2}", text.replace("数据结构", "").replace("严蔚敏", "")), text


async def test_reader_leaving_the_stream_frees_the_search(make_client, bed):
    import asyncio

    bed.set_fault("NCEPU", latency_ms=4000)
    client = await make_client()
    r = await client.get("/search/events", params={"q": "经济"})
    first = await r.content.readline()
    assert first.startswith(b"event: ")
    r.close()  # the reader closes the tab while NCEPU is still being asked

    def pumps() -> list:
        return [t for t in asyncio.all_tasks() if t.get_name().startswith("portal-search") and not t.done()]

    for _ in range(15):  # well before NCEPU would answer
        if not pumps():
            break
        await asyncio.sleep(0.1)
    assert not pumps(), "the federated search goes on after the reader left"
    doc = await (await client.get("/api/search", params={"q": "经济"})).json()  # the portal still serves
    assert {m["state"] for m in doc["members"] if m["code"] == "NCEPU"} <= {"answered", "slow"}


async def test_facet_counts_are_what_a_click_shows(client):
    base = await (await client.get("/api/search", params={"q": "中国"})).json()
    member = base["facets"]["member"][0]["value"]
    chosen = await (await client.get("/api/search", params={"q": "中国", "facet": f"member:{member}"})).json()
    assert any(r["value"] == member for r in chosen["facets"]["member"])
    for row in chosen["facets"]["year"][:3] + chosen["facets"]["language"][:2]:
        facet = "year" if row in chosen["facets"]["year"] else "language"
        both = await (await client.get("/api/search", params=[
            ("q", "中国"), ("facet", f"member:{member}"), ("facet", f"{facet}:{row['value']}")])).json()
        assert len(both["works"]) == row["count"], (facet, row)
    # another member's count is what choosing it as well (member values are alternatives) adds
    other = next(r for r in chosen["facets"]["member"] if r["value"] != member)
    alone = await (await client.get("/api/search", params={"q": "中国", "facet": f"member:{other['value']}"})).json()
    assert other["count"] == len(alone["works"])
