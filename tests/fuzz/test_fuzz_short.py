"""A short seeded fuzzing run of each target (benchmarks/fuzz.py; 100,000 inputs each there): real seeds
mutated for a few seconds, and only the module's own errors may come out, each input within its bound."""

from __future__ import annotations

import pytest

from benchmarks import fuzz

SECONDS = 3.0


@pytest.mark.parametrize("name", list(fuzz.MODULES))
def test_only_the_modules_own_errors_come_out(name):
    target = fuzz.targets()[name]
    tally = fuzz.run_mutation(target, 100_000, seed=1, seconds=SECONDS)
    assert tally.crashes == {}, "\n".join(f"{k}: {c.message} — input {c.data[:200]!r}"
                                          for k, c in tally.crashes.items())
    assert tally.slow == []
    # the run reached both sides: inputs the module read and inputs it refused with its own error
    assert tally.inputs > 150
    assert 0 < tally.allowed_errors < tally.inputs


def test_a_crash_is_counted_once_per_place_and_keeps_its_input():
    def broken(data: bytes) -> None:
        if data.startswith(b"x"):
            raise KeyError(data)
        raise ValueError("refused")

    target = fuzz.Target("broken", broken, (ValueError,), lambda: [b"x1", b"y"])
    tally = fuzz.Tally("broken")
    for data in (b"x1", b"y", b"x2", b"z"):
        fuzz.check(target, data, tally)
    assert tally.inputs == 4 and tally.allowed_errors == 2
    assert [(c.kind, c.data) for c in tally.crashes.values()] == [("KeyError", b"x1")]
