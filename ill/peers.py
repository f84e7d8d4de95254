"""balis as an ISO 18626 peer of other ILL networks (CALIS, TALIS, the National Library, ReShare nodes).

`receive` takes one message a peer posted and gives the confirmation to answer with: it reads the message
(ill/isomessages.py), finds the peer by the sending agency and checks its shared secret, and applies the message
through the store and the workflow (ill/machine.py decides; a peer acts only on its own requests, on its side).
Every message applied is recorded by its key (sending agency, request id, timestamp, type, what it says) in the
transaction of its change, so the same message again gets the same confirmation and changes nothing; a status
that cannot follow the request's state (out of order) is refused with UnrecognisedDataValue and changes nothing.

`deliver` posts the outbox (ill/peer_outbox.py) through a transport it is given (services/peers.py: HTTP), so
this module does no network I/O of its own. docs/iso18626.md.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError

from ill import isomessages as im
from ill import machine as m
from ill import peer_outbox
from ill.errors import IllError, NotFound, Refused
from ill.mail import backoff
from ill.workdays import local_date
from members import CredentialsError, Peer, Registry

log = logging.getLogger(__name__)

AUTH_HEADER = "Authorization"  # Authorization: Bearer <the peer's shared secret>
STATUS_ACTIONS = {m.EXPECT_TO_SUPPLY: m.EXPECT, m.WILL_SUPPLY: m.WILL, m.LOANED: m.SHIP, m.COPY_COMPLETED: m.SHIP,
                  m.UNFILLED: m.ANSWER_UNFILLED, m.RETRY_POSSIBLE: m.ANSWER_RETRY, m.LOAN_COMPLETED: m.CHECK_IN,
                  m.RECALLED: m.RECALL}
REQUESTER_ACTIONS = {"Received": m.RECEIVED, "ShippedReturn": m.SHIPPED_RETURN, "Cancel": m.CANCEL,
                     "Notification": m.NOTIFY}
NO_REASON = "对方未说明原因 (the peer gave no reason)"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the endpoint answers: the HTTP status and the confirmation (an ISO18626Message)."""

    status: int
    body: bytes
    applied: bool = False
    error: str = ""


def secret_of(header: str | None) -> str:
    """The secret from an `Authorization: Bearer …` header ("" when there is none)."""
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return ""


def receive(store, registry: Registry, document: bytes, secret: str, now: datetime | None = None) -> Answer:
    """Apply one message a peer posted, and the confirmation to answer with (see the module)."""
    now = (now or store.clock()).astimezone(UTC)
    try:
        msg = im.read(document)
    except im.Refusal as refusal:
        return Answer(refusal.http_status, im.confirmation(None, im.kind_of(document), now, refusal),
                      error=str(refusal))
    try:
        if msg.kind not in im.CONFIRMATION_OF:
            raise im.Refusal(im.BADLY_FORMED, f"{msg.kind} answers a message over the same connection; it is not "
                                              f"posted on its own")
        peer, sender = _authenticate(registry, msg, secret)
        key = _key(msg, sender)
        done = store.receipt(key)
        if done is not None:
            return Answer(200, done.encode("utf-8"))
        ok = im.confirmation(msg, msg.kind, now)
        receipt = {"key": key, "peer": peer.code, "kind": msg.kind, "confirmation": ok.decode("utf-8")}
        handler = {"request": _request, "supplyingAgencyMessage": _supplying,
                   "requestingAgencyMessage": _requesting}[msg.kind]
        try:
            handler(store, registry, msg, peer, sender, receipt, now)
        except IntegrityError:  # the same message, applied meanwhile by another worker
            done = store.receipt(key)
            if done is None:
                raise
            return Answer(200, done.encode("utf-8"))
        return Answer(200, ok, applied=True)
    except im.Refusal as refusal:
        log.info("ISO 18626 %s refused: %s", msg.kind, refusal)
        return Answer(refusal.http_status, im.confirmation(msg, msg.kind, now, refusal), error=str(refusal))


