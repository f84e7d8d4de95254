"""`balis peers ...`: the ILL networks balis exchanges ISO 18626 messages with, and the outbox of messages to
them (docs/iso18626.md)."""

from __future__ import annotations

from balis.cmd_ill import _db_parent, _local, _print_json, _registry, _run, _store


def register(sub, common) -> None:
    db = _db_parent()
    p = sub.add_parser("peers", parents=[common, db], help="ISO 18626 peers (CALIS, …): list them, send messages",
                       description="Other ILL networks in the registry's [[peers]] and the messages waiting for "
                                   "them (docs/iso18626.md).")
    ns = p.add_subparsers(metavar="ACTION")
    q = ns.add_parser("list", parents=[common, db], help="the peers, and the outbox of messages to them")
    q.add_argument("--state", choices=["pending", "sent", "failed"], help="only messages in this state")
    q.add_argument("--request", type=int, metavar="N", help="only the messages of this request")
    q.add_argument("--limit", type=int, default=50, metavar="N", help="at most N messages (default 50)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_list)
    q = ns.add_parser("send", parents=[common, db], help="post the messages that are due (the portal does it "
                                                        "continuously)")
    q.add_argument("--now", action="store_true", help="also the messages waiting to be tried again (a peer that "
                                                      "was down is back)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_send)


def cmd_list(args) -> int:
    from balis.cli import EXIT_OK
    from ill import peer_outbox

    registry = _registry(args)

    def go():
        with _store(args) as store:
            rows = peer_outbox.listing(store, state=args.state, request_id=args.request, limit=args.limit)
            counts = peer_outbox.counts(store)
        peers = [{"code": p.code, "name": p.name, "agency_id": p.agency_id, "endpoint": p.endpoint,
                  "version": p.version, "services": sorted(p.services), "active": p.active,
                  "secret": p.describe_secret()} for p in registry.peers]
        if args.json:
            _print_json({"peers": peers, "counts": counts, "messages": rows})
            return EXIT_OK
        for p in peers:
            print(f"{p['code']:<8} {p['name']}  {p['agency_id']}  {p['endpoint']}  ISO 18626 {p['version']}  "
                  f"{'/'.join(p['services'])}  {'active' if p['active'] else 'inactive'}  (secret: {p['secret']})")
        if not peers:
            print("no peers in the registry ([[peers]], docs/registry.md)")
        for x in rows:
            tries = f" ({x['attempts']} tries: {x['last_error']})" if x["last_error"] else ""
            print(f"{x['id']:>6}  {_local(x['created_at'])}  {x['peer']:<8} 申请单 {x['request_id']:<6} "
                  f"{x['kind']} {x['what']}  {x['state']}{tries}")
        print("outbox: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        return EXIT_OK
    return _run(go)


def cmd_send(args) -> int:
    import asyncio
    import sys

    from balis.cli import EXIT_OK
    from services.peers import send

    registry = _registry(args)

    def go():
        with _store(args) as store:
            report = asyncio.run(send(store, registry, due_only=not args.now))
        if args.json:
            _print_json({"sent": report.sent, "refused": report.failed, "waiting": report.waiting,
                         "errors": report.errors})
        else:
            print(f"{report.sent} sent, {report.failed} refused by the peer, {report.waiting} waiting to be tried "
                  f"again")
            for error in report.errors:
                print(f"balis: {error}", file=sys.stderr)
        return EXIT_OK if not report.waiting else 1
    return _run(go)
