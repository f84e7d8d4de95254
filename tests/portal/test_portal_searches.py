"""Saved searches and new-book alerts (我的检索, 定题通告) end to end: a test bed of its own harvested into a union
index (a whoosh folder, and a PostgreSQL database), searches saved from a results page and through the API, a
record added at a member and harvested again: each alert lists exactly the new edition (never the rest of the
search's result), the notice is in 我的消息 and mailed through a real SMTP server (aiosmtpd), the Atom feed
carries it; an edited record is not new. The browser test saves, lists and reads the alert in Chromium."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import feedparser
import pytest
from axe_playwright_python.async_playwright import Axe
from lxml import etree

from balis.cli import main
from connectors.query import Clause
from ill import mail, outbox
from ill import searches as saved
from ill.mail import MailConfig
from indexer.backend import open_searcher
from indexer.harvest import HarvestOptions, run_harvest
from members import load_registry
from portal.auth import set_password
from services.alerts import run_alerts
from testbed.bed import Testbed
from tests.ill.smtpd import SmtpServer
from tests.indexer.harvest_helpers import edited, new_record
from tests.portal.reader_helpers import PASSWORD, Clock, csrf_header, make_store, sign_in
from tests.portal.test_portal_browser import Shots, browser  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.integration

ATOM = "{http://www.w3.org/2005/Atom}"
MEMBER = "PKU"  # the test bed's OAI-PMH member: its changes are harvested as they are made
# per backend: the member record the new one is made from, and the new edition's title
NEW = {"whoosh": (5, "定题通告测试城市水系治理研究"), "postgresql": (9, "定题通告测试高原气象观测手册"),
       "browser": (13, "定题通告测试古代园林营造图说"), "schedule": (17, "定题通告测试草原牧业年鉴")}


@pytest.fixture(scope="module")
def own_bed(tmp_path_factory):
    with Testbed(tmp_path_factory.mktemp("searches-bed"), seed=2110).running(members=3, records=40) as bed:
        yield bed


@pytest.fixture
def registry(own_bed):
    """The portal's registry: this module's own test bed (records are added to it)."""
    return load_registry(own_bed.registry_path)


@pytest.fixture(params=["whoosh", "postgresql"])
def location(request, tmp_path) -> tuple[str, Path | str]:
    if request.param == "whoosh":
        return request.param, tmp_path / "index"
    return request.param, request.getfixturevalue("new_database")("searches")


@pytest.fixture
def store():
    s = make_store(Clock())
    s.clock = lambda: datetime.now(UTC)  # the real time: the harvest stamps its records with it too
    set_password(s, "R-NLC-2", PASSWORD)
    outbox.set_email(s, "R-NLC-1", address="zhang@example.org")
    yield s
    s.close()


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


async def harvest(registry, where) -> None:
    result = await asyncio.to_thread(run_harvest, registry, where, HarvestOptions(rate=0))
    assert all(r.status == "ok" for r in result.members), [r.as_dict() for r in result.members]


def work_of(where, key: str):
    with open_searcher(where) as s:
        [work] = s.search(Clause("id", "=", key), size=5).works
    return work


def add_new_edition(bed, name: str) -> str:
    """A new record at the member, made from one of its records with another title and no ISBN (another
    edition, by the same author): returns its MEMBER:record_id."""
    position, title = NEW[name]
    catalogue = bed.catalogue(MEMBER)
    template = list(catalogue)[position]
    new_id = f"ALERT-{name}"
    bed.change_catalogue(MEMBER, add=[new_record(catalogue[template], new_id, title)])
    return f"{MEMBER}:{new_id}"


def template_key(bed, name: str) -> str:
    return f"{MEMBER}:{list(bed.catalogue(MEMBER))[NEW[name][0]]}"


def save_form(html: str) -> str:
    """The hidden search of the results page's 保存检索 form."""
    form = re.search(r'<form id="save-search".*?</form>', html, re.S).group(0)
    return unescape(re.search(r'name="search" value="([^"]*)"', form).group(1))


