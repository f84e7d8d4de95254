"""Real Z39.50 servers on loopback for the client's tests: yaz-ztest and two Zebra members (test bed)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from testbed.seeds import seed_marcxml
from testbed.zebra import ZebraServer
from testbed.ztest import ZTest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def ztest_port(tmp_path_factory) -> int:
    server = ZTest(tmp_path_factory.mktemp("ztest"))
    port = server.start()
    yield port
    server.stop()


def _zebra(tmp_path_factory, syntax: str) -> ZebraServer:
    zebra = ZebraServer(tmp_path_factory.mktemp(f"zebra-{syntax}"), syntax=syntax)
    zebra.load(seed_marcxml(syntax))
    zebra.start()
    return zebra


@pytest.fixture(scope="session")
def zebra21(tmp_path_factory) -> ZebraServer:
    zebra = _zebra(tmp_path_factory, "marc21")
    yield zebra
    zebra.stop()


@pytest.fixture(scope="session")
def zebra_unimarc(tmp_path_factory) -> ZebraServer:
    zebra = _zebra(tmp_path_factory, "unimarc")
    yield zebra
    zebra.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DroppingProxy:
    """A TCP relay in front of a real server that can cut every open connection (a member restarting)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.accepted = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader, writer) -> None:
        self.accepted += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        self.writers += [writer, up_writer]

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def drop_all(self) -> None:
        for w in self.writers:
            w.transport.abort()
        self.writers.clear()

    async def stop(self) -> None:
        self.drop_all()
        self.server.close()


class ScriptedServer:
    """A loopback server that answers every connection with fixed bytes (garbage, Close, ...)."""

    def __init__(self, replies: list[bytes], *, then_close: bool = True, read_first: bool = True) -> None:
        self.replies, self.then_close, self.read_first = replies, then_close, read_first
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader, writer) -> None:
        try:
            for reply in self.replies:
                if self.read_first:
                    await reader.read(65536)
                writer.write(reply)
                await writer.drain()
            if not self.then_close:
                await reader.read()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        self.server.close()


@pytest.fixture
def dropping_proxy() -> type[DroppingProxy]:
    return DroppingProxy


@pytest.fixture
def scripted_server() -> type[ScriptedServer]:
    return ScriptedServer
