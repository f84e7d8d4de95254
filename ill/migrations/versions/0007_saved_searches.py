"""Readers' saved searches and the new editions their alerts found (docs/portal-readers.md, 我的检索).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("query", sa.JSON, nullable=False),
        sa.Column("alert", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("checked_through", sa.DateTime, nullable=False),
        sa.Column("seen_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_saved_searches_user", "saved_searches", ["user_id", "id"])
    op.create_table(
        "search_hits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("search_id", sa.Integer, sa.ForeignKey("saved_searches.id"), nullable=False),
        sa.Column("work_id", sa.String(64), nullable=False),
        sa.Column("title", sa.Text, nullable=False, server_default=""),
        sa.Column("details", sa.Text, nullable=False, server_default=""),
        sa.Column("first_seen", sa.DateTime, nullable=False),
        sa.Column("found_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("search_id", "work_id", name="uq_search_hits"),
    )
    op.create_index("ix_search_hits_search", "search_hits", ["search_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_search_hits_search", "search_hits")
    op.drop_table("search_hits")
    op.drop_index("ix_saved_searches_user", "saved_searches")
    op.drop_table("saved_searches")
