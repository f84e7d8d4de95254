"""`balis request ...` and `balis stats`: the ILL workflow for readers, staff and scripts (docs/ill-requests.md)."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, date, datetime, time

JSON_VERSION = 1
EXIT_REFUSED = 1  # a rule, the request's state or the actor's rights refused the change; nothing changed


def register(sub, common) -> None:
    db = _db_parent()
    p = sub.add_parser("request", parents=[common, db], help="interlibrary-loan requests (馆际互借申请)",
                       description="Submit, follow and work interlibrary-loan requests (docs/ill-requests.md).")
    rs = p.add_subparsers(metavar="ACTION")

    q = rs.add_parser("submit", parents=[common, db], help="a reader's new request")
    q.add_argument("--as", dest="actor", required=True, metavar="READER", help="the reader's id (card number)")
    q.add_argument("--kind", choices=["loan", "copy"], default="loan",
                   help="loan = 馆际互借 (returnable book), copy = 原文传递 (document delivery)")
    q.add_argument("--work", metavar="ID", help="the edition's work id (from 'balis search')")
    q.add_argument("--title", default="", help="title (for the reader's history and staff)")
    q.add_argument("--author", default="")
    q.add_argument("--citation", default="", help="手工填写: the citation as the reader knows it (no --work)")
    q.add_argument("--rota", metavar="A,B,C", help="lender codes in order (default: 'balis route' computes it "
                                                   "for --work)")
    q.add_argument("--price", type=float, metavar="YUAN", help="the book's price, for lost/damaged fines")
    q.add_argument("--isbn", default="", help="the edition's ISBN (a manual request; --work brings its own)")
    q.add_argument("--delivery", metavar="CODE", help="how the reader gets it: desk (collect at a pick-up point, "
                                                      "the default) or a delivery method the library offers")
    q.add_argument("--pickup", metavar="CODE", help="the pick-up point (default: the library's first; the "
                                                    "registry's [[member.pickup]] tables, docs/registry.md)")
    q.add_argument("--need-before", metavar="YYYY-MM-DD", help="not needed after this day (ISO 18626 "
                                                               "NeedBeforeDate)")
    q.add_argument("--confirm-duplicate", action="store_true",
                   help="ask again for an edition the reader had a request for in the last 30 days")
    c = q.add_argument_group("an article or chapter (--kind copy, 原文传递; docs/document-delivery.md)")
    c.add_argument("--paste", metavar="TEXT", help="a citation as pasted (GB/T 7714, APA, a DOI): its fields are "
                                                   "read; the options below override them")
    c.add_argument("--journal", metavar="T", help="the journal's (or book's) title")
    c.add_argument("--issn", metavar="X", help="the journal's ISSN: the request is routed to the members whose "
                                               "holdings include --year and --volume")
    c.add_argument("--year", type=int, metavar="Y")
    c.add_argument("--volume", metavar="V")
    c.add_argument("--issue", metavar="I")
    c.add_argument("--pages", metavar="P", help="e.g. 12-15")
    c.add_argument("--article", metavar="A", help="the article's or chapter's title")
    c.add_argument("--authors", metavar="A,B", help="the article's authors, comma-separated")
    c.add_argument("--doi", metavar="D")
    c.add_argument("--copy-method", choices=["download", "email", "post"], metavar="M",
                   help="how the copy reaches the reader: download (a link that expires), email (attachment), post "
                        "(printed); default: through the reader's library")
    c.add_argument("--book-pages", type=int, metavar="N", help="the book's page count (a chapter: at most the "
                                                               "registry's share of a book may be copied)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_submit)

    q = rs.add_parser("cancel", parents=[common, db], help="cancel (readers: within 1 hour, before an answer)")
    q.add_argument("id", type=int)
    q.add_argument("--as", dest="actor", required=True, metavar="USER")
    q.add_argument("--reason", default="")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_cancel)

    q = rs.add_parser("act", parents=[common, db], help="staff: answer, ship, receive, lend, ... (see show)")
    q.add_argument("id", type=int)
    q.add_argument("action", help="WillSupply, ExpectToSupply, Unfilled, RetryPossible, ship, Received, lend, "
                                  "take_back, ShippedReturn, check_in, Recalled, report_lost, report_damaged, "
                                  "Notification, route, Cancel, rollback")
    q.add_argument("--as", dest="actor", required=True, metavar="USER", help="the acting staff member or admin")
    q.add_argument("--reason", default="", help="why (kept in the audit log; the message of a Notification)")
    q.add_argument("--price", type=float, metavar="YUAN", help="the book's price (report_lost/report_damaged)")
    q.add_argument("--rota", metavar="A,B,C", help="lenders for 'route'")
    q.add_argument("--work", metavar="ID", help="the edition a manual citation resolves to ('route')")
    q.add_argument("--confirm-edition", action="store_true",
                   help="'route' to --work although its title or ISBN is not the reader's")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_act)

    q = rs.add_parser("list", parents=[common, db], help="requests: a reader's history (申请单查询) or a queue")
    q.add_argument("--reader", metavar="ID", help="one reader's requests")
    q.add_argument("--member", metavar="CODE", help="one library's requests")
    q.add_argument("--side", choices=["borrower", "lender"], help="with --member: its readers' requests, or "
                                                                   "those at it as lender now")
    q.add_argument("--status", help="an ISO 18626 status, e.g. RequestReceived, Loaned, Unfilled")
    q.add_argument("--title", help="words of the title, author or citation")
    q.add_argument("--since", metavar="YYYY-MM-DD", help="submitted on or after this day (Beijing time)")
    q.add_argument("--until", metavar="YYYY-MM-DD", help="submitted before this day")
    q.add_argument("--open", action="store_true", help="only requests still open")
    q.add_argument("--limit", type=int, default=200)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)

    q = rs.add_parser("explain", parents=[common, db], help="what a person may do on a request now, and why not")
    q.add_argument("id", type=int)
    q.add_argument("--as", dest="actor", required=True, metavar="USER", help="the reader, staff member or admin")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_explain)

    q = rs.add_parser("show", parents=[common, db], help="one request with its lenders and audit log")
    q.add_argument("id", type=int)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_show)

    q = rs.add_parser("tick", parents=[common, db], help="apply deadlines: forward late requests, mark overdue")
    q.add_argument("--json", action="store_true")
    q.add_argument("--send", action="store_true",
                   help="then mail the notices that are due (as 'balis notices send'): one nightly line does both")
    from balis.cmd_notices import mail_options

    mail_options(q)
    q.set_defaults(func=cmd_tick)

    q = rs.add_parser("user", parents=[common, db], help="register readers, staff and administrators; passwords")
    q.add_argument("op", choices=["add", "list", "passwd", "demo"],
                   help="add a user; list them; passwd: set a user's portal password; demo: the demo accounts")
    q.add_argument("id", nargs="?", help="reader card number or staff login (for add and passwd)")
    q.add_argument("--role", choices=["reader", "staff", "admin"])
    q.add_argument("--member", metavar="CODE", help="the reader's or staff member's library")
    q.add_argument("--name", default="")
    q.add_argument("--password-stdin", action="store_true",
                   help="read the portal password from the first line of standard input (add, passwd); "
                        "without it, passwd asks for it on the terminal")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_user)

    q = rs.add_parser("migrate", parents=[common, db], help="create or upgrade the store's schema")
    q.set_defaults(func=cmd_migrate)

    q = rs.add_parser("export", parents=[common, db], help="write requests as ISO 18626 XML messages")
    q.add_argument("ids", type=int, nargs="+", metavar="ID")
    q.add_argument("--out", required=True, metavar="DIR", help="folder for the messages (created if needed)")
    q.set_defaults(func=cmd_export)

    q = rs.add_parser("import", parents=[common, db], help="read requests from ISO 18626 XML messages")
    q.add_argument("files", nargs="+", metavar="FILE", help="the messages of one request each run "
                                                           "(ID-1-request.xml ID-2-status.xml)")
    q.add_argument("--as", dest="actor", required=True, metavar="ADMIN", help="the administrator importing")
    q.set_defaults(func=cmd_import)

    p = sub.add_parser("stats", parents=[common, db], help="ILL statistics per member and month (统计); "
                                                           "'stats dd' for document delivery, 'stats settlement' for "
                                                           "the monthly settlement between libraries")
    p.add_argument("view", nargs="?", choices=["ill", "dd", "settlement"], default="ill",
                   help="ill (default): loans and copies; dd: document delivery (原文传递); settlement: who owes whom")
    p.add_argument("--member", metavar="CODE", help="one member (default: every member in the store)")
    p.add_argument("--month", metavar="YYYY-MM", help="one month (default: every month with requests)")
    p.add_argument("--csv", action="store_true", help="CSV for spreadsheets (headers in Chinese and English)")
    p.add_argument("--machine", action="store_true", help="with --csv: the JSON's column names, a rate as a "
                                                          "fraction, amounts in fen (for scripts)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)


def _db_parent():
    import argparse

    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", metavar="URL", default=argparse.SUPPRESS,
                    help="ILL store: a SQLite file or postgresql://... (default $BALIS_DB or var/ill.sqlite)")
    return db


# ---- helpers ----------------------------------------------------------------------------------------

def _store(args, with_fines: bool = False):
    from ill import Store

    fine_rules = _fine_rules(args) if with_fines else None
    return Store(getattr(args, "db", None) or os.environ.get("BALIS_DB"), fine_rules=fine_rules,
                 registry=_registry(args) if hasattr(args, "registry") else None)


def _registry(args):
    from members import load_registry

    return load_registry(args.registry)


def _fine_rules(args):
    registry = _registry(args)

    def rule(code: str):
        try:
            return registry.get(code).lending.fines
        except KeyError:
            return None

    return rule


def _codes(text: str | None) -> list[str]:
    return [c.strip().upper() for c in (text or "").split(",") if c.strip()]


def _check_members(args, codes: list[str]) -> None:
    from balis.cli import UsageError

    registry = _registry(args)
    known = {m.code for m in registry}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise UsageError(f"unknown member code(s) in --rota: {', '.join(unknown)}; 'balis members' lists them")


def _run(fn):
    """Run an ILL operation; its refusals print as one line and exit 1, its input errors exit 2."""
    from balis.cli import EXIT_USAGE
    from ill.errors import IllError, Refused

    try:
        return fn()
    except Refused as exc:  # the workflow or a rule said no
        print(f"balis: {exc}", file=sys.stderr)
        hint = {"duplicate_recent": "--confirm-duplicate", "edition_mismatch": "--confirm-edition"}.get(exc.code)
        if hint:
            print(f"balis: to go on anyway, run it again with {hint}", file=sys.stderr)
        return EXIT_REFUSED
    except IllError as exc:
        print(f"balis: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _day(text: str | None, name: str):
    from balis.cli import UsageError
    from ill.workdays import BEIJING

    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time(0), BEIJING)
    except ValueError:
        raise UsageError(f"{name} {text!r}: write a day as YYYY-MM-DD") from None


def _jsonable(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "price_fen"}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _print_json(payload: dict) -> None:
    print(json.dumps(_jsonable({"version": JSON_VERSION, **payload}), ensure_ascii=False, indent=2))


def _local(moment) -> str:
    from ill.workdays import BEIJING

    return "" if moment is None else moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


KIND_TEXT = {"loan": "馆际互借", "copy": "原文传递"}


def request_text(r: dict) -> str:
    from ill.workdays import deadline_text

    where = f"{r['status']}/{r['phase']}" if r["phase"] else r["status"]
    lines = [f"申请单 {r['id']}  {KIND_TEXT[r['kind']]}  {where}",
             f"  题名 {r['title']}" + (f" / {r['author']}" if r["author"] else ""),
             f"  读者 {r['reader_id']} ({r['borrower']})  提交 {_local(r['submitted_at'])}"
             + (f"  作品 {r['work_id']}" if r["work_id"] else "  手工填写")]
    how = "到馆取书 " + (r.get("pickup") or "") if r.get("delivery", "desk") == "desk" else r.get("delivery")
    lines.append(f"  取书 {how.strip()}" + (f"  需要日期 {r['need_before'].isoformat()} 前" if r.get("need_before")
                                            else "") + (f"  ISBN {r['isbn']}" if r.get("isbn") else "")
                 + (f"  {r['year']}" if r.get("year") else ""))
    if r.get("citation_data"):  # a copy request's article: journal, year, volume(issue): pages, identifiers
        from records.citation import Citation

        c = Citation.from_dict(r["citation_data"])
        ids = "  ".join(x for x in (f"ISSN {c.issn}" if c.issn else "", f"ISBN {c.isbn}" if c.isbn else "",
                                    f"DOI {c.doi}" if c.doi else "") if x)
        lines.append(f"  原文 {c.text()}" + (f"  {ids}" if ids else ""))
    if r["lender"]:
        lines.append(f"  借出馆 {r['lender']} (rota {r['rota_index'] + 1}/{len(r['rota'])}: "
                     f"{', '.join(e['member'] for e in r['rota'])})")
    if r["status"] in ("RequestReceived", "ExpectToSupply", "WillSupply"):
        lines.append(f"  答复期限 {deadline_text(r['answer_due'])}  发货期限 {deadline_text(r['ship_due'])}")
    if r["due_back"]:
        lines.append(f"  应还日期 {deadline_text(r['due_back'])}")
    if r["reader_message"]:
        lines.append(f"  {r['reader_message']}")
    if r["allowed"]:
        lines.append(f"  可执行 {', '.join(r['allowed'])}")
    return "\n".join(lines)


def _done(args, r: dict) -> int:
    from balis.cli import EXIT_OK

    if args.json:
        _print_json({"request": r})
    else:
        print(request_text(r))
    return EXIT_OK


# ---- commands -------------------------------------------------------------------------------------

def cmd_submit(args) -> int:
    from balis.cli import UsageError

    if args.kind == "copy" and not args.work and _article_given(args):
        return _submit_copy(args)
    if args.kind == "loan" and _article_given(args):
        raise UsageError("--paste, --journal, --issn, --year, --volume, --issue, --pages, --article and --doi "
                         "describe an article: add --kind copy")
    if not args.work and not (args.citation or args.title):
        raise UsageError("say what is requested: --work ID (from 'balis search'), or --citation/--title for a "
                         "manual request (手工填写)")
    rota = _codes(args.rota)  # the store checks each lender against the registry
    work = None
    if not rota and args.work:
        rota, work = _auto_rota(args)
    elif args.work:
        from services.lenders import local_work

        work = local_work(args.work, getattr(args, "index", None))
    title, author, citation, isbn, year = args.title, args.author, args.citation, args.isbn, ""
    if work is not None:  # the request carries its edition's title, author, ISBN and year, as at the portal
        from services.requests import edition_text

        text = edition_text(work)
        title, author = title or text.title, author or text.author
        citation, isbn, year = citation or text.citation, isbn or text.isbn, text.year

    def go():
        with _store(args) as store:
            return _done(args, store.submit(args.actor, kind=args.kind, title=title, author=author,
                                            work_id=args.work, citation=citation, rota=rota, price=args.price,
                                            isbn=isbn, year=year, delivery=args.delivery, pickup=args.pickup,
                                            need_before=args.need_before,
                                            confirm_duplicate=args.confirm_duplicate))
    return _run(go)


def _article_given(args) -> bool:
    return any(getattr(args, k, None) for k in ("paste", "journal", "issn", "year", "volume", "issue", "pages",
                                                "article", "doi"))


def _article(args):
    """The structured citation from --paste and the article options (an option wins over what was pasted)."""
    from dataclasses import replace

    from balis.cli import UsageError
    from records.citation import Citation, parse_citation
    from records.identifiers import parse_issn

    citation = parse_citation(args.paste).citation if args.paste else Citation()
    given = {"journal": args.journal, "year": args.year, "volume": args.volume, "issue": args.issue,
             "pages": args.pages, "article": args.article, "doi": args.doi}
    if args.authors:
        given["authors"] = tuple(a.strip() for a in args.authors.split(",") if a.strip())
    citation = replace(citation, **{k: (v.strip() if isinstance(v, str) else v) for k, v in given.items()
                                    if v not in (None, "")})
    if args.issn:
        issn = parse_issn(args.issn)
        if issn is None or len([ch for ch in args.issn if ch.isalnum()]) != 8:
            raise UsageError(f"--issn {args.issn!r} is not an ISSN: 8 characters, the last a check digit "
                             "(0252-3116)")
        citation = replace(citation, issn=issn)
    missing = [name for name, ok in (("--journal or --issn", citation.journal or citation.issn),
                                     ("--year", citation.year)) if not ok]
    if missing:
        raise UsageError(f"原文传递申请缺少 {'、'.join(missing)} (a copy request needs {' and '.join(missing)}); "
                         "give them, or --paste the citation")
    return citation


def _with_book_pages(data: dict, pages: int | None) -> dict:
    return {**data, "book_pages": pages} if pages else data


def _number(text: str) -> int | None:
    return int(text) if text and text.strip().isdigit() else None


def _submit_copy(args) -> int:
    """A copy request (原文传递) with its structured citation, routed to the members whose print or electronic
    holdings include the year and volume (services.articles), unless --rota names the suppliers."""
    from balis.cli import UsageError
    from ill.rota import Lender
    from routing import RoutingError
    from services.articles import locate_suppliers

    citation = _article(args)
    rota = _codes(args.rota)
    note = ""
    if not rota and citation.issn:
        with _store(args) as store:
            reader = _run_value(lambda: store.user(args.actor))
        try:
            sources, found = locate_suppliers(_registry(args), reader["member"] or "", [citation.issn],
                                              citation.year, _number(citation.volume), _number(citation.issue),
                                              index=getattr(args, "index", None), db=getattr(args, "db", None))
        except RoutingError as exc:
            raise UsageError(str(exc)) from None
        for problem in sources.problems:
            print(f"balis: {problem}", file=sys.stderr)
        if found.own:
            raise UsageError(f"本馆 {reader['member']} 有此卷期 (own library holds it): {found.note}")
        rota = [Lender.ranked(e) for e in found.lenders]
        if not rota:
            note = f"{found.note} 申请已提交，由馆际互借员处理 (submitted for staff to route)"
    elif not rota:
        note = "没有 ISSN，无法按馆藏卷期选择供应馆：申请已提交，由馆际互借员处理 (no ISSN: submitted for staff to route)"
    title = citation.article or citation.journal

    def go():
        with _store(args) as store:
            return _done(args, store.submit(args.actor, kind="copy", title=title, author=", ".join(citation.authors),
                                            citation=args.paste or citation.text(), rota=rota,
                                            year=str(citation.year or ""), delivery=args.delivery,
                                            pickup=args.pickup, need_before=args.need_before,
                                            citation_data=_with_book_pages(citation.to_dict(), args.book_pages),
                                            copy_method=args.copy_method))
    code = _run(go)
    if note and code == 0:
        print(f"balis: {note}", file=sys.stderr)
    return code


def _auto_rota(args) -> tuple[list, object]:
    """The rota from lender routing (services.lenders) for --work, and the edition: the local index's, or the
    error that says to give the lenders with --rota."""
    import asyncio

    from balis.cli import UsageError
    from ill.rota import Lender
    from routing import RoutingError
    from services.lenders import locate_lenders

    registry = _registry(args)
    with _store(args) as store:
        reader = _run_value(lambda: store.user(args.actor))
    try:
        found, rota = asyncio.run(locate_lenders(registry, reader["member"], work_id=args.work,
                                                 db=getattr(args, "db", None)))
    except RoutingError as exc:
        raise UsageError(str(exc)) from None
    if found.work is None:
        raise UsageError(f"{found.why}; or give the lenders yourself: --rota A,B,C")
    if rota.own_available:
        raise UsageError(f"本馆 {reader['member']} 有可借副本 (own library has an available copy): {rota.note}")
    if not rota.lenders:
        raise UsageError(f"no member can lend this edition: {rota.note}")
    return [Lender.ranked(e) for e in rota.lenders], found.work


def _run_value(fn):
    from balis.cli import UsageError
    from ill.errors import IllError

    try:
        return fn()
    except IllError as exc:
        raise UsageError(str(exc)) from None


def cmd_cancel(args) -> int:
    def go():
        with _store(args) as store:
            return _done(args, store.cancel(args.id, args.actor, reason=args.reason))
    return _run(go)


def cmd_act(args) -> int:
    rota = _codes(args.rota)  # the store checks each lender against the registry

    edition = None
    if args.work and args.action == "route":  # the edition, to compare with the reader's citation
        from services.lenders import local_work
        from services.requests import edition_text

        work = local_work(args.work, getattr(args, "index", None))
        edition = edition_text(work).edition(work) if work is not None else None

    def go():
        with _store(args, with_fines=True) as store:
            return _done(args, store.act(args.id, args.action, args.actor, reason=args.reason, price=args.price,
                                         rota=rota or None, work_id=args.work, edition=edition,
                                         confirm_edition=args.confirm_edition))
    return _run(go)


def cmd_explain(args) -> int:
    """Every action with the workflow's answer for this person (ill.machine.explain), as the store enforces it."""
    from balis.cli import EXIT_OK

    def go():
        with _store(args) as store:
            verdicts = store.explain(args.id, args.actor)
        if args.json:
            _print_json({"request": args.id, "actor": args.actor, "actions": [
                {"action": v.action, "allowed": v.allowed, "code": v.code, "reason": v.reason} for v in verdicts]})
        else:
            for v in verdicts:
                print(f"{'可执行' if v.allowed else '不可  '} {v.action:<15} {v.reason if not v.allowed else ''}".rstrip())
        return EXIT_OK
    return _run(go)


