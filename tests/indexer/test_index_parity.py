"""Parity: the union index finds every record a member's own OPAC finds, for title, author, subject and any.

Two Zebra members (the session's `zebra_marc21` and `zebra_cnmarc`) serve the real seed records of
testbed/data/marc, indexed as a library OPAC indexes them (testbed/zebra/index-*.xsl: Bib-1 Title, Author,
Subject-heading and Any). `balis harvest` copies them into a local index. Queries are drawn from the records'
own MARC fields with a fixed seed (a word of a field the index covers, for every record in turn), so nobody
chose them to pass. For each query, the record ids the member returns over Z39.50 (the project's connector,
checked against yaz-client first) must all be in the works the local search returns. The local index may find
more (it folds accents, traditional characters and cuts Chinese into bigrams); docs/local-search.md says so.
A third member runs Zebra's stock MARC21 set-up (Index Data's marc21.abs), a reference this project did not
write, for title, author and subject.
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
from collections.abc import Iterator

import pymarc
import pytest

from connectors.factory import open_connector
from connectors.query import Clause, Query, to_rpn
from connectors.rpn import pqf
from dedup import merge
from indexer.backend import open_searcher, store_folder
from indexer.harvest import harvest
from indexer.index import LocalIndex
from indexer.search import LocalSearcher
from members import Endpoint, Member, Registry
from records.marc import iter_iso2709
from records.normalise import from_raw, normalise
from testbed.seeds import read_seeds
from testbed.stock import STOCK_RECORDS, StockZebraServer

pytestmark = pytest.mark.integration

PER_INDEX = 30  # queries per index and member
PAGE = 100
_LATIN = re.compile(r"[^\W\d_]{4,}")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,}")

# The MARC fields each Bib-1 index of a library OPAC covers (the list), by syntax.
TITLE_TAGS = {"marc21": ("245", "246", "130", "240", "242", "243", "247", "440", "490", "730", "740", "800",
                         "810", "811", "830", "600", "610", "611", "700", "710", "711"),
              "unimarc": ("200", "225", "410", "411", "421", "423", "451", "454", "500", "510", "512", "517")}
AUTHOR_TAGS = {"marc21": ("100", "110", "111", "700", "710", "711", "720", "800", "810", "811", "245"),
               "unimarc": ("700", "701", "702", "710", "711", "712", "200")}
SUBJECT_TAGS = {"marc21": tuple(str(t) for t in range(600, 700)),
                "unimarc": ("600", "601", "602", "604", "605", "606", "607", "608", "610", "690")}


def _words(text: str) -> list[str]:
    """Words a reader could type from a field: Latin words of 4+ letters, Chinese runs (at most 8 characters)."""
    return _LATIN.findall(text) + [run[:8] for run in _CJK.findall(text)]


def _field_text(f: pymarc.Field, index: str, tag: str) -> str:
    codes = {"author": "abq"}.get(index)
    if index == "author" and tag in ("245", "200"):
        codes = "c" if tag == "245" else "fg"  # statements of responsibility
    elif index == "title" and tag in ("245", "200"):
        codes = "abnp" if tag == "245" else "adehi"
    if tag in ("600", "610", "611", "700", "710", "711", "800", "810", "811") and index == "title":
        seen_t, out = False, []
        for sf in f.subfields:
            seen_t = seen_t or sf.code == "t"
            if seen_t:
                out.append(sf.value)
        return " ".join(out)
    return " ".join(sf.value for sf in f.subfields
                    if sf.code.isalpha() and sf.code.islower() and (codes is None or sf.code in codes))


def _descriptive(syntax: str, tag: str) -> bool:
    """Fields a keyword (Any) index reads: not coded data, holdings or local fields (docs/local-search.md)."""
    if not tag.isdigit():
        return False
    if syntax == "unimarc":
        return "200" <= tag <= "799"
    return "100" <= tag <= "899" and not "841" <= tag <= "878" and tag != "880"


def draw_queries(syntax: str, seed: int = 15) -> list[Query]:
    """Title, author, subject and any queries drawn from the member's records: for each index, records are
    taken in a seeded random order and each gives one word of one field the index covers (880s included)."""
    rng = random.Random(seed)
    records = [s.record for s in read_seeds(syntax=syntax)]
    scopes = {"title": TITLE_TAGS[syntax], "author": AUTHOR_TAGS[syntax], "subject": SUBJECT_TAGS[syntax],
              "any": None}
    out: list[Query] = []
    for index, tags in scopes.items():
        chosen: list[str] = []
        for rec in rng.sample(records, len(records)):
            words = []
            for f in rec.fields:
                if f.is_control_field():
                    continue
                tag = f.tag
                if tag == "880":
                    tag = (f.get("6") or "")[:3]
                if tags is None and not _descriptive(syntax, tag):
                    continue
                if tags is None or tag in tags:
                    words += _words(_field_text(f, index, tag))
            words = [w for w in words if w.lower() not in {c.lower() for c in chosen}]
            if words:
                chosen.append(rng.choice(words))
            if len(chosen) == PER_INDEX:
                break
        out += [Clause(index, "=", w) for w in chosen]
    return out


@pytest.fixture(scope="module")
def members(zebra_marc21, zebra_cnmarc, tmp_path_factory) -> Registry:
    path = tmp_path_factory.mktemp("parity") / "registry.toml"
    return Registry(path, (
        Member("M21", "MARC21 成员", "MARC21 member", syntax="marc21",
               endpoints=(Endpoint("z3950", "127.0.0.1", zebra_marc21.port),)),
        Member("CN", "CNMARC 成员", "CNMARC member", syntax="unimarc",
               endpoints=(Endpoint("z3950", "127.0.0.1", zebra_cnmarc.port),)),
    ))


@pytest.fixture(scope="module", params=["whoosh", "postgresql"])
def searcher(request, members, tmp_path_factory):
    """The members harvested into each backend: a folder, or a database (its harvest store in a folder of its own)."""
    location = tmp_path_factory.mktemp("parity-index")
    if request.param == "postgresql":
        location = request.getfixturevalue("index_database")
    folder = store_folder(location, under=tmp_path_factory.mktemp("home"))
    result = asyncio.run(harvest(members, folder))
    assert all(r.status == "ok" for r in result.members), [r.as_dict() for r in result.members]
    s = open_searcher(location)
    assert s.doc_count() > 0
    yield s
    s.close()


async def member_ids(member: Member, query: Query) -> tuple[int, set[str]]:
    """The member's hit count and the record ids (001) of all its hits, over Z39.50 with the project's connector."""
    conn = open_connector(member.target(member.endpoints[0]))
    ids: set[str] = set()
    try:
        page = await conn.search(query, 1, PAGE)
        hits = page.hits
        start = 1
        while True:
            for raw in page.records:
                ids.add(from_raw(raw.data, syntax=raw.syntax, charset=raw.charset, member=member.code,
                                 position=raw.position).record_id)
            start += PAGE
            if start > hits:
                break
            page = await conn.search(query, start, PAGE)
    finally:
        await conn.close()
    return hits, ids


def local_ids(searcher: LocalSearcher, member: str, query: Query) -> set[str]:
    result = searcher.search(query, size=100000)
    return {r.record_id for w in result.works for r in w.records if r.member == member}


def yaz_client_hits(port: int, query: Query) -> int:
    """The hit count yaz-client (the reference client) gets for the same RPN."""
    script = f"open tcp:127.0.0.1:{port}/Default\nfind {pqf(to_rpn(query))}\nquit\n"
    out = subprocess.run(["yaz-client"], input=script, capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"Number of hits: (\d+)", out)
    assert m, f"yaz-client found no hit count for {query}: {out[-500:]}"
    return int(m.group(1))


@pytest.mark.parametrize("code,syntax", [("M21", "marc21"), ("CN", "unimarc")])
def test_local_search_finds_every_record_the_members_own_index_finds(members, searcher, code, syntax):
    member = members.get(code)
    queries = draw_queries(syntax)
    by_index = {i: sum(1 for q in queries if q.field == i) for i in ("title", "author", "subject", "any")}
    assert min(by_index.values()) >= (10 if syntax == "marc21" else 3), by_index  # the records gave queries

    async def all_member_answers():
        return [await member_ids(member, q) for q in queries]

    answers = asyncio.run(all_member_answers())
    for q, (hits, _) in list(zip(queries, answers, strict=True))[::10]:  # the connector agrees with yaz-client
        assert yaz_client_hits(member.endpoints[0].port, q) == hits, q
    missed, found, extra = {}, 0, 0
    for q, (hits, ids) in zip(queries, answers, strict=True):
        assert hits == len(ids), (q, hits, len(ids))
        mine = local_ids(searcher, code, q)
        found += len(ids)
        extra += len(mine - ids)
        if ids - mine:
            missed[f"{q.field}={q.value}"] = sorted(ids - mine)
    assert found > len(queries), "the member found almost nothing: the parity says nothing"
    assert not missed, f"the union index misses records {code}'s own OPAC finds: {missed}"


@pytest.fixture(scope="module")
def stock_zebra(tmp_path_factory) -> Iterator[StockZebraServer]:
    """Index Data's own MARC21 set-up (the stock marc21.abs, ISO 2709 as it is): a reference we did not write."""
    server = StockZebraServer(tmp_path_factory.mktemp("stock") / "zebra")
    server.load()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_local_search_finds_what_zebras_stock_marc21_indexes_find(stock_zebra, tmp_path):
    """The same parity with the title, author and subject indexes of Zebra's stock marc21.abs (its Any reads
    every field, coded and local ones too, so words are left out here); the records are indexed the way the
    harvest indexes them (normalise, merge, rebuild)."""
    records, marc = [], []
    for path in STOCK_RECORDS:
        for position, rec in iter_iso2709(path.read_bytes()):
            if isinstance(rec, pymarc.Record):
                marc.append(rec)
                records.append(normalise(rec, syntax="marc21", member="S", record_id=str(position)))
    ix = LocalIndex.open(tmp_path, create=True)
    ix.rebuild(merge(records))
    ix.close()
    rng = random.Random(15)
    queries: list[Query] = []
    for index in ("title", "author", "subject"):
        tags = {"title": TITLE_TAGS, "author": AUTHOR_TAGS, "subject": SUBJECT_TAGS}[index]["marc21"]
        chosen: list[str] = []
        for rec in rng.sample(marc, len(marc)):
            words = [w for f in rec.fields if not f.is_control_field() and f.tag in tags
                     for w in _words(_field_text(f, index, f.tag))
                     if w.isascii()]  # the stock set-up reads UTF-8 records as Latin-1: only ASCII words match
            words = [w for w in words if w.lower() not in {c.lower() for c in chosen}]
            if words:
                chosen.append(rng.choice(words))
        queries += [Clause(index, "=", w) for w in chosen[:PER_INDEX]]
    assert len(queries) >= 60, len(queries)
    member = Member("S", "标准配置", "stock", endpoints=(Endpoint("z3950", "127.0.0.1", stock_zebra.port),))

    async def all_member_answers():
        return [await member_ids(member, q) for q in queries]

    searcher = LocalSearcher.open(tmp_path)
    try:
        missed, found = {}, 0
        for q, (_hits, ids) in zip(queries, asyncio.run(all_member_answers()), strict=True):
            found += len(ids)
            lost = ids - local_ids(searcher, "S", q)
            if lost:
                missed[f"{q.field}={q.value}"] = sorted(lost)
    finally:
        searcher.close()
    assert found >= len(queries), "the stock member found almost nothing: the parity says nothing"
    assert not missed, f"the union index misses records the stock Zebra finds: {missed}"
