"""`python -m testbed up|status|down|fault`: drive the demo test bed by hand (the `balis testbed` CLI does the same)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from members import paths
from testbed.bed import Testbed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m testbed", description="BALIS demo test bed of member OPACs")
    parser.add_argument("--dir", type=Path, default=paths.testbed_dir(),
                        help="state folder (default testbed/ in the home folder, $BALIS_HOME; var/testbed in a checkout)")
    parser.add_argument("--seed", type=int, default=20071130)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build what is missing and start every member")
    up.add_argument("--members", type=int, default=8)
    up.add_argument("--records", type=int, default=None, help="catalogue size per member (default 300)")
    up.add_argument("--specials", action="store_true",
                    help="also start the special members: a stock MARC21 Zebra (NLCW) and one requiring a login (CALIS)")
    sub.add_parser("status", help="one line per member (JSON with --json)").add_argument("--json", action="store_true")
    sub.add_parser("down", help="stop every member and the proxy")
    fault = sub.add_parser("fault", help="set or clear a member's fault")
    fault.add_argument("code")
    fault.add_argument("--latency-ms", type=int, default=0)
    fault.add_argument("--mode", choices=("refuse", "drop", "garbage"), default=None)
    args = parser.parse_args(argv)
    bed = Testbed(args.dir, seed=args.seed)
    if args.command == "up":
        print(bed.up(members=args.members, records=args.records, specials=args.specials))
    elif args.command == "status":
        rows = bed.status()
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=1))
        for r in [] if args.json else rows:
            state = "up" if r["running"] else "down"
            print(f"{r['code']:<7} {state:<5} {r['syntax']:<8} {r['charset']:<6} {'+'.join(r['protocols']):<10} "
                  f"proxy {r['proxy_port']}  zebra {r['port']}  {r['records']} records  {r['name']}"
                  + (f"  fault {r['fault']}" if r["fault"] else "") + (f"  ({r['note']})" if r.get("note") else ""))
    elif args.command == "down":
        bed.down()
    elif args.command == "fault":
        bed.set_fault(args.code, latency_ms=args.latency_ms, mode=args.mode)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
