"""Relevance over merged editions: field weights, phrase/exact-title boosts, CJK, holders, and the sorts."""

from __future__ import annotations

import random

import pytest

from connectors.query import parse
from dedup.work import build_work
from federator.rank import rank, score, title_sort_key, tokens
from records.identifiers import parse_isbn


def titles(works) -> list[str]:
    return [w.display.title for w in works]


def test_title_beats_author_beats_subject_beats_nothing(make_work):
    subject = make_work("Weather of the plains", subjects=("Tolstoy, Leo -- Influence",))
    author = make_work("Collected letters", authors=("Tolstoy, Leo",))
    title = make_work("Tolstoy in Yasnaya Polyana", authors=("Smith, Ann",))
    nothing = make_work("Unrelated book")
    q = parse("tolstoy")
    ranked = rank([nothing, subject, author, title], q)
    assert titles(ranked) == ["Tolstoy in Yasnaya Polyana", "Collected letters", "Weather of the plains",
                              "Unrelated book"]
    assert score(nothing, q) < score(subject, q) < score(author, q) < score(title, q)


def test_field_clauses_only_look_at_their_field(make_work):
    w = make_work("Tolstoy in Yasnaya Polyana", authors=("Smith, Ann",))
    assert score(w, parse("au:tolstoy")) < score(w, parse("ti:tolstoy"))
    assert score(w, parse("au:smith")) > score(w, parse("ti:smith"))


def test_exact_title_outranks_longer_titles(make_work):
    exact = make_work("War and peace", authors=("Tolstoy, Leo",))
    longer = make_work("War and peace in the nuclear age", authors=("Tolstoy, Leo",))
    about = make_work("Essays on war and peace in Tolstoy", authors=("Tolstoy, Leo",))
    ranked = rank([about, longer, exact], parse('"war and peace"'))
    assert titles(ranked)[0] == "War and peace"
    # the same when typed as loose words (and is a boolean here: war AND peace)
    ranked = rank([about, longer, exact], parse("war peace"))
    assert titles(ranked)[0] == "War and peace"


def test_phrase_boost_when_words_are_adjacent(make_work):
    adjacent = make_work("Machine learning for libraries")
    apart = make_work("Learning the machine shop trade")
    q = parse('"machine learning"')
    assert titles(rank([apart, adjacent], q)) == ["Machine learning for libraries", "Learning the machine shop trade"]
    # unquoted words that happen to be a phrase in the title get the boost too
    assert score(adjacent, parse("machine learning")) > score(apart, parse("machine learning"))


def test_quoted_phrase_scores_less_when_words_are_apart(make_work):
    apart = make_work("Learning the machine shop trade")
    assert score(apart, parse('"machine learning"')) < score(apart, parse("machine learning"))


def test_exact_chinese_title_and_subtitle(make_work):
    exact = make_work("红楼梦", subtitle="校注本")
    other = make_work("红楼梦人物论")
    assert titles(rank([other, exact], parse("红楼梦校注本"))) == ["红楼梦", "红楼梦人物论"]
    assert titles(rank([other, exact], parse("红楼梦"))) == ["红楼梦", "红楼梦人物论"]


def test_traditional_query_ranks_simplified_records(make_work):
    simplified = make_work("红楼梦研究")
    unrelated = make_work("水浒传研究")
    q = parse("紅樓夢")
    assert score(simplified, q) > score(unrelated, q)
    assert titles(rank([unrelated, simplified], q))[0] == "红楼梦研究"
    # and the other way round: a simplified query finds a traditional record
    trad = make_work("紅樓夢研究")
    assert score(trad, parse("红楼梦")) == pytest.approx(score(simplified, parse("红楼梦")))


def test_cjk_bigram_partial_matches(make_work):
    assert tokens("中国经济史") == ["中国", "国经", "经济", "济史"]
    most = make_work("中国经济")  # 3 of 4 bigrams
    some = make_work("中国近代史")  # 1 of 4
    none = make_work("数据结构")
    q = parse("中国经济史")
    ranked = rank([none, some, most], q)
    assert titles(ranked) == ["中国经济", "中国近代史", "数据结构"]
    assert score(none, q) < score(some, q) < score(most, q)


