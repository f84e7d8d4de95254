"""The Federator against the real test bed: breakers, cache, deadline, faults, paging, merged view, concurrency."""

from __future__ import annotations

import pytest

from connectors.query import parse
from federator.fanout import (
    CIRCUIT_OPEN,
    DEADLINE,
    EXHAUSTED,
    MemberFailed,
    MemberFinished,
    MemberStarted,
    MergedViewUpdated,
    RecordsArrived,
    fan_out,
)
from federator.federation import Federator

pytestmark = pytest.mark.integration

QUERY = parse("中国")


def by_code(result) -> dict:
    return {o.code: o for o in result.outcomes}


async def test_every_member_answers_once_with_merged_editions(registry):
    async with Federator(registry) as fed:
        result = await fed.run(QUERY, per_member=5)
    assert [o.code for o in result.outcomes] == [m.code for m in registry]
    assert all(o.status == "ok" and o.records for o in result.outcomes), [(o.code, o.error) for o in result.outcomes]
    merged = [r for w in result.works for r in w.records]
    assert sorted(f"{r.member}:{r.record_id}" for r in merged) == \
        sorted(f"{r.member}:{r.record_id}" for r in result.records)
    assert len(result.works) <= len(result.records)


async def test_breaker_opens_after_repeated_failures_skips_then_probes_after_cool_down(bed, registry, clock):
    members = ["THU", "RUC"]
    async with Federator(registry, breaker_threshold=3, breaker_cooldown=60, clock=clock, cache_ttl=0) as fed:
        bed.set_fault("RUC", mode="refuse")
        for _ in range(3):
            outcomes = by_code(await fed.run(QUERY, members, per_member=1))
            assert outcomes["RUC"].status == "error" and outcomes["THU"].status == "ok"
        asked = fed.asked
        result = await fed.run(QUERY, members, per_member=1)
        ruc = by_code(result)["RUC"]
        assert ruc.status == "skipped" and ruc.reason == CIRCUIT_OPEN
        assert "连续失败 3 次，暂停询问至" in ruc.error and "(circuit open)" in ruc.error
        assert result.not_asked == [ruc]
        assert fed.asked == asked + 1  # only THU was asked

        clock.advance(61)  # cool-down over: the next search probes RUC, which still fails
        ruc = by_code(await fed.run(QUERY, members, per_member=1))["RUC"]
        assert ruc.status == "error"
        assert by_code(await fed.run(QUERY, members, per_member=1))["RUC"].reason == CIRCUIT_OPEN

        bed.clear_faults()
        clock.advance(61)  # probe again: RUC is back, so the breaker closes
        assert by_code(await fed.run(QUERY, members, per_member=1))["RUC"].status == "ok"
        assert fed.breakers.state("RUC") == "closed"
        assert by_code(await fed.run(QUERY, members, per_member=1))["RUC"].status == "ok"


async def test_repeated_query_is_answered_from_the_cache_without_asking(bed, registry, clock):
    members = ["THU", "PKU", "BUPT"]
    async with Federator(registry, cache_ttl=120, clock=clock) as fed:
        first = await fed.run(QUERY, members, per_member=3)
        assert all(o.status == "ok" and not o.cached for o in first.outcomes)
        asked = fed.asked
        for code in members:  # were they asked, these would now fail
            bed.set_fault(code, mode="refuse")
        again = await fed.run(parse(" 中国 "), members, per_member=3)
        assert fed.asked == asked
        for a, b in zip(first.outcomes, again.outcomes, strict=True):
            assert b.status == "ok" and b.cached and b.ms == 0
            assert b.hits == a.hits and [r.record_id for r in b.records] == [r.record_id for r in a.records]
        assert [w.work_id for w in again.works] == [w.work_id for w in first.works]
        # another query, or another page size, is not in the cache: THU is asked (over the connection
        # kept from the first search, which the fault set since does not touch)
        other = await fed.run(parse("报告"), ["THU"], per_member=3)
        assert not other.outcomes[0].cached and fed.asked == asked + 1
        await fed.close()  # drop the kept connections: a new one meets the fault
        other = await fed.run(parse("报告"), ["THU"], per_member=2)
        assert other.outcomes[0].status == "error" and not other.outcomes[0].cached
        clock.advance(121)  # expired: asked again
        late = await fed.run(QUERY, ["THU"], per_member=3)
        assert late.outcomes[0].status == "error" and fed.asked == asked + 3


