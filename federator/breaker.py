"""Circuit breakers: stop asking a member that keeps failing, and probe it again after a cool-down.

Per member: closed (ask) → after `threshold` consecutive failures, open (skip, with the time it reopens)
→ after `cooldown` seconds, half-open (one search may probe it; others skip) → closed on success, open
again on failure. The clock is injectable (seconds since the epoch) so tests need not wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


@dataclass(slots=True)
class BreakerState:
    """One member's breaker: its consecutive failures, state, and when an open breaker may be probed."""

    failures: int = 0
    state: str = CLOSED
    open_until: float = 0.0
    probing: bool = False


class Breakers:
    """The circuit breakers of every member, keyed by member code (long-lived, one per Federator)."""

    def __init__(self, threshold: int = 3, cooldown: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        if threshold < 1:
            raise ValueError(f"breaker threshold must be at least 1, not {threshold}")
        if cooldown <= 0:
            raise ValueError(f"breaker cool-down must be positive seconds, not {cooldown}")
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self._members: dict[str, BreakerState] = {}

    def _get(self, code: str) -> BreakerState:
        return self._members.setdefault(code, BreakerState())

    def state(self, code: str) -> str:
        """closed, open or half-open (an open breaker whose cool-down is over reads as half-open)."""
        b = self._get(code)
        if b.state == OPEN and self.clock() >= b.open_until:
            return HALF_OPEN
        return b.state

    def check(self, code: str) -> str | None:
        """None if the member may be asked now (claiming the probe when half-open), else why not."""
        b = self._get(code)
        if b.state == OPEN:
            if self.clock() < b.open_until:
                until = datetime.fromtimestamp(b.open_until).strftime("%H:%M:%S")
                return f"连续失败 {b.failures} 次，暂停询问至 {until} (circuit open)"
            b.state = HALF_OPEN
        if b.state == HALF_OPEN:
            if b.probing:
                return f"连续失败 {b.failures} 次，正在试探 (circuit half-open: another search is probing it)"
            b.probing = True
        return None

    def success(self, code: str) -> None:
        """The member answered: close its breaker."""
        b = self._get(code)
        b.failures, b.state, b.probing = 0, CLOSED, False

    def failure(self, code: str) -> None:
        """The member failed: count it, and open the breaker at the threshold or when a probe failed."""
        b = self._get(code)
        b.failures += 1
        if b.state == HALF_OPEN or b.failures >= self.threshold:
            b.state, b.open_until = OPEN, self.clock() + self.cooldown
        b.probing = False

    def release(self, code: str) -> None:
        """The search asking the member ended without a verdict (deadline, cancelled): free the probe."""
        self._get(code).probing = False

    def snapshot(self) -> dict[str, dict]:
        """Per member with any history: state, consecutive failures, and when an open breaker reopens."""
        out = {}
        for code, b in self._members.items():
            out[code] = {"state": self.state(code), "failures": b.failures,
                         "open_until": b.open_until if b.state == OPEN else None}
        return out
