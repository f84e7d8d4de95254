"""Talking HTTP to a member (SRU, OAI-PMH): the process's shared session, capped reads, and what can go
wrong, as the connector layer's errors."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp

from connectors.auth import CredentialsRef, Login, read_login, refused
from connectors.errors import DecodeError, MemberTimeout, MemberUnavailable, ProtocolError

MAX_BODY = 16 * 1024 * 1024  # bytes; a larger answer is refused, not parsed


@contextmanager
def http_errors(member: str, url: str, service: str, timeout: float) -> Iterator[None]:
    """Turn aiohttp's and the timeout's exceptions inside the block into MemberError subclasses whose message
    names the member's `service` ("SRU", "OAI-PMH"), the address and what to do."""
    try:
        yield
    except TimeoutError:
        raise MemberTimeout(f"no {service} answer within {timeout:g} s from {url}; the member is slow or down, "
                            "try again later or raise its timeout", member=member) from None
    except aiohttp.ClientConnectorError as e:
        raise MemberUnavailable(f"cannot connect to {url} ({e.os_error or e}); the member's {service} service "
                                "is down or the address is wrong", member=member) from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as e:
        raise MemberUnavailable(f"the connection to {url} was closed before the answer ({e})",
                                member=member) from None
    except aiohttp.ClientPayloadError as e:
        raise ProtocolError(f"broken HTTP body from {url}: {e}", member=member) from None
    except aiohttp.InvalidURL:
        raise ProtocolError(f"invalid {service} address {url!r}; fix the member registry", member=member) from None
    except aiohttp.ClientError as e:
        raise ProtocolError(f"HTTP error talking to {url}: {e}", member=member) from None


def basic_auth(user: str, password: str) -> str:
    """An HTTP basic Authorization value (RFC 7617, UTF-8). aiohttp drops it on a redirect to another host."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


# --------------------------------------------------------------------------- the shared HTTP session
USER_AGENT = "balis/0.1"
CONNECTIONS, CONNECTIONS_PER_HOST = 100, 8  # open at once in all, and to one member

_shared: dict[asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, int]] = {}


def new_session() -> aiohttp.ClientSession:
    """A ClientSession with the project's settings: bounded connections (in all and per member), no proxy
    from the environment, our User-Agent. Every HTTP session to members is made here."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=CONNECTIONS, limit_per_host=CONNECTIONS_PER_HOST), trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )  # fmt: skip


def acquire_shared_session() -> aiohttp.ClientSession:
    """The process's one ClientSession for this event loop (reference counted by the connectors using it)."""
    loop = asyncio.get_running_loop()
    session, users = _shared.get(loop, (None, 0))
    if session is None or session.closed:
        session, users = new_session(), 0
    _shared[loop] = (session, users + 1)
    return session


async def release_shared_session(session: aiohttp.ClientSession) -> None:
    for loop, (s, users) in list(_shared.items()):
        if s is session:
            if users <= 1:
                del _shared[loop]
                await s.close()
            else:
                _shared[loop] = (s, users - 1)
            return


async def read_capped(resp: aiohttp.ClientResponse, member: str, service: str, limit: int = MAX_BODY) -> bytes:
    """The body, refused past `limit` bytes (announced or read) so a runaway answer cannot fill memory."""
    limit = min(limit, MAX_BODY)
    length = resp.content_length
    if length is not None and length > limit:
        raise DecodeError(f"{service} answer of {length} bytes is over the {limit} byte limit for what was asked; "
                          "the member sends far more than it was asked for", member=member)
    chunks, size = [], 0
    async for chunk in resp.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise DecodeError(f"{service} answer is over the {limit} byte limit for what was asked; not read "
                              "further (the member sends far more than it was asked for)", member=member)
        chunks.append(chunk)
    return b"".join(chunks)


class HttpMember:
    """The HTTP side of a connector to one member: `member`, `base_url`, `timeout` and `session` (given, or
    the shared one, acquired on first use and released by `close()`). Subclasses name their `service`."""

    service = "HTTP"
    member: str
    base_url: str
    timeout: float
    session: aiohttp.ClientSession | None
    login: CredentialsRef | Login | None = None  # sent as HTTP basic auth; the password is read per request
    _owned: bool = False

    def set_timeout(self, seconds: float) -> None:
        """How long to wait for each answer from now on."""
        self.timeout = seconds

    def fresh(self) -> None:
        """HTTP keeps no result set between requests: nothing to forget."""

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            self.session = acquire_shared_session()
            self._owned = True
        return self.session

    async def _get(self, params: dict[str, str], limit: int = MAX_BODY) -> tuple[int, str | None, bytes]:
        """GET the base URL with these parameters: (status, reason, body); network and timeout errors mapped,
        and an HTTP 401 (or a 403 to our login) as the member's LoginRefused."""
        login = read_login(self.login, self.member)
        headers = {"Authorization": basic_auth(login.user, login.password)} if login is not None else None
        session = self._session()
        with http_errors(self.member, self.base_url, self.service, self.timeout):
            async with asyncio.timeout(self.timeout):
                async with session.get(self.base_url, params=params, allow_redirects=True, headers=headers) as resp:
                    if resp.status == 401 or (resp.status == 403 and login is not None):
                        raise refused(self.member, f"{self.service} server at {self.base_url} answered HTTP "
                                      f"{resp.status} {resp.reason or ''}".rstrip(), had_login=login is not None)
                    return resp.status, resp.reason, await read_capped(resp, self.member, self.service, limit)

    async def close(self) -> None:
        """Release the HTTP session (the shared one is closed when its last connector lets go)."""
        if self._owned and self.session is not None:
            session, self.session, self._owned = self.session, None, False
            await release_shared_session(session)
