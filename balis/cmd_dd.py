"""`balis stats dd` and `balis stats settlement`: document delivery (原文传递) figures per member and month, and
the month's settlement between libraries (ill/settlement.py; docs/document-delivery.md, docs/statistics.md)."""

from __future__ import annotations

import sys


def cmd_dd_stats(args) -> int:
    from balis.cli import EXIT_OK, UsageError
    from balis.cmd_ill import _print_json, _run, _store
    from ill import settlement, stats
    from ill.accounts import yuan
    from records.vocabulary import rate
    from services import spreadsheets

    if args.view == "settlement" and not args.month:
        raise UsageError("stats settlement needs --month YYYY-MM (the month whose deliveries are settled)")
    if args.month:
        try:
            stats.month_bounds(args.month)
        except ValueError as exc:
            raise UsageError(f"--month: {exc}") from None

    def go():
        from balis.output import table

        with _store(args) as store:
            if args.view == "settlement":
                report = settlement.settlement(store, args.month)
                if args.csv:
                    sys.stdout.write(settlement.settlement_csv(report) if args.machine
                                     else spreadsheets.settlement_csv(report))
                elif args.json:
                    _print_json({"version": 1, **report})
                else:
                    _print_settlement(report, table, yuan)
                return EXIT_OK
            months = [args.month] if args.month else stats.active_months(store)
            rows = stats.dd_table(store, months, [args.member.upper()] if args.member else None)
        if args.csv:
            sys.stdout.write(stats.dd_csv(rows) if args.machine else spreadsheets.dd_stats_csv(rows))
        elif args.json:
            _print_json({"version": 1, "figures": list(stats.DD_FIGURES), "rows": rows})
        else:
            head = ("馆 member", "月 month", *(stats.DD_LABELS[k] for k in stats.DD_FIGURES))
            body = [(r["member"], r["month"], *("" if r[k] is None else rate(r[k]) if k == "fill_rate" else
                                                yuan(r[k]) if k.endswith("_fen") else str(r[k])
                                                for k in stats.DD_FIGURES)) for r in rows]
            print(table([head, *body]) if body else "没有原文传递数据 (no copy requests for this selection)")
        return EXIT_OK
    return _run(go)


def _print_settlement(report: dict, table, yuan) -> None:
    month = report["month"]
    if not report["pairs"]:
        print(f"{month}: 没有已传递的原文 (no copies delivered in {month})")
        return
    print(f"{month} 原文传递结算 document-delivery settlement (元 yuan)")
    print(table([("借入馆 borrower", "供应馆 supplier", "件 copies", "页 pages", "收费 price", "补贴 subsidy",
                  "应付 owed"), *((p["borrower"], p["supplier"], str(p["copies"]), str(p["pages"]), yuan(p["fee_fen"]),
                                  yuan(p["subsidy_fen"]), yuan(p["owed_fen"])) for p in report["pairs"])]))
    print("\n轧差 net (who owes whom):")
    for n in report["net"]:
        print(f"  {n['payer']} → {n['payee']}  {yuan(n['amount_fen'])}")
    print("\n中心补贴 the centre pays:")
    for c in report["centre"]:
        print(f"  → {c['supplier']}  {yuan(c['subsidy_fen'])}")
    t = report["totals"]
    print(f"\n合计 total: {t['copies']} 件 copies, {t['pages']} 页 pages, 收费 {yuan(t['fee_fen'])}, "
          f"补贴 {yuan(t['subsidy_fen'])}, 读者馆应付 {yuan(t['owed_fen'])}")
