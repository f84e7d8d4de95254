"""Merge + rank + facets over generated member catalogues (real MARCXML through the real normaliser)."""

from __future__ import annotations

import pytest

from connectors.query import parse
from dedup import merge
from federator import facets
from federator.rank import rank, score
from records.fold import fold, is_cjk
from records.normalise import from_raw
from testbed.generate import plan_catalogues, render_member
from testbed.members import member_profiles

SEED = 4242  # not a benchmark seed


@pytest.fixture(scope="module")
def works():
    plan = plan_catalogues(SEED, member_profiles(6), 80)
    records = [from_raw(data, syntax="marcxml", charset="utf-8", member=m.code, position=pos)
               for m in plan.members for pos, data in enumerate(render_member(plan, m.code), 1)]
    return merge(records)


def test_a_chinese_title_finds_its_editions_first(works):
    target = next(w for w in works if is_cjk(w.display.title) and len(fold(w.display.title)) >= 4)
    q = parse(target.display.title)
    ranked = rank(works, q)
    best = score(ranked[0], q)
    assert score(target, q) == pytest.approx(best) or fold(ranked[0].display.title) == fold(target.display.title)
    top_titles = {fold(w.display.title) for w in ranked[:3]}
    assert fold(target.display.title) in top_titles
    # every work whose title contains the query comes before any work that does not mention it anywhere
    scores = [round(score(w, q), 9) for w in ranked]  # rank() takes scores equal to 9 places as a tie
    assert scores == sorted(scores, reverse=True)


def test_facets_over_generated_works_add_up_and_filter(works):
    f = facets.compute(works, names={"THU": "清华大学"})
    for name in ("year", "language", "material_type"):
        assert sum(v["count"] for v in f[name]) == len(works)
    assert sum(v["count"] for v in f["member"]) == sum(len(w.members) for w in works)
    assert all(v["value"] in facets.CLC_CLASSES or v["value"] == "unknown" for v in f["clc"])
    assert sum(v["count"] for v in f["clc"] if v["value"] != "unknown") >= len(works) // 2
    for name in facets.FACETS:
        top = f[name][0]
        kept = facets.apply(works, {name: [top["value"]]})
        assert len(kept) == top["count"]
    both = facets.apply(works, {"clc": [f["clc"][0]["value"]], "member": [f["member"][0]["value"]]})
    assert all(f["member"][0]["value"] in w.members for w in both)
    assert set(map(id, both)) <= set(map(id, facets.apply(works, {"clc": [f["clc"][0]["value"]]})))


def test_sorts_over_generated_works(works):
    q = parse("中国")
    years = [w.display.year for w in rank(works, q, sort="year")]
    dated = [y for y in years if y is not None]
    assert dated == sorted(dated, reverse=True) and years[: len(dated)] == dated
    assert len(rank(works, q, sort="title")) == len(works)
