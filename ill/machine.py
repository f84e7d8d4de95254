"""The request state machine: one explicit transition table in the ISO 18626 vocabulary.

A request's state is its supplier status (ISO 18626 `type_status`) plus, for a returnable loan, the
phase of the book's journey on the borrowing side (the requester actions Received and ShippedReturn move
it). `Pending` is the one state outside ISO 18626: a manual citation waiting for staff to route it.
"""

from __future__ import annotations

from dataclasses import dataclass

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
ROLLBACK = "rollback"              # administrators undo the last change, with a reason


@dataclass(frozen=True, slots=True)
class Transition:
    action: str
    status: str
    phase: str
    to_status: str
    to_phase: str
    actors: frozenset[str]
    kinds: frozenset[str] = frozenset(KINDS)


def _rows() -> list[Transition]:
    rows: list[Transition] = []

    def add(action, froms, to_status, to_phase, actors, kinds=KINDS):
        for status, phase in froms:
            rows.append(Transition(action, status, phase,
                                   status if to_status is None else to_status,
                                   phase if to_phase is None else to_phase,
                                   frozenset(actors), frozenset(kinds)))

    add(ROUTE, [(PENDING, NONE)], REQUEST_RECEIVED, NONE, {BORROWER})
    add(CANCEL, [(PENDING, NONE), (REQUEST_RECEIVED, NONE)], CANCELLED, NONE, {READER_, BORROWER})
    add(EXPECT, [(REQUEST_RECEIVED, NONE)], EXPECT_TO_SUPPLY, NONE, {LENDER})
    add(WILL, [(REQUEST_RECEIVED, NONE), (EXPECT_TO_SUPPLY, NONE)], WILL_SUPPLY, NONE, {LENDER})
    add(ANSWER_UNFILLED, [(REQUEST_RECEIVED, NONE), (EXPECT_TO_SUPPLY, NONE), (WILL_SUPPLY, NONE)],
        UNFILLED, NONE, {LENDER})
    add(ANSWER_RETRY, [(REQUEST_RECEIVED, NONE), (EXPECT_TO_SUPPLY, NONE)], RETRY_POSSIBLE, NONE, {LENDER})
    add(TIMEOUT, [(REQUEST_RECEIVED, NONE), (EXPECT_TO_SUPPLY, NONE), (WILL_SUPPLY, NONE)],
        UNFILLED, NONE, {SYSTEM})
    add(SHIP, [(EXPECT_TO_SUPPLY, NONE), (WILL_SUPPLY, NONE)], LOANED, TRANSIT, {LENDER}, {LOAN})
    add(SHIP, [(EXPECT_TO_SUPPLY, NONE), (WILL_SUPPLY, NONE)], COPY_COMPLETED, NONE, {LENDER}, {COPY})
    add(RECEIVED, [(LOANED, TRANSIT), (RECALLED, TRANSIT)], None, LIBRARY, {BORROWER}, {LOAN})
    add(LEND, [(LOANED, LIBRARY)], None, READER, {BORROWER}, {LOAN})
    add(TAKE_BACK, [(LOANED, READER), (OVERDUE, READER), (RECALLED, READER)], None, RETURNED, {BORROWER}, {LOAN})
    add(SHIPPED_RETURN, [(s, p) for s in (LOANED, OVERDUE, RECALLED) for p in (LIBRARY, RETURNED)],
        None, RETURN_TRANSIT, {BORROWER}, {LOAN})
    add(CHECK_IN, [(s, RETURN_TRANSIT) for s in (LOANED, OVERDUE, RECALLED)], LOAN_COMPLETED, NONE,
        {LENDER}, {LOAN})
    add(RECALL, [(LOANED, TRANSIT), (LOANED, LIBRARY), (LOANED, READER), (OVERDUE, READER)],
        RECALLED, None, {LENDER}, {LOAN})
    add(MARK_OVERDUE, [(LOANED, READER)], OVERDUE, READER, {SYSTEM}, {LOAN})
    add(REPORT_LOST, [(s, p) for s in (LOANED, OVERDUE, RECALLED) for p in PHASES if p],
        COMPLETED_WITHOUT_RETURN, NONE, {BORROWER, LENDER}, {LOAN})
    add(REPORT_DAMAGED, [(s, p) for s in (LOANED, OVERDUE, RECALLED) for p in (RETURNED, RETURN_TRANSIT)],
        None, None, {BORROWER, LENDER}, {LOAN})
    add(NOTIFY, [(s, p) for s in OPEN for p in PHASES], None, None, {READER_, BORROWER, LENDER, ADMIN})
    return rows


TRANSITIONS: tuple[Transition, ...] = tuple(_rows())
_INDEX: dict[tuple[str, str, str, str], Transition] = {}
for _t in TRANSITIONS:
    for _k in _t.kinds:
        _INDEX[(_t.action, _t.status, _t.phase, _k)] = _t

ACTIONS = tuple(dict.fromkeys(t.action for t in TRANSITIONS)) + (ROLLBACK,)
# Actions only the clock takes; people cannot ask for them.
SYSTEM_ACTIONS = frozenset({TIMEOUT, MARK_OVERDUE})


def find(action: str, status: str, phase: str, kind: str) -> Transition | None:
    """The table row for this action in this state, or None if the action is not possible."""
    return _INDEX.get((action, status, phase, kind))


def allowed_actions(status: str, phase: str, kind: str, actor: str | None = None) -> list[str]:
    """Actions possible now (for `actor` if given), in table order, without the clock's own."""
    out: list[str] = []
    for t in TRANSITIONS:
        if (t.status, t.phase) == (status, phase) and kind in t.kinds and t.action not in SYSTEM_ACTIONS \
                and (actor is None or actor in t.actors) and t.action not in out:
            out.append(t.action)
    return out


def is_open(status: str) -> bool:
    return status not in FINAL
