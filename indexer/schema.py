"""The local index's schema: one document per edition (dedup.Work), searchable fields and the stored Work.

Searchable text fields use `indexer.analysis` (the tokens live ranking scores). Identifier fields hold every
form a reader may type (ISBN-13, ISBN-10, as catalogued without hyphens). `f_*` keyword fields carry the facet
values exactly as `federator.facets` computes them for the Work (with "unknown" where it has none), so facet
counts and filters come from postings without loading any document. The whole Work is stored (compressed
JSON) so a result prints and serialises exactly as a live one. Pure functions; no I/O.
"""

from __future__ import annotations

import hashlib
import operator
import re
import zlib

import orjson
from whoosh import columns, fields

from dedup.work import Work
from federator import facets as facet_mod
from federator.rank import title_sort_key
from indexer.analysis import analyzer
from records.identifiers import isbn13 as to_isbn13
from records.model import Author, Holding, Isbn, Record, SerialHolding

SCHEMA_VERSION = 1
FACET_FIELDS = {f: f"f_{f}" for f in facet_mod.FACETS}  # facet name → keyword field
TEXT_FIELDS = ("title", "author", "subject", "other", "publisher")
NO_YEAR_DESC, NO_YEAR_ASC = -1, 99999  # works without a year sort last in both year orders
_NON_ISBN = re.compile(r"[^0-9Xx]")


def build_schema() -> fields.Schema:
    ana = analyzer()
    return fields.Schema(
        work_id=fields.ID(stored=True, unique=True, sortable=True),
        group_id=fields.ID(stored=True),
        title=fields.TEXT(analyzer=ana, phrase=True, field_boost=3.0),
        author=fields.TEXT(analyzer=ana, phrase=True, field_boost=2.0),
        subject=fields.TEXT(analyzer=ana, phrase=True, field_boost=1.5),
        other=fields.TEXT(analyzer=ana, phrase=True, field_boost=0.5),
        publisher=fields.TEXT(analyzer=ana, phrase=True, field_boost=1.0),
        isbn=fields.KEYWORD(lowercase=False),
        issn=fields.KEYWORD(lowercase=False),
        id=fields.KEYWORD(lowercase=True),
        year=fields.NUMERIC(int, bits=32, signed=True),
        year_desc=fields.NUMERIC(int, bits=32, signed=True, sortable=True),
        year_asc=fields.NUMERIC(int, bits=32, signed=True, sortable=True),
        title_key=fields.COLUMN(columns.VarBytesColumn()),
        holders=fields.NUMERIC(int, bits=32, sortable=True),
        hold_members=fields.COLUMN(columns.VarBytesColumn()),  # one member code per holding, for stats
        work=fields.STORED(),
        **{name: fields.KEYWORD(lowercase=False) for name in FACET_FIELDS.values()},
    )


# --------------------------------------------------------------------------- Work → document


def _joined(texts) -> str:
    return "\n".join(dict.fromkeys(t for t in texts if t))


def work_texts(w: Work) -> dict[str, str]:
    """The text of each searchable field, from every member record of the work: what members' own title, author,
    subject and keyword indexes cover (records.normalise collects it; docs/local-search.md lists it)."""
    d = w.display
    recs = w.records or [d]
    titles: list[str | None] = []
    for r in recs:
        titles += [r.title, r.subtitle, r.part, *r.parallel_titles, *r.vernacular_titles, *r.other_titles]
    other = [d.publisher, d.place, d.edition, *d.series, *(c for cs in d.classification.values() for c in cs)]
    for r in recs:
        other += [r.title_pinyin, r.publisher, r.place, r.edition, r.extent, *r.series, *r.keywords]
    return {
        "title": _joined(titles),
        "author": _joined([*(a.name for r in recs for a in r.authors), *(n for r in recs for n in r.other_names)]),
        "subject": _joined(s for r in recs for s in (*r.subjects, *r.subject_terms)),
        "other": _joined(other),
        "publisher": _joined(r.publisher for r in recs),
    }


