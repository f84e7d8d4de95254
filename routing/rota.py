"""Lender routing: from an edition and a reader's home library to an ordered rota of lenders, with reasons.

Pure functions over values: the caller brings the work (with its holdings), the registry's members, the
lenders' past outcomes and current load; nothing here reads a store or a network.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from dedup.work import Work
from members import Member
from records.fold import is_cjk
from records.model import AVAILABLE, IN_TRANSIT, NOT_FOR_LOAN, ON_HOLD, ON_LOAN, UNKNOWN, Holding
from records.vocabulary import DISTRICTS_EN, rate
from routing.districts import Districts, load_districts
from routing.errors import RoutingError

# Priors: the consortium's 2009 ILL fill rate (DOMAIN.md) and the service standard (answer in 1 working
# day, ship within 3) until the history holds enough requests to give its own consortium-wide means.
DEFAULT_FILL_RATE = 0.579
DEFAULT_SUPPLY_DAYS = 3.0
MIN_HISTORY_FOR_PRIOR = 20  # requests (fills, for days) consortium-wide before the history sets the prior
FILL_PRIOR_WEIGHT = 8.0  # the prior counts as this many requests: Beta(8·m, 8·(1-m))
DAYS_PRIOR_WEIGHT = 4.0  # and as this many filled requests for the mean supply days
# How likely a copy is to be supplied, by its status, before the lender's own record is taken into account.
# In transit: back on a shelf within days; on hold: kept for a reader there, so rarely ours.
COPY_CHANCE = {AVAILABLE: 1.0, UNKNOWN: 0.5, IN_TRANSIT: 0.3, ON_LOAN: 0.1, ON_HOLD: 0.05}
ON_LOAN_DUE_SOON = (7, 0.25)  # a copy due back within 7 days: the lender may recall or hold it for us
DAYS_SCALE = 3.0  # speed factor 1 / (1 + days / 3): a 3-day lender counts half as fast as an instant one
LOAD_SCALE = 20.0  # load factor 1 / (1 + open / 20): 20 requests in hand halve a lender's score
DISTANCE_SCALE_KM = 200.0  # distance factor 1 / (1 + km / 200): across Beijing costs a few per cent
STATUS_TEXT = {AVAILABLE: "在架可借", UNKNOWN: "馆藏状态未知", IN_TRANSIT: "在途", ON_LOAN: "已借出",
               ON_HOLD: "已被预约"}


@dataclass(frozen=True, slots=True)
class RotaEntry:
    """One lender in the rota: its place, the figures behind it, and the reasons in words."""

    member: str
    name: str
    rank: int
    score: float
    chance: float  # estimated probability that this lender supplies
    availability: str  # available | unknown | on_loan (best status among its lendable copies)
    copies: tuple[Holding, ...]
    fill_rate: float  # smoothed
    requests: int
    filled: int
    mean_days: float  # smoothed
    open: int
    km: float | None
    district: str | None
    reasons: tuple[str, ...]
    reasons_en: tuple[str, ...] = ()  # the same in English, for English pages

    @property
    def text(self) -> str:
        return " · ".join(self.reasons)

    @property
    def text_en(self) -> str:
        return " · ".join(self.reasons_en or self.reasons)

    def text_in(self, lang: str) -> str:
        """The reasons in the page's language ("zh" or "en")."""
        return self.text_en if lang == "en" else self.text

    def to_dict(self) -> dict:
        return {"rank": self.rank, "member": self.member, "name": self.name, "score": round(self.score, 4),
                "chance": round(self.chance, 4), "availability": self.availability,
                "copies": [{"call_number": h.call_number, "location": h.location, "status": h.status,
                            "due_date": h.due_date} for h in self.copies],
                "fill_rate": round(self.fill_rate, 4), "requests": self.requests, "filled": self.filled,
                "mean_days": round(self.mean_days, 2), "open": self.open, "km": self.km,
                "district": self.district, "reasons": list(self.reasons), "text": self.text,
                "reasons_en": list(self.reasons_en), "text_en": self.text_en}


