"""Local search against the session test bed: the same works, facets and sorts as live search, on both
backends of the union index (a whoosh folder and a PostgreSQL database)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from balis.cli import main
from connectors.query import parse
from dedup import merge
from federator import facets as facet_mod
from federator.federation import Federator
from federator.rank import rank, title_sort_key
from indexer.backend import open_index, open_searcher
from indexer.index import LocalIndex
from indexer.search import BLOCK, LocalSearcher
from members import load_registry
from records.fold import fold, to_simplified
from records.model import UNKNOWN
from testbed.generate import _trad, plan_catalogues, plan_records
from testbed.members import member_profiles

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def plan(testbed):
    """The test bed's own plan: same seed, members and catalogue sizes as it was built with (bed.json)."""
    sizes = json.loads((testbed.state_dir / "bed.json").read_text())["sizes"]
    return plan_catalogues(testbed.seed, member_profiles(len(sizes)), sizes)


@pytest.fixture(scope="module")
def works(plan):
    """The test bed's catalogues merged into editions (what a harvest of them writes)."""
    return merge(plan_records(plan))


@pytest.fixture(scope="module")
def whoosh_dir(works, tmp_path_factory):
    path = tmp_path_factory.mktemp("local-index")
    ix = LocalIndex.open(path, create=True)
    ix.rebuild(works, harvested={"THU": "2026-11-21T02:00:00+00:00"})
    ix.close()
    return path


@pytest.fixture(scope="module", params=["whoosh", "postgresql"])
def index_dir(request, works, whoosh_dir):
    """The union index of the test bed in each backend: a whoosh folder, a PostgreSQL database (its URL)."""
    if request.param == "whoosh":
        return whoosh_dir
    url = request.getfixturevalue("index_database")
    ix = open_index(url, create=True)
    ix.rebuild(works, harvested={"THU": "2026-11-21T02:00:00+00:00"})
    ix.close()
    return url


@pytest.fixture(scope="module")
def searcher(index_dir):
    s = open_searcher(index_dir)
    yield s
    s.close()


@pytest.fixture(scope="module")
def whoosh_searcher(whoosh_dir):
    s = LocalSearcher.open(whoosh_dir)
    yield s
    s.close()


@pytest.fixture(scope="module")
def registry(testbed):
    return load_registry(testbed.registry_path)


def everything(searcher, text: str, **kw):
    return searcher.search(parse(text), size=100000, **kw)


def keys(works) -> set[str]:
    return {f"{r.member}:{r.record_id}" for w in works for r in w.records}


# --------------------------------------------------------------------------- against live search


@pytest.mark.parametrize("text", ["数据结构", "管理", "ti:中国", "au:德鲁克", '"中国历史"', "ti:管理 AND su:管理学"])
def test_every_record_live_search_finds_is_in_a_local_work(testbed, registry, searcher, text):
    query = parse(text)

    async def live():
        async with Federator(registry.members) as fed:
            return await fed.run(query, per_member=500)

    result = asyncio.run(live())
    assert len(result.answered) == len(registry.members)
    live_keys = {f"{r.member}:{r.record_id}" for o in result.outcomes for r in o.records}
    local = everything(searcher, text)
    assert live_keys and live_keys <= keys(local.works)
    assert local.total == len(local.works)


def test_isbn_in_any_form_finds_the_edition(searcher, works):
    w = next(w for w in works if w.isbns and w.isbns[0].startswith("9787") and len(w.records) > 1)
    i13 = w.isbns[0]
    body = i13[3:12]
    check = (11 - sum((10 - k) * int(c) for k, c in enumerate(body)) % 11) % 11
    i10 = body + ("X" if check == 10 else str(check))
    hyphenated = f"{i13[:3]}-{i13[3]}-{i13[4:7]}-{i13[7:12]}-{i13[12]}"
    for form in (i13, i10, hyphenated, i10.lower()):
        found = searcher.search(parse(f"isbn:{form}"))
        assert w.work_id in {x.work_id for x in found.works}, form


