"""Works: one edition held by several members, with its display record, all holdings and all ISBNs.

The display record is the most complete member record, with the others merged in sensibly: every
ISBN, the longest extent, the subjects united. Editions of one work (another edition, volume,
publisher, translator or carrier of the same title by the same creator) share a `group_id` ("other
editions") without sharing holdings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from dedup.cluster import blocking_keys, cluster_keys
from dedup.keys import MatchKeys, match_keys
from dedup.score import conflict, match_score
from records.fold import fold, is_cjk
from records.model import Holding, Isbn, Record


@dataclass(slots=True)
class Work:
    """One edition as the union catalogue shows it: member records merged, holdings from all of them."""

    work_id: str  # "W" + hash of the sorted MEMBER:record_id list: stable while the members' records are
    display: Record
    records: list[Record]
    holdings: list[Holding] = field(default_factory=list)
    isbns: list[str] = field(default_factory=list)  # ISBN-13s of every member record, first seen first
    group_id: str = ""  # the "other editions" group (same work, other editions); "G" + hash

    @property
    def members(self) -> list[str]:
        return sorted({h.member for h in self.holdings} | {r.member for r in self.records})


def record_key(rec: Record) -> str:
    """MEMBER:record_id, the consortium-wide name of a member record."""
    return f"{rec.member}:{rec.record_id}"


def _digest(prefix: str, names: list[str]) -> str:
    return prefix + hashlib.sha1("\n".join(sorted(names)).encode("utf-8")).hexdigest()[:16]


def _completeness(rec: Record) -> tuple:
    """How much a record tells: more filled fields first, then records in the book's own script."""
    filled = sum(bool(v) for v in (rec.title, rec.subtitle, rec.edition, rec.publisher, rec.place, rec.year,
                                   rec.extent, rec.language, rec.series, rec.classification))
    filled += min(len(rec.authors), 3) + min(len(rec.subjects), 3) + min(len(rec.isbns), 2)
    own_script = is_cjk(rec.title) or not any(is_cjk(v) for v in rec.vernacular_titles)
    return (own_script, filled, -len(rec.warnings), record_key(rec))


def _merged_display(records: list[Record]) -> Record:
    best = max(records, key=_completeness)
    isbns: list[Isbn] = []
    seen: set[str] = set()
    for r in [best] + [r for r in records if r is not best]:
        for i in r.isbns:
            k = i.isbn13 or i.raw
            if k not in seen:
                seen.add(k)
                isbns.append(i)
    subjects: list[str] = []
    seen_subjects: set[str] = set()
    for r in [best] + [r for r in records if r is not best]:
        for s in r.subjects:
            k = fold(s)
            if k and k not in seen_subjects:
                seen_subjects.add(k)
                subjects.append(s)
    extents = [r.extent for r in records if r.extent]
    extent = max(extents, key=len) if extents else best.extent
    holdings = [h for r in records for h in r.holdings]
    return replace(best, isbns=isbns, subjects=subjects, extent=extent, holdings=holdings,
                   authors=list(best.authors), parallel_titles=list(best.parallel_titles),
                   vernacular_titles=list(best.vernacular_titles), classification=dict(best.classification),
                   series=list(best.series), warnings=list(best.warnings), issns=list(best.issns))


def build_work(records: list[Record]) -> Work:
    """A Work from the member records of one edition."""
    display = _merged_display(records)
    isbns = list(dict.fromkeys(i.isbn13 for r in records for i in r.isbns if i.isbn13 and i.valid))
    return Work(work_id=_digest("W", [record_key(r) for r in records]), display=display, records=list(records),
                holdings=list(display.holdings), isbns=isbns)


def group_keys(keys: MatchKeys) -> list[str]:
    """Keys that put editions of one work together: the title with each (non-translator) creator."""
    title = keys.title.replace(" ", "")
    if not title:
        return []
    if not keys.authors:
        return [f"{title}|"]
    return [f"{title}|{a}" for a in keys.authors]


def group_editions(works: list[Work], keys_of: list[list[MatchKeys]]) -> None:
    """Set `group_id` on every work: works sharing a title + creator key are other editions of one work
    (`group_names`)."""
    for w, name in zip(works, group_names(keys_of), strict=True):
        name_group(w, name)


