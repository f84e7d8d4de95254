"""Clustering member records into editions: block, score the pairs in each block, union the best first.

Blocking puts together records that share an identifier (ISBN-13, ISSN, LCCN, national bibliography
number) or a folded title key, so only plausible pairs are scored. The union-find is constrained:
two clusters join only when no record of one conflicts with any record of the other, so a record
without an ISBN cannot chain two editions with different ISBNs (or 上册 and 下册) into one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from itertools import combinations

from dedup.keys import MatchKeys, match_keys, pinyin_key
from dedup.score import conflict, match_score
from records.model import Record

BIG_BLOCK = 48  # a title key shared by more records than this is split by year
# A title prefix or suffix, creator or page-count block of more records than this is not compared at all: such a
# key says too little ("…研究" in one year holds tens of thousands of records of a million-record catalogue, and
# comparing them all takes hours), and its records meet their copies through their other keys.
FUZZY_MAX = 100
FUZZY = ("tp:", "ts:", "au:", "ex:")


PREFIX = 8  # characters of a Latin-script title that make its prefix and suffix blocks (CJK: PREFIX_CJK)
PREFIX_CJK = 3
YEAR_UNKNOWN = "*"  # the year part of the fuzzy blocks every record is in, for pairs with a record of no year


def _block_parts(k: MatchKeys) -> tuple[list[str], list[str], tuple]:
    """(exact keys, fuzzy keys without their year, the years those carry): see `blocking_keys`."""
    keys = [f"isbn:{i}" for i in k.isbns]
    keys.extend(k.ids)
    title = k.title.replace(" ", "")
    if not title:
        return keys, [], ()
    keys.append(f"title:{title}")
    keys.extend(f"title:{h}" for h in sorted(k.heads - {title}))  # "Gu gong. Shi er ji …" meets "Gu gong"
    if k.cjk:  # where a record that has only the romanisation of the title (no 880) files: 故宫 = Gu gong
        keys.append(f"title:{pinyin_key(title)}")
    if k.wade and k.wade != title:  # where a Wade-Giles record files: 故宫 = Gu gong = Ku kung
        keys.append(f"title:{k.wade}")
    if k.skeleton_proper:  # سحر البيان and "Siḥr al-Bayān" file together under their consonants
        keys.append(f"title:sk:{k.skeleton_proper}")
    fuzzy = []
    for text, cjk in ((title, k.cjk), (k.romanised_proper, False)):  # a romanised 245 beside an 880 too
        n = PREFIX_CJK if cjk else PREFIX
        if len(text) > n:
            fuzzy += [f"tp:{text[:n]}", f"ts:{text[-n:]}"]
    initials = {title[0], k.romanised_proper[:1]} - {""}
    if k.cjk:
        initials.add(pinyin_key(title[0])[:1])  # where a romanised record of the book files
    for initial in sorted(initials):
        if k.authors:
            fuzzy += [f"au:{a.replace(' ', '')}|{initial}" for a in sorted(k.authors)[:3]]
        elif k.pages:
            fuzzy.append(f"ex:{k.pages}|{initial}")
    return keys, fuzzy, ("-",) if k.year is None else (k.year, k.year + 1)


def blocking_keys(k: MatchKeys) -> list[str]:
    """The blocks a record falls into: each identifier; its folded title (split by year when the block is
    big), each form of it cut where a subtitle may begin, and a CJK title in pinyin too; and, so that a typo,
    an article or another subtitle does not keep two records from ever being compared, the beginning and the
    end of its title proper (`tp:`, `ts:`), each creator with the title's first character (`au:`), or its
    page count when it names no creator (`ex:`). Those carry the year and the year after, so records a year
    apart share one, and a year wildcard (`*`), so that a record whose year is unknown (a short 008, no date
    in 260) meets the others: in a wildcard block only pairs with such a record are compared."""
    keys, fuzzy, years = _block_parts(k)
    keys.extend(f"{key}|{y}" for key in fuzzy for y in (*years, YEAR_UNKNOWN))
    return keys


def _subblocks(keys: Sequence[MatchKeys], block_sizes: Mapping[str, int] | None
               ) -> Iterator[tuple[list[int], list[int] | None]]:
    """The sets of records compared with one another, as (sorted indexes, None), or, for a wildcard block, as
    (indexes, the indexes of its records without a year): there only pairs with such a record are compared.
    A big title block comes as its year parts (each year with the next); a fuzzy block past FUZZY_MAX, and a
    block of one record, is left out. `block_sizes`: see `candidate_pairs`."""
    blocks: dict[str, list[int]] = defaultdict(list)
    parts = [_block_parts(k) for k in keys]
    # the wildcard blocks (`blocking_keys`) are built only where a record without a year can use them
    undated = {f for k, (_keys, fuzzy, _years) in zip(keys, parts, strict=True) if k.year is None for f in fuzzy}
    for i, (exact, fuzzy, years) in enumerate(parts):
        for b in exact:
            blocks[b].append(i)
        for f in fuzzy:
            for y in years:
                blocks[f"{f}|{y}"].append(i)
            if f in undated:
                blocks[f"{f}|{YEAR_UNKNOWN}"].append(i)
    del parts
    for name, members in blocks.items():
        if len(members) < 2:
            continue
        size = len(members) if block_sizes is None else max(len(members), block_sizes.get(name, 0))
        if size > FUZZY_MAX and name.startswith(FUZZY):
            continue
        if name.endswith("|" + YEAR_UNKNOWN):
            yield members, [i for i in members if keys[i].year is None]
            continue
        if size > BIG_BLOCK and name.startswith("title:"):
            by_year: dict[int | None, list[int]] = defaultdict(list)
            for i in members:
                by_year[keys[i].year].append(i)
            for y, group in by_year.items():
                if y is not None:
                    group = sorted(group + by_year.get(y + 1, []))
                if len(group) > 1:
                    yield group, None
        else:
            yield members, None


def block_limit(key: str) -> int | None:
    """The size past which a block of this key is compared otherwise: a `title:` block by year (BIG_BLOCK), a
    fuzzy block not at all (FUZZY_MAX); None: any size is compared whole. The harvest remembers the sizes of
    such blocks, since whether a block has crossed its limit changes the pairs of all its records."""
    if key.startswith("title:"):
        return BIG_BLOCK
    if key.startswith(FUZZY):
        return FUZZY_MAX
    return None


def candidate_pairs(keys: Sequence[MatchKeys], block_sizes: Mapping[str, int] | None = None,
                    touching: AbstractSet[int] | None = None) -> set[tuple[int, int]]:
    """Index pairs (i < j) that share a block.

    `block_sizes`: how many records each block holds in the whole catalogue, when `keys` is part of it (the
    harvest re-merging what changed): a big title block is split by year, and a big fuzzy block left out, as
    in a full merge.
    `touching`: only the pairs with at least one of these indexes (the harvest's changed records among the
    records they can meet), found without going through the others' pairs."""
    pairs: set[tuple[int, int]] = set()
    for members, unknown in _subblocks(keys, block_sizes):
        if unknown is not None:  # only the records without a year against the others
            known = [i for i in members if keys[i].year is not None]
            for x, a in enumerate(unknown):
                for b in unknown[x + 1:] + known:
                    if touching is None or a in touching or b in touching:
                        pairs.add((a, b) if a < b else (b, a))
        elif touching is not None:
            for a in (i for i in members if i in touching):
                for b in members:
                    if a != b:
                        pairs.add((a, b) if a < b else (b, a))
        else:
            pairs.update(combinations(sorted(set(members)), 2))  # (a, b) with a < b, made in C
    return pairs


