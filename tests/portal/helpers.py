"""Small readers of what the portal sends: HTML bits by attribute, and server-sent events."""

from __future__ import annotations

import json
import re


def attrs(html: str, name: str) -> list[str]:
    """Values of attribute `name` in document order."""
    return re.findall(rf'{name}="([^"]*)"', html)


def states(html: str) -> dict[str, str]:
    """The member strip: member code → state."""
    return dict(re.findall(r'data-member="([A-Z0-9]+)" data-state="([a-z_]+)"', html))


async def read_events(response) -> list[tuple[str, dict]]:
    """Every server-sent event of a response, as (event, data) pairs, until the server ends the stream."""
    events = []
    name, data = None, []
    async for raw in response.content:
        line = raw.decode("utf-8").rstrip("\n")
        if not line:
            if name is not None:
                events.append((name, json.loads("\n".join(data))))
            name, data = None, []
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
    return events
