"""The ILL layer's one exception tree; every message says what, which request or reader, and what to do.

    IllError                  (400)
    ├── InvalidRequest        (400) the data given is incomplete or malformed
    ├── NotFound              (404) no such request or user
    ├── Refused               (409) the workflow refuses: nothing was changed
    │   ├── RuleViolation     (409) a lending rule (3 books, the cancel window, ...)
    │   │   └── Duplicate     (409) the reader asked for this edition already (open, or lately: confirm)
    │   ├── InvalidTransition (409) not possible in the request's state
    │   └── NotAllowed        (403) not this person's action
    └── StoreError            (503) the store cannot be opened or written

Each class carries the HTTP status it maps to (`http_status`), so the portal maps ILL errors in one place
(portal/ill_errors.py) and the command line in one place (`Refused` exits 1, the others 2).
"""

from __future__ import annotations


class IllError(Exception):
    """Base of every error the ILL store and workflow raise."""

    http_status = 400


class InvalidRequest(IllError):
    """The data given for a request or an action is incomplete or malformed."""

    http_status = 400


class NotFound(IllError):
    """No such request or user in the store."""

    http_status = 404


class Refused(IllError):
    """The workflow refuses the action now (state, rule or person); nothing was changed."""

    http_status = 409
    code = "refused"  # the stable code of `ill.workflow.explain` that refused it


class RuleViolation(Refused):
    """A lending rule of the consortium refuses the change (3 books out, cancel window, ...)."""

    http_status = 409


class Duplicate(RuleViolation):
    """The reader has an open request for this edition (refused), or had one lately (confirm to go on)."""

    http_status = 409

    def __init__(self, message: str, request_id: int, *, confirmable: bool):
        super().__init__(message)
        self.request_id, self.confirmable = request_id, confirmable
        self.code = "duplicate_recent" if confirmable else "duplicate_open"


class InvalidTransition(Refused):
    """The action is not possible in the request's current state; nothing was changed."""

    http_status = 409

    def __init__(self, request_id: int, action: str, status: str, phase: str, allowed: list[str]):
        where = f"{status}/{phase}" if phase else status
        allowed_text = ", ".join(allowed) if allowed else "none (the request is closed)"
        super().__init__(f"申请单 {request_id}: 当前状态 {where} 不能执行 '{action}'; "
                         f"now possible: {allowed_text}")
        self.request_id, self.action, self.status, self.phase, self.allowed = (
            request_id, action, status, phase, allowed)


class NotAllowed(Refused):
    """The acting person may not do this (wrong role, or another library's request)."""

    http_status = 403


class StoreError(IllError):
    """The store cannot be opened, upgraded or written."""

    http_status = 503
