"""The edition page as readers use it (live search of the session test bed): each holding links to the
member's own catalogue record, loans past their due date are marked, an e-book points to the print editions
that can be lent, and the page gives its permanent address."""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape
from urllib.parse import unquote

import aiohttp
import pytest

from ill.workdays import BEIJING
from members import RegistryError, load_registry


async def _works(client, q: str) -> list[dict]:
    doc = await (await client.get("/api/search", params={"q": q})).json()
    return doc["works"]


async def test_holdings_link_to_the_members_own_record(client, registry):
    with_url = {m.code for m in registry.members if m.opac_url}
    assert with_url, "the test bed gives its SRU members an opac_url"
    work = next(w for w in await _works(client, "中国") if with_url & {h["member"] for h in w["holdings"]})
    html = unescape(await (await client.get(f"/work/{work['work_id']}")).text())
    links = dict(re.findall(r'<tr class="holding[^"]*" data-member="([A-Z]+)">\s*<td[^>]*>[^<]*<a class="opac-link" '
                            r'href="([^"]+)"', html))
    assert links and set(links) <= with_url
    code, url = next(iter(links.items()))
    record_id = unquote(re.search(r"rec\.id%3D([^&]+)", url).group(1))
    assert f"{code}:{record_id}" in work["records"]
    async with aiohttp.ClientSession() as http, http.get(url) as r:  # the member's own catalogue answers
        body = await r.text()
        assert r.status == 200 and f">{record_id}<" in body, body


async def test_loans_past_their_due_date_are_marked_overdue(client):
    today = datetime.now(BEIJING).date().isoformat()
    works = await _works(client, "中国") + await _works(client, "经济")
    late = next((w for w in works for h in w["holdings"]
                 if h["status"] == "on_loan" and h.get("due_date") and h["due_date"] < today), None)
    assert late, "the test bed has loans due before today"
    html = unescape(await (await client.get(f"/work/{late['work_id']}")).text())
    rows = re.findall(r'<tr class="holding ([^"]*)"[^>]*>(.*?)</tr>', html, re.S)
    overdue = [body for cls, body in rows if "overdue" in cls.split()]
    assert overdue and all("已逾期" in body for body in overdue)
    due_rows = [(cls, re.search(r"应还日期 (\d{4}-\d{2}-\d{2})", body)) for cls, body in rows]
    for cls, due in due_rows:  # exactly the loans due before today
        if due:
            assert ("overdue" in cls.split()) == (due.group(1) < today and "hs-on_loan" in cls.split())


async def test_an_ebook_points_to_the_print_editions_that_can_be_lent(client, carrier_pair):
    ebook, printed = carrier_pair
    works = await _works(client, f'ti:"{ebook["title"]}"')
    by_isbn = {i: w for w in works for i in w.get("isbns", [])}
    e_work, p_work = by_isbn[ebook["isbn13"]], by_isbn[printed["isbn13"]]
    html = unescape(await (await client.get(f"/work/{e_work['work_id']}")).text())
    section = re.search(r'<section class="print-editions" id="print-editions">(.*?)</section>', html, re.S)
    assert section and "电子资源不能馆际互借" in section.group(1)
    if any(h["status"] == "available" for h in p_work["holdings"]):
        assert f'href="/work/{p_work["work_id"]}"' in section.group(1)
    else:
        assert "暂未找到" in section.group(1)
    printed_page = unescape(await (await client.get(f"/work/{p_work['work_id']}")).text())
    assert 'id="print-editions"' not in printed_page  # a print edition needs no pointer


async def test_the_page_gives_its_permanent_address(client):
    work = (await _works(client, "中国"))[0]
    html = unescape(await (await client.get(f"/work/{work['work_id']}", params={"back": "/search?q=x"})).text())
    link = re.search(r'<a href="([^"]+)" id="permalink">', html).group(1)
    assert link.endswith(f"/work/{work['work_id']}") and "?" not in link and link.startswith("http://127.0.0.1:")


def test_an_opac_url_without_its_record_id_place_is_refused(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('[[member]]\ncode = "THU"\nname = "清华大学"\nopac_url = "https://opac.example.edu.cn/record"\n'
                    '[[member.endpoint]]\nprotocol = "sru"\nhost = "127.0.0.1"\nport = 1\n', encoding="utf-8")
    with pytest.raises(RegistryError, match=r"member THU, key 'opac_url': must be an http\(s\) address with "
                                            r"\{record_id\}"):
        load_registry(path)
    path.write_text(path.read_text(encoding="utf-8").replace("/record", "/record/{record_id}"), encoding="utf-8")
    assert load_registry(path).members[0].record_url("b 12/3") == "https://opac.example.edu.cn/record/b%2012%2F3"
