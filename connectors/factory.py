"""Open the right connector for a member endpoint (the only place that knows both protocols), and keep
open connectors between searches (`ConnectorPool`) so a member's Z39.50 association is reused."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from connectors.base import Connector
from connectors.errors import Unsupported

if TYPE_CHECKING:
    import aiohttp

    from members import Endpoint, Member


def open_connector(member: Member, endpoint: Endpoint, *, timeout: float | None = None,
                   session: aiohttp.ClientSession | None = None) -> Connector:
    """A connector for `member` at `endpoint`; nothing is sent until the first search."""
    wait = timeout if timeout is not None else member.timeout
    if endpoint.protocol == "z3950":
        from connectors.z3950 import Z3950Connector

        return Z3950Connector(member.code, endpoint.host, endpoint.port, endpoint.database,
                              syntax=member.syntax, charset=member.charset, timeout=wait,
                              negotiate_charset=member.negotiate_charset, login=member.auth,
                              record_syntax="opac" if getattr(member, "opac_syntax", False) else None)
    if endpoint.protocol == "sru":
        from connectors.sru import SruConnector

        sru = SruConnector.from_member(member, endpoint, session=session, timeout=wait)
        sru.holdings_schema = getattr(member, "holdings_schema", None)
        return sru
    if endpoint.protocol == "oaipmh":
        from connectors.oaipmh import OaiPmhConnector

        return OaiPmhConnector.from_member(member, endpoint, session=session, timeout=wait)
    raise Unsupported(f"protocol {endpoint.protocol!r} is not supported", member=member.code)


def set_timeout(connector: Connector, seconds: float) -> None:
    """Change how long a connector waits for each answer (a pooled connector serves searches with
    different timeouts)."""
    connection = getattr(connector, "connection", None)  # Z39.50: the association holds the timeout
    if connection is not None:
        connection.timeout = seconds
    else:
        connector.timeout = seconds  # type: ignore[attr-defined]


def forget_result_set(connector: Connector) -> None:
    """Make the next search of a Z39.50 connector search again rather than reuse its last result set."""
    if hasattr(connector, "_result_set"):
        connector._result_set = None  # type: ignore[attr-defined]


def _endpoint_key(member: Member, endpoint: Endpoint) -> tuple:
    return (member.code, endpoint.protocol, endpoint.host, endpoint.port, endpoint.database,
            endpoint.sru_version, member.syntax, member.charset, member.negotiate_charset, member.auth)


class ConnectorPool:
    """Idle connectors kept open between searches, per member endpoint.

    A search takes a connector (an idle one, or a new one when none is idle, so concurrent searches of
    one member never share an association), and gives it back when the member answered; a connector
    whose last search failed, timed out or was cancelled is closed instead, because the state of its
    connection is unknown. At most `idle_per_member` connectors per endpoint are kept. A kept Z39.50
    association that the member dropped meanwhile (restart, idle timeout) is reopened by the connector
    itself on the next search. SRU connectors share one aiohttp session, whose HTTP keep-alive does the
    same for SRU.
    """

    def __init__(self, *, idle_per_member: int = 2, close_grace: float = 0.25) -> None:
        if idle_per_member < 0:
            raise ValueError(f"idle_per_member must be >= 0, not {idle_per_member}")
        self.idle_per_member = idle_per_member
        self.close_grace = close_grace  # seconds a polite Z39.50 Close may wait for the member's answer
        self.opened = 0  # connectors created, for statistics and tests
        self.reused = 0  # searches served by a kept connector
        self._idle: dict[tuple, list[Connector]] = {}
        self._closing: set[asyncio.Task] = set()
        self._closed = False

    def take(self, member: Member, endpoint: Endpoint, *, timeout: float,
             session: aiohttp.ClientSession | None = None, fresh: bool = True) -> Connector:
        """A connector for this member endpoint, waiting `timeout` seconds per answer.

        `fresh`: the search must be run anew even if the kept association still holds a result set for
        the same query (a first page); False lets a next page Present from that result set.
        """
        idle = self._idle.get(_endpoint_key(member, endpoint))
        if idle:
            connector = idle.pop()
            set_timeout(connector, timeout)
            if fresh:
                forget_result_set(connector)
            self.reused += 1
            return connector
        self.opened += 1
        return open_connector(member, endpoint, timeout=timeout, session=session)

    def give_back(self, member: Member, endpoint: Endpoint, connector: Connector) -> None:
        """The member answered through `connector`: keep it for the next search (or close it if full)."""
        idle = self._idle.setdefault(_endpoint_key(member, endpoint), [])
        if self._closed or len(idle) >= self.idle_per_member:
            self.discard(connector)
        else:
            idle.append(connector)

    def discard(self, connector: Connector) -> None:
        """Close a connector in the background: a polite Close to a slow member must not hold a search."""
        task = asyncio.get_running_loop().create_task(self._close(connector))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def idle(self, member: Member, endpoint: Endpoint) -> list[Connector]:
        """The connectors kept for this member endpoint (most recently used last)."""
        return list(self._idle.get(_endpoint_key(member, endpoint), ()))

    async def _close(self, connector: Connector) -> None:
        set_timeout(connector, self.close_grace)
        with contextlib.suppress(Exception):
            await connector.close()

    async def close(self) -> None:
        """Close every kept connector and wait for background closes; the pool keeps nothing afterwards."""
        self._closed = True
        connectors = [c for idle in self._idle.values() for c in idle]
        self._idle.clear()
        await asyncio.gather(*(self._close(c) for c in connectors), *list(self._closing),
                             return_exceptions=True)
