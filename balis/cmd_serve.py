"""`balis serve`: the reader portal and JSON API on one port (docs/portal.md)."""

from __future__ import annotations

import argparse
import os

MAX_SLICES = 32


def register(sub, common) -> None:
    p = sub.add_parser("serve", parents=[common], help="serve the reader portal and JSON API (aiohttp)")
    p.add_argument("--host", default=os.environ.get("BALIS_HOST", "127.0.0.1"),
                   help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(os.environ.get("BALIS_PORT", "8080")),
                   help="port (default 8080; 0 picks a free one)")
    p.add_argument("--index", metavar="DIR|URL", default=os.environ.get("BALIS_INDEX"),
                   help="the union index: a folder or a PostgreSQL database postgresql://… (default "
                        "$BALIS_INDEX, else var/index): searches are answered from it first once 'balis harvest' "
                        "has built it")
    p.add_argument("--index-replica", metavar="URL", action="append", dest="index_replicas",
                   default=None,
                   help="a hot standby of the --index database (repeatable; default $BALIS_INDEX_REPLICAS, "
                        "space-separated): searches read from the standbys in turn, the primary when none "
                        "answers; writes (the harvest) go to the primary")
    p.add_argument("--index-slices", metavar="N", type=int, default=None,
                   help="a database index: split a broad search (thousands of matches) into N slices scored at "
                        "once on N connections, about one per free core of the database server (default "
                        "$BALIS_INDEX_SLICES, else 2; 1: never split)")
    p.add_argument("--db", metavar="URL", default=None,
                   help="ILL store of readers, staff, sessions and requests (a SQLite file or postgresql://…; "
                        "default $BALIS_DB, else var/ill.sqlite)")
    p.add_argument("--per-member", type=int, default=10, metavar="N",
                   help="records asked of each member per result page (default 10)")
    p.add_argument("--deadline", type=float, default=15.0, metavar="S",
                   help="seconds a search waits for the slowest member (default 15)")
    p.add_argument("--harvest-at", metavar="HH:MM",
                   help="also run the nightly harvest in this process every day at HH:MM local time "
                        "(docs/harvest.md; cron or a systemd timer do the same outside the server)")
    p.add_argument("--full-harvest-on", metavar="DAY", default="sun",
                   help="with --harvest-at: the day of the week whose harvest is a full one (compares every "
                        "record; default sun; never to switch it off)")
    p.add_argument("--searches-per-minute", type=float, default=60.0, metavar="N",
                   help="searches one client may start per minute (default 60, bursts of 20)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="processes serving the one port (SO_REUSEPORT), each with its own index searcher; "
                        "default 1 (docs/portal.md: when more help)")
    p.add_argument("--tick-every", type=float, default=10.0, metavar="MINUTES",
                   help="the portal's clock: apply the ILL deadlines (forward late requests, mark overdue loans) and "
                        "write the clock's notices every MINUTES (default 10; 0: leave it to 'balis request tick')")
    from balis.cmd_notices import mail_options

    mail_options(p)  # notices are mailed continuously while the portal runs (docs/notices.md)
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from balis.cli import EXIT_OK, UsageError
    from federator.answer_times import default_path as answer_times_path
    from members import load_registry

    if not 0 <= args.port < 65536:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if not 1 <= args.per_member <= 100:
        raise UsageError("--per-member must be between 1 and 100")
    if not 0 < args.deadline <= 600:
        raise UsageError("--deadline must be between 0 and 600 seconds")
    if not 1 <= args.workers <= 64:
        raise UsageError("--workers must be between 1 and 64")
    if not 0 <= args.tick_every <= 1440:
        raise UsageError("--tick-every must be between 0 (off) and 1440 minutes")
    if args.searches_per_minute <= 0:
        raise UsageError("--searches-per-minute must be a positive number")
    harvest_at = full_on = None
    if args.harvest_at:
        from indexer.schedule import parse_at, parse_weekday

        try:
            harvest_at = parse_at(args.harvest_at)
        except ValueError as exc:
            raise UsageError(f"--harvest-at: {exc}") from None
        try:
            full_on = parse_weekday(args.full_harvest_on)
        except ValueError as exc:
            raise UsageError(f"--full-harvest-on: {exc}") from None
    from indexer.backend import is_database, resolve_location

    index = None
    if args.index and not is_database(args.index):
        index = Path(args.index)
        if not index.is_dir():
            raise UsageError(f"--index {index}: no such folder; build the local index first or leave it out")
    else:
        index = resolve_location(args.index)  # a database URL, else $BALIS_INDEX, else var/index
    replicas = args.index_replicas or os.environ.get("BALIS_INDEX_REPLICAS", "").split()
    for url in replicas:
        if not is_database(url):
            raise UsageError(f"--index-replica {url}: not a PostgreSQL URL; give a standby as postgresql://…")
    if replicas and not is_database(index):
        raise UsageError("--index-replica needs --index postgresql://… (the primary): standbys serve a "
                         "PostgreSQL union index, not an index folder")
    if args.index_slices is not None and not 1 <= args.index_slices <= MAX_SLICES:
        raise UsageError(f"--index-slices must be between 1 and {MAX_SLICES}, not {args.index_slices}")
    from balis.cmd_notices import mail_config

    mail = mail_config(args)
    registry = load_registry(args.registry)
    return serve(registry, host=args.host, port=args.port, index_dir=index, harvest_at=harvest_at, mail=mail,
                 full_harvest_on=full_on, db=args.db, answer_times=answer_times_path(),
                 per_member=args.per_member, deadline=args.deadline,
                 searches_per_minute=args.searches_per_minute, workers=args.workers,
                 index_replicas=tuple(replicas), index_slices=args.index_slices,
                 tick_every=args.tick_every * 60) or EXIT_OK


