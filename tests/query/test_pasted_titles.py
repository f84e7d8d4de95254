"""What readers paste: a title copied from the results list (with ISBD punctuation ` : `, ` / `, ` = `, ` ; `)
finds that edition, live and in the union index; a number pasted with its label is that number."""

from __future__ import annotations

import asyncio
import json

import pytest

from connectors.query import QueryError, parse, to_text
from dedup import merge
from federator.federation import Federator
from indexer.index import LocalIndex
from indexer.search import LocalSearcher
from members import load_registry
from services.views import display_title
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("pasted,words", [
    ("北京数据结构发展报告 : 北京的经验", "北京数据结构发展报告 北京的经验"),
    ("北京数据结构发展报告：北京的经验", "北京数据结构发展报告：北京的经验"),  # no spaces: one term, as typed
    ("Hamlet = 哈姆雷特", "Hamlet 哈姆雷特"),
    ("数据结构 / 严蔚敏, 吴伟民编著", "数据结构 严蔚敏, 吴伟民编著"),
    ("管理学 ; 第2版", "管理学 第2版"),
    ("History of China. Part 2 — the Ming", "History of China. Part 2 the Ming"),
    ("The C programming language ： second edition", "The C programming language second edition"),
])
def test_isbd_punctuation_between_words_is_not_a_search_term(pasted, words):
    assert parse(pasted) == parse(words), to_text(parse(pasted))


@pytest.mark.parametrize("pasted,field", [("ISBN 978-7-5004-0114-8", "isbn"), ("ISBN：7-5004-0114-7", "isbn"),
                                          ("ISBN: 9787500401148", "isbn"), ("ISSN 0028-0836", "issn"),
                                          ("ＩＳＳＮ：0028-0836", "issn")])
def test_a_number_pasted_with_its_label_is_that_number(pasted, field):
    q = parse(pasted)
    assert q.field == field and q.value.replace("-", "") in {"9787500401148", "7500401147", "00280836"}


def test_cql_still_reads_relations_after_an_index_and_a_lone_punctuation_query_says_what_to_do():
    assert to_text(parse("dc.title = war")) == to_text(parse("title = war")) == "ti:war"
    assert to_text(parse("year >= 2000")) == "year:>=2000"
    with pytest.raises(QueryError, match="unknown CQL index 'foo'"):
        parse("foo=bar")  # an expert's typo is still told, not searched as words
    with pytest.raises(QueryError):
        parse(" : / ")
    assert to_text(parse(r"a \: b")) == r"a AND \: AND b"  # escaped: searched as written


@pytest.fixture(scope="module")
def works(testbed):
    sizes = json.loads((testbed.state_dir / "bed.json").read_text())["sizes"]
    return merge(plan_records(plan_catalogues(testbed.seed, member_profiles(len(sizes)), sizes)))


def _pasted(works, n: int = 6) -> list:
    """Editions whose title as the results list shows it carries ISBD punctuation (a subtitle)."""
    chosen = [w for w in works if " : " in display_title(w.display) and len(display_title(w.display)) < 60]
    assert len(chosen) >= n, "the test bed catalogues titles with subtitles"
    return chosen[:: max(1, len(chosen) // n)][:n]


def test_a_title_pasted_from_the_results_finds_its_edition_in_the_union_index(works, tmp_path):
    ix = LocalIndex.open(tmp_path / "index", create=True)
    ix.rebuild(works, harvested={})
    ix.close()
    with LocalSearcher.open(tmp_path / "index") as searcher:
        for w in _pasted(works):
            found = searcher.search(parse(display_title(w.display)), size=50)
            assert w.work_id in {x.work_id for x in found.works}, display_title(w.display)


def test_a_title_pasted_from_the_results_finds_its_edition_live(testbed, works):
    registry = load_registry(testbed.registry_path)
    wanted = _pasted(works, 3)

    async def live(text: str):
        async with Federator(registry.members) as fed:
            return await fed.run(parse(text), per_member=100)

    for w in wanted:
        result = asyncio.run(live(display_title(w.display)))
        keys = {(r.member, r.record_id) for o in result.outcomes for r in o.records}
        assert keys & {(r.member, r.record_id) for r in w.records}, display_title(w.display)
