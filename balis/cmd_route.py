"""`balis route`: find an edition, then print the rota of lenders for a reader's home library."""

from __future__ import annotations

import json
import sys

from members import load_registry


def register(sub, common) -> None:
    p = sub.add_parser("route", parents=[common], help="rank the members to ask for an interlibrary loan",
                       description="Find one edition (by ISBN, work ID or query) and print the lenders to ask, "
                                   "in order, with the reasons for each place (docs/routing.md).")
    p.add_argument("query", nargs="*", help="a search query (as for 'balis search'); the best match is routed")
    p.add_argument("--isbn", metavar="X", help="the edition's ISBN (10 or 13 digits, hyphens allowed)")
    p.add_argument("--work", metavar="ID", help="a work ID from 'balis search' (W...): read from the local "
                                                  "index, or picked from the results of QUERY / --isbn")
    p.add_argument("--home", required=True, metavar="CODE", help="the reader's home library (member code)")
    p.add_argument("--max-lenders", type=int, default=5, metavar="N", help="lenders in the rota (default 5)")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds to wait for each member")
    p.add_argument("--index", metavar="DIR", help="local index folder (default $BALIS_INDEX or var/index)")
    p.add_argument("--db", metavar="URL", help="ILL store with the lenders' history (default $BALIS_DB or "
                                               "var/ill.sqlite, when it exists)")
    p.add_argument("--no-live", action="store_true", help="do not re-check availability with the members")
    p.add_argument("--json", action="store_true", help="machine-readable output (docs/routing.md)")
    p.add_argument("--kind", choices=["loan", "copy"], default="loan",
                   help="loan = a book (馆际互借, the default); copy = an article (原文传递): give --issn and --year")
    p.add_argument("--issn", metavar="X", help="copy: the journal's ISSN (print or online)")
    p.add_argument("--year", type=int, metavar="Y", help="copy: the article's year")
    p.add_argument("--volume", type=int, metavar="V", help="copy: the volume (卷)")
    p.add_argument("--issue", type=int, metavar="I", help="copy: the issue (期), for gaps of single issues")
    p.add_argument("--eholdings", metavar="FILE", help="copy: the e-journal holdings store (default "
                                                       "eholdings.sqlite in the home folder)")
    p.set_defaults(func=cmd_route)


def cmd_route(args) -> int:
    import asyncio

    from balis.cli import EXIT_NO_ANSWER, EXIT_OK, UsageError
    from balis.process import settle
    from routing import RoutingError
    from services.lenders import locate_lenders

    text = " ".join(args.query).strip()
    if args.kind == "copy":
        return cmd_route_copy(args, text)
    if args.issn or args.year or args.volume or args.issue:
        raise UsageError("--issn, --year, --volume and --issue route an article: add --kind copy")
    if not (text or args.isbn or args.work):
        raise UsageError("say which edition: --isbn X, --work ID, or a query (e.g. balis route 'ti:数据结构' "
                         "--home THU)")
    if args.isbn and text:
        raise UsageError("give either --isbn or a query, not both")
    if not 1 <= args.max_lenders <= 50:
        raise UsageError("--max-lenders must be between 1 and 50")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be a positive number of seconds")
    registry = load_registry(args.registry)
    home = args.home.strip().upper()
    try:
        home_member = registry.get(home)
    except KeyError:
        raise UsageError(f"unknown home library {args.home!r}; 'balis members' lists the member codes") from None

    query = _query(text, args.isbn) if (text or args.isbn) else None
    settle()  # the search behind the rota merges records: the collector policy of balis/process.py
    try:
        found, rota = asyncio.run(locate_lenders(registry, home, query=query, work_id=args.work,
                                                 index_dir=args.index, db=args.db, live=not args.no_live,
                                                 max_lenders=args.max_lenders, timeout=args.timeout))
    except RoutingError as exc:
        raise UsageError(str(exc)) from None
    if found.history_problem:
        print(f"balis: {found.history_problem}", file=sys.stderr)
    if found.work is None:
        if args.json:
            print(json.dumps(_json(args, found, None), ensure_ascii=False, indent=2))
        print(f"balis: {found.why}", file=sys.stderr)
        return EXIT_NO_ANSWER
    if args.json:
        print(json.dumps(_json(args, found, rota), ensure_ascii=False, indent=2))
    else:
        print(_text(found, rota, home_member, registry))
    if rota.own_available or rota.lenders:
        return EXIT_OK
    print(f"balis: {rota.note}", file=sys.stderr)
    return EXIT_NO_ANSWER


