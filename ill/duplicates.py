"""A reader asking again for an edition: refused while the first request is open, confirmed when it closed lately.

Pure over request rows. Two requests are for the same edition when they name the same work id, or the same
ISBN (ISBN-13 digits; a manual citation with an ISBN counts). The store applies `check` in the transaction
that writes the new request; the desk shows `possible` beside a request.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from ill import machine as m
from ill.errors import Duplicate, InvalidRequest
from ill.workdays import local_date

RECENT = timedelta(days=30)  # a request closed this lately is asked about again


def isbn13(text: str | None) -> str:
    """The ISBN-13 digits of `text` ("" when it is empty); InvalidRequest when it is not an ISBN."""
    from stdnum import isbn as isbn_mod
    from stdnum.exceptions import ValidationError

    text = (text or "").strip()
    if not text:
        return ""
    try:
        return isbn_mod.to_isbn13(isbn_mod.validate(text))
    except ValidationError:
        raise InvalidRequest(f"ISBN {text!r} is not a valid ISBN: check its digits (10 or 13, hyphens allowed)") \
            from None


def same_edition(row: dict, work_id: str | None, isbn: str) -> bool:
    """Whether request `row` asks for the edition named by `work_id` or `isbn` (either may be empty)."""
    return bool((work_id and row.get("work_id") == work_id) or (isbn and row.get("isbn") == isbn))


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def check(rows: Iterable[dict], *, work_id: str | None, isbn: str, now: datetime, confirmed: bool) -> None:
    """Raise Duplicate when the reader's `rows` hold an open request for the edition (never allowed), or one
    that closed within RECENT of `now` (allowed when `confirmed`). Nothing to check without a work id or ISBN."""
    if not (work_id or isbn):
        return
    same = sorted((r for r in rows if same_edition(r, work_id, isbn)), key=lambda r: r["id"], reverse=True)
    for r in same:
        if m.is_open(r["status"]):
            raise Duplicate(
                f"您已申请过此书：申请单 {r['id']}《{r['title']}》仍在处理中 ({r['status']})，不能重复申请；"
                f"请查看该申请单 (you already have open request {r['id']} for this edition: follow it at "
                f"/requests/{r['id']})", r["id"], confirmable=False)
    if confirmed:
        return
    for r in same:
        closed = _aware(r.get("completed_at")) or _aware(r.get("submitted_at"))
        if closed is not None and now - closed <= RECENT:
            raise Duplicate(
                f"您在 30 天内申请过此书：申请单 {r['id']}《{r['title']}》已于 {local_date(closed).isoformat()} 结束 "
                f"({r['status']})；如确需再次申请，请确认 (request {r['id']} for this edition closed within the last "
                f"30 days: confirm to ask again)", r["id"], confirmable=True)


def possible(rows: Iterable[dict], request: dict) -> list[dict]:
    """The reader's other requests for the same edition or ISBN as `request`, newest first (for staff)."""
    return sorted((r for r in rows if r["id"] != request["id"] and r["reader_id"] == request["reader_id"]
                   and same_edition(r, request.get("work_id"), request.get("isbn") or "")),
                  key=lambda r: r["id"], reverse=True)
