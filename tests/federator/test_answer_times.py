"""Members' answer times kept between processes: the file, its failures, and a new Federator's first search."""

from __future__ import annotations

import json
import logging

import pytest

from connectors.query import parse
from federator.answer_times import AnswerTimes, default_path
from federator.fanout import MemberStarted
from federator.federation import Federator
from members import Endpoint, Member


def member(code: str, port: int) -> Member:
    return Member(code=code, name=code, name_en=code, endpoints=(Endpoint("z3950", "127.0.0.1", port),))


THU, PKU, RUC = member("THU", 2101), member("PKU", 2102), member("RUC", 2103)


def test_times_learnt_in_one_process_are_read_by_the_next(tmp_path):
    path = tmp_path / "times.json"
    times = AnswerTimes(path)
    times.load([THU, PKU])
    times.learn("THU", THU.endpoints[0].address, 400)
    times.learn("THU", THU.endpoints[0].address, 100)  # weighted: 0.3 × 100 + 0.7 × 400
    times.learn("PKU", PKU.endpoints[0].address, 20)
    assert times.save(force=True)
    again = AnswerTimes(path)
    again.load([THU, PKU, RUC])
    assert again.ms == {"THU": 310.0, "PKU": 20.0}
    assert json.loads(path.read_text())["members"]["PKU"] == {"endpoint": "tcp:127.0.0.1:2102/Default", "ms": 20.0}


def test_a_member_that_moved_starts_from_nothing_and_others_entries_are_kept(tmp_path):
    path = tmp_path / "times.json"
    first = AnswerTimes(path)
    first.load([THU, PKU, RUC])
    for m, ms in ((THU, 50), (PKU, 60), (RUC, 70)):
        first.learn(m.code, m.endpoints[0].address, ms)
    first.save(force=True)
    moved = member("THU", 3101)  # the test bed rebuilt on other ports, or the member's OPAC moved
    second = AnswerTimes(path)
    second.load([moved, PKU])  # a process that asks only these two (balis search --members THU,PKU)
    assert second.ms == {"PKU": 60.0}
    second.learn("THU", moved.endpoints[0].address, 900)
    second.save(force=True)
    entries = json.loads(path.read_text())["members"]
    assert entries["THU"] == {"endpoint": "tcp:127.0.0.1:3101/Default", "ms": 900.0}
    assert entries["RUC"] == {"endpoint": "tcp:127.0.0.1:2103/Default", "ms": 70.0}  # not asked here: kept


@pytest.mark.parametrize("text", ["{not json", '{"version": 9, "members": {}}', "[1, 2]", "\xff\xfe garbage"])
def test_a_corrupt_file_means_nothing_known_with_a_warning_and_is_rewritten(tmp_path, caplog, text):
    path = tmp_path / "times.json"
    path.write_text(text, encoding="latin-1")
    times = AnswerTimes(path)
    with caplog.at_level(logging.WARNING, logger="federator.answer_times"):
        times.load([THU])
    assert times.ms == {}
    assert str(path) in caplog.text and "starting without them" in caplog.text
    times.learn("THU", THU.endpoints[0].address, 42)
    assert times.save(force=True)
    assert json.loads(path.read_text())["members"]["THU"]["ms"] == 42.0


def test_bad_entries_are_skipped_one_by_one(tmp_path, caplog):
    path = tmp_path / "times.json"
    path.write_text(json.dumps({"version": 1, "members": {
        "THU": {"endpoint": "tcp:127.0.0.1:2101/Default", "ms": "fast"},
        "PKU": {"endpoint": "tcp:127.0.0.1:2102/Default", "ms": -5},
        "RUC": {"endpoint": "tcp:127.0.0.1:2103/Default", "ms": 33}}}))
    times = AnswerTimes(path)
    with caplog.at_level(logging.WARNING, logger="federator.answer_times"):
        times.load([THU, PKU, RUC])
    assert times.ms == {"RUC": 33.0}
    assert "'THU'" in caplog.text and "'PKU'" in caplog.text


def test_a_file_that_cannot_be_written_is_reported_once_and_searches_go_on(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    times = AnswerTimes(blocker / "times.json")
    times.load([THU])
    with caplog.at_level(logging.WARNING, logger="federator.answer_times"):
        times.learn("THU", THU.endpoints[0].address, 10)
        assert times.save(force=True) is False
        times.learn("THU", THU.endpoints[0].address, 20)
        assert times.save(force=True) is False
    assert caplog.text.count("not saved") == 1 and "BALIS_ANSWER_TIMES" in caplog.text
    assert times.ms["THU"] == pytest.approx(13.0)  # still used in this process


def test_a_long_lived_process_writes_at_most_every_save_every_seconds(tmp_path):
    now = [100.0]
    path = tmp_path / "times.json"
    times = AnswerTimes(path, save_every=30.0, clock=lambda: now[0])
    assert times.save() is False  # nothing learnt: nothing written
    times.learn("THU", THU.endpoints[0].address, 10)
    assert times.save() is True
    times.learn("THU", THU.endpoints[0].address, 20)
    now[0] += 10
    assert times.save() is False  # written 10 s ago
    now[0] += 25
    assert times.save() is True
    assert times.save(force=True) is False  # nothing new since


def test_without_a_path_nothing_is_read_or_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    times = AnswerTimes(None)
    times.load([THU])
    times.learn("THU", THU.endpoints[0].address, 10)
    assert times.save(force=True) is False and list(tmp_path.iterdir()) == []


def test_the_default_file_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("BALIS_ANSWER_TIMES", str(tmp_path / "t.json"))
    assert default_path() == tmp_path / "t.json"
    monkeypatch.delenv("BALIS_ANSWER_TIMES")
    assert default_path().parts[-2:] == ("var", "answer-times.json")


@pytest.mark.integration
async def test_a_new_federator_asks_fastest_and_slowest_first_from_its_first_search(bed, registry, tmp_path):
    members = ["THU", "PKU", "RUC", "BUPT"]
    for code, ms in (("THU", 1200), ("PKU", 0), ("RUC", 600), ("BUPT", 300)):
        bed.set_fault(code, latency_ms=ms)
    path = tmp_path / "times.json"
    async with Federator(registry, cache_ttl=0, answer_times=path) as fed:
        first = [e.member async for e in fed.stream(parse("中国"), members, per_member=1)
                 if isinstance(e, MemberStarted)]
    assert first == members  # nothing known yet: the registry's order
    kept = {code: entry["ms"] for code, entry in json.loads(path.read_text())["members"].items()}
    assert set(kept) == set(members)
    async with Federator(registry, cache_ttl=0, answer_times=path) as restarted:  # a new process, in effect
        again = [e.member async for e in restarted.stream(parse("研究"), members, per_member=1)
                 if isinstance(e, MemberStarted)]
    by_time = sorted(members, key=kept.get)  # as measured: a stall on this busy machine may swap neighbours
    assert again == [by_time[0], by_time[3], by_time[1], by_time[2]]  # fastest, slowest, then inwards
    assert again[:2] == ["PKU", "THU"]  # each twice the latency of its neighbour
