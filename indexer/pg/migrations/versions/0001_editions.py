"""The union index: editions (stored work, match and rank text as tsvector, facet values, sort keys), holdings,
and the index's own metadata (last harvest per member, commit generation).

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE TABLE editions (
        work_id text COLLATE "C" PRIMARY KEY,
        group_id text NOT NULL DEFAULT '',
        year integer,
        holders integer NOT NULL DEFAULT 0,
        title_fold text COLLATE "C" NOT NULL DEFAULT '',
        title_key text COLLATE "C" NOT NULL DEFAULT '',
        exact_titles text[] NOT NULL DEFAULT '{}',
        title_tokens text[] NOT NULL DEFAULT '{}',
        isbns text[] NOT NULL DEFAULT '{}',
        issns text[] NOT NULL DEFAULT '{}',
        ids text[] NOT NULL DEFAULT '{}',
        f_member text[] NOT NULL DEFAULT '{}',
        f_language text[] NOT NULL DEFAULT '{}',
        f_material_type text[] NOT NULL DEFAULT '{}',
        f_clc text[] NOT NULL DEFAULT '{}',
        doc tsvector NOT NULL DEFAULT '',
        pub tsvector NOT NULL DEFAULT '',
        rk tsvector NOT NULL DEFAULT '',
        work bytea NOT NULL
    )""")
    op.execute("CREATE INDEX editions_doc ON editions USING gin (doc)")
    op.execute("CREATE INDEX editions_pub ON editions USING gin (pub)")
    op.execute("CREATE INDEX editions_ids ON editions USING gin (isbns, issns, ids)")
    op.execute("CREATE INDEX editions_year ON editions (year)")
    op.execute("CREATE INDEX editions_group ON editions (group_id)")
    op.execute("""
    CREATE TABLE holdings (
        work_id text COLLATE "C" NOT NULL REFERENCES editions (work_id) ON DELETE CASCADE,
        member text NOT NULL,
        library text,
        call_number text,
        status text NOT NULL,
        barcode text
    )""")
    op.execute("CREATE INDEX holdings_work ON holdings (work_id)")
    op.execute("CREATE INDEX holdings_member ON holdings (member)")
    op.execute("CREATE TABLE index_meta (key text PRIMARY KEY, value jsonb NOT NULL)")
    op.execute("""INSERT INTO index_meta VALUES ('generation', '0'), ('harvested', '{}'), ('last_commit', 'null'),
                  ('created', to_jsonb(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS+00:00')))""")


def downgrade() -> None:
    op.execute("DROP TABLE holdings")
    op.execute("DROP TABLE editions")
    op.execute("DROP TABLE index_meta")
