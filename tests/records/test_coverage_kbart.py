"""KBART e-journal holdings: the file read (records/kbart.py), embargoes against today's date, bad files refused
naming line and column, and `balis holdings import-kbart` storing a member's package (indexer/eholdings.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from indexer.eholdings import EHoldings
from records.kbart import KbartError, KbartTitle, parse_embargo, read_kbart

ROOT = Path(__file__).resolve().parents[2]
HEADER = ("publication_title\tprint_identifier\tonline_identifier\tdate_first_issue_online\tnum_first_vol_online\t"
          "num_first_issue_online\tdate_last_issue_online\tnum_last_vol_online\tnum_last_issue_online\ttitle_url\t"
          "first_author\ttitle_id\tembargo_info\tcoverage_depth\tnotes\tpublisher_name\tpublication_type")


def line(title, p_issn="", e_issn="", first="", vol1="", last="", vol2="", embargo="", depth="fulltext"):
    return "\t".join([title, p_issn, e_issn, first, vol1, "", last, vol2, "", "https://example.org/" + title[:5],
                      "", "", embargo, depth, "", "Publisher", "serial"])


PACKAGE = "\n".join([
    HEADER,
    line("Journal of Documentation", "0022-0418", "1758-7379", "1945-01-01", "1", "", "", "P1Y"),
    line("Library Hi Tech", "0737-8831", "", "1983", "1", "2015-12-31", "33"),
    line("情报学报", "1000-0135", "", "2000-01", "19", "", "", "R5Y"),
    line("Abstract Only Review", "0378-5955", "", "1990", "", "", "", "", "abstracts"),
]) + "\n"
TODAY = date(2026, 12, 7)


def test_read_a_package():
    titles = list(read_kbart(PACKAGE.encode("utf-8")))
    assert [t.title for t in titles] == ["Journal of Documentation", "Library Hi Tech", "情报学报",
                                         "Abstract Only Review"]
    jd = titles[0]
    assert jd.issns == ("0022-0418", "1758-7379") and jd.embargo == "P1Y" and jd.first_volume == "1"


@pytest.mark.parametrize(("index", "year", "volume", "covered"), [
    (0, 1945, 1, True), (0, 2025, None, True), (0, 2026, None, False),  # P1Y: nothing of this calendar year
    (1, 1983, 1, True), (1, 2015, 33, True), (1, 2016, None, False), (1, 2010, 40, False),  # closed run
    (1, 1982, None, False),
    (2, 2022, None, True), (2, 2021, None, False),  # R5Y: 2022-2026 only
    (3, 2000, None, None),  # abstracts only: not a copy to deliver
])
def test_covers_with_embargo_counted_from_today(index, year, volume, covered):
    title = list(read_kbart(PACKAGE))[index]
    assert title.covers(year, volume, TODAY) is covered


def test_month_and_day_embargoes_roll_from_today():
    six_months = KbartTitle("X", first_date="2000", embargo="P6M")
    assert six_months.window(date(2026, 12, 7)) == (date(2000, 1, 1), date(2026, 6, 7))
    assert six_months.window(date(2026, 3, 31))[1] == date(2025, 9, 30)
    assert six_months.covers(2026, None, date(2026, 3, 31)) is False
    assert six_months.covers(2026, None, date(2026, 12, 7)) is True
    days = KbartTitle("Y", embargo="P30D;R10Y")
    assert days.window(date(2026, 12, 7)) == (date(2017, 1, 1), date(2026, 11, 7))
    assert "今日可用 2017-01-01 至 2026-11-07" in days.coverage_text(date(2026, 12, 7))


@pytest.mark.parametrize("bad", ["6M", "P6", "P1Y;P2Y", "X1Y", "P1W"])
def test_bad_embargo(bad):
    with pytest.raises(ValueError):
        parse_embargo(bad)


@pytest.mark.parametrize(("text", "line_no", "column", "words"), [
    ("", 1, None, "empty"),
    ("publication_title,print_identifier\nA,0022-0418\n", 1, None, "no tabs"),
    ("publication_title\tprint_identifier\nA\t0022-0418\n", 1, None, "lacks online_identifier"),
    (HEADER + "\n" + line("Bad ISSN", "0022-0419"), 2, "print_identifier", "not a valid print ISSN"),
    (HEADER + "\n" + line("OK", "0022-0418") + "\n" + line("Bad date", first="1998/01/01"), 3,
     "date_first_issue_online", "YYYY-MM-DD"),
    (HEADER + "\n" + line("Bad embargo", embargo="6 months"), 2, "embargo_info", "P6M"),
    (HEADER + "\n" + line("", "0022-0418"), 2, "publication_title", "empty"),
    (HEADER + "\n" + line("Backwards", first="2010", last="2001"), 2, "date_last_issue_online", "before"),
    (HEADER + "\n" + line("Depth", depth="everything"), 2, "coverage_depth", "fulltext"),
    (HEADER + "\n" + line("Tabs") + "\textra\tmore", 2, None, "tab inside a value"),
])
def test_bad_file_names_line_and_column(text, line_no, column, words):
    with pytest.raises(KbartError) as caught:
        list(read_kbart(text))
    err = caught.value
    assert err.line == line_no and err.column == column
    assert words in str(err) and f"line {line_no}" in str(err)


def test_not_utf8():
    with pytest.raises(KbartError, match="not UTF-8"):
        list(read_kbart(HEADER.encode() + b"\n\xb9\xfa\xbc\xd2\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n"))


def test_store_replaces_a_package_and_finds_titles_by_issn(tmp_path):
    titles = list(read_kbart(PACKAGE))
    with EHoldings(tmp_path / "e.sqlite") as store:
        store.replace_package("PKU", "Emerald", titles, dd_allowed=True)
        store.replace_package("THU", "CNKI", titles[2:3], dd_allowed=False)
        again = store.replace_package("PKU", "Emerald", titles[:2], dd_allowed=True)
        assert again["replaced"] == 4 and again["titles"] == 2
        found = store.by_issn(["1758-7379"])  # the online ISSN finds the title too
        assert [(x.member, x.package, x.dd_allowed, x.title) for x in found] == [("PKU", "Emerald", True, titles[0])]
        assert [x.member for x in store.by_issn(["1000-0135"])] == ["THU"]
        assert [p["package"] for p in store.packages()] == ["Emerald", "CNKI"]


def balis(*args, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "BALIS_HOME": str(home), "BALIS_REGISTRY": ""}
    out = subprocess.run([sys.executable, "-m", "balis.cli", *args], capture_output=True, text=True, cwd=ROOT,
                         env=env, timeout=60)
    assert "Traceback" not in out.stderr, out.stderr
    return out


def test_import_kbart_command(tmp_path):
    kbart = tmp_path / "emerald_global_2026.txt"
    kbart.write_text(PACKAGE, encoding="utf-8")
    out = balis("holdings", "import-kbart", "pku", str(kbart), "--dd-allowed", "--json", home=tmp_path)
    assert out.returncode == 0, out.stderr
    done = json.loads(out.stdout)
    assert done["member"] == "PKU" and done["package"] == "emerald_global_2026" and done["titles"] == 4
    assert done["dd_allowed"] is True and done["store"] == str(tmp_path / "eholdings.sqlite")
    # a re-import without a flag keeps the package's flag
    out = balis("holdings", "import-kbart", "PKU", str(kbart), home=tmp_path)
    assert "允许原文传递" in out.stdout and "replacing 4" in out.stdout
    listed = json.loads(balis("holdings", "list", "--json", home=tmp_path).stdout)["packages"]
    assert [(p["member"], p["package"], p["dd_allowed"], p["titles"]) for p in listed] == [
        ("PKU", "emerald_global_2026", True, 4)]


def test_import_kbart_refuses_a_bad_file_and_changes_nothing(tmp_path):
    kbart = tmp_path / "bad.txt"
    kbart.write_text(PACKAGE + line("Broken", "1234-5678") + "\n", encoding="utf-8")
    out = balis("holdings", "import-kbart", "PKU", str(kbart), home=tmp_path)
    assert out.returncode == 2
    assert "line 6, column print_identifier" in out.stderr and "nothing was imported" in out.stderr
    assert not (tmp_path / "eholdings.sqlite").exists()


def test_import_kbart_unknown_member(tmp_path):
    kbart = tmp_path / "k.txt"
    kbart.write_text(PACKAGE, encoding="utf-8")
    out = balis("holdings", "import-kbart", "NOPE", str(kbart), home=tmp_path)
    assert out.returncode == 2 and "unknown member 'NOPE'" in out.stderr and "balis members" in out.stderr
