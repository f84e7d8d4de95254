"""Every length the search box allows is answered by the portal itself; longer gets the portal's own error."""

from __future__ import annotations

from portal.params import MAX_TEXT

TEXT = "中国经济史研究" * (MAX_TEXT // 7 + 1)


async def test_a_query_at_the_search_boxs_maxlength_is_answered(client):
    text = TEXT[:MAX_TEXT]
    api = await client.get("/api/search", params={"q": text})
    assert api.content_type == "application/json"
    doc = await api.json()
    assert api.status in (200, 400), doc
    if api.status == 400:  # the query parser's own words, naming the parameter
        assert doc["error"]["parameter"] == "q"
    page = await client.get("/search", params={"q": text, "lang": "zh"})
    assert page.status in (200, 400) and page.content_type == "text/html"
    assert "Got more than" not in await page.text()


async def test_a_longer_query_gets_the_portals_own_error(client):
    api = await client.get("/api/search", params={"q": TEXT[:MAX_TEXT + 1]})
    assert api.status == 400 and api.content_type == "application/json"
    assert (await api.json())["error"]["parameter"] == "q"
    page = await client.get("/search", params={"q": TEXT[:MAX_TEXT + 1], "lang": "zh"})
    assert page.status == 400 and page.content_type == "text/html" and "检索" in await page.text()
