"""Fault-injection TCP proxy in front of the members' Zebra servers: one asyncio process for all members.

Run as `python -m testbed.proxy STATE_DIR`. It reads `STATE_DIR/proxy.json` ({code: [listen_port,
upstream_port]}) once; a listen port that is 0 or taken is replaced by one the kernel chooses, and the
ports it listens on are written back to `proxy.json` before `proxy.pid` appears. It looks at
`STATE_DIR/faults.json` ({code: {"latency_ms": int, "mode": str|null}}) on every new connection (re-reading it when it changed), so a changed fault applies to the next connection
without a restart.

Modes: `refuse` resets each connection at once; `drop` forwards half of the answer then closes;
`garbage` sends random bytes instead of the answer. `drop` and `garbage` hit the first answer over
HTTP (SRU) and the first answer after the Init response over Z39.50, so the session opens and then the
search fails. `latency_ms` is a network round trip added to every request/answer turn, half each way: a
request reaches the member half the latency after it reached the proxy (and a new connection reaches the
member half the latency after the client opened it), and the first bytes of every answer reach the client
half the latency after the member sent them. So the members' servers work when their requests would
arrive over a network, not all at once.

Timing (for benchmarks/fanout.py): while the file `STATE_DIR/timing.on` exists, each new connection records,
on the member side of the client, when things happened, and appends them to `STATE_DIR/timing.jsonl` (one
JSON object a line, written with one unbuffered `write` each, so a reader sees them at once). The check is
made when a connection is accepted, like the faults; with no `timing.on`, nothing is stamped or written.
Removing or replacing `timing.jsonl` is safe: the next row goes to a new file.
A row is written each time a piece of an answer has been forwarded to the client:
  code, pid, conn    the member, the proxy's process id and its connection number (pid, conn name one
                     connection; `client_port` is the client's port on it)
  accepted           when the proxy accepted the connection
  turn               1, 2, … : the request/answer turn on the connection (Z39.50 Init is turn 1)
  request            when the turn's request's first bytes reached the proxy from the client (were read)
  queued_ms          how long before `request` the kernel had received the request's latest bytes (TCP_INFO,
                     in kernel ticks, here 4 ms): the proxy's own delay in reading it
  delivered          when the request was forwarded to the member (after the first half of the latency)
  answer             when the member's answer's first bytes reached the proxy (before the second half)
  sent               when this piece of the answer had been forwarded to the client (after the second half)
  bytes              bytes of this answer forwarded so far
so the last row of a turn says when the whole answer had been forwarded. Times are `time.monotonic()`
(CLOCK_MONOTONIC, one clock for every process on the machine), comparable with a client's own.
`answers()` folds the rows into one per turn.
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
import time
from itertools import count
from pathlib import Path

from testbed.zebra import listening_socket, write_atomically

CHUNK = 65536
TIMING_ON, TIMING_FILE = "timing.on", "timing.jsonl"


class Timing:
    """Appends timing rows to STATE_DIR/timing.jsonl while STATE_DIR/timing.on exists (checked per connection)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.fd: int | None = None
        self.numbers = count(1)

    def connection(self, code: str, writer: asyncio.StreamWriter, accepted: float) -> dict | None:
        """The fields every row of a new connection carries, or None when timing is off."""
        if not (self.state_dir / TIMING_ON).exists():
            return None
        peer = writer.get_extra_info("peername")
        return {"code": code, "pid": os.getpid(), "conn": next(self.numbers),
                "client_port": peer[1] if peer else None, "accepted": accepted}

    def _reopen_if_moved(self) -> None:
        """A timing.jsonl removed or replaced since it was opened: write to the new one from now on."""
        if self.fd is None:
            return
        try:
            same = os.path.samestat(os.fstat(self.fd), os.stat(self.state_dir / TIMING_FILE))
        except OSError:
            same = False
        if not same:
            os.close(self.fd)
            self.fd = None

    def write(self, row: dict) -> None:
        try:
            self._reopen_if_moved()
            if self.fd is None:
                self.fd = os.open(self.state_dir / TIMING_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            os.write(self.fd, (json.dumps(row) + "\n").encode())
        except OSError as exc:  # timing is a measuring aid: the proxy goes on forwarding
            print(f"proxy: cannot write {self.state_dir / TIMING_FILE}: {exc}", file=sys.stderr, flush=True)


def read_timing(state_dir: Path, offset: int = 0) -> tuple[list[dict], int]:
    """The timing rows written from byte `offset` of STATE_DIR/timing.jsonl on, and the offset to read on from
    (a line still being written is left for the next read); no file means no rows."""
    try:
        with open(Path(state_dir) / TIMING_FILE, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return [json.loads(line) for line in data[:end].splitlines() if line.strip()], offset + end


def answers(rows: list[dict]) -> list[dict]:
    """One entry per request/answer turn: the turn's last row (its `sent` is when the whole answer had been
    forwarded), with `own` = sent − request in seconds (the member's time: its server and the injected
    latency); ordered by request time."""
    last: dict[tuple, dict] = {}
    for row in rows:
        key = (row["pid"], row["conn"], row["turn"])
        if key not in last or row["bytes"] >= last[key]["bytes"]:
            last[key] = row
    out = [dict(r, own=r["sent"] - r["request"]) for r in last.values()]
    return sorted(out, key=lambda r: r["request"])


def read_faults(state_dir: Path, code: str) -> tuple[int, str | None]:
    """The fault set for one member (latency in ms, mode); no file or no entry means no fault."""
    return _fault_of(_load_faults(state_dir / "faults.json"), code)


def _load_faults(path: Path) -> dict:
    try:
        faults = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return faults if isinstance(faults, dict) else {}


def _fault_of(faults: dict, code: str) -> tuple[int, str | None]:
    entry = faults.get(code) or {}
    return int(entry.get("latency_ms") or 0), entry.get("mode")


class Faults:
    """STATE_DIR/faults.json as the proxy sees it: looked at (one stat) on every new connection, read and parsed
    again only when it was replaced or changed. Reading it for each of 70 connections opened at once kept
    the proxy from reading the clients' requests, a delay no network adds."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "faults.json"
        self._seen: tuple | None = None
        self._faults: dict = {}

    def of(self, code: str) -> tuple[int, str | None]:
        """The member's fault now (latency in ms, mode)."""
        try:
            st = os.stat(self.path)
            seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            seen = None
        if seen != self._seen:
            self._faults = _load_faults(self.path) if seen is not None else {}
            self._seen = seen
        return _fault_of(self._faults, code)


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


def _queued_ms(sock) -> int | None:
    """How long ago the kernel received the socket's last data, in ms (TCP_INFO tcpi_last_data_recv, counted
    in kernel ticks): how long a request waited in the proxy's socket before the proxy read it."""
    try:
        return struct.unpack_from("I", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104), 52)[0]
    except (OSError, AttributeError, struct.error):
        return None


async def _read_stamped(reader: asyncio.StreamReader, sock, queued: bool) -> tuple[bytes, float, int | None]:
    data = await reader.read(CHUNK)
    return data, time.monotonic(), _queued_ms(sock) if queued else None


async def _pipe_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: dict, half: float,
                   first: asyncio.Task) -> None:
    """Client → server: forward each request half the latency after it reached the proxy, and mark that an
    answer is now awaited. `first`: the client's first bytes, read (and stamped) while the connection to the
    member was being opened."""
    try:
        while True:
            if first is not None:
                data, at, queued = await first
                first = None
            else:
                data = await reader.read(CHUNK)
                at, queued = time.monotonic(), None
            if not data:
                break
            if state["first"] is None:
                state["first"] = data[:4]
            if not state["turn_open"]:  # a new request
                state["turn"] += 1
                state["request"] = at
                if state["timing"] is not None:
                    state["queued"] = queued if queued is not None else _queued_ms(state["sock"])
                if (wait := at + half - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                state["delivered"] = time.monotonic()
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
                     half: float, mode: str | None, timing: Timing) -> None:
    """Server → client: delay (by the second half of the latency), drop or garble answers as the member's
    fault says."""
    answers = 0
    timed = state["timing"]
    sent = 0
    answer_at = 0.0
    try:
        while data := await reader.read(CHUNK):
            if state["turn_open"]:
                state["turn_open"] = False
                answers += 1
                if timed is not None:
                    answer_at, sent = time.monotonic(), 0
                if half:
                    await asyncio.sleep(half)
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
                if timed is not None:
                    _stamp(timing, timed, state, answer_at, sent + len(data), mode)
                return
            writer.write(data)
            await writer.drain()
            if timed is not None:
                sent += len(data)
                _stamp(timing, timed, state, answer_at, sent, None)
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (OSError, RuntimeError):
            pass


