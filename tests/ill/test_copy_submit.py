"""`balis request submit --kind copy`: the structured citation kept in the request's citation_data, and the
request routed by the journal's coverage (real SQLite store, real whoosh union index, real registry)."""

from __future__ import annotations

import json
from pathlib import Path

import pymarc
import pytest

from balis.cli import main
from dedup import merge
from ill import Store, stats
from indexer.backend import open_index
from records.normalise import normalise

REGISTRY = str(Path(__file__).resolve().parents[2] / "config" / "members.toml")
ISSN = "0252-3116"


def serial(member: str, statement: str | None) -> object:
    rec = pymarc.Record(leader="00000cas a2200000 a 4500")
    rec.add_field(pymarc.Field(tag="001", data=f"{member.lower()}-tsqb"))
    rec.add_field(pymarc.Field(tag="022", indicators=["0", " "], subfields=[pymarc.Subfield("a", ISSN)]))
    rec.add_field(pymarc.Field(tag="245", indicators=["0", "0"], subfields=[pymarc.Subfield("a", "图书情报工作")]))
    if statement:
        rec.add_field(pymarc.Field(tag="852", indicators=[" ", " "], subfields=[
            pymarc.Subfield("b", "期刊阅览室"), pymarc.Subfield("h", "G25/2")]))
        rec.add_field(pymarc.Field(tag="866", indicators=["4", "1"], subfields=[pymarc.Subfield("a", statement)]))
    return normalise(rec, syntax="marc21", member=member)


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("copy-submit-index")
    ix = open_index(folder, create=True)
    ix.rebuild(merge([serial("PKU", "1980-2010年"), serial("RUC", "v.1(1980)-v.25(2004)"),
                      serial("BNU", "2015-")]), harvested={})
    ix.close()
    return folder


@pytest.fixture
def run(tmp_path, capsys, monkeypatch, index_dir):
    monkeypatch.setenv("BALIS_INDEX", str(index_dir))
    monkeypatch.setenv("BALIS_HOME", str(tmp_path))
    db = str(tmp_path / "ill.sqlite")

    def balis(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--db", db, "--registry", REGISTRY])
        out, err = capsys.readouterr()
        return code, out, err

    for uid, role, member in (("r1", "reader", "THU"), ("pku", "staff", "PKU"), ("rpku", "reader", "PKU")):
        assert balis("request", "user", "add", uid, "--role", role, "--member", member)[0] == 0
    balis.db = db
    return balis


def test_submit_copy_keeps_the_citation_and_routes_by_coverage(run):
    code, out, err = run("request", "submit", "--as", "r1", "--kind", "copy", "--journal", "图书情报工作",
                         "--issn", "0252-3116", "--year", "2003", "--volume", "24", "--issue", "6",
                         "--pages", "12-15", "--article", "高校图书馆文献传递服务研究", "--authors", "张三, 李四",
                         "--doi", "10.13266/j.issn.0252-3116.2003.06.003", "--json")
    assert code == 0, err
    r = json.loads(out)["request"]
    assert r["kind"] == "copy" and r["status"] == "RequestReceived" and r["title"] == "高校图书馆文献传递服务研究"
    assert r["citation_data"] == {"kind": "article", "journal": "图书情报工作", "article": "高校图书馆文献传递服务研究",
                                  "authors": ["张三", "李四"], "year": 2003, "volume": "24", "issue": "6",
                                  "pages": "12-15", "issn": ISSN, "doi": "10.13266/j.issn.0252-3116.2003.06.003"}
    assert {e["member"] for e in r["rota"]} == {"PKU", "RUC"}  # BNU's run starts in 2015
    assert all(e["reason"].startswith("纸本馆藏 ") for e in r["rota"])
    assert r["rota"][0]["holding"] == "G25/2"
    with Store(run.db) as store:  # the stored row, read back
        assert store.get(r["id"])["citation_data"]["pages"] == "12-15"
    code, out, _ = run("request", "show", str(r["id"]))
    assert ("  原文 张三, 李四. 高校图书馆文献传递服务研究. 图书情报工作, 2003, 24(6): 12-15  ISSN 0252-3116  "
            "DOI 10.13266/j.issn.0252-3116.2003.06.003") in out.splitlines()


def test_submit_copy_from_a_pasted_citation(run):
    code, out, err = run("request", "submit", "--as", "r1", "--kind", "copy", "--issn", ISSN, "--json", "--paste",
                         "张三, 李四. 高校图书馆文献传递服务研究[J]. 图书情报工作, 2016, 60(6): 12-15.")
    assert code == 0, err
    r = json.loads(out)["request"]
    assert r["citation_data"]["journal"] == "图书情报工作" and r["citation_data"]["volume"] == "60"
    assert [e["member"] for e in r["rota"]] == ["BNU"]
    assert r["citation"].startswith("张三, 李四. 高校图书馆")


def test_own_library_holding_the_volume_is_told_to_use_it(run):
    code, _, err = run("request", "submit", "--as", "rpku", "--kind", "copy", "--issn", ISSN, "--year", "2003")
    assert code == 2 and "own library holds it" in err and "本馆" in err


def test_no_member_covers_it_goes_to_staff(run):
    code, out, err = run("request", "submit", "--as", "r1", "--kind", "copy", "--issn", ISSN, "--year", "2012",
                         "--journal", "图书情报工作", "--json")
    assert code == 0, err
    r = json.loads(out)["request"]
    assert r["status"] == "Pending" and r["rota"] == [] and "submitted for staff to route" in err


def test_rota_given_by_hand_wins(run):
    code, out, err = run("request", "submit", "--as", "r1", "--kind", "copy", "--journal", "Nature", "--year",
                         "2001", "--rota", "RUC", "--json")
    assert code == 0, err
    assert [e["member"] for e in json.loads(out)["request"]["rota"]] == ["RUC"]


@pytest.mark.parametrize(("argv", "words"), [
    (["--kind", "copy", "--pages", "1-2"], "--journal or --issn"),
    (["--kind", "copy", "--journal", "情报学报"], "needs --year"),
    (["--kind", "copy", "--issn", "0252-3117", "--year", "2003"], "not an ISSN"),
    (["--journal", "情报学报", "--year", "2003"], "add --kind copy"),
])
def test_bad_copy_requests(run, argv, words):
    code, _, err = run("request", "submit", "--as", "r1", *argv)
    assert code == 2 and words in err


def test_copy_history_is_learned_apart_from_loans(run):
    code, out, _ = run("request", "submit", "--as", "r1", "--kind", "copy", "--issn", ISSN, "--year", "2003",
                       "--rota", "PKU", "--json")
    copy_id = json.loads(out)["request"]["id"]
    code, out, _ = run("request", "submit", "--as", "r1", "--title", "数据结构", "--rota", "PKU", "--json")
    assert code == 0
    run("request", "act", str(copy_id), "Unfilled", "--as", "pku", "--reason", "缺该期")
    with Store(run.db) as store:
        assert stats.lender_history(store, kind="copy")["PKU"]["requests"] == 1
        assert stats.lender_history(store, kind="loan")["PKU"] == {"requests": 1, "filled": 0,
                                                                 "supply_days_total": 0.0, "open": 1}
        assert stats.lender_history(store)["PKU"]["requests"] == 2