def _authenticate(registry: Registry, msg: im.Message, secret: str) -> tuple[Peer, str]:
    side = "supplying" if msg.kind == "supplyingAgencyMessage" else "requesting"
    sender = msg.agency(side)
    peer = registry.peer_for_agency(sender) if sender else None
    if peer is None or not peer.active:
        raise im.Refusal(im.UNRECOGNISED_VALUE, f"{side}AgencyId {sender}: not an ILL network BALIS exchanges "
                                                f"requests with (ask the BALIS centre to add it as a peer)", 401)
    try:
        expected = peer.secret()
    except CredentialsError as exc:
        log.error("peer %s: %s", peer.code, exc)
        raise im.Refusal(im.UNRECOGNISED_VALUE, f"{side}AgencyId {sender}: BALIS cannot check this peer's "
                                                f"credentials now; try again later", 503) from None
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise im.Refusal(im.UNRECOGNISED_VALUE, f"{side}AgencyId {sender}: not authenticated (send the shared "
                                                f"secret as Authorization: Bearer …)", 401)
    return peer, sender


def _key(msg: im.Message, sender: str) -> str:
    h = msg.header
    what = msg.text("statusInfo/status") or msg.text("action") or msg.text("serviceInfo/requestType") or ""
    why = msg.text("messageInfo/reasonForMessage") or ""
    return "|".join((sender, h["requestingAgencyRequestId"] or "", h["timestamp"] or "", msg.kind, why, what))[:400]


def _refused(what: str, exc: IllError) -> im.Refusal:
    return im.Refusal(im.UNRECOGNISED_VALUE, f"{what}: {exc}")


# ---- a request from a peer, to one of our lenders ------------------------------------------------------------

def _request(store, registry: Registry, msg: im.Message, peer: Peer, sender: str, receipt: dict,
             now: datetime) -> None:
    their_id = msg.header["requestingAgencyRequestId"]
    supplier = msg.agency("supplying")
    lender = registry.member_for_agency(supplier or "")
    if lender is None:
        raise im.Refusal(im.UNRECOGNISED_VALUE, f"supplyingAgencyId {supplier}: no BALIS library has this agency id")
    kind_text = msg.text("serviceInfo/serviceType") or "Loan"
    kinds = {"Loan": m.LOAN, "CopyOrLoan": m.LOAN, "Copy": m.COPY}
    if kind_text not in kinds:
        raise im.Refusal(im.UNRECOGNISED_VALUE, f"serviceType {kind_text}: BALIS lenders take Loan or Copy")
    if not peer.takes(kinds[kind_text]):
        raise im.Refusal(im.UNRECOGNISED_VALUE, f"serviceType {kind_text}: not agreed with {peer.code}")
    if store.peer_request(peer.code, their_id) is not None:
        raise im.Refusal(im.UNRECOGNISED_VALUE, f"requestingAgencyRequestId {their_id}: a request with this id "
                                                f"was received already")
    title = msg.text("bibliographicInfo/title") or ""
    record = msg.text("bibliographicInfo/supplierUniqueRecordId")
    parts = [x for x in (title, msg.text("bibliographicInfo/author"), msg.text("bibliographicInfo/edition"),
                         msg.text("bibliographicInfo/titleOfComponent"), msg.text("bibliographicInfo/pagesRequested"),
                         msg.text("publicationInfo/publisher"), msg.text("publicationInfo/publicationDate"),
                         f"record {record}" if record else None, msg.text("serviceInfo/note")) if x]
    if not parts:
        raise im.Refusal(im.UNRECOGNISED_ELEMENT, "bibliographicInfo: no title and no supplierUniqueRecordId; "
                                                  "the lender cannot find what is asked for")
    isbn = next((item.findtext(im.q("bibliographicItemIdentifier")) or "" for item in
                 msg.findall("bibliographicInfo/bibliographicItemId")
                 if (item.findtext(im.q("bibliographicItemIdentifierCode")) or "").upper() == "ISBN"), "")
    need = im.when(msg.text("serviceInfo/needBeforeDate"))
    values = dict(lender=lender.code, kind=kinds[kind_text], title=title or f"record {record}",
                  author=msg.text("bibliographicInfo/author") or "", citation="; ".join(parts), isbn=isbn,
                  year=msg.text("publicationInfo/publicationDate") or "",
                  need_before=local_date(need) if need and need.year > 1900 else None,
                  patron=msg.text("patronInfo/patronId") or their_id, peer_request_id=their_id, peer_agency=sender)
    if kinds[kind_text] == m.COPY:  # the article or chapter as a structured citation, and how to deliver it
        values.update(citation_data=im.copy_citation(msg.element) or None, copy_method=im.copy_method_of(msg.element),
                      pages=im.copy_pages(msg.element),
                      title=msg.text("bibliographicInfo/titleOfComponent") or values["title"],
                      author=msg.text("bibliographicInfo/authorOfComponent") or values["author"])
    try:
        store.receive_request(peer.code, values, receipt=receipt, now=now)
    except IllError as exc:
        raise _refused(f"supplyingAgencyId {supplier}", exc) from None


