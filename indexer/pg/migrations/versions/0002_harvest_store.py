"""The harvest store beside the union index: member records (raw and normalised), their blocking keys, the
scored pairs of earlier merges, the editions as last indexed, per-member checkpoints, and what changed since
the index was last written (with a sequence number, so an index phase clears only what it merged).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("harvest_meta", "harvest_records", "harvest_record_keys", "harvest_edges", "harvest_pending",
          "harvest_pending_keys", "harvest_pending_works", "harvest_seen", "harvest_checkpoints", "harvest_works",
          "harvest_title_sizes", "harvest_members")


def upgrade() -> None:
    op.execute("CREATE SEQUENCE harvest_pending_seq")
    op.execute("CREATE TABLE harvest_meta (key text PRIMARY KEY, value text)")
    op.execute("""
    CREATE TABLE harvest_records (
        member text COLLATE "C" NOT NULL, record_id text COLLATE "C" NOT NULL, hash text NOT NULL,
        source_id text, datestamp text, syntax text NOT NULL, charset text NOT NULL, raw bytea NOT NULL,
        record bytea, work_id text COLLATE "C", harvested text NOT NULL,
        PRIMARY KEY (member, record_id))""")
    op.execute("CREATE INDEX harvest_records_by_source ON harvest_records (member, source_id)")
    op.execute("CREATE INDEX harvest_records_by_work ON harvest_records (work_id)")
    op.execute("""CREATE TABLE harvest_record_keys (key text COLLATE "C" NOT NULL, member text COLLATE "C" NOT NULL,
                  record_id text COLLATE "C" NOT NULL)""")
    op.execute("CREATE INDEX harvest_record_keys_by_key ON harvest_record_keys (key)")
    op.execute("CREATE INDEX harvest_record_keys_by_record ON harvest_record_keys (member, record_id)")
    op.execute("""CREATE TABLE harvest_edges (m1 text COLLATE "C" NOT NULL, r1 text COLLATE "C" NOT NULL,
                  m2 text COLLATE "C" NOT NULL, r2 text COLLATE "C" NOT NULL)""")
    op.execute("CREATE INDEX harvest_edges_1 ON harvest_edges (m1, r1)")
    op.execute("CREATE INDEX harvest_edges_2 ON harvest_edges (m2, r2)")
    op.execute("""CREATE TABLE harvest_pending (member text COLLATE "C" NOT NULL, record_id text COLLATE "C" NOT NULL,
                  old_work_id text COLLATE "C", seq bigint NOT NULL DEFAULT nextval('harvest_pending_seq'),
                  PRIMARY KEY (member, record_id))""")
    op.execute("""CREATE TABLE harvest_pending_keys (key text COLLATE "C" PRIMARY KEY,
                  seq bigint NOT NULL DEFAULT nextval('harvest_pending_seq'))""")
    op.execute("""CREATE TABLE harvest_pending_works (work_id text COLLATE "C" PRIMARY KEY,
                  seq bigint NOT NULL DEFAULT nextval('harvest_pending_seq'))""")
    op.execute("""CREATE TABLE harvest_seen (member text COLLATE "C" NOT NULL, record_id text COLLATE "C" NOT NULL,
                  PRIMARY KEY (member, record_id))""")
    op.execute("""
    CREATE TABLE harvest_checkpoints (
        member text PRIMARY KEY, protocol text NOT NULL, mode text NOT NULL, position integer NOT NULL DEFAULT 1,
        token text, hits bigint, since text, next_from text, started text NOT NULL, counts text NOT NULL DEFAULT '{}')""")
    op.execute("""CREATE TABLE harvest_works (work_id text COLLATE "C" PRIMARY KEY, digest text NOT NULL,
                  group_id text)""")
    op.execute('CREATE TABLE harvest_title_sizes (key text COLLATE "C" PRIMARY KEY, size integer NOT NULL)')
    op.execute("""
    CREATE TABLE harvest_members (
        member text PRIMARY KEY, last_started text, last_finished text, last_status text, next_from text,
        last_report text, finished_at timestamptz)""")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table}")
    op.execute("DROP SEQUENCE harvest_pending_seq")
