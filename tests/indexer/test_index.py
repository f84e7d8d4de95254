"""The local index: analysis, stored Works, one-commit writes, atomic visibility, stale write locks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zlib
from dataclasses import replace
from pathlib import Path

import pytest

from connectors.query import parse
from dedup import merge
from federator.rank import tokens
from indexer.analysis import positioned_tokens, query_tokens
from indexer.errors import IndexBusyError, LocalIndexError, NoIndexError
from indexer.index import LocalIndex
from indexer.schema import SEARCH_ONLY, document, dump_work, load_work
from indexer.search import LocalSearcher
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles
from tests.marc_files import readable_records

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def works():
    """Merged editions of a small generated consortium (the test bed's generator, no servers)."""
    plan = plan_catalogues(31, member_profiles(5), 80)
    return merge(plan_records(plan))


def _index(path: Path, works, **kw) -> LocalIndex:
    ix = LocalIndex.open(path, create=True, **kw)
    ix.write(upsert=works)
    return ix


# --------------------------------------------------------------------------- analysis


@pytest.mark.parametrize("text", ["数据结构：C语言版", "紅樓夢研究", "Café Society / Jones", "ＰＹＴＨＯＮ程序设计 第2版",
                                  "C++ primer", "中国 历史 history of China"])
def test_tokens_are_those_live_ranking_scores(text):
    assert sorted(t for t, _ in positioned_tokens(text)) == sorted(tokens(text, document=True))
    assert query_tokens(text) == tokens(text)


def test_traditional_full_width_and_case_fold_to_one_form():
    assert query_tokens("數據結構") == query_tokens("数据结构") == ["数据", "据结", "结构"]
    assert query_tokens("ＤＡＴＡ　Ｂａｓｅ") == ["data", "base"]
    assert query_tokens("Müller, Gérard") == ["muller", "gerard"]
    # no stemming: names and words stay as written
    assert query_tokens("Jones Running") == ["jones", "running"]


def test_bigrams_sit_at_their_first_character_for_phrases():
    doc = list(positioned_tokens("C语言程序"))
    assert ("c", 0) in doc and ("语言", 1) in doc and ("言程", 2) in doc and ("程序", 3) in doc
    assert ("序", 4) in doc  # single characters are indexed for one-character queries


# --------------------------------------------------------------------------- stored works


def _as_shown(w):
    """The work without the text only search reads (which the stored work leaves out)."""
    blank = dict.fromkeys(SEARCH_ONLY, [])
    return replace(w, display=replace(w.display, **blank), records=[replace(r, **blank) for r in w.records])


def test_stored_work_comes_back_equal(works):
    assert any(r.keywords for w in works for r in w.records)
    assert all(load_work(dump_work(w)) == _as_shown(w) for w in works)


def test_stored_work_changes_when_only_its_search_text_does(works):
    """A harvest writes a work again when its stored form changed: a new note must count as a change."""
    w = next(w for w in works if w.records[0].keywords)
    edited = replace(w, records=[replace(w.records[0], keywords=[*w.records[0].keywords, "new note"]),
                                 *w.records[1:]])
    assert dump_work(edited) != dump_work(w)
    assert "note" in document(edited)["other"] and "new note" not in document(w)["other"]


def test_stored_work_is_the_json_the_standard_library_writes(works):
    """The stored work's bytes are what json.dumps gives (compact, UTF-8): the digests of the works an index
    holds stay those of the same works, whichever JSON writer made them (real records: control characters,
    line separators, CJK beyond the BMP, broken encodings repaired)."""
    real = merge(readable_records())
    assert len(real) > 500
    for w in [*works, *real]:
        raw = zlib.decompress(dump_work(w))
        assert json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":")).encode("utf-8") == raw
        assert load_work(dump_work(w)) == _as_shown(w)


def test_document_carries_every_isbn_form(works):
    w = next(w for w in works if w.isbns and w.isbns[0].startswith("978"))
    terms = document(w)["isbn"].split()
    assert w.isbns[0] in terms
    assert any(len(t) == 10 for t in terms)  # the ISBN-10 form


# --------------------------------------------------------------------------- open / write / stats


def test_missing_index_says_to_harvest(tmp_path):
    with pytest.raises(NoIndexError, match="balis harvest"):
        LocalIndex.open(tmp_path / "nothing")
    LocalIndex.open(tmp_path / "empty", create=True).close()
    with pytest.raises(NoIndexError, match="empty.*balis harvest"):
        LocalSearcher.open(tmp_path / "empty")


def test_unreadable_index_is_reported_not_raised_raw(tmp_path, works):
    _index(tmp_path, works[:5]).close()
    for toc in (tmp_path / "whoosh").glob("_MAIN_*.toc"):
        toc.write_bytes(b"\x00garbage")
    with pytest.raises(LocalIndexError, match="cannot be read.*balis harvest --full"):
        LocalIndex.open(tmp_path)


