"""The harvest against a real test bed (Zebra over Z39.50 and SRU, the test bed's OAI-PMH repositories)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harvest_helpers import (
    edited,
    expected_content,
    index_content,
    new_record,
    record_keys,
    title_of,
    works_with,
)

from indexer.harvest import HarvestOptions, run_harvest
from indexer.store import Checkpoint, HarvestStore
from members import Registry, load_registry
from testbed.bed import Testbed

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
MEMBERS = 5  # THU (Z39.50), PKU (OAI-PMH), RUC (Z39.50, GBK), BUAA (Z39.50, MARC-8), USTB (SRU only)
RECORDS = 60


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    with Testbed(tmp_path_factory.mktemp("harvest-bed"), seed=4242).running(members=MEMBERS, records=RECORDS) as bed:
        yield bed


@pytest.fixture()
def registry(bed):
    bed.clear_faults()
    yield load_registry(bed.registry_path)
    bed.clear_faults()


def harvest(registry, index_dir, **kw):
    return run_harvest(registry, index_dir, HarvestOptions(rate=0, **kw))


def by_member(result):
    return {r.member: r for r in result.members}


def test_each_member_is_harvested_over_its_protocol(registry):
    from indexer.harvest import harvest_endpoint

    protocols = {m.code: harvest_endpoint(m).protocol for m in registry}
    assert protocols == {"THU": "z3950", "PKU": "oaipmh", "RUC": "z3950", "BUAA": "z3950", "USTB": "sru"}


def test_full_harvest_index_equals_the_merged_records(registry, tmp_path):
    result = harvest(registry, tmp_path)
    reports = by_member(result)
    assert all(r.status == "ok" for r in reports.values()), [r.message for r in reports.values()]
    with _store(tmp_path) as store:
        counts = store.counts_per_member()
    for code, r in reports.items():
        assert r.added == counts[code] > 0 and r.changed == r.deleted == r.errors == 0
    assert result.index["mode"] == "rebuild"
    content = index_content(tmp_path)
    assert content == expected_content(registry)
    assert sum(len(w["records"]) for w in content.values()) == sum(counts.values())


def test_rerun_without_change_writes_nothing(registry, tmp_path):
    harvest(registry, tmp_path)
    toc_before = sorted(p.name for p in (tmp_path / "whoosh").iterdir())
    meta_before = (tmp_path / "whoosh" / "balis.json").read_text()
    with _store(tmp_path) as store:
        rows_before = store.db.execute("SELECT member, record_id, hash, harvested, work_id FROM records "
                                       "ORDER BY 1, 2").fetchall()
    result = harvest(registry, tmp_path)
    assert all(r.status == "ok" and r.added == r.changed == r.deleted == 0 for r in result.members)
    reports = by_member(result)
    assert reports["PKU"].mode == "since"  # OAI-PMH asks only for what changed since the last run
    for code in ("THU", "RUC", "USTB"):  # Z39.50 and SRU members that search by date: nothing changed
        assert reports[code].mode == "changes" and reports[code].records == 0, reports[code].as_dict()
    # BUAA's library system has no date search: its whole catalogue was compared, and found unchanged
    assert reports["BUAA"].mode == "full" and "no date search" in reports["BUAA"].message
    assert reports["BUAA"].unchanged == reports["BUAA"].records > 0
    assert result.index["mode"] == "unchanged" and result.index["upserted"] == 0
    assert sorted(p.name for p in (tmp_path / "whoosh").iterdir()) == toc_before
    assert (tmp_path / "whoosh" / "balis.json").read_text() == meta_before
    with _store(tmp_path) as store:
        assert store.db.execute("SELECT member, record_id, hash, harvested, work_id FROM records "
                                "ORDER BY 1, 2").fetchall() == rows_before


def test_add_edit_delete_at_members_shows_exactly_that_change(bed, registry, tmp_path):
    # THU finds deletions by a scan of its record ids, USTB by counting records per id prefix (the default)
    registry = Registry(registry.path, tuple(dataclasses.replace(m, harvest_deletions="scan") if m.code == "THU"
                                             else m for m in registry))
    harvest(registry, tmp_path)
    before = index_content(tmp_path)
    changed_keys: set[str] = set()
    expect = {}
    for n, code in enumerate(("THU", "USTB", "PKU")):  # Z39.50, SRU and OAI-PMH members
        cat = bed.catalogue(code)
        ids = list(cat)
        gone, edit_id, template = ids[3], ids[7], ids[11]
        new_id = f"HARVEST-NEW-{code}"
        bed.change_catalogue(code, add=[new_record(cat[template], new_id, f"采集测试新书{n}号")],
                             edit=[edited(cat[edit_id], f"采集测试改题{n}号")], delete=[gone])
        changed_keys |= {f"{code}:{gone}", f"{code}:{edit_id}", f"{code}:{new_id}"}
        expect[code] = (gone, edit_id, new_id, n)
    result = harvest(registry, tmp_path)
    reports = by_member(result)
    for code in expect:
        r = reports[code]
        assert (r.added, r.changed, r.deleted, r.errors) == (1, 1, 1, 0), r.as_dict()
    # THU: only the changed records came over the wire, and the deletion from the scan of its ids
    assert reports["THU"].mode == "changes" and reports["THU"].records == 2, reports["THU"].as_dict()
    # USTB: its date search brought the two, then its record count showed a deletion, and counts per id
    # prefix narrowed it down to a few records fetched again
    assert reports["USTB"].mode == "changes" and 2 < reports["USTB"].records <= 2 + 16, reports["USTB"].as_dict()
    for code in ("RUC", "BUAA"):
        assert (reports[code].added, reports[code].changed, reports[code].deleted) == (0, 0, 0)
    assert result.index["mode"] == "incremental"
    after = index_content(tmp_path)
    assert after == expected_content(registry)
    for code, (gone, edit_id, new_id, n) in expect.items():
        assert not works_with(after, f"{code}:{gone}")
        [work] = works_with(after, f"{code}:{new_id}")
        assert any(r["title"] == f"采集测试新书{n}号" for r in work["records"])
        [work] = works_with(after, f"{code}:{edit_id}")
        assert [r["title"] for r in work["records"] if r["record_id"] == edit_id] == [f"采集测试改题{n}号"]
    # every edition that holds none of the changed records is untouched; only its "other editions" group id
    # moves, when an edition of its group gained, changed or lost a record
    groups = {w["group_id"] for c in (before, after) for w in c.values() if record_keys(w) & changed_keys}
    untouched = {wid: w for wid, w in before.items() if not record_keys(w) & changed_keys}
    assert len(untouched) > len(before) // 2
    for wid, w in untouched.items():
        assert wid in after
        assert {**after[wid], "group_id": ""} == {**w, "group_id": ""}
        assert after[wid]["group_id"] == w["group_id"] or {after[wid]["group_id"], w["group_id"]} & groups
    assert result.index["upserted"] < len(after) // 2


def test_changes_that_move_records_between_editions_merge_as_a_full_merge_would(bed, registry, tmp_path):
    """Copies joining existing editions, a record retitled into another edition, a copy withdrawn from a
    shared edition: the incremental run re-merges only the part these touch, and the index equals a
    fresh full merge of every member's catalogue (work ids, "other editions" groups, holdings)."""
    harvest(registry, tmp_path)
    before = index_content(tmp_path)
    shared = [w for w in before.values() if len({r["member"] for r in w["records"]}) >= 2]
    # editions whose copies carry different titles (a romanized one joined by its ISBN): a copy added under
    # one title must pull in the others, which share no title with it
    variants = [w for w in shared if len({r["title"] for r in w["records"]}) > 1]
    assert len(shared) >= 6 and variants
    copied_variant = False
    for n, code in enumerate(("THU", "USTB", "PKU")):
        cat = bed.catalogue(code)
        mine = [r["record_id"] for w in shared for r in w["records"] if r["member"] == code and r["record_id"] in cat]
        assert len(mine) >= 3, code
        in_variant = [r["record_id"] for w in variants for r in w["records"]
                      if r["member"] == code and r["record_id"] in cat and r["record_id"] not in mine[1:3]]
        copy_of = in_variant[0] if in_variant else mine[0]
        copied_variant = copied_variant or bool(in_variant)
        retitle, withdraw = [x for x in mine if x != copy_of][:2]
        target = next(w for w in shared if all(r["member"] != code for r in w["records"]) or w is shared[-1])
        bed.change_catalogue(code, add=[new_record(cat[copy_of], f"COPY-{code}-{n}", title_of(cat[copy_of]))],
                             edit=[edited(cat[retitle], target["display"]["title"])], delete=[withdraw])
    assert copied_variant
    result = harvest(registry, tmp_path)
    assert result.index["mode"] == "incremental"
    total = sum(len(w["records"]) for w in before.values())
    assert 0 < result.index["records_merged"] < total // 2  # a part, not the catalogue
    assert index_content(tmp_path) == expected_content(registry)


