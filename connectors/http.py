"""What can go wrong talking HTTP to a member (SRU, OAI-PMH), as the connector layer's errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp

from connectors.errors import MemberTimeout, MemberUnavailable, ProtocolError


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