def cmd_list(args) -> int:
    from balis.cli import EXIT_OK, UsageError
    from ill import machine as m

    if args.side and not args.member:
        raise UsageError("--side needs --member CODE")
    if args.status and args.status not in (*m.ISO_STATUSES, m.PENDING):
        raise UsageError(f"--status {args.status!r}: use one of {', '.join((m.PENDING, *m.ISO_STATUSES))}")
    since, until = _day(args.since, "--since"), _day(args.until, "--until")

    def go():
        with _store(args) as store:
            rows = store.list_requests(reader=args.reader, member=args.member, side=args.side, status=args.status,
                                       title=args.title, since=since, until=until, open_only=args.open,
                                       limit=args.limit)
        if args.json:
            _print_json({"requests": rows})
            return EXIT_OK
        if not rows:
            print("没有符合条件的申请单 (no requests match)")
        for r in rows:
            where = f"{r['status']}/{r['phase']}" if r["phase"] else r["status"]
            print(f"{r['id']:>6}  {_local(r['submitted_at'])}  {KIND_TEXT[r['kind']]}  {where:<24} "
                  f"{r['reader_id']}@{r['borrower']} → {r['lender'] or '-'}  {r['title']}")
        return EXIT_OK
    return _run(go)


def cmd_show(args) -> int:
    from balis.cli import EXIT_OK

    def go():
        with _store(args) as store:
            r, legs, hist, vio = (store.get(args.id), store.legs(args.id), store.history(args.id),
                                  store.violations(args.id))
        if args.json:
            _print_json({"request": r, "lenders": legs, "audit": hist, "violations": vio})
            return EXIT_OK
        print(request_text(r))
        print("\n借出馆 (lenders tried):")
        for leg in legs:
            print(f"  {leg['seq'] + 1}. {leg['lender']:<8} 收到 {_local(leg['arrived_at'])}  {leg['outcome']}"
                  + (f"  {leg['note']}" if leg["note"] else ""))
        print("\n操作记录 (audit log):")
        for h in hist:
            frm = f"{h['from_status']}/{h['from_phase']}" if h["from_phase"] else (h["from_status"] or "-")
            to = f"{h['to_status']}/{h['to_phase']}" if h["to_phase"] else h["to_status"]
            undone = f"  [rolled back by #{h['rolled_back_by']}]" if h["rolled_back_by"] else ""
            print(f"  #{h['id']} {_local(h['at'])}  {h['actor']} ({h['actor_role']})  {h['action']}: {frm} → {to}"
                  + (f"  — {h['reason']}" if h["reason"] else "") + undone)
        if vio:
            from ill.accounts import yuan

            print("\n违规 (violations):")
            for v in vio:
                print(f"  {v['kind']}  {yuan(v['fine_fen'])} 元  ({v['lender']} 的规则)"
                      + ("  [void]" if v["void"] else "") + (f"  {v['note']}" if v["note"] else ""))
        return EXIT_OK
    return _run(go)