@dataclass(frozen=True, slots=True)
class Excluded:
    """A holder left out of the rota, and why (Chinese, for staff)."""

    member: str
    name: str
    reason: str
    reason_en: str = ""  # the same in English, for English pages

    def reason_in(self, lang: str) -> str:
        return self.reason_en or self.reason if lang == "en" else self.reason

    def to_dict(self) -> dict:
        return {"member": self.member, "name": self.name, "reason": self.reason, "reason_en": self.reason_en}


@dataclass(frozen=True, slots=True)
class Rota:
    """The lenders to ask, in order; who was left out and why; or that the reader's own library has it."""

    work_id: str
    home: str
    material_type: str
    language: str | None
    lenders: tuple[RotaEntry, ...] = ()
    excluded: tuple[Excluded, ...] = ()
    spare: tuple[RotaEntry, ...] = ()  # lendable but beyond max_lenders, in the same order
    own_available: bool = False
    own_copies: tuple[Holding, ...] = ()
    note: str = ""

    @property
    def codes(self) -> list[str]:
        return [e.member for e in self.lenders]

    def to_dict(self) -> dict:
        return {"work_id": self.work_id, "home": self.home, "material_type": self.material_type,
                "language": self.language, "own_available": self.own_available,
                "own_copies": [{"call_number": h.call_number, "location": h.location, "status": h.status}
                               for h in self.own_copies],
                "note": self.note, "lenders": [e.to_dict() for e in self.lenders],
                "spare": [e.to_dict() for e in self.spare], "excluded": [x.to_dict() for x in self.excluded]}


@dataclass(frozen=True, slots=True)
class Priors:
    """The consortium-wide means a lender with few requests is smoothed towards."""

    fill_rate: float = DEFAULT_FILL_RATE
    supply_days: float = DEFAULT_SUPPLY_DAYS


@dataclass(frozen=True, slots=True)
class Track:
    """A lender's record (from ill.stats.lender_history): requests that reached it, open ones included."""

    requests: int = 0
    filled: int = 0
    supply_days_total: float = 0.0
    open: int = 0

    @property
    def decided(self) -> int:
        """Requests it has answered (supplied or not): the ones its fill rate is measured on."""
        return max(self.requests - self.open, self.filled, 0)

    @classmethod
    def of(cls, raw: Mapping | None) -> Track:
        if not raw:
            return cls()
        return cls(int(raw.get("requests", 0) or 0), int(raw.get("filled", 0) or 0),
                   float(raw.get("supply_days_total", 0.0) or 0.0), int(raw.get("open", 0) or 0))


# -- the figures -----------------------------------------------------------------------------------------
def priors(history: Mapping[str, Mapping] | None) -> Priors:
    """Consortium-wide fill rate and supply days from the history, once it holds enough to say."""
    tracks = [Track.of(v) for v in (history or {}).values()]
    requests = sum(t.decided for t in tracks)
    filled = sum(t.filled for t in tracks)
    days = sum(t.supply_days_total for t in tracks)
    fill = filled / requests if requests >= MIN_HISTORY_FOR_PRIOR else DEFAULT_FILL_RATE
    supply = days / filled if filled >= MIN_HISTORY_FOR_PRIOR else DEFAULT_SUPPLY_DAYS
    return Priors(min(max(fill, 0.05), 0.95), max(supply, 0.1))


def smoothed_fill_rate(track: Track, prior: Priors) -> float:
    """Beta-smoothed fill rate: the prior counts as FILL_PRIOR_WEIGHT requests at the consortium's rate."""
    return (track.filled + FILL_PRIOR_WEIGHT * prior.fill_rate) / (track.decided + FILL_PRIOR_WEIGHT)


def smoothed_days(track: Track, prior: Priors) -> float:
    """Mean days to supply, smoothed towards the consortium's mean by DAYS_PRIOR_WEIGHT pseudo-fills."""
    return (track.supply_days_total + DAYS_PRIOR_WEIGHT * prior.supply_days) / (track.filled + DAYS_PRIOR_WEIGHT)


