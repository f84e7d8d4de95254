"""The registry keys the harvest reads: the `oaipmh` endpoint protocol and the per-member `harvest_rate`."""

from __future__ import annotations

import pytest

from indexer.harvest import RateLimiter, harvest_endpoint
from members import DEFAULT_HARVEST_RATE, RegistryError, load_registry

MEMBER = """
[[member]]
code = "THU"
name = "清华大学"
{extra}
[[member.endpoint]]
protocol = "sru"
host = "127.0.0.1"
port = 9901
[[member.endpoint]]
protocol = "z3950"
host = "127.0.0.1"
port = 9901
{oai}
"""
OAI = """[[member.endpoint]]
protocol = "oaipmh"
host = "opac.example.edu.cn"
port = 80
database = "oai"
"""


def registry(tmp_path, extra: str = "", oai: str = ""):
    path = tmp_path / "members.toml"
    path.write_text(MEMBER.format(extra=extra, oai=oai), encoding="utf-8")
    return load_registry(path)


def test_harvest_prefers_oai_pmh_then_z3950_then_sru(tmp_path):
    thu = registry(tmp_path, oai=OAI).get("THU")
    assert harvest_endpoint(thu).protocol == "oaipmh"
    assert harvest_endpoint(thu).address == "http://opac.example.edu.cn:80/oai"
    assert thu.endpoint().protocol == "z3950"  # searches never go to OAI-PMH
    assert harvest_endpoint(registry(tmp_path).get("THU")).protocol == "z3950"


def test_harvest_rate_default_and_checks(tmp_path):
    assert registry(tmp_path).get("THU").harvest_rate == DEFAULT_HARVEST_RATE == 4.0
    assert registry(tmp_path, "harvest_rate = 0.5").get("THU").harvest_rate == 0.5
    assert registry(tmp_path, "harvest_rate = 0").get("THU").harvest_rate == 0
    for bad in ("harvest_rate = -1", 'harvest_rate = "fast"'):
        with pytest.raises(RegistryError, match="member THU, key 'harvest_rate'"):
            registry(tmp_path, bad)


async def test_rate_limiter_spaces_requests():
    import time

    limiter = RateLimiter(20)  # 50 ms apart
    t0 = time.monotonic()
    for _ in range(5):
        await limiter.wait()
    assert time.monotonic() - t0 >= 0.19
    assert RateLimiter(0).interval == RateLimiter(None).interval == 0  # no limit: wait() returns at once
