"""The CSV files people open in a spreadsheet, one writer for the CLI and the portal: a header in Chinese and
English ("发出申请 Requests sent"), rates as every page writes them (57.9 %), money in yuan, and the kind of a
settlement row in words. `balis stats --csv` and the portal's downloads give the same text; the machine
variant (column names as in the JSON, rates as fractions, amounts in fen) is `balis stats --csv --machine`
(ill.stats.to_csv / dd_csv, ill.settlement.settlement_csv)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence

from ill import stats
from ill.accounts import yuan
from records.vocabulary import rate

MEMBER = ("代码", "Code")
MONTH = ("月份", "Month")

# ill.stats.FIGURES: the loans and copies of ILL, per member and month (the dashboard's words)
ILL_HEADS: dict[str, tuple[str, str]] = {
    "requests_sent": ("发出申请", "Requests sent"), "requests_received": ("收到申请", "Requests received"),
    "processed": ("已处理", "Processed"), "filled": ("满足", "Filled"), "fill_rate": ("满足率", "Fill rate"),
    "supplied": ("提供", "Supplied"), "mean_days_to_complete": ("平均完成天数", "Mean days"),
    "books_lent": ("借出册数", "Books lent"), "books_borrowed": ("借入册数", "Books borrowed"),
    "parcels": ("快递包裹", "Parcels"), "violations": ("违规", "Violations"), "fines_yuan": ("罚款(元)", "Fines (yuan)"),
}  # fmt: skip

# ill.stats.DD_FIGURES: document delivery (原文传递) per member and month; amounts in yuan
DD_HEADS: dict[str, tuple[str, str]] = {
    "requests": ("原文传递申请", "Copy requests"), "filled": ("满足", "Filled"), "unfilled": ("未满足", "Unfilled"),
    "fill_rate": ("满足率", "Fill rate"), "mean_days": ("平均完成天数", "Mean days"), "pages": ("页数", "Pages"),
    "fee_fen": ("费用(元)", "Price (yuan)"), "subsidy_fen": ("补贴(元)", "Subsidy (yuan)"),
    "supplied": ("提供", "Supplied"), "supplied_pages": ("提供页数", "Pages supplied"),
    "earned_fen": ("供应收入(元)", "Earned (yuan)"),
}  # fmt: skip

SETTLEMENT_HEADS = (("类别", "Row"), MONTH, ("付款馆", "From"), ("收款馆", "To"), ("件数", "Copies"), ("页数", "Pages"),
                    ("收费(元)", "Price (yuan)"), ("补贴(元)", "Subsidy (yuan)"), ("金额(元)", "Amount (yuan)"))
SETTLEMENT_ROWS = {"owed": ("应付", "owed"), "net": ("轧差", "net"), "subsidy": ("中心补贴", "subsidy"),
                   "total": ("合计", "total")}
CENTRE = ("结算中心", "Centre")


def both(words: tuple[str, str]) -> str:
    """A header or a word in both languages: "发出申请 Requests sent"."""
    return " ".join(words)


def _text(head: Sequence[str], rows: Iterable[Sequence]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(head)
    writer.writerows(rows)
    return out.getvalue()


def _cell(figure: str, value, money: Callable[[int], str] | None = None) -> str:
    if value is None:
        return ""
    if figure == "fill_rate":
        return rate(value)
    if money is not None and figure.endswith("_fen"):
        return money(value)
    return str(value)


def ill_stats_csv(rows: list[dict]) -> str:
    """ill.stats.table's rows (the portal's /admin/stats.csv, `balis stats --csv`)."""
    head = [both(MEMBER), both(MONTH), *(both(ILL_HEADS[f]) for f in stats.FIGURES)]
    return _text(head, ([r["member"], r["month"], *(_cell(f, r[f]) for f in stats.FIGURES)] for r in rows))


def dd_stats_csv(rows: list[dict]) -> str:
    """ill.stats.dd_table's rows (the portal's /admin/dd CSV, `balis stats dd --csv`), amounts in yuan."""
    head = [both(MEMBER), both(MONTH), *(both(DD_HEADS[f]) for f in stats.DD_FIGURES)]
    return _text(head, ([r["member"], r["month"], *(_cell(f, r[f], yuan) for f in stats.DD_FIGURES)] for r in rows))


def settlement_csv(report: dict) -> str:
    """ill.settlement.settlement's month (the portal's /admin/dd CSV, `balis stats settlement --csv`): a row per
    pair and direction, the netted rows, the centre's subsidies and the total, each saying what it is."""
    kind = {k: both(v) for k, v in SETTLEMENT_ROWS.items()}
    rows = [[kind["owed"], p["month"], p["borrower"], p["supplier"], p["copies"], p["pages"], yuan(p["fee_fen"]),
             yuan(p["subsidy_fen"]), yuan(p["owed_fen"])] for p in report["pairs"]]
    rows += [[kind["net"], n["month"], n["payer"], n["payee"], "", "", "", "", yuan(n["amount_fen"])]
             for n in report["net"]]
    rows += [[kind["subsidy"], c["month"], both(CENTRE), c["supplier"], "", "", "", yuan(c["subsidy_fen"]),
              yuan(c["subsidy_fen"])] for c in report["centre"]]
    t = report["totals"]
    rows.append([kind["total"], report["month"], "", "", t["copies"], t["pages"], yuan(t["fee_fen"]),
                 yuan(t["subsidy_fen"]), yuan(t["owed_fen"])])
    return _text([both(h) for h in SETTLEMENT_HEADS], rows)