def isbn_terms(w: Work) -> set[str]:
    """Every form of the work's ISBNs a reader may type, compacted: ISBN-13, ISBN-10, as catalogued."""
    out = set(w.isbns)
    for r in w.records or [w.display]:
        for i in r.isbns:
            if i.isbn13:
                out.add(i.isbn13)
            raw = _NON_ISBN.sub("", i.raw).upper()
            if raw:
                out.add(raw)
    for i13 in list(out):
        if len(i13) == 13 and i13.startswith("978"):
            body = i13[3:12]
            check = sum((10 - k) * int(c) for k, c in enumerate(body)) % 11
            out.add(body + ("X" if (11 - check) % 11 == 10 else str((11 - check) % 11)))
    return out


def isbn_query_term(text: str) -> str:
    """The term an ISBN typed in any form is looked up by (ISBN-13 when it is a valid ISBN)."""
    return to_isbn13(text) or _NON_ISBN.sub("", text).upper()


def issn_term(text: str) -> str:
    return _NON_ISBN.sub("", text).upper()


def facet_values(w: Work) -> dict[str, list[str]]:
    """Each facet's values for the work, as federator.facets counts them; the year facet holds the year."""
    out = {}
    for facet in facet_mod.FACETS:
        if facet == "year":
            year = facet_mod.work_year(w)  # the facet module's own rule (display year, else a record's)
            out[facet] = [str(year) if year is not None else facet_mod.UNKNOWN]
        else:
            out[facet] = list(facet_mod.facet_values(w, facet))
    return out


def work_year(w: Work) -> int | None:
    return facet_mod.work_year(w)


def search_fields(w: Work) -> dict:
    """What every index keeps of a work: its ids, identifiers, the stored Work and each searchable field's
    text (the PostgreSQL row is made from these; the whoosh document adds its sort and facet fields)."""
    recs = w.records or [w.display]
    ids = {r.record_id for r in recs} | {f"{r.member}:{r.record_id}" for r in recs}
    doc = {
        "work_id": w.work_id,
        "group_id": w.group_id,
        "isbn": " ".join(sorted(isbn_terms(w))),
        "issn": " ".join(sorted({issn_term(x) for r in recs for x in r.issns} - {""})),
        "id": " ".join(sorted(i.replace(" ", "") for i in ids)),
        "work": dump_work(w),
    }
    for name, text in work_texts(w).items():
        if text:
            doc[name] = text
    return doc


def document(w: Work) -> dict:
    """The whoosh document of a work: its search fields, sort keys and facet values."""
    doc = search_fields(w)
    year = work_year(w)
    doc.update({
        "year_desc": year if year is not None else NO_YEAR_DESC,
        "year_asc": year if year is not None else NO_YEAR_ASC,
        "title_key": title_sort_key(w.display.title).encode("utf-8"),
        "holders": len(w.members),
        "hold_members": " ".join(h.member for h in w.holdings).encode("utf-8"),
    })
    if year is not None:
        doc["year"] = year
    for facet, values in facet_values(w).items():
        doc[FACET_FIELDS[facet]] = " ".join(v.replace(" ", "_") for v in values)
    return doc


# --------------------------------------------------------------------------- stored Work


# Text only the search fields read (records.normalise collects it for the title, author, subject and word
# indexes); not kept in the stored Work, which is for showing editions, only a digest of it (so a harvest that
# compares stored works still sees a change to it). Documents are made from the harvest store's full records.
SEARCH_ONLY = ("other_titles", "other_names", "subject_terms", "keywords")
_RECORD_FIELDS = [f for f in Record.__dataclass_fields__ if f not in SEARCH_ONLY]
_HOLDING_FIELDS = [f for f in Holding.__dataclass_fields__]
_RECORD_VALUES = operator.attrgetter(*_RECORD_FIELDS)  # every kept field's value at once
_HOLDING_VALUES = operator.attrgetter(*_HOLDING_FIELDS)
_EMPTY = (None, [], {})  # values a stored record leaves out