def test_oai_pmh_incremental_with_deletes(bed, registry, tmp_path):
    time.sleep(1.1)  # OAI-PMH datestamps have one-second granularity and `from` includes its own second
    harvest(registry, tmp_path)
    cat = bed.catalogue("PKU")
    ids = list(cat)
    bed.change_catalogue("PKU", edit=[edited(cat[ids[20]], "开放存档增量测试")], delete=[ids[21], ids[22]])
    result = harvest(registry, tmp_path, members=["PKU"])
    [r] = result.members
    assert r.protocol == "oaipmh" and r.mode == "since"
    assert r.records == 3  # only what changed since the last run came over the wire: 1 edit, 2 deletes
    assert (r.changed, r.deleted, r.added) == (1, 2, 0)
    content = index_content(tmp_path)
    assert not works_with(content, f"PKU:{ids[21]}") and not works_with(content, f"PKU:{ids[22]}")
    [work] = works_with(content, f"PKU:{ids[20]}")
    assert [x["title"] for x in work["records"] if x["record_id"] == ids[20]] == ["开放存档增量测试"]
    assert content == expected_content(registry)


def test_an_expired_kept_resume_token_starts_the_feed_again(bed, registry, tmp_path):
    """An interrupted change-feed pass kept a token the member has since forgotten: the list is asked again
    from the start, and the member's harvest completes."""
    store = HarvestStore.open(tmp_path)
    try:
        store.start_member(Checkpoint("PKU", "oaipmh", "full", token="long-expired", started="x"), fresh=True)
    finally:
        store.close()
    [r] = harvest(registry, tmp_path, members=["PKU"]).members
    assert r.status == "ok" and r.resumed_from is None
    assert r.added == len(bed.catalogue("PKU"))  # the whole list again (deleted entries are counted as records)
    store = HarvestStore.open(tmp_path)
    try:
        assert store.checkpoint("PKU") is None or store.checkpoint("PKU").token is None
    finally:
        store.close()