def cmd_tick(args) -> int:
    from balis.cli import EXIT_OK
    from ill.workdays import local_date, missing_year, missing_year_text

    missing = missing_year(local_date(datetime.now(UTC)))
    if missing:  # that year's deadlines would count Monday to Friday, its holidays as working days
        print(f"balis: {missing_year_text(missing)}", file=sys.stderr)

    config = None
    if args.send:
        from balis.cli import UsageError
        from balis.cmd_notices import mail_config

        config = mail_config(args)
        if config is None:
            raise UsageError("tick --send needs a mail server: give --smtp-url or set BALIS_SMTP_URL "
                             "(smtp://user:pass@host:587?starttls=1) and BALIS_MAIL_FROM")

    def go():
        from ill import outbox

        with _store(args) as store:
            changes = store.tick()
            written = outbox.timed(store)  # due soon, answers due today, each library's digest (once each)
            mailed = deliver_due(store, config) if config is not None else None
        if args.json:
            _print_json({"changes": changes, "notices": written,
                         **({"mail": {"server": config.safe_url, **mailed.as_dict()}} if mailed else {})})
        else:
            print(f"{written} notice(s) written (balis notices list)")
            for c in changes:
                print(f"申请单 {c['id']}: {c['action']} {c['from']} → {c['to']}"
                      + (f" ({c.get('lender')})" if c.get("lender") else "") + (f"  {c['reason']}" if c["reason"] else ""))
            print(f"{len(changes)} change(s)")
            if mailed:
                print(f"{config.safe_url}: {mailed.sent} sent, {mailed.skipped} not mailed (no address or mail off), "
                      f"{mailed.retry} to try again later, {mailed.failed} refused for good")
        if mailed and mailed.error:
            print(f"balis: the mail server could not be reached: {mailed.error}; the deadlines were applied and the "
                  f"notices wait ('balis notices send' or the portal tries again)", file=sys.stderr)
            return 1
        return EXIT_OK
    return _run(go)


