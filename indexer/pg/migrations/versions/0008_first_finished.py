"""When each member's first complete harvest into this store ended: the records it brought are the library's
catalogue as it stood, not new books, so saved-search alerts leave them out (a new or rebuilt store, or a member
that joins, would otherwise announce every book it holds). Members already harvested keep counting as before.

Revision ID: 0008
Revises: 0006
"""

from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE harvest_members ADD COLUMN first_finished text COLLATE \"C\"")
    op.execute("UPDATE harvest_members SET first_finished = '' WHERE last_finished IS NOT NULL")


def downgrade() -> None:
    op.execute("ALTER TABLE harvest_members DROP COLUMN first_finished")
