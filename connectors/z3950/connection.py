"""One Z39.50 association over asyncio streams: open + Init, request/response, Close.

This is the only place that touches sockets; every low-level failure is mapped here, once, to the
connector error tree (`_boundary`). A connection the server dropped while idle is reported as
`ConnectionDropped` so the connector can reopen it and redo its search. A request may be sent ahead
(`send_ahead`) so the target prepares the next answer while the caller works on the current one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterator

from connectors.auth import CredentialsRef, Login, read_login, refused
from connectors.base import PARSE_INLINE
from connectors.errors import DecodeError, MemberError, MemberTimeout, MemberUnavailable, ProtocolError
from connectors.z3950 import apdu, ber

log = logging.getLogger(__name__)

IMPLEMENTATION_ID = "balis"
IMPLEMENTATION_NAME = "balis Z39.50 client"
IMPLEMENTATION_VERSION = "0.1"

# Bib-1 Init/AC diagnostics that mean the login (or its absence) was refused
LOGIN_DIAGNOSTICS = frozenset({"1010", "1011", "1013", "1014", "1017"})
DEFAULT_MESSAGE_SIZE = 8 * 1024 * 1024
DEFAULT_MAX_PDU = 64 * 1024 * 1024
STREAM_LIMIT = 4 * 1024 * 1024
READ_SIZE = 1024 * 1024  # bytes asked of the stream per read; the framer finds the APDU boundaries


class ConnectionDropped(MemberUnavailable):
    """The member closed a connection that had served earlier requests (idle timeout, restart)."""


class PduFramer:
    """Cuts the byte stream from a target into whole APDUs (BER elements, definite or indefinite length).

    Fed whatever the socket delivers; the scan resumes where it stopped, so a large Present response
    that arrives in many reads is scanned once, and bytes of a following APDU (an answer to a request
    sent ahead) stay buffered for the next call.
    """

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.buffer = bytearray()
        self._pos = 0  # the next element header to read, as an offset into the buffer
        self._depth = 0  # indefinite-length elements open at _pos

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def next_pdu(self) -> bytes | None:
        """The first complete APDU in the buffer (removed from it), or None until more bytes arrive."""
        buf, pos, depth = self.buffer, self._pos, self._depth
        n = len(buf)
        while True:
            if depth and pos + 1 < n and buf[pos] == 0 and buf[pos + 1] == 0:  # end-of-contents
                pos += 2
                depth -= 1
                if not depth:
                    return self._cut(pos)
                continue
            if pos >= n:
                break
            first = buf[pos]
            if pos == 0 and first & 0xE0 != ber.CONTEXT | ber.CONSTRUCTED:
                raise DecodeError(f"the answer does not start like a Z39.50 APDU (first byte {first:#04x})")
            p = pos + 1
            if first & 0x1F == 0x1F:
                for _ in range(3):
                    if p >= n:
                        break
                    p += 1
                    if not buf[p - 1] & 0x80:
                        break
                else:
                    raise DecodeError("BER tag number too large in the incoming PDU")
            if p >= n:
                break
            size = buf[p]
            p += 1
            if size & 0x80:
                count = size & 0x7F
                if count == 0:
                    if not first & ber.CONSTRUCTED:
                        raise DecodeError("BER indefinite length on a primitive element")
                    depth += 1
                    if depth > ber.MAX_DEPTH:
                        raise DecodeError("BER nesting too deep in the incoming PDU")
                    pos = p
                    continue
                if count > 6:
                    raise DecodeError("BER length field too large in the incoming PDU")
                if p + count > n:
                    break
                size = int.from_bytes(buf[p:p + count], "big")
                p += count
            end = p + size
            if end > self.max_size:
                raise DecodeError(f"incoming PDU of {end} bytes exceeds the {self.max_size}-byte limit")
            if not depth:
                if end <= n:
                    return self._cut(end)
                break
            pos = end
        if n > self.max_size:
            raise DecodeError(f"incoming PDU exceeds the {self.max_size}-byte limit")
        self._pos, self._depth = pos, depth
        return None

    def _cut(self, end: int) -> bytes:
        pdu = bytes(self.buffer[:end])
        del self.buffer[:end]
        self._pos = self._depth = 0
        return pdu


class Z3950Connection:
    """A Z39.50 association with one target; reopened on demand; requests answered in order."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        member: str = "",
        timeout: float = 10.0,
        propose_charset: str | None = "UTF-8",
        login: CredentialsRef | Login | None = None,
        preferred_message_size: int = DEFAULT_MESSAGE_SIZE,
        exceptional_record_size: int = DEFAULT_MESSAGE_SIZE,
        max_pdu_size: int = DEFAULT_MAX_PDU,
    ) -> None:
        self.host, self.port, self.member, self.timeout = host, port, member, timeout
        self.propose_charset = propose_charset
        self.login = login  # a Login, or the registry's credentials (the password is read at each Init)
        self.preferred_message_size = preferred_message_size
        self.exceptional_record_size = exceptional_record_size
        self.max_pdu_size = max_pdu_size
        self.init: apdu.InitResponse | None = None
        self.generation = 0  # incremented on every successful (re)open; result sets live in one generation
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._served = 0
        self._lock = asyncio.Lock()
        self._framer = PduFramer(max_pdu_size)
        self._ahead: deque[tuple[int, str]] = deque()  # requests sent ahead, answers not read yet
        self._tickets = 0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_open(self) -> bool:
        return self._writer is not None and not self._writer.is_closing() and not self._reader.at_eof()

    async def open(self) -> apdu.InitResponse:
        """Connect and Initialize (if not already open); returns what the target agreed to."""
        async with self._lock:
            return await self._open()

    async def _open(self) -> apdu.InitResponse:
        if self.is_open and self.init is not None:
            return self.init
        self._abort()
        login = read_login(self.login, self.member)
        pdu = apdu.encode_init_request(
            preferred_message_size=self.preferred_message_size,
            exceptional_record_size=self.exceptional_record_size,
            implementation_id=IMPLEMENTATION_ID,
            implementation_name=IMPLEMENTATION_NAME,
            implementation_version=IMPLEMENTATION_VERSION,
            propose_charset=self.propose_charset,
            login=login,
        )
        with self._boundary("connect and init", reused=False):
            async with asyncio.timeout(self.timeout):
                self._reader, self._writer = await asyncio.open_connection(
                    self.host, self.port, limit=STREAM_LIMIT
                )
                self._framer = PduFramer(self.max_pdu_size)
                self._writer.write(pdu)
                await self._writer.drain()
                answer = await _decoded(await self._receive())
        if isinstance(answer, apdu.Close):
            self._abort()
            raise MemberUnavailable(
                f"Z39.50 server at {self.address} closed the association during init "
                f"({answer.reason_text}{': ' + answer.diagnostic_information if answer.diagnostic_information else ''})",
                member=self.member,
            )
        if not isinstance(answer, apdu.InitResponse):
            self._abort()
            raise ProtocolError(f"Z39.50 server at {self.address} answered init with {type(answer).__name__}",
                                member=self.member)
        if not answer.accepted:
            self._abort()
            self._refused(answer, had_login=login is not None)
        self.init = answer
        self.generation += 1
        self._served = 0
        log.debug("%s: init accepted by %s (%s %s), charset %s", self.member, self.address,
                  answer.implementation_name, answer.implementation_version, answer.charset)
        return answer

    def _refused(self, answer: apdu.InitResponse, *, had_login: bool) -> None:
        """Raise what a rejected Init means: the member's own diagnostic, unless it is an Init/AC one (or there
        is none), which is a refused login (or a login the member needs and the registry lacks)."""
        d = answer.diagnostic
        if d is not None and d.code not in LOGIN_DIAGNOSTICS:
            d.member = self.member
            raise d
        said = f"diagnostic {d.code}: {d.diagnostic_message}" if d is not None else "no diagnostic given"
        raise refused(self.member, f"Z39.50 server at {self.address} rejected the init request, {said}",
                      had_login=had_login)

    async def request(self, pdu: bytes, operation: str, limit: int | None = None) -> apdu.Apdu:
        """Send one request APDU and return the decoded response; (re)opens the association if needed.
        `limit`: the most bytes the answer may have (what was asked for may cost); past it the answer is
        refused unread (DecodeError) and the association is dropped.

        Answers to requests sent ahead and not collected yet are read and dropped first.
        """
        async with self._lock:
            await self._open()
            await self._drop_ahead()
            reused = self._served > 0
            with self._boundary(operation, reused=reused):
                async with asyncio.timeout(self.timeout):
                    self._writer.write(pdu)
                    await self._writer.drain()
                    answer = await _decoded(await self._receive(limit))
            return self._answered(answer, operation, reused)

    async def send_ahead(self, pdu: bytes, operation: str) -> int | None:
        """Send a request now and collect its answer later with `receive_ahead(ticket)`.

        The target works on it while the caller is busy (pipelining). Returns None, sending nothing,
        when the association is not open: the caller then asks with `request` as usual.
        """
        async with self._lock:
            if not self.is_open or self.init is None:
                return None
            with self._boundary(operation, reused=True):
                self._writer.write(pdu)
            self._tickets += 1
            self._ahead.append((self._tickets, operation))
            return self._tickets

    async def receive_ahead(self, ticket: int) -> apdu.Apdu | None:
        """The answer to a request sent ahead, or None if it is gone (another request came first, or the
        association was reopened): then the caller asks again with `request`."""
        async with self._lock:
            if all(t != ticket for t, _ in self._ahead):
                return None
            while self._ahead:
                t, operation = self._ahead[0]
                with self._boundary(operation, reused=True):
                    async with asyncio.timeout(self.timeout):
                        answer = await _decoded(await self._receive())
                self._ahead.popleft()
                answer = self._answered(answer, operation, True)
                if t == ticket:
                    return answer
            return None

    async def _drop_ahead(self) -> None:
        while self._ahead:
            _, operation = self._ahead[0]
            with self._boundary(operation, reused=True):
                async with asyncio.timeout(self.timeout):
                    answer = await _decoded(await self._receive())
            self._ahead.popleft()
            self._answered(answer, operation, True)

    async def _receive(self, limit: int | None = None) -> bytes:
        """The next whole APDU from the target, at most `limit` bytes (default: the association's maximum);
        EOF before it ends is an IncompleteReadError."""
        self._framer.max_size = min(limit, self.max_pdu_size) if limit else self.max_pdu_size
        try:
            while True:
                pdu = self._framer.next_pdu()
                if pdu is not None:
                    return pdu
                data = await self._reader.read(READ_SIZE)
                if not data:
                    raise asyncio.IncompleteReadError(bytes(self._framer.buffer), None)
                self._framer.feed(data)
        except DecodeError as exc:
            if limit and "limit" in str(exc):
                raise DecodeError(f"Z39.50 answer is over the {self._framer.max_size} byte limit for what was "
                                  "asked; not read further (the member sends far more than it was asked for)",
                                  member=self.member) from None
            raise
        finally:
            self._framer.max_size = self.max_pdu_size

    def _answered(self, answer: apdu.Apdu, operation: str, reused: bool) -> apdu.Apdu:
        """Count the answer; a Close from the target ends the association and raises."""
        self._served += 1
        if isinstance(answer, apdu.Close):
            self._abort()
            text = answer.reason_text + (f": {answer.diagnostic_information}"
                                         if answer.diagnostic_information else "")
            if reused and answer.reason in (0, 1, 7, 9):  # finished, shutdown, lackOfActivity, unspecified
                raise ConnectionDropped(f"Z39.50 server at {self.address} had closed the association ({text})",
                                        member=self.member)
            raise MemberUnavailable(f"Z39.50 server at {self.address} closed the association during "
                                    f"{operation} ({text})", member=self.member)
        return answer

    async def close(self) -> None:
        """Send Close (finished) and drop the connection; never raises."""
        async with self._lock:
            if self.is_open:
                try:
                    async with asyncio.timeout(min(self.timeout, 2.0)):
                        for _ in range(len(self._ahead)):  # answers to requests sent ahead come first
                            await self._receive()
                        self._ahead.clear()
                        self._writer.write(apdu.encode_close(0))
                        await self._writer.drain()
                        await self._receive()
                except (OSError, TimeoutError, asyncio.IncompleteReadError, MemberError):
                    pass
            self._abort()
            if self._writer is not None:
                with contextlib.suppress(OSError, TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._writer.wait_closed()
            self._reader = self._writer = None
            self.init = None

    def _abort(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.transport.abort()
        self.init = None
        self._ahead.clear()

    @contextlib.contextmanager
    def _boundary(self, operation: str, *, reused: bool) -> Iterator[None]:
        """Map socket, timeout and BER failures to the connector error tree, once."""
        where = f"Z39.50 server at {self.address}"
        try:
            yield
        except TimeoutError:
            self._abort()
            raise MemberTimeout(f"{where} did not answer {operation} within {self.timeout:g} s; "
                                "the member may be overloaded; try again later or raise its timeout",
                                member=self.member) from None
        except ConnectionRefusedError:
            self._abort()
            raise MemberUnavailable(f"{where} refused the connection; the member's Z39.50 server is not "
                                    "running or the registry's host/port is wrong", member=self.member) from None
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
            self._abort()
            if reused:
                raise ConnectionDropped(f"{where} dropped the association before {operation}",
                                        member=self.member) from exc
            raise MemberUnavailable(f"{where} closed the connection during {operation}; try again later",
                                    member=self.member) from None
        except OSError as exc:
            self._abort()
            raise MemberUnavailable(f"{where} could not be reached during {operation}: "
                                    f"{exc.strerror or exc}; check the network and the registry",
                                    member=self.member) from None
        except DecodeError as exc:
            self._abort()
            raise DecodeError(f"{where} sent an undecodable answer to {operation}: {exc.message}; "
                              "report this to the member's system librarian", member=self.member) from None
        except ProtocolError as exc:
            self._abort()
            raise ProtocolError(f"{where} broke the protocol during {operation}: {exc.message}",
                                member=self.member) from None


async def _decoded(pdu: bytes) -> apdu.Apdu:
    """The APDU decoded: a big one (a Present of many records) in a worker thread, so the event loop goes on."""
    if len(pdu) > PARSE_INLINE:
        return await asyncio.to_thread(apdu.decode_apdu, pdu)
    return apdu.decode_apdu(pdu)
