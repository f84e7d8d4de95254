"""An empty result is a starting point: the page says what was searched and where, and offers what may help
(the words in any field, one word fewer, without the facets, the other source, the request form filled in
from the query). Over live search of the session test bed and over the union index."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

from connectors.query import parse
from services.search import starting_points
from tests.portal.test_portal_local import harvested, harvested_folder, index_dir  # noqa: F401 - fixtures


def _tries(html: str) -> dict[str, list[str]]:
    section = re.search(r'<section class="none" id="no-results"[^>]*>(.*?)</section>', html, re.S)
    assert section, "no starting points on an empty page"
    out: dict[str, list[str]] = {}
    for kind, href in re.findall(r'<a data-try="(\w+)" href="([^"]+)"', section.group(1)):
        out.setdefault(kind, []).append(unescape(href))
    return out


def test_the_starting_points_of_a_query():
    help_ = starting_points("ti:数据结构 AND au:严蔚敏")
    assert help_.searches == [("all_fields", "数据结构 AND 严蔚敏"), ("fewer_words", "ti:数据结构"),
                              ("fewer_words", "au:严蔚敏")]
    assert help_.both_scripts and help_.citation == {"title": "数据结构", "author": "严蔚敏"}
    assert starting_points('ti:"war and peace" year:1999').searches == [
        ("all_fields", '"war and peace"'), ("fewer_words", 'ti:"war and peace"')]  # a year alone: not offered
    assert starting_points("中国 OR 美国").searches == []  # fewer words only for words that must all match
    assert starting_points("isbn:9787302147510").citation == {"isbn": "9787302147510"}
    assert starting_points("ti:(").searches == []  # unreadable: nothing to offer, no error


async def test_a_live_search_that_finds_nothing_offers_ways_on(client):
    r = await client.get("/search", params={"q": "ti:数据结构 AND au:不存在的作者名"})
    html = unescape(await r.text())
    assert r.status == 200 and "没有找到“ti:数据结构 AND au:不存在的作者名”" in html
    assert "已实时检索所有成员馆" in html and "同时按简体和繁体检索" in html
    tries = _tries(html)
    fewer = [parse_qs(urlsplit(u).query)["q"][0] for u in tries["fewer_words"]]
    assert "ti:数据结构" in fewer
    found = unescape(await (await client.get(tries["fewer_words"][fewer.index("ti:数据结构")])).text())
    assert 'id="no-results"' not in found and "<li class=\"work\"" in found  # the offered search finds books
    form = parse_qs(urlsplit(tries["request"][0]).query)
    assert urlsplit(tries["request"][0]).path == "/requests/new"
    assert form == {"title": ["数据结构"], "author": ["不存在的作者名"]}


async def test_the_union_index_offers_the_live_search_and_shows_without_the_facets(make_client, index_dir):  # noqa: F811
    client = await make_client(index_dir=index_dir)
    html = unescape(await (await client.get("/search", params={"q": "zzzqqq 中国"})).text())
    assert "检索的是联合目录索引" in html
    tries = _tries(html)
    assert "source=live" in tries["live"][0]
    assert [parse_qs(urlsplit(u).query)["q"][0] for u in tries["fewer_words"]] == ["zzzqqq", "中国"]
    faceted = unescape(await (await client.get("/search", params={"q": "中国", "facet": "year:1000-1001"})).text())
    assert "结果还按所选分面筛选过" in faceted and "facet" not in _tries(faceted)["clear_facets"][0]
    en = unescape(await (await client.get("/search", params={"q": "zzzqqq", "lang": "en"})).text())
    assert "Nothing found for “zzzqqq”" in en and "Still not found?" in en


async def test_a_misspelt_word_gets_the_spelling_the_union_index_knows(make_client, index_dir):  # noqa: F811
    from indexer.backend import open_searcher

    with open_searcher(index_dir) as s:
        titles = [w.display.title for w in s.search(parse("a OR the OR of"), size=200).works]
    word = next(w.lower() for t in titles for w in re.findall(r"[A-Za-z]{7,}", t))
    typo = word[0] + word[2] + word[1] + word[3:]  # two letters swapped
    client = await make_client(index_dir=index_dir)
    html = unescape(await (await client.get("/search", params={"q": typo})).text())
    tries = _tries(html)
    offered = [parse_qs(urlsplit(u).query)["q"][0] for u in tries["spelling"]]
    assert offered[0] == word, (typo, offered)
    found = unescape(await (await client.get(tries["spelling"][0])).text())
    assert 'id="no-results"' not in found