def copy_chance(holding: Holding, today: date) -> float:
    """How likely this one copy can be supplied now, from its status alone."""
    if holding.status == ON_LOAN and holding.due_date:
        try:
            due = date.fromisoformat(holding.due_date[:10])
        except ValueError:
            return COPY_CHANCE[ON_LOAN]
        if (due - today).days <= ON_LOAN_DUE_SOON[0]:
            return ON_LOAN_DUE_SOON[1]
    return COPY_CHANCE.get(holding.status, COPY_CHANCE[UNKNOWN])


def availability(copies: Sequence[Holding], today: date) -> tuple[float, str]:
    """The chance that at least one of these copies can be supplied, and the best status among them."""
    miss = 1.0
    for h in copies:
        miss *= 1.0 - copy_chance(h, today)
    statuses = {h.status for h in copies}
    best = next((s for s in (AVAILABLE, UNKNOWN, IN_TRANSIT, ON_LOAN, ON_HOLD) if s in statuses), UNKNOWN)
    return 1.0 - miss, best


def score(chance: float, days: float, open_load: int, km: float | None) -> float:
    """Expected usefulness of asking this lender: likely to supply, fast, not overloaded, near."""
    distance = 1.0 if km is None else 1.0 / (1.0 + km / DISTANCE_SCALE_KM)
    return chance / (1.0 + days / DAYS_SCALE) / (1.0 + open_load / LOAD_SCALE) * distance


