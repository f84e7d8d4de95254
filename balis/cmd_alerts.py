"""`balis alerts run`: readers' saved searches checked against the editions a harvest added to the union index
(定题通告; docs/portal-readers.md 我的检索, docs/operations.md for cron)."""

from __future__ import annotations

from balis.cmd_ill import _db_parent, _print_json, _run, _store


def register(sub, common) -> None:
    db = _db_parent()
    p = sub.add_parser("alerts", parents=[common, db], help="new-book alerts of readers' saved searches",
                       description="Readers' saved searches with their alert on, checked against the editions "
                                   "new in the union index (run it after 'balis harvest').")
    ns = p.add_subparsers(metavar="ACTION")
    q = ns.add_parser("run", parents=[common, db], help="find each saved search's new editions and notify readers")
    q.add_argument("--index", metavar="DIR|URL", help="the union index: a folder or postgresql://… "
                                                      "(default $BALIS_INDEX or var/index)")
    q.add_argument("--send", action="store_true", help="mail the notices now too (as 'balis notices send')")
    from balis.cmd_notices import mail_options

    mail_options(q)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    from balis.cli import EXIT_OK, UsageError
    from balis.cmd_notices import mail_config
    from indexer.backend import resolve_location
    from indexer.errors import IndexerError
    from services.alerts import run_alerts

    config = mail_config(args) if args.send else None
    if args.send and config is None:
        raise UsageError("--send needs a mail server: give --smtp-url or set BALIS_SMTP_URL and BALIS_MAIL_FROM")
    location = resolve_location(args.index)

    def go():
        from ill import mail

        with _store(args) as store:
            try:
                report = run_alerts(store, location)
            except IndexerError as exc:
                raise UsageError(f"{exc}; run 'balis harvest' first, or give --index") from None
            sent = mail.deliver(store, config) if config is not None else None
        if args.json:
            _print_json({"alerts": report.as_dict(), "mail": sent.as_dict() if sent else None})
            return EXIT_OK
        through = report.through.isoformat(timespec="seconds") if report.through else "-"
        print(f"{report.searches} saved searches with alerts checked; {report.new_in_index} editions new in the "
              f"union index (first harvested up to {through}); {report.found} found for searches, "
              f"{report.notices} notices written")
        if sent is not None:
            print(f"mail: {sent.sent} sent, {sent.skipped} not mailed, {sent.retry} to try again later")
        return EXIT_OK
    return _run(go)
