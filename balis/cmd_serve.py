"""`balis serve`: the reader portal and JSON API on one port (docs/portal.md)."""

from __future__ import annotations

import argparse
import os


def register(sub, common) -> None:
    p = sub.add_parser("serve", parents=[common], help="serve the reader portal and JSON API (aiohttp)")
    p.add_argument("--host", default=os.environ.get("BALIS_HOST", "127.0.0.1"),
                   help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(os.environ.get("BALIS_PORT", "8080")),
                   help="port (default 8080; 0 picks a free one)")
    p.add_argument("--index", metavar="DIR", default=os.environ.get("BALIS_INDEX"),
                   help="local index folder (answers from the local index once it is built)")
    p.add_argument("--per-member", type=int, default=10, metavar="N",
                   help="records asked of each member per result page (default 10)")
    p.add_argument("--deadline", type=float, default=15.0, metavar="S",
                   help="seconds a search waits for the slowest member (default 15)")
    p.add_argument("--harvest-at", metavar="HH:MM",
                   help="also run the nightly harvest in this process every day at HH:MM local time "
                        "(docs/harvest.md; cron or a systemd timer do the same outside the server)")
    p.add_argument("--searches-per-minute", type=float, default=60.0, metavar="N",
                   help="searches one client may start per minute (default 60, bursts of 20)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from balis.cli import EXIT_OK, UsageError
    from federator.registry import load_registry

    if not 0 <= args.port < 65536:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if not 1 <= args.per_member <= 100:
        raise UsageError("--per-member must be between 1 and 100")
    if not 0 < args.deadline <= 600:
        raise UsageError("--deadline must be between 0 and 600 seconds")
    if args.searches_per_minute <= 0:
        raise UsageError("--searches-per-minute must be a positive number")
    harvest_at = None
    if args.harvest_at:
        from indexer.schedule import parse_at

        try:
            harvest_at = parse_at(args.harvest_at)
        except ValueError as exc:
            raise UsageError(f"--harvest-at: {exc}") from None
    index = None
    if args.index:
        index = Path(args.index)
        if not index.is_dir():
            raise UsageError(f"--index {index}: no such folder; build the local index first or leave it out")
    registry = load_registry(args.registry)
    return serve(registry, host=args.host, port=args.port, index_dir=index, harvest_at=harvest_at,
                 per_member=args.per_member, deadline=args.deadline,
                 searches_per_minute=args.searches_per_minute) or EXIT_OK


def serve(registry, *, host: str, port: int, index_dir=None, harvest_at=None, **options) -> int:
    """Run the portal until interrupted; prints the URL once it listens. Closes the federator on the way out."""
    import asyncio
    import logging
    import signal

    from aiohttp import web

    from balis.cli import UsageError
    from portal import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    async def run() -> None:
        stop = asyncio.Event()  # Ctrl-C / SIGTERM from here on stop the server cleanly
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        app = create_app(registry, index_dir=index_dir, **options)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}; "
                             "choose another --port or stop what uses it") from None
        bound = runner.addresses[0][1] if runner.addresses else port
        shown = f"[{host}]" if ":" in host else host
        searchable = sum(m.queryable for m in registry.members)
        print(f"BALIS portal: http://{shown}:{bound}/  ({len(registry.members)} members, {searchable} searchable; "
              f"registry {registry.path})", flush=True)
        if index_dir is not None:
            print(f"local index folder: {index_dir}", flush=True)
        schedule = None
        if harvest_at is not None:
            from indexer.schedule import HarvestSchedule, harvest_job

            schedule = HarvestSchedule(harvest_at, harvest_job(registry.path, index_dir))
            schedule.start()
            print(f"nightly harvest at {harvest_at.strftime('%H:%M')} (local time) into "
                  f"{index_dir or 'the default index folder'}", flush=True)
        print("stop with Ctrl-C", flush=True)
        try:
            await stop.wait()
        finally:
            print("stopping: closing member connections", flush=True)
            if schedule is not None:
                await schedule.stop()
            await runner.cleanup()  # on_cleanup closes the federator

    asyncio.run(run())
    return 0
