"""The generated catalogues: deterministic, realistic variants of one edition, hard negatives kept apart."""

from __future__ import annotations

import io
import json
import re
from collections import Counter, defaultdict

import opencc
import pymarc
import pytest

from testbed.generate import isbn_forms, plan_catalogues, render_member, truth, write_collection
from testbed.members import member_profiles

SEED = 20071130
T2S = opencc.OpenCC("t2s")


@pytest.fixture(scope="module")
def plan():
    return plan_catalogues(SEED, member_profiles(8), 200)


@pytest.fixture(scope="module")
def records(plan) -> dict[str, pymarc.Record]:
    """Every rendered record, parsed back with pymarc, keyed MEMBER:001."""
    out = {}
    for m in plan.members:
        for data in render_member(plan, m.code):
            xml = b'<collection xmlns="http://www.loc.gov/MARC21/slim">' + data + b"</collection>"
            rec = pymarc.parse_xml_to_array(io.BytesIO(xml))[0]
            out[f"{m.code}:{rec['001'].data}"] = rec
    return out


@pytest.fixture(scope="module")
def syntax_of(plan) -> dict[str, str]:
    return {m.code: m.syntax for m in plan.members}


def _first(rec: pymarc.Record, tag: str, code: str) -> str:
    for f in rec.get_fields(tag):
        vals = f.get_subfields(code)
        if vals:
            return vals[0]
    return ""


def _isbn(rec: pymarc.Record, syntax: str) -> str:
    return _first(rec, "010", "a") if syntax == "unimarc" else _first(rec, "020", "a")


def _title(rec: pymarc.Record, syntax: str) -> str:
    if syntax == "unimarc":
        return _first(rec, "200", "a")
    for f in rec.get_fields("880"):
        if (f.get_subfields("6") or [""])[0].startswith("245"):
            return f.get_subfields("a")[0]
    return _first(rec, "245", "a")


def test_same_seed_same_bytes_and_truth(tmp_path):
    a = plan_catalogues(SEED, member_profiles(4), 60)
    b = plan_catalogues(SEED, member_profiles(4), 60)
    for m in a.members:
        assert list(render_member(a, m.code)) == list(render_member(b, m.code))
    assert json.dumps(truth(a), ensure_ascii=False) == json.dumps(truth(b), ensure_ascii=False)
    c = plan_catalogues(SEED + 1, member_profiles(4), 60)
    assert list(render_member(a, "THU")) != list(render_member(c, "THU"))


def test_sizes_are_honoured(tmp_path):
    p = plan_catalogues(SEED, member_profiles(3), {"THU": 50, "PKU": 7, "RUC": 0})
    assert [len(p.copies[c]) for c in ("THU", "PKU", "RUC")] == [50, 7, 0]
    assert write_collection(render_member(p, "THU"), tmp_path / "thu.xml") == 50


def test_record_ids_unique_and_truth_covers_every_record(plan, records):
    t = truth(plan)
    listed = [r for e in t["editions"] for r in e["records"]]
    assert len(listed) == len(set(listed)) == len(records)
    assert set(listed) == set(records)
    assert t["members"]["THU"]["records"] == 200


def test_real_seed_records_are_in_the_catalogues(plan, records):
    # the CNMARC sample '94中国发展报告 (001 990002180740203961) is served unchanged by some CNMARC member
    hits = [k for k in records if k.endswith(":990002180740203961")]
    assert hits
    rec = records[hits[0]]
    assert "中国发展报告" in rec["200"]["a"]
    assert rec.get_fields("995"), "items added to the real record"


def test_one_edition_catalogued_differently(plan, records, syntax_of):
    forms = Counter()
    cross_format = trad = 0
    t = truth(plan)
    for e in t["editions"]:
        if len(e["records"]) < 2 or not e["isbn13"]:
            continue
        syn = {syntax_of[r.split(":")[0]] for r in e["records"]}
        cross_format += syn == {"marc21", "unimarc"}
        for r in e["records"]:
            isbn = _isbn(records[r], syntax_of[r.split(":")[0]]).split(" ")[0]
            digits = re.sub(r"\D", "", isbn)
            kind = "none" if not isbn else f"{len(digits) if not isbn.endswith('X') else 10}{'h' if '-' in isbn else ''}"
            forms[kind] += 1
            title = _title(records[r], syntax_of[r.split(":")[0]])
            trad += any(ch in title for ch in "國發展報歷學經濟與為")
    assert {"13h", "13", "10h", "10", "none"} <= set(forms), forms
    assert cross_format > 20
    assert trad > 0


