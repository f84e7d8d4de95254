"""Saved searches in the ILL store (ill/searches.py): a reader's own, the limits with their messages, and what an
alert run records (each edition once, one notice per run, written with the hits), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ill import outbox
from ill import searches as saved
from ill.errors import NotFound

PARAMS = [["q", "数据结构"], ["facet", "language:chi"]]
QUERY = {"field": "any", "relation": "=", "value": "数据结构", "phrase": False}


def edition(n: int, clock) -> saved.NewEdition:
    return saved.NewEdition(f"W{n:016x}", f"新书 {n}", "张三 · 清华大学出版社 · 2026", clock.now)


def test_a_reader_saves_renames_turns_off_and_deletes_a_search(store, clock):
    s = saved.save(store, "r1", "  数据结构   新书 ", PARAMS, QUERY)
    assert (s["name"], s["params"], s["query"], s["alert"], s["new"]) == ("数据结构 新书", PARAMS, QUERY, True, 0)
    assert s["checked_through"] == clock.now and len(s["token"]) >= 32
    assert [x["id"] for x in saved.for_user(store, "r1")] == [s["id"]] and saved.for_user(store, "r2") == []
    with pytest.raises(NotFound):  # another reader's search is not theirs to see or change
        saved.get(store, "r2", s["id"])
    with pytest.raises(NotFound):
        saved.change(store, "r2", s["id"], name="x")
    clock.advance(days=3)
    off = saved.change(store, "r1", s["id"], name="算法", alert=False)
    assert (off["name"], off["alert"]) == ("算法", False)
    assert saved.to_check(store) == []
    on = saved.change(store, "r1", s["id"], alert=True)  # on again: from now on, not the weeks it was off
    assert on["alert"] and on["checked_through"] == clock.now
    saved.remove(store, "r1", s["id"])
    assert saved.for_user(store, "r1") == []


def test_limits_and_who_may_save_are_said_in_both_languages(store):
    with pytest.raises(saved.SearchRefused) as exc:
        saved.save(store, "r1", "   ", PARAMS, QUERY)
    assert exc.value.key == "searches.name_empty"
    with pytest.raises(saved.SearchRefused) as exc:
        saved.save(store, "r1", "长" * (saved.MAX_NAME + 1), PARAMS, QUERY)
    assert exc.value.key == "searches.name_long" and "100" in str(exc.value)
    with pytest.raises(saved.SearchRefused) as exc:
        saved.save(store, "thu", "馆员的检索", PARAMS, QUERY)
    assert exc.value.key == "searches.readers_only"
    for n in range(saved.MAX_SEARCHES):
        saved.save(store, "r1", f"检索 {n}", PARAMS, QUERY)
    with pytest.raises(saved.SearchRefused) as exc:
        saved.save(store, "r1", "再多一个", PARAMS, QUERY)
    assert exc.value.key == "searches.limit"
    assert "50" in str(exc.value) and "删除" in str(exc.value) and "delete" in str(exc.value)
    assert len(saved.for_user(store, "r1")) == saved.MAX_SEARCHES
    saved.save(store, "r2", "另一位读者", PARAMS, QUERY)  # the limit is per reader


def test_an_alert_run_records_each_edition_once_with_one_notice(store, clock):
    s = saved.save(store, "r1", "数据结构", PARAMS, QUERY)
    clock.advance(hours=10)
    run_at = clock.now
    assert saved.record(store, s, [edition(1, clock), edition(2, clock)], run_at) == 2
    [notice] = outbox.for_user(store, "r1")
    assert notice["kind"] == "new_books" and notice["link"] == f"/searches/{s['id']}"
    assert "数据结构" in notice["subject"] and "新书 1" in notice["body"] and "新书 2" in notice["body"]
    assert "new edition" in notice["body"]
    again = saved.get(store, "r1", s["id"])
    assert again["checked_through"] == run_at and again["new"] == 2
    # the next run finds one of them again (a window that overlaps) and a third: only the third is told
    clock.advance(days=1)
    assert saved.record(store, again, [edition(2, clock), edition(3, clock)], clock.now) == 1
    latest = outbox.for_user(store, "r1")[0]
    assert "新书 3" in latest["body"] and "新书 2" not in latest["body"]
    # a run that finds nothing writes no notice, and moves the search on
    clock.advance(days=1)
    assert saved.record(store, saved.get(store, "r1", s["id"]), [], clock.now) == 0
    assert len(outbox.for_user(store, "r1")) == 2
    hits = saved.hits(store, "r1", s["id"])
    assert [h["work_id"] for h in hits] == [edition(3, clock).work_id, edition(2, clock).work_id,
                                            edition(1, clock).work_id]
    assert all(h["new"] for h in hits)
    saved.mark_seen(store, "r1", s["id"])
    assert not any(h["new"] for h in saved.hits(store, "r1", s["id"])) and saved.get(store, "r1", s["id"])["new"] == 0


def test_a_search_turned_off_or_deleted_during_a_run_is_left_alone(store, clock):
    s = saved.save(store, "r1", "数据结构", PARAMS, QUERY)
    saved.change(store, "r1", s["id"], alert=False)
    assert saved.record(store, s, [edition(1, clock)], clock.now + timedelta(hours=1)) == 0
    saved.remove(store, "r1", s["id"])
    assert saved.record(store, s, [edition(1, clock)], clock.now + timedelta(hours=1)) == 0
    assert outbox.for_user(store, "r1") == []


def test_the_feed_is_found_by_its_token_only(store, clock):
    s = saved.save(store, "r1", "数据结构", PARAMS, QUERY)
    saved.record(store, s, [edition(7, clock)], clock.now + timedelta(hours=1))
    search, hits = saved.by_token(store, s["id"], s["token"])
    assert search["id"] == s["id"] and [h["work_id"] for h in hits] == [edition(7, clock).work_id]
    for token in ("", "x" * 32, s["token"][:-1]):
        with pytest.raises(NotFound):
            saved.by_token(store, s["id"], token)
    with pytest.raises(NotFound):
        saved.by_token(store, s["id"] + 1, s["token"])
