"""When each member record was first harvested (kept when the record changes later): the editions new in the
union index since a time are those whose every record was first seen after it (saved-search alerts,
docs/portal-readers.md). Records harvested before this revision count as first seen at their last harvest.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# UTC ISO 8601 with microseconds, as the SQLite harvest store writes it: both compare as text
NOW = """to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""


def upgrade() -> None:
    op.execute("ALTER TABLE harvest_records ADD COLUMN first_seen text COLLATE \"C\"")
    op.execute("UPDATE harvest_records SET first_seen = harvested")
    op.execute(f"ALTER TABLE harvest_records ALTER COLUMN first_seen SET DEFAULT {NOW}")
    op.execute("ALTER TABLE harvest_records ALTER COLUMN first_seen SET NOT NULL")
    op.execute("CREATE INDEX harvest_records_by_first_seen ON harvest_records (first_seen)")


def downgrade() -> None:
    op.execute("DROP INDEX harvest_records_by_first_seen")
    op.execute("ALTER TABLE harvest_records DROP COLUMN first_seen")