# -- an article (原文传递) -------------------------------------------------------------------------------
def check_article(issn: str | None, year: int | None, volume: int | None, issue: int | None) -> str:
    """The ISSN checked (hyphenated), or UsageError saying what to give."""
    from datetime import date

    from balis.cli import UsageError
    from records.identifiers import parse_issn

    if not issn or year is None:
        raise UsageError("an article is routed by its journal and year: --issn X --year Y [--volume V]")
    checked = parse_issn(issn)
    if checked is None or len([c for c in issn if c.isalnum()]) != 8:
        raise UsageError(f"--issn {issn!r} is not an ISSN: 8 characters, the last a check digit (0252-3116)")
    if not 1500 <= year <= date.today().year + 1:
        raise UsageError(f"--year {year}: give the article's year of publication, e.g. 2010")
    for name, value in (("--volume", volume), ("--issue", issue)):
        if value is not None and not 0 < value < 100000:
            raise UsageError(f"{name} {value}: give a positive number")
    return checked


def cmd_route_copy(args, text: str) -> int:
    from balis.cli import EXIT_NO_ANSWER, EXIT_OK, UsageError
    from routing import RoutingError
    from services.articles import locate_suppliers

    if text or args.isbn or args.work:
        raise UsageError("--kind copy routes an article by --issn and --year, not by a query, --isbn or --work")
    if not 1 <= args.max_lenders <= 50:
        raise UsageError("--max-lenders must be between 1 and 50")
    issn = check_article(args.issn, args.year, args.volume, args.issue)
    registry = load_registry(args.registry)
    home = args.home.strip().upper()
    try:
        home_member = registry.get(home)
    except KeyError:
        raise UsageError(f"unknown home library {args.home!r}; 'balis members' lists the member codes") from None
    try:
        sources, rota = locate_suppliers(registry, home, [issn], args.year, args.volume, args.issue,
                                         index=args.index, eholdings=args.eholdings, db=args.db,
                                         max_lenders=args.max_lenders)
    except RoutingError as exc:
        raise UsageError(str(exc)) from None
    for problem in sources.problems:
        print(f"balis: {problem}", file=sys.stderr)
    if args.json:
        print(json.dumps({"version": 1, "kind": "copy", "home": home, "sources": sources.to_dict(),
                          "rota": rota.to_dict()}, ensure_ascii=False, indent=2))
    else:
        print(_copy_text(rota, sources, home_member))
    if rota.own or rota.lenders:
        return EXIT_OK
    if not args.json:
        print(f"balis: {rota.note}", file=sys.stderr)
    return EXIT_NO_ANSWER


def _copy_text(rota, sources, home) -> str:
    titles = "；".join(dict.fromkeys(j["title"] for j in sources.journals)) or "（联合目录中无此刊的记录）"
    lines = [f"{titles} · {rota.article.text()}", f"读者所在馆 home: {home.name} ({home.code})", ""]
    if rota.own:
        lines.append(rota.note)
    elif rota.lenders:
        lines.append("原文传递轮转 rota (ask in this order):")
        for e in rota.lenders:
            kind = "电子 electronic" if e.source == "electronic" else "纸本 print"
            mark = "" if e.certain else "（卷期待确认 to be checked）"
            lines.append(f"{e.rank:>3}. {e.name} ({e.member})  [{kind}]{mark}  {e.text}")
        for e in rota.spare:
            lines.append(f"   备选 spare: {e.name} ({e.member})  {e.text}")
    else:
        lines.append(rota.note)
    if rota.excluded:
        lines += ["", "未列入 left out:"]
        lines += [f"   {x.name} ({x.member}): {x.reason}" for x in rota.excluded]
    extra = [f"纸本馆藏 print runs: {'联合目录 union index ' + sources.index if sources.index else '无'}",
             f"电子刊馆藏 e-journals: {sources.eholdings or '未导入 none imported (balis holdings import-kbart)'}",
             "原文传递记录 copy history: " + ("ILL 记录" if sources.history_source == "ill store" else
                                             "无（按全体平均）")]
    return "\n".join(lines + [""] + extra)


