"""Open the right connector for a member endpoint (the only place that knows both protocols), and keep
open connectors between searches (`ConnectorPool`) so a member's Z39.50 association is reused."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import TYPE_CHECKING

from connectors.base import Connector
from connectors.errors import Unsupported

if TYPE_CHECKING:
    import aiohttp

    from members import Target


def open_connector(target: Target, *, session: aiohttp.ClientSession | None = None) -> Connector:
    """A connector for one member endpoint; nothing is sent until the first request. `session`: the aiohttp
    session HTTP connectors share (default: the process's shared one)."""
    if target.protocol == "z3950":
        from connectors.z3950 import Z3950Connector

        return Z3950Connector.from_target(target)
    if target.protocol == "sru":
        from connectors.sru import SruConnector

        return SruConnector.from_target(target, session=session)
    if target.protocol == "oaipmh":
        from connectors.oaipmh import OaiPmhConnector

        return OaiPmhConnector.from_target(target, session=session)
    raise Unsupported(f"protocol {target.protocol!r} is not supported", member=target.member)


def _key(target: Target) -> Target:
    """Connectors are kept per target; the timeout is set per search, so it is not part of the key."""
    return dataclasses.replace(target, timeout=0.0)


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

    def take(self, target: Target, *, session: aiohttp.ClientSession | None = None,
             fresh: bool = True) -> Connector:
        """A connector for this member endpoint, waiting `target.timeout` seconds per answer.

        `fresh`: the search must be run anew even if the kept association still holds a result set for
        the same query (a first page); False lets a next page Present from that result set.
        """
        idle = self._idle.get(_key(target))
        if idle:
            connector = idle.pop()
            connector.set_timeout(target.timeout)
            if fresh:
                connector.fresh()
            self.reused += 1
            return connector
        self.opened += 1
        return open_connector(target, session=session)

    def give_back(self, target: Target, connector: Connector) -> None:
        """The member answered through `connector`: keep it for the next search (or close it if full)."""
        idle = self._idle.setdefault(_key(target), [])
        if self._closed or len(idle) >= self.idle_per_member:
            self.discard(connector)
        else:
            idle.append(connector)

    def discard(self, connector: Connector) -> None:
        """Close a connector in the background: a polite Close to a slow member must not hold a search."""
        task = asyncio.get_running_loop().create_task(self._close(connector))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def idle(self, target: Target) -> list[Connector]:
        """The connectors kept for this member endpoint (most recently used last)."""
        return list(self._idle.get(_key(target), ()))

    async def _close(self, connector: Connector) -> None:
        connector.set_timeout(self.close_grace)
        with contextlib.suppress(Exception):
            await connector.close()

    async def close(self) -> None:
        """Close every kept connector and wait for background closes; the pool keeps nothing afterwards."""
        self._closed = True
        connectors = [c for idle in self._idle.values() for c in idle]
        self._idle.clear()
        await asyncio.gather(*(self._close(c) for c in connectors), *list(self._closing),
                             return_exceptions=True)
