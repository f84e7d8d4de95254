"""`balis notices ...`: the outbox of notices for readers and staff, and mailing it (docs/notices.md)."""

from __future__ import annotations

import argparse

from balis.cmd_ill import _db_parent, _local, _print_json, _run, _store


def mail_options(parser: argparse.ArgumentParser) -> None:
    """The mail server options `balis notices send` and `balis serve` share (environment variables as defaults)."""
    parser.add_argument("--smtp-url", metavar="URL", default=None,
                        help="mail server: smtp://user:pass@host:587?starttls=1 or smtps://…:465 "
                             "(default $BALIS_SMTP_URL); credentials are never printed")
    parser.add_argument("--mail-from", metavar="ADDRESS", default=None,
                        help="sender of notices, e.g. 'BALIS 馆际互借 <ill@balis.edu.cn>' (default $BALIS_MAIL_FROM)")
    parser.add_argument("--portal-url", metavar="URL", default=None,
                        help="the portal's address for links in mail (default $BALIS_PORTAL_URL, else "
                             "http://127.0.0.1:8080)")


def mail_config(args):
    """The mail configuration from the options and environment, or None when no server is given."""
    from balis.cli import UsageError
    from ill.mail import MailConfig, MailError

    try:
        return MailConfig.from_env(getattr(args, "smtp_url", None), getattr(args, "mail_from", None),
                                   getattr(args, "portal_url", None))
    except MailError as exc:
        raise UsageError(str(exc)) from None


def register(sub, common) -> None:
    db = _db_parent()
    p = sub.add_parser("notices", parents=[common, db], help="notices for readers and staff: the outbox, mailing",
                       description="The outbox of notices (docs/notices.md): list it, mail what is due, and set "
                                   "a user's mail address.")
    ns = p.add_subparsers(metavar="ACTION")

    q = ns.add_parser("list", parents=[common, db], help="show the outbox, newest first")
    q.add_argument("--email", choices=["pending", "sent", "skipped", "failed"], help="only notices in this mail state")
    q.add_argument("--user", metavar="ID", help="only this recipient's")
    q.add_argument("--member", metavar="CODE", help="only this library's readers and staff")
    q.add_argument("--request", type=int, metavar="N", help="only about this request")
    q.add_argument("--limit", type=int, default=50, metavar="N", help="at most N notices (default 50)")
    q.add_argument("--body", action="store_true", help="print each notice's text too")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)

    q = ns.add_parser("send", parents=[common, db], help="mail the notices that are due (the portal does it "
                                                        "continuously when it has a mail server)")
    mail_options(q)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_send)

    q = ns.add_parser("email", parents=[common, db], help="a user's mail address and whether they get mail")
    q.add_argument("user", metavar="ID")
    q.add_argument("--address", metavar="ADDRESS", help="where to mail the user's notices ('' removes it)")
    onoff = q.add_mutually_exclusive_group()
    onoff.add_argument("--on", dest="enabled", action="store_const", const=True, help="mail notices to the user")
    onoff.add_argument("--off", dest="enabled", action="store_const", const=False,
                       help="no mail: notices only in the portal")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_email)


def _line(x: dict) -> str:
    about = f"申请单 {x['request_id']}" if x["request_id"] else "-"
    mail = x["email"] + (f" ({x['attempts']} tries: {x['last_error']})" if x["email"] == "pending" and x["attempts"]
                         else f" ({x['last_error']})" if x["email"] in ("failed", "skipped") and x["last_error"] else "")
    return f"{x['id']:>6}  {_local(x['created_at'])}  {x['user_id']:<12} {x['kind']:<12} {about:<10} {mail}"


def cmd_list(args) -> int:
    from balis.cli import EXIT_OK
    from ill import outbox

    def go():
        with _store(args) as store:
            rows = outbox.outbox(store, email=args.email, user=args.user, member=args.member,
                                 request_id=args.request, limit=args.limit)
            counts = outbox.counts(store)
        if args.json:
            _print_json({"counts": counts, "notices": rows})
            return EXIT_OK
        for x in rows:
            print(_line(x))
            print(f"        {x['subject']}")
            if args.body:
                print("        " + x["body"].replace("\n", "\n        "))
        print("outbox: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return EXIT_OK
    return _run(go)


def cmd_send(args) -> int:
    import sys

    from balis.cli import EXIT_OK, UsageError
    from ill import mail

    config = mail_config(args)
    if config is None:
        raise UsageError("no mail server: give --smtp-url or set BALIS_SMTP_URL "
                         "(smtp://user:pass@host:587?starttls=1) and BALIS_MAIL_FROM")

    def go():
        with _store(args) as store:
            total = mail.Report()
            while True:  # until nothing more is due now (each run claims a batch)
                report = mail.deliver(store, config)
                for k in ("sent", "skipped", "retry", "failed"):
                    setattr(total, k, getattr(total, k) + getattr(report, k))
                total.error = report.error or total.error
                if report.error or not (report.sent or report.skipped or report.failed):
                    break
        if args.json:
            _print_json({"server": config.safe_url, **total.as_dict()})
        else:
            print(f"{config.safe_url}: {total.sent} sent, {total.skipped} not mailed (no address or mail off), "
                  f"{total.retry} to try again later, {total.failed} refused for good")
            if total.error:
                print(f"balis: the mail server could not be reached: {total.error}; the notices wait and are tried "
                      f"again ('balis notices send' or the portal)", file=sys.stderr)
        return EXIT_OK if not total.error else 1
    return _run(go)


def cmd_email(args) -> int:
    from balis.cli import EXIT_OK
    from ill import outbox

    def go():
        with _store(args) as store:
            user = outbox.set_email(store, args.user, address=args.address, enabled=args.enabled)
        if args.json:
            _print_json({"user": {k: user[k] for k in ("id", "role", "member", "email", "email_notices")}})
        else:
            state = "on" if user["email_notices"] else "off"
            print(f"{user['id']}: mail {state}, address {user['email'] or '(none: notices only in the portal)'}")
        return EXIT_OK
    return _run(go)

