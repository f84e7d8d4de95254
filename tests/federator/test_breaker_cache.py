"""Circuit breakers and the answer cache on their own, driven by a fake clock (pure, no sockets)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from connectors.query import parse
from federator.breaker import CLOSED, HALF_OPEN, OPEN, Breakers
from federator.cache import TTLCache, query_key
from tests.federator.conftest import FakeClock


def test_breaker_opens_at_the_threshold_and_says_until_when():
    clock = FakeClock()
    b = Breakers(threshold=3, cooldown=60, clock=clock)
    for _ in range(2):
        assert b.check("RUC") is None
        b.failure("RUC")
    assert b.state("RUC") == CLOSED and b.check("RUC") is None
    b.failure("RUC")
    assert b.state("RUC") == OPEN
    why = b.check("RUC")
    until = datetime.fromtimestamp(clock.now + 60).strftime("%H:%M:%S")
    assert why == f"连续失败 3 次，暂停询问至 {until} (circuit open)"
    assert re.search(r"\d\d:\d\d:\d\d", why)
    assert b.check("THU") is None  # other members are not affected


def test_a_success_resets_the_count():
    b = Breakers(threshold=3, cooldown=60, clock=FakeClock())
    b.failure("RUC")
    b.failure("RUC")
    b.success("RUC")
    b.failure("RUC")
    b.failure("RUC")
    assert b.state("RUC") == CLOSED


def test_half_open_lets_one_probe_through_then_closes_or_reopens():
    clock = FakeClock()
    b = Breakers(threshold=2, cooldown=30, clock=clock)
    b.failure("BNU")
    b.failure("BNU")
    clock.advance(29)
    assert b.check("BNU") is not None
    clock.advance(2)
    assert b.state("BNU") == HALF_OPEN
    assert b.check("BNU") is None  # the probe
    assert "probing" in b.check("BNU")  # a second search at the same time does not pile on
    b.failure("BNU")  # the probe failed: open again for a full cool-down
    assert b.state("BNU") == OPEN and "circuit open" in b.check("BNU")
    clock.advance(31)
    assert b.check("BNU") is None
    b.release("BNU")  # the probing search ended without a verdict: another may probe
    assert b.check("BNU") is None
    b.success("BNU")
    assert b.state("BNU") == CLOSED and b.check("BNU") is None and b.check("BNU") is None
    assert b.snapshot()["BNU"] == {"state": CLOSED, "failures": 0, "open_until": None}


@pytest.mark.parametrize("threshold, cooldown", [(0, 10), (3, 0)])
def test_breaker_refuses_nonsense_settings(threshold, cooldown):
    with pytest.raises(ValueError):
        Breakers(threshold, cooldown)


def test_cache_entries_expire_after_the_ttl():
    clock = FakeClock()
    c = TTLCache(ttl=10, clock=clock)
    c.put("k", 1)
    clock.advance(9.9)
    assert c.get("k") == 1
    clock.advance(0.2)
    assert c.get("k") is None and len(c) == 0


def test_cache_drops_the_least_recently_used_beyond_its_size():
    c = TTLCache(ttl=100, max_entries=2, clock=FakeClock())
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1  # a is now the most recent
    c.put("c", 3)
    assert c.get("b") is None and c.get("a") == 1 and c.get("c") == 3


def test_cache_with_zero_ttl_keeps_nothing():
    c = TTLCache(ttl=0, clock=FakeClock())
    c.put("a", 1)
    assert c.get("a") is None


def test_query_key_is_the_same_for_the_same_query_written_differently():
    assert query_key(parse("中国  AND 报告")) == query_key(parse("中国 and 报告"))
    assert query_key(parse("History")) == query_key(parse("history"))
    assert query_key(parse("ｈｉｓｔｏｒｙ")) == query_key(parse("history"))  # full-width folds
    assert query_key(parse("中国")) != query_key(parse("报告"))
    assert query_key(parse("ti:中国")) != query_key(parse("au:中国"))
