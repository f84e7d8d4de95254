"""build_copy_rota: only members whose print or electronic coverage includes the year and volume, electronic
first where the licence allows document delivery, each with the coverage that put it there."""

from __future__ import annotations

from datetime import date

import pytest

from indexer.eholdings import Licensed
from members import Member
from records.kbart import KbartTitle
from records.model import SerialHolding
from routing import RoutingError
from routing.copy import COPY_FILL_RATE, ELECTRONIC, PRINT, Article, build_copy_rota, copy_priors

TODAY = date(2026, 12, 7)
ISSN = "0252-3116"


def member(code, district="海淀区", **kw) -> Member:
    return Member(code=code, name=f"{code}大学", name_en=code, district=district, **kw)


MEMBERS = [member("THU"), member("PKU"), member("RUC"), member("BNU"), member("CUPL", "昌平区"),
           member("CUC", "朝阳区", status="suspended", suspended_reason="系统迁移"), member("CNU")]


def held(code, statement, location="期刊阅览室", call="G25/1") -> SerialHolding:
    return SerialHolding(code, statement, location, call, "866")


def licence(code, package="CNKI", dd=True, first="1990", last="", embargo="", depth="fulltext", v1="") -> Licensed:
    return Licensed(code, package, dd, KbartTitle("图书情报工作", print_issn=ISSN, first_date=first, last_date=last,
                                                  embargo=embargo, coverage_depth=depth, first_volume=v1))


def copy_rota(year=2005, volume=None, home="THU", **kw):
    kw.setdefault("now", TODAY)
    return build_copy_rota(Article((ISSN,), year, volume), home, MEMBERS, **kw)


def test_only_members_whose_coverage_includes_the_year():
    r = copy_rota(2005, print_holdings={"PKU": [held("PKU", "1990-2010")], "RUC": [held("RUC", "1995-2000, 2008-")],
                                        "BNU": [held("BNU", "v.1(1980)-v.40(2019)")]})
    assert set(r.codes) == {"PKU", "BNU"}
    assert [x.member for x in r.excluded] == ["RUC"]
    assert "不含该年卷" in r.excluded[0].reason and "1995-2000, 2008-" in r.excluded[0].reason
    pku = next(e for e in r.lenders if e.member == "PKU")
    assert pku.source == PRINT and pku.certain and pku.statement == "1990-2010"
    assert pku.reasons[0] == "纸本馆藏 1990-2010（期刊阅览室）"
    assert [(h.call_number, h.location) for h in pku.copies] == [("G25/1", "期刊阅览室")]


def test_volume_decides_when_given():
    holdings = {"PKU": [held("PKU", "v.1(1980)-v.25(2004)")], "RUC": [held("RUC", "v.20-30")]}
    assert set(copy_rota(2003, 24, print_holdings=holdings).codes) == {"PKU", "RUC"}
    r = copy_rota(2003, 27, print_holdings=holdings)
    assert r.codes == ["RUC"]


def test_electronic_first_where_the_licence_allows_document_delivery():
    r = copy_rota(2005, print_holdings={"PKU": [held("PKU", "1990-2010")], "BNU": [held("BNU", "1990-")]},
                  licences=[licence("RUC", "CNKI 期刊全文"), licence("CNU", "Wanfang", dd=False)])
    assert r.lenders[0].member == "RUC" and r.lenders[0].source == ELECTRONIC
    assert r.lenders[0].reasons[0].startswith("电子刊 CNKI 期刊全文：1990 至 今")
    assert {e.source for e in r.lenders[1:]} == {PRINT}
    cnu = next(x for x in r.excluded if x.member == "CNU")
    assert "许可不允许原文传递" in cnu.reason


def test_a_member_with_print_and_a_no_dd_licence_is_routed_by_print():
    r = copy_rota(2005, print_holdings={"PKU": [held("PKU", "2000-2008")]}, licences=[licence("PKU", dd=False)])
    assert r.codes == ["PKU"] and r.lenders[0].source == PRINT and r.excluded == ()


