"""`balis backup` and `balis restore`: the ILL store, the harvest store and the union index (docs/operations.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub, common) -> None:
    p = sub.add_parser("backup", help="back up the ILL store, the harvest store and the union index (备份)",
                       description="A consistent backup while the portal and the harvest run "
                                   "(docs/operations.md).")
    p.add_argument("--to", metavar="DIR", help="a new folder for the backup (default: backups/balis-STAMP in the "
                                               "home folder, $BALIS_HOME)")
    _where(p)
    p.add_argument("--timeout", type=float, default=600.0, metavar="S",
                   help="seconds to wait for a harvest writing the index (default 600)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="restore a backup made by 'balis backup' (恢复); stop the portal first",
                       description="Restore the ILL store and the union index from a backup folder "
                                   "(docs/operations.md).")
    p.add_argument("source", metavar="FROM", help="the backup folder")
    _where(p)
    p.add_argument("--replace", action="store_true",
                   help="restore over an existing store and index (they are kept beside, renamed)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_restore)


def _where(p) -> None:
    p.add_argument("--db", metavar="URL", help="ILL store: a SQLite file or postgresql://… "
                                               "(default $BALIS_DB, else ill.sqlite in the home folder)")
    p.add_argument("--index", metavar="DIR", help="union index folder (default $BALIS_INDEX, else index/ in the "
                                                  "home folder)")


def _locations(args) -> tuple[str, object]:
    from ill.store import resolve_url
    from indexer.backend import resolve_location

    return resolve_url(args.db), resolve_location(args.index)


def _print(parts, folder: Path, verb: str, as_json: bool) -> None:
    from services.backup import part_json

    if as_json:
        print(json.dumps({"version": 1, "folder": str(folder), "parts": [part_json(p) for p in parts]},
                         ensure_ascii=False, indent=2))
        return
    labels = {"ill": "馆际互借库 ILL store", "index": "联合索引 union index", "calendar": "节假日安排 holiday calendar",
              "eholdings": "电子期刊馆藏 e-journal holdings (KBART)"}
    units = {"ill": "requests", "index": "editions", "eholdings": "titles"}
    for p in parts:
        count = "" if p.count is None else f"  {p.count} {units.get(p.name, '')}".rstrip()
        print(f"{labels.get(p.name, p.name)} ({p.kind}) {p.source}{count}" + (f"\n  {p.note}" if p.note else ""))
    print(f"{verb} {folder}")


def cmd_backup(args) -> int:
    from balis.cli import EXIT_OK, UsageError
    from members import paths
    from services.backup import BackupError, backup, default_folder

    ill_url, index = _locations(args)
    folder = Path(args.to).expanduser().resolve() if args.to else default_folder(paths.home())
    try:
        parts = backup(folder, ill_url=ill_url, index_location=index, timeout=args.timeout)
    except BackupError as exc:
        raise UsageError(f"备份失败 backup failed: {exc}") from None
    except Exception as exc:  # an index busy too long, a disk full: said in one line, nothing left behind
        print(f"balis: 备份失败 backup failed: {exc}", file=sys.stderr)
        return 1
    _print(parts, folder, "备份完成 backup written to", args.json)
    return EXIT_OK


def cmd_restore(args) -> int:
    from balis.cli import EXIT_OK, UsageError
    from services.backup import BackupError, restore

    ill_url, index = _locations(args)
    source = Path(args.source).expanduser().resolve()
    try:
        parts = restore(source, ill_url=ill_url, index_location=index, replace=args.replace)
    except BackupError as exc:
        raise UsageError(f"恢复失败 restore failed: {exc}") from None
    _print(parts, source, "已恢复 restored from", args.json)
    return EXIT_OK
