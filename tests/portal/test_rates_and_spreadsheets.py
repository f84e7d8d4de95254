"""A rate reads the same wherever it is shown (57.9 %: a lender's reasons in either language, the dashboard, the
statistics CSV, `balis stats`), and every CSV a person opens has its header in Chinese and English, the same from
the CLI and from the portal (the real command, the real portal, one SQLite store)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from balis.cli import main
from dedup.work import Work
from ill import stats
from ill.store import Store
from portal.i18n import MESSAGES
from records.model import AVAILABLE, Holding, Record
from records.vocabulary import rate
from routing.rota import build_rota
from services import spreadsheets
from tests.portal.deskkit import scenario, sign_in, users

RATE = re.compile(r"\d{1,3}\.\d %")


@pytest.fixture
def codes(registry):
    return tuple(mem.code for mem in registry.members if mem.queryable)[:3]


@pytest.fixture
def store(codes):
    s = Store()
    users(s, *codes)
    scenario(s, *codes)
    yield s
    s.close()


@pytest.fixture
async def admin(make_client, store):
    client = await make_client(store=store, logins_per_minute=10_000)
    client.token = await sign_in(client, "adm")
    return client


@pytest.fixture
def balis(store, portal_registry_path, capsys):
    def run(*argv: str) -> str:
        assert main([*argv, "--db", store.url, "--registry", str(portal_registry_path)]) == 0
        return capsys.readouterr().out
    return run


def test_rate_is_one_format():
    assert [rate(x) for x in (0.5789, 2221 / 3836, 0, 1, 2 / 3, None)] == ["57.9 %", "57.9 %", "0.0 %", "100.0 %",
                                                                          "66.7 %", ""]


async def test_a_rate_reads_the_same_in_reasons_dashboard_csv_and_cli(admin, store, registry, codes, balis):
    rows = stats.table(store)
    shown = {(r["member"], r["month"]): rate(r["fill_rate"]) for r in rows if r["fill_rate"] is not None}
    assert shown and all(RATE.fullmatch(v) for v in shown.values())

    # the CLI's table and CSV, and the portal's CSV: the same text for the same rows
    text = balis("stats")
    for (member, month), value in shown.items():
        line = next(x for x in text.splitlines() if x.startswith(member) and month in x)
        assert value in line, (line, value)
    people = balis("stats", "--csv")
    portal = (await (await admin.get("/admin/stats.csv", params={"from": min(m for _, m in shown),
                                                                  "to": max(m for _, m in shown)})).read())
    assert portal.decode("utf-8") == "\ufeff" + people
    table = list(csv.DictReader(io.StringIO(people)))
    assert {(r["代码 Code"], r["月份 Month"]): r["满足率 Fill rate"] for r in table if r["满足率 Fill rate"]} == shown

    # the dashboard
    html = await (await admin.get("/admin/stats")).text()
    for (member, month), value in shown.items():
        cells = re.search(rf'<tr data-member="{member}" data-month="{month}">(.*?)</tr>', html, re.S)
        if cells:  # the per-month rows; the consortium's row is the chart's
            assert f'data-figure="fill_rate">{value}<' in cells.group(1)

    # a lender's reasons, from the same store's history, in Chinese and in English
    history = stats.lender_history(store)
    lender = next(code for code, h in history.items() if h["requests"] - h["open"] > 0 and code in codes)
    track = history[lender]
    decided = track["requests"] - track["open"]
    members = {m.code: m for m in registry.members}
    home = next(code for code in codes if code != lender)
    record = Record(member=lender, record_id="1", syntax="marc21", title="数据结构", holdings=[Holding(member=lender, status=AVAILABLE)])
    work = Work("W1", record, [record], list(record.holdings))
    entry = build_rota(work, home, members, history=history).lenders[0]
    assert entry.member == lender
    assert f"满足率 {rate(track['filled'] / decided)}（{decided} 次）" in entry.text
    assert f"fill rate {rate(track['filled'] / decided)} ({decided} requests)" in " · ".join(entry.reasons_en)
    assert all(RATE.fullmatch(x) for x in re.findall(r"\d+(?:\.\d+)? ?%", entry.text + " ".join(entry.reasons_en)))


async def test_every_csv_has_chinese_and_english_headers(admin, store, balis):
    month = stats.active_months(store)[-1]
    expected = {
        "stats": "代码 Code,月份 Month,发出申请 Requests sent,收到申请 Requests received,",
        "dd": "代码 Code,月份 Month,原文传递申请 Copy requests,满足 Filled,未满足 Unfilled,满足率 Fill rate,",
        "settlement": "类别 Row,月份 Month,付款馆 From,收款馆 To,件数 Copies,页数 Pages,收费(元) Price (yuan),",
    }
    cli = {"stats": balis("stats", "--month", month, "--csv"), "dd": balis("stats", "dd", "--month", month, "--csv"),
           "settlement": balis("stats", "settlement", "--month", month, "--csv")}
    for name, head in expected.items():
        assert cli[name].startswith(head), (name, cli[name][:200])
    for table in ("stats", "settlement"):  # the administrators' downloads of the copy figures
        got = await admin.get("/admin/dd", params={"month": month, "format": "csv", "table": table})
        assert got.status == 200
        assert (await got.read()).decode("utf-8") == "\ufeff" + cli["dd" if table == "stats" else table]
    total = next(r for r in csv.reader(io.StringIO(cli["settlement"])) if r[0] == "合计 total")
    assert total[1] == month
    # scripts keep the JSON's names behind --machine
    assert balis("stats", "--month", month, "--csv", "--machine").startswith("member,month,requests_sent,")
    assert balis("stats", "dd", "--month", month, "--csv", "--machine").startswith("member,month,requests,")
    assert balis("stats", "settlement", "--month", month, "--csv", "--machine").startswith("row,month,from,to,")


def test_the_dashboard_and_the_csv_name_a_figure_alike():
    for figure, words in spreadsheets.ILL_HEADS.items():
        assert MESSAGES[f"stat.{figure}"] == words
    assert MESSAGES["members.code"] == spreadsheets.MEMBER and MESSAGES["admin.stats.month"] == spreadsheets.MONTH
    assert set(spreadsheets.ILL_HEADS) == set(stats.FIGURES) and set(spreadsheets.DD_HEADS) == set(stats.DD_FIGURES)