def test_member_down_keeps_its_records_and_is_reported(bed, registry, tmp_path):
    harvest(registry, tmp_path)
    before = index_content(tmp_path)
    with _store(tmp_path) as store:
        kept = store.counts_per_member()
    bed.set_fault("RUC", mode="refuse")
    bed.set_fault("PKU", mode="refuse")  # the OAI-PMH repository answers 503
    result = harvest(registry, tmp_path)
    reports = by_member(result)
    for code in ("RUC", "PKU"):
        assert reports[code].status == "failed"
        assert "kept" in reports[code].message and "unavailable" in reports[code].message
    assert all(reports[c].status == "ok" for c in ("THU", "BUAA", "USTB"))
    with _store(tmp_path) as store:
        assert store.counts_per_member() == kept
        assert store.member_info("RUC")["last_status"] == "failed"
    assert index_content(tmp_path) == before
    bed.clear_faults()
    result = harvest(registry, tmp_path)
    assert all(r.status == "ok" and r.deleted == 0 for r in result.members)


def _ctrl_c_as_in_a_terminal() -> None:
    """In the harvest's process: Ctrl-C at its default, as for a person at a terminal. A test run started in
    the background by a shell without job control inherits SIGINT ignored, and the harvest would then rightly
    ignore it too (and finish: exit 0)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_harvest_then_rerun_equals_an_uninterrupted_run(bed, registry, tmp_path, sig):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    harvest(registry, whole)
    for code in ("THU", "RUC", "BUAA", "USTB", "PKU"):
        bed.set_fault(code, latency_ms=400)  # slow enough that the kill lands mid-harvest on a busy machine
    cmd = [sys.executable, "-m", "balis.cli", "harvest", "--registry", str(bed.registry_path), "--index", str(killed),
           "--page-size", "10", "--rate", "20", "--concurrency", "5"]
    proc = subprocess.Popen(cmd, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=str(PROJECT)), preexec_fn=_ctrl_c_as_in_a_terminal)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if _mid_member_checkpoint(killed / "harvest.sqlite"):
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the harvest ended before it could be killed: " + proc.stderr.read().decode()
        os.kill(proc.pid, sig)
        code = proc.wait(30)
        stderr = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    if sig == signal.SIGINT:
        assert code == 130 and "run 'balis harvest' again to continue" in stderr and "Traceback" not in stderr, \
            (code, stderr[-3000:])
    else:
        assert code == -signal.SIGKILL
    assert not (killed / "whoosh").exists() or not index_content(killed)  # killed before the index phase
    bed.clear_faults()
    result = harvest(registry, killed)
    assert any(r.resumed_from for r in result.members), [r.as_dict() for r in result.members]
    assert all(r.status == "ok" for r in result.members)
    assert index_content(killed) == index_content(whole)
    with _store(killed) as a, _store(whole) as b:
        q = "SELECT member, record_id, hash, work_id FROM records ORDER BY 1, 2"
        assert a.db.execute(q).fetchall() == b.db.execute(q).fetchall()
        assert a.pending_count() == 0 and not a.db.execute("SELECT * FROM checkpoints").fetchall()


def _re_merged_whole_once(registry, tmp_path) -> None:
    """The store's pairs are stale: the next harvest re-merges it whole, writing no edition that did not change."""
    with _store(tmp_path) as store:
        assert not store.edges_ready()
    result = harvest(registry, tmp_path)
    assert result.index["mode"] == "upgrade" and result.index["upserted"] == 0


