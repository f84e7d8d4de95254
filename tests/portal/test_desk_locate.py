"""Locate lenders picks the right edition (/desk/locate, /api/desk/locate): the editions a query or ISBN
matches to choose from, print before e-book for a loan, a manual citation routed to an edition that is not the
reader's only after a confirmation, the union index's holders beside the live search's, and possible duplicates
on the request page. Real test bed, a union index harvested from it, a real SQLite store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ill import machine as m
from ill.store import Store
from indexer.harvest import HarvestOptions, run_harvest
from members import load_registry
from tests.portal.deskkit import response_schema, sign_in, token_of, users


@pytest.fixture(scope="module")
def union_index(testbed, tmp_path_factory) -> Path:
    """The session test bed harvested into a union index folder (what `balis harvest` writes)."""
    path = tmp_path_factory.mktemp("locate-index")
    run_harvest(load_registry(testbed.registry_path), path, HarvestOptions(rate=0))
    return path


@pytest.fixture
def codes(registry):
    """Three searchable members of the test bed: A (the readers' library), lenders B and C."""
    a, b, c = [mem.code for mem in registry.members if mem.queryable][:3]
    return a, b, c


@pytest.fixture
def store(codes):
    s = Store()  # $BALIS_DB: this test's own file (tests/conftest.py)
    users(s, *codes)
    yield s
    s.close()


@pytest.fixture
async def desk(make_client, store, union_index):
    client = await make_client(store=store, logins_per_minute=10_000, index_dir=union_index)
    await sign_in(client, "sa")
    return client


async def _locate(client, **params) -> dict:
    r = await client.get("/api/desk/locate", params=params)
    doc = await r.json()
    assert r.status == 200, doc
    response_schema("/api/desk/locate").validate(doc)
    return doc


async def test_the_editions_a_query_matches_and_choosing_one(desk, codes):
    doc = await _locate(desk, q="中国")
    editions = doc["editions"]
    assert len(editions) > 1 and editions[0]["chosen"] and not any(e["chosen"] for e in editions[1:])
    assert editions[0]["work_id"] == doc["work"]["work_id"]
    other = editions[1]["work_id"]
    again = await _locate(desk, q="中国", work=other)
    assert again["work"]["work_id"] == other and [e["work_id"] for e in again["editions"] if e["chosen"]] == [other]
    html = await (await desk.get("/desk/locate", params={"q": "中国"})).text()
    assert 'id="editions"' in html and f'href="/desk/locate?q=%E4%B8%AD%E5%9B%BD&amp;isbn=&amp;kind=loan&amp;work={other}"' in html
    html = await (await desk.get("/desk/locate", params={"q": "中国", "work": other})).text()
    assert f'id="locate-edition" data-work="{other}"' in html
    assert (await desk.get("/api/desk/locate", params={"q": "中国", "work": "not-a-work"})).status == 400


async def test_a_loan_prefers_the_print_edition_to_the_e_book(desk, carrier_pair):
    ebook, printed = carrier_pair
    loan = await _locate(desk, q=f'ti:"{printed["title"]}"')
    chosen = loan["work"]
    assert chosen["material_type"] != "ebook" and printed["isbn13"] in chosen["isbns"]
    kinds = {e["work_id"]: e["electronic"] for e in loan["editions"]}
    ebook_ids = [e["work_id"] for e in loan["editions"] if ebook["isbn13"] in e["isbns"]]
    assert ebook_ids and all(kinds[w] for w in ebook_ids)
    # staff may still choose the e-book; for a copy request the ranking alone decides
    picked = await _locate(desk, q=f'ti:"{printed["title"]}"', work=ebook_ids[0])
    assert picked["work"]["material_type"] == "ebook" and not picked["print_preferred"]
    copy = await _locate(desk, q=f'ti:"{printed["title"]}"', kind="copy")
    assert not copy["print_preferred"] and copy["editions"][0]["chosen"]


async def test_an_isbn_look_up_finds_a_holder_the_live_search_misses(desk, make_client, store, bed, codes):
    a, _b, _c = codes
    finder = await make_client(store=store)  # its own federator: the others keep no answer of this search
    found = await (await finder.get("/api/search", params={"q": "中国", "source": "live"})).json()
    work = next(w for w in found["works"] if w["isbns"] and a not in w["members"] and len(w["members"]) >= 2)
    missed = sorted(work["members"])[-1]
    bed.set_fault(missed, mode="refuse")  # its OPAC does not answer now: the live search cannot find its copies
    without_index = await make_client(store=store, logins_per_minute=10_000)
    await sign_in(without_index, "sa")
    live_only = await _locate(without_index, isbn=work["isbns"][0])
    assert missed not in live_only["work"]["members"]  # what staff saw before: the holder was missed
    both = await _locate(desk, isbn=work["isbns"][0])
    assert both["source"] == "live+index" and missed in both["work"]["members"]
    assert missed in both["index_members"]
    rota = both["rota"]
    listed = {e["member"] for e in rota["lenders"] + rota["spare"]} | {x["member"] for x in rota["excluded"]}
    assert missed in listed  # asked, or said why not
    html = await (await desk.get("/desk/locate", params={"isbn": work["isbns"][0]})).text()
    assert 'id="locate-index-members"' in html and missed in html


async def test_routing_a_citation_to_another_title_needs_a_confirmation(desk, store, codes):
    found = await (await desk.get("/api/search", params={"q": "中国", "source": "live"})).json()
    a = codes[0]
    work = next(w for w in found["works"] if w["isbns"] and a not in w["members"] and len(w["members"]) >= 2)
    manual = store.submit("ra1", title="一本完全不同的书")["id"]
    doc = await _locate(desk, isbn=work["isbns"][0], request=str(manual))
    assert doc["mismatch"] and "题名不符" in doc["mismatch"]
    html = await (await desk.get("/desk/locate", params={"request": str(manual), "isbn": work["isbns"][0]})).text()
    assert 'id="locate-mismatch"' in html and 'id="confirm-edition"' in html
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html[html.index('id="route-mismatch"'):]))
    # the workflow refuses without the confirmation, whatever the form says
    r = await desk.post(f"/desk/requests/{manual}/act", data=form, allow_redirects=False)
    assert r.status == 409 and "题名不符" in await r.text()
    assert store.get(manual)["status"] == m.PENDING
    r = await desk.post(f"/desk/requests/{manual}/act", data={**form, "confirm_edition": "1"}, allow_redirects=False)
    assert r.status == 303
    routed = store.get(manual)
    assert routed["status"] == m.REQUEST_RECEIVED and routed["work_id"] == form["work_id"]
    assert routed["isbn"] in work["isbns"]
    # a citation of the same title routes without a question
    same = store.submit("ra2", title=work["title"])["id"]
    doc = await _locate(desk, isbn=work["isbns"][0], request=str(same))
    assert doc["mismatch"] is None
    html = await (await desk.get("/desk/locate", params={"request": str(same), "isbn": work["isbns"][0]})).text()
    assert 'id="confirm-edition"' not in html and 'id="route-with-rota"' in html
    assert token_of(html)


async def test_the_request_page_shows_the_readers_possible_duplicates(desk, store):
    first = store.submit("ra1", title="红楼梦", isbn="9787020002207")["id"]
    store.cancel(first, "ra1")
    second = store.submit("ra1", title="红楼梦 上册", isbn="978-7-02-000220-7", confirm_duplicate=True)["id"]
    other_reader = store.submit("ra2", title="红楼梦", isbn="9787020002207")["id"]
    html = await (await desk.get(f"/desk/requests/{second}")).text()
    block = html[html.index('id="duplicates"'):]
    block = block[:block.index("</section>")]
    assert f'data-request="{first}"' in block and f'data-request="{other_reader}"' not in block
    html = await (await desk.get(f"/desk/requests/{other_reader}")).text()
    assert 'id="duplicates"' not in html
