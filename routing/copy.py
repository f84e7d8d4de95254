"""Routing a copy request (原文传递): which members can supply an article of a given journal, year and volume,
in what order, and the coverage that put each on the rota.

Pure, like routing/rota.py: the caller brings each member's print holdings statements of the journal (from the
union index's serial records, records.model.SerialHolding), the titles members license electronically (KBART
packages, with each package's document-delivery flag), the members' copy-service record and load. Only
members whose print or electronic coverage includes the year and volume are listed: electronic first where
the licence allows document delivery, then print; members whose statement cannot say come last, marked so.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol

from members import Member
from records.coverage import merge
from records.kbart import KbartTitle
from records.model import UNKNOWN, Holding, SerialHolding
from records.vocabulary import rate
from routing.districts import Districts, load_districts
from routing.errors import RoutingError
from routing.rota import (
    MIN_HISTORY_FOR_PRIOR,
    Excluded,
    Priors,
    Track,
    score,
    smoothed_days,
    smoothed_fill_rate,
)

ELECTRONIC, PRINT = "electronic", "print"
# how likely a covering source gives the copy before the member's own record counts: a licensed e-journal is
# there to download; a print run may lack a bound volume or be at the bindery; a statement that cannot say, less
SOURCE_CHANCE = {ELECTRONIC: 1.0, PRINT: 0.9}
UNCERTAIN_CHANCE = 0.4
# Priors of the copy service until the history holds enough copy requests: BALIS document delivery in 2009
# filled 74.2 % with a mean completion of 1.07 days (DOMAIN.md), unlike loans (57.9 %, 3 days).
COPY_FILL_RATE = 0.742
COPY_SUPPLY_DAYS = 1.07


def copy_priors(history: Mapping[str, Mapping] | None) -> Priors:
    """The consortium's copy fill rate and days from the copy history, once it holds enough to say."""
    tracks = [Track.of(v) for v in (history or {}).values()]
    decided = sum(t.decided for t in tracks)
    filled = sum(t.filled for t in tracks)
    days = sum(t.supply_days_total for t in tracks)
    fill = filled / decided if decided >= MIN_HISTORY_FOR_PRIOR else COPY_FILL_RATE
    supply = days / filled if filled >= MIN_HISTORY_FOR_PRIOR else COPY_SUPPLY_DAYS
    return Priors(min(max(fill, 0.05), 0.95), max(supply, 0.1))


class Licence(Protocol):
    """What routing reads of a licensed title (indexer.eholdings.Licensed)."""

    member: str
    package: str
    dd_allowed: bool
    title: KbartTitle


@dataclass(frozen=True, slots=True)
class Article:
    """The part of a journal asked for."""

    issns: tuple[str, ...]
    year: int
    volume: int | None = None
    issue: int | None = None

    def text(self) -> str:
        where = f"{self.year}年" + (f" 第{self.volume}卷" if self.volume is not None else "")
        where += f" 第{self.issue}期" if self.issue is not None else ""
        return f"ISSN {'/'.join(self.issns)} {where}"


@dataclass(frozen=True, slots=True)
class CopyEntry:
    """One supplier on a copy rota: where its copy would come from, the figures behind its place, the reasons."""

    member: str
    name: str
    rank: int
    source: str  # electronic | print
    certain: bool  # False: the member holds the journal but its statement cannot say about this volume
    coverage: str  # the coverage that put it on the rota, in words
    package: str | None  # the e-journal package (electronic)
    statement: str | None  # the holdings statement as written (print)
    score: float
    chance: float
    fill_rate: float
    requests: int
    filled: int
    mean_days: float
    open: int
    km: float | None
    district: str | None
    reasons: tuple[str, ...]
    copies: tuple[Holding, ...] = ()  # where a print copy stands (location, call number), for the request's rota

    @property
    def text(self) -> str:
        return " · ".join(self.reasons)

    def to_dict(self) -> dict:
        return {"rank": self.rank, "member": self.member, "name": self.name, "source": self.source,
                "certain": self.certain, "coverage": self.coverage, "package": self.package,
                "statement": self.statement, "score": round(self.score, 4), "chance": round(self.chance, 4),
                "fill_rate": round(self.fill_rate, 4), "requests": self.requests, "filled": self.filled,
                "mean_days": round(self.mean_days, 2), "open": self.open, "km": self.km, "district": self.district,
                "copies": [{"call_number": h.call_number, "location": h.location} for h in self.copies],
                "reasons": list(self.reasons), "text": self.text}


