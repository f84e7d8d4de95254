"""The outbox of ISO 18626 messages to peers (other ILL networks; docs/iso18626.md).

`for_change` says which messages a change of a request gives (pure over the change and the registry): a request
entering a peer lender is sent to it as a `request`; our requester actions on a request at a peer go to it as
requestingAgencyMessages; our lender's answers on a peer's request go back as supplyingAgencyMessages. The store
writes them in the change's transaction (`write`); the sender (ill/peers.py `deliver`) claims them after commit,
oldest first and one at a time per request, so a peer reads a request's messages in the order they were written.
A message the peer could not be reached for waits (1, 2, 4 … minutes, at most an hour, as mail does) and holds
the messages after it; one the peer answered with ERROR is marked failed and not sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from ill import isomessages as im
from ill import machine as m
from ill.schema import peer_messages
from ill.workdays import BEIJING

if TYPE_CHECKING:
    from ill.store import Store
    from members import Registry

PENDING, SENT, FAILED = "pending", "sent", "failed"
STATES = (PENDING, SENT, FAILED)
REQUEST_ID_PREFIX = "BALIS-"  # our request ids on the wire: BALIS-<id>
ANSWERS = {m.EXPECT_TO_SUPPLY, m.WILL_SUPPLY, m.UNFILLED, m.RETRY_POSSIBLE}
REQUESTER_ACTIONS = {m.RECEIVED: "Received", m.SHIPPED_RETURN: "ShippedReturn", m.CANCEL: "Cancel",
                     m.NOTIFY: "Notification"}


def _db(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def wire_id(request_id: int) -> str:
    return f"{REQUEST_ID_PREFIX}{request_id}"


def our_id(text: str | None) -> int | None:
    """Our request id from its wire form BALIS-<id>, or None."""
    if text and text.startswith(REQUEST_ID_PREFIX) and text[len(REQUEST_ID_PREFIX):].isdigit():
        return int(text[len(REQUEST_ID_PREFIX):])
    return None


@dataclass(frozen=True, slots=True)
class Outgoing:
    peer: str
    kind: str
    what: str
    body: bytes


def for_change(registry: Registry | None, action: str, role: str, from_status: str | None,
               lender_before: str | None, after: dict, reason: str, now: datetime) -> list[Outgoing]:
    """The messages to peers a change gives (none without a registry that lists peers)."""
    if registry is None or not registry.peers:
        return []
    out: list[Outgoing] = []
    borrower_peer = registry.peer(after["borrower"])
    lender_peer = registry.peer(after["lender"]) if after.get("lender") else None
    if borrower_peer is not None and role != m.PEER_REQUESTER and action != "submit":
        msg = _status_message(registry, after, action, from_status, reason, now)
        if msg is not None:
            out.append(Outgoing(borrower_peer.code, "supplyingAgencyMessage", *msg))
    if borrower_peer is not None and role == m.PEER_REQUESTER and action == m.CANCEL:
        out.append(Outgoing(borrower_peer.code, "supplyingAgencyMessage", m.CANCELLED,
                            _supplying(registry, after, "CancelResponse", m.CANCELLED, reason, now, yes=True)))
    if lender_peer is not None and after["lender"] != lender_before and after["status"] == m.REQUEST_RECEIVED:
        out.append(Outgoing(lender_peer.code, "request", "New", _request(registry, after, lender_peer, now)))
    if lender_peer is not None and role in (m.BORROWER, m.READER_) and action in REQUESTER_ACTIONS:
        out.append(Outgoing(lender_peer.code, "requestingAgencyMessage", REQUESTER_ACTIONS[action],
                            _requesting(registry, after, lender_peer, REQUESTER_ACTIONS[action], reason, now)))
    return out


def _status_message(registry, after: dict, action: str, from_status: str | None, reason: str,
                    now: datetime) -> tuple[str, bytes] | None:
    """Our lender's change on a peer's request, as the supplyingAgencyMessage the peer is sent (or None)."""
    status = after["status"]
    if action == m.NOTIFY:
        return status, _supplying(registry, after, "Notification", status, reason, now)
    if status == from_status or status == m.PENDING:
        return None  # a change on the borrowing side only, or nothing the peer follows
    why = "RequestResponse" if from_status == m.REQUEST_RECEIVED and status in ANSWERS else "StatusChange"
    return status, _supplying(registry, after, why, status, reason, now)


def answer(registry: Registry, r: dict, why: str, now: datetime, *, yes: bool = False, note: str = "") -> Outgoing:
    """Our lender's answer to a peer's requester message that changes nothing: a StatusRequestResponse, or a
    CancelResponse (`yes` False: the lender keeps the request)."""
    peer = registry.peer(r["borrower"])
    return Outgoing(peer.code, "supplyingAgencyMessage", r["status"],
                    _supplying(registry, r, why, r["status"], note, now, yes=yes))


def _member(registry, code: str | None):
    return next((x for x in registry.members if x.code == code), None) if registry is not None else None


def _member_agency(registry, code: str | None) -> str:
    member = _member(registry, code)
    return member.agency if member is not None else f"BALIS:{code}"


def _supplying(registry, r: dict, why: str, status: str, reason: str, now: datetime, yes: bool = False) -> bytes:
    def build(root):
        sm = im.el(root, "supplyingAgencyMessage")
        im.header(sm, supplying=_member_agency(registry, r["lender"]), requesting=r["peer_agency"], timestamp=now,
                  requesting_id=r["peer_request_id"], supplying_id=wire_id(r["id"]))
        info = im.el(sm, "messageInfo")
        im.el(info, "reasonForMessage", why)
        if why == "CancelResponse":
            im.el(info, "answerYesNo", "Y" if yes else "N")
        elif why == "RequestResponse":
            im.el(info, "answerYesNo", "N" if status in (m.UNFILLED, m.RETRY_POSSIBLE) else "Y")
        if reason:
            im.el(info, "note", reason)
        if status == m.UNFILLED and reason:
            im.el(info, "reasonUnfilled", reason[:200])
        st = im.el(sm, "statusInfo")
        im.el(st, "status", status)
        if r.get("due_back"):
            im.el(st, "dueDate", im.stamp(r["due_back"]))
        im.el(st, "lastChange", im.stamp(now))
        if status in (m.LOANED, m.COPY_COMPLETED) and r.get("shipped_at"):
            d = im.el(sm, "deliveryInfo")
            im.el(d, "dateSent", im.stamp(r["shipped_at"]))
            if status == m.COPY_COMPLETED and r.get("copy_method") in im.SENT_VIA:
                im.el(d, "sentVia", im.SENT_VIA[r["copy_method"]])

    return im.envelope(build)


def _requesting(registry, r: dict, peer, action: str, reason: str, now: datetime) -> bytes:
    def build(root):
        ram = im.el(root, "requestingAgencyMessage")
        im.header(ram, supplying=r.get("peer_agency") or peer.agency_id,
                  requesting=_member_agency(registry, r["borrower"]), timestamp=now, requesting_id=wire_id(r["id"]),
                  supplying_id=r.get("peer_request_id"))
        im.el(ram, "action", action)
        if reason:
            im.el(ram, "note", reason)

    return im.envelope(build)


def _request(registry, r: dict, peer, now: datetime) -> bytes:
    def build(root):
        q = im.el(root, "request")
        im.header(q, supplying=peer.agency_id, requesting=_member_agency(registry, r["borrower"]), timestamp=now,
                  requesting_id=wire_id(r["id"]))
        b = im.el(q, "bibliographicInfo")
        cd = r.get("citation_data") if r["kind"] == m.COPY and isinstance(r.get("citation_data"), dict) else None
        if cd is not None:  # the article or chapter whole (原文传递): the same elements as the export's
            im.copy_bibliographic(b, r, cd)
        else:
            if r.get("title"):
                im.el(b, "title", r["title"])
            if r.get("author"):
                im.el(b, "author", r["author"])
            if r.get("isbn"):
                item = im.el(b, "bibliographicItemId")
                im.el(item, "bibliographicItemIdentifier", r["isbn"])
                im.el(item, "bibliographicItemIdentifierCode", "ISBN")
        year = r.get("year") or str((cd or {}).get("year") or "")
        if year or (cd or {}).get("publisher"):
            p = im.el(q, "publicationInfo")
            if (cd or {}).get("publisher"):
                im.el(p, "publisher", cd["publisher"])
            if year:
                im.el(p, "publicationDate", year)
        s = im.el(q, "serviceInfo")
        im.el(s, "requestType", "New")
        im.el(s, "serviceType", "Loan" if r["kind"] == m.LOAN else "Copy")
        method = r.get("copy_method") if r["kind"] == m.COPY else ""
        if method in im.COPY_FORMAT:
            im.el(s, "preferredFormat", im.COPY_FORMAT[method])
        if r.get("need_before"):
            im.el(s, "needBeforeDate", datetime.combine(r["need_before"], time(23, 59, 59), BEIJING).isoformat())
        if r.get("citation") and r["citation"] != r.get("title"):
            im.el(s, "note", r["citation"])
        if method:
            desk = _member(registry, r["borrower"])
            im.copy_delivery(q, method, email=desk.contact.email if desk else None,
                             address=desk.contact.address if desk else None)
        im.el(im.el(q, "patronInfo"), "patronId", r["reader_id"])

    return im.envelope(build)


# ---- the table ------------------------------------------------------------------------------------------

def write(conn: Connection, items: list[Outgoing], request_id: int, now: datetime) -> None:
    """Put messages in the outbox in the caller's transaction."""
    at = _db(now)
    for item in items:
        conn.execute(insert(peer_messages).values(
            peer=item.peer, request_id=request_id, kind=item.kind, what=item.what, body=item.body.decode("utf-8"),
            created_at=at, state=PENDING, attempts=0, next_attempt_at=at, last_error="", answer=""))