def test_embargo_keeps_the_newest_year_off_the_electronic_rota():
    lic = [licence("RUC", embargo="P1Y")]
    assert copy_rota(2026, licences=lic).codes == []
    assert copy_rota(2025, licences=lic).codes == ["RUC"]
    r = copy_rota(2026, licences=lic)
    assert "不含该年卷" in r.excluded[0].reason and "P1Y" in r.excluded[0].reason


def test_abstracts_only_is_not_a_source():
    r = copy_rota(2005, licences=[licence("RUC", depth="abstracts")])
    assert r.codes == [] and "仅有文摘" in r.excluded[0].reason


def test_statement_that_cannot_say_comes_last_marked_uncertain():
    r = copy_rota(2005, print_holdings={"PKU": [held("PKU", "汇编本")], "RUC": [], "BNU": [held("BNU", "1990-2010")]})
    assert r.codes[0] == "BNU"
    assert set(r.codes[1:]) == {"PKU", "RUC"}
    pku = next(e for e in r.lenders if e.member == "PKU")
    assert not pku.certain and "无法判断" in pku.reasons[0]
    ruc = next(e for e in r.lenders if e.member == "RUC")
    assert "无馆藏卷期说明" in ruc.reasons[0]


def test_suspended_members_are_left_out_with_the_reason():
    r = copy_rota(2005, print_holdings={"CUC": [held("CUC", "1990-")], "PKU": [held("PKU", "1990-")]})
    assert r.codes == ["PKU"]
    assert r.excluded[0].member == "CUC" and "暂停服务（系统迁移）" == r.excluded[0].reason


def test_own_library_covering_it_says_so():
    r = copy_rota(2005, print_holdings={"THU": [held("THU", "1990-")], "PKU": [held("PKU", "1990-")]})
    assert r.own.startswith("纸本馆藏 1990-") and "请读者直接在本馆获取" in r.note
    assert "THU" not in r.codes


def test_copy_history_ranks_and_shows_in_reasons():
    holdings = {"PKU": [held("PKU", "1990-")], "RUC": [held("RUC", "1990-")]}
    history = {"PKU": {"requests": 40, "filled": 10, "supply_days_total": 40.0, "open": 0},
               "RUC": {"requests": 40, "filled": 38, "supply_days_total": 30.0, "open": 0}}
    r = copy_rota(2005, print_holdings=holdings, history=history)
    assert r.codes == ["RUC", "PKU"]
    assert "原文传递满足率 95.0 %（40 次）" in r.lenders[0].text


def test_copy_priors_are_the_copy_services_not_loans():
    assert copy_priors({}).fill_rate == COPY_FILL_RATE
    r = copy_rota(2005, print_holdings={"PKU": [held("PKU", "1990-")]})
    assert "按全体满足率 74.2 % 估计" in r.lenders[0].text and r.lenders[0].mean_days == pytest.approx(1.07)


def test_nobody_has_the_journal():
    r = copy_rota(2005)
    assert r.codes == [] and "没有成员馆收藏该刊" in r.note and ISSN in r.note


def test_max_lenders_and_spares():
    holdings = {c: [held(c, "1990-")] for c in ("PKU", "RUC", "BNU", "CUPL", "CNU")}
    r = copy_rota(2005, print_holdings=holdings, max_lenders=2)
    assert len(r.lenders) == 2 and len(r.spare) == 3 and "另有 3 家备选" in r.note
    assert [e.rank for e in r.lenders + r.spare] == [1, 2, 3, 4, 5]


def test_unknown_home():
    with pytest.raises(RoutingError, match="unknown home library"):
        copy_rota(2005, home="XYZ")


def test_to_dict_shape():
    d = copy_rota(2005, 3, print_holdings={"PKU": [held("PKU", "1990-")]}).to_dict()
    assert d["kind"] == "copy" and d["issns"] == [ISSN] and d["year"] == 2005 and d["volume"] == 3
    assert d["lenders"][0]["source"] == "print" and d["lenders"][0]["coverage"].startswith("纸本馆藏")