def _stamp(timing: Timing, timed: dict, state: dict, answer_at: float, sent: int, mode: str | None) -> None:
    """One timing row: a piece of the current turn's answer has been forwarded (`sent` bytes of it so far)."""
    row = dict(timed, turn=state["turn"], request=state["request"], queued_ms=state["queued"],
               delivered=state["delivered"], answer=answer_at, sent=time.monotonic(), bytes=sent)
    if mode:
        row["mode"] = mode
    timing.write(row)


def make_handler(faults: Faults, code: str, upstream: int, timing: Timing):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted = time.monotonic()
        latency_ms, mode = faults.of(code)
        if mode == "refuse":
            _reset(writer)
            return
        timed = timing.connection(code, writer, accepted)
        half = latency_ms / 2000.0
        # the client's first bytes are read (and stamped) at once, while the member's connection is opened
        sock = writer.get_extra_info("socket")
        first = asyncio.ensure_future(_read_stamped(reader, sock, timed is not None))
        try:
            if half:  # the new connection reaches the member half the latency later
                await asyncio.sleep(half)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            first.cancel()
            _reset(writer)
            return
        state: dict = {"first": None, "turn_open": False, "timing": timed, "turn": 0, "request": 0.0,
                       "queued": None, "delivered": 0.0, "sock": sock}
        await asyncio.gather(
            _pipe_up(reader, up_writer, state, half, first),
            _pipe_down(up_reader, writer, state, half, mode, timing),
        )
        up_writer.close()

    return handle


async def serve(state_dir: Path) -> None:
    routes = json.loads((state_dir / "proxy.json").read_text())
    timing = Timing(state_dir)
    faults = Faults(state_dir)
    servers = []
    for code, route in routes.items():
        sock = listening_socket(route[0])
        route[0] = sock.getsockname()[1]
        servers.append(await asyncio.start_server(make_handler(faults, code, route[1], timing), sock=sock))
    write_atomically(state_dir / "proxy.json", json.dumps(routes))  # the ports it got: read once proxy.pid is there
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
