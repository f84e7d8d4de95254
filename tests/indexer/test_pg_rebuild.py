"""A PostgreSQL rebuild (new tables loaded with COPY FREEZE, indexed after, swapped in) writes exactly the rows
that writing the same works edition by edition writes, keeps the schema the migrations made, and leaves the
old index whole when it fails."""

from __future__ import annotations

import psycopg
import pytest

from dedup import merge
from dedup.work import build_work
from federator.rank import work_text
from indexer.backend import open_index
from indexer.pg import rows
from indexer.schema import facet_values, search_fields
from records.model import AVAILABLE, Author, Holding, Record
from testbed.generate import plan_catalogues, plan_records
from testbed.members import member_profiles

AWKWARD = ["Tabs\tand\\backslashes", 'Quotes "in" {braces, commas}', "Lines\nand\r returns", "NULL", "\\N",
           "繁體書名：資料結構", "Ünïcödé façade ﬁ"]


@pytest.fixture(scope="module")
def works():
    return awkward_works()


def awkward_works() -> list:
    """A small consortium's editions, and editions whose texts COPY must escape."""
    plan = plan_catalogues(17, member_profiles(5), 150)
    made = merge(plan_records(plan))
    for i, title in enumerate(AWKWARD):
        rec = Record(member="THU", record_id=f"awk{i}", syntax="marc21", title=title, subtitle=title,
                     authors=[Author(title)], publisher=title, subjects=[title, "a | b"], year=2000 + i,
                     holdings=[Holding(member="THU", call_number=title, status=AVAILABLE, barcode=f"b{i}\t")])
        made.append(build_work([rec]))
    return made


@pytest.fixture()
def databases(index_database):
    server, name = index_database.rsplit("/", 1)
    made = [f"{name}_{k}" for k in ("a", "b")]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        for db in made:
            admin.execute(f'CREATE DATABASE "{db}"')
    yield [f"{server}/{db}" for db in made]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        for db in made:
            admin.execute(f'DROP DATABASE "{db}" WITH (FORCE)')


def content(url: str) -> dict[str, list[bytes]]:
    """Every row of the index's two tables, as COPY writes them, in a stable order."""
    out = {}
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for table in ("editions", "holdings"):
            with cur.copy(f"COPY {table} TO STDOUT") as copy:
                out[table] = sorted(b"".join(bytes(b) for b in copy).split(b"\n"))
    return out


def schema(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() UNION ALL "
            "SELECT 'constraint', conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = "
            "CAST(current_schema() AS regnamespace) UNION ALL SELECT 'table', relname, '' FROM pg_class WHERE "
            "relkind = 'r' AND relnamespace = CAST(current_schema() AS regnamespace) ORDER BY 1, 2").fetchall()


@pytest.mark.parametrize("processes", [0, 1])
def test_a_rebuild_writes_what_editions_written_one_by_one_write(works, databases, processes, monkeypatch):
    monkeypatch.setattr(rows, "PARALLEL_FROM", 20)  # the worker process path on a small consortium
    rebuilt, written = databases
    ix = open_index(rebuilt, create=True)
    ix.write(upsert=works[:5])  # replaced by the rebuild
    assert ix.rebuild(works, processes=processes) == {"documents": len(works)}
    ix.close()
    ix = open_index(written, create=True)
    ix.write(upsert=works)
    ix.close()
    got, expected = content(rebuilt), content(written)
    assert len(got["editions"]) == len(works) + 1  # and the empty line after the last
    assert got == expected
    assert schema(rebuilt) == schema(written)  # the same tables, indexes, keys and names; nothing left staged


def test_array_columns_hold_each_works_values_as_written(works, databases):
    """The array columns (sent to COPY as literals) read back as the values themselves: quotes, braces, commas,
    backslashes, "NULL", CJK and empty arrays included."""
    url = databases[0]
    odd = [build_work([Record(member="PKU", record_id=rid, syntax="marc21", title=f"C# {rid}", year=2001,
                              holdings=[Holding(member="PKU", status=AVAILABLE)])])
           for rid in ('ocm"1"{2,3}', "back\\slash", "NULL", "\\N", "甲,乙")]
    works = [*works, *odd]
    ix = open_index(url, create=True)
    ix.write(upsert=works)
    ix.close()
    with psycopg.connect(url) as conn:
        got = {r[0]: list(r[1:]) for r in conn.execute(
            "SELECT work_id, exact_titles, title_tokens, isbns, issns, ids, f_member, f_language, f_material_type, "
            "f_clc FROM editions")}
    assert {"c#", "ocm\"1\"{2,3}", "back\\slash", "null", "\\n"} <= {v for r in got.values() for a in r for v in a}
    for w in works:
        wt, doc, facets = work_text(w), search_fields(w), facet_values(w)
        assert got[w.work_id] == [sorted(wt.exact_titles), list(wt.title_tokens), doc.get("isbn", "").split(),
                                  doc.get("issn", "").split(), doc.get("id", "").lower().split(),
                                  *(facets[f] for f in rows.FACETS)], w.work_id


def test_a_failed_rebuild_leaves_the_index_as_it_was(works, databases):
    url = databases[0]
    ix = open_index(url, create=True)
    ix.write(upsert=works[:30])
    before, shape = content(url), schema(url)

    def broken():
        yield from works[30:60]
        raise RuntimeError("the harvest store went away")

    with pytest.raises(RuntimeError, match="went away"):
        ix.rebuild(broken(), processes=0)
    assert content(url) == before and schema(url) == shape
    assert ix.rebuild(works[:40], processes=0) == {"documents": 40}  # and the next rebuild goes through
    assert ix.doc_count() == 40
    ix.close()