def token_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def test_an_alert_lists_exactly_the_new_edition_tells_the_reader_and_feeds_it(
        own_bed, registry, location, store, make_client, smtp, capsys):
    name, where = location
    await harvest(registry, where)
    author = work_of(where, template_key(own_bed, name)).display.authors[0].name
    client = await make_client(index_dir=where, store=store)
    await sign_in(client, "R-NLC-1")

    # a search saved from its results page: the form carries the search (and its facet selection)
    page = await client.get("/search", params={"q": "定题通告测试"})
    html = await page.text()
    assert dict(parse_qsl(save_form(html))) == {"q": "定题通告测试"}
    r = await client.post("/searches", data={"csrf_token": token_of(html), "search": save_form(html),
                                             "name": "定题通告"}, allow_redirects=False)
    assert r.status == 303, await r.text()
    # a broad search, through the API: the template's author has editions in the index already
    headers = await csrf_header(client)
    r = await client.post("/api/searches", json={"search": {"au": author}, "name": "作者的书"}, headers=headers)
    assert r.status == 201, await r.text()
    with open_searcher(where) as s:
        before = {w.work_id for w in s.search(Clause("author", "=", author), size=50).works}
    assert before
    [by_author, by_title] = saved.for_user(store, "R-NLC-1")
    assert by_title["name"] == "定题通告" and by_title["params"] == [["q", "定题通告测试"]]
    # another reader saves the same search with the alert off
    other = await make_client(index_dir=where, store=store)
    await sign_in(other, "R-NLC-2")
    r = await other.post("/api/searches", json={"search": {"q": "定题通告测试"}, "alert": False},
                         headers=await csrf_header(other))
    assert r.status == 201 and (await r.json())["search"]["name"] == "定题通告测试"

    # nothing was harvested since the searches were saved: nothing is new
    report = run_alerts(store, where)
    assert (report.searches, report.new_in_index, report.found, report.notices) == (2, 0, 0, 0)

    new_key = add_new_edition(own_bed, name)
    await harvest(registry, where)
    new_work = work_of(where, new_key).work_id
    assert new_work not in before
    report = run_alerts(store, where)
    assert report.new_in_index == 1 and (report.found, report.notices) == (2, 2), report.as_dict()
    for s in (by_title, by_author):
        assert [h["work_id"] for h in saved.hits(store, "R-NLC-1", s["id"])] == [new_work]
    assert saved.hits(store, "R-NLC-2", saved.for_user(store, "R-NLC-2")[0]["id"]) == []
    with open_searcher(where) as s:  # the author's search matches more than the new edition: only it is told
        assert before < {w.work_id for w in s.search(Clause("author", "=", author), size=50).works}

    # 我的检索: both searches have one new book; a search's page lists it, and looking marks it seen
    listing = unescape(await (await client.get("/searches")).text())
    assert re.findall(r'data-search="(\d+)" data-alert="on" data-new="(\d)"', listing) == [
        (str(by_author["id"]), "1"), (str(by_title["id"]), "1")]
    assert NEW[name][1] in listing
    one = unescape(await (await client.get(f"/searches/{by_title['id']}")).text())
    assert re.findall(r'class="new-book new" data-work="(W[0-9a-f]+)"', one) == [new_work]
    one = await (await client.get(f"/searches/{by_title['id']}")).text()
    assert re.findall(r'class="new-book seen" data-work="(W[0-9a-f]+)"', one) == [new_work]
    doc = await (await client.get(f"/api/searches/{by_author['id']}")).json()
    assert [b["work_id"] for b in doc["new_books"]] == [new_work] and doc["search"]["new"] == 1

    # the notices: in 我的消息, and mailed (R-NLC-1 has mail on)
    notices = [x for x in outbox.for_user(store, "R-NLC-1") if x["kind"] == "new_books"]
    assert sorted(x["link"] for x in notices) == sorted(f"/searches/{s['id']}" for s in (by_title, by_author))
    assert all(NEW[name][1] in x["body"] for x in notices)
    messages = unescape(await (await client.get("/messages")).text())
    assert messages.count('data-kind="new_books"') == 2 and "新书通告" in messages
    config = MailConfig.parse(f"smtp://127.0.0.1:{smtp.port}", "BALIS <ill@balis.example.org>",
                              portal_url="https://ill.balis.example.org")
    assert mail.deliver(store, config).sent >= 2
    letters = [m for m in smtp.inbox.to("zhang@example.org") if "新书通告" in m["Subject"]]
    assert len(letters) == 2
    assert all(NEW[name][1] in m.get_content() and "https://ill.balis.example.org/searches/" in m.get_content()
               for m in letters)

    # the Atom feed: found by its token only; valid Atom 1.0 whose entry links the new edition's page
    feed_url = f"/searches/{by_author['id']}/feed.atom?token={by_author['token']}"
    r = await client.get(feed_url)
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/atom+xml")
    body = await r.read()
    check_atom(body, [str(client.make_url(f"/work/{new_work}"))])
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0 and parsed.version == "atom10"
    assert [e.title for e in parsed.entries] == [NEW[name][1]]
    assert (await client.get(f"/searches/{by_author['id']}/feed.atom?token=guessed")).status == 404
    anonymous = await make_client(index_dir=where, store=store)
    assert (await anonymous.get(feed_url)).status == 200  # a feed reader has no cookie

    # the same run again (as cron runs it) finds nothing; a record edited at the member is not a new edition
    assert main(["alerts", "run", "--index", str(where), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["alerts"]
    assert (out["searches"], out["new_in_index"], out["found"], out["notices"]) == (2, 0, 0, 0)
    assert main(["alerts", "run", "--index", str(where)]) == 0
    assert "2 saved searches with alerts checked" in capsys.readouterr().out
    catalogue = own_bed.catalogue(MEMBER)
    template = template_key(own_bed, name).split(":", 1)[1]
    own_bed.change_catalogue(MEMBER, edit=[edited(catalogue[template], "定题通告测试改过题名的旧书")])
    await harvest(registry, where)
    assert "定题通告测试改过题名的旧书" in work_of(where, template_key(own_bed, name)).display.title
    report = run_alerts(store, where)
    assert (report.new_in_index, report.found) == (0, 0), report.as_dict()


@pytest.fixture(params=["whoosh", "postgresql"])
def old_and_new(request, tmp_path) -> tuple[str, Path | str, Path | str]:
    """Two union indexes of one backend, each with its harvest store: the one in use, and a new one."""
    if request.param == "whoosh":
        return request.param, tmp_path / "old", tmp_path / "new"
    make = request.getfixturevalue("new_database")
    return request.param, make("alerts_old"), make("alerts_new")


async def test_a_new_harvest_store_tells_no_reader_of_the_books_already_held(own_bed, registry, old_and_new, store,
                                                                             make_client):
    """The operator starts a new union index (moves it into PostgreSQL, or rebuilds a lost store): its first
    harvest fetches every member's whole catalogue, and those records are not new books. Only what comes after
    is told."""
    backend, old, new = old_and_new
    await harvest(registry, old)
    catalogue = own_bed.catalogue(MEMBER)
    template, author = next((rid, w.display.authors[0].name) for rid in list(catalogue)[21:]
                            if (w := work_of(old, f"{MEMBER}:{rid}")).display.authors)
    client = await make_client(index_dir=old, store=store)
    await sign_in(client, "R-NLC-1")
    r = await client.post("/api/searches", json={"search": {"au": author}, "name": "作者的书"},
                          headers=await csrf_header(client))
    assert r.status == 201, await r.text()

    await harvest(registry, new)
    with open_searcher(new) as s:  # the saved search matches editions of the new index, all harvested just now
        held = {w.work_id for w in s.search(Clause("author", "=", author), size=50).works}
    assert held
    report = run_alerts(store, new)
    assert (report.new_in_index, report.found, report.notices) == (0, 0, 0), report.as_dict()

    new_id = f"ALERT-new-store-{backend}"
    own_bed.change_catalogue(MEMBER, add=[new_record(catalogue[template], new_id, f"定题通告测试湿地鸟类图鉴{backend}")])
    new_key = f"{MEMBER}:{new_id}"
    await harvest(registry, new)
    report = run_alerts(store, new)
    assert (report.new_in_index, report.found, report.notices) == (1, 1, 1), report.as_dict()
    [search] = saved.for_user(store, "R-NLC-1")
    assert [h["work_id"] for h in saved.hits(store, "R-NLC-1", search["id"])] == [work_of(new, new_key).work_id]


def check_atom(body: bytes, links: list[str]) -> None:
    """RFC 4287's structure: a feed with one id, title and updated, an author and a self link; each entry with
    one id, title and updated and an alternate link (here: the edition pages, in order)."""
    root = etree.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    assert root.find(f"{ATOM}author/{ATOM}name").text
    assert [link.get("rel") for link in root.findall(f"{ATOM}link")].count("self") == 1
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
    alternate = [[x.get("href") for x in e.findall(f"{ATOM}link") if x.get("rel", "alternate") == "alternate"]
                 for e in entries]  # a link without rel is the alternate one (RFC 4287 4.2.7.2)
    assert alternate == [[link] for link in links]


async def test_the_limit_and_a_bad_search_are_said_in_the_readers_language(own_bed, registry, store, make_client,
                                                                             tmp_path):
    client = await make_client(store=store)
    await sign_in(client, "R-NLC-1")
    headers = await csrf_header(client)
    for n in range(saved.MAX_SEARCHES):
        r = await client.post("/api/searches", json={"search": {"q": f"检索{n}"}}, headers=headers)
        assert r.status == 201
    r = await client.post("/api/searches", json={"search": {"q": "再一个"}}, headers=headers)
    assert r.status == 409 and "已达上限" in (await r.json())["error"]["message"]
    r = await client.post("/api/searches?lang=en", json={"search": {"q": "one more"}}, headers=headers)
    assert "the most allowed" in (await r.json())["error"]["message"]
    page = await client.get("/searches")
    r = await client.post("/searches", data={"csrf_token": token_of(await page.text()), "search": "q=再一个"})
    assert r.status == 409 and "已达上限" in await r.text()
    r = await client.post("/api/searches", json={"search": {"q": "ti:(数据"}}, headers=headers)
    assert r.status == 400 and (await r.json())["error"]["parameter"] == "q"
    anonymous = await make_client(store=store)
    assert (await anonymous.get("/api/searches")).status == 401
    r = await anonymous.get("/searches", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"].startswith("/login")


async def test_saving_listing_and_the_alert_in_the_browser(own_bed, registry, store, make_client, browser,  # noqa: F811
                                                          tmp_path):
    where = tmp_path / "index"
    await harvest(registry, where)
    author = work_of(where, template_key(own_bed, "browser")).display.authors[0].name
    client = await make_client(index_dir=where, store=store)
    base = str(client.make_url("/"))
    shots = Shots(tmp_path)
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 1000})
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(base + "login")
    await page.fill("#login-user", "R-NLC-1")
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_selector("#signed-in")

    await page.goto(base + "search?" + urlencode({"au": author}))
    await page.wait_for_selector("#save-search")
    await shots.take(page, "saved-search-save")
    axe = Axe()

    async def severe() -> list[str]:  # axe-core: no serious or critical violation on the pages of this feature
        found = (await axe.run(page)).response["violations"]
        return [f"{v['id']} ({v['impact']}) {v['nodes'][0]['target']}" for v in found
                if v["impact"] in ("serious", "critical")]

    assert await severe() == []
    await page.fill("#save-search-name", "这位作者的新书")
    await page.click("#save-search-button")
    await page.wait_for_selector("#searches-done")
    assert "已保存检索“这位作者的新书”" in await page.inner_text("#searches-done")
    item = page.locator("li.saved-search").first
    assert await item.get_attribute("data-new") == "0" and await item.get_attribute("data-alert") == "on"

    add_new_edition(own_bed, "browser")
    await harvest(registry, where)
    report = run_alerts(store, where)
    assert report.found == 1, report.as_dict()
    await page.click("#nav-searches")  # 我的检索 in the top bar
    await page.wait_for_selector("#saved-searches")
    item = page.locator("li.saved-search").first
    assert await item.get_attribute("data-new") == "1"
    assert NEW["browser"][1] in await item.locator("ul.new-books").inner_text()
    await shots.take(page, "saved-searches")
    assert await severe() == []
    await item.locator("a.view-search").click()
    await page.wait_for_selector("#new-books")
    assert await page.locator("li.new-book.new").count() == 1
    feed = await page.request.get(await page.input_value("#feed-url"))  # the Atom feed the page offers
    assert feed.status == 200 and "atom" in feed.headers["content-type"] and NEW["browser"][1] in await feed.text()
    await shots.take(page, "saved-search-new-books")
    assert await severe() == []
    await page.click("#back-to-searches")
    await page.locator("li.saved-search button.toggle-alert").first.click()
    await page.wait_for_selector("#searches-done")
    assert await page.locator("li.saved-search").first.get_attribute("data-alert") == "off"
    await page.goto(base + "messages")
    assert NEW["browser"][1] in await page.locator('li.notice[data-kind="new_books"]').inner_text()
    await page.locator('li.notice[data-kind="new_books"] a.open-link').click()
    await page.wait_for_selector("#saved-search")
    await page.goto(base + "searches")
    await page.locator("li.saved-search button.delete").first.click()
    await page.wait_for_selector("#no-searches")
    assert not problems, problems
    await context.close()


async def test_the_portals_scheduled_harvest_runs_the_alerts_after_it(own_bed, registry, store, make_client, tmp_path):
    """`balis serve --harvest-at` runs the job below each night: the alerts follow the harvest in its thread."""
    from indexer.schedule import harvest_job
    from portal.searches import alerts_after_harvest

    where = tmp_path / "index"
    await harvest(registry, where)
    client = await make_client(index_dir=where, store=store)
    await sign_in(client, "R-NLC-1")
    r = await client.post("/api/searches", json={"search": {"q": "定题通告测试"}}, headers=await csrf_header(client))
    assert r.status == 201
    new_key = add_new_edition(own_bed, "schedule")
    job = harvest_job(registry.path, where, rate=0, after=alerts_after_harvest(client.server.app, where))
    await job()
    [notice] = [x for x in outbox.for_user(store, "R-NLC-1") if x["kind"] == "new_books"]
    assert NEW["schedule"][1] in notice["body"]
    [search] = saved.for_user(store, "R-NLC-1")
    assert [h["work_id"] for h in saved.hits(store, "R-NLC-1", search["id"])] == [work_of(where, new_key).work_id]
