"""`balis request ...` and `balis stats` as staff and scripts use them (real SQLite store, real registry)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from balis.cli import main

REGISTRY = str(Path(__file__).resolve().parents[2] / "config" / "members.toml")


@pytest.fixture
def run(tmp_path, capsys):
    db = str(tmp_path / "ill.sqlite")

    def balis(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--db", db, "--registry", REGISTRY])
        out, err = capsys.readouterr()
        return code, out, err

    for uid, role, member in (("r1", "reader", "THU"), ("thu", "staff", "THU"), ("pku", "staff", "PKU"),
                              ("ruc", "staff", "RUC"), ("admin", "admin", None)):
        argv = ["request", "user", "add", uid, "--role", role] + (["--member", member] if member else [])
        assert balis(*argv)[0] == 0
    return balis


def submit(run, *extra, work="W1"):
    code, out, err = run("request", "submit", "--as", "r1", "--work", work, "--title", "数据结构",
                         "--rota", "PKU,RUC", "--json", *extra)
    assert code == 0, err
    return json.loads(out)["request"]


def test_submit_act_show_in_json_and_text(run):
    r = submit(run, "--price", "38")
    assert (r["status"], r["lender"], r["price"]) == ("RequestReceived", "PKU", 38)
    assert r["submitted_at"].endswith("Z")
    code, out, _ = run("request", "act", str(r["id"]), "WillSupply", "--as", "pku")
    assert code == 0 and "WillSupply" in out and "可执行" in out
    code, out, _ = run("request", "act", str(r["id"]), "ship", "--as", "pku", "--json")
    assert json.loads(out)["request"]["phase"] == "transit"
    code, out, _ = run("request", "show", str(r["id"]))
    assert "操作记录" in out and "pku (lender)  ship: WillSupply → Loaned/transit" in out
    code, out, _ = run("request", "show", str(r["id"]), "--json")
    doc = json.loads(out)
    assert doc["version"] == 1 and [a["action"] for a in doc["audit"]] == ["submit", "WillSupply", "ship"]
    assert doc["lenders"][0]["outcome"] == "supplied"


def test_refusals_exit_1_with_one_clear_line(run):
    r = submit(run)
    code, out, err = run("request", "act", str(r["id"]), "check_in", "--as", "pku")
    assert code == 1 and out == ""
    assert err.startswith("balis: 申请单 1: 当前状态 RequestReceived 不能执行 'check_in'") and "Traceback" not in err
    code, _, err = run("request", "act", str(r["id"]), "WillSupply", "--as", "ruc")
    assert code == 1 and "staff of the lender (PKU)" in err
    for n in range(2):
        submit(run, work=f"W1-{n}")
    code, _, err = run("request", "submit", "--as", "r1", "--work", "W2", "--rota", "PKU")
    assert code == 1 and "已有 3 册" in err


def test_input_errors_exit_2(run):
    code, _, err = run("request", "submit", "--as", "r1", "--work", "W1", "--rota", "PKU,NOPE")
    assert code == 2 and "NOPE" in err and "balis members" in err
    code, _, err = run("request", "submit", "--as", "r1")
    assert code == 2 and "--work" in err
    code, _, err = run("request", "show", "42")
    assert code == 2 and "no request 42" in err
    code, _, err = run("request", "list", "--since", "yesterday")
    assert code == 2 and "YYYY-MM-DD" in err
    code, _, err = run("stats", "--month", "2025-13")
    assert code == 2 and "YYYY-MM" in err


def test_cancel_list_and_history_search(run):
    a = submit(run)
    code, out, _ = run("request", "cancel", str(a["id"]), "--as", "r1")
    assert code == 0 and "Cancelled" in out
    run("request", "submit", "--as", "r1", "--citation", "王力. 古代汉语. 中华书局, 1999", "--kind", "copy")
    code, out, _ = run("request", "list", "--reader", "r1", "--title", "古代汉语")
    assert code == 0 and "原文传递" in out and "Pending" in out and "数据结构" not in out
    code, out, _ = run("request", "list", "--reader", "r1", "--status", "Cancelled", "--json")
    assert [x["id"] for x in json.loads(out)["requests"]] == [a["id"]]
    # staff route the manual citation
    code, out, _ = run("request", "act", "2", "route", "--as", "thu", "--rota", "RUC", "--json")
    assert json.loads(out)["request"]["lender"] == "RUC"


def test_lost_book_fined_by_the_registry_rule(run):
    r = submit(run, "--price", "40")
    for actor, action in (("pku", "WillSupply"), ("pku", "ship"), ("thu", "Received"), ("thu", "lend")):
        assert run("request", "act", str(r["id"]), action, "--as", actor)[0] == 0
    code, out, _ = run("request", "act", str(r["id"]), "report_lost", "--as", "thu", "--reason", "读者遗失")
    assert code == 0 and "CompletedWithoutReturn" in out
    _, out, _ = run("request", "show", str(r["id"]))
    assert "lost  80.00 元" in out  # config/members.toml default rule: 2 x the price
    code, out, _ = run("stats", "--member", "THU", "--csv", "--machine")
    rows = out.strip().splitlines()
    assert rows[0].startswith("member,month,requests_sent")
    thu = dict(zip(rows[0].split(","), rows[1].split(","), strict=True))
    assert (thu["member"], thu["requests_sent"], thu["filled"], thu["violations"], thu["fines_yuan"]) == (
        "THU", "1", "1", "1", "80.0")
    code, out, _ = run("request", "act", str(r["id"]), "rollback", "--as", "admin", "--reason", "书找到了")
    assert code == 0 and "Loaned/reader" in out
    _, out, _ = run("stats", "--member", "THU", "--json")
    assert json.loads(out)["rows"][0]["fines_yuan"] == 0


def test_tick_and_migrate(run):
    code, out, _ = run("request", "tick")
    assert code == 0 and "0 change(s)" in out
    code, out, _ = run("request", "migrate")
    assert code == 0 and "revision 0007" in out


def test_export_and_import_iso18626_files(run, tmp_path):
    r = submit(run)
    run("request", "act", str(r["id"]), "WillSupply", "--as", "pku")
    code, out, _ = run("request", "export", str(r["id"]), "--out", str(tmp_path / "out"))
    files = out.split()
    assert code == 0 and [Path(f).name for f in files] == ["1-1-request.xml", "1-2-status.xml"]
    code, _, err = run("request", "import", *files, "--as", "thu")
    assert code == 1 and "only centre administrators" in err
    code, out, _ = run("request", "import", *files, "--as", "admin")
    assert code == 0 and "申请单 2" in out and "WillSupply" in out
    code, _, err = run("request", "import", str(tmp_path / "nope.xml"), "--as", "admin")
    assert code == 2 and "no such file" in err


def test_submit_without_rota_asks_routing_and_says_what_to_do(run):
    code, _, err = run("request", "submit", "--as", "r1", "--work", "W-NOT-INDEXED")
    assert code == 2 and "--rota A,B,C" in err and "Traceback" not in err


def test_submit_without_rota_routes_from_the_local_index(run, tmp_path, monkeypatch):
    """No --rota: the edition comes from the local index and lender routing orders its holders."""
    from dedup import merge
    from indexer.index import LocalIndex
    from testbed.generate import plan_catalogues, plan_records
    from testbed.members import member_profiles

    works = merge(plan_records(plan_catalogues(11, member_profiles(4), 40)))
    work = next(w for w in works if w.display.language == "chi" and w.display.material_type == "book"
                and "THU" not in w.members and len(w.members) >= 2
                and any(h.status == "available" for h in w.holdings))
    with LocalIndex.open(tmp_path / "index", create=True) as ix:
        ix.rebuild(works)
    monkeypatch.setenv("BALIS_INDEX", str(tmp_path / "index"))
    code, out, err = run("request", "submit", "--as", "r1", "--work", work.work_id, "--title", work.display.title,
                         "--json")
    assert code == 0, err
    r = json.loads(out)["request"]
    rota = [entry["member"] for entry in r["rota"]]
    assert rota and set(rota) <= set(work.members) and "THU" not in rota
    assert r["lender"] == rota[0] and all(entry["reason"] for entry in r["rota"])


def test_a_request_by_work_id_carries_its_editions_title_author_isbn_and_year(run, tmp_path, monkeypatch):
    from dedup import merge
    from indexer.index import LocalIndex
    from services.views import display_title
    from testbed.generate import plan_catalogues, plan_records
    from testbed.members import member_profiles

    works = merge(plan_records(plan_catalogues(7, member_profiles(4), 30)))
    work = next(w for w in works if w.isbns and w.display.year and w.display.authors)
    index_dir = tmp_path / "index"
    with LocalIndex.open(index_dir, create=True) as ix:
        ix.rebuild(works)
    monkeypatch.setenv("BALIS_INDEX", str(index_dir))
    code, out, err = run("request", "submit", "--as", "r1", "--work", work.work_id, "--rota", "PKU", "--json")
    assert code == 0, err
    r = json.loads(out)["request"]
    assert r["title"] == display_title(work.display) != ""
    assert r["author"] == "; ".join(a.name for a in work.display.authors)
    assert work.isbns[0] in r["citation"] and str(work.display.year) in r["citation"]
    assert (r["isbn"], r["year"]) == (work.isbns[0], str(work.display.year))
    code, out, _ = run("request", "list", "--reader", "r1")
    assert r["title"] in out


def test_asking_twice_for_an_edition(run):
    """An open request for the edition refuses a second one naming it; after it closed, --confirm-duplicate."""
    first = submit(run)
    code, out, err = run("request", "submit", "--as", "r1", "--work", "W1", "--rota", "RUC", "--kind", "copy")
    assert code == 1 and out == "" and f"申请单 {first['id']}" in err and f"/requests/{first['id']}" in err
    assert "--confirm-duplicate" not in err  # an open one cannot be confirmed away
    run("request", "cancel", str(first["id"]), "--as", "r1")
    code, _, err = run("request", "submit", "--as", "r1", "--work", "W1", "--rota", "RUC", "--kind", "copy")
    assert code == 1 and "30 天内" in err and "--confirm-duplicate" in err
    again = submit(run, "--confirm-duplicate")
    assert again["id"] != first["id"] and again["status"] == "RequestReceived"


def test_delivery_pick_up_and_need_before(run):
    from datetime import date, timedelta

    day = (date.today() + timedelta(days=20)).isoformat()
    r = submit(run, "--pickup", "north", "--need-before", day)
    assert (r["delivery"], r["pickup"], r["need_before"]) == ("desk", "north", day)
    code, out, _ = run("request", "show", str(r["id"]))
    assert code == 0 and "取书 到馆取书 north" in out and f"需要日期 {day} 前" in out
    r = submit(run, "--delivery", "department", "--kind", "copy", work="W2")
    assert (r["delivery"], r["pickup"]) == ("department", "")
    code, _, err = run("request", "submit", "--as", "r1", "--work", "W3", "--rota", "PKU", "--pickup", "gate")
    assert code == 2 and "没有取书点 'gate'" in err and "north" in err
    code, _, err = run("request", "submit", "--as", "r1", "--work", "W3", "--rota", "PKU", "--need-before",
                       "2020-01-01")
    assert code == 2 and "已过" in err
    code, _, err = run("request", "submit", "--as", "r1", "--work", "W3", "--rota", "PKU", "--need-before",
                       "next week")
    assert code == 2 and "YYYY-MM-DD" in err


def test_routing_a_citation_to_an_edition_it_does_not_match(run, tmp_path, monkeypatch):
    """Staff route a manual request to an edition of the local index: another title needs --confirm-edition;
    the edition's ISBN and year then go with the request."""
    from dedup import merge
    from indexer.index import LocalIndex
    from testbed.generate import plan_catalogues, plan_records
    from testbed.members import member_profiles

    works = merge(plan_records(plan_catalogues(7, member_profiles(4), 30)))
    work = next(w for w in works if w.isbns and w.display.year)
    with LocalIndex.open(tmp_path / "index", create=True) as ix:
        ix.rebuild(works)
    monkeypatch.setenv("BALIS_INDEX", str(tmp_path / "index"))
    code, out, _ = run("request", "submit", "--as", "r1", "--title", "一本完全不同的书", "--json")
    rid = json.loads(out)["request"]["id"]
    code, out, err = run("request", "act", str(rid), "route", "--as", "thu", "--rota", "PKU", "--work", work.work_id)
    assert code == 1 and "题名不符" in err and "--confirm-edition" in err
    code, out, err = run("request", "act", str(rid), "route", "--as", "thu", "--rota", "PKU", "--work", work.work_id,
                         "--confirm-edition", "--json")
    assert code == 0, err
    r = json.loads(out)["request"]
    assert (r["work_id"], r["isbn"], r["year"]) == (work.work_id, work.isbns[0], str(work.display.year))
