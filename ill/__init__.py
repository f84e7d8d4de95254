"""Interlibrary loan: requests, the ISO 18626 state machine, lending rules, the store, statistics."""

from ill.errors import (
           IllError,
           InvalidRequest,
           InvalidTransition,
           NotAllowed,
           NotFound,
           Refused,
           RuleViolation,
           StoreError,
)
from ill.store import Store

__all__ = ["IllError", "InvalidRequest", "InvalidTransition", "NotAllowed", "NotFound", "Refused", "RuleViolation",
           "Store", "StoreError"]