async def test_failures_are_not_cached(bed, registry, clock):
    async with Federator(registry, clock=clock) as fed:
        bed.set_fault("BNU", mode="refuse")
        assert (await fed.run(QUERY, ["BNU"], per_member=2)).outcomes[0].status == "error"
        bed.clear_faults()
        o = (await fed.run(QUERY, ["BNU"], per_member=2)).outcomes[0]
        assert o.status == "ok" and not o.cached


async def test_overall_deadline_cuts_a_slow_member_and_keeps_the_rest(bed, registry):
    bed.set_fault("BUAA", latency_ms=30_000)
    async with Federator(registry) as fed:
        events = [e async for e in fed.stream(QUERY, per_member=2, timeout=60, deadline=4)]
    outcomes = {e.outcome.code: e.outcome for e in events if isinstance(e, (MemberFinished, MemberFailed))}
    assert set(outcomes) == {m.code for m in registry}
    buaa = outcomes["BUAA"]
    assert buaa.status == "timeout" and buaa.reason == DEADLINE and "overall deadline of 4 s" in buaa.error
    assert not buaa.records
    for code, o in outcomes.items():
        if code != "BUAA":
            assert o.status == "ok" and o.records, (code, o.error)
    assert events[-1] == MemberFailed(buaa)  # the deadline outcome ends the stream
    # a deadline cut says nothing about the member's health: its breaker holds no failure
    assert fed.breakers.snapshot().get("BUAA", {}).get("failures", 0) == 0


async def test_member_dropping_mid_search_leaves_the_others_intact(bed, registry):
    bed.set_fault("NCEPU", mode="drop")
    async with Federator(registry) as fed:
        result = await fed.run(QUERY, per_member=3)
        outcomes = by_code(result)
        assert outcomes["NCEPU"].status == "error" and outcomes["NCEPU"].error
        assert "NCEPU" not in {r.member for r in result.records}
        others = [o for o in result.outcomes if o.code != "NCEPU"]
        assert all(o.status == "ok" and o.records for o in others)
        assert {w_member for w in result.works for w_member in w.members} == {o.code for o in others}
        assert fed.breakers.snapshot()["NCEPU"]["failures"] == 1


