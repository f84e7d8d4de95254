"""A small TTL + LRU cache for members' answers, so a repeated query does not ask the members again."""

from __future__ import annotations

import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class TTLCache:
    """Entries live `ttl` seconds; beyond `max_entries` the least recently used go first."""

    def __init__(self, ttl: float = 120.0, max_entries: int = 2048,
                 clock: Callable[[], float] = time.time) -> None:
        if ttl < 0:
            raise ValueError(f"cache ttl must be >= 0 seconds, not {ttl}")
        if max_entries < 1:
            raise ValueError(f"cache max_entries must be at least 1, not {max_entries}")
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Any | None:
        """The live value for `key`, or None (expired entries are dropped)."""
        entry = self._data.get(key)
        if entry is None or entry[0] <= self.clock():
            if entry is not None:
                del self._data[key]
            self.misses += 1
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return entry[1]

    def put(self, key: Hashable, value: Any) -> None:
        if self.ttl == 0:
            return
        self._data[key] = (self.clock() + self.ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def query_key(query: object) -> str:
    """A normalised form of a query for cache keys: its CQL (NFKC, case-folded), else its repr."""
    try:
        from connectors.query import to_cql

        text = to_cql(query)  # type: ignore[arg-type]
    except Exception:  # an RPN tree or raw string: its repr still identifies it
        text = repr(query)
    return unicodedata.normalize("NFKC", " ".join(text.split())).casefold()
