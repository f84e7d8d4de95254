"""The one record model every member's MARC is normalised into."""

from __future__ import annotations

from collections import deque
from dataclasses import MISSING, asdict, dataclass, field
from itertools import repeat
from typing import NamedTuple

# Item statuses a holding can have; members' own codes are mapped onto these.
AVAILABLE = "available"
ON_LOAN = "on_loan"
IN_TRANSIT = "in_transit"  # between branches: not on the shelf, back soon
ON_HOLD = "on_hold"  # on the hold shelf for a reader: not on the shelf
NOT_FOR_LOAN = "not_for_loan"
UNKNOWN = "unknown"  # never read as available
ITEM_STATUSES = (AVAILABLE, ON_LOAN, IN_TRANSIT, ON_HOLD, NOT_FOR_LOAN, UNKNOWN)


@dataclass(frozen=True, slots=True)
class Holding:
    """One copy at one member: where it stands and whether it can circulate."""

    member: str
    call_number: str | None = None
    location: str | None = None
    status: str = UNKNOWN
    due_date: str | None = None  # ISO date when on loan
    barcode: str | None = None
    library: str | None = None  # the branch within the member (Koha 952$a, Alma AVA$b, 汇文 馆藏地)
    status_word: str | None = None  # the member's own status word, as sent ("Checked out", "在架")

    def __setstate__(self, state) -> None:
        """Read back a pickled Holding, also one stored before `library` and `status_word` existed."""
        values = list(state) if isinstance(state, (list, tuple)) else []
        if len(values) == len(_HOLDING_FIELDS):  # as pickled now: every field, in order (set in C, no loop here)
            deque(map(object.__setattr__, repeat(self), _HOLDING_FIELDS, values), 0)
            return
        for i, (name, f) in enumerate(self.__dataclass_fields__.items()):
            object.__setattr__(self, name, values[i] if i < len(values) else f.default)


_HOLDING_FIELDS = tuple(Holding.__dataclass_fields__)  # in order, as a pickled Holding keeps its values


class SerialHolding(NamedTuple):
    """A member's statement of the volumes of a serial it holds in print, as written (MARC 866, 863/853 rendered,
    852 $3); `coverage` reads it (records/coverage.py). A tuple, so the union index keeps it as a JSON list."""

    member: str
    statement: str
    location: str | None = None
    call_number: str | None = None
    source: str = ""  # the field it came from: 866, 863, 852$3

    @property
    def coverage(self):
        """The years, volumes and gaps the statement names (records.coverage.Coverage)."""
        from records.coverage import parse_coverage

        return parse_coverage(self.statement)


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    role: str | None = None  # relator term or code as catalogued (e.g. "著", "译", "aut")
    kind: str = "person"  # person | corporate | meeting


@dataclass(frozen=True, slots=True)
class Isbn:
    """An ISBN as catalogued: `isbn13` is the normalised form when valid, else None."""

    raw: str
    isbn13: str | None
    qualifier: str | None = None  # e.g. "pbk.", "平装", "v. 1"
    valid: bool = True


@dataclass(slots=True)
class Record:
    """A member's bibliographic record with its holdings, in one shape for MARC21 and CNMARC."""

    member: str
    record_id: str
    syntax: str  # marc21 | unimarc
    title: str = ""
    subtitle: str | None = None
    part: str | None = None  # volume / part designation (上册, v. 1)
    parallel_titles: list[str] = field(default_factory=list)
    vernacular_titles: list[str] = field(default_factory=list)  # 880 fields
    title_pinyin: str | None = None  # CNMARC 200$A and friends, kept apart from matching
    authors: list[Author] = field(default_factory=list)
    edition: str | None = None
    publisher: str | None = None
    place: str | None = None
    year: int | None = None
    date_text: str | None = None  # the date as catalogued ("2009印刷", "c1998")
    extent: str | None = None
    isbns: list[Isbn] = field(default_factory=list)
    issns: list[str] = field(default_factory=list)
    lccn: str | None = None
    national_number: str | None = None  # CNMARC 001/ 020 national bibliography number
    language: str | None = None  # ISO 639-2 code
    material_type: str = "book"  # book | ebook | serial | ejournal | audio | video | map | score | large_print | other
    subjects: list[str] = field(default_factory=list)
    classification: dict[str, list[str]] = field(default_factory=dict)  # clc / lcc / ddc
    series: list[str] = field(default_factory=list)
    holdings: list[Holding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what normalisation had to repair
    sort_title: str | None = None  # the title proper without its non-filing article (245 ind2, NSB/NSE)
    vernacular_parts: list[str] = field(default_factory=list)  # 880 of the 245: [title, subtitle, part]
    vernacular_publisher: str | None = None  # the publisher in the 880 linked to 260/264
    succession_titles: list[str] = field(default_factory=list)  # the serial it continues / is continued by (780/785; CNMARC 430-448)
    # what members' OPAC indexes cover beyond the fields above (indexed, not shown; docs/local-search.md)
    other_titles: list[str] = field(default_factory=list)  # 130/24x/series/7xx/6xx $t; CNMARC 225/4xx/5xx
    other_names: list[str] = field(default_factory=list)  # 720, 8xx names, 880s of them, full 1xx/7xx headings
    subject_terms: list[str] = field(default_factory=list)  # every 6xx and its 880; CNMARC 60x, 610, 690
    keywords: list[str] = field(default_factory=list)  # the rest of the descriptive fields' text, for `any`
    serial_holdings: list[SerialHolding] = field(default_factory=list)  # print runs of a serial (records/coverage.py)

    def __setstate__(self, state) -> None:
        """Read back a pickled Record, also one stored before the model gained its newest fields (they
        get their defaults): pickle keeps a slotted object's state as (None, {slot: value})."""
        slots = state[1] if isinstance(state, tuple) and len(state) == 2 else state
        if slots.keys() == _RECORD_FIELDS:  # as pickled now: every field (set in C; a harvest reads millions)
            deque(map(object.__setattr__, repeat(self), slots.keys(), slots.values()), 0)
            return
        for name, f in self.__dataclass_fields__.items():
            if name in slots:
                value = slots[name]
            else:
                value = f.default_factory() if f.default_factory is not MISSING else f.default
            object.__setattr__(self, name, value)

    @property
    def isbn13s(self) -> list[str]:
        return [i.isbn13 for i in self.isbns if i.isbn13]

    def to_dict(self) -> dict:
        return asdict(self)


_RECORD_FIELDS = frozenset(Record.__dataclass_fields__)  # the slots a pickled Record keeps when it has them all