def test_write_upsert_delete_and_stats(tmp_path, works):
    ix = _index(tmp_path, works)
    assert ix.work_ids() == {w.work_id for w in works}
    stats = ix.stats()
    assert stats["documents"] == len(works)
    assert stats["holdings"] == sum(len(w.holdings) for w in works)
    per = {}
    for w in works:
        for h in w.holdings:
            per[h.member] = per.get(h.member, 0) + 1
    assert stats["holdings_per_member"] == per
    assert stats["size_bytes"] > 0 and stats["last_commit"]

    changed = works[0]
    changed = replace(changed, display=replace(changed.display, title="完全不同的新题名"),
                      records=[replace(r, title="完全不同的新题名") for r in changed.records])
    gone = works[1].work_id
    assert ix.write(upsert=[changed], delete=[gone], harvested={"THU": "2026-11-20T02:00:00+00:00"}) == \
        {"upserted": 1, "deleted": 1}
    assert ix.work_ids() == {w.work_id for w in works} - {gone}
    assert ix.stats()["documents"] == len(works) - 1
    assert ix.harvested() == {"THU": "2026-11-20T02:00:00+00:00"}
    ix.close()
    with LocalSearcher.open(tmp_path) as s:
        assert [w.work_id for w in s.search(parse("ti:完全不同的新题名")).works] == [changed.work_id]
        assert s.search(parse(f"id:{works[1].records[0].record_id}")).total == 0


def test_rebuild_replaces_everything(tmp_path, works):
    ix = _index(tmp_path, works[:30])
    ix.write(upsert=works[30:35])  # a second segment
    ix.rebuild(works[30:40])
    assert ix.work_ids() == {w.work_id for w in works[30:40]}
    assert ix.stats()["documents"] == 10
    ix.write(upsert=works[40:45])
    ix.optimize()
    assert ix.work_ids() == {w.work_id for w in works[30:45]}
    with LocalSearcher.open(tmp_path) as s:
        w = works[41]
        assert s.search(parse(f"id:{w.records[0].record_id}")).works[0] == _as_shown(w)
    ix.close()


def test_reader_opened_before_a_write_sees_the_old_state(tmp_path, works):
    ix = _index(tmp_path, works[:20])
    old = works[0]
    before = LocalSearcher.open(tmp_path)
    query = parse(f"id:{old.records[0].record_id}")
    assert before.search(query).total >= 1
    ix.write(upsert=works[20:40], delete=[w.work_id for w in works[:20]])
    assert before.doc_count() == 20
    assert before.search(query).total >= 1  # still the state it opened
    with LocalSearcher.open(tmp_path) as after:
        assert after.doc_count() == 20 and after.search(query).total == 0
    before.refresh()
    assert before.search(query).total == 0
    before.close()
    ix.close()


# --------------------------------------------------------------------------- one writer; stale locks

_SLOW_WRITER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from dedup import merge
    from indexer.index import LocalIndex
    from testbed.generate import plan_catalogues, plan_records
    from testbed.members import member_profiles
    works = merge(plan_records(plan_catalogues(32, member_profiles(3), 30)))
    ix = LocalIndex.open({path!r}, create=True)
    def slow():
        for i, w in enumerate(works):
            if i == 3:
                print("writing", flush=True)
                time.sleep(60)
            yield w
    ix.write(upsert=slow())
""")


def _start_writer(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER.format(root=str(ROOT), path=str(path))],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    return proc


def test_second_writer_is_told_who_writes(tmp_path, works):
    _index(tmp_path, works[:5]).close()
    proc = _start_writer(tmp_path)
    try:
        ix = LocalIndex.open(tmp_path)
        with pytest.raises(IndexBusyError, match=f"process {proc.pid}"):
            ix.write(upsert=works[5:6], timeout=0.3)
        ix.close()
    finally:
        proc.kill()
        proc.wait()


def test_writer_killed_with_sigkill_leaves_a_usable_index(tmp_path, works):
    _index(tmp_path, works[:10]).close()
    proc = _start_writer(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "whoosh" / "balis-writer.lock").read_text().find(str(proc.pid)) >= 0
    messages: list[str] = []
    ix = LocalIndex.open(tmp_path, notify=messages.append)
    assert ix.work_ids() == {w.work_id for w in works[:10]}  # the killed write left nothing behind
    started = time.monotonic()
    ix.write(upsert=works[10:12], timeout=5)
    assert time.monotonic() - started < 5
    assert len(messages) == 1 and "stale write lock" in messages[0] and str(proc.pid) in messages[0]
    assert ix.work_ids() == {w.work_id for w in works[:12]}
    ix.write(upsert=works[12:13])
    assert len(messages) == 1  # a clean release leaves nothing stale
    ix.close()
