"""The outbox of notices in the ILL store: written in the transaction of the change that caused them, read by
the portal (我的消息, the desk), claimed and marked by the mailer (ill/mail.py). docs/notices.md.

A notice for a library's staff is written once for each of its staff members, so each reads it and chooses
mail for themselves. `key` makes a notice once per recipient: the clock may look twice, a notice is written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection

from ill import machine as m
from ill import notices as n
from ill.errors import InvalidRequest
from ill.schema import notices, requests, users
from ill.workdays import BEIJING, deadline_text, local_date, working_days_after

if TYPE_CHECKING:
    from ill.store import Store

PENDING, SENT, SKIPPED, FAILED = "pending", "sent", "skipped", "failed"
EMAIL_STATES = (PENDING, SENT, SKIPPED, FAILED)
DIGEST_HOUR = 7  # a library's digest is written by the first tick of the day from 07:00 Beijing time
LEASE = timedelta(minutes=5)  # a claimed notice is not claimed again for this long (a sender that died)


def _db(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(value):
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


def _insert_ignoring_duplicates(conn: Connection, rows: list[dict]) -> int:
    """Insert notices whose key is new; returns how many were written."""
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(notices).on_conflict_do_nothing(index_elements=["key"]).returning(notices.c.id)
    return len(conn.execute(stmt, rows).all())


def write(conn: Connection, items: Iterable[n.Notice], now: datetime) -> int:
    """Write notices in the caller's transaction: a reader's to the reader, a library's to each of its staff."""
    rows = []
    at = _db(now)
    staff_of: dict[str, list[str]] = {}
    for item in items:
        if item.audience == n.READER:
            recipients = [item.user_id]
        else:
            if item.member not in staff_of:
                staff_of[item.member] = [r.id for r in conn.execute(
                    select(users.c.id).where(users.c.role == "staff", users.c.member == item.member)
                    .order_by(users.c.id))]
            recipients = staff_of[item.member]
        for user_id in recipients:
            rows.append(dict(key=f"{item.key}:{user_id}"[:200], request_id=item.request_id, user_id=user_id,
                             member=item.member, audience=item.audience, kind=item.kind, subject=item.subject,
                             body=item.body, link=item.link, created_at=at, email=PENDING, attempts=0,
                             next_attempt_at=at, last_error=""))
    return _insert_ignoring_duplicates(conn, rows)


def _public(row) -> dict:
    return {k: _aware(v) for k, v in row._mapping.items()}


# ---- reading (the portal, `balis notices list`) ------------------------------------------------------------

def for_user(store: Store, user_id: str, *, limit: int = 100, unread_only: bool = False) -> list[dict]:
    """A user's notices, newest first."""
    q = select(notices).where(notices.c.user_id == user_id)
    if unread_only:
        q = q.where(notices.c.read_at.is_(None))
    with store.read() as conn:
        return [_public(r) for r in conn.execute(q.order_by(notices.c.id.desc()).limit(limit))]


def unread(store: Store, user_id: str) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(notices).where(
            notices.c.user_id == user_id, notices.c.read_at.is_(None))).scalar_one()


