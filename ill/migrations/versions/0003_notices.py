"""Notices for readers and staff: the outbox, and each user's mail address and choice.

- users.email, users.email_notices: where a user's notices are mailed, and whether they want mail at all.
- notices: one row per notice and recipient, written in the transaction of the change that caused it;
  shown in the portal and mailed after commit (docs/notices.md).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.String(254)))
        batch.add_column(sa.Column("email_notices", sa.Boolean, nullable=False, server_default=sa.true()))
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id")),
        sa.Column("user_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("member", sa.String(32)),
        sa.Column("audience", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("read_at", sa.DateTime),
        sa.Column("email", sa.String(8), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_notices_user", "notices", ["user_id", "id"])
    op.create_index("ix_notices_outbox", "notices", ["email", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_notices_outbox", "notices")
    op.drop_index("ix_notices_user", "notices")
    op.drop_table("notices")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_notices")
        batch.drop_column("email")
