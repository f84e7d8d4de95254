"""Open the right connector for a member endpoint (the only place that knows both protocols)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.base import Connector
from connectors.errors import Unsupported

if TYPE_CHECKING:
    import aiohttp

    from federator.registry import Endpoint, Member


def open_connector(member: Member, endpoint: Endpoint, *, timeout: float | None = None,
                   session: aiohttp.ClientSession | None = None) -> Connector:
    """A connector for `member` at `endpoint`; nothing is sent until the first search."""
    wait = timeout if timeout is not None else member.timeout
    if endpoint.protocol == "z3950":
        from connectors.z3950 import Z3950Connector

        return Z3950Connector(member.code, endpoint.host, endpoint.port, endpoint.database,
                              syntax=member.syntax, charset=member.charset, timeout=wait)
    if endpoint.protocol == "sru":
        from connectors.sru import SruConnector

        return SruConnector.from_member(member, endpoint, session=session, timeout=wait)
    raise Unsupported(f"protocol {endpoint.protocol!r} is not supported", member=member.code)
