"""The ILL layer's one exception tree; every message says what, which request or reader, and what to do."""

from __future__ import annotations


class IllError(Exception):
    """Base of every error the ILL store and workflow raise."""


class InvalidRequest(IllError):
    """The data given for a request or an action is incomplete or malformed."""


class RuleViolation(IllError):
    """A lending rule of the consortium refuses the change (3 books out, cancel window, ...)."""


class InvalidTransition(IllError):
    """The action is not possible in the request's current state; nothing was changed."""

    def __init__(self, request_id: int, action: str, status: str, phase: str, allowed: list[str]):
        where = f"{status}/{phase}" if phase else status
        allowed_text = ", ".join(allowed) if allowed else "none (the request is closed)"
        super().__init__(f"申请单 {request_id}: 当前状态 {where} 不能执行 '{action}'; "
                         f"now possible: {allowed_text}")
        self.request_id, self.action, self.status, self.phase, self.allowed = (
            request_id, action, status, phase, allowed)


class NotAllowed(IllError):
    """The acting person may not do this (wrong role, or another library's request)."""


class NotFound(IllError):
    """No such request or user in the store."""


class StoreError(IllError):
    """The store cannot be opened, upgraded or written."""
