"""The indexer's errors, one tree: each says what went wrong, where, and what to do.

IndexerError
├── HarvestError          the harvest cannot start (no members, a bad option)
├── HarvestStopped        one member's pass was stopped: it passed a registry limit or repeats itself
├── HarvestStoreError     the harvest store cannot be opened or written
└── LocalIndexError       the union index cannot be opened, written or read
    ├── NoIndexError      there is no union index (or it is empty) at the folder asked for
    └── IndexBusyError    another live process is writing the index
"""

from __future__ import annotations


class IndexerError(Exception):
    """Something the harvest or the union index cannot do; the message names the file or member."""


class HarvestError(IndexerError):
    """The harvest cannot start (no members, a bad option); the message says what to do."""


class HarvestStopped(IndexerError):
    """One member's pass was stopped (a registry limit passed, an implausible count, pages bringing nothing
    new); the member is reported failed and the other members' changes are indexed regardless."""


class HarvestStoreError(IndexerError):
    """The harvest store cannot be opened or written; the message names the file and what to do."""


class LocalIndexError(IndexerError):
    """The local index cannot be opened, written or read; the message says where and what to do."""


class NoIndexError(LocalIndexError):
    """There is no local index (or it is empty) at the folder asked for."""


class IndexBusyError(LocalIndexError):
    """Another live process is writing the index."""
