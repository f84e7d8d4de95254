"""`balis route --kind copy`: print runs from a real union index (whoosh, built from normalised serial records
with 866/863 holdings), e-journals from a KBART import, the rota printed as text and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pymarc
import pytest

from dedup import merge
from indexer.backend import open_index
from records.normalise import normalise

ROOT = Path(__file__).resolve().parents[2]
ISSN = "0252-3116"


def serial(member: str, n: int, *holdings: pymarc.Field, issn: str = ISSN, title="图书情报工作") -> object:
    rec = pymarc.Record(leader="00000cas a2200000 a 4500")
    rec.add_field(pymarc.Field(tag="001", data=f"{member.lower()}-s{n}"))
    rec.add_field(pymarc.Field(tag="008", data="800101c19809999cc bm p       0   a0chi  "))
    rec.add_field(pymarc.Field(tag="022", indicators=["0", " "], subfields=[pymarc.Subfield("a", issn)]))
    rec.add_field(pymarc.Field(tag="245", indicators=["0", "0"], subfields=[pymarc.Subfield("a", title)]))
    rec.add_field(pymarc.Field(tag="260", indicators=[" ", " "], subfields=[
        pymarc.Subfield("a", "北京"), pymarc.Subfield("b", "图书情报工作杂志社"), pymarc.Subfield("c", "1980-")]))
    for f in holdings:
        rec.add_field(f)
    return normalise(rec, syntax="marc21", member=member)


def f866(statement: str, z: str | None = None) -> pymarc.Field:
    subs = [pymarc.Subfield("8", "1"), pymarc.Subfield("a", statement)]
    if z:
        subs.append(pymarc.Subfield("z", z))
    return pymarc.Field(tag="866", indicators=["4", "1"], subfields=subs)


def f852(location: str, call: str) -> pymarc.Field:
    return pymarc.Field(tag="852", indicators=[" ", " "], subfields=[
        pymarc.Subfield("8", "1"), pymarc.Subfield("b", location), pymarc.Subfield("h", call)])


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    records = [
        serial("PKU", 1, f852("期刊阅览室", "G25/2"), f866("1980-2010年", "缺1998年")),
        serial("RUC", 1, f852("过刊库", "G25/9"), f866("v.1(1980)-v.25(2004); 2008-")),
        serial("BNU", 1, pymarc.Field(tag="853", indicators=["2", "0"], subfields=[
            pymarc.Subfield("8", "1"), pymarc.Subfield("a", "v."), pymarc.Subfield("i", "(year)")]),
            pymarc.Field(tag="863", indicators=["4", "1"], subfields=[
                pymarc.Subfield("8", "1.1"), pymarc.Subfield("a", "20-40"), pymarc.Subfield("i", "1999-2019")])),
        serial("CNU", 1),  # the journal, no run stated
        serial("BUAA", 1, f866("1990-2020"), issn="1002-1965", title="情报杂志"),  # another journal
    ]
    folder = tmp_path_factory.mktemp("copy-index")
    ix = open_index(folder, create=True)
    ix.rebuild(merge(records), harvested={"PKU": "2026-12-01T02:00:00+00:00"})
    ix.close()
    return folder


def balis(*args: str, home: Path, index: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "BALIS_HOME": str(home), "BALIS_REGISTRY": "", "BALIS_INDEX": str(index),
           "BALIS_DB": str(home / "ill.sqlite")}
    out = subprocess.run([sys.executable, "-m", "balis.cli", *args], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=120)
    assert "Traceback" not in out.stderr, out.stderr
    return out


KBART = ("publication_title\tprint_identifier\tonline_identifier\tdate_first_issue_online\tnum_first_vol_online\t"
         "num_first_issue_online\tdate_last_issue_online\tnum_last_vol_online\tnum_last_issue_online\ttitle_url\t"
         "first_author\ttitle_id\tembargo_info\tcoverage_depth\n"
         "图书情报工作\t0252-3116\t\t1994\t15\t1\t\t\t\thttps://example.org/tsqbgz\t\ttsqbgz\tP6M\tfulltext\n")


def test_route_copy_by_print_coverage(index_dir, tmp_path):
    out = balis("route", "--kind", "copy", "--issn", ISSN, "--year", "2003", "--volume", "24", "--home", "THU",
                "--json", home=tmp_path, index=index_dir)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["version"] == 1 and doc["kind"] == "copy" and doc["home"] == "THU"
    rota = doc["rota"]
    certain = {e["member"]: e for e in rota["lenders"] if e["certain"]}
    assert set(certain) == {"PKU", "RUC", "BNU"}
    assert certain["PKU"]["coverage"] == "纸本馆藏 1980-2010年; 缺1998年（期刊阅览室）"
    assert certain["PKU"]["copies"] == [{"call_number": "G25/2", "location": "期刊阅览室"}]
    assert certain["BNU"]["statement"] == "v.20(1999)-v.40(2019)"
    uncertain = [e for e in rota["lenders"] if not e["certain"]]
    assert [e["member"] for e in uncertain] == ["CNU"] and rota["lenders"][-1]["member"] == "CNU"
    assert "BUAA" not in {e["member"] for e in rota["lenders"]}  # another journal
    assert doc["sources"]["journals"][0]["title"] == "图书情报工作"


def test_gap_and_run_end_leave_members_out_with_reasons(index_dir, tmp_path):
    out = balis("route", "--kind", "copy", "--issn", ISSN, "--year", "1998", "--home", "THU", "--json",
                home=tmp_path, index=index_dir)
    doc = json.loads(out.stdout)
    left = {x["member"]: x["reason"] for x in doc["rota"]["excluded"]}
    assert "PKU" in left and "缺1998年" in left["PKU"]
    assert "1999-2019" not in left["BNU"] and "v.20(1999)-v.40(2019)" in left["BNU"]  # its run starts later
    assert {e["member"] for e in doc["rota"]["lenders"]} == {"RUC", "CNU"}


def test_electronic_first_after_a_kbart_import(index_dir, tmp_path):
    kbart = tmp_path / "cnki.txt"
    kbart.write_text(KBART, encoding="utf-8")
    assert balis("holdings", "import-kbart", "CUPL", str(kbart), "--package", "CNKI 中国期刊全文",
                 "--dd-allowed", home=tmp_path, index=index_dir).returncode == 0
    out = balis("route", "--kind", "copy", "--issn", ISSN, "--year", "2003", "--volume", "24", "--home", "THU",
                home=tmp_path, index=index_dir)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    first = next(line for line in lines if line.strip().startswith("1."))
    assert "(CUPL)" in first and "[电子 electronic]" in first and "电子刊 CNKI 中国期刊全文：1994（v.15） 至 今" in first
    assert "电子刊馆藏 e-journals: " + str(tmp_path / "eholdings.sqlite") in out.stdout


def test_no_member_covers_it(index_dir, tmp_path):
    out = balis("route", "--kind", "copy", "--issn", ISSN, "--year", "1975", "--home", "THU", home=tmp_path,
                index=index_dir)
    assert out.returncode == 0  # the one whose statement cannot say is still worth asking, marked so
    doc_line = next(line for line in out.stdout.splitlines() if line.strip().startswith("1."))
    assert "(CNU)" in doc_line and "卷期待确认" in doc_line and "收藏该刊，但记录无馆藏卷期说明" in doc_line
    assert not any(line.strip().startswith("2.") for line in out.stdout.splitlines())
    out = balis("route", "--kind", "copy", "--issn", "1002-1965", "--year", "1985", "--home", "THU",
                home=tmp_path, index=index_dir)
    assert out.returncode == 1 and "没有馆藏包含该年卷的成员馆" in out.stderr


@pytest.mark.parametrize(("args", "words"), [
    (["--issn", ISSN], "--issn X --year Y"),
    (["--issn", "0252-3117", "--year", "2003"], "not an ISSN"),
    (["--issn", ISSN, "--year", "203"], "year of publication"),
    (["--issn", ISSN, "--year", "2003", "--volume", "0"], "positive number"),
])
def test_bad_article_arguments(index_dir, tmp_path, args, words):
    out = balis("route", "--kind", "copy", *args, "--home", "THU", home=tmp_path, index=index_dir)
    assert out.returncode == 2 and words in out.stderr


def test_article_options_need_kind_copy(index_dir, tmp_path):
    out = balis("route", "--issn", ISSN, "--year", "2003", "--home", "THU", home=tmp_path, index=index_dir)
    assert out.returncode == 2 and "add --kind copy" in out.stderr


def test_without_an_index_says_print_runs_were_not_read(tmp_path):
    out = balis("route", "--kind", "copy", "--issn", ISSN, "--year", "2003", "--home", "THU", home=tmp_path,
                index=tmp_path / "none")
    assert out.returncode == 1
    assert "print holdings not read" in out.stderr and "balis harvest" in out.stderr
