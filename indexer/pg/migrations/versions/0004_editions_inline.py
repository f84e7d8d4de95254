"""An edition's row keeps its vectors in the row (not compressed, not in the TOAST table) up to a full page:
a search tests the match vector of every edition its words find (a fielded word: `doc`, with the field's weight)
and the rank vector of every match (`rk`), and a vector TOASTed (about half of them, the rows over 2 kB) was
fetched from the TOAST table and decompressed for each. Rows over 8 kB are still TOASTed.

The setting applies to rows written from now on: an index takes it at its next rebuild (`balis harvest`
rebuilding it, or `VACUUM FULL editions`, which rewrites the table; docs/local-search.md).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TOAST_TUPLE_TARGET = 8160  # bytes: the largest PostgreSQL accepts (a row on one 8 kB page)


def upgrade() -> None:
    op.execute(f"ALTER TABLE editions SET (toast_tuple_target = {TOAST_TUPLE_TARGET})")


def downgrade() -> None:
    op.execute("ALTER TABLE editions RESET (toast_tuple_target)")
