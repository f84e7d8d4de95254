"""The routing layer's one exception."""

from __future__ import annotations


class RoutingError(Exception):
    """A rota cannot be built from what was given (unknown home member, bad districts table)."""