@dataclass(frozen=True, slots=True)
class Letter:
    """A claimed message: where it goes and what it is."""

    id: int
    peer: str
    request_id: int
    kind: str
    what: str
    body: bytes
    attempts: int


LEASE_SECONDS = 120


def claim(store: Store, now: datetime, limit: int = 50, *, due_only: bool = True) -> list[Letter]:
    """The oldest waiting message of each request, if it is due (any, with `due_only` False), held for a lease
    so that another sender does not take it too; one transaction."""
    from datetime import timedelta

    at = _db(now)
    with store._tx() as conn:
        q = select(peer_messages).where(peer_messages.c.state == PENDING).order_by(peer_messages.c.id).limit(2000)
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        first: dict[int, object] = {}
        for row in conn.execute(q):
            first.setdefault(row.request_id, row)
        rows = [r for r in first.values() if not due_only or r.next_attempt_at <= at][:limit]
        if rows:
            conn.execute(update(peer_messages).where(peer_messages.c.id.in_([r.id for r in rows]))
                         .values(next_attempt_at=_db(now + timedelta(seconds=LEASE_SECONDS))))
    return [Letter(r.id, r.peer, r.request_id, r.kind, r.what, r.body.encode("utf-8"), r.attempts) for r in rows]


def mark_sent(store: Store, message_id: int, now: datetime, answer: bytes) -> None:
    with store._tx() as conn:
        conn.execute(update(peer_messages).where(peer_messages.c.id == message_id).values(
            state=SENT, sent_at=_db(now), attempts=peer_messages.c.attempts + 1, last_error="",
            answer=answer.decode("utf-8", "replace")[:20000]))


