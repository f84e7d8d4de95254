"""The words of the union index's titles, authors and subjects, with how often each field holds them, for the
spelling suggestions of a search that finds nothing (indexer/spelling.py, indexer/pg/terms.py).

`index_terms` has a row per field and word: the editions holding it there and its occurrences (the whoosh
corrector's frequency). Only words a Latin word could be near are kept (two ASCII letters or more; no Chinese
bigram is ever corrected). Triggers on `editions` keep it up to date whatever writes the index (COPY, DELETE,
UPDATE, TRUNCATE), from the rows each statement changed; a rebuild, which swaps in new tables, puts them back and
counts again (`indexer.pg.terms.REFRESH`), as this revision does for the editions already there.
Near words are found with fuzzystrmatch's levenshtein, in PostgreSQL's contrib (a trusted extension).

Revision ID: 0006
Revises: 0004
"""

from alembic import op

from indexer.pg import terms

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS fuzzystrmatch")
    op.execute("""
    CREATE TABLE index_terms (
        field "char" NOT NULL,
        word text COLLATE "C" NOT NULL,
        docs integer NOT NULL,
        occurrences integer NOT NULL,
        PRIMARY KEY (field, word)
    )""")
    op.execute("CREATE INDEX index_terms_by_length ON index_terms (field, length(word))")
    for statement in terms.REFRESH:  # the triggers, and the counts of the editions already there
        op.execute(statement)


def downgrade() -> None:
    for event in ("insert", "delete", "update", "truncate"):
        op.execute(f"DROP TRIGGER index_terms_{event} ON editions")
    op.execute("DROP FUNCTION index_terms_changed()")
    op.execute("DROP TABLE index_terms")