def mark_read(store: Store, user_id: str, ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Mark a user's notices read (all of them, or `ids`); returns how many changed."""
    at = _db(now or store.clock())
    q = update(notices).where(notices.c.user_id == user_id, notices.c.read_at.is_(None))
    if ids is not None:
        q = q.where(notices.c.id.in_(list(ids)))
    with store._tx() as conn:
        return conn.execute(q.values(read_at=at)).rowcount


def outbox(store: Store, *, email: str | None = None, user: str | None = None, member: str | None = None,
           request_id: int | None = None, limit: int = 200) -> list[dict]:
    """The outbox, newest first, for operators: filter by mail state, recipient, library or request."""
    q = select(notices)
    if email:
        if email not in EMAIL_STATES:
            raise InvalidRequest(f"mail state {email!r}: use one of {', '.join(EMAIL_STATES)}")
        q = q.where(notices.c.email == email)
    if user:
        q = q.where(notices.c.user_id == user)
    if member:
        q = q.where(notices.c.member == member.upper())
    if request_id is not None:
        q = q.where(notices.c.request_id == request_id)
    with store.read() as conn:
        return [_public(r) for r in conn.execute(q.order_by(notices.c.id.desc()).limit(limit))]


def counts(store: Store) -> dict[str, int]:
    """How many notices are in each mail state."""
    with store.read() as conn:
        got = dict(conn.execute(select(notices.c.email, func.count()).group_by(notices.c.email)).all())
    return {state: got.get(state, 0) for state in EMAIL_STATES}


# ---- each user's mail settings ---------------------------------------------------------------------------

def set_email(store: Store, user_id: str, *, address: str | None = None, enabled: bool | None = None) -> dict:
    """Set a user's mail address ("" removes it) and whether they want notices by mail."""
    values: dict = {}
    if address is not None:
        address = address.strip()
        if address and ("@" not in address or len(address) > 254 or any(c.isspace() for c in address)
                        or "\n" in address or "," in address):
            raise InvalidRequest(f"{address!r} is not a mail address (name@example.edu.cn)")
        values["email"] = address or None
    if enabled is not None:
        values["email_notices"] = bool(enabled)
    with store._tx() as conn:
        store._user(conn, user_id)
        if values:
            conn.execute(update(users).where(users.c.id == user_id).values(**values))
    return store.user(user_id)


# ---- the mailer's side -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Letter:
    """A claimed notice with where it goes (None: the user has no address or turned mail off)."""

    id: int
    to: str | None
    subject: str
    body: str
    link: str
    attempts: int
    attachment: str | None = None  # a delivered copy's scan to attach (its name in the copies folder)


def attachments(conn: Connection, rows, max_bytes: int) -> dict[int, str]:
    """notice id -> the scan its mail carries: the reader's notice that a copy asked for by e-mail was delivered,
    when the scan is still kept and within the registry's e-mail size limit (document delivery, ill/copyfiles.py)."""
    wanted = {r.request_id: r.id for r in rows if r.kind == n.DELIVERED and r.request_id is not None}
    if not wanted:
        return {}
    found = conn.execute(select(requests.c.id, requests.c.copy_file).where(
        requests.c.id.in_(sorted(wanted)), requests.c.copy_method == "email", requests.c.copy_file.is_not(None),
        requests.c.copy_size <= max_bytes))
    return {wanted[r.id]: r.copy_file for r in found}


def claim(store: Store, now: datetime, limit: int = 50) -> list[Letter]:
    """Take up to `limit` notices due for mailing and hold them for LEASE, so another sender does not take them
    too; one transaction (the write lock on SQLite, SKIP LOCKED on PostgreSQL)."""
    at = _db(now)
    q = (select(notices.c.id, notices.c.subject, notices.c.body, notices.c.link, notices.c.attempts,
                users.c.email, users.c.email_notices, notices.c.kind, notices.c.request_id)
         .join(users, users.c.id == notices.c.user_id)
         .where(notices.c.email == PENDING, notices.c.next_attempt_at <= at)
         .order_by(notices.c.id).limit(limit))
    with store._tx() as conn:
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True, of=notices)
        rows = conn.execute(q).all()
        if rows:
            conn.execute(update(notices).where(notices.c.id.in_([r.id for r in rows]))
                         .values(next_attempt_at=_db(now + LEASE)))
        attached = attachments(conn, rows, int(store.copy_rules.email_max_mb * 1_000_000))
    return [Letter(r.id, r.email if (r.email and r.email_notices) else None, r.subject, r.body, r.link, r.attempts,
                   attached.get(r.id)) for r in rows]


def mark_sent(store: Store, notice_id: int, now: datetime) -> None:
    with store._tx() as conn:
        conn.execute(update(notices).where(notices.c.id == notice_id).values(
            email=SENT, sent_at=_db(now), attempts=notices.c.attempts + 1, last_error=""))


def mark_skipped(store: Store, notice_id: int, why: str) -> None:
    with store._tx() as conn:
        conn.execute(update(notices).where(notices.c.id == notice_id).values(email=SKIPPED, last_error=why))