def test_a_store_from_before_scored_pairs_is_upgraded_once(registry, tmp_path):
    """A version 1 store (blocking keys only, no scored pairs) is re-merged whole once, writing only the
    editions that differ; after that, incremental runs re-merge a part again."""
    harvest(registry, tmp_path)
    with _store(tmp_path) as store:  # make it what version 1 left behind
        store.db.execute("DELETE FROM record_edges")
        store.db.execute("DELETE FROM record_keys WHERE key LIKE 'group:%'")
        store.db.execute("DELETE FROM title_sizes")
        store.db.execute("ALTER TABLE works DROP COLUMN group_id")
        store.db.execute("UPDATE meta SET value = '1' WHERE key = 'version'")
    _re_merged_whole_once(registry, tmp_path)
    with _store(tmp_path) as store:
        assert store.edges_ready()
        assert store.db.execute("SELECT count(*) FROM record_edges").fetchone()[0] > 0
        assert store.db.execute("SELECT count(*) FROM record_keys WHERE key LIKE 'group:%'").fetchone()[0] > 0
    assert index_content(tmp_path) == expected_content(registry)
    assert harvest(registry, tmp_path).index["mode"] == "unchanged"


def test_a_store_merged_by_other_rules_is_re_merged_once(registry, tmp_path):
    """After an upgrade that changes the matching rules (dedup.MERGE_RULES), the next index phase re-merges
    the whole store once (its stored blocking keys and pairs were made by the old rules), writing only the
    editions that differ, and the stored keys are the new rules' keys."""
    from dedup.keys import match_keys
    from dedup.work import index_keys

    harvest(registry, tmp_path)
    with _store(tmp_path) as store:  # what the earlier rules left: old keys, another rules version
        store.db.execute("DELETE FROM record_keys WHERE key LIKE 'tp:%' OR key LIKE 'au:%'")
        store.db.execute("UPDATE meta SET value = 'old' WHERE key = 'merge_rules'")
    _re_merged_whole_once(registry, tmp_path)
    with _store(tmp_path) as store:
        assert store.edges_ready()
        member, record_id, blob = store.db.execute("SELECT member, record_id, record FROM records LIMIT 1").fetchone()
        keys = {k for (k,) in store.db.execute("SELECT key FROM record_keys WHERE member = ? AND record_id = ?",
                                                (member, record_id))}
        assert set(index_keys(match_keys(pickle.loads(blob)))) == keys
    assert harvest(registry, tmp_path).index["mode"] == "unchanged"


