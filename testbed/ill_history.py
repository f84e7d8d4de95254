"""A year of demo ILL history on the demo test bed, so the statistics dashboard and the lenders' fill rates show
figures from the first minute of `make run` (docs/operations.md).

The traffic follows the routing simulation (benchmarks/routing.py): readers' home libraries weighted after the
consortium's 2009 figures (清华大学 sent most requests), editions by popularity (Zipf) among those the harvested
union index holds, each lender with a hidden fill probability and days to ship drawn from the seed, and each
request's rota made by the product's router (`routing.build_rota`) from the history generated so far, as
`ill.stats.lender_history` would give it. A lender that cannot supply answers Unfilled and the request moves
on down its rota. Requests end supplied and completed (loans returned), or unfilled.

Every request is written through `Store.adopt` (one transaction each, the audit log's first entry an import by
`ill.stats.DEMO_ACTOR` saying 演示数据 demo data), by readers named `demo-CODE-N`. It is loaded only into a store
that holds no request but demo ones, so a real store is never touched, and only once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from dedup.work import Work
from ill import machine as m
from ill.rota import Lender, normalise_rota
from ill.stats import DEMO_ACTOR, DEMO_NOTE, demo_requests
from ill.store import Store
from ill.workdays import BEIJING, loan_due, working_days_after
from members import Member
from routing import build_rota

# requests sent per member, after the 2009 figures (THU most: 550 of 3,979), as benchmarks/routing.py
HOME_WEIGHTS = {"THU": 550, "PKU": 420, "BUAA": 300, "BNU": 280, "RUC": 240, "BIT": 230, "USTB": 220}
DEFAULT_HOME_WEIGHT = 160
REQUESTS_PER_YEAR = 3979  # the consortium's ILL requests in 2009
COPY_SHARE = 0.2  # document delivery (原文传递) among them
MAX_LENDERS = 5
DAYS = 365


class HistoryRefused(Exception):
    """The store is not a demo store (it holds requests that are not demo data): nothing was written."""


@dataclass(frozen=True, slots=True)
class LenderTruth:
    """What only the generator knows about a lender."""

    fill: float  # P(supplies a request it receives)
    days: float  # mean days from receiving a request to shipping
    answer: float  # mean days to answer Unfilled


def hidden_truth(seed: int, codes: Iterable[str]) -> dict[str, LenderTruth]:
    rng = random.Random(f"history-truth-{seed}")
    out = {c: LenderTruth(rng.uniform(0.35, 0.95), rng.uniform(0.8, 4.0), rng.uniform(0.3, 2.0)) for c in sorted(codes)}
    for code in ("RUC", "CUPL"):  # the two members that lent most in 2009 are good lenders
        if code in out:
            out[code] = LenderTruth(max(out[code].fill, 0.85), out[code].days, out[code].answer)
    return out


def _office_hour(rng: random.Random, day: datetime) -> datetime:
    """A moment of a Beijing day between 08:00 and 21:00."""
    return day + timedelta(hours=8 + rng.random() * 13)


def plan(works: list[Work], members: list[Member], *, end: datetime, seed: int = 1,
         n: int = REQUESTS_PER_YEAR) -> list[tuple[dict, list[dict]]]:
    """(request columns, lenders tried) for a year of requests ending at `end` (aware), oldest first."""
    rng = random.Random(f"history-{seed}")
    codes = [mem.code for mem in members]
    truth = hidden_truth(seed, codes)
    held = [w for w in works if len({h.member for h in w.holdings}) >= 2]  # someone else can lend it
    if not held or len(codes) < 2:
        return []
    order = list(range(len(held)))
    rng.shuffle(order)
    weights = [0.0] * len(held)
    for rank, i in enumerate(order):
        weights[i] = 1.0 / (rank + 1) ** 0.8
    home_weights = [HOME_WEIGHTS.get(c, DEFAULT_HOME_WEIGHT) for c in codes]
    start = (end - timedelta(days=DAYS)).astimezone(BEIJING).replace(hour=0, minute=0, second=0, microsecond=0)
    moments = sorted(_office_hour(rng, start + timedelta(days=rng.randrange(DAYS))) for _ in range(n))
    history: dict[str, dict] = {}
    out = []
    for submitted in moments:
        home = rng.choices(codes, home_weights)[0]
        work = held[rng.choices(range(len(held)), weights)[0]]
        rota = build_rota(work, home, members, history=history, max_lenders=MAX_LENDERS, now=submitted)
        if rota.own_available or not rota.lenders:
            continue  # borrowed on the own shelves, or nobody may lend it: no ILL request
        kind = m.COPY if rng.random() < COPY_SHARE else m.LOAN
        entries = normalise_rota(Lender.ranked(e) for e in rota.lenders)
        values, tried = _walk(rng, truth, history, entries, submitted, kind, end)
        values.update(reader_id=f"demo-{home}-{rng.randrange(1, 400):03d}", borrower=home, kind=kind,
                      source="edition", work_id=work.work_id, title=work.display.title[:500],
                      author=(work.display.authors[0].name if work.display.authors else "")[:200], citation="",
                      rota=entries, submitted_at=submitted, reader_message=DEMO_NOTE, version=1)
        out.append((values, tried))
    return out


def _walk(rng: random.Random, truth: dict[str, LenderTruth], history: dict[str, dict], rota: list[dict],
          submitted: datetime, kind: str, end: datetime) -> tuple[dict, list[dict]]:
    """Send the request down its rota: each lender supplies with its hidden probability or answers Unfilled."""
    t = submitted
    tried = []
    first_answer = None
    for seq, entry in enumerate(rota):
        code = entry["member"]
        lender = truth[code]
        h = history.setdefault(code, {"requests": 0, "filled": 0, "supply_days_total": 0.0, "open": 0})
        h["requests"] += 1
        leg = {"seq": seq, "lender": code, "arrived_at": t, "answer_due": working_days_after(t, 1),
               "ship_due": working_days_after(t, 3)}
        if rng.random() < lender.fill:
            answered = t + timedelta(hours=1 + rng.random() * 20)
            shipped = max(answered, t + timedelta(days=lender.days * (0.5 + rng.random())))
            h["filled"] += 1
            h["supply_days_total"] += (shipped - t).total_seconds() / 86400
            leg.update(answered_at=answered, answer=m.WILL_SUPPLY, shipped_at=shipped, closed_at=shipped,
                       outcome="supplied")
            tried.append(leg)
            first_answer = first_answer or answered
            return _supplied(rng, kind, code, seq, shipped, first_answer, end), tried
        answered = t + timedelta(days=lender.answer * (0.5 + rng.random()))
        leg.update(answered_at=answered, answer=m.ANSWER_UNFILLED, closed_at=answered, outcome="unfilled",
                   note="无可借复本 (no copy to lend)")
        tried.append(leg)
        first_answer = first_answer or answered
        t = answered
    return {"status": m.UNFILLED, "phase": m.NONE, "rota_index": len(rota) - 1, "lender": rota[-1]["member"],
            "answered_at": first_answer, "completed_at": t}, tried


def _supplied(rng: random.Random, kind: str, code: str, seq: int, shipped: datetime, answered: datetime,
              end: datetime) -> dict:
    values = {"rota_index": seq, "lender": code, "answered_at": answered, "shipped_at": shipped}
    if kind == m.COPY:
        return {**values, "status": m.COPY_COMPLETED, "phase": m.NONE, "completed_at": shipped}
    received = shipped + timedelta(hours=12 + rng.random() * 36)
    lent = received + timedelta(hours=2 + rng.random() * 40)
    due = loan_due(lent)
    taken_back = min(lent + timedelta(days=10 + rng.random() * 20), due - timedelta(hours=1))
    returned = taken_back + timedelta(hours=4 + rng.random() * 40)
    completed = returned + timedelta(hours=12 + rng.random() * 36)
    if completed > end:  # a loan of the last weeks: still with the reader
        return {**values, "status": m.LOANED, "phase": m.READER, "received_at": received, "lent_at": lent,
                "due_back": due}
    return {**values, "status": m.LOAN_COMPLETED, "phase": m.NONE, "received_at": received, "lent_at": lent,
            "due_back": due, "taken_back_at": taken_back, "return_shipped_at": returned, "completed_at": completed}


def _no_sync(dbapi_conn, _record) -> None:
    dbapi_conn.execute("PRAGMA synchronous=NORMAL")


def load(store: Store, works: list[Work], members: list[Member], *, now: datetime | None = None,
         seed: int = 1, n: int = REQUESTS_PER_YEAR) -> dict:
    """Write a year of demo history ending now into `store`, unless it holds any already.

    HistoryRefused when the store holds requests that are not demo data. Returns {"requests", "seconds",
    "skipped"} (skipped: the history was there already).
    """
    started = time.perf_counter()
    total = len(store.list_requests(limit=1))
    demo = demo_requests(store)
    if total and not demo:
        where = store.engine.url.render_as_string(hide_password=True)
        raise HistoryRefused(f"the ILL store {where} holds requests that are not demo data; the demo "
                             "history is written only into the demo test bed's own store")
    if demo:
        return {"requests": demo, "seconds": round(time.perf_counter() - started, 2), "skipped": True}
    now = now or datetime.now(UTC)
    rows = plan(works, members, end=now, seed=seed, n=n)
    planned = time.perf_counter()
    if store.dialect == "sqlite":  # a demo store: commits need not wait for the disk (WAL stays consistent)
        event.listen(store.engine, "connect", _no_sync)
        store.engine.dispose()
    for values, tried in rows:
        store.adopt(values, tried, actor=DEMO_ACTOR, note=DEMO_NOTE, now=values["submitted_at"])
    return {"requests": len(rows), "seconds": round(time.perf_counter() - started, 2),
            "plan_seconds": round(planned - started, 2), "skipped": False}