def mark_failed(store: Store, notice_id: int, now: datetime, why: str, retry_at: datetime | None) -> None:
    """A try that did not work: wait until `retry_at` and try again, or (None) give up on mail for good."""
    values = dict(attempts=notices.c.attempts + 1, last_error=why[:500])
    if retry_at is None:
        values["email"] = FAILED
    else:
        values["next_attempt_at"] = _db(retry_at)
    with store._tx() as conn:
        conn.execute(update(notices).where(notices.c.id == notice_id).values(**values))


# ---- the clock's notices ------------------------------------------------------------------------------------

def _rows(conn: Connection, *where) -> list[dict]:
    return [{k: _aware(v) for k, v in r._mapping.items()}
            for r in conn.execute(select(requests).where(*where).order_by(requests.c.id))]


def timed(store: Store, now: datetime | None = None) -> int:
    """Write the clock's notices (due back within 3 working days, an answer due today, each library's daily
    digest) once each; returns how many were written. Run by `balis request tick` and the portal."""
    now = (now or store.clock()).astimezone(UTC)
    t = _db(now)
    registry = store.registry
    today = local_date(now)
    end_of_today = datetime.combine(today + timedelta(days=1), time(0), BEIJING).astimezone(UTC)
    items: list[n.Notice] = []
    with store.read() as conn:
        horizon = _db(working_days_after(now, 3))
        for req in _rows(conn, requests.c.status == m.LOANED, requests.c.phase == m.READER,
                         requests.c.due_back.is_not(None), requests.c.due_back > t, requests.c.due_back <= horizon):
            items.append(n.due_soon(req, registry))
        for req in _rows(conn, requests.c.status == m.REQUEST_RECEIVED, requests.c.answer_due > t,
                         requests.c.answer_due <= _db(end_of_today)):
            items.append(n.answer_due_today(req, registry))
        if now.astimezone(BEIJING).hour >= DIGEST_HOUR:
            items.extend(_digests(conn, today, registry))
    with store._tx() as conn:
        return write(conn, items, now)


def _digests(conn: Connection, today, registry) -> list[n.Notice]:
    members = [r.member for r in conn.execute(
        select(users.c.member).where(users.c.role == "staff").distinct().order_by(users.c.member))]
    out = []
    for code in members:
        def rows(*where, due=None) -> tuple:
            return tuple((r["id"], (r["title"] or r["citation"])[:60], deadline_text(r[due]) if due and r[due] else "")
                         for r in _rows(conn, *where))
        parts = [
            n.DigestPart("待答复", "to answer", rows(requests.c.lender == code,
                                                   requests.c.status == m.REQUEST_RECEIVED, due="answer_due")),
            n.DigestPart("待发货", "to ship", rows(requests.c.lender == code,
                                                 requests.c.status.in_([m.EXPECT_TO_SUPPLY, m.WILL_SUPPLY]),
                                                 due="ship_due")),
            n.DigestPart("待路由的手工申请", "manual requests to route",
                         rows(requests.c.borrower == code, requests.c.status == m.PENDING)),
            n.DigestPart("在途待收（借入）", "on the way to us", rows(
                requests.c.borrower == code, requests.c.phase == m.TRANSIT,
                requests.c.status.in_([m.LOANED, m.RECALLED]))),
            n.DigestPart("到馆待读者取书", "waiting for the reader", rows(
                requests.c.borrower == code, requests.c.phase == m.LIBRARY)),
            n.DigestPart("待寄还出借馆", "to ship back", rows(requests.c.borrower == code,
                                                        requests.c.phase == m.RETURNED)),
            n.DigestPart("读者超期未还", "overdue with readers", rows(
                requests.c.borrower == code, or_(requests.c.status == m.OVERDUE,
                                                 and_(requests.c.status == m.RECALLED,
                                                      requests.c.phase == m.READER)), due="due_back")),
        ]
        item = n.digest(code, today, parts, registry)
        if item is not None:
            out.append(item)
    return out
