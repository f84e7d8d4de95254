"""The incremental index phase's look-ups read exactly the rows asked about, `load` gives records back in the
order asked (re-normalising one whose kept form cannot be read), and a write from ready-made documents
holds what a write from works holds. Real SQLite stores and whoosh indexes in a temporary folder."""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import replace

from harvest_helpers import index_content

from dedup.keys import match_keys
from dedup.work import index_keys, merge
from indexer.harvest import Progress, renormaliser, write_index
from indexer.index import LocalIndex
from indexer.schema import document, dump_work
from indexer.store import HarvestStore, Upsert
from records.model import Author, Holding, Isbn, Record


def _rec(member: str, rid: str, title: str, isbn: str | None = None, author: str = "Knuth, Donald E.",
         year: int = 1997) -> Record:
    isbns = [Isbn(raw=isbn, isbn13=isbn)] if isbn else []
    return Record(member=member, record_id=rid, syntax="marc21", title=title, authors=[Author(name=author)],
                  publisher="Addison-Wesley", year=year, isbns=isbns, holdings=[Holding(member=member)])


def _up(rec: Record, raw: bytes = b"") -> Upsert:
    digest = hashlib.blake2b(repr(rec).encode(), digest_size=16).hexdigest()
    return Upsert(record_id=rec.record_id, hash=digest, raw=raw, syntax=rec.syntax, charset="utf-8",
                  record=rec, keys=index_keys(match_keys(rec)))


def _store(tmp_path, records) -> HarvestStore:
    store = HarvestStore.open(tmp_path)
    by_member: dict[str, list] = {}
    for r in records:
        by_member.setdefault(r.member, []).append(_up(r))
    for member, ups in by_member.items():
        store.apply(member, upserts=ups)
    return store


TAOCP = "9780201896831"
BOOKS = [
    _rec("PKU", "p1", "The art of computer programming", TAOCP),
    _rec("THU", "t1", "The art of computer programming", TAOCP),
    _rec("THU", "t2", "The art of computer programming", "9780201896848", year=1998),
    _rec("RUC", "r1", "Concrete mathematics", "9780201558029", author="Graham, Ronald L."),
]


def test_key_lookups_read_the_rows_asked_about(tmp_path):
    store = _store(tmp_path, BOOKS)
    try:
        keys = store.keys_of([("PKU", "p1"), ("RUC", "r1"), ("BNU", "none")])
        assert set(keys) == {("PKU", "p1"), ("RUC", "r1")}
        assert sorted(keys[("PKU", "p1")]) == sorted(set(index_keys(match_keys(BOOKS[0]))))
        title = next(k for k in keys[("PKU", "p1")] if k.startswith("title:"))
        with_title = store.records_with([title, "isbn:0000000000000"])
        assert list(with_title) == [title]
        assert sorted(with_title[title]) == [("PKU", "p1"), ("THU", "t1"), ("THU", "t2")]
        counts = store.key_counts([title, f"isbn:{TAOCP}", "isbn:0000000000000"])
        assert counts == {title: 3, f"isbn:{TAOCP}": 2}
    finally:
        store.close()


def test_pending_state_and_stored_pairs_after_an_index_phase(tmp_path):
    store = _store(tmp_path, BOOKS)
    try:
        write_index(store, tmp_path, full=False, harvested={}, progress=Progress())
        assert store.pending_count() == 0
        works = store.record_works()
        taocp = works[("PKU", "p1")]
        assert works[("THU", "t1")] == taocp != works[("THU", "t2")]
        assert sorted(r for r, w in store.records_of_works([taocp])) == [("PKU", "p1"), ("THU", "t1")]
        assert {w for _, _, w in store.keyed_works([f"isbn:{TAOCP}"])} == {taocp}
        groups = store.work_keys([taocp], "group:")
        assert groups == {taocp: {k for k in index_keys(match_keys(BOOKS[0])) if k.startswith("group:")}}

        pairs, gone = store.pairs_of([("PKU", "p1")])
        assert ("THU", "t1") in pairs[("PKU", "p1")] and not gone
        # THU withdraws t1 and retitles t2: the pending lists say so
        store.apply("THU", upserts=[_up(replace(BOOKS[2], title="Sorting and searching"))], deletes=["t1"])
        held, withdrawn, old_works, mates, pending_keys = store.pending_state()
        assert held == {("THU", "t2")} and withdrawn == {("THU", "t1")}
        assert old_works == {taocp, works[("THU", "t2")]}
        assert mates == {("PKU", "p1"), ("THU", "t2")}
        retitled = replace(BOOKS[2], title="Sorting and searching")
        assert set(index_keys(match_keys(retitled))) | set(index_keys(match_keys(BOOKS[1]))) <= pending_keys
        pairs, gone = store.pairs_of([("PKU", "p1")])
        assert ("THU", "t1") not in pairs.get(("PKU", "p1"), set()) and ("THU", "t1") in gone
    finally:
        store.close()


