"""`balis search --local`: answer from the local index, optionally with live availability (`--live-check`)."""

from __future__ import annotations

import asyncio
import sys

from balis.output import outcome_text, works_text
from services.views import search_json


def run_local(args, text: str, query, selected: dict[str, list[str]], registry) -> int:
    """Search the local index chosen by --index / BALIS_INDEX and print like a live search."""
    from balis.cli import EXIT_OK, EXIT_USAGE, UsageError
    from indexer.backend import open_searcher, resolve_location
    from indexer.errors import LocalIndexError, NoIndexError

    if args.stream:
        raise UsageError("--stream shows members answering; a local search has none: drop --stream or --local")
    location = resolve_location(args.index)
    try:
        searcher = open_searcher(location)
    except NoIndexError as exc:
        print(f"balis: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LocalIndexError as exc:
        print(f"balis: {exc}", file=sys.stderr)
        return EXIT_USAGE
    names = {m.code: m.name for m in registry.members}
    try:
        with searcher:
            result = searcher.search(query, sort=args.sort, page=args.page, size=args.max, selected=selected,
                                     names=names)
    except ValueError as exc:
        raise UsageError(f"--facet: {exc}") from None
    except LocalIndexError as exc:
        print(f"balis: {exc}", file=sys.stderr)
        return EXIT_USAGE
    works, outcomes = result.works, []
    if args.live_check and works:
        from indexer.livecheck import live_check

        works, outcomes = asyncio.run(live_check(works, list(registry.members), timeout=args.timeout,
                                                 deadline=args.deadline))
    local = {"index": result.index, "matched": result.matched, "total": result.total, "ms": result.ms,
             "harvested": result.harvested, "live_check": bool(args.live_check)}
    if args.json:
        print(search_json(text, query, outcomes, works=works, facets=result.facets, page=args.page,
                          has_more=result.has_more, sort=args.sort, selected=selected,
                          extra={"total_hits": result.total, "editions_on_page": len(result.works), "ms": result.ms,
                                 "source": "local", "availability": "live" if args.live_check else "harvested",
                                 "local": local}))
        return EXIT_OK
    print(works_text(works, names))
    print()
    first = (args.page - 1) * args.max + 1
    shown = f"{first}–{first + len(works) - 1}" if works else "0"
    print(f"本地索引 local index {result.index}: {result.total} works match, showing {shown}, {result.ms} ms")
    if result.harvested:
        last = ", ".join(f"{code} {when}" for code, when in sorted(result.harvested.items()))
        print(f"最近采集 last harvested: {last}")
    else:
        print("最近采集 last harvested: unknown (run 'balis harvest')")
    if args.live_check:
        for o in outcomes:
            print(outcome_text(o))
        failed = [o.code for o in outcomes if o.status != "ok"]
        if failed:
            print(f"实时馆藏状态 live status not available from {', '.join(failed)}: "
                  "their holdings are as last harvested")
    return EXIT_OK
