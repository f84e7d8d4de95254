"""A load with loader processes (`PgIndex.load`: parts made into rows and COPYed by several processes, each on a
connection of its own, the indexes built at once on several connections) writes exactly what a rebuild writes,
notes each work in the parts' order, and leaves the old index whole, with nothing staged, when it fails, when
it is killed, and while it runs."""

from __future__ import annotations

import operator
import os
import signal

import psycopg
import pytest

from indexer.backend import open_index
from indexer.errors import IndexBusyError, LocalIndexError
from indexer.pg import terms
from tests.indexer.test_pg_rebuild import awkward_works, content, schema

PART = 25  # works a part


@pytest.fixture(scope="module")
def works():
    return awkward_works()


def parts_of(works: list, size: int = PART) -> list[list]:
    return [works[i:i + size] for i in range(0, len(works), size)]


def failing(part: list) -> list:
    """A part's works, but a part marked to fail fails (as a harvest store that went away)."""
    if part and part[-1] == "fail":
        raise RuntimeError("the harvest store went away")
    return part


def dying(part: list) -> list:
    """A part's works, but the loader taking a part marked "die" is killed (as by the out-of-memory killer)."""
    if part and part[-1] == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return part


def index_terms(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT field, word, docs, occurrences FROM index_terms ORDER BY 1, 2").fetchall()


@pytest.fixture()
def databases(new_database):
    """Two empty databases: one loaded, one for comparison."""
    return [new_database("loaded"), new_database("compared")]


@pytest.mark.parametrize("loaders", [0, 2])
def test_a_load_writes_what_a_rebuild_writes(works, databases, loaders):
    loaded, rebuilt = databases
    ix = open_index(loaded, create=True)
    ix.write(upsert=works[:5])  # replaced by the load
    said: list[str] = []
    done = ix.load(parts_of(works), list, note=operator.attrgetter("work_id"), loaders=loaders,
                   harvested={"PKU": "2026-12-07T20:00:00+00:00"}, told=said.append)
    assert len(said) == 1 and f"{len(works)} editions loaded" in said[0] and "building its indexes" in said[0]
    assert done["documents"] == len(works) and done["notes"] == [w.work_id for w in works]  # in the parts' order
    assert set(done["seconds"]) == {"loading", "indexing", "swap", "analyze"}
    assert ix.harvested() == {"PKU": "2026-12-07T20:00:00+00:00"}
    ix.close()
    with open_index(rebuilt, create=True) as other:
        other.rebuild(works, harvested={"PKU": "2026-12-07T20:00:00+00:00"}, processes=0)
    assert content(loaded) == content(rebuilt)
    assert schema(loaded) == schema(rebuilt)  # the same indexes, keys and names; nothing left staged
    assert index_terms(loaded) == index_terms(rebuilt) and index_terms(loaded)  # the spelling words, counted
    with open_index(loaded) as ix:  # the triggers keeping the words are on the new table
        ix.write(delete=[w.work_id for w in works[:10]])
    with open_index(rebuilt) as other:
        other.write(delete=[w.work_id for w in works[:10]])
    assert index_terms(loaded) == index_terms(rebuilt)


@pytest.mark.parametrize("loaders", [0, 2])
def test_a_failed_load_leaves_the_index_as_it_was_and_nothing_staged(works, databases, loaders):
    url = databases[0]
    ix = open_index(url, create=True)
    ix.write(upsert=works[:30])
    before, shape, words = content(url), schema(url), index_terms(url)
    parts = parts_of(works)
    parts[len(parts) // 2].append("fail")  # half-way
    with pytest.raises(RuntimeError, match="went away"):
        ix.load(parts, failing, loaders=loaders)
    assert content(url) == before and schema(url) == shape and index_terms(url) == words
    ix.write(upsert=works[30:31])  # the writer's lock was let go
    assert ix.load(parts_of(works[:40]), list, loaders=loaders)["documents"] == 40  # and the next load goes through
    assert ix.doc_count() == 40
    ix.close()


def test_a_killed_loader_process_is_told_and_leaves_the_index_as_it_was(works, databases):
    url = databases[0]
    ix = open_index(url, create=True)
    ix.write(upsert=works[:30])
    before, shape = content(url), schema(url)
    parts = parts_of(works)
    parts[1].append("die")
    with pytest.raises(LocalIndexError, match="loader process .* ended abruptly .* the index is as it was"):
        ix.load(parts, dying, loaders=2)
    assert content(url) == before and schema(url) == shape
    assert ix.load(parts_of(works[:20]), list, loaders=2)["documents"] == 20
    ix.close()


def test_what_a_killed_load_left_is_dropped_by_the_next(works, databases):
    url = databases[0]
    ix = open_index(url, create=True)
    ix.write(upsert=works[:10])
    with psycopg.connect(url, autocommit=True) as other:  # a load killed after its loaders began
        other.execute("CREATE TABLE editions_load (LIKE editions INCLUDING ALL)")
        other.execute("CREATE TABLE holdings_load (LIKE holdings INCLUDING DEFAULTS)")
        other.execute(f"CREATE TABLE {terms.COUNTED} (field \"char\", word text, docs bigint, occurrences bigint)")
    assert ix.load(parts_of(works), list, loaders=0)["documents"] == len(works)
    with open_index(databases[1], create=True) as clean:
        clean.rebuild(works, processes=0)
    assert schema(url) == schema(databases[1])
    ix.close()


def test_a_load_waits_for_no_writer_and_says_who_writes(works, databases):
    url = databases[0]
    writer, loader = open_index(url, create=True), open_index(url)
    with writer.conn.transaction(), writer.conn.cursor() as cur:
        writer._lock(cur, 1)
        with pytest.raises(IndexBusyError, match="being written by database process"):
            loader.load(parts_of(works), list, loaders=0, timeout=0.2)
    assert loader.doc_count() == 0
    writer.close()
    loader.close()


SEEN: list[int] = []  # what a reader saw while the load ran (loaders=0: in this process)
URL = ""


def watched(part: list) -> list:
    with psycopg.connect(URL) as reader:
        SEEN.append(reader.execute("SELECT count(*) FROM editions").fetchone()[0])
    return part


def test_readers_see_the_old_index_while_a_load_runs(works, databases, monkeypatch):
    url = databases[0]
    ix = open_index(url, create=True)
    ix.write(upsert=works[:7])
    monkeypatch.setattr(__import__(__name__, fromlist=["URL"]), "URL", url)
    SEEN.clear()
    ix.load(parts_of(works), watched, loaders=0)
    assert SEEN == [7] * len(parts_of(works))
    assert ix.doc_count() == len(works)
    ix.close()


def test_a_first_harvest_into_a_database_loads_its_editions_with_loader_processes(new_database, monkeypatch):
    """The whole-store merge of a first harvest: the editions built and loaded by loader processes, a part of
    the plan each, reading the records in the index phase's snapshot, give the index and the store what the
    harvest process building every edition itself gives, and what a merge of every record gives."""
    from dedup.work import merge
    from indexer import harvest
    from indexer.harvest import Progress, write_index
    from indexer.schema import dump_work, work_digest
    from testbed.generate import plan_catalogues, plan_records
    from testbed.members import member_profiles
    from tests.indexer.test_rebuild_in_parts import _holding

    records = plan_records(plan_catalogues(2024, member_profiles(12), 200))
    records.sort(key=lambda r: (r.member, r.record_id))
    works = merge(records)
    monkeypatch.setattr(harvest, "LOAD_PART_RECORDS", 97)  # many parts
    got = {}
    for way, loaders_from in (("loaders", 0), ("here", 10**9)):
        monkeypatch.setattr(harvest, "LOADERS_FROM", loaders_from)
        url = new_database(f"first_{way}")
        store = _holding(url, records)
        try:
            out = write_index(store, url, full=True, harvested={}, progress=Progress())
            ids = [w.work_id for w in works]
            got[way] = (out["upserted"], content(url), store.work_groups(ids), store.work_digests(ids),
                        sorted(store.records_of_works(ids)), index_terms(url))
        finally:
            store.close()
    assert got["loaders"] == got["here"]
    upserted, _, groups, digests, assigned, _ = got["loaders"]
    assert upserted == len(works) < len(records)
    assert groups == {w.work_id: w.group_id for w in works}
    assert digests == {w.work_id: work_digest(dump_work(w)) for w in works}
    assert assigned == sorted(((r.member, r.record_id), w.work_id) for w in works for r in w.records)


def test_an_index_build_that_fails_is_told_and_leaves_the_index_as_it_was(works, databases, monkeypatch):
    from indexer.pg import index

    url = databases[0]
    ix = open_index(url, create=True)
    ix.write(upsert=works[:30])
    before, shape = content(url), schema(url)
    plan = index._Staged.plan

    def broken(self, cur):  # a build the server refuses (as one running out of disk would be)
        builds, after = plan(self, cur)
        return [*builds, "CREATE INDEX editions_wrong_load ON editions_load (no_such_column)"], after

    monkeypatch.setattr(index._Staged, "plan", broken)
    with pytest.raises(LocalIndexError, match="building the union index .* failed .*no_such_column"):
        ix.load(parts_of(works), list, loaders=2)
    assert content(url) == before and schema(url) == shape
    ix.close()
