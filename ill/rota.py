"""The lenders a request is sent to, in order: one typed value (`Lender`), converted at the edges.

The command line and the desk give member codes; lender routing gives its ranked entries
(`routing.RotaEntry`); the store keeps each lender as a plain row {member, reason, record_id, holding, days}.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ill.errors import InvalidRequest


class RankedLender(Protocol):
    """What the store reads of a routing result's lender entry (`routing.RotaEntry`)."""

    member: str
    reasons: Sequence[str]
    copies: Sequence
    mean_days: float


@dataclass(frozen=True, slots=True)
class Lender:
    """One lender of a rota: the member's code, why it was chosen, and the copy it was chosen for."""

    member: str
    reason: str = ""
    record_id: str | None = None
    holding: str | None = None
    days: float | None = None  # routing's estimate of its days to supply (ill.needby reads it)

    @classmethod
    def ranked(cls, entry: RankedLender) -> Lender:
        """A lender as routing ranked it: its reasons, and the call number of its first lendable copy."""
        copy = entry.copies[0] if entry.copies else None
        days = getattr(entry, "mean_days", None)
        return cls(entry.member, "; ".join(entry.reasons), holding=getattr(copy, "call_number", None) or None,
                   days=round(float(days), 2) if isinstance(days, (int, float)) else None)

    def row(self) -> dict:
        return {"member": self.member, "reason": self.reason, "record_id": self.record_id, "holding": self.holding,
                "days": self.days}


def lenders(rota: Iterable[str | Lender] | None) -> list[Lender]:
    """A rota as Lender values: member codes (the command line, the desk's form) or Lender values."""
    out = []
    for entry in rota or ():
        if isinstance(entry, str):
            out.append(Lender(entry))
        elif isinstance(entry, Lender):
            out.append(entry)
        else:
            raise TypeError(f"a rota entry is a member code or an ill.rota.Lender, not {type(entry).__name__}")
    return out


def normalise_rota(rota: Iterable[Lender]) -> list[dict]:
    """The rota as the store keeps it: codes upper-case, each member once, in the order given."""
    out: list[dict] = []
    seen: set[str] = set()
    for lender in rota:
        code = (lender.member or "").strip().upper()
        if not code:
            raise InvalidRequest(f"rota entry {lender!r} names no member; give member codes, e.g. --rota PKU,THU")
        if code not in seen:
            seen.add(code)
            out.append({**lender.row(), "member": code})
    return out
