"""Paging shows page numbers: from the union index (whose total says how many pages there are) the first,
the last and the pages around the current one; from a live search the pages seen and the next one; the
current page and the current sort are marked for screen readers (aria-current)."""

from __future__ import annotations

import math
import re

from portal.params import MAX_PAGE
from portal.render import page_numbers
from tests.portal.test_portal_local import harvested, harvested_folder, index_dir, local_total  # noqa: F401


def test_page_numbers_keep_the_first_the_last_and_the_pages_around():
    assert page_numbers(1, 1) == [1]
    assert page_numbers(7, 12) == [1, None, 5, 6, 7, 8, 9, None, 12]
    assert page_numbers(5, 12) == [1, 2, 3, 4, 5, 6, 7, None, 12]
    assert page_numbers(12, 12) == [1, None, 10, 11, 12]
    assert page_numbers(3, 2) == [1, 2, 3]  # a page past the last known one is still shown


def _pager(html: str) -> tuple[list[str], str | None]:
    nav = re.search(r'<nav class="pager"[^>]*>(.*?)</nav>', html, re.S)
    assert nav, "no pager on the page"
    numbers = re.findall(r'data-page="(\d+)"|<span class="gap">(…)</span>', nav.group(1))
    current = re.search(r'aria-current="page" data-page="(\d+)"', nav.group(1))
    return [a or b for a, b in numbers], current.group(1) if current else None


async def test_the_union_index_pager_numbers_every_page_it_can_reach(make_client, index_dir):  # noqa: F811
    client = await make_client(index_dir=index_dir)
    total = local_total(index_dir, "中国")
    last = min(MAX_PAGE, math.ceil(total / 20))
    assert last >= 4, "the test bed has several pages of 中国"
    html = await (await client.get("/search", params={"q": "中国", "page": "3"})).text()
    numbers, current = _pager(html)
    assert current == "3" and numbers[0] == "1" and numbers[-1] == str(last)
    assert [n for n in numbers if n != "…"] == [str(n) for n in page_numbers(3, last) if n]
    link = re.search(rf'<a class="page" href="([^"]+)" data-page="{last}"', html).group(1)
    assert "page=" + str(last) in link.replace("&amp;", "&")
    assert re.search(r'<strong data-sort="relevance" aria-current="true">', html)


async def test_a_live_search_numbers_the_pages_seen_and_the_next(client):
    html = await (await client.get("/search", params={"q": "中国", "page": "2"})).text()
    numbers, current = _pager(html)
    assert current == "2" and numbers[:2] == ["1", "2"] and len(numbers) in (2, 3)
