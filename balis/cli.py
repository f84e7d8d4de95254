"""The `balis` command: argument handling only; the work is done by the packages it calls."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from members import RegistryError, load_registry

EXIT_OK, EXIT_NO_ANSWER, EXIT_USAGE = 0, 1, 2

# Command families that live in modules of their own; each has `register(subparsers, common_parent)`.
COMMAND_MODULES: tuple[str, ...] = ("balis.cmd_route", "balis.cmd_index", "balis.cmd_serve", "balis.cmd_ill",
                                     "balis.cmd_backup", "balis.cmd_notices", "balis.cmd_holdings",
                                     "balis.cmd_peers", "balis.cmd_alerts")
# Subcommands that other installed packages add (the demo test bed's `testbed`), each an entry point naming its
# `register(subparsers, common_parent)`; one is loaded only when its command is asked for, all for the help.
COMMAND_GROUP = "balis.commands"


class UsageError(Exception):
    """Something the person typed or configured is wrong; the message says what to do."""


def main(argv: list[str] | None = None) -> int:
    from balis.process import tune_collector

    tune_collector()  # the process's collector policy is set here, at the entry point (balis/process.py)
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except (RegistryError, UsageError) as exc:
        print(f"balis: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("balis: interrupted", file=sys.stderr)
        return 130


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", metavar="FILE", default=os.environ.get("BALIS_REGISTRY"),
                        help="member registry (TOML); default $BALIS_REGISTRY, the demo test bed's, "
                             "or config/members.toml")
    parser = argparse.ArgumentParser(prog="balis", description="BALIS union catalogue: federated search "
                                     "over member OPACs (SRU and Z39.50).")
    sub = parser.add_subparsers(metavar="COMMAND")

    p = sub.add_parser("members", parents=[common], help="list the members, sorted by pinyin")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_members)

    p = sub.add_parser("search", parents=[common], help="search members in parallel")
    p.add_argument("query", nargs="+", help='query: words, "phrases", ti: au: isbn: issn: su: pub: year:, '
                   "AND/OR/NOT, parentheses; or CQL")
    p.add_argument("--members", metavar="A,B", help="member codes to ask (default: every active member)")
    p.add_argument("--protocol", choices=["sru", "z3950"], help="use only this protocol")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds to wait for each member")
    p.add_argument("--max", type=int, default=10, metavar="N", help="records per member (default 10)")
    p.add_argument("--deadline", type=float, metavar="S", help="overall seconds for the whole search")
    p.add_argument("--page", type=int, default=1, metavar="N", help="result page (each member's next records)")
    p.add_argument("--sort", choices=["relevance", "year", "year_asc", "title"], default="relevance")
    p.add_argument("--facet", action="append", default=[], metavar="NAME=VALUE",
                   help="keep only works with this facet value (member, year, language, material_type, clc); "
                        "repeat to combine")
    p.add_argument("--cql", action="store_true", help="the query is CQL")
    p.add_argument("--stream", action="store_true", help="print events as members answer")
    p.add_argument("--json", action="store_true", help="machine-readable output (docs/search.md)")
    p.add_argument("--local", action="store_true", help="answer from the local index (balis harvest); "
                   "--max is then works per page (docs/local-search.md)")
    p.add_argument("--live-check", action="store_true", help="with --local: ask the holding members live "
                   "for the status of the works shown")
    p.add_argument("--index", metavar="DIR", help="local index folder (default $BALIS_INDEX, else var/index)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("dedup", help="merge the records of MARC files into editions (clusters as JSON lines)")
    p.add_argument("files", nargs="+", metavar="FILE", help="ISO 2709 or MARCXML files, plain or gzip/bzip2")
    p.add_argument("--format", choices=["iso2709", "marcxml"], help="file format (default: by content)")
    p.add_argument("--syntax", choices=["auto", "marc21", "unimarc"], default="auto")
    p.add_argument("--encoding", metavar="E", help="ISO 2709 charset: utf-8, marc-8 or gbk (default: detect)")
    p.add_argument("--out", required=True, metavar="FILE", help="where to write clusters.jsonl ('-' = stdout)")
    p.set_defaults(func=cmd_dedup)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub, common)
    asked = next((a for a in argv or () if not a.startswith("-")), None)
    if asked not in sub.choices:
        for entry in _command_entry_points(asked):
            entry.load()(sub, common)
    return parser


def _command_entry_points(asked: str | None) -> list:
    """The `balis.commands` entry points of the installed packages: the one named `asked`, or all when no
    command (or an unknown one) was given, so the help lists them."""
    from importlib.metadata import entry_points

    found = list({e.name: e for e in reversed(list(entry_points(group=COMMAND_GROUP)))}.values())
    named = [e for e in found if e.name == asked]
    return named or found


def cmd_members(args) -> int:
    from balis.output import members_text
    from services.views import member_json

    registry = load_registry(args.registry)
    members = registry.sorted_by_pinyin()
    if args.json:
        print(json.dumps({"version": 1, "registry": str(registry.path),
                          "members": [member_json(m) for m in members]}, ensure_ascii=False, indent=2))
    else:
        print(members_text(members))
        queried = sum(m.queryable for m in members)
        print(f"\n{len(members)} members, {queried} searchable ({registry.path})")
    return EXIT_OK


def cmd_search(args) -> int:
    import asyncio

    from balis.output import event_line, outcome_text, works_text
    from balis.process import settle
    from connectors.query import QueryError, parse
    from federator.answer_times import default_path as answer_times_path
    from federator.federation import Federator
    from services.search import SelectionError, arrange, parse_selections
    from services.views import search_json

    text = " ".join(args.query)
    try:
        query = parse(text, cql=True if args.cql else None)
    except QueryError as exc:
        raise UsageError(f"query not understood: {exc.in_both()}") from None
    if args.max < 1 or args.max > 1000:
        raise UsageError("--max must be between 1 and 1000")
    for name, value in (("--timeout", args.timeout), ("--deadline", args.deadline)):
        if value is not None and value <= 0:
            raise UsageError(f"{name} must be a positive number of seconds")
    if args.page < 1:
        raise UsageError("--page must be 1 or more")
    try:
        selected = parse_selections(args.facet)
    except SelectionError as exc:
        raise UsageError(f"--facet {exc}") from None
    registry = load_registry(args.registry)
    if args.live_check and not args.local:
        raise UsageError("--live-check checks the answer of a local search: add --local")
    if args.local:
        from balis.search_local import run_local

        return run_local(args, text, query, selected, registry)
    codes = [c.strip() for c in args.members.split(",") if c.strip()] if args.members else None
    members = registry.select(codes)

    async def go():
        async with Federator(members, deadline=args.deadline, answer_times=answer_times_path()) as fed:
            if not args.stream:
                return await fed.run(query, protocol=args.protocol, timeout=args.timeout,
                                     per_member=args.max, page=args.page)
            events = []
            async for event in fed.stream(query, protocol=args.protocol, timeout=args.timeout,
                                          per_member=args.max, page=args.page):
                events.append(event)
                line = event_line(event)
                if line and not args.json:
                    print(line, flush=True)
            return fed.assemble(query, args.page, events)

    settle()
    result = asyncio.run(go())
    names = {m.code: m.name for m in members}
    try:
        page = arrange(result.works, query, selected=selected, sort=args.sort, names=names)
    except SelectionError as exc:
        raise UsageError(f"--facet: {exc}") from None
    works, outcomes = page.works, result.outcomes
    if args.json:
        print(search_json(text, query, outcomes, works=works, facets=page.facets, page=args.page,
                          has_more=result.has_more, sort=args.sort, selected=selected,
                          extra={"total_hits": result.total_hits, "editions_on_page": page.editions,
                                 "ms": result.ms, "source": "live", "availability": "live"}))
    else:
        print(works_text(works, names))
        print()
        for o in outcomes:
            print(outcome_text(o))
    if not result.answered:
        asked = [o for o in outcomes if o.status != "skipped"]
        why = "no member could be asked" if not asked else "no member answered"
        print(f"balis: {why}; see the errors above, or check 'balis members' and 'balis testbed status'",
              file=sys.stderr)
        return EXIT_NO_ANSWER
    return EXIT_OK


def cmd_dedup(args) -> int:
    """Exit 0 when every file gave records (unreadable ones are listed and skipped), 1 when a file gave none."""
    from balis.process import settle
    from dedup.batch import run_files

    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    if args.encoding and args.encoding.lower() not in ("utf-8", "utf8", "marc-8", "marc8", "gbk", "gb18030"):
        raise UsageError(f"--encoding must be utf-8, marc-8 or gbk, not {args.encoding!r}")
    settle()
    if args.out == "-":
        report = run_files([Path(f) for f in args.files], fmt=args.format, syntax=args.syntax,
                           encoding=args.encoding, out=sys.stdout, err=sys.stderr)
    else:
        out_path = Path(args.out)
        tmp = out_path.with_name(out_path.name + ".part")
        try:
            with tmp.open("w", encoding="utf-8") as out:
                report = run_files([Path(f) for f in args.files], fmt=args.format, syntax=args.syntax,
                                   encoding=args.encoding, out=out, err=sys.stderr)
        except OSError as exc:
            raise UsageError(f"cannot write {out_path}: {exc.strerror}") from None
        tmp.replace(out_path)
    if report.unreadable:
        print(f"balis: {report.unreadable} unreadable record(s) skipped (listed above)", file=sys.stderr)
    if report.empty_files:
        print(f"balis: 没有读出任何记录 / no record could be read from: {', '.join(report.empty_files)}",
              file=sys.stderr)
        return EXIT_NO_ANSWER
    return EXIT_OK


if __name__ == "__main__":
    # run the one balis.cli module, so the UsageError that command modules import is the one caught here
    from balis.cli import main as _main

    sys.exit(_main())
