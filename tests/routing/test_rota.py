"""build_rota: exclusions, own library, smoothing, load spreading, distance and deterministic ties."""

from __future__ import annotations

from datetime import date

import pytest

from dedup.work import Work
from members import LendingPolicy, Member
from records.model import AVAILABLE, NOT_FOR_LOAN, ON_LOAN, UNKNOWN, Holding, Record
from routing import RoutingError, build_rota
from routing.districts import Districts, load_districts
from routing.rota import Track, priors, smoothed_days, smoothed_fill_rate

TODAY = date(2026, 11, 20)


def member(code, district="海淀区", **kw) -> Member:
    return Member(code=code, name=f"{code}大学", name_en=code, district=district, **kw)


MEMBERS = [member("THU"), member("PKU"), member("RUC"), member("BNU"), member("CUPL", "昌平区"),
           member("CUC", "朝阳区"), member("CNU")]


def work(*holdings: Holding, language="chi", material="book", title="数据结构") -> Work:
    codes = list(dict.fromkeys(h.member for h in holdings))
    records = [Record(member=c, record_id=f"{c.lower()}1", syntax="unimarc", title=title, language=language,
                      material_type=material, holdings=[h for h in holdings if h.member == c]) for c in codes]
    return Work(work_id="W1", display=records[0], records=records, holdings=list(holdings))


def shelf(code, location="中文图书借阅区", status=AVAILABLE, due=None) -> Holding:
    return Holding(member=code, call_number="TP311.12/1", location=location, status=status, due_date=due)


def rota(w, home="THU", members=MEMBERS, **kw):
    kw.setdefault("now", TODAY)
    return build_rota(w, home, members, **kw)


def test_every_holder_is_ranked_with_reasons():
    r = rota(work(shelf("PKU"), shelf("RUC"), shelf("CUPL")))
    assert set(r.codes) == {"PKU", "RUC", "CUPL"}
    assert [e.rank for e in r.lenders] == [1, 2, 3]
    first = r.lenders[0]
    assert "在架可借" in first.text and "当前 0 件在办" in first.text and "海淀区" in first.text
    assert not r.own_available and r.excluded == ()
    assert "按顺序请求 3 家" in r.note


def test_suspended_member_is_excluded_with_its_reason():
    members = MEMBERS + [member("BUPT", status="suspended", suspended_reason="系统迁移",
                                suspended_since=date(2026, 9, 1))]
    r = rota(work(shelf("BUPT"), shelf("PKU")), members=members)
    assert r.codes == ["PKU"]
    (x,) = r.excluded
    assert x.member == "BUPT" and "暂停服务" in x.reason and "系统迁移" in x.reason and "2026-09-01" in x.reason


@pytest.mark.parametrize("policy, language, material, fragment", [
    (LendingPolicy(lends=False), "chi", "book", "不参加"),
    (LendingPolicy(), "eng", "book", "语种"),
    (LendingPolicy(), "chi", "serial", "serial"),
])
def test_policy_excludes_material_language_and_non_lenders(policy, language, material, fragment):
    members = [m for m in MEMBERS if m.code != "PKU"] + [member("PKU", lending=policy)]
    open_policy = LendingPolicy(languages=None, material_types=frozenset({"book", "serial"}))
    members = [m if m.code != "RUC" else member("RUC", lending=open_policy) for m in members]
    r = rota(work(shelf("PKU"), shelf("RUC"), language=language, material=material), members=members)
    assert r.codes == ["RUC"]
    (x,) = r.excluded
    assert x.member == "PKU" and fragment in x.reason


def test_not_for_loan_locations_and_statuses_are_dropped():
    r = rota(work(shelf("PKU", location="总馆参考阅览室"), shelf("PKU", location="特藏"),
                  shelf("RUC", status=NOT_FOR_LOAN), shelf("BNU", location="过刊库"), shelf("CNU")))
    assert r.codes == ["CNU"]
    reasons = {x.member: x.reason for x in r.excluded}
    assert set(reasons) == {"PKU", "RUC", "BNU"}
    assert "副本均不外借" in reasons["PKU"] and "参考阅览室" in reasons["PKU"]
    # one lendable copy is enough, and only the lendable copies are offered
    r = rota(work(shelf("PKU", location="特藏"), shelf("PKU", location="理工分馆")))
    assert r.codes == ["PKU"] and [h.location for h in r.lenders[0].copies] == ["理工分馆"]


def test_own_library_with_an_available_copy_says_so_instead_of_routing():
    r = rota(work(shelf("THU", location="理工分馆"), shelf("PKU")))
    assert r.own_available and r.lenders == () and r.codes == []
    assert "本馆" in r.note and "理工分馆" in r.note and "TP311.12/1" in r.note
    assert r.own_copies[0].member == "THU"


def test_own_library_copy_on_loan_or_not_for_loan_routes_elsewhere():
    r = rota(work(shelf("THU", status=ON_LOAN, due="2026-12-01"), shelf("PKU")))
    assert not r.own_available and r.codes == ["PKU"]
    assert r.excluded[0].member == "THU" and "读者所在馆" in r.excluded[0].reason and "2026-12-01" in r.excluded[0].reason
    r = rota(work(shelf("THU", location="特藏"), shelf("PKU")))
    assert not r.own_available and r.codes == ["PKU"]


