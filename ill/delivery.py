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