def test_traditional_query_finds_simplified_records_and_back(searcher, plan, works):
    simplified_only = next(w for w in works if len(w.display.title) >= 4 and _trad(w.display.title) != w.display.title
                           and all(to_simplified(r.title) == r.title for r in w.records))
    title = simplified_only.display.title
    hits = everything(searcher, f"ti:{_trad(title)}")
    assert simplified_only.work_id in {w.work_id for w in hits.works}
    assert {w.work_id for w in hits.works} == {w.work_id for w in everything(searcher, f"ti:{title}").works}

    by_key = {(r.member, r.record_id): r for w in works for r in w.records}
    traditional = [(c, by_key[(c.member, c.record_id)]) for cs in plan.copies.values() for c in cs if c.traditional]
    catalogued = [(c, r) for c, r in traditional if to_simplified(r.title) != r.title]
    assert catalogued, "the generator catalogues some copies in traditional script"
    for copy, rec in catalogued[:5]:
        simplified = to_simplified(rec.title)
        assert simplified != rec.title
        hits = everything(searcher, f'ti:"{simplified}"')
        assert f"{copy.member}:{copy.record_id}" in keys(hits.works)


def test_fielded_queries_look_in_their_field(searcher):
    def folded(texts):
        return fold(" ".join(t for t in texts if t)).replace(" ", "")

    for w in everything(searcher, "ti:管理").works:
        assert "管理" in folded(t for r in w.records for t in (r.title, r.subtitle, r.part, *r.vernacular_titles,
                                                               *r.parallel_titles))
    for w in everything(searcher, "au:德鲁克").works:
        assert "德鲁克" in folded(a.name for r in w.records for a in r.authors)
    for w in everything(searcher, "pub:人民出版社").works:
        assert "人民出版社" in folded(r.publisher for r in w.records)
    years = [w.display.year for w in everything(searcher, "year:>=2015").works]
    assert years and all(y is not None and y >= 2015 for y in years)
    years = [w.display.year for w in everything(searcher, "year:2000-2010").works]
    assert years and all(y is not None and 2000 <= y <= 2010 for y in years)
    ti, su = everything(searcher, "ti:管理"), everything(searcher, "su:管理学")
    both = everything(searcher, "ti:管理 OR su:管理学")
    assert {w.work_id for w in both.works} == {w.work_id for w in ti.works} | {w.work_id for w in su.works}
    without = everything(searcher, "ti:管理 NOT su:管理学")
    assert {w.work_id for w in without.works} == {w.work_id for w in ti.works} - {w.work_id for w in su.works}
    assert everything(searcher, "ti:管理 AND su:管理学").total == len(
        {w.work_id for w in ti.works} & {w.work_id for w in su.works})


def test_phrase_needs_the_words_together(searcher):
    loose = {w.work_id for w in everything(searcher, "ti:发展 ti:报告").works}
    tight = {w.work_id for w in everything(searcher, 'ti:"发展报告"').works}
    assert tight and tight <= loose


# --------------------------------------------------------------------------- facets and sorts


@pytest.mark.parametrize("text", ["中国", "管理", "history", "year:>=1990"])
def test_facets_are_those_of_the_matching_works(searcher, registry, text):
    names = {m.code: m.name for m in registry.members}
    r = everything(searcher, text, names=names)
    assert r.total == len(r.works) > 0
    assert r.facets == facet_mod.compute(r.works, names=names)


def test_selecting_facets_filters_like_live_search(searcher):
    all_works = everything(searcher, "中国").works
    for selected in ({"member": ["THU"]}, {"year": ["2000-2009"], "language": ["chi"]},
                     {"clc": ["K"]}, {"member": ["PKU", "RUC"], "material_type": ["book"]}, {"year": [UNKNOWN]}):
        r = everything(searcher, "中国", selected=selected)
        assert {w.work_id for w in r.works} == {w.work_id for w in facet_mod.apply(all_works, selected)}
        # each facet counts what the other selections keep, as live search and the CLI (federator.facets.counts)
        assert r.facets == facet_mod.counts(all_works, selected)
    with pytest.raises(ValueError, match="unknown facet"):
        searcher.search(parse("中国"), selected={"colour": ["red"]})


