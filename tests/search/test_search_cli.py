"""`balis search` against the real test bed: every member in parallel, each outcome reported, faults contained."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from connectors.query import parse
from federator.fanout import search
from members import load_registry
from records.fold import fold, is_cjk, to_traditional

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def balis(*args: str, registry: Path | None = None) -> subprocess.CompletedProcess:
    extra = ["--registry", str(registry)] if registry else []
    cmd = [sys.executable, "-m", "balis.cli", args[0], *extra, *args[1:]]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "BALIS_REGISTRY": ""})


def run_json(bed, *args: str) -> dict:
    out = balis("search", "--json", *args, registry=bed.registry_path)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def bed(testbed):
    testbed.clear_faults()
    yield testbed
    testbed.clear_faults()


def records_of(truth: dict) -> dict[str, dict]:
    """MEMBER:record_id → the edition it belongs to."""
    return {r: ed for ed in truth["editions"] for r in ed["records"]}


def has_cjk(text: str) -> bool:
    return any("CJK" in unicodedata.name(c, "") for c in text)


def test_every_member_answers_with_its_records_in_one_model(bed):
    doc = run_json(bed, "中国", "--max", "5")
    assert doc["version"] == 1 and doc["query"]["text"] == "中国"
    assert "1016" in doc["query"]["pqf"]
    members = {m["code"]: m for m in doc["members"]}
    profiles = {m["code"]: m for m in bed.status()}
    assert set(members) == set(profiles)
    owners = records_of(bed.truth())
    for code, m in members.items():
        assert m["status"] == "ok", m
        assert m["protocol"] == ("sru" if profiles[code]["protocols"] == ["sru"] else "z3950")
        assert m["hits"] >= len(m["records"]) > 0
        assert isinstance(m["ms"], int) and m["error"] is None
        for r in m["records"]:
            assert f"{code}:{r['record_id']}" in owners, (code, r["record_id"])
            assert r["title"] and "\ufffd" not in r["title"]
            assert {"record_id", "title", "authors", "year", "isbns", "holdings"} <= set(r)
    # GBK (RUC) and CNMARC members deliver readable Chinese; every holding has a known status
    for code in ("RUC", "PKU", "NCEPU"):
        assert any(has_cjk(r["title"]) for r in members[code]["records"]), members[code]["records"]
    statuses = {h["status"] for m in members.values() for r in m["records"] for h in r["holdings"]}
    assert statuses <= {"available", "on_loan", "not_for_loan", "unknown"} and "available" in statuses


def test_isbn_finds_the_edition_whichever_form_members_catalogued(bed):
    truth = bed.truth()
    owners = records_of(truth)
    # an edition with an ISBN held by several members, some MARC21 and some CNMARC
    syntax = {c: m["syntax"] for c, m in truth["members"].items()}
    candidates = [ed for ed in truth["editions"] if ed["isbn13"] and
                  len({syntax[r.split(":")[0]] for r in ed["records"]}) == 2 and len(ed["records"]) >= 4]
    assert candidates, "the generator should produce editions held across MARC21 and CNMARC members"
    found_any = 0
    for ed in candidates[:3]:
        isbn = ed["isbn13"]
        hyphenated = f"{isbn[:3]}-{isbn[3]}-{isbn[4:8]}-{isbn[8:12]}-{isbn[12]}"
        for form in (isbn, hyphenated):
            doc = run_json(bed, f"isbn:{form}")
            hits = [(m["code"], r) for m in doc["members"] for r in m["records"]]
            for code, r in hits:
                # every record found belongs to an edition with this ISBN (print and e-book differ)
                assert owners[f"{code}:{r['record_id']}"]["isbn13"] == isbn
            found_any = max(found_any, len({c for c, _ in hits}))
    assert found_any >= 2


def test_isbn_10_query_finds_records_catalogued_with_isbn_13(bed):
    from stdnum import isbn as stdisbn

    truth = bed.truth()
    ed = next(e for e in truth["editions"] if e["isbn13"] and e["isbn13"].startswith("978")
              and len(e["records"]) >= 3)
    isbn10 = stdisbn.to_isbn10(ed["isbn13"])
    doc = run_json(bed, f"isbn:{isbn10}")
    found = {f"{m['code']}:{r['record_id']}" for m in doc["members"] for r in m["records"]}
    assert found & set(ed["records"])


def test_an_isbn_pasted_into_the_box_is_searched_as_an_isbn(bed):
    """Readers paste an ISBN, bare or hyphenated, without isbn:; it finds every copy however catalogued."""
    from stdnum import isbn as stdisbn

    ed = next(e for e in bed.truth()["editions"] if e["isbn13"] and e["isbn13"].startswith("978")
              and len(e["records"]) >= 3)
    for typed in (ed["isbn13"], stdisbn.format(ed["isbn13"]), stdisbn.to_isbn10(ed["isbn13"])):
        doc = run_json(bed, typed)
        assert doc["query"]["cql"].startswith("bath.isbn = "), doc["query"]
        found = {key for w in doc["works"] for key in w["records"]}
        assert set(ed["records"]) <= found, (typed, sorted(set(ed["records"]) - found))


def test_faults_cost_only_the_member_that_has_them(bed):
    bed.set_fault("RUC", mode="refuse")
    bed.set_fault("BUAA", latency_ms=4000)
    bed.set_fault("BNU", mode="garbage")
    bed.set_fault("NCEPU", mode="drop")
    doc = run_json(bed, "中国", "--timeout", "5")  # BUAA needs ~8 s (Init and search); the others ~30 ms
    members = {m["code"]: m for m in doc["members"]}
    assert members["RUC"]["status"] == "error" and members["RUC"]["error"]
    assert members["BUAA"]["status"] == "timeout" and "5 s" in members["BUAA"]["error"]
    assert members["BNU"]["status"] == "error" and members["BNU"]["error"]
    assert members["NCEPU"]["status"] == "error" and members["NCEPU"]["error"]
    for code in ("THU", "PKU", "USTB", "BUPT"):
        assert members[code]["status"] == "ok" and members[code]["records"], members[code]


def test_text_output_names_each_failure(bed):
    bed.set_fault("RUC", mode="refuse")
    out = balis("search", "中国", "--max", "1", registry=bed.registry_path)
    assert out.returncode == 0
    line = next(x for x in out.stdout.splitlines() if x.startswith("== RUC"))
    assert "error" in line
    assert any(x.startswith("== THU") and " ok: " in x for x in out.stdout.splitlines())


def test_no_member_answering_exits_non_zero_with_a_message(bed):
    for code in ("THU", "PKU"):
        bed.set_fault(code, mode="refuse")
    out = balis("search", "中国", "--members", "THU,PKU", registry=bed.registry_path)
    assert out.returncode == 1
    assert "no member answered" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("query, says, zh", [('ti:"unclosed', "quotation", "引号没有配对"), ("(中国", "parenthes", "括号"),
                                             ("zz:word", "zz", "没有检索字段 zz:"), ("AND", "", "AND 前面没有检索词")])
def test_bad_query_is_refused_before_any_member_is_asked(bed, query, says, zh):
    out = balis("search", query, registry=bed.registry_path)
    assert out.returncode == 2
    assert "query not understood" in out.stderr and says in out.stderr.lower() and zh in out.stderr
    assert "Traceback" not in out.stderr and not out.stdout


def test_unknown_member_code_is_named(bed):
    out = balis("search", "中国", "--members", "THU,NOPE", registry=bed.registry_path)
    assert out.returncode == 2 and "NOPE" in out.stderr


def test_suspended_and_unreachable_members_are_reported_not_dropped(bed, tmp_path):
    text = bed.registry_path.read_text(encoding="utf-8")
    # suspend PKU, and add a member with no endpoint
    text = text.replace('code = "PKU"', 'code = "PKU"\nsuspended_reason = "系统迁移"', 1)
    head, sep, tail = text.partition('code = "PKU"')
    tail = tail.replace('status = "active"', 'status = "suspended"', 1)
    text = head + sep + tail + '\n[[member]]\ncode = "NLC"\nname = "国家图书馆"\n'
    reg = tmp_path / "registry.toml"
    reg.write_text(text, encoding="utf-8")
    doc = run_json(bed, "中国", "--members", "THU,PKU,NLC", "--registry", str(reg))
    members = {m["code"]: m for m in doc["members"]}
    assert members["PKU"]["status"] == "skipped" and "系统迁移" in members["PKU"]["error"]
    assert members["NLC"]["status"] == "skipped" and "endpoint" in members["NLC"]["error"]
    assert members["THU"]["status"] == "ok"


def test_protocol_choice_skips_members_without_it(bed):
    doc = run_json(bed, "中国", "--protocol", "sru")
    members = {m["code"]: m for m in doc["members"]}
    assert members["RUC"]["status"] == "skipped" and "sru" in members["RUC"]["error"]
    assert all(m["protocol"] == "sru" for m in members.values() if m["status"] == "ok")


@pytest.mark.parametrize("text", ["中国", "ti:发展报告", "au:国家统计局", "中国 AND 报告", "history",
                                  'ti:"中国发展报告"', "中国 NOT 统计", "year:1999", "year:>=2005",
                                  "中国 AND year:<2000"])
async def test_sru_and_z3950_give_the_same_hits_and_records(testbed, text):
    registry = load_registry(testbed.registry_path)
    both = [m for m in registry if set(m.protocols) == {"sru", "z3950"}]
    assert len(both) >= 4
    query = parse(text)
    by_z = {o.code: o for o in await search(both, query, protocol="z3950", max_records=20)}
    by_sru = {o.code: o for o in await search(both, query, protocol="sru", max_records=20)}
    for m in both:
        z, s = by_z[m.code], by_sru[m.code]
        assert z.status == s.status == "ok", (z.error, s.error)
        assert z.hits == s.hits, (m.code, text)
        assert [r.record_id for r in z.records] == [r.record_id for r in s.records]
        for a, b in zip(z.records, s.records, strict=True):
            # a MARC-8 member drops characters MARC-8 cannot carry (’), so compare the match keys
            assert fold(a.title) == fold(b.title), (m.code, m.charset, a.title, b.title)
            assert not a.warnings and not b.warnings, (a.warnings, b.warnings)


async def test_year_searches_answer_on_every_member_over_either_protocol(testbed):
    """Every member indexes the year of publication as a year (Bib-1 1=31 4=4; dc.date over SRU), so
    year:2009 and year ranges answer everywhere, and a range holds what its years hold."""
    registry = load_registry(testbed.registry_path)
    members = [m for m in registry if m.queryable]
    outcomes = {}
    for text in ("year:>=2000", "year:<2000", "year:>=2000 OR year:<2000", "中国"):
        outcomes[text] = {o.code: o for o in await search(members, parse(text), max_records=1)}
        assert all(o.status == "ok" for o in outcomes[text].values()), \
            [(o.code, o.error) for o in outcomes[text].values() if o.status != "ok"]
    for m in members:
        newer, older = outcomes["year:>=2000"][m.code].hits, outcomes["year:<2000"][m.code].hits
        assert newer > 0 and older > 0, m.code
        assert newer + older == outcomes["year:>=2000 OR year:<2000"][m.code].hits


def test_a_year_range_as_readers_write_it(bed):
    """year:2000-2010 (or 2000年至2010年) is the range, at every member; a year that is not one is refused
    before any member is asked."""
    doc = run_json(bed, "year:2000年至2010年")
    assert doc["query"]["cql"] == "dc.date >= 2000 and dc.date <= 2010"
    assert doc["works"] and all(2000 <= w["year"] <= 2010 for w in doc["works"])
    assert all(m["status"] == "ok" and m["hits"] for m in doc["members"] if m["code"] in ("THU", "PKU", "RUC"))
    out = balis("search", "year:二〇〇九", registry=bed.registry_path)
    assert out.returncode == 2 and not out.stdout
    assert "year: takes a year such as 2009, a range such as 2000-2010" in out.stderr and "Traceback" not in out.stderr


def test_json_merges_members_records_into_works_with_facets(bed):
    doc = run_json(bed, "中国", "--max", "20")
    owners = records_of(bed.truth())
    listed = [r for m in doc["members"] for r in m["records"]]
    in_works = [key for w in doc["works"] for key in w["records"]]
    # every member record is in exactly one work, and a work never mixes editions of the ground truth
    assert sorted(in_works) == sorted(f"{m['code']}:{r['record_id']}" for m in doc["members"]
                                      for r in m["records"])
    assert len(in_works) == len(listed)
    for w in doc["works"]:
        assert len({owners[k]["id"] for k in w["records"]}) == 1, w["records"]
        assert {"work_id", "title", "authors", "year", "edition", "isbns", "holdings"} <= set(w)
        assert set(w["members"]) == {k.split(":")[0] for k in w["records"]}
        for h in w["holdings"]:
            assert {"member", "record_id", "call_number", "status"} <= set(h)
    assert any(len(w["members"]) > 1 for w in doc["works"])
    member_facet = {f["value"]: f["count"] for f in doc["facets"]["member"]}
    for code, count in member_facet.items():
        assert count == sum(code in w["members"] for w in doc["works"])


def test_facet_filter_keeps_only_matching_works(bed):
    doc = run_json(bed, "中国", "--max", "20", "--facet", "member=RUC")
    assert doc["works"] and all("RUC" in w["members"] for w in doc["works"])
    assert doc["selected_facets"] == {"member": ["RUC"]}
    out = balis("search", "中国", "--facet", "colour=red", registry=bed.registry_path)
    assert out.returncode == 2 and "--facet" in out.stderr


def test_stream_prints_events_as_members_answer(bed):
    out = balis("search", "中国", "--stream", "--max", "2", registry=bed.registry_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    asked = [x for x in lines if x.startswith("-> ")]
    merged = [i for i, x in enumerate(lines) if "merged view" in x]
    assert len(asked) == len(bed.status())
    arrived = [i for i, x in enumerate(lines) if x.startswith("<- ")]
    # merged views are coalesced: the first after the first records, the last after every member's records
    assert 1 <= len(merged) <= len(bed.status()) and len(arrived) == len(bed.status())
    assert arrived[0] < merged[0] and merged[-1] > arrived[-1]
    assert f"from {len(bed.status())} members" in lines[merged[-1]]
    first_done = next(i for i, x in enumerate(lines) if x.startswith("== "))
    assert merged[0] < max(i for i, x in enumerate(lines) if x.startswith("== "))
    assert first_done < len(lines) - 1


def test_each_search_starts_with_the_members_seen_fastest_and_slowest(bed, tmp_path):
    """Every `balis search` is a new process: the members' answer times are kept in a file between them."""
    times = tmp_path / "answer-times.json"
    env = {**os.environ, "BALIS_REGISTRY": "", "BALIS_ANSWER_TIMES": str(times)}
    codes = [m["code"] for m in bed.status()]
    latency = {"RUC": 500, "PKU": 0}
    for code, ms in latency.items():
        bed.set_fault(code, latency_ms=ms)

    def asked(query: str) -> list[str]:
        cmd = [sys.executable, "-m", "balis.cli", "search", "--registry", str(bed.registry_path), query,
               "--stream", "--max", "2"]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
        assert out.returncode == 0, out.stderr
        return [line.split()[1] for line in out.stdout.splitlines() if line.startswith("-> ")]

    assert asked("中国") == codes  # nothing known yet: the registry's order
    kept = json.loads(times.read_text())["members"]
    assert set(kept) == set(codes) and kept["RUC"]["ms"] > kept["PKU"]["ms"]
    first, second = asked("研究")[:2]  # the next command: the fastest and the slowest first
    times_kept = [entry["ms"] for entry in kept.values()]  # two members may tie at the file's 0.1 ms
    assert (kept[first]["ms"], kept[second]["ms"]) == (min(times_kept), max(times_kept))
    assert second == "RUC"


