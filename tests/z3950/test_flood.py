"""A Z39.50 member whose answer is far bigger than what was asked for may cost is refused unread: a real
yaz-ztest answers the Init, and a proxy in front of it turns the answer to the search into a 20 MB one."""

from __future__ import annotations

import asyncio

import pytest

from connectors.errors import DecodeError
from connectors.rpn import Term
from connectors.z3950.connector import Z3950Connector

FLOOD = 20_000_000


class FloodingProxy:
    """Forwards the Init exchange to the real server, then answers the next request with the header of a
    20 MB searchResponse and 1 MB of it, and stops."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.sent = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def serve(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        try:
            for answer in range(2):
                data = await reader.read(65536)  # one request (Init, then the search)
                if not data:
                    return
                if answer == 0:
                    up_writer.write(data)
                    await up_writer.drain()
                    writer.write(await up_reader.read(65536))  # the real InitResponse
                else:
                    body = b"\xb7\x84" + FLOOD.to_bytes(4, "big") + b"\x00" * 1_000_000
                    writer.write(body)
                    self.sent += len(body)
                await writer.drain()
            await asyncio.sleep(1)
        finally:
            up_writer.close()
            writer.close()

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def test_an_answer_past_what_ten_records_may_cost_is_refused_unread(ztest_port):
    proxy = FloodingProxy(ztest_port)
    port = await proxy.start()
    try:
        async with Z3950Connector("FLOOD", "127.0.0.1", port, "Default", timeout=10) as conn:
            with pytest.raises(DecodeError) as info:
                await conn.search_rpn(Term("57", ((1, 4),)), 1, 10)
        assert "far more than it was asked for" in info.value.message
        assert info.value.member == "FLOOD"
    finally:
        await proxy.stop()