# ---- a peer supplying our request ----------------------------------------------------------------------------

def _ours(store, msg: im.Message, peer: Peer) -> dict:
    rid = peer_outbox.our_id(msg.header["requestingAgencyRequestId"])
    try:
        req = store.get(rid) if rid is not None else None
    except NotFound:
        req = None
    if req is None or not m.roles_of({"role": "peer", "member": peer.code}, req):
        raise im.Refusal(im.UNRECOGNISED_VALUE, f"requestingAgencyRequestId {msg.header['requestingAgencyRequestId']}: "
                                                f"no request of BALIS at {peer.code} has this id")
    return req


def _supplying(store, registry: Registry, msg: im.Message, peer: Peer, sender: str, receipt: dict,
               now: datetime) -> None:
    req = _ours(store, msg, peer)
    if req["lender"] != peer.code:
        raise im.Refusal(im.UNRECOGNISED_VALUE, f"requestingAgencyRequestId {msg.header['requestingAgencyRequestId']}:"
                                                f" the request is not at {peer.code}")
    status = msg.text("statusInfo/status")
    why = msg.text("messageInfo/reasonForMessage")
    note = msg.text("messageInfo/note") or ""
    action = STATUS_ACTIONS.get(status)
    if action is None and status not in (m.REQUEST_RECEIVED, m.OVERDUE, m.CANCELLED):
        raise im.Refusal(im.UNRECOGNISED_VALUE, f"status {status}: not a status BALIS follows from a supplier")
    if action is None or status == req["status"] or why == "CancelResponse":
        if why == "Notification" and note and m.is_open(req["status"]):
            _act(store, req, m.NOTIFY, peer, note, receipt, now, msg, sender)
        else:  # nothing changes: a status we have, or one only the supplier keeps
            store.note_receipt(receipt, req["id"], now)
        return
    reason = note
    if action == m.ANSWER_UNFILLED or action == m.ANSWER_RETRY:
        reason = "; ".join(x for x in (msg.text("messageInfo/reasonUnfilled") or msg.text("messageInfo/reasonRetry"),
                                       note) if x) or NO_REASON
    _act(store, req, action, peer, reason, receipt, now, msg, sender)


def _act(store, req: dict, action: str, peer: Peer, reason: str, receipt: dict, now: datetime, msg: im.Message,
         sender: str) -> None:
    try:
        store.peer_act(req["id"], action, peer.code, reason=reason, receipt=receipt, now=now,
                       peer_request_id=msg.header["supplyingAgencyRequestId"] if msg.kind == "supplyingAgencyMessage"
                       else None, peer_agency=sender)
    except Refused as exc:
        what = (f"status {msg.text('statusInfo/status')}" if msg.kind == "supplyingAgencyMessage"
                else f"action {msg.text('action')}")
        raise _refused(f"{what} (request is {req['status']}{'/' + req['phase'] if req['phase'] else ''})",
                       exc) from None
    except IllError as exc:
        raise _refused(msg.kind, exc) from None


# ---- a peer requesting from one of our lenders ---------------------------------------------------------------

