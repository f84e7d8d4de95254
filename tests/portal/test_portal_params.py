"""Pure parts of the portal: parameter checks, the query built from the forms, states, map, rate limit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.query import Bool, Clause, parse
from federator.fanout import MemberOutcome
from members import Member
from portal.beijing import DISTRICTS, normalise_district, schematic
from portal.i18n import MESSAGES, message
from portal.params import ParamError, SearchQueryError, build_query, local_path, search_params
from portal.security import RateLimiter
from services.search import member_state


def P(**values):
    return search_params({k: v if isinstance(v, list) else [v] for k, v in values.items()})


def test_free_text_is_the_reader_syntax():
    assert build_query(P(q="ti:数据结构 AND year:2009")) == parse("ti:数据结构 AND year:2009")
    assert build_query(P(q="ti：“数据结构” year：2009")) == parse('ti:"数据结构" AND year:2009')  # typed full width


def test_advanced_fields_search_their_field_and_combine_with_and():
    q = build_query(P(ti="数据结构", au="严蔚敏", year="2000-2010", isbn="978-7-302-02368-5"))
    assert q == Bool("and", Bool("and", Bool("and",
                     Clause("title", "=", "数据结构"), Clause("author", "=", "严蔚敏")),
                     Clause("isbn", "=", "978-7-302-02368-5")),
                     Bool("and", Clause("year", ">=", "2000"), Clause("year", "<=", "2010")))
    assert build_query(P(year="2000年至2010年")) == build_query(P(year="2000 - 2010")) == parse("year:2000-2010")


def test_advanced_field_keeps_its_own_booleans_and_explicit_prefixes():
    q = build_query(P(q="中国", su="经济 OR 金融"))
    assert q == Bool("and", Clause("any", "=", "中国"),
                     Bool("or", Clause("subject", "=", "经济"), Clause("subject", "=", "金融")))
    assert build_query(P(ti="au:鲁迅")) == Clause("author", "=", "鲁迅")


@pytest.mark.parametrize("year, clauses", [
    ("2009", [Clause("year", "=", "2009")]),
    ("2000-", [Clause("year", ">=", "2000")]),
    ("-1990", [Clause("year", "<=", "1990")]),
])
def test_year_forms(year, clauses):
    assert build_query(P(year=year)) == clauses[0]


@pytest.mark.parametrize("values, name, key", [
    ({"q": "x" * 1001}, "q", "param.too_long"),
    ({"q": "a", "page": "abc"}, "page", "param.not_integer"),
    ({"q": "a", "page": "0"}, "page", "param.out_of_range"),
    ({"q": "a", "page": "51"}, "page", "param.out_of_range"),
    ({"q": "a", "sort": "price"}, "sort", "param.choice"),
    ({"q": "a", "facet": "colour:red"}, "facet", "param.choice"),
    ({"q": "a", "facet": "member"}, "facet", "param.choice"),
    ({"q": "a", "facet": "year:recent"}, "facet", "param.year"),
    ({"q": "a", "facet": [f"member:M{i}" for i in range(21)]}, "facet", "param.repeated"),
    ({"isbn": "978-7-<script>"}, "isbn", "param.isbn"),
    ({"year": "2010-2000"}, "year", "param.year"),
    ({"year": "last year"}, "year", "param.year"),
    ({"ti": "a\x00b"}, "ti", "param.control"),
])
def test_bad_parameters_name_the_parameter(values, name, key):
    with pytest.raises(ParamError) as info:
        P(**values)
    assert (info.value.name, info.value.key) == (name, key)
    assert message(key, "en", **info.value.values)  # the message can be shown with its values


def test_unreadable_query_names_its_box():
    with pytest.raises(SearchQueryError) as info:
        build_query(P(q="中国", au="(鲁迅"))
    assert info.value.name == "au"


def test_empty_search_is_refused():
    with pytest.raises(ParamError):
        build_query(P(q="   "))


def test_links_keep_the_search_and_change_one_thing():
    p = P(q="中国", ti="经济", facet=["member:THU", "year:2000-2004"], sort="year", live="1")
    assert p.selected == {"member": ["THU"], "year": ["2000-2004"]}
    assert p.query_args(page=2, live=False) == [("q", "中国"), ("ti", "经济"), ("page", "2"), ("sort", "year"),
                                                ("facet", "member:THU"), ("facet", "year:2000-2004")]
    assert search_params({k: [v] if k != "facet" else [] for k, v in p.query_args()}).q == "中国"


@pytest.mark.parametrize("bad", ["http://evil.example/", "//evil.example/", "javascript:alert(1)", "/\\evil"])
def test_redirect_targets_stay_on_the_site(bad):
    with pytest.raises(ParamError):
        local_path(bad)
    assert local_path("/search?q=%E4%B8%AD") == "/search?q=%E4%B8%AD"


@pytest.mark.parametrize("outcome, state, reason", [
    (MemberOutcome("A", "a", "ok", hits=3, ms=10), "answered", None),
    (MemberOutcome("A", "a", "timeout", reason="timeout", error="no answer within 1 s"), "slow", "timeout"),
    (MemberOutcome("A", "a", "timeout", reason="deadline"), "slow", "deadline"),
    (MemberOutcome("A", "a", "error", reason="member_error", error="refused"), "down", "member_error"),
    (MemberOutcome("A", "a", "error", reason="diagnostic", diagnostic={"message": "Unsupported use"}),
     "refused", "diagnostic"),
    (MemberOutcome("A", "a", "skipped", reason="suspended", error="暂停服务"), "not_asked", "suspended"),
    (MemberOutcome("A", "a", "skipped", reason="circuit_open"), "not_asked", "circuit_open"),
])
def test_member_states(outcome, state, reason):
    s = member_state(outcome)
    assert (s.state, s.reason) == (state, reason)
    if reason:
        assert f"reason.{reason}" in MESSAGES  # the strip can say why


def test_schematic_map_places_members_in_their_districts():
    members = [Member("A", "甲大学", "A", district="海淀区"), Member("B", "乙大学", "B", district="海淀"),
               Member("C", "丙学院", "C", district="朝阳区", status="suspended"), Member("D", "丁", "D")]
    chart = schematic(members)
    tiles = {t.district: t for t in chart.tiles}
    assert len(tiles) == len(DISTRICTS) == 16
    assert [d.code for d in tiles["海淀区"].dots] == ["A", "B"]
    assert [(d.code, d.active) for d in tiles["朝阳区"].dots] == [("C", False)]
    assert [m.code for m in chart.unplaced] == ["D"]
    for t in chart.tiles:  # every dot inside its tile, tiles inside the picture, no two tiles overlapping
        assert 0 <= t.x and t.x + t.w <= chart.width and 0 <= t.y and t.y + t.h <= chart.height
        for d in t.dots:
            assert t.x < d.x < t.x + t.w and t.y < d.y < t.y + t.h
    boxes = [(t.x, t.y) for t in chart.tiles]
    assert len(set(boxes)) == len(boxes)
    assert normalise_district("火星") is None


def test_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(per_minute=6, burst=2, clock=lambda: now[0])
    assert limiter.take("a") == 0 and limiter.take("a") == 0
    wait = limiter.take("a")
    assert wait == pytest.approx(10.0)  # 6 a minute: one every 10 s
    assert limiter.take("b") == 0  # per client
    now[0] += 10.0
    assert limiter.take("a") == 0
    assert limiter.take("a") > 0


def test_every_message_key_used_in_templates_exists():
    templates = Path(__file__).resolve().parents[2] / "portal" / "templates"
    used = set()
    for f in templates.glob("*.html"):
        used |= set(re.findall(r"_\('([a-z0-9_.]+)'(?! ~)", f.read_text(encoding="utf-8")))
    assert used and not used - set(MESSAGES), sorted(used - set(MESSAGES))
    prefixes = {k.rsplit(".", 1)[0] for k in re.findall(r"_\('([a-z0-9_.]+)' ~", "".join(
        f.read_text(encoding="utf-8") for f in templates.glob("*.html")))}
    assert prefixes  # keys built in templates (status., reason., facet., sort., holding., members.)
    for prefix, names in {"status": ["asking", "answered", "slow", "down", "refused", "not_asked"],
                          "facet": ["member", "year", "language", "material_type", "clc"],
                          "sort": ["relevance", "year", "year_asc", "title"],
                          "holding": ["available", "on_loan", "not_for_loan", "unknown"],
                          "members": ["active", "suspended"]}.items():
        for name in names:
            assert f"{prefix}.{name}" in MESSAGES


def test_both_languages_are_complete():
    for key, (zh, en) in MESSAGES.items():
        assert zh and en, key
        assert set(re.findall(r"{(\w+)}", zh)) == set(re.findall(r"{(\w+)}", en)), key


def test_digits_other_than_0_to_9_are_not_numbers():
    from portal.params import ParamError, ascii_digits, integer

    assert ascii_digits("123") and not ascii_digits("²") and not ascii_digits("١٢") and not ascii_digits("")
    with pytest.raises(ParamError):
        integer("page", "²", 1, 1, 50)