def test_load_keeps_the_order_asked_and_reads_an_unreadable_record_again(tmp_path):
    store = _store(tmp_path, BOOKS)
    try:
        order = [("RUC", "r1"), ("PKU", "p1"), ("THU", "t2"), ("THU", "t1")]
        assert [(r.member, r.record_id) for r in store.load(order, renormaliser)] == order
        assert [r.title for r in store.load([("PKU", "p1"), ("NOPE", "x")], renormaliser)] == [BOOKS[0].title]
        many = [("PKU", "p1")] * 12_000  # more than one query's worth, repeats kept
        assert len(list(store.load(many, renormaliser))) == 12_000

        calls = []

        def again(member, record_id, raw, syntax, charset):
            calls.append((member, record_id, raw, syntax, charset))
            return replace(BOOKS[3], title="read again")

        store.db.execute("UPDATE records SET record = ?, raw = ? WHERE member = 'RUC'",
                         (b"not a pickle", b"raw bytes"))
        got = list(store.load([("PKU", "p1"), ("RUC", "r1")], again))
        assert [r.title for r in got] == [BOOKS[0].title, "read again"]
        assert calls == [("RUC", "r1", b"raw bytes", "marc21", "utf-8")]
    finally:
        store.close()


def test_a_write_from_documents_holds_what_a_write_from_works_holds(tmp_path):
    works = merge(BOOKS)
    one, two = tmp_path / "works", tmp_path / "documents"
    for folder in (one, two):
        with LocalIndex.open(folder, create=True) as ix:
            ix.write(upsert=[merge([_rec("BNU", "b1", "Old book")])[0]])
    with LocalIndex.open(one) as ix:
        assert ix.write(upsert=works[:1], delete=["nothing"]) == {"upserted": 1, "deleted": 1}
    with LocalIndex.open(two) as ix:
        assert ix.write(documents=[document(w) for w in works[:1]], delete=["nothing"]) == \
            {"upserted": 1, "deleted": 1}
    assert index_content(one) == index_content(two)
    expected = json.loads(zlib.decompress(dump_work(works[0])))
    assert index_content(two)[works[0].work_id] == expected
    with LocalIndex.open(two) as ix:  # written again from documents: replaced, not doubled
        ix.write(documents=[document(w) for w in works])
        assert ix.doc_count() == len(works) + 1


def _index(store: HarvestStore, folder) -> dict:
    return write_index(store, folder, full=False, harvested={}, progress=Progress())


def _full_merge(store: HarvestStore) -> dict:
    keys = store.all_keys()
    return {w.work_id: json.loads(zlib.decompress(dump_work(w)))
            for w in merge(list(store.load(keys, renormaliser)))}


def test_a_fuzzy_block_past_its_size_is_not_compared_and_crossing_it_re_merges(tmp_path):
    """A and B (one book, A's title mistyped at its first letter) meet only in their title-suffix block
    ("…machines" in 2001). While it holds at most FUZZY_MAX records they are one edition; one more record
    makes the suffix too common to compare on, and they part; it withdrawn, they join again. Each index phase
    is incremental and equals a full merge."""
    from dedup.cluster import FUZZY_MAX

    def book(member, rid, title, author="Wirth, Niklaus"):
        return Record(member=member, record_id=rid, syntax="marc21", title=title, authors=[Author(name=author)],
                      publisher="Prentice-Hall", year=2001, extent="320 p.", holdings=[Holding(member=member)])

    a, b = book("PKU", "a", "Xtudies of dataflow machines"), book("THU", "b", "Studies of dataflow machines")
    fillers = [book("RUC", f"f{i}", f"Filler {i:03d} machines", f"Author{i:03d}, Someone")
               for i in range(FUZZY_MAX - 2)]
    store = _store(tmp_path, [a, b, *fillers])
    try:
        assert _index(store, tmp_path)["mode"] == "rebuild"
        together = index_content(tmp_path)
        assert together == _full_merge(store)
        assert any(len(w["records"]) == 2 for w in together.values())

        store.apply("BNU", upserts=[_up(book("BNU", "c", "Another machines", "Other, Person"))])
        assert _index(store, tmp_path)["mode"] == "incremental"
        apart = index_content(tmp_path)
        assert apart == _full_merge(store)
        assert all(len(w["records"]) == 1 for w in apart.values())

        store.apply("RUC", deletes=["f0"])  # back to FUZZY_MAX: A and B are compared again
        assert _index(store, tmp_path)["mode"] == "incremental"
        again = index_content(tmp_path)
        assert again == _full_merge(store)
        assert any(len(w["records"]) == 2 for w in again.values())
    finally:
        store.close()


