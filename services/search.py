"""The search use case that `balis search` and the portal share: one page of editions as readers see it.

`arrange` applies the reader's facet selections, ranks, and counts the facets (each count what a click on it
gives: `federator.facets.counts`); `MemberStatus` is a member's place in the answer (the portal's status
strip, the `members` entries of the JSON). Neither the CLI nor the portal builds these itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from federator import facets as facet_mod
from federator.fanout import DEADLINE, DIAGNOSTIC, OK, SKIPPED, TIMEOUT, MemberOutcome
from federator.rank import rank

ASKING, ANSWERED, SLOW, DOWN, REFUSED, NOT_ASKED = "asking", "answered", "slow", "down", "refused", "not_asked"
STATES = (ASKING, ANSWERED, SLOW, DOWN, REFUSED, NOT_ASKED)


class SelectionError(ValueError):
    """A facet selection that cannot be applied (e.g. a year range that is not one)."""


@dataclass(frozen=True, slots=True)
class Arranged:
    """One page's editions as a reader sees them."""

    works: list  # dedup.Work, the selections applied, in the order of `sort`
    facets: dict[str, list[dict]]  # name -> [{"value", "label", "count"}], each count what a click gives
    editions: int  # editions on the page before the selections were applied


def parse_selections(items: Iterable[str], sep: str = "=") -> dict[str, list[str]]:
    """`NAME=VALUE` items (repeatable) as {name: [values]}; SelectionError names a bad item."""
    selected: dict[str, list[str]] = {}
    for item in items:
        name, found, value = item.partition(sep)
        if not found or name not in facet_mod.FACETS or not value:
            raise SelectionError(f"{item!r}: use NAME{sep}VALUE with NAME one of {', '.join(facet_mod.FACETS)}")
        selected.setdefault(name, []).append(value)
    return selected


def arrange(works: Iterable, query, *, selected: Mapping[str, list[str]] | None = None, sort: str = "relevance",
            names: Mapping[str, str] | None = None) -> Arranged:
    """The editions of one answer, filtered by `selected`, ranked by `sort`, with their facet counts."""
    works = list(works)
    try:
        shown = facet_mod.apply(works, selected) if selected else works
    except ValueError as exc:
        raise SelectionError(str(exc)) from None
    return Arranged(rank(shown, query, sort=sort), facet_mod.counts(works, selected or {}, names=names), len(works))


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """One member's place in an answer: its state, and why when it is not `answered`."""

    code: str
    name: str
    state: str
    reason: str | None = None  # a fanout reason code (timeout, suspended, …) or "slow" while waiting
    hits: int | None = None
    ms: int | None = None
    cached: bool = False
    detail: str | None = None  # the member's or the federator's own words (diagnostic, error)
    waited: int | None = None  # seconds waited so far, for a member still asked


def member_state(outcome: MemberOutcome) -> MemberStatus:
    """The state of a member's final outcome (pure)."""
    if outcome.status == OK:
        state, detail = ANSWERED, None
        if outcome.diagnostic:
            detail = outcome.diagnostic.get("message")
        elif outcome.excess:
            detail = (f"sent {outcome.excess} records more than the {len(outcome.records)} asked for; only those "
                      "asked for were kept")
    elif outcome.status == SKIPPED:
        state, detail = NOT_ASKED, outcome.error
    elif outcome.status == TIMEOUT:
        state, detail = SLOW, outcome.error
    elif outcome.reason == DIAGNOSTIC:
        state = REFUSED
        diag = outcome.diagnostic or {}
        detail = " ".join(str(x) for x in (diag.get("message") or outcome.error, diag.get("addinfo")) if x)
    else:
        state, detail = DOWN, outcome.error
    reason = outcome.reason if outcome.status != OK else None
    if outcome.status == TIMEOUT and reason is None:
        reason = DEADLINE
    return MemberStatus(outcome.code, outcome.name, state, reason, outcome.hits, outcome.ms, outcome.cached,
                        detail)


# Where a member's server is: URLs, tcp:host:port/db addresses, IP addresses, host names, ports. Staff need
# them to tell a member what failed; readers do not, and an anonymous page must not map the members' servers.
_ADDRESS = re.compile(r"[a-z][a-z0-9+.-]*://\S+|\btcp:\S+|\[[0-9a-f:.]+\](?::\d+)?|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"
                      r"|\b(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?\b|\blocalhost(?::\d+)?\b|\bport \d+\b", re.I)


def for_readers(status: MemberStatus) -> MemberStatus:
    """A member's state as readers may see it: the member's own diagnostic message without any server
    address, and no other detail (the state and reason say what happened; staff see the whole detail)."""
    detail = status.detail if status.state in (REFUSED, ANSWERED) else None
    if detail:
        detail = re.sub(r"\s{2,}", " ", _ADDRESS.sub("…", detail)).strip() or None
    return status if detail == status.detail else replace(status, detail=detail)


# ---- an empty result is a starting point ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StartingPoints:
    """What may help after a search found nothing: other searches to try (kind, reader query), whether
    Chinese was searched in both scripts, and what the manual request form can be filled with."""

    searches: list[tuple[str, str]]  # ("all_fields" | "fewer_words", query text)
    both_scripts: bool
    citation: dict[str, str]  # title, author, isbn, year: what the query said of the book


def starting_points(text: str, *, max_fewer: int = 3) -> StartingPoints:
    """For a search `text` (reader syntax, as SearchParams.text() gives it) that found nothing: the same
    words in any field, the query with one word fewer (the last `max_fewer` words, for a query that only
    ANDs its words), and the citation the query describes. Pure: the caller checks nothing was found."""
    from connectors.query import Clause, QueryError, clauses, parse, to_text

    try:
        query = parse(text, cql=False)
    except QueryError:
        return StartingPoints([], False, {})
    found = list(clauses(query))
    searches: list[tuple[str, str]] = []
    words = [c for c in found if c.field != "year"]
    if any(c.field not in ("any", "isbn", "issn", "id") for c in words):
        anywhere = [Clause("any", "=", c.value, c.phrase) for c in words]
        if anywhere:
            searches.append(("all_fields", to_text(_and(anywhere))))

    def only_and(node) -> bool:
        return isinstance(node, Clause) or (node.op == "and" and only_and(node.left) and only_and(node.right))

    if len(found) > 1 and only_and(query):
        for i in range(len(found) - 1, max(-1, len(found) - 1 - max_fewer), -1):
            rest = found[:i] + found[i + 1:]
            if any(c.field != "year" for c in rest):  # a year alone is not a search for the book
                searches.append(("fewer_words", to_text(_and(rest))))
    titles = [c.value for c in found if c.field in ("any", "title")]
    citation = {"title": " ".join(titles), "author": " ".join(c.value for c in found if c.field == "author"),
                "isbn": next((c.value for c in found if c.field == "isbn"), ""),
                "year": next((c.value for c in found if c.field == "year" and c.relation == "="), "")}
    return StartingPoints(list(dict.fromkeys(searches)), bool(re.search(r"[\u3400-\u9fff]", text)),
                          {k: v for k, v in citation.items() if v})


def _and(items: list):
    from connectors.query import Bool

    node = items[0]
    for item in items[1:]:
        node = Bool("and", node, item)
    return node