@dataclass(frozen=True, slots=True)
class CopyRota:
    """The suppliers to ask for an article, in order; who has the journal but was left off, and why."""

    article: Article
    home: str
    lenders: tuple[CopyEntry, ...] = ()
    excluded: tuple[Excluded, ...] = ()
    spare: tuple[CopyEntry, ...] = ()
    own: str = ""  # the reader's own library covers it: how (then no request is needed)
    note: str = ""

    @property
    def codes(self) -> list[str]:
        return [e.member for e in self.lenders]

    def to_dict(self) -> dict:
        a = self.article
        return {"kind": "copy", "issns": list(a.issns), "year": a.year, "volume": a.volume, "issue": a.issue,
                "home": self.home, "own": self.own, "note": self.note,
                "lenders": [e.to_dict() for e in self.lenders], "spare": [e.to_dict() for e in self.spare],
                "excluded": [x.to_dict() for x in self.excluded]}


def _today(now: date | datetime | None) -> date:
    return (now.date() if isinstance(now, datetime) else now) or date.today()


def build_copy_rota(article: Article, home: str, members: Iterable[Member] | Mapping[str, Member], *,
                    print_holdings: Mapping[str, Sequence[SerialHolding]] | None = None,
                    licences: Sequence[Licence] = (), history: Mapping[str, Mapping] | None = None,
                    load: Mapping[str, int] | None = None, max_lenders: int = 5,
                    now: date | datetime | None = None, districts: Districts | None = None) -> CopyRota:
    """The members to ask for `article` on behalf of a reader of `home`, best first, each with its coverage.

    `print_holdings`: {code: [SerialHolding]} of the journal's records in the union index (an empty list: the
    member has the journal but states no run); `licences`: the licensed titles with the journal's ISSNs;
    `history`: the members' copy requests (ill.stats.lender_history(kind="copy")); `load`: open requests now.
    """
    if max_lenders < 1:
        raise RoutingError(f"max_lenders must be 1 or more, not {max_lenders}")
    by_code = dict(members) if isinstance(members, Mapping) else {m.code: m for m in members}
    home = (home or "").strip().upper()
    if home not in by_code:
        raise RoutingError(f"unknown home library {home!r}; 'balis members' lists the member codes")
    today = _today(now)
    districts = districts if districts is not None else load_districts()
    history, load = history or {}, load or {}
    prior = copy_priors(history)
    home_member = by_code[home]
    year, volume, issue = article.year, article.volume, article.issue

    # each member's best source: (tier, certain, kind, coverage text, package, statement, copies)
    found: dict[str, tuple] = {}
    left: dict[str, str] = {}
    for lic in licences:
        covered = lic.title.covers(year, volume, today)
        text = f"电子刊 {lic.package}：{lic.title.coverage_text(today)}"
        if covered is None:
            left.setdefault(lic.member, f"电子刊 {lic.package} 仅有文摘（{lic.title.coverage_depth}）")
        elif not covered:
            left.setdefault(lic.member, f"电子刊 {lic.package} 不含该年卷（{lic.title.coverage_text(today)}）")
        elif not lic.dd_allowed:
            left.setdefault(lic.member, f"电子刊 {lic.package} 含该年卷，但许可不允许原文传递")
        else:
            best = found.get(lic.member)
            if best is None or best[0] > 0:
                found[lic.member] = (0, True, ELECTRONIC, text, lic.package, None, ())
    for code, statements in (print_holdings or {}).items():
        if code in found and found[code][0] == 0:
            continue
        readable = [s for s in statements if s.coverage.readable]
        answer = merge(s.coverage for s in readable).covers(year, volume, issue) if readable else None
        where = next((s for s in statements if s.coverage.covers(year, volume, issue)), None)
        copies = tuple(Holding(member=code, call_number=s.call_number, location=s.location, status=UNKNOWN)
                       for s in ([where] if where else statements[:1]) if s.call_number or s.location)
        statement = "; ".join(s.statement for s in statements) or None
        if answer is True:
            found[code] = (1, True, PRINT, f"纸本馆藏 {where.statement if where else statement}"
                           + (f"（{where.location}）" if where and where.location else ""), None, statement, copies)
            left.pop(code, None)
        elif answer is False:
            left.setdefault(code, f"纸本馆藏不含该年卷（{statement}）")
        elif code not in found:
            why = (f"纸本馆藏说明无法判断是否含该年卷（{statement}）" if statement
                   else "收藏该刊，但记录无馆藏卷期说明")
            found[code] = (2, False, PRINT, why, None, statement, copies)
    own = ""
    if home in found and found[home][1]:
        own = found[home][3]
    found.pop(home, None)
    left.pop(home, None)

    entries: list[tuple[int, CopyEntry]] = []
    excluded: list[Excluded] = []
    for code in sorted(set(found) | set(left)):
        member = by_code.get(code)
        if member is None:
            excluded.append(Excluded(code, code, "不在成员名录中"))
            continue
        if code not in found:
            excluded.append(Excluded(code, member.name, left[code]))
            continue
        if not member.active:
            why = "暂停服务" + (f"（{member.suspended_reason}）" if member.suspended_reason else "")
            excluded.append(Excluded(code, member.name, why))
            continue
        tier, certain, kind, coverage, package, statement, copies = found[code]
        track = Track.of(history.get(code))
        open_load = int(load.get(code, track.open))
        fill = smoothed_fill_rate(track, prior)
        days = smoothed_days(track, prior)
        km = districts.km(home_member.district, member.district)
        chance = fill * (SOURCE_CHANCE[kind] if certain else UNCERTAIN_CHANCE)
        reasons = [coverage, *_record_reasons(track, fill, days, prior, open_load, home_member, member, km)]
        entry = CopyEntry(code, member.name, 0, kind, certain, coverage, package, statement,
                          score(chance, days, open_load, km), chance, fill, track.decided, track.filled, days,
                          open_load, km, member.district, tuple(reasons), copies)
        entries.append((tier, entry))

    entries.sort(key=lambda te: (te[0], -round(te[1].score, 9), math.inf if te[1].km is None else te[1].km,
                                 te[1].open, te[1].member))
    ranked = [replace(e, rank=i) for i, (_, e) in enumerate(entries, 1)]
    lenders, spare = tuple(ranked[:max_lenders]), tuple(ranked[max_lenders:])
    if own:
        note = f"本馆（{home_member.name}）馆藏包含此卷期：{own}；请读者直接在本馆获取。"
    elif lenders:
        note = f"按顺序请求 {len(lenders)} 家：" + " → ".join(e.name for e in lenders)
        if spare:
            note += f"（另有 {len(spare)} 家备选）"
    elif excluded:
        note = "没有馆藏包含该年卷的成员馆：" + "；".join(f"{x.name}：{x.reason}" for x in excluded)
    else:
        note = f"没有成员馆收藏该刊（{article.text()}）：联合目录中无此 ISSN 的期刊记录，也无电子刊馆藏。"
    return CopyRota(article, home, lenders, tuple(excluded), spare, own, note)


def _record_reasons(track: Track, fill: float, days: float, prior, open_load: int, home: Member, lender: Member,
                    km: float | None) -> list[str]:
    out = []
    if track.decided == 0:
        out.append(f"无原文传递记录（按全体满足率 {rate(prior.fill_rate)} 估计）")
    else:
        out.append(f"原文传递满足率 {rate(track.filled / track.decided)}（{track.decided} 次）")
    out.append(f"平均 {days:.1f} 天" if track.filled else f"平均天数按 {days:.1f} 天估计")
    out.append(f"当前 {open_load} 件在办")
    if km is not None and not (km == 0 and home.district == lender.district):
        out.append(f"{home.district}→{lender.district} 约 {km:.0f} 公里")
    elif km is not None:
        out.append(f"同在{lender.district}")
    return out


__all__ = ["Article", "CopyEntry", "CopyRota", "ELECTRONIC", "Licence", "PRINT", "build_copy_rota",
           "copy_priors"]
