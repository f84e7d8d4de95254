"""The vectors of an edition's row, as PostgreSQL reads them: written one entry per token (the server merges a
lexeme's entries) within the limits, grouped here past them (a lexeme with more positions than PostgreSQL keeps,
positions past the largest it keeps), and in both cases what a field's search finds."""

from __future__ import annotations

import psycopg

from dedup import merge
from dedup.work import build_work
from federator.rank import work_text
from indexer.backend import open_index
from indexer.pg import rows
from indexer.schema import search_fields
from records.model import AVAILABLE, Holding, Record
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles
from tests.marc_files import readable_records


def _vectors(w) -> tuple[rows._Vector, ...]:
    """The three vectors `rows.row` makes of a work."""
    return rows._vectors(search_fields(w), work_text(w))


def test_entries_per_token_read_as_the_grouped_vector(new_database):
    works = merge(plan_records(plan_catalogues(5, member_profiles(5), 120))) + merge(readable_records())
    pairs = [(v.literal(), v._grouped()) for w in works for v in _vectors(w)]
    assert sum(a != b for a, b in pairs) > len(pairs) // 2  # the two writings differ, mostly
    with psycopg.connect(new_database("casts")) as conn:
        for i in range(0, len(pairs), 500):
            chunk = pairs[i:i + 500]
            same = conn.execute("SELECT bool_and(CAST(a AS tsvector) = CAST(b AS tsvector)) "
                                "FROM unnest(CAST(%s AS text[]), CAST(%s AS text[])) AS t(a, b)",
                                ([a for a, _ in chunk], [b for _, b in chunk])).fetchone()[0]
            assert same


def test_a_vector_past_the_limits_keeps_each_fields_match(new_database):
    many = " ".join(["repeated"] * 400)  # more positions than a lexeme keeps
    long = " ".join(f"w{i}" for i in range(17000))  # positions past the largest kept
    rec = Record(member="THU", record_id="big1", syntax="marc21", title=f"{many} {long}", year=2001,
                 subjects=["repeated tail"], holdings=[Holding(member="THU", status=AVAILABLE)])
    w = build_work([rec])
    match = _vectors(w)[0]
    assert match.tokens > rows.MAX_POSITIONS and match.literal() == match._grouped()
    url = new_database("vectors")
    ix = open_index(url, create=True)
    ix.write(upsert=[w])
    ix.close()
    with psycopg.connect(url) as c:
        def found(q: str) -> bool:
            return c.execute("SELECT count(*) FROM editions WHERE doc @@ CAST(%s AS tsquery)", (q,)).fetchone()[0] == 1
        assert found("repeated:A") and found("repeated:C") and found("tail:C") and found("w16999:A")
        assert not found("tail:A")
        positions = c.execute("SELECT positions FROM editions, unnest(doc) WHERE lexeme = 'repeated'").fetchone()[0]
        assert len(positions) <= 256
