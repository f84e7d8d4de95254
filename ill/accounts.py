"""Accounts of a request: the book's price and the fines for violations, in fen (integers).

Fines follow the lender's own rule, `members.FineRule` in the registry (`[member.lending.fines]`,
docs/registry.md), whose values are yuan: overdue = days late x overdue_per_day; lost = the price x
lost_multiplier, or lost_flat when the price is unknown; damaged = damaged_fraction of what losing the
book would cost. Amounts are rounded once, here, to whole fen (half a fen up).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ill.errors import InvalidRequest
from members import FineRule

OVERDUE, LOST, DAMAGED = "overdue", "lost", "damaged"
MAX_PRICE_YUAN = 1_000_000


def fen(yuan: float) -> int:
    """Yuan to whole fen, half a fen up: 12.345 -> 1235."""
    return int(math.floor(yuan * 100 + 0.5))


def price_fen(price: float | None) -> int | None:
    """A book's price given in yuan, checked, in fen (None: unknown)."""
    if price is None:
        return None
    if not price >= 0 or price > MAX_PRICE_YUAN:
        raise InvalidRequest(f"price {price}: give the book's price in yuan, e.g. 38.5")
    return int(round(float(price) * 100))


def yuan(amount_fen: int | None) -> str:
    """Fen as yuan text: 1250 -> '12.50'."""
    return "" if amount_fen is None else f"{amount_fen / 100:.2f}"


def overdue_fen(rule: FineRule, days: int) -> int:
    return fen(max(days, 0) * rule.overdue_per_day)


def lost_fen(rule: FineRule, book_fen: int | None) -> int:
    return fen(book_fen / 100 * rule.lost_multiplier) if book_fen else fen(rule.lost_flat)


def damaged_fen(rule: FineRule, book_fen: int | None) -> int:
    return fen(lost_fen(rule, book_fen) / 100 * rule.damaged_fraction)


@dataclass(frozen=True, slots=True)
class Fine:
    """A violation to record: its kind, the amount in fen and a note for staff."""

    kind: str
    amount_fen: int
    note: str


def fine(kind: str, rule: FineRule | None, lender: str, *, days: int = 0, book_fen: int | None = None,
         note: str = "") -> Fine:
    """The fine of a violation under the lender's rule (0, with a note saying so, when it has none)."""
    if rule is None:
        why = f"{lender} has no fine rule in the registry (lending.fines): fine 0"
        return Fine(kind, 0, f"{note}; {why}" if note else why)
    if kind == OVERDUE:
        return Fine(kind, overdue_fen(rule, days), note)
    if kind == LOST:
        return Fine(kind, lost_fen(rule, book_fen), note)
    return Fine(kind, damaged_fen(rule, book_fen), note)
