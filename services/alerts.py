"""The new-book alerts of saved searches (定题通告): after a harvest, the editions new in the union index that
match each saved search whose alert is on are recorded for it and told to its reader (ill/searches.py).

"New" is what the harvest store says: an edition whose every member record was first harvested after the
search last looked (`new_editions`: a record keeps its first-harvested time when it changes, and an edition that
only gained another library's copy is not new). The run never looks past the oldest record the index phase has
not merged yet, so an edition is found once it is in the index, whatever night that is. Only those editions are
searched (the saved query AND their record ids, a hundred at a time), never a search's whole result.

`balis alerts run` (cron, after `balis harvest`) and `balis serve --harvest-at` (after its own harvest) call
`run_alerts`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from connectors.query import Bool, Clause, Query
from ill import searches
from ill.store import Store
from indexer.backend import open_searcher
from indexer.store import open_store
from services.views import display_title

log = logging.getLogger("balis.alerts")

CHUNK = 100  # new editions looked up by one search of the index


@dataclass(slots=True)
class AlertReport:
    """What one run did: searches checked, editions new in the index, editions recorded for searches, notices."""

    searches: int = 0
    new_in_index: int = 0
    found: int = 0
    notices: int = 0
    through: datetime | None = None
    per_search: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"searches": self.searches, "new_in_index": self.new_in_index, "found": self.found,
                "notices": self.notices, "through": self.through.isoformat() if self.through else None,
                "per_search": self.per_search}


# ---- a saved query as JSON ----------------------------------------------------------------------------------

def query_json(query: Query) -> dict:
    """The query AST as JSON (kept with a saved search)."""
    if isinstance(query, Clause):
        return {"field": query.field, "relation": query.relation, "value": query.value, "phrase": query.phrase}
    return {"op": query.op, "left": query_json(query.left), "right": query_json(query.right)}


def query_from_json(doc: dict) -> Query:
    if "op" in doc:
        return Bool(doc["op"], query_from_json(doc["left"]), query_from_json(doc["right"]))
    return Clause(doc["field"], doc["relation"], doc["value"], bool(doc.get("phrase")))


def selected_facets(params: Iterable[Sequence[str]]) -> dict[str, list[str]]:
    """The facet values a saved search's parameters select: {facet: [values]}."""
    out: dict[str, list[str]] = {}
    for name, value in params:
        if name == "facet" and ":" in value:
            facet, _, v = value.partition(":")
            out.setdefault(facet, []).append(v)
    return out


def _any_of(keys: list[str]) -> Query:
    """Editions holding any of these MEMBER:record_id keys (a balanced OR, so its depth stays small)."""
    if len(keys) == 1:
        return Clause("id", "=", keys[0].replace(" ", ""))
    mid = len(keys) // 2
    return Bool("or", _any_of(keys[:mid]), _any_of(keys[mid:]))


def _details(work) -> str:
    d = work.display
    parts = ["; ".join(a.name for a in d.authors[:3]), d.publisher or "", str(d.year or "")]
    return " · ".join(p for p in parts if p)


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


# ---- the run ------------------------------------------------------------------------------------------------

def run_alerts(store: Store, location: Path | str, *, replicas: Sequence[str] = (),
               now: datetime | None = None) -> AlertReport:
    """Check every saved search whose alert is on against the editions new in the union index at `location`;
    record what each found and write its reader's notice (mailed by the outbox's sender). IndexerError when the
    index or its harvest store cannot be read."""
    now = (now or store.clock()).astimezone(UTC)
    report = AlertReport()
    todo = searches.to_check(store)
    report.searches = len(todo)
    if not todo:
        report.through = now
        return report
    after = min(s["checked_through"] for s in todo)
    harvest = open_store(location, create=False)
    try:
        editions, waiting = harvest.new_editions(_iso(after))
    finally:
        harvest.close()
    through = min(now, _time(waiting)) if waiting else now  # not past a record the index does not hold yet
    new = {w: (_time(seen), key) for w, (seen, key) in editions.items() if _time(seen) <= through}
    report.new_in_index, report.through = len(new), through
    with open_searcher(location, replicas) as searcher:
        for search in todo:
            since = search["checked_through"]
            candidates = sorted((w, key) for w, (seen, key) in new.items() if seen > since)
            query = query_from_json(search["query"])
            selected = selected_facets(search["params"])
            found: list[searches.NewEdition] = []
            for i in range(0, len(candidates), CHUNK):
                chunk = dict(candidates[i:i + CHUNK])
                page = searcher.search(Bool("and", query, _any_of(sorted(chunk.values()))), size=len(chunk),
                                       selected=selected)
                found += [searches.NewEdition(w.work_id, display_title(w.display), _details(w), new[w.work_id][0])
                          for w in page.works if w.work_id in chunk]
            found.sort(key=lambda e: (e.first_seen, e.work_id))
            written = searches.record(store, search, found, max(since, through), now=now)
            report.found += written
            report.notices += bool(written)
            report.per_search.append({"id": search["id"], "user": search["user_id"], "candidates": len(candidates),
                                      "new": written})
            if written:
                log.info("saved search %s of %s: %d new edition(s)", search["id"], search["user_id"], written)
    return report