def test_an_ebook_is_told_apart_from_its_print_edition(bed, carrier_pair):
    ebook, printed = carrier_pair
    out = balis("search", f'ti:"{ebook["title"]}"', registry=bed.registry_path)
    assert out.returncode == 0, out.stderr
    lines = {isbn: line for line in out.stdout.splitlines() for isbn in (ebook["isbn13"], printed["isbn13"])
             if f"ISBN {isbn}" in line}
    assert "电子书" in lines[ebook["isbn13"]]
    assert "电子书" not in lines[printed["isbn13"]]


def test_either_script_finds_the_copies_catalogued_in_the_other(bed):
    """BNU catalogues most of its Chinese books in traditional characters, the other members in simplified:
    a reader typing the title in either script finds the copies of every member."""
    held = [e for e in bed.truth()["editions"] if is_cjk(e["title"]) and not e["part"]
            and len({r.split(":")[0] for r in e["records"]} & {"BNU"}) and len(e["records"]) > 1][:6]
    assert held
    for e in held:
        for title in (e["title"], to_traditional(e["title"])):
            doc = run_json(bed, f'ti:"{title}"', "--max", "50")
            found = {key for w in doc["works"] for key in w["records"]}
            assert set(e["records"]) <= found, (title, sorted(set(e["records"]) - found))

