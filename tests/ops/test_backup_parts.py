"""What else a backup keeps: a PostgreSQL union index (pg_dump, restored with pg_restore into another
database: the same editions found) and the members' e-journal lists (the KBART store), each refused over
what exists unless --replace."""

from __future__ import annotations

import json
import os
from pathlib import Path

from connectors.query import parse
from dedup import merge
from dedup.batch import read_file
from indexer.backend import open_index, open_searcher
from indexer.eholdings import EHoldings
from records.model import Record
from tests.ops.test_backup import balis

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "marc"
KBART = ("publication_title\tprint_identifier\tonline_identifier\tdate_first_issue_online\tnum_first_vol_online\t"
         "num_first_issue_online\tdate_last_issue_online\tnum_last_vol_online\tnum_last_issue_online\ttitle_url\t"
         "first_author\ttitle_id\tembargo_info\tcoverage_depth\tnotes\tpublisher_name\n"
         "中国图书馆学报\t1001-8867\t\t1995-01-01\t21\t1\t\t\t\thttp://example.org/j\t\tj1\t\tfulltext\t\t国家图书馆\n")


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("BALIS_DB", "BALIS_INDEX", "BALIS_ANSWER_TIMES")}
    env["BALIS_HOME"] = str(home)
    return env


def _works() -> list:
    path = SHARED / "loc-cc0" / "loc_general.xml"
    return merge([r for _p, r in read_file(path, fmt=None, syntax="auto", encoding=None, label="LOC")
                  if isinstance(r, Record)])


def _found(url: str, text: str) -> list[str]:
    with open_searcher(url) as s:
        return [w.work_id for w in s.search(parse(text), size=50).works]


def test_a_postgresql_union_index_is_dumped_and_restored(new_database, tmp_path):
    source, target = new_database("backup_index_source"), new_database("backup_index_target")
    with open_index(source, create=True) as ix:
        ix.rebuild(_works(), harvested={"LOC": "2026-12-01T02:00:00+00:00"})
    wanted = _found(source, "history")
    assert wanted
    env = _env(tmp_path / "home")
    out = json.loads(balis("backup", "--index", source, "--to", str(tmp_path / "b"), "--json", env=env).stdout)
    assert {p["name"]: p["kind"] for p in out["parts"]}["index"] == "postgresql"
    assert (tmp_path / "b" / "index.pgdump").stat().st_size > 0
    balis("restore", "--index", target, str(tmp_path / "b"), env=env)
    assert _found(target, "history") == wanted
    again = balis("restore", "--index", target, str(tmp_path / "b"), env=env, check=False)
    assert again.returncode == 2 and "not empty" in again.stderr and "--replace" in again.stderr
    balis("restore", "--replace", "--index", target, str(tmp_path / "b"), env=env)
    assert _found(target, "history") == wanted


def test_the_members_e_journal_lists_are_in_the_backup(tmp_path):
    home = tmp_path / "home"
    env = _env(home)
    kbart = tmp_path / "thu.txt"
    kbart.write_text(KBART, encoding="utf-8")
    balis("holdings", "import-kbart", "THU", str(kbart), "--package", "CNKI", env=env)
    out = json.loads(balis("backup", "--to", str(tmp_path / "b"), "--json", env=env).stdout)
    parts = {p["name"]: p for p in out["parts"]}
    assert parts["eholdings"]["kind"] == "sqlite" and parts["eholdings"]["count"] == 1
    (home / "eholdings.sqlite").unlink()
    balis("restore", str(tmp_path / "b"), "--index", str(tmp_path / "fresh-index"), env=env)
    with EHoldings(home / "eholdings.sqlite", create=False) as store:
        assert store.conn.execute("select count(*) from titles").fetchone()[0] == 1
