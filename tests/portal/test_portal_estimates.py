"""A PostgreSQL union index estimates facet counts for queries with many hits; the portal says so (约 / ≈) on
the page and in the JSON (`"estimated": true`), and the hit count stays exact.

The searcher's threshold is lowered so that a query of this small generated index takes the path a broad
query takes at consortium scale (docs/local-search.md).
"""

from __future__ import annotations

import re
from html import unescape

import pytest

from connectors.query import parse
from indexer.backend import open_index, open_searcher
from indexer.pg.search import PgSearcher
from portal.api import openapi
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles
from tests.portal.test_portal_api import _validator


@pytest.fixture(scope="module")
def database(new_database) -> str:
    from dedup import merge

    url = new_database("portal_estimates")
    with open_index(url, create=True) as ix:
        ix.rebuild(merge(plan_records(plan_catalogues(23, member_profiles(6), 200))))
    return url


def _facet_counts(html: str, *, facets: tuple[str, ...] = ("year", "language", "material_type", "clc", "member")
                  ) -> list[str]:
    sections = re.findall(r'<section class="facet" data-facet="(\w+)">(.*?)</section>', html, re.S)
    return [n for name, body in sections if name in facets for n in re.findall(r'<span class="n">(.*?)</span>', body)]


SAMPLED = ("year", "language", "material_type", "clc")  # the member facet is always exact


async def test_estimated_facet_counts_are_marked(make_client, database, monkeypatch):
    client = await make_client(index_dir=database)
    exact = await (await client.get("/api/search", params={"q": "中国"})).json()
    assert all("estimated" not in row for rows in exact["facets"].values() for row in rows)
    html = unescape(await (await client.get("/search", params={"q": "中国"})).text())
    assert _facet_counts(html) and not any("约" in c for c in _facet_counts(html))

    monkeypatch.setattr(PgSearcher, "exact_facets", 20)
    monkeypatch.setattr(PgSearcher, "sample", 10)
    doc = await (await client.get("/api/search", params={"q": "中国", "page": "2"})).json()
    _validator(openapi(), "/components/schemas/SearchResult").validate(doc)
    rows = [row for facet in SAMPLED for row in doc["facets"][facet]]
    assert rows and all(row["estimated"] is True for row in rows)
    assert doc["facets"]["member"] and all("estimated" not in row for row in doc["facets"]["member"])
    assert doc["total_hits"] == exact["total_hits"]  # the hit count is not estimated
    with open_searcher(database) as s:
        assert s.search(parse("中国")).matched > 20  # above the lowered threshold
    html = unescape(await (await client.get("/search", params={"q": "中国", "page": "2"})).text())
    counts = _facet_counts(html, facets=SAMPLED)
    assert counts and all(c.startswith('<abbr title="命中很多时，分面计数为抽样估计">约</abbr>') for c in counts)
    members = _facet_counts(html, facets=("member",))
    assert members and not any("约" in c for c in members)
    assert f"共 {exact['total_hits']} 种版本" in html
    html = unescape(await (await client.get("/search", params={"q": "中国", "page": "2", "lang": "en"})).text())
    assert all(c.startswith('<abbr title="with many hits, facet counts are estimated from a sample">≈</abbr>')
               for c in _facet_counts(html, facets=SAMPLED))
