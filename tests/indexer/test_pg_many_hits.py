"""Queries with many hits on the PostgreSQL union index: pages in exactly live search's order, exact counts, and
facet counts estimated from a sample (and marked so) above the searcher's threshold.

A generated consortium of a few thousand editions (the test bed's generator) is written into a fresh database.
The searcher's thresholds are lowered so that a broad query here takes the path a broad query takes at
1,000,000 holdings (thousands of matches: facets from a sample); the ranking is checked against
`federator.rank` over every matching edition, fetched and scored in Python.
"""

from __future__ import annotations

import pytest

from connectors.query import parse
from federator import facets as facet_mod
from federator.rank import rank
from indexer.backend import open_index, open_searcher
from indexer.pg.search import about

BROAD = ["中国", "管理", "研究", "中国 OR history", "ti:中国 NOT 历史", '"中国历史"', "发展 报告"]


@pytest.fixture(scope="module")
def works(broad_works):
    return broad_works


@pytest.fixture(scope="module")
def pg(broad_database):
    s = open_searcher(broad_database)
    yield s
    s.close()


def _all(pg, text: str, **kw):
    return pg.search(parse(text), size=100000, **kw)


def test_the_index_is_large_enough_to_matter(works, pg):
    assert len(works) > 2000
    assert _all(pg, "中国").matched > 500


@pytest.mark.parametrize("text", BROAD)
@pytest.mark.parametrize("sort", ["relevance", "year", "title"])
def test_pages_are_live_rankings_order_of_every_match(pg, text, sort):
    every = _all(pg, text).works  # every matching edition (any order), to rank in Python
    expected = [w.work_id for w in rank(every, parse(text), sort=sort)]
    got = []
    for page in (1, 2, 3):
        got += [w.work_id for w in pg.search(parse(text), sort=sort, page=page, size=20).works]
    assert got == expected[:60]


@pytest.mark.parametrize("text", ["中国", "管理", "中国 OR history"])
def test_facets_above_the_threshold_are_estimates_and_say_so(pg, monkeypatch, text):
    exact = _all(pg, text)
    assert all("estimated" not in r for rows in exact.facets.values() for r in rows)
    assert exact.facets == facet_mod.counts(exact.works, {})
    monkeypatch.setattr(pg, "exact_facets", 100)
    monkeypatch.setattr(pg, "sample", 50)
    est = pg.search(parse(text), size=20)
    assert (est.matched, est.total) == (exact.matched, exact.total)  # counts of hits stay exact
    assert [w.work_id for w in est.works] == [w.work_id for w in exact.works[:20]]
    rows = [r for f, rs in est.facets.items() if f != "member" for r in rs]
    assert rows and all(r["estimated"] is True for r in rows)
    # every edition has one year (or none, 'unknown'): the year facet's estimates add up to about the hits
    assert abs(sum(r["count"] for r in est.facets["year"]) - exact.matched) <= 0.35 * exact.matched
    # the largest CLC class's estimate is near its count
    top = exact.facets["clc"][0]
    guess = next((r["count"] for r in est.facets["clc"] if r["value"] == top["value"]), 0)
    assert abs(guess - top["count"]) <= 0.5 * top["count"]
    # which libraries hold the books is never estimated: every member, the smallest holder too, exactly
    assert est.facets["member"] == exact.facets["member"]


def test_selected_facets_keep_exact_hit_counts_with_estimated_facets(pg, monkeypatch):
    whole = _all(pg, "中国")
    member = whole.facets["member"][0]["value"]
    kept = facet_mod.apply(whole.works, {"member": [member]})
    monkeypatch.setattr(pg, "exact_facets", 100)
    monkeypatch.setattr(pg, "sample", 50)
    r = pg.search(parse("中国"), selected={"member": [member]}, size=20)
    assert r.total == len(kept) and r.matched == whole.matched
    assert [w.work_id for w in r.works] == [w.work_id for w in rank(kept, parse("中国"))][:20]
    assert any(row["value"] == member for row in r.facets["member"])
    assert r.facets["member"] == facet_mod.counts(whole.works, {"member": [member]})["member"]


@pytest.mark.parametrize(("n", "shown"), [(0, 0), (56, 56), (99, 99), (100, 100), (1208, 1200), (15449, 15000),
                                          (15551, 16000)])
def test_an_estimate_is_shown_to_two_significant_digits(n, shown):
    assert about(n) == shown


def test_editions_keep_their_vectors_in_the_row(pg, index_database):
    """Migration 0004: the vectors a search tests stay in the row (no TOAST fetch per test), after a rebuild too."""
    import psycopg

    with psycopg.connect(index_database) as conn:
        options = conn.execute("SELECT reloptions FROM pg_class WHERE oid = CAST('editions' AS regclass)").fetchone()[0]
        assert "toast_tuple_target=8160" in (options or [])


SCORED = ["中国历史", '"中国历史"', "管理学", "发展 报告", "ti:中国发展报告", "su:中国 历史", "history of china",
          '"gender in the academy"', "manag*", "中国 OR history", "ti:中国 NOT 历史"]


