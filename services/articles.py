"""Locating suppliers of an article (原文传递): the journal's print runs from the union index, the members'
licensed e-journals from the KBART store, the members' copy-service record from the ILL store, and the pure
`routing.copy.build_copy_rota` over them. Shared by `balis route --kind copy` and `balis request submit
--kind copy`; it asks no member anything (coverage is what members stated), so it answers at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from members import Registry

MAX_JOURNAL_RECORDS = 100  # editions of one ISSN read from the union index


@dataclass(slots=True)
class Sources:
    """Where the coverage came from, and what could not be read (routing goes on without it, and says so)."""

    index: str | None = None  # the union index read for print runs
    journals: list[dict] = field(default_factory=list)  # [{"work_id", "title", "members"}] with the ISSN
    eholdings: str | None = None  # the KBART store read, when there is one
    licences: int = 0
    history_source: str = "none"  # ill store | none
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"index": self.index, "journals": self.journals, "eholdings": self.eholdings,
                "licences": self.licences, "history": self.history_source, "problems": self.problems}


def print_holdings(issns: list[str], index=None, sources: Sources | None = None) -> dict[str, list]:
    """{member: [SerialHolding]} of the union index's records with one of these ISSNs; a member whose record
    states no run maps to []. No index: {} (and the problem is noted in `sources`)."""
    from connectors.query import parse
    from indexer.backend import open_searcher, resolve_location
    from indexer.errors import LocalIndexError

    sources = sources if sources is not None else Sources()
    location = resolve_location(index)
    out: dict[str, list] = {}
    wanted = set(issns)
    try:
        with open_searcher(location) as searcher:
            sources.index = str(location)
            seen: set[str] = set()
            for issn in issns:
                result = searcher.search(parse(f"issn:{issn}"), size=MAX_JOURNAL_RECORDS)
                for work in result.works:
                    if work.work_id in seen:
                        continue
                    seen.add(work.work_id)
                    members = []
                    for rec in work.records:
                        if wanted.isdisjoint(rec.issns):
                            continue
                        out.setdefault(rec.member, []).extend(rec.serial_holdings)
                        members.append(rec.member)
                    if members:
                        sources.journals.append({"work_id": work.work_id, "title": work.display.title,
                                                 "members": sorted(set(members))})
    except LocalIndexError as exc:
        sources.problems.append(f"纸本馆藏未读 print holdings not read: {exc}")
    return out


def copy_history(db=None, store=None) -> tuple[dict, str, str | None]:
    """Members' copy requests (ill.stats.lender_history, kind copy): (history, source, problem); only an
    existing store is read."""
    from ill import machine
    from ill.stats import lender_history
    from ill.store import Store, resolve_url

    try:
        if store is not None:
            return dict(lender_history(store, kind=machine.COPY)), "ill store", None
        url = resolve_url(db)
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            return {}, "none", None
        with Store(db) as opened:
            return dict(lender_history(opened, kind=machine.COPY)), "ill store", None
    except Exception as exc:  # noqa: BLE001 - history is optional: route without it, and say so
        return {}, "none", f"原文传递记录未读 the members' copy record not read ({exc}); routing on coverage only"


def locate_suppliers(registry: Registry, home: str, issns: list[str], year: int, volume: int | None = None,
                     issue: int | None = None, *, index=None, eholdings=None, db=None, store=None,
                     max_lenders: int = 5, now=None):
    """(Sources, CopyRota): the members to ask for an article of the journal with these ISSNs.

    Raises routing.RoutingError for an unknown home library."""
    from indexer.eholdings import licensed_by_issn
    from indexer.errors import IndexerError
    from routing.copy import Article, build_copy_rota

    sources = Sources()
    held = print_holdings(issns, index, sources)
    try:
        licences = licensed_by_issn(issns, eholdings)
    except IndexerError as exc:
        licences = []
        sources.problems.append(f"电子刊馆藏未读 e-journal holdings not read: {exc}")
    from indexer.eholdings import default_path

    target = Path(eholdings) if eholdings else default_path()
    sources.eholdings = str(target) if target.exists() else None
    sources.licences = len(licences)
    history, sources.history_source, problem = copy_history(db, store)
    if problem:
        sources.problems.append(problem)
    rota = build_copy_rota(Article(tuple(issns), year, volume, issue), home, registry.members,
                           print_holdings=held, licences=licences, history=history, max_lenders=max_lenders,
                           now=now)
    return sources, rota