# -- the rota --------------------------------------------------------------------------------------------
def build_rota(work: Work, home: str, members: Iterable[Member] | Mapping[str, Member], *,
               history: Mapping[str, Mapping] | None = None, load: Mapping[str, int] | None = None,
               live_status: Mapping[str, Sequence[Holding]] | None = None, max_lenders: int = 5,
               now: date | datetime | None = None, districts: Districts | None = None) -> Rota:
    """The lenders to ask for `work` on behalf of a reader of `home`, best first, each with its reasons.

    `history`: {code: {"requests", "filled", "supply_days_total", "open"}}: requests that reached each
    lender (open ones included), supplied, days to supply summed, open now; `load`:
    {code: open requests} (overrides history's "open"); `live_status`: {code: holdings seen just now},
    replacing the catalogue's holdings of those members. Ties are broken by distance, load, then code.
    """
    if max_lenders < 1:
        raise RoutingError(f"max_lenders must be 1 or more, not {max_lenders}")
    by_code = dict(members) if isinstance(members, Mapping) else {m.code: m for m in members}
    home = (home or "").strip().upper()
    if home not in by_code:
        raise RoutingError(f"unknown home library {home!r}; 'balis members' lists the member codes")
    today = (now.date() if isinstance(now, datetime) else now) or date.today()
    districts = districts if districts is not None else load_districts()
    history = history or {}
    load = load or {}
    prior = priors(history)
    material, language = work_kind(work)
    holdings = holdings_by_member(work, live_status)
    home_member = by_code[home]

    own = holdings.pop(home, None)
    excluded: list[Excluded] = []
    if own is not None:
        own_lendable = [h for h in own if h.status == AVAILABLE and home_member.lending.location_lendable(h.location)]
        if own_lendable:
            first = own_lendable[0]
            where = "，".join(x for x in (f"索书号 {first.call_number}" if first.call_number else "",
                                          f"位置 {first.location}" if first.location else "") if x)
            note = (f"本馆（{home_member.name}）有在架可借副本{('：' + where) if where else ''}；"
                    f"请读者直接在本馆借阅，无需馆际互借。")
            return Rota(work.work_id, home, material, language, own_available=True,
                        own_copies=tuple(own_lendable), note=note)
        excluded.append(Excluded(home, home_member.name, "读者所在馆（本馆副本" + _own_state(own) + "）",
                                 f"the reader's own library (its copy: {_own_state(own, 'en')})"))

    entries: list[RotaEntry] = []
    for code in sorted(holdings):
        copies = holdings[code]
        member = by_code.get(code)
        if member is None:
            excluded.append(Excluded(code, code, "不在成员名录中", "not in the registry of members"))
            continue
        if not member.active:
            why, why_en = "暂停服务", "service suspended"
            if member.suspended_reason:
                why += f"（{member.suspended_reason}"
                why += f"，自 {member.suspended_since.isoformat()} 起）" if member.suspended_since else "）"
                why_en += f" ({member.suspended_reason}" + (
                    f", since {member.suspended_since.isoformat()})" if member.suspended_since else ")")
            excluded.append(Excluded(code, member.name, why, why_en))
            continue
        why = member.lending.excludes(material, language)
        if why:
            excluded.append(Excluded(code, member.name, why, member.lending.excludes(material, language, "en")))
            continue
        lendable = [h for h in copies if h.status != NOT_FOR_LOAN and member.lending.location_lendable(h.location)]
        if not lendable:
            places = sorted({h.location for h in copies if h.location})
            excluded.append(Excluded(code, member.name, "副本均不外借" + (f"（{'、'.join(places)}）" if places else ""),
                                     "no copy may be lent" + (f" ({', '.join(places)})" if places else "")))
            continue
        track = Track.of(history.get(code))
        open_load = int(load.get(code, track.open))
        fill = smoothed_fill_rate(track, prior)
        days = smoothed_days(track, prior)
        avail, best = availability(lendable, today)
        km = districts.km(home_member.district, member.district)
        chance = avail * fill
        entries.append(RotaEntry(
            member=code, name=member.name, rank=0, score=score(chance, days, open_load, km), chance=chance,
            availability=best, copies=tuple(lendable), fill_rate=fill, requests=track.decided,
            filled=track.filled, mean_days=days, open=open_load, km=km, district=member.district,
            reasons=_reasons(lendable, best, today, track, fill, days, prior, open_load, home_member, member, km),
            reasons_en=_reasons(lendable, best, today, track, fill, days, prior, open_load, home_member, member, km,
                                "en")))

    entries.sort(key=lambda e: (-round(e.score, 9), math.inf if e.km is None else e.km, e.open, e.member))
    ranked = [_with_rank(e, i) for i, e in enumerate(entries, 1)]
    lenders, spare = tuple(ranked[:max_lenders]), tuple(ranked[max_lenders:])
    if lenders:
        note = f"按顺序请求 {len(lenders)} 家：" + " → ".join(e.name for e in lenders)
        if spare:
            note += f"（另有 {len(spare)} 家备选）"
    elif not excluded:
        note = "没有成员馆收藏此版本。"
    else:
        note = "没有可以借出的成员馆：" + "；".join(f"{x.name}：{x.reason}" for x in excluded)
    return Rota(work.work_id, home, material, language, lenders, tuple(excluded), spare, note=note)


def work_kind(work: Work) -> tuple[str, str | None]:
    """The edition's material type and language (ISO 639-2); a Chinese title with no language code is chi."""
    display = work.display
    language = display.language or next((r.language for r in work.records if r.language), None)
    if language is None and is_cjk(display.title or ""):
        language = "chi"
    return display.material_type or "book", language


def holdings_by_member(work: Work, live_status: Mapping[str, Sequence[Holding]] | None = None
                       ) -> dict[str, list[Holding]]:
    """Each member's copies of the work: live ones where given, else the catalogue's. A member with a
    record but no item data counts as holding one copy of unknown status."""
    out: dict[str, list[Holding]] = {}
    for h in work.holdings:
        out.setdefault(h.member, []).append(h)
    for r in work.records:
        out.setdefault(r.member, [Holding(member=r.member, status=UNKNOWN)])
    for code, copies in (live_status or {}).items():
        if code in out:
            out[code] = list(copies) or out[code]
    return out


def _with_rank(e: RotaEntry, rank: int) -> RotaEntry:
    return replace(e, rank=rank)