def test_isbn_forms_are_valid_and_agree():
    from stdnum import isbn

    i13 = "9787503717444"
    assert isbn.is_valid(i13)
    assert isbn_forms(i13, "13h") == "978-7-5037-1744-4"
    assert isbn_forms(i13, "10h") == "7-5037-1744-0"
    assert isbn_forms(i13, "10") == "7503717440"
    assert isbn.to_isbn13(isbn_forms(i13, "10")) == i13


def test_hard_negatives_of_every_kind_are_distinct_editions(plan, records, syntax_of):
    t = truth(plan)
    by_id = {e["id"]: e for e in t["editions"]}
    reasons = Counter(n["reason"] for n in t["hard_negatives"])
    assert set(reasons) == {"edition", "volume", "publisher", "translator", "carrier"}, reasons
    for n in t["hard_negatives"]:
        a, b = by_id[n["a"]], by_id[n["b"]]
        assert a["title"] == b["title"]  # they look alike, which is the point
        assert not set(a["records"]) & set(b["records"])
        if a["isbn13"] and b["isbn13"]:
            assert a["isbn13"] != b["isbn13"]
        differs = {"edition": a["edition"] != b["edition"], "volume": a["part"] != b["part"],
                   "publisher": a["publisher"] != b["publisher"], "carrier": a["carrier"] != b["carrier"],
                   "translator": True}[n["reason"]]
        assert differs, n


def test_volume_and_edition_statements_in_records(plan, records, syntax_of):
    t = truth(plan)
    by_id = {e["id"]: e for e in t["editions"]}
    seen = defaultdict(set)
    for n in t["hard_negatives"]:
        if n["reason"] not in ("volume", "edition"):
            continue
        for key in (n["a"], n["b"]):
            for r in by_id[key]["records"]:
                rec, syn = records[r], syntax_of[r.split(":")[0]]
                if n["reason"] == "volume":
                    part = _first(rec, "200", "h") if syn == "unimarc" else _first(rec, "245", "n")
                    part = part or _first(rec, "880", "n")
                    seen["volume"].add(part)
                else:
                    ed = _first(rec, "205", "a") if syn == "unimarc" else _first(rec, "250", "a")
                    seen["edition"].add(ed or _first(rec, "880", "a"))
    assert {"上册", "下册"} <= seen["volume"]
    assert any(re.match(r"第\d版", e) for e in seen["edition"])


def test_holdings_in_item_fields(plan, records, syntax_of):
    statuses = Counter()
    for key, rec in records.items():
        code = key.split(":")[0]
        if syntax_of[code] == "unimarc":
            items = rec.get_fields("995")
            assert items, key
            for f in items:
                assert f.get("b") == code and f.get("k") and f.get("f")
                statuses["notforloan" if f.get("o") == "1" else "onloan" if f.get("n") else "available"] += 1
        else:
            items = rec.get_fields("952")
            assert items, key
            for f in items:
                assert f.get("a") == code and f.get("o") and f.get("p")
                statuses["notforloan" if f.get("7") == "1" else "onloan" if f.get("q") else "available"] += 1
    assert statuses["available"] > statuses["onloan"] > 0 and statuses["notforloan"] > 0
    due = [f.get("q") or f.get("n") for r in records.values() for f in r.get_fields("952", "995")
           if f.get("q") or f.get("n")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d", d) for d in due)


def test_marc21_and_cnmarc_copies_map_the_same_facts(plan, records, syntax_of):
    """245↔200, 020↔010, 260/264↔210, 650↔606, 084↔690 for copies that made no variant choices."""
    checked = 0
    for e in truth(plan)["editions"]:
        if e["seed"] or not e["isbn13"]:
            continue
        copies = {syntax_of[r.split(":")[0]]: r for r in e["records"]}
        if set(copies) != {"marc21", "unimarc"}:
            continue
        m21, uni = records[copies["marc21"]], records[copies["unimarc"]]
        if not m21.get_fields("084") or m21.get_fields("880"):
            continue
        assert _first(m21, "084", "a") == _first(uni, "690", "a")
        assert [T2S.convert(f["a"]) for f in m21.get_fields("650")] == [T2S.convert(f["a"]) for f in uni.get_fields("606")]
        assert re.sub(r"\D", "", _first(m21, "264", "c"))[:4] == re.sub(r"\D", "", _first(uni, "210", "d"))[:4]
        checked += 1
    assert checked > 10


def test_marc8_member_romanises_with_880(plan, records):
    buaa = [r for k, r in records.items() if k.startswith("BUAA:") and r.get_fields("880")]
    assert buaa
    rec = buaa[0]
    link = rec["245"]["6"]
    assert link.startswith("880-")
    assert not re.search("[\u4e00-\u9fff]", rec["245"]["a"])
