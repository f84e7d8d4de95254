"""Interlibrary loan: requests, the ISO 18626 state machine, lending rules, the store, statistics."""

from ill.errors import (
           Duplicate,
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

__all__ = ["Duplicate", "IllError", "InvalidRequest", "InvalidTransition", "NotAllowed", "NotFound", "Refused", "RuleViolation",
           "Store", "StoreError"]