def _pages(searcher, text: str, sort: str, size: int = 7) -> list:
    paged, page = [], 1
    while True:
        r = searcher.search(parse(text), sort=sort, page=page, size=size)
        paged += r.works
        if not r.has_more:
            return paged
        page += 1


@pytest.mark.parametrize("sort", ["year", "year_asc", "title", "relevance"])
def test_pages_follow_the_live_ranking(searcher, sort):
    text = "ti:中国"
    whole = everything(searcher, text, sort=sort)
    assert 20 < whole.total <= BLOCK  # one block: the order is federator.rank's own, exactly
    assert [w.work_id for w in whole.works] == [w.work_id for w in rank(whole.works, parse(text), sort=sort)]
    assert [w.work_id for w in _pages(searcher, text, sort)] == [w.work_id for w in whole.works]


@pytest.mark.parametrize("sort", ["year", "year_asc", "title", "relevance"])
def test_pages_over_several_blocks_neither_repeat_nor_skip(searcher, sort):
    text = "中国"
    whole = everything(searcher, text, sort=sort)
    assert whole.total > BLOCK
    paged = _pages(searcher, text, sort, size=9)
    assert [w.work_id for w in paged] == [w.work_id for w in whole.works]
    assert len({w.work_id for w in paged}) == whole.total
    live_order = rank(whole.works, parse(text), sort=sort)
    if sort == "relevance":  # the best editions are found first even when not every hit is ranked together
        assert {w.work_id for w in live_order[:3]} <= {w.work_id for w in paged[:10]}
    elif sort == "title":
        ks = [title_sort_key(w.display.title) for w in paged]
        assert ks == sorted(ks)
    else:
        ys = [w.display.year for w in paged]
        dated = [y for y in ys if y is not None]
        assert dated == sorted(dated, reverse=sort == "year") and ys[len(dated):] == [None] * (len(ys) - len(dated))


def test_sort_over_several_blocks_keeps_its_key_order(searcher):
    r = everything(searcher, "year:>=1900", sort="year_asc")
    years = [w.display.year if w.display.year is not None else 99999 for w in r.works]
    assert r.total > 0 and years == sorted(years)
    assert len({w.work_id for w in r.works}) == r.total


# --------------------------------------------------------------------------- the command


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_json_has_the_live_shape_and_says_local(capsys, testbed, index_dir):
    reg = str(testbed.registry_path)
    code, out, _ = _run(capsys, "search", "--registry", reg, "--json", "--max", "50", "数据结构")
    assert code == 0
    live = json.loads(out)
    code, out, err = _run(capsys, "search", "--local", "--index", str(index_dir), "--registry", reg, "--json",
                          "數據結構")
    assert code == 0, err
    local = json.loads(out)
    assert set(live) <= set(local) and local["source"] == "local"
    assert local["local"]["harvested"] == {"THU": "2026-11-21T02:00:00+00:00"}
    assert local["works"] and set(local["works"][0]) == set(live["works"][0])
    assert set(local["facets"]) == set(live["facets"])
    assert {r for w in live["works"] for r in w["records"]} <= {r for w in local["works"] for r in w["records"]}


def test_cli_text_and_environment_variable(capsys, testbed, index_dir, monkeypatch):
    monkeypatch.setenv("BALIS_INDEX", str(index_dir))
    code, out, _ = _run(capsys, "search", "--local", "--registry", str(testbed.registry_path), "--sort", "year",
                        "ti:中国")
    assert code == 0
    assert "本地索引 local index" in out and "THU 2026-11-21" in out and "馆藏 members" in out