def serve(registry, *, host: str, port: int, index_dir=None, harvest_at=None, full_harvest_on: int | None = None,
          workers: int = 1, tick_every: float | None = None, **options) -> int:
    """Run the portal until interrupted; prints the URL once it listens. Closes the federator on the way out.

    `workers` > 1: that many processes serve the one port (SO_REUSEPORT; the kernel spreads connections),
    each with its own event loop, federator and index searcher; the nightly harvest and the clock (every
    `tick_every` seconds: deadlines, overdue loans, the clock's notices) run in the first.
    """
    import asyncio
    import logging
    import signal
    from pathlib import Path

    from aiohttp import web

    from balis.cli import UsageError
    from balis.process import settle
    from indexer.backend import is_database
    from indexer.pg.index import shown as without_password
    from portal import create_app

    settle()  # the portal's modules and pypinyin's tables are imported: keep them out of full collections
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the store's schema check at start: no news

    def banner(bound: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        searchable = sum(m.queryable for m in registry.members)
        several = f"; {workers} worker processes" if workers > 1 else ""
        print(f"BALIS portal: http://{shown}:{bound}/  ({len(registry.members)} members, {searchable} searchable; "
              f"registry {registry.path}{several})", flush=True)
        replicas = options.get("index_replicas") or ()
        if is_database(index_dir):
            reads = (f"searches read from its standbys {', '.join(without_password(u) for u in replicas)} in turn, the "
                     "primary when none answers" if replicas else "searches answered from it first")
            from indexer.pg.search import default_slices

            slices = options.get("index_slices") or default_slices()
            if slices > 1:
                reads += f"; a broad search split into {slices} slices"
            print(f"union index: {without_password(index_dir)} (PostgreSQL; {reads}; a new harvest is picked up within "
                  "seconds)", flush=True)
        elif index_dir is not None:
            if (Path(index_dir) / "whoosh").is_dir():
                print(f"union index: {index_dir} (searches answered from it first; a new harvest is picked up "
                      "within seconds)", flush=True)
            else:
                print(f"no union index in {index_dir} yet: searches ask the members live until 'balis harvest' "
                      "builds it", flush=True)
        if harvest_at is not None:
            from indexer.schedule import WEEKDAYS

            weekly = (f"; a full one on {WEEKDAYS[full_harvest_on]}" if full_harvest_on is not None
                      else "; no weekly full one")
            into = without_password(index_dir) if is_database(index_dir) else index_dir or "the default index folder"
            print(f"nightly harvest at {harvest_at.strftime('%H:%M')} (local time) into {into}{weekly}", flush=True)
        peers = [p.code for p in registry.peers if p.active]
        if peers:  # other ILL networks (docs/iso18626.md): their messages arrive at /iso18626
            print(f"ISO 18626 peers {', '.join(peers)}: messages received at http://{shown}:{bound}/iso18626 and sent "
                  f"from the outbox continuously", flush=True)
        mail = options.get("mail")
        print(f"notices mailed through {mail.safe_url} from {mail.sender}" if mail is not None else
              "notices are shown in the portal only: no mail server (--smtp-url or BALIS_SMTP_URL)", flush=True)
        print(f"ILL deadlines and overdue loans checked every {tick_every / 60:g} min" if tick_every else
              "ILL deadlines: not checked by the portal (--tick-every 0): run 'balis request tick' from cron",
              flush=True)
        print("stop with Ctrl-C", flush=True)

    async def run(port: int = port, worker: int | None = None, ready=None) -> None:
        stop = asyncio.Event()  # Ctrl-C / SIGTERM from here on stop the server cleanly
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        from ill.errors import StoreError
        from portal.app import HTTP_LIMITS

        try:
            app = create_app(registry, index_dir=index_dir, **options)
        except StoreError as exc:
            raise UsageError(str(exc)) from None
        if tick_every and not worker:
            from portal.clock import setup_clock

            setup_clock(app, tick_every)
        runner = web.AppRunner(app, handle_signals=False, **HTTP_LIMITS)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_port=worker is not None or None)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}; "
                             "choose another --port or stop what uses it") from None
        bound = runner.addresses[0][1] if runner.addresses else port
        if ready is None:
            banner(bound)
        else:
            ready()
        schedule = None
        if harvest_at is not None and not worker:
            from indexer.schedule import HarvestSchedule, harvest_job
            from portal.searches import alerts_after_harvest

            schedule = HarvestSchedule(harvest_at, harvest_job(registry.path, index_dir, full_on=full_harvest_on,
                                                               after=alerts_after_harvest(app, index_dir)))
            schedule.start()
        try:
            await stop.wait()
        finally:
            if worker is None:
                print("stopping: closing member connections", flush=True)
            if schedule is not None:
                await schedule.stop()
            await runner.cleanup()  # on_cleanup closes the federator

    if workers <= 1:
        asyncio.run(run())
        return 0
    return _serve_workers(host, port, workers, run, banner)


