"""Each harvested record's match keys, kept beside it with the merge rules they were made under: an index
phase reads them instead of reading and keying the whole record again. Records harvested before have none
and are keyed from the record once, then kept.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE harvest_records ADD COLUMN match_keys bytea, ADD COLUMN match_rules text COLLATE \"C\"")


def downgrade() -> None:
    op.execute("ALTER TABLE harvest_records DROP COLUMN match_keys, DROP COLUMN match_rules")