@pytest.mark.parametrize("text", SCORED)
def test_every_match_scores_as_live_ranking_scores_it(works, pg, text):
    """Not only the order: each match's relevance in SQL equals federator.rank's, as rank() rounds it (a
    field with the clause as written is tested once, its words one by one only where it is not)."""
    from federator.rank import score
    from indexer.pg.search import MATCH_COLUMNS, _tested
    from indexer.pg.sql import Sql

    query = parse(text)
    q = Sql()
    match, relevance = q.match(query), q.score(query)
    cols = ", ".join(f"e.{c}" for c in MATCH_COLUMNS)
    statement = f"SELECT work_id, {relevance} FROM ({_tested(q, match, cols)}) e"
    got = dict(pg.reads.run(lambda conn: conn.execute(statement, q.params).fetchall()))
    by_id = {w.work_id: w for w in works}
    assert got, f"{text!r} matches nothing in the generated consortium"
    wrong = {i: (float(s), round(score(by_id[i], query), 9)) for i, s in got.items()
             if float(s) != round(score(by_id[i], query), 9)}
    assert not wrong, f"{len(wrong)} of {len(got)} scores differ, e.g. {list(wrong.items())[:3]}"


def _scored_rows(pg, text: str, sort: str, selected: dict, page: int, size: int, prune: bool = True) -> dict[str, int]:
    """The rows of each part (CTE) of the page's statement as the server ran it (EXPLAIN ANALYZE): `m` the
    matches, `r` the editions a sorted page scores; `m` alone when every match is scored as it is found."""
    from indexer.pg.search import _search_sql
    from indexer.pg.sql import Sql

    q = Sql()
    statement = _search_sql(q, parse(text), selected, sort, limit=size, offset=(page - 1) * size, prune=prune)
    plan = pg.reads.run(lambda conn: conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, q.params).fetchone())
    nodes, rows = [plan[0][0]["Plan"]], {}
    while nodes:
        node = nodes.pop()
        if node.get("Subplan Name", "").startswith("CTE "):
            rows[node["Subplan Name"][4:]] = node["Actual Rows"]
        nodes += node.get("Plans", [])
    return {k: v for k, v in rows.items() if k in ("m", "r")}


@pytest.mark.parametrize("sort", ["year", "year_asc", "title"])
@pytest.mark.parametrize("text", ["中国", "发展 报告", "中国 OR history", "ti:中国 NOT 历史"])
def test_a_sorted_page_scores_only_the_editions_up_to_its_last_key(works, pg, text, sort):
    """Sorted by year or title, relevance orders only the editions that share a year (or title): a page scores
    the matches up to its last edition's year or title, not every match, and is still live search's page, the
    last page and a page past the end too, with facets selected or not."""
    every = _all(pg, text).works
    language = max(facet_mod.counts(every, {})["language"], key=lambda r: r["count"])["value"]
    for selected in ({}, {"language": [language]}):
        kept = facet_mod.apply(every, selected)
        expected = [w.work_id for w in rank(kept, parse(text), sort=sort)]
        pages = -(-len(kept) // 20)
        for page in (1, 2, pages, pages + 1):
            got = pg.search(parse(text), sort=sort, page=page, size=20, selected=selected)
            assert [w.work_id for w in got.works] == expected[(page - 1) * 20:page * 20], (selected, page)
            assert got.total == len(kept)
        rows = _scored_rows(pg, text, sort, selected, 1, 20)
        assert rows["m"] == len(every)
        assert rows["r"] < len(kept) / 2, f"page 1 scored {rows['r']} of {len(kept)} editions"


@pytest.mark.parametrize("sort", ["year", "year_asc", "title"])
def test_a_sorted_page_among_editions_without_a_year_or_of_one_title(new_database, sort):
    """Editions without a year sort after the dated ones in both year orders, and many editions share a year
    and a title: where a page ends among those, every edition tied with its last one is scored, and the pages
    are live search's."""
    from dedup.work import build_work
    from records.model import Author, Holding, Record

    made = []
    for i in range(90):
        year = None if i % 3 == 0 else 1990 + i % 4
        title = ["Atlas of rivers", "Atlas", "Atlas of the world rivers and seas"][i % 3 if i < 60 else 1]
        rec = Record(member=f"M{i % 5}", record_id=f"r{i}", syntax="marc21", title=title, authors=[Author("Ames")],
                     year=year, subjects=["rivers"] if i % 2 else [],
                     holdings=[Holding(member=f"M{i % 5}", call_number=f"c{i}")])
        made.append(build_work([rec]))
    url = new_database("sorted")
    with open_index(url, create=True) as ix:
        ix.rebuild(made)
    with open_searcher(url, slices=1) as pg:
        for text in ("atlas", "atlas rivers", "rivers OR atlas"):
            every = pg.search(parse(text), size=1000).works
            expected = [w.work_id for w in rank(every, parse(text), sort=sort)]
            got = [w.work_id for page in range(1, 7) for w in pg.search(parse(text), sort=sort, page=page, size=17).works]
            assert got == expected, text


def test_a_relevance_page_scores_every_match_and_unpruned_sorted_pages_are_the_same(pg, monkeypatch):
    """Relevance needs every match's score (decision 0022); `prune = False` scores every match for the sorts
    too (the check the benchmarks compare with), and gives the same pages."""
    assert _scored_rows(pg, "中国", "relevance", {}, 1, 20) == {"m": _all(pg, "中国").matched}
    pruned = {sort: [w.work_id for w in pg.search(parse("中国"), sort=sort, size=20).works]
              for sort in ("year", "year_asc", "title")}
    assert set(_scored_rows(pg, "中国", "year", {}, 1, 20, prune=False)) == {"m"}
    monkeypatch.setattr(pg, "prune", False)
    assert {sort: [w.work_id for w in pg.search(parse("中国"), sort=sort, size=20).works]
            for sort in pruned} == pruned