def _serve_workers(host: str, port: int, workers: int, run, banner) -> int:
    """Fork `workers` processes that each run `run(port, worker=i, ready=…)` on one SO_REUSEPORT port; print
    the banner once all listen; on Ctrl-C or SIGTERM stop them all (each closes its connections)."""
    import asyncio
    import multiprocessing
    import signal
    import socket
    import time

    from balis.cli import UsageError

    holder = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        holder.bind((host, port))  # keeps the port (0: a free one) for the workers; never listens itself
    except OSError as exc:
        holder.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}; "
                         "choose another --port or stop what uses it") from None
    bound = holder.getsockname()[1]
    ctx = multiprocessing.get_context("fork")
    news = ctx.Queue()

    def worker(i: int) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # not the parent's handlers: until the
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # worker's loop takes them, a signal simply ends it
        try:
            asyncio.run(run(bound, worker=i, ready=lambda: news.put((i, None))))
        except UsageError as exc:
            news.put((i, str(exc)))
        except KeyboardInterrupt:
            pass

    procs = [ctx.Process(target=worker, args=(i,), name=f"balis-serve-{i}") for i in range(workers)]
    stopping = []
    previous = {sig: signal.signal(sig, lambda *_: stopping.append(1)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        started = 0
        procs[0].start()  # the first opens (and migrates) the stores alone; the others then start together
        while started < workers and not stopping:
            if started == 1 and not procs[1].pid:
                for proc in procs[1:]:
                    proc.start()
            try:
                i, problem = news.get(timeout=0.5)
            except Exception:  # queue.Empty: check whether a worker died before it listened
                if any(proc.pid and not proc.is_alive() for proc in procs):
                    raise UsageError("a portal worker stopped while starting; see the log above") from None
                continue
            if problem:
                raise UsageError(problem)
            started += 1
        if not stopping:
            banner(bound)
        while not stopping and all(proc.is_alive() for proc in procs):
            time.sleep(0.5)
        if not stopping:
            print("a portal worker stopped; stopping the others", flush=True)
        print("stopping: closing member connections", flush=True)
        return 0 if stopping else 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for proc in procs:
            if proc.pid and proc.is_alive():
                proc.terminate()  # SIGTERM: the worker stops its server cleanly
        for proc in procs:
            if proc.pid:
                proc.join(timeout=30)
                if proc.is_alive():  # stuck: do not leave it behind
                    proc.kill()
                    proc.join(timeout=5)
        holder.close()