def deliver_due(store, config):
    """Mail every notice due now (ill.mail.deliver, batch by batch); the summed ill.mail.Report."""
    from ill import mail

    total = mail.Report()
    while True:
        report = mail.deliver(store, config)
        for k in ("sent", "skipped", "retry", "failed"):
            setattr(total, k, getattr(total, k) + getattr(report, k))
        total.error = report.error or total.error
        if report.error or not (report.sent or report.skipped or report.failed):
            return total


def cmd_user(args) -> int:
    from balis.cli import EXIT_OK, UsageError

    if args.op == "add" and not (args.id and args.role):
        raise UsageError("user add needs an ID and --role reader|staff|admin (and --member CODE for readers/staff)")
    if args.op == "add" and args.member:
        _check_members(args, [args.member.upper()])

    if args.op == "passwd" and not args.id:
        raise UsageError("user passwd needs the user's ID")
    if args.op == "demo":
        return _demo_users(args)
    password = _read_password(args) if args.op == "passwd" or args.password_stdin else None

    def go():
        from portal.auth import set_password

        with _store(args) as store:
            if args.op == "add":
                rows = [store.add_user(args.id, args.role, args.member, args.name)]
                if password is not None:
                    set_password(store, args.id, password)
            elif args.op == "passwd":
                set_password(store, args.id, password)
                print(f"password of {args.id} set; the user's open portal sessions were ended", file=sys.stderr)
                rows = [store.user(args.id)]
            else:
                rows = store.users()
        if args.json:
            _print_json({"users": rows})
        else:
            for u in rows:
                print(f"{u['id']:<16} {u['role']:<7} {u['member'] or '-':<8} {u['name']}")
        return EXIT_OK
    return _run(go)


