"""A loopback SRU server whose answers a test writes: for members that send too much or never end."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

SRU = "http://www.loc.gov/zing/srw/"


def search_response(records: list[bytes], hits: int, start: int = 1) -> bytes:
    """An SRU 1.2 searchRetrieveResponse carrying these MARCXML records from position `start`."""
    items = b"".join(b"<zs:record><zs:recordSchema>info:srw/schema/1/marcxml-v1.1</zs:recordSchema>"
                     b"<zs:recordPacking>xml</zs:recordPacking><zs:recordData>" + r +
                     b"</zs:recordData><zs:recordPosition>%d</zs:recordPosition></zs:record>" % (start + i)
                     for i, r in enumerate(records))
    return (b'<?xml version="1.0"?><zs:searchRetrieveResponse xmlns:zs="' + SRU.encode() + b'">'
            b"<zs:version>1.2</zs:version><zs:numberOfRecords>%d</zs:numberOfRecords><zs:records>" % hits
            + items + b"</zs:records></zs:searchRetrieveResponse>")


@contextlib.asynccontextmanager
async def sru_server(path: str, answer: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[int]:
    """Serve `answer` at `path` (an aiohttp route, e.g. "/{kind}") on a free loopback port; yields the port."""
    app = web.Application()
    app.router.add_get(path, answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()
