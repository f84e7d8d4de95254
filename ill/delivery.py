"""How the reader gets the book: collect it at a pick-up point of their library's ILL desk, or a delivery method
the library offers (members/values.py `PickupPoint`, `DeliveryMethod`; the registry's [[member.pickup]] and
[[member.delivery]] tables). Pure: checks a reader's choice against their library's offer."""

from __future__ import annotations

from dataclasses import dataclass

from ill.errors import InvalidRequest
from members import DESK, Member


@dataclass(frozen=True, slots=True)
class Choice:
    """The delivery method (DESK or a method's code), the pick-up point's code, and working days it adds."""

    delivery: str = DESK
    pickup: str = ""
    days: int = 0


def choose(member: Member | None, delivery: str | None = None, pickup: str | None = None) -> Choice:
    """The reader's choice checked against `member`'s offer (None: no registry, codes checked for form only).

    Collecting at the desk needs a pick-up point: the one given, or the library's first. InvalidRequest names
    what the library offers when the choice is not among it."""
    delivery = (delivery or DESK).strip().lower()
    pickup = (pickup or "").strip()
    if len(delivery) > 32 or len(pickup) > 64:
        raise InvalidRequest("delivery method or pick-up point code too long (at most 32 and 64 characters)")
    if member is None:
        return Choice(delivery, pickup if delivery == DESK else "")
    if delivery == DESK:
        points = member.pickups
        if not pickup:
            return Choice(DESK, points[0].code)
        if pickup not in {p.code for p in points}:
            offered = "、".join(f"{p.code}（{p.name}）" for p in points)
            raise InvalidRequest(f"{member.name} 没有取书点 {pickup!r}；可选：{offered} (no such pick-up point at "
                                 f"{member.code}; choose one of these)")
        return Choice(DESK, pickup)
    methods = {d.code: d for d in member.delivery_methods}
    if delivery not in methods:
        offered = "、".join([f"{DESK}（到馆取书）"] + [f"{d.code}（{d.name}）" for d in member.delivery_methods])
        raise InvalidRequest(f"{member.name} 不提供送书方式 {delivery!r}；可选：{offered} (delivery method not "
                             f"offered by {member.code}; choose one of these)")
    return Choice(delivery, "", methods[delivery].days)


def where(member: Member | None, delivery: str | None, pickup: str | None) -> tuple[str, str]:
    """Where the reader gets the book, as a notice says it: (Chinese, English). At the desk: the chosen pick-up
    point (its hours when the registry has them); by a delivery method: its name. Falls back to the library's
    ILL desk when the registry no longer lists the choice."""
    delivery = (delivery or DESK).strip().lower()
    if member is None:
        return "本馆馆际互借处", "your library's ILL desk"
    if delivery != DESK:
        method = next((d for d in member.delivery_methods if d.code == delivery), None)
        if method is not None:
            return f"按您选择的方式（{method.name}）送达", f"it will reach you by {method.name_en or method.name}"
    point = next((p for p in member.pickups if p.code == pickup), member.pickups[0])
    hours_zh = f"（开放时间 {point.hours}）" if point.hours else ""
    hours_en = f" (open {point.hours})" if point.hours else ""
    return f"请到{point.name}取书{hours_zh}", f"collect it at {point.name_en or point.name}{hours_en}"