def test_one_harvest_at_a_time_per_index(registry, tmp_path):
    import fcntl

    from indexer.harvest import HarvestError

    tmp_path.mkdir(exist_ok=True)
    with open(tmp_path / "harvest.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("pid 1, started earlier")
        held.flush()
        with pytest.raises(HarvestError, match="another harvest is running .*pid 1"):
            harvest(registry, tmp_path)
    assert harvest(registry, tmp_path, members=["THU"]).ok


def _mid_member_checkpoint(path: Path) -> bool:
    """True once a Z39.50/SRU member has committed part of its catalogue (a checkpoint past position 1)."""
    if not path.exists():
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            row = db.execute("SELECT count(*) FROM checkpoints WHERE protocol != 'oaipmh' AND position > 1 "
                             "AND position <= hits").fetchone()
            return bool(row and row[0])
        finally:
            db.close()
    except sqlite3.Error:
        return False


class _store:
    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir

    def __enter__(self) -> HarvestStore:
        self.store = HarvestStore.open(self.index_dir, create=False)
        return self.store

    def __exit__(self, *exc) -> None:
        self.store.close()



def test_an_unreadable_record_keeps_its_earlier_version(tmp_path):
    import pymarc

    from connectors.base import RawRecord
    from indexer.harvest import MemberReport, Progress, RateLimiter, _MemberRun
    from members import Member

    rec = pymarc.Record()
    rec.add_field(pymarc.Field(tag="001", data="ABC123"))
    rec.add_field(pymarc.Field(tag="245", indicators=["0", "0"], subfields=[pymarc.Subfield("a", "数据结构")]))
    good = rec.as_marc()
    member = Member("THU", "清华大学", "Tsinghua University")
    store = HarvestStore.open(tmp_path)
    try:
        run = _MemberRun(store, member, MemberReport("THU"), Progress(), RateLimiter(0))
        rid, up = run.classify(RawRecord(good, "marc21", "utf-8", 1, "THU"))
        assert rid == "ABC123" and pickle.loads(up.blob).title == "数据结构"
        store.apply("THU", upserts=[up])
        report = MemberReport("THU")
        run = _MemberRun(store, member, report, Progress(), RateLimiter(0))
        asyncio.run(run.prepare())  # what the store holds for the member
        truncated = good[:-8]
        assert run.classify(RawRecord(truncated, "marc21", "utf-8", 1, "THU")) == ("ABC123", None)
        assert report.errors == 1 and "truncated" in report.error_samples[0] and "THU" in report.error_samples[0]
        store.apply("THU", seen=["ABC123"])
        assert store.unseen("THU") == []  # so a complete pass does not delete it
    finally:
        store.close()


def test_change_stamp_is_the_last_run_in_beijing_time_less_an_hour():
    from datetime import date

    from indexer.harvest import change_stamp

    assert change_stamp("2026-11-22T02:00:05+00:00") == "20261122090005"  # 10:00:05 in Beijing, less an hour
    assert change_stamp("2026-11-22T10:00:05+08:00") == "20261122090005"
    assert change_stamp("2026-11-22T10:00:05") == "20261122090005"  # no zone: the members' own time
    assert change_stamp(date(2026, 11, 1)) == "20261031230000"


@pytest.mark.parametrize("protocol, deletions", [("z3950", "prefixes"), ("sru", "prefixes"), ("z3950", "scan"),
                                                 ("sru", "scan")])
def test_ids_that_do_not_account_for_every_record_mean_a_whole_catalogue_pass(tmp_path, protocol, deletions):
    """A record without 001 is in no id list: the harvest must not trust a scan for deletions then."""
    from lxml import etree

    from members import Endpoint, Member
    from testbed.seeds import seed_marcxml
    from testbed.zebra import ZebraServer

    records = seed_marcxml("marc21")[:12]
    root = etree.fromstring(records[0])
    for cf in root.iter("{http://www.loc.gov/MARC21/slim}controlfield"):
        if cf.get("tag") == "001":
            cf.getparent().remove(cf)
    records[0] = etree.tostring(root, encoding="utf-8")
    zebra = ZebraServer(tmp_path / "member", syntax="marc21")
    zebra.load(records)
    zebra.start()
    try:
        member = Member("THU", "清华大学", "Tsinghua University", harvest_deletions=deletions,
                        endpoints=(Endpoint(protocol, "127.0.0.1", zebra.port),))
        registry = Registry(tmp_path / "registry.toml", (member,))
        assert by_member(harvest(registry, tmp_path / "index"))["THU"].added == 12
        again = by_member(harvest(registry, tmp_path / "index"))["THU"]
        assert again.mode == "changes" and again.records == 0  # nothing changed: the counts agree, no scan
        zebra.load(records[:-1])  # the member deletes its last record
        after = by_member(harvest(registry, tmp_path / "index"))["THU"]
        assert after.status == "ok" and after.mode == "full", after.as_dict()
        assert "for 10 of its 11 records" in after.message
        assert after.deleted == 1 and after.unchanged == 11
    finally:
        zebra.stop()


@pytest.mark.parametrize("protocol", ["z3950", "sru"])
def test_counts_per_id_prefix_find_deletions_and_a_record_the_date_search_missed(tmp_path, protocol):
    from lxml import etree

    from members import Endpoint, Member
    from testbed.bed import stamp_005
    from testbed.seeds import seed_marcxml
    from testbed.zebra import ZebraServer

    marc = "{http://www.loc.gov/MARC21/slim}"
    records = seed_marcxml("marc21")  # real ids: LoC numbers of every length, Alma ids, OCLC-style ids

    def ident(data: bytes) -> str:
        root = etree.fromstring(data)
        return next(cf.text for cf in root.iter(f"{marc}controlfield") if cf.get("tag") == "001").strip()

    zebra = ZebraServer(tmp_path / "member", syntax="marc21")
    zebra.load(records)
    zebra.start()
    try:
        member = Member("THU", "清华大学", "Tsinghua University", endpoints=(Endpoint(protocol, "127.0.0.1", zebra.port),))
        registry = Registry(tmp_path / "registry.toml", (member,))
        assert by_member(harvest(registry, tmp_path / "index"))["THU"].added == len(records) > 500
        gone = sorted(ident(r) for r in records)[100:600:100]  # five deletions spread over the ids
        root = etree.fromstring(records[7])  # a copy catalogued elsewhere keeps its old 005: no date search finds it
        next(cf for cf in root.iter(f"{marc}controlfield") if cf.get("tag") == "001").text = "1imported"
        old = stamp_005(etree.tostring(root, encoding="utf-8"), "20000101000000.0")
        zebra.load([r for r in records if ident(r) not in gone] + [old])
        r = by_member(harvest(registry, tmp_path / "index"))["THU"]
        assert r.status == "ok" and r.mode == "changes", r.message
        assert (r.added, r.changed, r.deleted) == (1, 0, 5) and r.records < len(records) // 3, r.as_dict()
        with _store(tmp_path / "index") as store:
            ids = {rid for (rid,) in store.db.execute("SELECT record_id FROM records WHERE member = 'THU'")}
        assert "1imported" in ids and not ids & set(gone) and len(ids) == len(records) - 4
    finally:
        zebra.stop()