def _read_password(args) -> str:
    from balis.cli import UsageError
    from portal.auth import PasswordError, check_new_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        import getpass

        password = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("the two passwords differ; nothing was changed")
    else:
        raise UsageError("no terminal to ask for the password: give it on standard input with --password-stdin")
    try:
        return check_new_password(password)
    except PasswordError as exc:
        raise UsageError(f"{exc}; nothing was changed") from None


DEMO_PASSWORD = "balis-demo"  # the demo test bed's accounts only; printed by 'balis request user demo'


def _demo_users(args) -> int:
    """Readers, staff and an administrator for the demo test bed, all with the demo password (idempotent)."""
    from balis.cli import EXIT_OK, UsageError
    from ill.errors import NotFound
    from portal.auth import set_password

    members = [m.code for m in _registry(args).members if m.active]
    if len(members) < 2:
        raise UsageError("the demo accounts need a registry with at least two active members")
    first, second = members[0], members[1]
    wanted = [("reader1", "reader", first, "张同学"), ("reader2", "reader", second, "李同学"),
              *((f"staff-{c.lower()}", "staff", c, f"{c} 馆际互借员") for c in members[:4]),
              ("admin", "admin", None, "BALIS 中心管理员")]

    def go():
        with _store(args) as store:
            made = []
            for uid, role, member, name in wanted:
                try:
                    store.user(uid)
                except NotFound:
                    store.add_user(uid, role, member, name)
                    set_password(store, uid, DEMO_PASSWORD)
                    made.append(uid)
        print(f"demo accounts ({'new: ' + ', '.join(made) if made else 'all there already'}); "
              f"password for each: {DEMO_PASSWORD}")
        for uid, role, member, _name in wanted:
            print(f"  {uid:<16} {role:<7} {member or '-'}")
        return EXIT_OK
    return _run(go)


