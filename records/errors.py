"""Errors of the record layer."""

from __future__ import annotations


class RecordError(Exception):
    """A record could not be read or normalised; says which member, position and why."""

    def __init__(self, message: str, *, member: str | None = None, position: int | str | None = None):
        where = ", ".join(p for p in (member and f"member {member}",
                                       position is not None and f"record {position}") if p)
        super().__init__(f"{where}: {message}" if where else message)
        self.message, self.member, self.position = message, member, position
