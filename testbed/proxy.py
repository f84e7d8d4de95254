"""Fault-injection TCP proxy in front of the members' Zebra servers: one asyncio process for all members.

Run as `python -m testbed.proxy STATE_DIR`. It reads `STATE_DIR/proxy.json` ({code: [listen_port,
upstream_port]}) once, and `STATE_DIR/faults.json` ({code: {"latency_ms": int, "mode": str|null}}) on
every new connection, so a changed fault applies to the next connection without a restart.

Modes: `refuse` resets each connection at once; `drop` forwards half of the answer then closes;
`garbage` sends random bytes instead of the answer. `drop` and `garbage` hit the first answer over
HTTP (SRU) and the first answer after the Init response over Z39.50, so the session opens and then the
search fails. `latency_ms` delays the first bytes of every answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import struct
import sys
from pathlib import Path

CHUNK = 65536


def read_faults(state_dir: Path, code: str) -> tuple[int, str | None]:
    """The fault set for one member (latency in ms, mode); no file or no entry means no fault."""
    try:
        entry = json.loads((state_dir / "faults.json").read_text()).get(code) or {}
    except (OSError, ValueError):
        entry = {}
    return int(entry.get("latency_ms") or 0), entry.get("mode")


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def _pipe_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict) -> None:
    """Client → server: forward bytes and mark that an answer is now awaited."""
    try:
        while data := await reader.read(CHUNK):
            if state["first"] is None:
                state["first"] = data[:4]
            state["turn_open"] = True
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def _pipe_down(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict,
                     latency: float, mode: str | None) -> None:
    """Server → client: delay, drop or garble answers as the member's fault says."""
    answers = 0
    try:
        while data := await reader.read(CHUNK):
            if state["turn_open"]:
                state["turn_open"] = False
                answers += 1
                if latency:
                    await asyncio.sleep(latency)
            first = state["first"] or b""
            is_http = first[:3] in (b"GET", b"POS", b"HEA")
            target = 1 if is_http else 2
            if mode in ("drop", "garbage") and answers >= target:
                if mode == "drop":
                    writer.write(data[: max(1, len(data) // 2)])
                else:
                    writer.write(random.randbytes(max(64, len(data))))
                await writer.drain()
                writer.close()
                return
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (OSError, RuntimeError):
            pass


def make_handler(state_dir: Path, code: str, upstream: int):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        latency_ms, mode = read_faults(state_dir, code)
        if mode == "refuse":
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            _reset(writer)
            return
        state: dict = {"first": None, "turn_open": False}
        await asyncio.gather(
            _pipe_up(reader, up_writer, state),
            _pipe_down(up_reader, writer, state, latency_ms / 1000.0, mode),
        )
        up_writer.close()

    return handle


async def serve(state_dir: Path) -> None:
    routes = json.loads((state_dir / "proxy.json").read_text())
    servers = []
    for code, (listen, upstream) in routes.items():
        servers.append(await asyncio.start_server(make_handler(state_dir, code, upstream), "127.0.0.1", listen,
                                                  reuse_address=True))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    (state_dir / "proxy.pid").write_text(str(os.getpid()))
    await stop.wait()
    for s in servers:
        s.close()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m testbed.proxy STATE_DIR", file=sys.stderr)
        raise SystemExit(2)
    asyncio.run(serve(Path(args[0])))


if __name__ == "__main__":
    main()
