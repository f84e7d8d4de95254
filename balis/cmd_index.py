"""`balis harvest` and `balis index stats`: argument handling and output; the work is in indexer/."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path

STATUS_ZH = {"ok": "完成", "failed": "失败", "skipped": "跳过"}


def register(sub, common) -> None:
    p = sub.add_parser("harvest", parents=[common],
                       help="harvest member catalogues into the local index (incremental, resumable)")
    p.add_argument("--members", metavar="A,B", help="member codes to harvest (default: every active member)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true",
                      help="fetch every record again (OAI-PMH too), compare all and rebuild the index")
    mode.add_argument("--since", metavar="DATE",
                      help="records changed since DATE (YYYY-MM-DD or ISO time) "
                           "instead of since the last run, where members can say (OAI-PMH, a date search); "
                           "the others are compared in full")
    p.add_argument("--index", metavar="DIR|URL",
                   help="index folder, or postgresql://… for the index and harvest store in PostgreSQL "
                        "(default $BALIS_INDEX or var/index)")
    p.add_argument("--concurrency", type=int, default=4, metavar="N", help="members harvested at once (default 4)")
    p.add_argument("--rate", type=float, metavar="R",
                   help="requests per second to each member, overriding the registry's harvest_rate (0 = no limit)")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds to wait for each answer of a member")
    p.add_argument("--page-size", type=int, metavar="N",
                   help="records per Z39.50/SRU request (default 500 for Z39.50, the member's max_records for SRU)")
    p.add_argument("--read-processes", type=int, metavar="N",
                   help="processes that read the records received (MARC, normalising), beside the harvest's own; "
                        "0 = read in the harvest process (default: see docs/harvest.md)")
    p.add_argument("--json", action="store_true", help="print the report as JSON (docs/harvest.md)")
    p.set_defaults(func=cmd_harvest)

    p = sub.add_parser("index", parents=[common], help="the local index: statistics")
    isub = p.add_subparsers(metavar="ACTION")
    sp = isub.add_parser("stats", parents=[common], help="size, editions, holdings per member, last harvest")
    sp.add_argument("--index", metavar="DIR", help="index folder (default $BALIS_INDEX or var/index)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_index_stats)


def _since(text: str | None):
    from balis.cli import UsageError

    if not text:
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r} is not a date; write YYYY-MM-DD or an ISO time such as "
                         "2026-11-20T02:00:00+08:00") from None


# ------------------------------------------------------------------------------------------- commands

def cmd_harvest(args) -> int:
    from balis.cli import EXIT_NO_ANSWER, EXIT_OK, EXIT_USAGE, UsageError
    from balis.harvest_progress import PlainProgress, RichProgress
    from balis.process import settle
    from indexer.backend import is_database, resolve_location
    from indexer.errors import HarvestError, HarvestStoreError, LocalIndexError
    from indexer.harvest import HarvestOptions, harvest_endpoint, run_harvest
    from indexer.pg.index import shown
    from members import load_registry

    registry = load_registry(args.registry)
    codes = [c.strip() for c in args.members.split(",") if c.strip()] if args.members else None
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.page_size is not None and not 1 <= args.page_size <= 10000:
        raise UsageError("--page-size must be between 1 and 10000 records")
    if args.read_processes is not None and args.read_processes < 0:
        raise UsageError("--read-processes must be 0 (read in the harvest process) or more")
    if args.rate is not None and args.rate < 0:
        raise UsageError("--rate must be 0 (no limit) or more requests per second")
    opts = HarvestOptions(members=codes, full=args.full, since=_since(args.since), concurrency=args.concurrency,
                          rate=args.rate, timeout=args.timeout, page_size=args.page_size,
                          read_processes=args.read_processes)
    location = resolve_location(args.index)  # a folder (whoosh + harvest.sqlite) or a database (both in it)
    chosen = [m.code for m in registry.select(codes) if codes or (m.active and harvest_endpoint(m))]
    settle()
    try:
        if sys.stderr.isatty() and not args.json:
            with RichProgress(chosen) as progress:
                result = run_harvest(registry, location, opts, progress)
        else:
            result = run_harvest(registry, location, opts, PlainProgress())
    except (HarvestError, HarvestStoreError, LocalIndexError) as exc:
        print(f"balis harvest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("balis harvest: 已中断 interrupted; what was fetched is kept: run 'balis harvest' again to continue",
              file=sys.stderr)
        return 130
    if args.json:
        doc = result.as_dict()
        doc["index_dir"] = shown(str(location)) if is_database(location) else str(location)
        if is_database(location):
            doc["index_database"] = shown(str(location))
        print(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        _print_report(result, shown(str(location)) if is_database(location) else location)
    if any(r.status == "ok" for r in result.members):
        return EXIT_OK
    return EXIT_NO_ANSWER


def _print_report(result, index_dir: Path | str) -> None:
    rows = [("成员 member", "协议", "状态", "记录 records", "新增 added", "修改 changed", "删除 deleted",
             "错误 errors", "用时 s")]
    for r in result.members:
        rows.append((r.member, r.protocol or "—", STATUS_ZH.get(r.status, r.status), str(r.records), str(r.added),
                     str(r.changed), str(r.deleted), str(r.errors), f"{r.seconds:.1f}"))
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell + " " * (widths[i] - _width(cell)) for i, cell in enumerate(row)).rstrip())
    for r in result.members:
        if r.message:
            print(f"  {r.member}: {r.message}")
        for sample in r.error_samples:
            print(f"  {r.member}: {sample}")
    ix = result.index
    steps = ", ".join(f"{name} {secs:.1f} s" for name, secs in ix.get("phases", {}).items())
    # records whose match keys the store did not keep under these rules (after an upgrade): keyed once, then kept
    keyed = f", {ix['keyed_anew']} keyed anew" if ix.get("keyed_anew") else ""
    print(f"索引 index {index_dir}: {ix.get('mode')}, {ix.get('records_merged', 0)} records merged, "
          f"{ix.get('upserted', 0)} editions written, {ix.get('deleted', 0)} removed{keyed}"
          f"{f' ({steps})' if steps else ''}; 共用时 total {result.seconds:.1f} s")


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def cmd_index_stats(args) -> int:
    from balis.cli import EXIT_OK, EXIT_USAGE
    from indexer.backend import is_database, open_index, resolve_location
    from indexer.errors import HarvestStoreError, LocalIndexError
    from indexer.store import STORE_NAME, open_store

    location = resolve_location(args.index)
    try:
        ix = open_index(location)
        try:
            stats = ix.stats()
        finally:
            ix.close()
    except LocalIndexError as exc:
        print(f"balis index stats: {exc}", file=sys.stderr)
        return EXIT_USAGE
    members: dict[str, dict] = {}
    stats["store_bytes"] = 0
    store_path = None if is_database(location) else Path(location) / STORE_NAME
    if store_path is None or store_path.exists():
        try:
            store = open_store(location, create=False)
        except HarvestStoreError as exc:
            print(f"balis index stats: {exc}", file=sys.stderr)
            return EXIT_USAGE
        try:
            stats["store_bytes"] = store.size_bytes()
            counts = store.counts_per_member()
            infos = store.members_info()
            for code in sorted(set(counts) | set(infos) | set(stats.get("holdings_per_member", {}))):
                info = infos.get(code, {})
                report = info.get("last_report") or {}
                members[code] = {"records": counts.get(code, 0),
                                 "holdings": stats.get("holdings_per_member", {}).get(code, 0),
                                 "last_harvest": info.get("last_finished"), "last_status": info.get("last_status"),
                                 "last_protocol": report.get("protocol"), "interrupted":
                                     store.checkpoint(code) is not None}
        finally:
            store.close()
    if not members:  # no harvest store beside it: the members are those the index holds copies of
        members = {code: {"records": None, "holdings": n, "last_harvest": stats["harvested"].get(code),
                          "last_status": None, "last_protocol": None, "interrupted": False}
                   for code, n in stats["holdings_per_member"].items()}
    stats["members"] = members
    if args.json:
        print(json.dumps({"version": 1, **stats}, ensure_ascii=False, indent=1))
        return EXIT_OK
    size = stats["size_bytes"] + stats["store_bytes"]
    print(f"本地索引 local index {stats['path']}")
    print(f"  版本 editions: {stats['documents']}   馆藏 holdings: {stats['holdings']}   "
          f"大小 size: {size / 1e6:.1f} MB (index {stats['size_bytes'] / 1e6:.1f} MB, "
          f"harvest store {stats['store_bytes'] / 1e6:.1f} MB)")
    print(f"  最后写入 last commit: {stats.get('last_commit') or '—'}")
    if members:
        print("  成员 member     记录 records  馆藏 holdings  最后采集 last harvest        状态 status")
        for code, m in members.items():
            status = STATUS_ZH.get(m["last_status"] or "", m["last_status"] or "—")
            if m["interrupted"]:
                status += "（中断，下次继续 interrupted, resumes）"
            print(f"  {code:<14} {'—' if m['records'] is None else m['records']:>12}  {m['holdings']:>13}  {m['last_harvest'] or '—':<26}  {status}")
    return EXIT_OK