def test_single_chinese_character_matches(make_work):
    w = make_work("诗经")
    assert score(w, parse("诗")) > score(make_work("数据结构"), parse("诗"))


def test_more_holders_break_ties(make_work):
    one = make_work("数据结构", members=("THU",))
    three = make_work("数据结构", members=("THU", "PKU", "RUC"))
    two = make_work("数据结构", members=("BNU", "CNU"))
    q = parse("数据结构")
    assert score(one, q) < score(two, q) < score(three, q)
    assert [len(w.members) for w in rank([one, two, three], q)] == [3, 2, 1]
    # but holders do not lift a weaker match over a better one
    many = make_work("数据库系统", members=tuple(f"M{i}" for i in range(70)), subjects=("数据结构",))
    assert rank([many, one], q)[0] is one


def test_truncation_and_other_fields(make_work):
    w = make_work("Computing machinery", publisher="Springer")
    assert score(w, parse("comput*")) > score(make_work("Gardening"), parse("comput*"))
    assert score(w, parse("pub:springer")) > score(w, parse("pub:wiley"))


def test_identifiers_and_year(make_rec):
    r = make_rec("Python programming", year=2015)
    r.isbns = [parse_isbn("7-301-04815-7")]
    w = build_work([r])
    assert score(w, parse("isbn:7301048157")) > score(w, parse("isbn:9780306406157"))
    assert score(w, parse(f"id:{r.record_id}")) > score(w, parse("id:nothing"))
    assert score(w, parse("year:>=2010")) > score(w, parse("year:<2010"))


def test_not_side_adds_nothing(make_work):
    w = make_work("Python and Java")
    assert score(w, parse("python NOT java")) == pytest.approx(score(w, parse("python")))


def test_ranking_is_deterministic_and_stable(make_work):
    works = [make_work(f"Book {i % 3}", members=("THU",)) for i in range(12)]
    q = parse("book")
    first = rank(works, q)
    for seed in range(5):
        shuffled = works[:]
        random.Random(seed).shuffle(shuffled)
        assert [w.work_id for w in rank(shuffled, q)] == [w.work_id for w in first]


def test_year_sorts_put_undated_last(make_work):
    works = [make_work("A", year=2001), make_work("B", year=None), make_work("C", year=1987),
             make_work("D", year=2020)]
    q = parse("x")
    assert [w.display.year for w in rank(works, q, sort="year")] == [2020, 2001, 1987, None]
    assert [w.display.year for w in rank(works, q, sort="year_asc")] == [1987, 2001, 2020, None]


def test_year_sort_ties_go_by_relevance(make_work):
    a = make_work("Unrelated", year=2000)
    b = make_work("Tolstoy", year=2000)
    assert titles(rank([a, b], parse("tolstoy"), sort="year")) == ["Tolstoy", "Unrelated"]


def test_title_sort_in_pinyin_order(make_work):
    works = [make_work(t) for t in ("中国通史", "清华大学校史", "北京史", "长安志", "阿Q正传")]
    assert titles(rank(works, parse("史"), sort="title")) == ["阿Q正传", "北京史", "长安志", "清华大学校史",
                                                              "中国通史"]


def test_title_sort_mixes_scripts_and_drops_articles(make_work):
    works = [make_work(t) for t in ("The zoo", "北京", "Apples", "an orchard")]
    assert titles(rank(works, parse("x"), sort="title")) == ["Apples", "北京", "an orchard", "The zoo"]
    assert title_sort_key("紅樓夢") == title_sort_key("红楼梦")


def test_unknown_sort_is_refused(make_work):
    with pytest.raises(ValueError, match="unknown sort 'price'"):
        rank([make_work("A")], parse("a"), sort="price")