def scored_pairs(keys: Sequence[MatchKeys], score=match_score,
                 block_sizes: Mapping[str, int] | None = None) -> list[tuple[int, int, float]]:
    """(i, j, score) for each pair i < j of `candidate_pairs(keys, block_sizes)` that scores.

    The same pairs, without holding them all: each record's candidates are gathered and scored in turn, so
    memory grows with the records and the pairs that score, not with every candidate pair (tens of millions
    in a catalogue of a million records, of which a few in a hundred score)."""
    blocks = list(_subblocks(keys, block_sizes))
    of: list[list[int]] = [[] for _ in keys]  # the blocks of each record
    for b, (members, _unknown) in enumerate(blocks):
        for i in members:
            of[i].append(b)
    out = []
    near: set[int] = set()
    for i, mine in enumerate(of):
        if not mine:
            continue
        dated = keys[i].year is not None
        for b in mine:
            members, unknown = blocks[b]
            later = unknown if dated and unknown is not None else members
            near.update(later[bisect_right(later, i):])  # each pair once, from its first record
        ki = keys[i]
        for j in near:
            s = score(ki, keys[j])
            if s is not None:
                out.append((i, j, s))
        near.clear()
        of[i] = None  # a record's blocks are not read again
    return out


class _Clusters:
    """Union-find whose unions are refused when the two clusters hold conflicting records."""

    def __init__(self, keys: Sequence[MatchKeys], conflicting=conflict) -> None:
        self.keys = keys
        self.conflict = conflicting
        self.parent = list(range(len(keys)))
        self.members: dict[int, list[int]] = {i: [i] for i in range(len(keys))}

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def compatible(self, ra: int, rb: int) -> bool:
        keys, conflicting = self.keys, self.conflict
        return all(conflicting(keys[x], keys[y]) is None for x in self.members[ra] for y in self.members[rb])

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if not self.compatible(ra, rb):
            return False
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra].extend(self.members.pop(rb))
        return True

    def groups(self) -> list[list[int]]:
        out = [sorted(m) for m in self.members.values()]
        out.sort(key=lambda g: g[0])
        return out


def cluster_keys(keys: Sequence[MatchKeys], score=match_score, *, block_sizes: Mapping[str, int] | None = None,
                 edges: list[tuple[int, int]] | None = None, conflicting=conflict,
                 names: Sequence[str] | None = None) -> list[list[int]]:
    """Editions as lists of indexes into `keys` (every index in exactly one list, ordered by first index).

    `names`: a name per record (MEMBER:record_id) that orders pairs of equal score, so that the editions do
    not depend on the order the records came in (a live search's answers against `balis dedup` of a file).

    `score(a, b)` is `match_score`, or one that remembers it (dedup.work.Merger); `conflicting(a, b)` is
    `dedup.score.conflict`, or one that remembers it. Pairs that score (the only ones a union can follow)
    are appended to `edges` when given: clusters never cross the connected parts of that graph, so a part
    can be re-merged alone (the harvest, indexer/harvest.py; dedup.work.Merger)."""
    scored = []
    for a, b, s in scored_pairs(keys, score, block_sizes):
        x, y = (names[a], names[b]) if names is not None else (a, b)
        scored.append((-s, min(x, y), max(x, y), a, b))
        if edges is not None:
            edges.append((a, b))
    scored.sort()  # the best pairs first; equal scores in the order of the records' names, not positions
    uf = _Clusters(keys, conflicting)
    for *_order, a, b in scored:
        uf.union(a, b)
    return uf.groups()


def cluster(records: list[Record]) -> list[list[int]]:
    """Indexes of the records forming each edition; singletons included, in order of first appearance."""
    return cluster_keys([match_keys(r) for r in records], names=[f"{r.member}:{r.record_id}" for r in records])
