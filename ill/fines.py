"""Fines for violations (overdue, lost, damaged), settled by the lender's own rule from the registry."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FineRule:
    """A lender's fine rule, in yuan: `member.lending.fines` in the registry (docs/registry.md).

    Overdue: days late x overdue_per_day. Lost: the price x lost_multiplier, or lost_flat when the price is
    unknown. Damaged: damaged_fraction of what losing the book would cost. Amounts are kept in fen.
    """

    overdue_per_day: float = 0.5
    lost_multiplier: float = 2.0
    lost_flat: float = 100.0
    damaged_fraction: float = 0.5

    def overdue_fen(self, days: int) -> int:
        return _fen(max(days, 0) * self.overdue_per_day)

    def lost_fen(self, price_fen: int | None) -> int:
        return _fen(price_fen / 100 * self.lost_multiplier) if price_fen else _fen(self.lost_flat)

    def damaged_fen(self, price_fen: int | None) -> int:
        return _fen(self.lost_fen(price_fen) / 100 * self.damaged_fraction)


def _fen(yuan: float) -> int:
    return int(math.floor(yuan * 100 + 0.5))


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def fine_rule_of(member: Any) -> FineRule | None:
    """The member's fine rule from the registry (`lending.fines`), or None if it has none.

    Reads both a typed `member.lending` (when the registry knows lending policies) and the raw table kept
    in `member.extra["lending"]`, so it works whichever the registry provides.
    """
    lending = _get(member, "lending")
    if lending is None:
        lending = _get(_get(member, "extra"), "lending")
    fines = _get(lending, "fines")
    if fines is None:
        return None
    values = {}
    for name in ("overdue_per_day", "lost_multiplier", "lost_flat", "damaged_fraction"):
        value = _get(fines, name)
        if value is not None:
            values[name] = float(value)
    return FineRule(**values)


def yuan(fen: int | None) -> str:
    """Fen as yuan text: 1250 -> '12.50'."""
    return "" if fen is None else f"{fen / 100:.2f}"