def test_available_copy_beats_copies_on_loan_and_unknown():
    r = rota(work(shelf("PKU", status=ON_LOAN, due="2027-01-10"), shelf("RUC", status=UNKNOWN), shelf("BNU")))
    assert r.codes == ["BNU", "RUC", "PKU"]
    assert "全部借出" in r.lenders[2].text and "2027-01-10" in r.lenders[2].text
    assert "状态未知" in r.lenders[1].text


def test_a_copy_due_back_soon_ranks_above_one_due_late():
    r = rota(work(shelf("PKU", status=ON_LOAN, due="2027-01-10"), shelf("RUC", status=ON_LOAN, due="2026-11-23")))
    assert r.codes == ["RUC", "PKU"]


def test_live_status_overrides_the_catalogue():
    w = work(shelf("PKU"), shelf("RUC", status=ON_LOAN))
    assert rota(w).codes == ["PKU", "RUC"]
    live = {"PKU": [shelf("PKU", status=ON_LOAN)], "RUC": [shelf("RUC")]}
    assert rota(w, live_status=live).codes == ["RUC", "PKU"]


def test_smoothing_keeps_a_new_member_and_one_with_two_misses_close():
    prior = priors({})
    new = smoothed_fill_rate(Track(), prior)
    two_misses = smoothed_fill_rate(Track(requests=2, filled=0), prior)
    poor = smoothed_fill_rate(Track(requests=50, filled=10), prior)
    good = smoothed_fill_rate(Track(requests=50, filled=45), prior)
    assert new == pytest.approx(0.579)
    assert 0.75 * new < two_misses < new  # a little less trusted, not written off
    assert poor < two_misses and good > new
    background = {"CNU": {"requests": 100, "filled": 60, "supply_days_total": 150}}  # sets the consortium prior
    r = rota(work(shelf("PKU"), shelf("RUC"), shelf("BNU")),
             history={**background, "RUC": {"requests": 2, "filled": 0},
                      "BNU": {"requests": 50, "filled": 10, "supply_days_total": 30}})
    assert r.codes == ["PKU", "RUC", "BNU"]  # new member first, two misses next, the proven poor lender last
    assert "无借出记录" in r.lenders[0].text
    assert "满足率 0.0 %（2 次），平滑后" in r.lenders[1].text


def test_two_fills_do_not_outrank_a_long_good_record():
    r = rota(work(shelf("PKU"), shelf("RUC")),
             history={"PKU": {"requests": 2, "filled": 2, "supply_days_total": 3},
                      "RUC": {"requests": 60, "filled": 54, "supply_days_total": 80},
                      "CNU": {"requests": 200, "filled": 110, "supply_days_total": 330}})
    assert r.codes == ["RUC", "PKU"]


def test_turnaround_is_smoothed_and_counts():
    prior = priors({})
    assert smoothed_days(Track(), prior) == pytest.approx(3.0)
    fast = {"requests": 30, "filled": 20, "supply_days_total": 20}
    slow = {"requests": 30, "filled": 20, "supply_days_total": 120}
    r = rota(work(shelf("PKU"), shelf("RUC")), history={"PKU": slow, "RUC": fast})
    assert r.codes == ["RUC", "PKU"]
    assert "平均 1.4 天" in r.lenders[0].text  # (20 + 4 × 3.5) / (20 + 4): smoothed towards the mean 3.5


def test_priors_come_from_the_history_once_it_is_large_enough():
    small = {"A": {"requests": 5, "filled": 5, "supply_days_total": 5}}
    assert priors(small).fill_rate == pytest.approx(0.579)
    big = {"A": {"requests": 30, "filled": 27, "supply_days_total": 27},
           "B": {"requests": 10, "filled": 3, "supply_days_total": 9}}
    assert priors(big).fill_rate == pytest.approx(0.75)
    assert priors(big).supply_days == pytest.approx(36 / 30)


def test_load_spreads_work_between_equal_lenders():
    w = work(shelf("PKU"), shelf("RUC"))
    assert rota(w).codes == ["PKU", "RUC"]  # equal: code order
    assert rota(w, load={"PKU": 6}).codes == ["RUC", "PKU"]
    assert rota(w, history={"PKU": {"open": 6}}).codes == ["RUC", "PKU"]  # history's open when no load given
    r = rota(w, load={"PKU": 6, "RUC": 2})
    assert r.codes == ["RUC", "PKU"] and "当前 6 件在办" in r.lenders[1].text


def test_load_does_not_outweigh_availability():
    r = rota(work(shelf("PKU"), shelf("RUC", status=ON_LOAN)), load={"PKU": 10})
    assert r.codes == ["PKU", "RUC"]


def test_distance_breaks_ties_between_otherwise_equal_lenders():
    w = work(shelf("CUC"), shelf("CUPL"), shelf("PKU"))
    r = rota(w)  # home THU in 海淀区: PKU (same district), CUC (朝阳区), CUPL (昌平区, farther)
    assert r.codes == ["PKU", "CUC", "CUPL"]
    assert "同在海淀区" in r.lenders[0].text
    assert "海淀区→朝阳区 约" in r.lenders[1].text
    assert r.lenders[1].km < r.lenders[2].km


