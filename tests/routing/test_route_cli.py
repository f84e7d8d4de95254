"""`balis route` against the real test bed (Zebra members behind the fault proxy)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration
CJK = re.compile(r"[\u4e00-\u9fff]")


def route(*args: str, registry: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    timeout = [] if "--timeout" in args else ["--timeout", "30"]  # a loaded machine must not look like a fault
    cmd = [sys.executable, "-m", "balis.cli", "route", "--registry", str(registry), *timeout, *args]
    env = {**os.environ, "BALIS_REGISTRY": "", "BALIS_INDEX": str(tmp_path / "no-index"),
           "BALIS_DB": str(tmp_path / "no-ill.sqlite")}
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
    assert "Traceback" not in out.stderr, out.stderr
    return out


@pytest.fixture
def bed(testbed):
    testbed.clear_faults()
    yield testbed
    testbed.clear_faults()


def chinese_editions(truth: dict, holders: int) -> list[dict]:
    return [ed for ed in truth["editions"] if ed["isbn13"] and CJK.search(ed["title"])
            and ed["carrier"] == "print" and len({r.split(":")[0] for r in ed["records"]}) >= holders]


def holders_of(ed: dict) -> set[str]:
    return {r.split(":")[0] for r in ed["records"]}


def first_routable(bed, tmp_path, holders=3) -> tuple[dict, dict, str]:
    """A Chinese edition held by several members, routed for a member that does not hold it."""
    codes = [m["code"] for m in bed.status()]
    for ed in chinese_editions(bed.truth(), holders):
        home = next(c for c in codes if c not in holders_of(ed))
        out = route("--isbn", ed["isbn13"], "--home", home, "--json", registry=bed.registry_path, tmp_path=tmp_path)
        doc = json.loads(out.stdout)
        if out.returncode == 0 and len(doc["rota"]["lenders"]) >= 2:
            return ed, doc, home
    pytest.fail("no Chinese edition with two lendable holders in the test bed")


def test_route_by_isbn_gives_a_rota_of_holders_with_reasons(bed, tmp_path):
    ed, doc, home = first_routable(bed, tmp_path)
    assert doc["version"] == 1 and doc["home"] == home and doc["source"] == "live"
    assert ed["isbn13"] in doc["work"]["isbns"]
    rota = doc["rota"]
    lenders = [e["member"] for e in rota["lenders"]]
    left_out = {x["member"] for x in rota["excluded"]}
    assert set(lenders) <= holders_of(ed) and home not in lenders
    assert set(lenders) | left_out <= holders_of(ed) | {home}
    assert [e["rank"] for e in rota["lenders"]] == list(range(1, len(lenders) + 1))
    scores = [e["score"] for e in rota["lenders"]]
    assert scores == sorted(scores, reverse=True)
    for e in rota["lenders"]:
        assert e["copies"] and all(c["status"] != "not_for_loan" for c in e["copies"])
        assert "件在办" in e["text"] and e["reasons"][0] in e["text"]
    assert set(doc["live_status"]) >= set(lenders)  # the holdings came from the members just now
    assert doc["history"] == "none"
    text = route("--isbn", ed["isbn13"], "--home", home, registry=bed.registry_path, tmp_path=tmp_path)
    assert text.returncode == 0
    assert "借出馆轮转" in text.stdout and f"({lenders[0]})" in text.stdout


def test_own_library_with_a_copy_on_the_shelf_is_told_so(bed, tmp_path):
    ed, doc, _ = first_routable(bed, tmp_path)
    lender = next(e for e in doc["rota"]["lenders"] if e["availability"] == "available")
    out = route("--isbn", ed["isbn13"], "--home", lender["member"], "--json", registry=bed.registry_path,
                tmp_path=tmp_path)
    own = json.loads(out.stdout)["rota"]
    assert out.returncode == 0 and own["own_available"] and own["lenders"] == []
    assert own["own_copies"] and all(c["status"] == "available" for c in own["own_copies"])
    assert "本馆" in own["note"]


def test_a_member_that_is_down_does_not_stop_routing(bed, tmp_path):
    ed, doc, home = first_routable(bed, tmp_path)
    down = doc["rota"]["lenders"][0]["member"]
    bed.set_fault(down, mode="refuse")
    out = route("--isbn", ed["isbn13"], "--home", home, "--json", "--timeout", "5", registry=bed.registry_path,
                tmp_path=tmp_path)
    again = json.loads(out.stdout)
    assert down not in [e["member"] for e in again["rota"]["lenders"]]
    assert again["rota"]["lenders"], again["rota"]["note"]
    status = {m["code"]: m["status"] for m in again["members"]}
    assert status[down] != "ok"


def test_suspended_holder_is_neither_searched_nor_asked(bed, tmp_path):
    ed, doc, home = first_routable(bed, tmp_path)
    victim = doc["rota"]["lenders"][0]["member"]
    text = bed.registry_path.read_text(encoding="utf-8")
    head, sep, rest = text.partition(f'code = "{victim}"')
    rest = rest.replace('status = "active"', 'status = "suspended"\nsuspended_reason = "系统迁移"', 1)
    reg = tmp_path / "registry.toml"
    reg.write_text(head + sep + rest, encoding="utf-8")
    out = route("--isbn", ed["isbn13"], "--home", home, "--json", registry=reg, tmp_path=tmp_path)
    doc = json.loads(out.stdout)
    assert out.returncode == 0 and victim not in [e["member"] for e in doc["rota"]["lenders"]]
    assert doc["rota"]["lenders"]  # the other holders still lend
    assert {m["code"]: m["reason"] for m in doc["members"]}[victim] is not None  # reported as not asked


def test_english_book_is_not_lent_under_the_default_policy(bed, tmp_path):
    truth = bed.truth()
    codes = [m["code"] for m in bed.status()]
    english = [ed for ed in truth["editions"] if ed["isbn13"] and not CJK.search(ed["title"])
               and ed["carrier"] == "print" and not holders_of(ed) & {"THU", "PKU"}]
    assert english, "the test bed has English editions held outside THU and PKU"
    ed = english[0]
    home = next(c for c in codes if c not in holders_of(ed) and c not in ("THU", "PKU"))
    out = route("--isbn", ed["isbn13"], "--home", home, "--json", registry=bed.registry_path, tmp_path=tmp_path)
    doc = json.loads(out.stdout)
    assert out.returncode == 1 and doc["rota"]["lenders"] == []
    assert all("语种" in x["reason"] or "不外借" in x["reason"] for x in doc["rota"]["excluded"])
    assert "没有可以借出的成员馆" in out.stderr


def test_work_id_is_picked_from_the_query_results(bed, tmp_path):
    ed, doc, home = first_routable(bed, tmp_path)
    wid = doc["work"]["work_id"]
    out = route("--work", wid, "--isbn", ed["isbn13"], "--home", home, "--json", registry=bed.registry_path,
                tmp_path=tmp_path)
    assert out.returncode == 0 and json.loads(out.stdout)["work"]["work_id"] == wid
    out = route("--work", "W0000000000000000", "--isbn", ed["isbn13"], "--home", home,
                registry=bed.registry_path, tmp_path=tmp_path)
    assert out.returncode == 1 and "not among" in out.stderr
    out = route("--work", wid, "--home", home, registry=bed.registry_path, tmp_path=tmp_path)
    assert out.returncode == 1 and "not in the local index" in out.stderr


@pytest.mark.parametrize("args, code, fragment", [
    (["--isbn", "9787111111111", "--home", "NOPE"], 2, "unknown home library 'NOPE'"),
    (["--home", "THU"], 2, "say which edition"),
    (["--isbn", "12345", "--home", "THU"], 2, "is not an ISBN"),
    (["--isbn", "9787111111111", "ti:x", "--home", "THU"], 2, "either --isbn or a query"),
    (["--isbn", "9780000000002", "--home", "THU"], 1, "nothing found"),
    (["ti:xyzzyplughfrob", "--home", "THU", "--max-lenders", "0"], 2, "--max-lenders"),
])
def test_clear_errors(bed, tmp_path, args, code, fragment):
    out = route(*args, registry=bed.registry_path, tmp_path=tmp_path)
    assert out.returncode == code and fragment in out.stderr and out.stderr.startswith("balis: ")


def test_history_from_the_ill_store_moves_a_lender_that_keeps_failing(bed, tmp_path):
    from ill import machine as m
    from ill.store import Store

    ed, doc, home = first_routable(bed, tmp_path)
    first, second = (e["member"] for e in doc["rota"]["lenders"][:2])
    db = tmp_path / "ill.sqlite"
    with Store(db) as store:
        store.add_user("staff-1", "staff", first)
        for i in range(12):  # twelve requests the first lender answered Unfilled (each then went on to the second)
            store.add_user(f"reader-{i}", "reader", home)
            req = store.submit(f"reader-{i}", work_id=doc["work"]["work_id"], title="t", rota=[first, second])
            store.act(req["id"], m.ANSWER_UNFILLED, "staff-1", reason="架上未找到")
    out = route("--isbn", ed["isbn13"], "--home", home, "--json", "--db", str(db), registry=bed.registry_path,
                tmp_path=tmp_path)
    again = json.loads(out.stdout)
    assert out.returncode == 0 and again["history"] == "ill store", out.stderr
    entries = {e["member"]: e for e in again["rota"]["lenders"]}
    assert {first, second} <= set(entries), (again["rota"], [(m["code"], m["status"]) for m in again["members"]])
    assert entries[first]["requests"] == 12 and entries[first]["filled"] == 0
    assert "满足率 0.0 %（12 次）" in entries[first]["text"]
    assert entries[second]["open"] == 12  # the forwarded requests are in its hands now
    codes = [e["member"] for e in again["rota"]["lenders"]]
    assert codes.index(first) > 0  # no longer asked first


async def _local_index_with(bed, tmp_path, ed, doc, status: str | None):
    """A local index holding the routed edition (its holdings set to `status` when given)."""
    from dataclasses import replace

    from connectors.query import parse
    from dedup.work import Work
    from federator.federation import Federator
    from indexer.index import LocalIndex
    from members import load_registry

    async with Federator(load_registry(bed.registry_path).members) as fed:
        result = await fed.run(parse(f"isbn:{ed['isbn13']}"), per_member=20, timeout=30)
    work = next(w for w in result.works if w.work_id == doc["work"]["work_id"])
    if status:
        work = Work(work.work_id, work.display, work.records,
                    [replace(h, status=status, due_date="2027-06-30") for h in work.holdings], work.isbns,
                    work.group_id)
    folder = tmp_path / "index"
    with LocalIndex.open(folder, create=True) as ix:
        ix.write(upsert=[work])
    return folder


async def test_work_from_the_local_index_is_rechecked_live(bed, tmp_path):
    ed, doc, home = first_routable(bed, tmp_path)
    folder = await _local_index_with(bed, tmp_path, ed, doc, status="on_loan")  # the index is out of date
    wid = doc["work"]["work_id"]
    stale = route("--work", wid, "--home", home, "--index", str(folder), "--no-live", "--json",
                  registry=bed.registry_path, tmp_path=tmp_path)
    stale_doc = json.loads(stale.stdout)
    assert stale.returncode == 0 and stale_doc["source"] == "local" and stale_doc["live_status"] == []
    assert {e["availability"] for e in stale_doc["rota"]["lenders"]} == {"on_loan"}
    fresh = route("--work", wid, "--home", home, "--index", str(folder), "--json", registry=bed.registry_path,
                  tmp_path=tmp_path)
    fresh_doc = json.loads(fresh.stdout)
    assert fresh.returncode == 0 and fresh_doc["source"] == "local"
    live = {e["member"]: e["availability"] for e in doc["rota"]["lenders"]}
    again = {e["member"]: e["availability"] for e in fresh_doc["rota"]["lenders"]}
    assert set(fresh_doc["live_status"]) >= set(live)
    assert again == live  # the members' own answers replaced the index's stale statuses


def test_the_editions_matched_are_listed_print_first_for_a_loan(bed, tmp_path, carrier_pair):
    """A title with a print edition and an e-book: the print one is chosen for a loan, both are listed to choose
    from with --work, and the e-book can be chosen."""
    ebook, printed = carrier_pair
    home = next(m["code"] for m in bed.status() if m["code"] not in holders_of(printed))
    out = route(f'ti:"{printed["title"]}"', "--home", home, "--json", registry=bed.registry_path, tmp_path=tmp_path)
    doc = json.loads(out.stdout)
    assert printed["isbn13"] in doc["work"]["isbns"] and doc["work"]["material_type"] != "ebook"
    listed = {e["work_id"]: e for e in doc["editions"]}
    (ebook_id,) = [w for w, e in listed.items() if ebook["isbn13"] in e["isbns"]]
    assert listed[ebook_id]["electronic"] and not listed[ebook_id]["chosen"]
    out = route(f'ti:"{printed["title"]}"', "--home", home, registry=bed.registry_path, tmp_path=tmp_path)
    assert "匹配的版本 editions matched" in out.stdout and f"   {ebook_id}" in out.stdout and "电子版 e-book" in out.stdout
    out = route(f'ti:"{printed["title"]}"', "--work", ebook_id, "--home", home, "--json", registry=bed.registry_path,
                tmp_path=tmp_path)
    assert json.loads(out.stdout)["work"]["work_id"] == ebook_id
