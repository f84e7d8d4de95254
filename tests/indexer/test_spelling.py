"""Did you mean: the PostgreSQL union index offers the spellings the whoosh index offers for the same editions,
and keeps its word counts right as the index is written (indexer/spelling.py, indexer/pg/terms.py, migration 0006).

A generated consortium (the test bed's generator, no member servers) is written into a whoosh folder and into a
fresh PostgreSQL database; words of its titles, authors and subjects are misspelt and both are asked.
"""

from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest

from dedup import merge
from indexer.backend import open_index, open_searcher
from indexer.index import LocalIndex
from indexer.pg.index import connection_url
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles

RECOUNT = """
    SELECT w.weight, l.lexeme, count(*), sum(w.n) FROM editions e CROSS JOIN LATERAL unnest(e.doc) AS l
    CROSS JOIN LATERAL (SELECT x AS weight, count(*) AS n FROM unnest(l.weights) AS x WHERE x IN ('A', 'B', 'C')
                        GROUP BY x) AS w
    WHERE l.lexeme ~ '[a-z].*[a-z]' GROUP BY 1, 2"""


@pytest.fixture(scope="module")
def works():
    return merge(plan_records(plan_catalogues(37, member_profiles(5), 300)))


@pytest.fixture(scope="module")
def folder(works, tmp_path_factory):
    path = tmp_path_factory.mktemp("whoosh-spelling")
    ix = open_index(path, create=True)
    ix.rebuild(works)
    ix.close()
    return path


@pytest.fixture(scope="module")
def database(works, index_database):
    ix = open_index(index_database, create=True)
    ix.rebuild(works)
    ix.close()
    return index_database


def latin_words(folder) -> list[str]:
    """The Latin words of four letters or more in the whoosh index's titles, authors and subjects."""
    ix = LocalIndex.open(folder)
    try:
        with ix.whoosh.reader() as reader:
            words = {w.decode() if isinstance(w, bytes) else w for f in ("title", "author", "subject")
                     for w in reader.lexicon(f)}
    finally:
        ix.close()
    return sorted(w for w in words if w.isascii() and w.isalpha() and len(w) >= 4)


def misspelt(words: list[str]) -> list[str]:
    """Of ten words spread over the list, each with a letter left out, two letters swapped, a letter changed and
    one added: the ones no field holds."""
    known = set(words)
    out = []
    for w in words[::max(1, len(words) // 10)]:
        for typo in (w[0] + w[2:], w[1] + w[0] + w[2:], w[:-1] + ("q" if w[-1] != "q" else "x"), w[:2] + "e" + w[2:]):
            if typo not in known and len(typo) >= 4:
                out.append(typo)
    return sorted(set(out))


def recount(url: str) -> set[tuple]:
    with psycopg.connect(connection_url(url)) as conn:
        return {tuple(r) for r in conn.execute(RECOUNT)}


def kept(url: str) -> set[tuple]:
    with psycopg.connect(connection_url(url)) as conn:
        return {tuple(r) for r in conn.execute("SELECT field, word, docs, occurrences FROM index_terms")}


def both_suggest(folder, database, cases: list[list[str]]) -> tuple[list, list]:
    with open_searcher(folder) as whoosh, open_searcher(database) as pg:
        return [whoosh.suggest(c) for c in cases], [pg.suggest(c) for c in cases]


def test_both_backends_offer_the_same_spellings(folder, database):
    words = latin_words(folder)
    assert len(words) > 20, words
    typos = misspelt(words)
    cases = [[t] for t in typos] + [["中国", t] for t in typos[:3]] + [[a, b] for a, b in zip(typos[::9], typos[4::9],
                                                                                                strict=False)]
    expected, got = both_suggest(folder, database, cases)
    assert got == expected
    offered = [e for e in expected if e]
    assert len(offered) > len(cases) // 2, "most misspellings of the index's own words find a spelling"
    assert any(len(e) > 1 for e in offered), "some find more than one"


def test_words_the_index_holds_and_chinese_words_are_not_corrected(folder, database):
    word = latin_words(folder)[0]
    assert both_suggest(folder, database, [[word], ["中国历史"], ["数据結購"], ["abc"], ["1999"]]) == ([[]] * 5,) * 2


def test_the_word_counts_follow_writes(works, folder, database):
    """Editions deleted, replaced and added change the counts as a count from scratch gives them, and both
    backends still agree after the same write."""
    assert kept(database) == recount(database) and kept(database)
    gone = [w.work_id for w in works[:40]]
    renamed = [replace(w, records=[replace(r, title=f"{r.title} Historiography of Librarianship") for r in w.records])
               for w in works[40:60]]
    for location in (folder, database):
        ix = open_index(location)
        try:
            ix.write(upsert=renamed, delete=gone)
        finally:
            ix.close()
    assert kept(database) == recount(database)
    expected, got = both_suggest(folder, database, [["historiograhpy"], ["librarianshp"], ["Librarinship"]])
    assert got == expected and all(expected)
    with psycopg.connect(connection_url(database)) as conn:  # TRUNCATE empties them (rolled back)
        conn.execute("TRUNCATE editions CASCADE")
        assert conn.execute("SELECT count(*) FROM index_terms").fetchone()[0] == 0
        conn.rollback()
    assert kept(database) == recount(database)


def test_an_index_made_before_the_word_counts_gets_them_when_it_is_opened(works, new_database):
    """Migration 0006 counts the words of the editions an older index already holds."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from indexer.pg.index import PgIndex, _config, connect

    url = new_database("spelling_old")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), poolclass=NullPool)
    cfg = _config()
    with engine.begin() as conn:
        MigrationContext.configure(conn, opts={"version_table": "index_alembic_version"})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    engine.dispose()
    old = PgIndex(url, connect(url))
    old.write(upsert=works[:200])
    old.close()
    with open_index(url):  # a writer opens it: the schema is brought up to date
        pass
    assert kept(url) == recount(url) and kept(url)