def _requesting(store, registry: Registry, msg: im.Message, peer: Peer, sender: str, receipt: dict,
                now: datetime) -> None:
    their_id = msg.header["requestingAgencyRequestId"]
    req = store.peer_request(peer.code, their_id)
    if req is None:
        raise im.Refusal(im.UNRECOGNISED_VALUE, f"requestingAgencyRequestId {their_id}: no request from "
                                                f"{peer.code} has this id")
    action_text = msg.text("action")
    if action_text == "Renew":
        raise im.Refusal(im.UNSUPPORTED_ACTION, "Renew: BALIS loans are not renewed (借期一个月，不续借)")
    if action_text == "StatusRequest":  # answered with the request's status, through the outbox
        store.note_receipt(receipt, req["id"], now,
                           [peer_outbox.answer(registry, req, "StatusRequestResponse", now)])
        return
    action = REQUESTER_ACTIONS.get(action_text)
    if action is None:
        raise im.Refusal(im.UNSUPPORTED_ACTION, f"{action_text}: BALIS lenders take Received, ShippedReturn, Cancel, "
                                                f"Notification and StatusRequest")
    if action == m.CANCEL:
        v = m.verdict(req, {"id": f"peer:{peer.code}", "role": "peer", "member": peer.code}, now, m.CANCEL)
        if v.code == "answered":  # the lender answered already: it keeps the request (CancelResponse N)
            store.note_receipt(receipt, req["id"], now, [peer_outbox.answer(
                registry, req, "CancelResponse", now, note=f"{req['lender']} 已答复，不能取消 (the lender answered)")])
            return
    _act(store, req, action, peer, msg.text("note") or ("" if action != m.NOTIFY else NO_REASON), receipt, now,
         msg, sender)


# ---- sending the outbox ------------------------------------------------------------------------------------

class PeerUnreachable(Exception):
    """The peer could not be reached or did not answer with a confirmation (the transport raises it)."""


Post = Callable[[str, bytes, dict[str, str]], Awaitable[tuple[int, bytes]]]


@dataclass
class Report:
    sent: int = 0
    failed: int = 0  # refused by the peer (ERROR): not sent again
    waiting: int = 0  # the peer could not be reached: tried again later
    errors: list[str] = field(default_factory=list)


async def deliver(store, registry: Registry, post: Post, *, now: datetime | None = None,
                  due_only: bool = True) -> Report:
    """Post the messages due (the oldest of each request), mark each sent, failed, or waiting (with back-off).
    `due_only` False: every waiting request's next message now (`balis peers send --now`, a peer back up)."""
    import asyncio

    report = Report()
    while True:
        moment = (now or store.clock()).astimezone(UTC)
        letters = await asyncio.to_thread(peer_outbox.claim, store, moment, due_only=due_only)
        if not letters:
            return report
        progress = 0
        for letter in letters:
            outcome = await _post_one(store, registry, post, letter, moment)
            if outcome == "sent":
                report.sent += 1
                progress += 1
            elif outcome == "failed":
                report.failed += 1
                progress += 1
            else:
                report.waiting += 1
                report.errors.append(outcome)
        if not progress or not due_only and report.waiting:
            return report


async def _post_one(store, registry: Registry, post: Post, letter: peer_outbox.Letter, now: datetime) -> str:
    import asyncio

    peer = registry.peer(letter.peer)

    def wait(why: str) -> str:
        store_retry = now + backoff(letter.attempts + 1)
        peer_outbox.mark_failed(store, letter.id, why, store_retry)
        return f"{letter.peer}: {why}"

    if peer is None or not peer.active:
        return await asyncio.to_thread(wait, "not an active peer in the registry")
    try:
        secret = peer.secret()
    except CredentialsError as exc:
        return await asyncio.to_thread(wait, str(exc))
    try:
        status, body = await post(peer.endpoint, letter.body, {AUTH_HEADER: f"Bearer {secret}",
                                                               "Content-Type": "application/xml; charset=utf-8"})
    except PeerUnreachable as exc:
        return await asyncio.to_thread(wait, str(exc))
    try:
        answer = im.read(body)
    except im.Refusal:
        return await asyncio.to_thread(wait, f"HTTP {status}: the answer is not an ISO 18626 confirmation")
    state = answer.text("confirmationHeader/messageStatus")
    if state == "OK":
        await asyncio.to_thread(peer_outbox.mark_sent, store, letter.id, now, body)
        return "sent"
    error = f"{answer.text('errorData/errorType')}: {answer.text('errorData/errorValue')}"
    if status in (401, 503) or status >= 500:  # our secret or their side: try again later
        return await asyncio.to_thread(wait, f"HTTP {status} {error}")
    await asyncio.to_thread(peer_outbox.mark_failed, store, letter.id, error, None, body)
    log.warning("peer %s refused %s %s of request %d: %s", letter.peer, letter.kind, letter.what, letter.request_id,
                error)
    return "failed"
