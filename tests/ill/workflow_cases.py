"""Requests in every state a person can meet, and the seven people who look at them: shared by the workflow
matrix tests of the store, the command line, the desk, the reader pages and the JSON API.

Libraries: the reader's library BOR, the lenders L1 then L2 of the rota, and OTHER (no part in it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from ill import machine as m
from ill.store import Store

# who looks at a request (the actor kinds of issue 16's matrix)
OWNER, OTHER_READER, BORROWING, LENDING, EARLIER, UNRELATED, ADMIN = (
    "owner", "other_reader", "borrowing_staff", "current_lender_staff", "earlier_lender_staff",
    "unrelated_staff", "admin")
ACTORS = (OWNER, OTHER_READER, BORROWING, LENDING, EARLIER, UNRELATED, ADMIN)


@dataclass(frozen=True)
class Libraries:
    bor: str
    l1: str
    l2: str
    other: str

    def staff(self, code: str) -> str:
        return f"s-{code.lower()}"


def add_people(store: Store, libs: Libraries, add: Callable[..., None] | None = None) -> None:
    """Staff of the four libraries, a second reader of BOR, the administrator."""
    add = add or (lambda uid, role, member: store.add_user(uid, role, member))
    for code in (libs.bor, libs.l1, libs.l2, libs.other):
        add(libs.staff(code), "staff", code)
    add("r-other", "reader", libs.bor)
    add("c-admin", "admin", None)


# name: (kind, manual?, steps) ; a step is (action, who) with who one of "owner", "bor", "l1", "l2", or
# ("tick", days) to run the clock that many days later
LOAN_OUT = [(m.WILL, "l1"), (m.SHIP, "l1")]
STATES: dict[str, tuple[str, bool, list]] = {
    "pending": (m.LOAN, True, []),
    "received": (m.LOAN, False, []),
    "received_forwarded": (m.LOAN, False, [(m.ANSWER_UNFILLED, "l1")]),
    "expect": (m.LOAN, False, [(m.EXPECT, "l1")]),
    "will": (m.LOAN, False, [(m.WILL, "l1")]),
    "will_forwarded": (m.LOAN, False, [(m.ANSWER_RETRY, "l1"), (m.WILL, "l2")]),
    "loaned_transit": (m.LOAN, False, LOAN_OUT),
    "loaned_library": (m.LOAN, False, [*LOAN_OUT, (m.RECEIVED, "bor")]),
    "loaned_reader": (m.LOAN, False, [*LOAN_OUT, (m.RECEIVED, "bor"), (m.LEND, "bor")]),
    "overdue_reader": (m.LOAN, False, [*LOAN_OUT, (m.RECEIVED, "bor"), (m.LEND, "bor"), ("tick", 40)]),
    "recalled_transit": (m.LOAN, False, [*LOAN_OUT, (m.RECALL, "l1")]),
    "recalled_reader": (m.LOAN, False, [*LOAN_OUT, (m.RECEIVED, "bor"), (m.LEND, "bor"), (m.RECALL, "l1")]),
    "loaned_returned": (m.LOAN, False, [*LOAN_OUT, (m.RECEIVED, "bor"), (m.LEND, "bor"), (m.TAKE_BACK, "bor")]),
    "loaned_return_transit": (m.LOAN, False, [*LOAN_OUT, (m.RECEIVED, "bor"), (m.SHIPPED_RETURN, "bor")]),
    "loan_completed": (m.LOAN, False, [*LOAN_OUT, (m.RECEIVED, "bor"), (m.SHIPPED_RETURN, "bor"),
                                       (m.CHECK_IN, "l1")]),
    "lost": (m.LOAN, False, [*LOAN_OUT, (m.REPORT_LOST, "bor")]),
    "unfilled": (m.LOAN, False, [(m.ANSWER_UNFILLED, "l1"), (m.ANSWER_UNFILLED, "l2")]),
    "cancelled": (m.LOAN, False, [(m.CANCEL, "owner")]),
    "copy_received": (m.COPY, False, []),
    "copy_will": (m.COPY, False, [(m.WILL, "l1")]),
    "copy_completed": (m.COPY, False, [(m.WILL, "l1"), (m.SHIP, "l1")]),
}
# the same state an hour and more after submitting (the reader's cancel window is over)
LATE = {"received_late": "received", "received_forwarded_late": "received_forwarded", "pending_late": "pending"}


def build(store: Store, libs: Libraries, name: str, reader: str, now) -> int:
    """The request `name` (a key of STATES or LATE) of `reader`, submitted at `now` (a datetime)."""
    late = name in LATE
    kind, manual, steps = STATES[LATE.get(name, name)]
    start = now - timedelta(hours=2) if late else now
    if manual:
        rid = store.submit(reader, kind=kind, citation="王力. 古代汉语. 中华书局, 1999", now=start)["id"]
    else:
        rid = store.submit(reader, kind=kind, title="数据结构", work_id="W0123456789abcdef",
                           rota=[libs.l1, libs.l2], price=40, now=start)["id"]
    who = {"owner": reader, "bor": libs.staff(libs.bor), "l1": libs.staff(libs.l1), "l2": libs.staff(libs.l2)}
    for action, actor in steps:
        if action == "tick":
            store.tick(now=start + timedelta(days=actor))
            continue
        store.act(rid, action, who[actor], reason="测试", now=start)
    return rid


def actor_id(store: Store, libs: Libraries, kind: str, request: dict, owner: str) -> str:
    """The user of actor kind `kind` for `request`."""
    if kind == OWNER:
        return owner
    if kind == OTHER_READER:
        return "r-other"
    if kind == BORROWING:
        return libs.staff(libs.bor)
    if kind == LENDING:  # staff of the lender the request is at now (the first lender before it is routed)
        return libs.staff(request["lender"] or libs.l1)
    if kind == EARLIER:  # staff of a lender that had the request before (or, if none did, a later one)
        tried = [leg["lender"] for leg in store.legs(request["id"]) if leg["lender"] != request["lender"]]
        return libs.staff(tried[0] if tried else (libs.l2 if request["lender"] != libs.l2 else libs.l1))
    if kind == UNRELATED:
        return libs.staff(libs.other)
    return "c-admin"


def inputs(action: str, libs: Libraries) -> dict:
    """What a person types with the action: a reason always, a price and a rota where the action takes one."""
    t = m.requirements(action)
    out = {"reason": "测试"}
    if t is not None and t.price:
        out["price"] = 30
    if t is not None and t.rota:
        out["rota"] = [libs.other]
    return out


ALL_STATES = (*STATES, *LATE)
ERROR_OF_CODE = {"not_yours": "NotAllowed", "closed": "InvalidTransition", "not_now": "InvalidTransition",
                 "answered": "InvalidTransition", "expired": "RuleViolation", "nothing_to_undo": "RuleViolation"}
