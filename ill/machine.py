"""The ILL workflow in one place: the transition table in the ISO 18626 vocabulary, with who may take each
transition, its guards and what it needs, and `explain`, the one answer to "who may do what now, and why not".

A request's state is its supplier status (ISO 18626 `type_status`) plus, for a returnable loan, the
phase of the book's journey on the borrowing side (the requester actions Received and ShippedReturn move
it). `Pending` is the one state outside ISO 18626: a manual citation waiting for staff to route it.
The store (ill/store.py) enforces `verdict` in the transaction of a change and applies only its effects;
the desk, the reader pages, the JSON API and `balis request` show what `explain` says and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ill.errors import InvalidRequest, InvalidTransition, NotAllowed, Refused, RuleViolation
from ill.workdays import BEIJING

# ISO 18626 supplier statuses
PENDING = "Pending"  # not ISO 18626: a manual citation (手工填写) waiting for staff
REQUEST_RECEIVED = "RequestReceived"
EXPECT_TO_SUPPLY = "ExpectToSupply"
WILL_SUPPLY = "WillSupply"
LOANED = "Loaned"
OVERDUE = "Overdue"
RECALLED = "Recalled"
RETRY_POSSIBLE = "RetryPossible"
UNFILLED = "Unfilled"
COPY_COMPLETED = "CopyCompleted"
LOAN_COMPLETED = "LoanCompleted"
COMPLETED_WITHOUT_RETURN = "CompletedWithoutReturn"
CANCELLED = "Cancelled"

ISO_STATUSES = (REQUEST_RECEIVED, EXPECT_TO_SUPPLY, WILL_SUPPLY, LOANED, OVERDUE, RECALLED, RETRY_POSSIBLE,
                UNFILLED, COPY_COMPLETED, LOAN_COMPLETED, COMPLETED_WITHOUT_RETURN, CANCELLED)
FINAL = frozenset({UNFILLED, COPY_COMPLETED, LOAN_COMPLETED, COMPLETED_WITHOUT_RETURN, CANCELLED})
OPEN = frozenset({PENDING, *ISO_STATUSES}) - FINAL

# Phases of a returnable loan on the borrowing side ("" before shipping and after completion)
NONE, TRANSIT, LIBRARY, READER, RETURNED, RETURN_TRANSIT = "", "transit", "library", "reader", "returned", \
    "return_transit"
PHASES = (NONE, TRANSIT, LIBRARY, READER, RETURNED, RETURN_TRANSIT)

LOAN, COPY = "loan", "copy"  # returnable loan (馆际互借), non-returnable copy (原文传递)
KINDS = (LOAN, COPY)

# Who acts: the reader who asked, staff of the borrowing library, staff of the current lender, the
# centre's administrators, the system clock (deadlines).
READER_, BORROWER, LENDER, ADMIN, SYSTEM = "reader", "borrower", "lender", "admin", "system"
# Another ILL network (an ISO 18626 peer, docs/iso18626.md) acting through its messages: as the supplier of our
# request (its supplyingAgencyMessages), or as the requester of a request at one of our lenders (its
# requestingAgencyMessages). A peer takes only the side it has on that request.
PEER_SUPPLIER, PEER_REQUESTER = "peer_supplier", "peer_requester"

# Actions a person can take; ISO 18626 names where the standard has one.
ROUTE = "route"                    # staff route a manual citation (to the rota they give)
CANCEL = "Cancel"                  # requester action Cancel
EXPECT = "ExpectToSupply"          # supplier answers
WILL = "WillSupply"
ANSWER_UNFILLED = "Unfilled"
ANSWER_RETRY = "RetryPossible"
SHIP = "ship"                      # supplier ships: Loaned (loan) or CopyCompleted (copy)
RECEIVED = "Received"              # requester action Received
LEND = "lend"                      # borrowing library lends the book to its reader
TAKE_BACK = "take_back"            # the reader brings it back to the borrowing library
SHIPPED_RETURN = "ShippedReturn"   # requester action ShippedReturn
CHECK_IN = "check_in"              # the lender has the book back: LoanCompleted
RECALL = "Recalled"                # the lender recalls the book
MARK_OVERDUE = "Overdue"           # the clock: the loan period is over
REPORT_LOST = "report_lost"        # violation: lost (in transit or by the reader)
REPORT_DAMAGED = "report_damaged"  # violation: damaged
NOTIFY = "Notification"            # a message on the request; the state does not change
TIMEOUT = "timeout"                # the clock: the lender did not answer or ship in time
NEED_BEFORE = "need_before_passed"  # the clock: the reader's need-before date passed with nothing shipped
ROLLBACK = "rollback"              # administrators undo the last change, with a reason
IMPORT = "import"                  # administrators take over a request another system had (ISO 18626 files)
FORWARD_PEER = "forward_to_peer"   # the borrowing library sends the request to another ILL network (a peer)


CANCEL_WINDOW = timedelta(hours=1)  # a reader may cancel within 1 hour of submitting
MAX_OPEN_LOANS = 3  # a reader has at most 3 books out through ILL


def over_loan_limit(kind: str, open_loans: int) -> bool:
    """The 3-books rule: a new returnable loan is refused while the reader has MAX_OPEN_LOANS open ones."""
    return kind == LOAN and open_loans >= MAX_OPEN_LOANS


@dataclass(frozen=True, slots=True)
class Guard:
    """A condition a transition needs beyond its state, for some of its actors (e.g. the reader's hour).

    `passes(request, now)` is pure over the request's values; `why(request, now)` says in Chinese why not.
    """

    code: str
    actors: frozenset[str]
    passes: Callable[[dict, datetime], bool]
    why: Callable[[dict, datetime], str]


def _beijing(moment: datetime | None) -> str:
    return "" if moment is None else _aware(moment).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def at_peer(request: dict) -> bool:
    """Whether the request is at a peer (another ILL network) now: its lender's rota entry says so."""
    return any(e.get("peer") and e.get("member") == request.get("lender") for e in request.get("rota") or ())


NOT_AT_PEER = Guard(
    "at_peer", frozenset({BORROWER}),
    lambda r, now: not at_peer(r),
    lambda r, now: f"申请单 {r['id']}: 已在 {r.get('lender')} 处理中，请先取消 (the request is at the ILL network "
                   f"{r.get('lender')} already; cancel it there first)")

READER_WINDOW = Guard(
    "expired", frozenset({READER_}),
    lambda r, now: now - _aware(r["submitted_at"]) <= CANCEL_WINDOW,
    lambda r, now: f"申请单 {r['id']}: 提交于 {_beijing(r['submitted_at'])}，已超过 1 小时，读者不能再取消，"
                   f"请联系本馆馆际互借馆员 (readers may cancel only within 1 hour of submitting)")


# Copy delivery methods that hand the reader the scan itself (ill/copyrules.py): the supplier ships such a copy
# by uploading the scan (Store.deliver_copy), not by the plain 'ship' action; "post" and "" (the supplier sends it
# to the borrowing library) are shipped as before.
SCANNED = frozenset({"download", "email"})

NEEDS_SCAN = Guard(
    "needs_scan", frozenset({LENDER}),
    lambda r, now: r["kind"] != COPY or r.get("copy_method") not in SCANNED or bool(r.get("scan")),
    lambda r, now: f"申请单 {r['id']}: 读者要求电子传递，请在申请单页面上传扫描件 PDF 完成传递 (the reader asked for the "
                   f"scan by {r.get('copy_method')}: upload the PDF on the request page to deliver it)")


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table: `action` moves (status, phase) to (to_status, to_phase) for `actors`.

    Requirements: `reason` ("required", "optional" or ""), `price` (the book's price may be given),
    `rota` (the lenders to send it to); `guards` bind some actors beyond the state.
    """

    action: str
    status: str
    phase: str
    to_status: str
    to_phase: str
    actors: frozenset[str]
    kinds: frozenset[str] = frozenset(KINDS)
    reason: str = ""
    price: bool = False
    rota: bool = False
    guards: tuple[Guard, ...] = ()


def _rows() -> list[Transition]:
    rows: list[Transition] = []

    def add(action, froms, to_status, to_phase, actors, kinds=KINDS, **needs):
        for status, phase in froms:
            rows.append(Transition(action, status, phase,
                                   status if to_status is None else to_status,
                                   phase if to_phase is None else to_phase,
                                   frozenset(actors), frozenset(kinds), **needs))

    add(ROUTE, [(PENDING, NONE)], REQUEST_RECEIVED, NONE, {BORROWER}, rota=True)
    # only before the current lender answered (Pending, RequestReceived: also after a forward); the reader
    # within the hour, the borrowing library's staff at any time before that answer
    add(CANCEL, [(PENDING, NONE), (REQUEST_RECEIVED, NONE)], CANCELLED, NONE, {READER_, BORROWER, PEER_REQUESTER},
        reason="optional", guards=(READER_WINDOW,))
    # staff of the borrowing library send a request no BALIS lender has answered to a peer (docs/iso18626.md)
    add(FORWARD_PEER, [(PENDING, NONE), (REQUEST_RECEIVED, NONE)], REQUEST_RECEIVED, NONE, {BORROWER},
        reason="optional", guards=(NOT_AT_PEER,))
    add(EXPECT, [(REQUEST_RECEIVED, NONE)], EXPECT_TO_SUPPLY, NONE, {LENDER, PEER_SUPPLIER})
    add(WILL, [(REQUEST_RECEIVED, NONE), (EXPECT_TO_SUPPLY, NONE)], WILL_SUPPLY, NONE, {LENDER, PEER_SUPPLIER})
    add(ANSWER_UNFILLED, [(REQUEST_RECEIVED, NONE), (EXPECT_TO_SUPPLY, NONE), (WILL_SUPPLY, NONE)],
        UNFILLED, NONE, {LENDER, PEER_SUPPLIER}, reason="required")
    add(ANSWER_RETRY, [(REQUEST_RECEIVED, NONE), (EXPECT_TO_SUPPLY, NONE)], RETRY_POSSIBLE, NONE, {LENDER, PEER_SUPPLIER},
        reason="required")
    add(TIMEOUT, [(REQUEST_RECEIVED, NONE), (EXPECT_TO_SUPPLY, NONE), (WILL_SUPPLY, NONE)],
        UNFILLED, NONE, {SYSTEM})
    add(NEED_BEFORE, [(PENDING, NONE), (REQUEST_RECEIVED, NONE), (EXPECT_TO_SUPPLY, NONE), (WILL_SUPPLY, NONE)],
        UNFILLED, NONE, {SYSTEM})
    add(SHIP, [(EXPECT_TO_SUPPLY, NONE), (WILL_SUPPLY, NONE)], LOANED, TRANSIT, {LENDER, PEER_SUPPLIER}, {LOAN})
    add(SHIP, [(EXPECT_TO_SUPPLY, NONE), (WILL_SUPPLY, NONE)], COPY_COMPLETED, NONE, {LENDER, PEER_SUPPLIER}, {COPY},
        guards=(NEEDS_SCAN,))
    add(RECEIVED, [(LOANED, TRANSIT), (RECALLED, TRANSIT)], None, LIBRARY, {BORROWER, PEER_REQUESTER}, {LOAN})
    add(LEND, [(LOANED, LIBRARY)], None, READER, {BORROWER}, {LOAN})
    add(TAKE_BACK, [(LOANED, READER), (OVERDUE, READER), (RECALLED, READER)], None, RETURNED, {BORROWER}, {LOAN})
    add(SHIPPED_RETURN, [(s, p) for s in (LOANED, OVERDUE, RECALLED) for p in (LIBRARY, RETURNED)],
        None, RETURN_TRANSIT, {BORROWER, PEER_REQUESTER}, {LOAN})
    add(CHECK_IN, [(s, RETURN_TRANSIT) for s in (LOANED, OVERDUE, RECALLED)], LOAN_COMPLETED, NONE,
        {LENDER, PEER_SUPPLIER}, {LOAN})
    add(RECALL, [(LOANED, TRANSIT), (LOANED, LIBRARY), (LOANED, READER), (OVERDUE, READER)],
        RECALLED, None, {LENDER, PEER_SUPPLIER}, {LOAN}, reason="optional")
    add(MARK_OVERDUE, [(LOANED, READER)], OVERDUE, READER, {SYSTEM}, {LOAN})
    add(REPORT_LOST, [(s, p) for s in (LOANED, OVERDUE, RECALLED) for p in PHASES if p],
        COMPLETED_WITHOUT_RETURN, NONE, {BORROWER, LENDER}, {LOAN}, reason="optional", price=True)
    add(REPORT_DAMAGED, [(s, p) for s in (LOANED, OVERDUE, RECALLED) for p in (RETURNED, RETURN_TRANSIT)],
        None, None, {BORROWER, LENDER}, {LOAN}, reason="optional", price=True)
    add(NOTIFY, [(s, p) for s in OPEN for p in PHASES], None, None,
        {READER_, BORROWER, LENDER, ADMIN, PEER_SUPPLIER, PEER_REQUESTER},
        reason="required")
    return rows


TRANSITIONS: tuple[Transition, ...] = tuple(_rows())
_INDEX: dict[tuple[str, str, str, str], Transition] = {}
for _t in TRANSITIONS:
    for _k in _t.kinds:
        _INDEX[(_t.action, _t.status, _t.phase, _k)] = _t

# Actions asked for on their own page or command only where the registry offers them (forwarding to a peer: the
# desk's "forward to another network" block, Store.forward_to_peer); not among the actions every page lists.
OPTIONAL_ACTIONS = frozenset({FORWARD_PEER})
ACTIONS = tuple(dict.fromkeys(t.action for t in TRANSITIONS if t.action not in OPTIONAL_ACTIONS)) + (ROLLBACK,)
# Actions only the clock takes; people cannot ask for them.
SYSTEM_ACTIONS = frozenset({TIMEOUT, MARK_OVERDUE, NEED_BEFORE})


def find(action: str, status: str, phase: str, kind: str) -> Transition | None:
    """The table row for this action in this state, or None if the action is not possible."""
    return _INDEX.get((action, status, phase, kind))


def allowed_actions(status: str, phase: str, kind: str, actor: str | None = None) -> list[str]:
    """Actions possible now (for `actor` if given), in table order, without the clock's own."""
    out: list[str] = []
    for t in TRANSITIONS:
        if (t.status, t.phase) == (status, phase) and kind in t.kinds and t.action not in SYSTEM_ACTIONS \
                and t.action not in OPTIONAL_ACTIONS and (actor is None or actor in t.actors) and t.action not in out:
            out.append(t.action)
    return out


def is_open(status: str) -> bool:
    return status not in FINAL


# ---- who may do what now: the one answer the store, the portal and the command line all ask ----------

# Every action a person can ask for, in the order pages and the command line list them.
PERSON_ACTIONS = tuple(a for a in ACTIONS if a not in SYSTEM_ACTIONS)


def requirements(action: str) -> Transition | None:
    """A row of `action` (its reason, price and rota needs are the same in every state), or None."""
    return next((t for t in TRANSITIONS if t.action == action), None)


def reason_rule(action: str) -> str:
    """"required", "optional" or "" (no reason field) for `action`."""
    if action == ROLLBACK:
        return "required"
    t = requirements(action)
    return t.reason if t else ""


ROLE_WORDS = {LENDER: "借出馆馆员", BORROWER: "借入馆（读者所在馆）馆员", READER_: "提出申请的读者",
              ADMIN: "中心管理员"}


def roles_of(actor: dict, request: dict) -> frozenset[str]:
    """The sides `actor` (a user: id, role, member) takes on `request`: reader, borrower, lender, admin."""
    if actor.get("role") == "admin":
        return frozenset({ADMIN})
    if actor.get("role") == "reader":
        return frozenset({READER_}) if actor.get("id") == request["reader_id"] else frozenset()
    member = actor.get("member")
    if actor.get("role") == "peer":  # an ISO 18626 peer: only on its own requests, only on its side
        return frozenset({PEER_SUPPLIER} if member and member == request.get("lender") else
                         {PEER_REQUESTER} if member and member == request.get("borrower") else set())
    out = set()
    if member and member == request.get("lender"):
        out.add(LENDER)
    if member and member == request.get("borrower"):
        out.add(BORROWER)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Verdict:
    """May `action` be taken now? `code` is stable ("ok", "closed", "not_now", "answered", "expired",
    "not_yours", "nothing_to_undo"); `reason` says it in Chinese; `role` is the side acting when allowed."""

    action: str
    allowed: bool
    code: str
    reason: str = ""
    role: str | None = None
    transition: Transition | None = None

    def error(self, request: dict) -> Refused:
        """The exception the store raises for this refusal."""
        if self.code in ("closed", "not_now", "answered"):
            exc: Refused = InvalidTransition(request["id"], self.action, request["status"], request["phase"],
                                             allowed_actions(request["status"], request["phase"], request["kind"]))
            if self.code == "answered":
                exc.args = (f"{exc.args[0]}; {self.reason}",)
        elif self.code == "not_yours":
            exc = NotAllowed(self.reason)
        else:
            exc = RuleViolation(self.reason)
        exc.code = self.code
        return exc


def _me(actor: dict) -> str:
    return f"{actor.get('role')} {actor.get('id')}" + (f" of {actor['member']}" if actor.get("member") else "")


def _not_yours(request: dict, actor: dict, action: str) -> Verdict:
    actors = set().union(*(t.actors for t in TRANSITIONS if t.action == action)) - {SYSTEM}
    who = {LENDER: f"staff of the lender ({request.get('lender') or 'none yet'})",
           BORROWER: f"staff of the borrowing library ({request['borrower']})",
           READER_: "the reader who asked", ADMIN: "centre administrators"}
    words = "、".join(ROLE_WORDS[a] for a in (READER_, BORROWER, LENDER, ADMIN) if a in actors)
    return Verdict(action, False, "not_yours",
                   f"申请单 {request.get('id')}: 此操作只能由{words}执行 ({_me(actor)} may not '{action}'; it is for "
                   f"{' or '.join(who[a] for a in (READER_, BORROWER, LENDER, ADMIN) if a in actors)})")


def import_verdict(actor: dict) -> Verdict:
    """May `actor` (a user: id, role, member) import requests from another system's ISO 18626 messages?
    Only centre administrators: an import creates a request in any library's name."""
    if actor.get("role") == "admin":
        return Verdict(IMPORT, True, "ok", role=ADMIN)
    return Verdict(IMPORT, False, "not_yours", f"只有中心管理员可以导入申请 (only centre administrators import "
                                               f"requests; {_me(actor)} may not)")


def verdict(request: dict, actor: dict, now: datetime, action: str, *, undoable: bool = True) -> Verdict:
    """The workflow's answer for one action (see `explain`)."""
    rid, status = request.get("id"), request["status"]
    roles = roles_of(actor, request)
    if action == ROLLBACK:
        if ADMIN not in roles:
            return Verdict(action, False, "not_yours", f"申请单 {rid}: 只有中心管理员可以撤销 (only centre "
                                                        f"administrators roll back a change; {_me(actor)} may not)")
        if not undoable:
            return Verdict(action, False, "nothing_to_undo",
                           f"申请单 {rid}: 没有可撤销的操作 (nothing to roll back: only the submission is recorded)")
        return Verdict(action, True, "ok", role=ADMIN)
    if action not in PERSON_ACTIONS and action not in OPTIONAL_ACTIONS:
        raise InvalidRequest(f"unknown action {action!r}; actions: {', '.join(PERSON_ACTIONS)}")
    if not roles:
        return _not_yours(request, actor, action)
    t = find(action, status, request["phase"], request["kind"])
    if t is None:
        if not is_open(status):
            return Verdict(action, False, "closed", f"申请单 {rid}: 已结束 ({status})，不能再执行 '{action}'")
        if action == CANCEL and status != PENDING:
            return Verdict(action, False, "answered",
                           f"借出馆 {request.get('lender') or ''} 已答复，不能再取消 "
                           f"(the lender answered: a request can be cancelled only before the current lender answers)")
        where = f"{status}/{request['phase']}" if request["phase"] else status
        return Verdict(action, False, "not_now", f"申请单 {rid}: 当前状态 {where} 不能执行 '{action}'")
    acting = next((r for r in (LENDER, BORROWER, READER_, ADMIN, PEER_SUPPLIER, PEER_REQUESTER)
                   if r in roles and r in t.actors), None)
    if acting is None:
        return _not_yours(request, actor, action)
    for guard in t.guards:
        if acting in guard.actors and not guard.passes(request, now):
            return Verdict(action, False, guard.code, guard.why(request, now), acting, t)
    return Verdict(action, True, "ok", role=acting, transition=t)


def explain(request: dict, actor: dict, now: datetime, *, undoable: bool = True) -> list[Verdict]:
    """Every action a person can ask for, allowed or refused for `actor` on `request` at `now`, with why.

    Pure over the request's values (status, phase, kind, lender, borrower, reader, submission time) and the
    actor (id, role, member); `undoable` says whether the request has a change an administrator could roll
    back. The store enforces exactly this; the desk, the reader pages, the JSON API and `balis request`
    show exactly this.
    """
    return [verdict(request, actor, now, a, undoable=undoable) for a in PERSON_ACTIONS]


def may(request: dict, actor: dict, now: datetime, *, undoable: bool = True) -> list[str]:
    """The actions `actor` may take now, in table order."""
    return [v.action for v in explain(request, actor, now, undoable=undoable) if v.allowed]


def check_inputs(t: Transition, request: dict, *, reason: str, rota: list[dict] | None) -> None:
    """The values the transition needs: a reason, a rota that does not name the borrowing library."""
    rid = request["id"]
    if t.reason == "required" and not (reason or "").strip():
        what = "its message text" if t.action == NOTIFY else "a reason, shown to the other side"
        raise InvalidRequest(f"申请单 {rid}: '{t.action}' needs {what} (--reason)")
    if t.rota:
        if not rota:
            raise InvalidRequest(f"申请单 {rid}: routing needs a rota of lender codes (--rota A,B)")
        if any(e["member"] == request["borrower"] for e in rota):
            raise InvalidRequest(f"the borrowing library {request['borrower']} cannot lend to itself")