# -- the edition asked for ---------------------------------------------------------------------------
def _query(text: str, isbn: str | None):
    from balis.cli import UsageError
    from connectors.query import QueryError, parse

    if isbn:
        digits = isbn.replace("-", "").replace(" ", "")
        if not (len(digits) in (10, 13) and digits[:-1].isdigit() and (digits[-1].isdigit() or digits[-1] in "xX")):
            raise UsageError(f"--isbn {isbn!r} is not an ISBN: give 10 or 13 digits (hyphens allowed)")
        text = f"isbn:{digits}"
    try:
        return parse(text)
    except QueryError as exc:
        raise UsageError(f"query not understood: {exc.in_both()}") from None


# -- output ----------------------------------------------------------------------------------------------
def _title(work) -> str:
    from services.views import display_title

    d = work.display
    meta = [x for x in (", ".join(a.name for a in d.authors[:2]), d.publisher, str(d.year) if d.year else None)
            if x]
    isbn = f" · ISBN {work.isbns[0]}" if work.isbns else ""
    return f"{display_title(d)}" + (f" / {' — '.join(meta)}" if meta else "") + isbn + f"  [{work.work_id}]"


def _text(found, rota, home, registry) -> str:
    lines = [_title(found.work), f"读者所在馆 home: {home.name} ({home.code})", ""]
    if rota.own_available:
        lines.append(rota.note)
        for h in rota.own_copies:
            lines.append(f"   {h.call_number or ''}  {h.location or ''}")
        return "\n".join(lines)
    if rota.lenders:
        lines.append("借出馆轮转 rota (ask in this order):")
        for e in rota.lenders:
            lines.append(f"{e.rank:>3}. {e.name} ({e.member})  {e.text}")
            for h in e.copies[:3]:
                lines.append(f"       {h.call_number or ''}  {h.location or ''}  {_status(h)}")
        for e in rota.spare:
            lines.append(f"   备选 spare: {e.name} ({e.member})  {e.text}")
    else:
        lines.append(rota.note)
    if rota.excluded:
        lines += ["", "未列入 left out:"]
        lines += [f"   {x.name} ({x.member}): {x.reason}" for x in rota.excluded]
    extra = []
    if found.source == "local":
        extra.append("版本来自本地索引 (local index)")
    if found.live_members:
        extra.append(f"实时馆藏状态 live status: {', '.join(found.live_members)}")
    extra.append("借阅历史 history: " + ("ILL 记录" if found.history_source == "ill store" else "无（按全体平均）"))
    if found.source == "live+index":
        extra.append("版本来自实时检索和联合索引 (live search and union index)")
    if found.index_members:
        extra.append(f"联合索引中的收藏馆（实时检索未返回）index-only holders: {', '.join(found.index_members)}")
    if found.print_preferred:
        extra.append("返还式借阅优先印本 (a loan: the print edition was chosen over an e-book ranked above it)")
    lines += [""] + extra
    if found.others:
        lines += ["", f"匹配的版本 editions matched ({len(found.editions)}; choose one with --work ID):"]
        for w in found.editions[:10]:
            lines.append(("*  " if w is found.work else "   ") + _edition_line(w))
        if len(found.editions) > 10:
            lines.append(f"   … {len(found.editions) - 10} more")
    return "\n".join(lines)


def _edition_line(work) -> str:
    from services.lenders import is_electronic
    from services.views import display_title

    d = work.display
    what = "电子版 e-book" if is_electronic(work) else "印本 print"
    meta = " · ".join(x for x in (d.publisher, str(d.year) if d.year else "", f"ISBN {work.isbns[0]}" if work.isbns
                                  else "", what, f"{len(work.members)} 馆 libraries") if x)
    return f"{work.work_id}  {display_title(d)}  ({meta})"


def _status(h) -> str:
    from routing.rota import STATUS_TEXT

    text = STATUS_TEXT.get(h.status, h.status)
    return text + (f" {h.due_date[:10]} 到期" if h.due_date else "")


def _json(args, found, rota) -> dict:
    from services.views import locate_json

    return locate_json(found, rota, home=args.home.upper(), query=" ".join(args.query) or None, isbn=args.isbn,
                       work=args.work)