def test_cli_index_stats(capsys, index_dir, works):
    code, out, err = _run(capsys, "index", "stats", "--index", str(index_dir), "--json")
    assert code == 0, err
    stats = json.loads(out)
    assert stats["documents"] == len(works) and stats["holdings"] == sum(len(w.holdings) for w in works)
    assert stats["holdings_per_member"]["THU"] == sum(h.member == "THU" for w in works for h in w.holdings)
    code, out, _ = _run(capsys, "index", "stats", "--index", str(index_dir))
    assert code == 0 and f"版本 editions: {len(works)}" in out


def test_cli_unreachable_database_is_a_message(capsys, testbed, postgres_url):
    url = postgres_url.replace("postgresql+psycopg", "postgresql") + "/no_such_index"
    code, out, err = _run(capsys, "search", "--local", "--index", url, "--registry", str(testbed.registry_path), "管理")
    assert code == 2 and "cannot be reached" in err and "Traceback" not in err + out


def test_cli_missing_index_says_to_harvest(capsys, testbed, tmp_path):
    code, out, err = _run(capsys, "search", "--local", "--index", str(tmp_path / "none"), "--registry",
                          str(testbed.registry_path), "管理")
    assert code == 2 and "balis harvest" in err and "Traceback" not in err + out
    code, _, err = _run(capsys, "search", "--live-check", "--registry", str(testbed.registry_path), "管理")
    assert code == 2 and "--local" in err


def test_live_check_fills_status_and_reports_failing_members(capsys, testbed, works, tmp_path):
    # an index whose holdings say nothing about availability: live check must fill it in
    blank = [replace(w, holdings=[replace(h, status=UNKNOWN) for h in w.holdings],
                     records=[replace(r, holdings=[replace(h, status=UNKNOWN) for h in r.holdings])
                              for r in w.records]) for w in works]
    ix = LocalIndex.open(tmp_path, create=True)
    ix.rebuild(blank)
    ix.close()
    reg = str(testbed.registry_path)
    local = json.loads(_run(capsys, "search", "--local", "--index", str(tmp_path), "--registry", reg, "--json",
                            "--max", "5", "管理")[1])
    shown = local["works"]
    members = sorted({h["member"] for w in shown for h in w["holdings"]})
    assert all(h["status"] == UNKNOWN for w in shown for h in w["holdings"])
    down = members[0]
    testbed.set_fault(down, mode="refuse")
    try:
        code, out, err = _run(capsys, "search", "--local", "--live-check", "--index", str(tmp_path), "--registry",
                              reg, "--json", "--max", "5", "--timeout", "5", "管理")
    finally:
        testbed.set_fault(down)
    assert code == 0, err
    checked = json.loads(out)
    assert [w["work_id"] for w in checked["works"]] == [w["work_id"] for w in shown]  # the local answer stands
    outcomes = {o["code"]: o["status"] for o in checked["members"]}
    assert set(outcomes) == set(members) and outcomes[down] != "ok"
    truth = {(f"{r.member}", r.record_id): [h.status for h in r.holdings] for w in works for r in w.records}
    for w in checked["works"]:
        for h in w["holdings"]:
            if h["member"] == down:
                assert h["status"] == UNKNOWN
            elif outcomes[h["member"]] == "ok":
                assert h["status"] in truth[(h["member"], h["record_id"])]
    assert any(h["status"] != UNKNOWN for w in checked["works"] for h in w["holdings"])


@pytest.mark.parametrize("text", ["中国 NOT 历史", "ti:管理 OR au:德鲁克", '"中国历史"', "hist*", "year:<2000 AND 中国",
                                  "su:经济学 NOT year:2001", "any:(管理 实践)", "数据结构", "year:<>2001",
                                  "dc.title any \"管理 历史\"", "dc.title adj \"发展报告\"", "isbn:978-7-5447-2389-1"])
def test_bit_set_matching_agrees_with_whoosh(whoosh_searcher, text):
    from indexer.search import docnums, match_bits, to_whoosh

    q = parse(text)
    by_whoosh = sorted(whoosh_searcher._searcher.docs_for_query(to_whoosh(q)))
    assert docnums(match_bits(whoosh_searcher._bits, q)) == by_whoosh