def test_records_met_only_in_a_fuzzy_block_past_its_size_stay_apart_when_re_merged(tmp_path):
    """A and B meet only in a title-suffix block past FUZZY_MAX; A is one edition with E (a shared LCCN), B
    with D. A change to E and D alone re-merges A and B with them, and the block, which no pending record is
    in, must still count as past its size there (remembered from the phase before): A and B stay apart."""
    from dedup.cluster import FUZZY_MAX

    def book(member, rid, title, author="Wirth, Niklaus", lccn=None, copies=1):
        return Record(member=member, record_id=rid, syntax="marc21", title=title, authors=[Author(name=author)],
                      publisher="Prentice-Hall", year=2001, extent="320 p.", lccn=lccn,
                      holdings=[Holding(member=member, call_number=f"c{i}") for i in range(copies)])

    a = book("PKU", "a", "Xtudies of dataflow machines", lccn="2001012345")
    b = book("THU", "b", "Studies of dataflow machines", lccn="2001054321")
    e = book("BNU", "e", "Xtudies of dataflow machinery", lccn="2001012345")
    d = book("RUC", "d", "Studies of dataflow machines, revised", lccn="2001054321")
    fillers = [book("BIT", f"f{i}", f"Filler {i:03d} machines", f"Author{i:03d}, Someone") for i in range(FUZZY_MAX)]
    store = _store(tmp_path, [a, b, e, d, *fillers])
    try:
        assert _index(store, tmp_path)["mode"] == "rebuild"
        first = index_content(tmp_path)
        assert first == _full_merge(store)
        pairs = sorted(sorted(r["record_id"] for r in w["records"]) for w in first.values() if len(w["records"]) > 1)
        assert pairs == [["a", "e"], ["b", "d"]]

        store.apply("BNU", upserts=[_up(replace(e, holdings=book("BNU", "e", "x", copies=2).holdings))])
        store.apply("RUC", upserts=[_up(replace(d, holdings=book("RUC", "d", "x", copies=2).holdings))])
        out = _index(store, tmp_path)
        assert out["mode"] == "incremental" and out["records_merged"] < 10
        assert index_content(tmp_path) == _full_merge(store)
        assert sorted(sorted(r["record_id"] for r in w["records"]) for w in index_content(tmp_path).values()
                      if len(w["records"]) > 1) == pairs
    finally:
        store.close()


def test_a_title_block_crossing_the_year_split_size_is_compared_anew(tmp_path):
    """A and B (same book, A without a year or creator) are compared while their title block holds at most
    BIG_BLOCK records, not once it is split by year: neither changes, yet they part and join again as the block
    grows past the size and shrinks back. (The title is too short for prefix blocks and A names no creator, so
    no other block of a record without a year brings them together.)"""
    from dedup.cluster import BIG_BLOCK

    def book(member, rid, author, year):
        rec = replace(_rec(member, rid, "Dataflow", author=author or "x", year=year), extent="320 p.")
        return rec if author else replace(rec, authors=[])

    a, b = book("PKU", "a", None, None), book("THU", "b", "Wirth, Niklaus", 2001)
    fillers = [book("RUC", f"f{i}", f"Author{i:02d}, Someone", 1900 + 3 * i) for i in range(BIG_BLOCK - 2)]
    store = _store(tmp_path, [a, b, *fillers])
    try:
        assert _index(store, tmp_path)["mode"] == "rebuild"
        together = index_content(tmp_path)
        assert together == _full_merge(store)
        assert any(len(w["records"]) == 2 for w in together.values())  # A and B are one edition

        store.apply("BNU", upserts=[_up(book("BNU", "c", "Other, Person", 1700))])  # BIG_BLOCK + 1 records
        assert _index(store, tmp_path)["mode"] == "incremental"
        apart = index_content(tmp_path)
        assert apart == _full_merge(store)
        assert all(len(w["records"]) == 1 for w in apart.values())

        store.apply("BNU", deletes=["c"])  # back to BIG_BLOCK: A and B are compared again
        _index(store, tmp_path)
        assert index_content(tmp_path) == _full_merge(store) == together
    finally:
        store.close()
