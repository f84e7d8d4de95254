"""The order members are asked in: the expected first and last answers go out first."""

from __future__ import annotations

from federator.fanout import Ask, asking_order
from members import Endpoint, Member


def asks(*codes: str) -> list[Ask]:
    endpoint = Endpoint("z3950", "127.0.0.1", 210, "db")
    return [Ask(Member(code=c, name=c, name_en=c, endpoints=(endpoint,)), endpoint) for c in codes]


def codes(ordered: list[Ask]) -> list[str]:
    return [a.member.code for a in ordered]


def test_nothing_known_keeps_the_given_order():
    assert codes(asking_order(asks("A", "B", "C", "D"), {})) == ["A", "B", "C", "D"]
    assert codes(asking_order(asks("A", "B"), {"X": 5.0})) == ["A", "B"]  # only other members known


def test_fastest_and_slowest_first_then_inwards():
    expected = {"A": 900.0, "B": 20.0, "C": 2000.0, "D": 300.0, "E": 50.0}
    assert codes(asking_order(asks("A", "B", "C", "D", "E"), expected)) == ["B", "C", "E", "A", "D"]


def test_members_not_known_count_as_the_median_and_keep_their_order():
    expected = {"A": 10.0, "B": 100.0, "C": 1000.0}
    # D and E are put at B's 100 ms, after B (stable): by time A, B, D, E, C
    assert codes(asking_order(asks("A", "B", "C", "D", "E"), expected)) == ["A", "C", "B", "E", "D"]


def test_every_member_is_asked_exactly_once():
    given = asks(*"ABCDEFG")
    ordered = asking_order(given, {c: float(i * 37 % 11) for i, c in enumerate("ABCDEFG")})
    assert sorted(codes(ordered)) == list("ABCDEFG")
    assert codes(asking_order(asks("A"), {"A": 1.0})) == ["A"]
