"""`balis request submit --kind copy` refuses a copy over the registry's page limits with the reason, and `balis
stats dd` / `balis stats settlement --month` print the document-delivery figures and who owes whom, as a table,
CSV and JSON (the real command, a SQLite store, the shipped registry)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest

from balis.cli import main
from ill.workdays import BEIJING

REGISTRY = str(Path(__file__).resolve().parents[2] / "config" / "members.toml")


@pytest.fixture
def run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BALIS_HOME", str(tmp_path))
    db = str(tmp_path / "ill.sqlite")

    def balis(*argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--db", db, "--registry", REGISTRY])
        out, err = capsys.readouterr()
        return code, out, err

    for uid, role, member in (("r1", "reader", "THU"), ("pku", "staff", "PKU")):
        assert balis("request", "user", "add", uid, "--role", role, "--member", member)[0] == 0
    return balis


def submit(run, *more: str):
    return run("request", "submit", "--as", "r1", "--kind", "copy", "--journal", "图书情报工作", "--year", "2003",
               "--rota", "PKU", *more)


def test_a_copy_over_the_page_limits_is_refused_with_the_reason(run):
    code, _, err = submit(run, "--pages", "1-80")
    assert code == 1 and "最多 50 页" in err
    code, _, err = submit(run, "--pages", "1-40", "--book-pages", "300")
    assert code == 1 and "10.0 %" in err and "300" in err


def test_stats_dd_and_settlement(run):
    code, out, err = submit(run, "--pages", "12-15", "--copy-method", "post", "--json")
    assert code == 0, err
    rid = str(json.loads(out)["request"]["id"])
    assert run("request", "act", rid, "WillSupply", "--as", "pku")[0] == 0
    assert run("request", "act", rid, "ship", "--as", "pku")[0] == 0
    done = datetime.fromisoformat(json.loads(run("request", "show", rid, "--json")[1])["request"]["completed_at"])
    month = done.astimezone(BEIJING).strftime("%Y-%m")  # months are Beijing months

    code, out, _ = run("stats", "settlement", "--month", month)
    assert code == 0 and "THU → PKU" not in out and "→ PKU  2.20" in out  # the subsidy pays it all
    rows = list(csv.reader(io.StringIO(run("stats", "settlement", "--month", month, "--csv", "--machine")[1])))
    assert ["owed", month, "THU", "PKU", "1", "4", "2.20", "2.20", "0.00"] in rows
    doc = json.loads(run("stats", "dd", "--month", month, "--json")[1])
    thu = next(r for r in doc["rows"] if r["member"] == "THU")
    assert (thu["requests"], thu["filled"], thu["pages"], thu["fee_fen"], thu["subsidy_fen"]) == (1, 1, 4, 220, 220)
    assert run("stats", "settlement")[0] == 2  # needs --month