def group_names(keys_of: list[list[MatchKeys]]) -> list[str | None]:
    """For each edition (the match keys of its records), the name of its "other editions" group: editions
    sharing a title + creator key are in one group, named after the key the most of its editions have (of
    those, the smallest). None: the edition has no title key.

    The group is named after a key, not after its records, so its id stays the same when a member adds or
    withdraws a copy; and after its most shared key, so that one record catalogued otherwise ("Title (rev.)",
    a new first creator) does not rename a group of hundreds of editions (the harvest rewrites every edition
    whose group is renamed). The same name as `indexer.harvest.regroup` gives (`group_name`).
    """
    parent = list(range(len(keys_of)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    seen: dict[str, int] = {}
    own_keys: list[set[str]] = []
    for i, ks in enumerate(keys_of):
        mine = {g for mk in ks for g in group_keys(mk)}
        own_keys.append(mine)
        for k in mine:
            if k in seen:
                parent[find(i)] = find(seen[k])
            else:
                seen[k] = i
    editions: dict[str, int] = {}  # editions that have each key
    for mine in own_keys:
        for k in mine:
            editions[k] = editions.get(k, 0) + 1
    members: dict[int, set[str]] = {}
    for i, mine in enumerate(own_keys):
        if mine:
            members.setdefault(find(i), set()).update(mine)
    names = {root: group_name(keys, editions) for root, keys in members.items()}
    return [names.get(find(i)) for i in range(len(keys_of))]


def group_name(keys: set[str], editions: dict[str, int]) -> str:
    """The name of a group with these title + creator keys: the one most editions have (`editions`: how
    many have each), the smallest of those."""
    return min(keys, key=lambda k: (-editions[k], k))


def name_group(work: Work, name: str | None) -> None:
    """Set the work's `group_id` from its group's name (`group_names`); a work with no title key is a group
    of its own, named after its records."""
    work.group_id = group_id_for(name) if name is not None else _digest("G", [record_key(r) for r in work.records])


def group_id_for(key: str) -> str:
    """The id of the "other editions" group named after this title|creator key (`group_names`)."""
    return _digest("G", [key])


def index_keys(keys: MatchKeys) -> list[str]:
    """What ties a record to others in a merge: its blocking keys, its title with its year (`titleyear:`,
    the part of a big title block it is compared with) and its "other editions" keys (`group:` +
    title|creator). The harvest keeps them to find what a change can touch."""
    out = blocking_keys(keys)
    if keys.title:
        out.append(f"titleyear:{keys.title.replace(' ', '')}|{'-' if keys.year is None else keys.year}")
    return out + [f"group:{g}" for g in group_keys(keys)]


def merge(records: list[Record], *, block_sizes: dict[str, int] | None = None,
          edges: list[tuple[int, int]] | None = None, keys: list[MatchKeys] | None = None) -> list[Work]:
    """Cluster member records into editions, build one Work per edition, and group editions into works.

    Works come in the order of their first record in `records`. `block_sizes` and `edges`: see
    `dedup.cluster.cluster_keys` (for re-merging part of a catalogue). For a catalogue too big to hold as
    records, `plan_merge` and `build_planned` give the same works a part at a time. `keys`: the records' match
    keys when they are known already (a harvest store keeps them), else made here.
    """
    if keys is None:
        keys = [match_keys(r) for r in records]
    plan = plan_merge(keys, [record_key(r) for r in records], block_sizes=block_sizes, edges=edges)
    return list(build_planned(plan, lambda wanted: [records[i] for i in wanted]))


@dataclass(frozen=True, slots=True)
class MergePlan:
    """A merge worked out from match keys alone: the editions as lists of record indexes (in the order of
    their first record), each edition's "other editions" group name (`group_names`), the records' names."""

    editions: list[list[int]]
    groups: list[str | None]
    names: list[str]  # each record's MEMBER:record_id

    def work_ids(self) -> list[str]:
        """The id each edition's work will have (`build_work`), without the records."""
        return [_digest("W", [self.names[i] for i in g]) for g in self.editions]


def plan_merge(keys: list[MatchKeys], names: list[str], *, block_sizes: dict[str, int] | None = None,
               edges: list[tuple[int, int]] | None = None) -> MergePlan:
    """The editions and groups `merge` gives for the records with these match keys and names (record_key),
    without the records: the keys of a million records fit in memory where the records do not."""
    editions = cluster_keys(keys, block_sizes=block_sizes, edges=edges, names=names)
    return MergePlan(editions, group_names([[keys[i] for i in g] for g in editions]), list(names))


def build_planned(plan: MergePlan, read, part: int | None = None) -> Iterator[Work]:
    """The works of `plan`, in its order, built `part` records at a time (default: all at once):
    `read(indexes)` gives the records at those sorted indexes, and only one part's records are held."""
    start = 0
    editions = plan.editions
    while start < len(editions):
        end, size = start, 0
        while end < len(editions) and (part is None or size < part or end == start):
            size += len(editions[end])
            end += 1
        wanted = sorted(i for g in editions[start:end] for i in g)
        at = dict(zip(wanted, read(wanted), strict=True))
        for g, name in zip(editions[start:end], plan.groups[start:end], strict=True):
            w = build_work([at[i] for i in g])
            name_group(w, name)
            yield w
        start = end


@dataclass(frozen=True, slots=True)
class _Clustered:
    """A merge's clusters by record identity: the records, the clusters, and the scored pairs per record."""

    ids: frozenset[int]
    groups: list[tuple[int, ...]]
    edges: dict[int, list[int]]


class Merger:
    """`merge` for a set of records that grows: each call gives exactly what `merge` gives, but remembers
    the match keys of the records it has seen, the scores of the pairs it has scored, the works it has
    built and the last merge's clusters, so merging again after a few more records arrived re-clusters only
    the records the new ones can change, and costs little more than the new records.

    One per federated search (its merged views); records are remembered by identity and kept alive.
    Safe to call from more than one thread (at worst a value is worked out twice).
    """

    def __init__(self) -> None:
        self._keys: dict[int, tuple[Record, MatchKeys]] = {}
        self._scores: dict[tuple[int, int], float | None] = {}
        self._conflicts: dict[tuple[int, int], str | None] = {}
        self._works: dict[tuple[int, ...], Work] = {}
        self._block_keys: dict[int, list[str]] = {}
        self._last: _Clustered | None = None  # the last merge's clusters, to re-cluster only what changed

    def _key(self, rec: Record) -> MatchKeys:
        known = self._keys.get(id(rec))
        if known is not None and known[0] is rec:
            return known[1]
        k = match_keys(rec)
        self._keys[id(rec)] = (rec, k)
        return k

    def _score(self, a: MatchKeys, b: MatchKeys) -> float | None:
        pair = (id(a), id(b))
        try:
            return self._scores[pair]
        except KeyError:
            s = self._scores[pair] = match_score(a, b)
            return s

    def _conflict(self, a: MatchKeys, b: MatchKeys) -> str | None:
        pair = (id(a), id(b))
        try:
            return self._conflicts[pair]
        except KeyError:
            c = self._conflicts[pair] = conflict(a, b)
            return c

    def _work(self, recs: list[Record]) -> Work:
        ident = tuple(id(r) for r in recs)
        known = self._works.get(ident)
        if known is None:
            known = self._works[ident] = build_work(recs)
        return replace(known)  # its own group_id: views already handed out keep theirs

    def _blocks(self, k: MatchKeys) -> list[str]:
        known = self._block_keys.get(id(k))
        if known is None:
            known = self._block_keys[id(k)] = blocking_keys(k)
        return known

    def merge(self, records: list[Record]) -> list[Work]:
        keys = [self._key(r) for r in records]
        groups = self._groups(records, keys)
        works = [self._work([records[i] for i in g]) for g in groups]
        group_editions(works, [[keys[i] for i in g] for g in groups])
        return works

    def _groups(self, records: list[Record], keys: list[MatchKeys]) -> list[list[int]]:
        """`cluster_keys(keys)`, re-clustering only the part of the records the new ones can change.

        Unions follow scored pairs only, so each connected part of the scored-pair graph is clustered on
        its own. A new record can change only the parts of the records it shares a block with (the whole
        block: a title block that grows past BIG_BLOCK is split by year, which changes its old pairs too).
        Those parts, with the new records, are clustered again with every block's size in the whole set;
        every other part keeps its clusters, as its blocks, and so its pairs, did not change.
        """
        ids = [id(r) for r in records]
        pos = {rid: i for i, rid in enumerate(ids)}
        last = self._last  # one read: another thread may replace it meanwhile
        if last is None or len(pos) != len(ids) or not last.ids <= pos.keys():
            return self._cluster(ids, keys, list(range(len(keys))), None, {})  # first, a record twice, or fewer
        new = [i for i, rid in enumerate(ids) if rid not in last.ids]
        blocks: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            for b in self._blocks(k):
                blocks.setdefault(b, []).append(i)
        touched = set(new)
        for i in new:
            for b in self._blocks(keys[i]):
                touched.update(blocks[b])
        part_ids = {ids[i] for i in touched}
        stack = list(part_ids)
        while stack:  # the whole old parts of the touched records
            for other in last.edges.get(stack.pop(), ()):
                if other not in part_ids:
                    part_ids.add(other)
                    stack.append(other)
        part = sorted(pos[rid] for rid in part_ids)
        kept = [[pos[rid] for rid in g] for g in last.groups if g[0] not in part_ids]
        edges = {rid: e for rid, e in last.edges.items() if rid not in part_ids}
        return self._cluster(ids, keys, part, {b: len(m) for b, m in blocks.items()}, edges, kept)

    def _cluster(self, ids: list[int], keys: list[MatchKeys], part: list[int], sizes: dict[str, int] | None,
                 edges: dict[int, list[int]], kept: list[list[int]] = ()) -> list[list[int]]:
        """Cluster the records at `part` (indexes, in order), add the clusters `kept`, remember the result."""
        scored: list[tuple[int, int]] = []
        found = cluster_keys([keys[i] for i in part], self._score, block_sizes=sizes, edges=scored,
                             conflicting=self._conflict, names=[record_key(self._keys[ids[i]][0]) for i in part])
        for a, b in scored:
            ra, rb = ids[part[a]], ids[part[b]]
            edges.setdefault(ra, []).append(rb)
            edges.setdefault(rb, []).append(ra)
        groups = [[part[j] for j in g] for g in found]
        groups.extend(sorted(g) for g in kept)
        groups.sort(key=lambda g: g[0])
        self._last = _Clustered(frozenset(ids), [tuple(ids[i] for i in g) for g in groups], edges)
        return groups