def _holding_out(h: Holding) -> list:
    return list(_HOLDING_VALUES(h))


def _holding_in(v: list) -> Holding:
    return Holding(*v)


def _record_out(r: Record, *, holdings: bool = True) -> dict:
    out = {}
    for f, v in zip(_RECORD_FIELDS, _RECORD_VALUES(r), strict=True):
        if v in _EMPTY:
            continue
        if f == "authors":
            v = [[a.name, a.role, a.kind] for a in v]
        elif f == "isbns":
            v = [[i.raw, i.isbn13, i.qualifier, i.valid] for i in v]
        elif f == "holdings":
            if not holdings:
                continue
            v = [_holding_out(h) for h in v]
        out[f] = v
    return out


def _record_in(d: dict) -> Record:
    kw = dict(d)
    if "authors" in kw:
        kw["authors"] = [Author(*a) for a in kw["authors"]]
    if "isbns" in kw:
        kw["isbns"] = [Isbn(*i) for i in kw["isbns"]]
    if "holdings" in kw:
        kw["holdings"] = [_holding_in(h) for h in kw["holdings"]]
    if "serial_holdings" in kw:  # SerialHolding tuples, kept as JSON lists
        kw["serial_holdings"] = [SerialHolding(*s) for s in kw["serial_holdings"]]
    return Record(**kw)


def _search_digest(records: list[Record]) -> str:
    h = hashlib.blake2b(digest_size=8)
    for r in records:
        for name in SEARCH_ONLY:
            h.update("\x1f".join(getattr(r, name)).encode("utf-8"))
            h.update(b"\x1e")
    return h.hexdigest()


def work_digest(stored: bytes) -> str:
    """The digest of a work as stored (`dump_work`): the harvest compares it with what the index holds, so
    that only editions that really changed are written. Every index phase and both stores use this one."""
    return hashlib.blake2b(stored, digest_size=16).hexdigest()


def dump_work(w: Work) -> bytes:
    """The Work as compressed JSON (version 1); `load_work` gives back an equal Work, but for the text only
    search reads (`SEARCH_ONLY`), of which the JSON keeps a digest."""
    doc = {
        "v": SCHEMA_VERSION,
        "work_id": w.work_id,
        "group_id": w.group_id,
        "isbns": list(w.isbns),
        "holdings": [_holding_out(h) for h in w.holdings],
        "display": _record_out(w.display, holdings=False),
        "display_holdings": None if list(w.display.holdings) == list(w.holdings)
        else [_holding_out(h) for h in w.display.holdings],
        "records": [_record_out(r) for r in w.records],
        "search": _search_digest(w.records),
    }
    # orjson writes the bytes json.dumps(doc, ensure_ascii=False, separators=(",", ":")) gives, four times as fast
    # (decision 0028): the digests of works stored before stay those of the same works now
    return zlib.compress(orjson.dumps(doc, default=_json_list), 6)


def _json_list(value: object) -> list:
    """What orjson does not write itself: named tuples (`SerialHolding`), written as lists as json.dumps does."""
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"a stored work cannot hold a {type(value).__name__}")


def load_work(blob: bytes) -> Work:
    doc = orjson.loads(zlib.decompress(blob))
    holdings = [_holding_in(h) for h in doc["holdings"]]
    display = _record_in(doc["display"])
    dh = doc.get("display_holdings")
    display.holdings = list(holdings) if dh is None else [_holding_in(h) for h in dh]
    return Work(work_id=doc["work_id"], display=display, records=[_record_in(r) for r in doc["records"]],
                holdings=holdings, isbns=list(doc["isbns"]), group_id=doc.get("group_id", ""))
