"""`balis testbed up|status|down|history`: registered through the `balis.commands` entry point (pyproject.toml), so the
`balis` command never imports the test bed; this module is loaded only when `balis testbed` is asked for."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_NOT_RUNNING, EXIT_USAGE = 0, 1, 2


def register(sub, common: argparse.ArgumentParser) -> None:
    """Add `testbed` and its actions to the `balis` command's subparsers."""
    from members import paths

    p = sub.add_parser("testbed", help="the demo test bed of member OPACs (Zebra on 127.0.0.1)")
    tsub = p.add_subparsers(metavar="ACTION")
    default_dir = os.environ.get("BALIS_TESTBED") or str(paths.testbed_dir())
    for name, helptext, func in (("up", "build and start the member OPACs", cmd_up),
                                 ("status", "show the member OPACs", cmd_status),
                                 ("down", "stop the member OPACs", cmd_down)):
        tp = tsub.add_parser(name, help=helptext)
        tp.add_argument("--dir", metavar="D", default=default_dir,
                        help="state folder (default $BALIS_TESTBED, else testbed/ in the home folder $BALIS_HOME)")
        if name == "up":
            tp.add_argument("--members", type=int, default=8, metavar="N", help="number of members (1-70)")
            tp.add_argument("--seed", type=int, default=None, help="catalogue generator seed")
            tp.add_argument("--specials", action="store_true",
                            help="also a stock MARC21 Zebra (NLCW) and a member that requires a login (CALIS); "
                                 "docs/testbed.md")
        tp.add_argument("--json", action="store_true")
        tp.set_defaults(func=func)
    tp = tsub.add_parser("history", help="load a year of demo ILL history (演示数据) into the demo store, once",
                         description="A year of demo interlibrary-loan requests over the harvested test bed, "
                                     "written only into a store that holds no other requests (docs/operations.md).")
    tp.add_argument("--dir", metavar="D", default=default_dir, help="the test bed's state folder (its registry)")
    tp.add_argument("--db", metavar="URL", help="ILL store (default $BALIS_DB, else ill.sqlite in the home folder)")
    tp.add_argument("--index", metavar="DIR", help="the harvested union index (default $BALIS_INDEX, else index/ "
                                                   "in the home folder)")
    tp.add_argument("--requests", type=int, default=None, metavar="N",
                    help="reader requests drawn for the year (default 3979, as the consortium's 2009)")
    tp.add_argument("--seed", type=int, default=1)
    tp.add_argument("--json", action="store_true")
    tp.set_defaults(func=cmd_history)


def _testbed(args):
    from testbed.bed import Testbed

    kwargs = {"seed": args.seed} if getattr(args, "seed", None) is not None else {}
    return Testbed(Path(args.dir), **kwargs)


def cmd_up(args) -> int:
    if not 1 <= args.members <= 70:
        raise _usage_error("--members must be between 1 and 70")
    bed = _testbed(args)
    registry = bed.up(members=args.members, specials=args.specials)
    if args.json:
        print(json.dumps({"registry": str(registry), "members": bed.status()}, ensure_ascii=False, indent=2))
    else:
        _print_status(bed.status())
        print(f"\nregistry: {registry}\n(use it with --registry {registry} or BALIS_REGISTRY={registry})")
    return EXIT_OK


def cmd_status(args) -> int:
    rows = _testbed(args).status()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _print_status(rows)
    return EXIT_OK if rows and all(r.get("running") for r in rows) else EXIT_NOT_RUNNING


def cmd_down(args) -> int:
    _testbed(args).down()
    print(f"test bed in {args.dir} stopped")
    return EXIT_OK


def cmd_history(args) -> int:
    from ill.store import Store
    from indexer.errors import LocalIndexError
    from indexer.index import LocalIndex
    from indexer.paths import resolve_index_dir
    from indexer.schema import load_work
    from members import load_registry
    from testbed.ill_history import REQUESTS_PER_YEAR, HistoryRefused, load

    registry_path = Path(args.dir) / "registry.toml"
    if not registry_path.is_file():
        raise _usage_error(f"no test bed in {args.dir}: start it with 'balis testbed up'")
    members = list(load_registry(registry_path).members)
    try:
        with LocalIndex.open(resolve_index_dir(args.index)) as index, index.whoosh.searcher() as s:
            works = [load_work(doc["work"]) for doc in s.documents()]
    except LocalIndexError as exc:
        raise _usage_error(f"{exc}") from None
    with Store(args.db or os.environ.get("BALIS_DB")) as store:
        try:
            done = load(store, works, members, seed=args.seed, n=args.requests or REQUESTS_PER_YEAR)
        except HistoryRefused as exc:
            print(f"balis: 演示数据未载入 demo history not loaded: {exc}", file=sys.stderr)
            return EXIT_OK
    if args.json:
        print(json.dumps(done, ensure_ascii=False))
    elif done["skipped"]:
        print(f"演示数据 demo data: {done['requests']} requests are in the store already")
    else:
        print(f"演示数据 demo data: {done['requests']} ILL requests of the past year written in {done['seconds']} s")
    return EXIT_OK


def _usage_error(message: str) -> Exception:
    """The `balis` command's usage error (exit 2 with the message), found at run time: no import of it here."""
    from balis.cli import UsageError

    return UsageError(message)


def _print_status(rows: list[dict]) -> None:
    from balis.output import table

    if not rows:
        print("no test bed here; start one with 'balis testbed up'")
        return
    cols = ["code", "name", "syntax", "charset", "protocols", "running", "port", "proxy_port", "records", "fault"]

    def cell(value) -> str:
        if isinstance(value, (list, tuple)):
            return ",".join(map(str, value))
        return "" if value is None else str(value)

    print(table([tuple(cols)] + [tuple(cell(r.get(c)) for c in cols) for r in rows]))