def cmd_migrate(args) -> int:
    from balis.cli import EXIT_OK

    def go():
        with _store(args) as store:
            print(f"ILL store {store.engine.url.render_as_string(hide_password=True)}: schema at revision "
                  f"{store.revision}")
        return EXIT_OK
    return _run(go)


def cmd_stats(args) -> int:
    from balis.cli import EXIT_OK, UsageError
    from ill import stats
    from records.vocabulary import rate

    if args.view != "ill":
        from balis.cmd_dd import cmd_dd_stats

        return cmd_dd_stats(args)

    if args.month:
        try:
            stats.month_bounds(args.month)
        except ValueError as exc:
            raise UsageError(f"--month: {exc}") from None

    def go():
        with _store(args) as store:
            rows = stats.table(store, members=[args.member] if args.member else None,
                               months=[args.month] if args.month else None)
        if args.csv:
            from services import spreadsheets

            sys.stdout.write(stats.to_csv(rows) if args.machine else spreadsheets.ill_stats_csv(rows))
        elif args.json:
            _print_json({"figures": list(stats.FIGURES), "rows": rows})
        else:
            from balis.output import table

            head = ("馆 member", "月 month", *(stats.LABELS[k] for k in stats.FIGURES))
            body = [(r["member"], r["month"], *("" if r[k] is None else
                                                rate(r[k]) if k == "fill_rate" else str(r[k])
                                                for k in stats.FIGURES)) for r in rows]
            print(table([head, *body]) if body else "没有统计数据 (no requests in the store for this selection)")
        return EXIT_OK
    return _run(go)


def cmd_export(args) -> int:
    from pathlib import Path

    from balis.cli import EXIT_OK, UsageError
    from ill.iso18626 import export_request

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {out}: {exc.strerror}") from None

    def go():
        with _store(args) as store:
            for rid in args.ids:
                for n, doc in enumerate(export_request(store, rid), 1):
                    path = out / f"{rid}-{n}-{'request' if n == 1 else 'status'}.xml"
                    path.write_bytes(doc)
                    print(path)
        return EXIT_OK
    return _run(go)


def cmd_import(args) -> int:
    from pathlib import Path

    from balis.cli import EXIT_OK, UsageError
    from ill.iso18626 import import_request

    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")

    def go():
        with _store(args) as store:
            rid = import_request(store, [Path(f).read_bytes() for f in args.files], actor=args.actor, by_user=True)
            print(request_text(store.get(rid)))
        return EXIT_OK
    return _run(go)
