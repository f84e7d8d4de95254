"""The one place the portal turns an ILL error into an HTTP status: each class of `ill.errors` carries it.

    InvalidRequest 400 · NotFound 404 · NotAllowed 403 · RuleViolation, InvalidTransition 409 · StoreError 503
"""

from __future__ import annotations

from ill.errors import IllError


def ill_status(exc: IllError) -> int:
    """The HTTP status of an ILL error (its class's `http_status`; 400 for any other IllError)."""
    return getattr(exc, "http_status", 400)