def mark_failed(store: Store, message_id: int, why: str, retry_at: datetime | None, answer: bytes = b"") -> None:
    """A try that did not work: wait until `retry_at`, or (None: the peer refused it) give it up."""
    values = dict(attempts=peer_messages.c.attempts + 1, last_error=why[:1000])
    if retry_at is None:
        values.update(state=FAILED, answer=answer.decode("utf-8", "replace")[:20000])
    else:
        values["next_attempt_at"] = _db(retry_at)
    with store._tx() as conn:
        conn.execute(update(peer_messages).where(peer_messages.c.id == message_id).values(**values))


def listing(store: Store, *, state: str | None = None, peer: str | None = None, request_id: int | None = None,
            limit: int = 200) -> list[dict]:
    """The outbox for operators, newest first (without the bodies)."""
    cols = [c for c in peer_messages.c if c.name not in ("body", "answer")]
    q = select(*cols)
    if state:
        q = q.where(peer_messages.c.state == state)
    if peer:
        q = q.where(peer_messages.c.peer == peer.upper())
    if request_id is not None:
        q = q.where(peer_messages.c.request_id == request_id)
    with store.read() as conn:
        return [{k: (v.replace(tzinfo=UTC) if isinstance(v, datetime) else v) for k, v in r._mapping.items()}
                for r in conn.execute(q.order_by(peer_messages.c.id.desc()).limit(limit))]


def bodies(store: Store, request_id: int) -> list[tuple[str, bytes]]:
    """(kind, body) of a request's messages to peers, oldest first (tests, `balis peers list --request`)."""
    with store.read() as conn:
        return [(r.kind, r.body.encode("utf-8")) for r in conn.execute(
            select(peer_messages.c.kind, peer_messages.c.body).where(peer_messages.c.request_id == request_id)
            .order_by(peer_messages.c.id))]


def counts(store: Store) -> dict[str, int]:
    with store.read() as conn:
        got = dict(conn.execute(select(peer_messages.c.state, func.count()).group_by(peer_messages.c.state)).all())
    return {s: got.get(s, 0) for s in STATES}
