"""Small hand-made editions for ranking and facet tests (no servers: ranking is a pure function)."""

from __future__ import annotations

import itertools

import pytest

from dedup.work import Work, build_work
from records.model import AVAILABLE, Author, Holding, Record

_ids = itertools.count(1)


def rec(title: str, *, member: str = "THU", authors: tuple[str, ...] = (), subjects: tuple[str, ...] = (),
        subtitle: str | None = None, year: int | None = None, language: str | None = None,
        material_type: str = "book", clc: tuple[str, ...] = (), publisher: str | None = None,
        syntax: str = "unimarc") -> Record:
    """A member record with one available copy at its member."""
    rid = f"r{next(_ids)}"
    return Record(member=member, record_id=rid, syntax=syntax, title=title, subtitle=subtitle,
                  authors=[Author(a) for a in authors], subjects=list(subjects), year=year, language=language,
                  material_type=material_type, publisher=publisher,
                  classification={"clc": list(clc)} if clc else {},
                  holdings=[Holding(member=member, status=AVAILABLE)])


def work(title: str, *, members: tuple[str, ...] = ("THU",), **kw) -> Work:
    """One edition held at each of `members` (one record per member)."""
    return build_work([rec(title, member=m, **kw) for m in members])


@pytest.fixture(scope="session")
def make_work():
    return work


@pytest.fixture(scope="session")
def make_rec():
    return rec