async def test_page_two_asks_only_members_with_more_hits(bed, registry):
    codes = [m.code for m in registry]
    async with Federator(registry, cache_ttl=0) as fed:
        hits = {o.code: o.hits for o in (await fed.run(QUERY, per_member=1)).outcomes}
    assert all(h for h in hits.values()), hits
    counts = sorted(set(hits.values()))
    assert len(counts) >= 2, f"the test bed should give members different hit counts: {hits}"
    cap = counts[len(counts) // 2 - 1]  # some members have at most `cap` hits, the others more
    exhausted = {c for c in codes if hits[c] <= cap}
    assert exhausted and exhausted != set(codes)
    async with Federator(registry) as fed:
        page1 = await fed.run(QUERY, per_member=cap)
        assert page1.has_more
        for code in exhausted:  # were they asked on page 2, they would now fail
            bed.set_fault(code, mode="refuse")
        asked = fed.asked
        page2 = await fed.run(QUERY, per_member=cap, page=2)
        assert fed.asked == asked + len(codes) - len(exhausted)
        one, two = by_code(page1), by_code(page2)
        for code in codes:
            if code in exhausted:
                assert two[code].status == "skipped" and two[code].reason == EXHAUSTED, two[code]
                assert str(hits[code]) in two[code].error
            else:
                o = two[code]
                assert o.status == "ok" and not o.cached and o.start == cap + 1
                assert len(o.records) == min(cap, hits[code] - cap)
                assert not {r.record_id for r in o.records} & {r.record_id for r in one[code].records}


def record_ids(works) -> list[str]:
    return sorted(f"{r.member}:{r.record_id}" for w in works for r in w.records)


async def test_merged_views_are_coalesced_and_the_last_equals_merging_everything(registry):
    from dedup import merge

    async with Federator(registry, merge_interval=60) as fed:  # nothing between the first and last view
        events = [e async for e in fed.stream(QUERY, per_member=4)]
        result = await fed.run(QUERY, per_member=4)  # from the cache: the same events, assembled
    arrived = [i for i, e in enumerate(events) if isinstance(e, RecordsArrived)]
    views = [i for i, e in enumerate(events) if isinstance(e, MergedViewUpdated)]
    assert len(arrived) == len(registry) and all(events[i].records for i in arrived)
    # at most two views: the first merges the first records as they come (unless every member answered
    # before that merge was done: then only the last is shown), the last ends the stream
    assert len(views) in (1, 2) and arrived[0] < views[0] and views[-1] == len(events) - 1 > arrived[-1], views
    first, last = events[views[0]], events[views[-1]]
    if len(views) == 2:
        assert first.members == (events[arrived[0]].member,)
        assert record_ids(first.works) == sorted(f"{r.member}:{r.record_id}" for r in events[arrived[0]].records)
    # the last view is exactly what merging every record (in the members' order) gives
    by_member = {events[i].member: events[i].records for i in arrived}
    everything = merge([r for m in registry for r in by_member[m.code]])
    assert [w.work_id for w in last.works] == [w.work_id for w in everything]
    assert [[f"{r.member}:{r.record_id}" for r in w.records] for w in last.works] == \
        [[f"{r.member}:{r.record_id}" for r in w.records] for w in everything]
    assert sorted(last.members) == sorted(m.code for m in registry)
    # the cached replay merges once and gives the same works
    assert [w.work_id for w in result.works] == [w.work_id for w in last.works]
    assert [w.display.title for w in result.works] == [w.display.title for w in last.works]


async def test_merged_views_grow_and_never_miss_records(bed, registry):
    bed.set_fault("RUC", latency_ms=400)
    bed.set_fault("BUAA", latency_ms=900)
    async with Federator(registry, merge_interval=0, cache_ttl=0) as fed:
        events = [e async for e in fed.stream(QUERY, per_member=4)]
    arrived: list[str] = []
    seen = None
    for e in events:
        if isinstance(e, RecordsArrived):
            arrived.extend(f"{r.member}:{r.record_id}" for r in e.records)
        elif isinstance(e, MergedViewUpdated):
            ids = record_ids(e.works)
            assert set(ids) <= set(arrived)  # a view holds only records that arrived, each once
            assert len(ids) == len(set(ids))
            assert seen is None or set(seen) <= set(ids)  # and every record of the view before it
            seen = ids
    assert seen == sorted(arrived)
    last_arrival = max(i for i, e in enumerate(events) if isinstance(e, RecordsArrived))
    assert any(isinstance(e, MergedViewUpdated) for e in events[last_arrival:])


async def test_a_pending_view_is_not_held_back_by_a_slow_member(bed, registry):
    bed.set_fault("BUAA", latency_ms=1500)  # three answers (init, search, present): 4.5 s
    async with Federator(registry, merge_interval=0.3, cache_ttl=0) as fed:
        events = [e async for e in fed.stream(QUERY, per_member=4)]
    slow = next(i for i, e in enumerate(events) if isinstance(e, RecordsArrived) and e.member == "BUAA")
    before = [e for e in events[:slow] if isinstance(e, MergedViewUpdated)]
    others = {m.code for m in registry} - {"BUAA"}
    # every other member's records were shown before BUAA answered, by a view the timer emitted
    assert before and set(before[-1].members) == others
    assert "BUAA" in next(e for e in events[slow:] if isinstance(e, MergedViewUpdated)).members


async def test_concurrency_bounds_the_members_in_flight(bed, registry):
    for m in registry:
        bed.set_fault(m.code, latency_ms=300)
    async with Federator(registry, concurrency=2, cache_ttl=0) as fed:
        in_flight = peak = 0
        finished = set()
        async for e in fed.stream(QUERY, per_member=1):
            if isinstance(e, MemberStarted):
                in_flight += 1
                peak = max(peak, in_flight)
            elif isinstance(e, MemberFinished | MemberFailed):
                in_flight -= 1
                finished.add(e.outcome.code)
                assert e.outcome.status == "ok", e.outcome.error
    assert peak == 2 and finished == {m.code for m in registry}


async def test_suspended_and_unknown_members_are_told_not_dropped(registry):
    from dataclasses import replace

    members = [replace(registry.get("PKU"), status="suspended", suspended_reason="系统迁移"), registry.get("THU")]
    async with Federator(members) as fed:
        result = await fed.run(QUERY, per_member=1)
        with pytest.raises(KeyError, match="NOPE"):
            await fed.run(QUERY, ["NOPE"])
    pku = by_code(result)["PKU"]
    assert pku.status == "skipped" and pku.reason == "suspended" and "系统迁移" in pku.error
    assert by_code(result)["THU"].status == "ok"


async def test_fan_out_keeps_working_and_honours_a_deadline(bed, registry):
    bed.set_fault("USTB", latency_ms=30_000)
    members = [registry.get(c) for c in ("THU", "USTB")]
    events = [e async for e in fan_out(members, QUERY, max_records=1, timeout=60, deadline=3)]
    outcomes = {e.outcome.code: e.outcome for e in events if isinstance(e, (MemberFinished, MemberFailed))}
    assert outcomes["THU"].status == "ok" and outcomes["USTB"].reason == DEADLINE
    assert not any(isinstance(e, MergedViewUpdated) for e in events)


async def test_a_reader_leaving_mid_search_frees_the_probe_and_the_members(bed, registry, clock):
    async with Federator(registry, breaker_threshold=1, breaker_cooldown=10, clock=clock, cache_ttl=0) as fed:
        bed.set_fault("BUPT", mode="refuse")
        assert (await fed.run(QUERY, ["BUPT"], per_member=1)).outcomes[0].status == "error"
        assert fed.breakers.state("BUPT") == "open"
        clock.advance(11)
        bed.set_fault("BUPT", latency_ms=30_000)
        stream = fed.stream(QUERY, ["BUPT", "THU"], per_member=1, timeout=60)
        async for event in stream:
            if isinstance(event, MemberStarted) and event.member == "BUPT":
                break  # the reader closed the page while BUPT is being probed
        await stream.aclose()
        assert fed.breakers.check("BUPT") is None  # the probe is free again, not stuck "in flight"


async def test_a_reader_leaving_during_a_replayed_answer_frees_a_claimed_probe(bed, registry, clock):
    """THU's probe is claimed, then BUPT's cached answer is replayed: a reader who leaves right then
    must not leave THU's probe taken (else THU would never be asked again)."""
    async with Federator(registry, breaker_threshold=1, breaker_cooldown=10, clock=clock, cache_ttl=600) as fed:
        assert (await fed.run(QUERY, ["BUPT"], per_member=1)).outcomes[0].status == "ok"  # now cached
        bed.set_fault("THU", mode="refuse")
        assert (await fed.run(QUERY, ["THU"], per_member=1)).outcomes[0].status == "error"
        clock.advance(11)
        bed.set_fault("THU")
        assert fed.breakers.state("THU") == "half-open"
        stream = fed.stream(QUERY, ["THU", "BUPT"], per_member=1)
        async for event in stream:
            if isinstance(event, MemberStarted) and event.member == "BUPT":
                assert event.cached
                break  # the reader left while BUPT's answer was being replayed
        await stream.aclose()
        assert fed.breakers.check("THU") is None  # free to probe, not stuck "in flight"


async def test_a_member_answering_without_records_makes_no_empty_first_view():
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from federator.federation import _MergedView
    from records.model import Record

    woke = asyncio.Event()
    with ThreadPoolExecutor(1) as cpu:
        view = _MergedView(["A", "B"], 0.0, cpu, woke.set)
        view.add("A", [])  # the fastest member found nothing
        assert view.step() is None and view.running is None and not view.dirty
        view.add("B", [Record(member="B", record_id="b1", syntax="marc21", title="数据结构")])
        first = view.step()  # the first view, merged at once on the loop (a small first page)
        assert view.running is None and not view.dirty and not woke.is_set()
    assert first.members == ("B",) and [r.record_id for w in first.works for r in w.records] == ["b1"]


async def test_a_large_first_batch_is_merged_on_the_thread_not_the_loop():
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from federator.federation import FIRST_MERGE_INLINE, _MergedView
    from records.model import Record

    woke = asyncio.Event()
    records = [Record(member="A", record_id=f"a{i}", syntax="marc21", title=f"书名 {i}")
               for i in range(FIRST_MERGE_INLINE + 1)]
    with ThreadPoolExecutor(1) as cpu:
        view = _MergedView(["A"], 0.0, cpu, woke.set)
        view.add("A", records)
        assert view.step() is None and view.running is not None  # started on the thread
        await asyncio.wait_for(woke.wait(), 30)
        first = view.step()
    assert sorted(r.record_id for w in first.works for r in w.records) == sorted(r.record_id for r in records)


async def test_members_seen_answering_are_asked_fastest_and_slowest_first(bed, registry):
    members = ["THU", "PKU", "RUC", "BUPT"]
    for code, ms in (("THU", 1200), ("PKU", 0), ("RUC", 600), ("BUPT", 300)):
        bed.set_fault(code, latency_ms=ms)
    async with Federator(registry, cache_ttl=0) as fed:
        first = [e.member async for e in fed.stream(QUERY, members, per_member=1) if isinstance(e, MemberStarted)]
        assert first == members  # nothing known yet: the registry's order
        assert set(fed.answer_ms) == set(members)
        by_time = sorted(members, key=fed.answer_ms.get)  # as measured: a stall may swap two neighbours
        again = [e.member async for e in fed.stream(parse("研究"), members, per_member=1)
                 if isinstance(e, MemberStarted)]
    assert again == [by_time[0], by_time[3], by_time[1], by_time[2]]  # fastest, slowest, then inwards
    assert again[:2] == ["PKU", "THU"]  # each twice the latency of its neighbour
