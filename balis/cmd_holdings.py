"""`balis holdings`: members' e-journal holdings from KBART files (docs/document-delivery.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub, common) -> None:
    p = sub.add_parser("holdings", parents=[common], help="members' e-journal holdings (KBART) for document "
                                                          "delivery",
                       description="Import and list the e-journal packages members license, from KBART files "
                                   "(NISO RP-9-2014), with whether each licence allows document delivery "
                                   "(docs/document-delivery.md).")
    hs = p.add_subparsers(metavar="ACTION")

    q = hs.add_parser("import-kbart", parents=[common], help="store a member's KBART file (replaces the package)")
    q.add_argument("member", metavar="MEMBER", help="the licensing member's code (see 'balis members')")
    q.add_argument("file", metavar="FILE", help="the KBART file: UTF-8, tab-separated, with the header row")
    q.add_argument("--package", metavar="NAME", help="the package's name (default: the file name without .txt)")
    dd = q.add_mutually_exclusive_group()
    dd.add_argument("--dd-allowed", dest="dd_allowed", action="store_true", default=None,
                    help="the licence allows document delivery (原文传递) from this package")
    dd.add_argument("--no-dd", dest="dd_allowed", action="store_false",
                    help="the licence does not allow it (the default for a new package)")
    q.add_argument("--store", metavar="FILE", help="the e-holdings store (default eholdings.sqlite in the home "
                                                   "folder)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_import_kbart)

    q = hs.add_parser("list", parents=[common], help="the packages stored, per member")
    q.add_argument("--member", metavar="CODE")
    q.add_argument("--store", metavar="FILE")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)


def _member(args, code: str):
    from balis.cli import UsageError
    from members import load_registry

    registry = load_registry(args.registry)
    try:
        return registry.get(code.strip().upper())
    except KeyError:
        raise UsageError(f"unknown member {code!r}; 'balis members' lists the member codes") from None


def cmd_import_kbart(args) -> int:
    from balis.cli import EXIT_OK, EXIT_USAGE, UsageError
    from indexer.eholdings import EHoldings
    from indexer.errors import HarvestStoreError
    from records.kbart import KbartError, read_kbart

    member = _member(args, args.member)
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    package = (args.package or path.stem).strip()
    if not package or len(package) > 200:
        raise UsageError("--package: give the package a name of 1 to 200 characters")
    try:
        titles = list(read_kbart(data))
    except KbartError as exc:
        print(f"balis: {path}: {exc}; nothing was imported", file=sys.stderr)
        return EXIT_USAGE
    if not titles:
        print(f"balis: {path}: no titles under the header; nothing was imported", file=sys.stderr)
        return EXIT_USAGE
    try:
        with EHoldings(args.store) as store:
            known = {p["package"]: p for p in store.packages(member.code)}
            dd = args.dd_allowed if args.dd_allowed is not None else known.get(package, {}).get("dd_allowed", False)
            done = store.replace_package(member.code, package, titles, dd_allowed=dd, source=str(path))
    except HarvestStoreError as exc:
        print(f"balis: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(done, ensure_ascii=False, indent=2))
    else:
        allowed = "允许原文传递 document delivery allowed" if dd else "不允许原文传递 no document delivery"
        print(f"{member.name} ({member.code}) · {package}: {done['titles']} 种刊 titles stored "
              f"(replacing {done['replaced']}) · {allowed}")
    return EXIT_OK


def cmd_list(args) -> int:
    from balis.cli import EXIT_OK
    from indexer.eholdings import EHoldings, default_path

    code = _member(args, args.member).code if args.member else None
    target = Path(args.store) if args.store else default_path()
    rows = []
    if target.exists():
        with EHoldings(target, create=False) as store:
            rows = store.packages(code)
    if args.json:
        print(json.dumps({"packages": rows}, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        print("没有电子刊馆藏 no e-journal holdings imported: balis holdings import-kbart MEMBER FILE")
        return EXIT_OK
    for r in rows:
        dd = "原文传递 DD" if r["dd_allowed"] else "不可原文传递 no DD"
        print(f"{r['member']:<8} {r['package']:<40} {r['titles']:>7} titles  {dd}  {r['imported_at'][:19]}")
    return EXIT_OK
