"""ISO 18626 peers over HTTP: the transport the outbox sender posts through, and `send`, which the portal's
background sender and `balis peers send` share (docs/iso18626.md)."""

from __future__ import annotations

import asyncio

import aiohttp

from ill.peers import PeerUnreachable, Report, deliver
from members import Registry

TIMEOUT = 20.0  # seconds for one message and its confirmation
MAX_ANSWER = 1024 * 1024  # a confirmation is a few hundred bytes


def transport(session: aiohttp.ClientSession, timeout: float = TIMEOUT):
    """A `post(url, body, headers) -> (status, body)` over `session`; network errors become PeerUnreachable."""

    async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(timeout):
                async with session.post(url, data=body, headers=headers) as response:
                    answer = await response.content.read(MAX_ANSWER + 1)
                    if len(answer) > MAX_ANSWER:
                        raise PeerUnreachable(f"{url}: the answer is larger than {MAX_ANSWER} bytes")
                    return response.status, answer
        except TimeoutError:
            raise PeerUnreachable(f"no answer from {url} within {timeout:g} s") from None
        except aiohttp.ClientConnectorError as exc:
            raise PeerUnreachable(f"cannot connect to {url} ({exc.os_error or exc})") from None
        except aiohttp.ClientError as exc:
            raise PeerUnreachable(f"HTTP error talking to {url}: {exc}") from None

    return post


async def send(store, registry: Registry, *, due_only: bool = True, session: aiohttp.ClientSession | None = None
               ) -> Report:
    """Post the outbox's due messages to their peers once (every waiting one now with `due_only` False)."""
    if session is not None:
        return await deliver(store, registry, transport(session), due_only=due_only)
    async with aiohttp.ClientSession() as own:
        return await deliver(store, registry, transport(own), due_only=due_only)
