"""ISO 18626 peers: the outbox of messages to other ILL networks, the keys of messages received from them, and
the other system's request id on a request (docs/iso18626.md).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("peer_request_id", sa.String(200)))
        batch.add_column(sa.Column("peer_agency", sa.String(100)))
    op.create_index("ix_requests_peer", "requests", ["borrower", "peer_request_id"])
    op.create_table(
        "peer_messages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("peer", sa.String(32), nullable=False),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("what", sa.String(40), nullable=False, server_default=""),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(8), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("answer", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_peer_messages_due", "peer_messages", ["state", "next_attempt_at"])
    op.create_index("ix_peer_messages_request", "peer_messages", ["request_id", "id"])
    op.create_table(
        "peer_received",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("peer", sa.String(32), nullable=False),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id")),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("confirmation", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("peer_received")
    op.drop_index("ix_peer_messages_request", "peer_messages")
    op.drop_index("ix_peer_messages_due", "peer_messages")
    op.drop_table("peer_messages")
    op.drop_index("ix_requests_peer", "requests")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("peer_agency")
        batch.drop_column("peer_request_id")
