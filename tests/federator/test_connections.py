"""A Federator keeps members' connections open between searches and reopens one the member dropped."""

from __future__ import annotations

import pytest

from connectors.query import parse
from federator.federation import Federator
from members import load_registry

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def small_bed(tmp_path_factory):
    """A test bed of its own (2 members), so restarting it does not disturb the shared one."""
    from testbed.bed import Testbed

    with Testbed(tmp_path_factory.mktemp("restart-bed"), seed=424242).running(members=2, records=40) as bed:
        yield bed


def kept(fed: Federator, member):
    return fed.pool.idle(member.target("z3950"))


async def test_two_searches_share_one_association(registry):
    thu = registry.get("THU")
    async with Federator([thu], cache_ttl=0) as fed:
        first = await fed.run(parse("中国"), protocol="z3950", per_member=3)
        [connector] = kept(fed, thu)
        second = await fed.run(parse("报告"), protocol="z3950", per_member=3)
        assert first.outcomes[0].status == "ok" and second.outcomes[0].status == "ok"
        assert second.outcomes[0].hits != first.outcomes[0].hits or \
            [r.record_id for r in second.records] != [r.record_id for r in first.records]
        assert kept(fed, thu) == [connector]  # the same connector served the second search
        assert connector.connection.generation == 1  # the member saw one Init for both searches
        assert (fed.pool.opened, fed.pool.reused) == (1, 1)
    assert kept(fed, thu) == [] and not connector.connection.is_open  # close() closed it


async def test_a_repeated_first_page_searches_again_and_a_next_page_presents(registry):
    thu = registry.get("THU")
    query = parse("中国")
    async with Federator([thu], cache_ttl=0) as fed:
        one = await fed.run(query, protocol="z3950", per_member=2)
        [connector] = kept(fed, thu)
        rs = connector._result_set
        again = await fed.run(query, protocol="z3950", per_member=2)
        assert connector._result_set is not rs  # a first page is searched anew, not served from old results
        assert [r.record_id for r in again.records] == [r.record_id for r in one.records]
        rs = connector._result_set
        two = await fed.run(query, protocol="z3950", per_member=2, page=2)
        assert connector._result_set is rs  # page 2 presents from the result set page 1 made
        assert two.outcomes[0].start == 3 and not {r.record_id for r in two.records} & \
            {r.record_id for r in one.records}
        assert connector.connection.generation == 1


async def test_a_failed_connection_is_not_kept(bed, registry):
    ruc = registry.get("RUC")
    async with Federator([ruc], cache_ttl=0) as fed:
        bed.set_fault("RUC", mode="garbage")
        assert (await fed.run(parse("中国"), per_member=2)).outcomes[0].status == "error"
        assert kept(fed, ruc) == []
        bed.clear_faults()
        assert (await fed.run(parse("中国"), per_member=2)).outcomes[0].status == "ok"
        assert fed.pool.opened == 2 and len(kept(fed, ruc)) == 1


async def test_concurrent_searches_of_one_member_use_separate_connections(registry):
    import asyncio

    thu = registry.get("THU")
    async with Federator([thu], cache_ttl=0) as fed:
        results = await asyncio.gather(*(fed.run(parse(q), protocol="z3950", per_member=2)
                                         for q in ("中国", "报告", "研究")))
        assert all(r.outcomes[0].status == "ok" for r in results)
        assert fed.pool.opened == 3 and len(kept(fed, thu)) == fed.keep_connections == 2


async def test_a_kept_connection_is_reopened_after_the_member_restarts(small_bed):
    registry = load_registry(small_bed.registry_path)
    member = registry.members[0]
    async with Federator(registry, cache_ttl=0) as fed:
        before = await fed.run(parse("中国"), [member.code], protocol="z3950", per_member=3)
        assert before.outcomes[0].status == "ok", before.outcomes[0].error
        [connector] = kept(fed, member)
        assert connector.connection.generation == 1

        small_bed.down()  # the member (and the proxy in front of it) stop: the kept association is dead
        small_bed.up(members=2, records=40)
        again = load_registry(small_bed.registry_path).get(member.code)
        assert again.endpoint("z3950").port == member.endpoint("z3950").port  # restarted where it was

        after = await fed.run(parse("中国"), [member.code], protocol="z3950", per_member=3)
        assert after.outcomes[0].status == "ok", after.outcomes[0].error
        assert [r.record_id for r in after.records] == [r.record_id for r in before.records]
        assert kept(fed, member) == [connector]  # the same connector, transparently reopened
        assert connector.connection.generation == 2  # a second Init: a new association
        assert (fed.pool.opened, fed.pool.reused) == (1, 1)