def test_distance_is_only_a_tie_breaker_against_a_better_record():
    r = rota(work(shelf("PKU"), shelf("CUPL")),
             history={"CUPL": {"requests": 40, "filled": 36, "supply_days_total": 50},
                      "PKU": {"requests": 40, "filled": 20, "supply_days_total": 60}})
    assert r.codes == ["CUPL", "PKU"]


def test_unknown_district_has_no_distance_and_goes_last_among_equals():
    members = MEMBERS + [member("XYZ", district="外星区")]
    r = rota(work(shelf("XYZ"), shelf("CUPL")), members=members)
    xyz = next(e for e in r.lenders if e.member == "XYZ")
    assert xyz.km is None and "距离未知" in xyz.text


def test_max_lenders_keeps_the_rest_as_spares_and_ties_are_deterministic():
    many = [member(f"M{i:02d}") for i in range(9)] + [member("THU")]
    w = work(*[shelf(f"M{i:02d}") for i in reversed(range(9))])
    r = rota(w, members=many)
    assert r.codes == ["M00", "M01", "M02", "M03", "M04"]
    assert [e.member for e in r.spare] == ["M05", "M06", "M07", "M08"]
    assert rota(w, members=list(reversed(many))) == r
    assert rota(w, members=many, max_lenders=2).codes == ["M00", "M01"]


def test_nothing_lendable_says_why():
    members = MEMBERS + [member("BUPT", status="suspended")]
    r = rota(work(shelf("BUPT"), shelf("PKU", location="特藏")), members=members)
    assert r.lenders == () and "没有可以借出的成员馆" in r.note
    assert "暂停服务" in r.note and "副本均不外借" in r.note


def test_holder_not_in_registry_and_record_without_items():
    w = work(shelf("ZZZ"), shelf("PKU"))
    rec = Record(member="RUC", record_id="r9", syntax="unimarc", title="数据结构", language="chi")
    w.records.append(rec)  # RUC catalogues it but sends no item data
    r = rota(w)
    assert r.excluded[0].member == "ZZZ" and "不在成员名录" in r.excluded[0].reason
    ruc = next(e for e in r.lenders if e.member == "RUC")
    assert ruc.availability == UNKNOWN


def test_chinese_title_without_language_code_counts_as_chinese():
    assert rota(work(shelf("PKU"), language=None)).codes == ["PKU"]
    assert rota(work(shelf("PKU"), language=None, title="Data structures")).codes == []


def test_unknown_home_library_is_an_error():
    with pytest.raises(RoutingError, match="unknown home library 'NOPE'"):
        rota(work(shelf("PKU")), home="nope")
    with pytest.raises(RoutingError, match="max_lenders"):
        rota(work(shelf("PKU")), max_lenders=0)


def test_shipped_district_table_covers_the_registry():
    from members import DEFAULT_REGISTRY, load_registry

    d = load_districts()
    assert all(m.district in d.centres for m in load_registry(DEFAULT_REGISTRY))
    assert d.km("海淀区", "海淀区") == 0 and 5 < d.km("海淀区", "朝阳区") < 40
    assert d.km("海淀区", "上海市徐汇区") > 1000
    assert Districts().km("海淀区", "朝阳区") is None


def test_json_shape():
    d = rota(work(shelf("PKU"))).to_dict()
    assert d["lenders"][0]["member"] == "PKU" and d["lenders"][0]["reasons"]
    assert set(d) >= {"work_id", "home", "own_available", "note", "lenders", "spare", "excluded"}


@pytest.mark.parametrize("doc, fragment", [
    ({"road_factor": 0.5}, "road_factor"),
    ({"district": {"海淀区": {"lat": 39.9}}}, "'海淀区' needs lat"),
    ({"district": {"海淀区": {"lat": 139.9, "lon": 116.3}}}, "needs lat"),
    ({"district": []}, "tables expected"),
])
def test_bad_districts_table_names_the_entry(doc, fragment):
    from routing.districts import parse_districts

    with pytest.raises(RoutingError, match=fragment):
        parse_districts(doc, "config/districts.toml")


def test_districts_file_errors(tmp_path):
    with pytest.raises(RoutingError, match="not found"):
        load_districts(tmp_path / "none.toml")
    bad = tmp_path / "d.toml"
    bad.write_text("[district\n", encoding="utf-8")
    with pytest.raises(RoutingError, match="UTF-8 TOML"):
        load_districts(bad)


def test_own_copy_of_unknown_status_routes_but_says_to_check_the_shelf():
    r = rota(work(shelf("THU", status=UNKNOWN), shelf("PKU")))
    assert r.codes == ["PKU"] and "状态未知" in r.excluded[0].reason
    r = rota(work(shelf("THU", status=NOT_FOR_LOAN), shelf("PKU")))
    assert r.codes == ["PKU"] and "不外借" in r.excluded[0].reason