def _own_state(own: Sequence[Holding], lang: str = "zh") -> str:
    en = lang == "en"
    statuses = {h.status for h in own}
    if statuses <= {IN_TRANSIT, ON_HOLD}:
        if IN_TRANSIT in statuses:
            return "in transit" if en else "在途"
        return "on hold" if en else "已被预约"
    if statuses == {ON_LOAN}:
        dues = sorted(h.due_date for h in own if h.due_date)
        if en:
            return "on loan" + (f", due {dues[0][:10]}" if dues else "")
        return "已借出" + (f"，{dues[0][:10]} 到期" if dues else "")
    if AVAILABLE in statuses:
        return "on the shelf but not for loan" if en else "在不外借的位置"
    if UNKNOWN in statuses:
        return "status unknown: look on the shelf first" if en else "状态未知，可先查本馆书架"
    return "not for loan" if en else "不外借"


def _reasons(copies: Sequence[Holding], best: str, today: date, track: Track, fill: float, days: float,
             prior: Priors, open_load: int, home: Member, lender: Member, km: float | None,
             lang: str = "zh") -> tuple[str, ...]:
    """Why the lender stands where it does, in Chinese for staff (or `lang="en"`: the same in English)."""
    en = lang == "en"
    out = []
    n = len(copies)
    many = (f" ({n} copies)" if en else f"（{n} 册）") if n > 1 else ""
    if best == AVAILABLE:
        shelf = sum(h.status == AVAILABLE for h in copies)
        out.append(("on the shelf" + (f" ({shelf} copies)" if shelf > 1 else "")) if en
                   else "在架可借" + (f"（{shelf} 册）" if shelf > 1 else ""))
    elif best == UNKNOWN:
        out.append(("status unknown" if en else "馆藏状态未知") + many)
    elif best == IN_TRANSIT:
        out.append(("in transit, not on the shelf" if en else "在途（馆际调拨中，不在架）") + many)
    elif best == ON_HOLD:
        out.append(("on hold for the library's own reader" if en else "已被本馆读者预约") + many)
    else:
        dues = sorted(h.due_date[:10] for h in copies if h.due_date)
        out.append(("all on loan" + (f" (first due {dues[0]})" if dues else "")) if en
                   else "全部借出" + (f"（最早 {dues[0]} 到期）" if dues else ""))
    if track.decided == 0:
        out.append(f"no lending history (estimated at everyone's fill rate, {rate(prior.fill_rate)})" if en
                   else f"无借出记录（按全体满足率 {rate(prior.fill_rate)} 估计）")
    else:
        raw = track.filled / track.decided
        text = (f"fill rate {rate(raw)} ({track.decided} requests)" if en
                else f"满足率 {rate(raw)}（{track.decided} 次）")
        if abs(raw - fill) >= 0.05:
            text += f", smoothed {rate(fill)}" if en else f"，平滑后 {rate(fill)}"
        out.append(text)
    if en:
        out.append(f"{days:.1f} days on average" if track.filled else f"about {days:.1f} days (estimated)")
        out.append(f"{open_load} open now")
    else:
        out.append(f"平均 {days:.1f} 天" if track.filled else f"平均天数按 {days:.1f} 天估计")
        out.append(f"当前 {open_load} 件在办")
    here, there = (_district(home.district, lang), _district(lender.district, lang))
    if km is None:
        out.append(f"{here or '?'}→{there or '?'}" + (" (distance unknown)" if en else "（距离未知）"))
    elif km == 0 and home.district == lender.district:
        out.append(f"both in {there}" if en else f"同在{there}")
    else:
        out.append(f"{here}→{there} about {km:.0f} km" if en else f"{here}→{there} 约 {km:.0f} 公里")
    return tuple(out)


def _district(name: str | None, lang: str) -> str:
    return (DISTRICTS_EN.get(name, name) if lang == "en" else name) or ""


__all__ = ["Excluded", "Priors", "Rota", "RotaEntry", "Track", "availability", "build_rota", "copy_chance",
           "holdings_by_member", "priors", "score", "smoothed_days", "smoothed_fill_rate", "work_kind"]
