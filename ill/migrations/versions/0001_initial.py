"""The first ILL schema: users, requests, legs (one per lender tried), audit log, violations.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("member", sa.String(32)),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("reader_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("borrower", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("work_id", sa.String(64)),
        sa.Column("title", sa.Text, nullable=False, server_default=""),
        sa.Column("author", sa.Text, nullable=False, server_default=""),
        sa.Column("citation", sa.Text, nullable=False, server_default=""),
        sa.Column("price_fen", sa.Integer),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False, server_default=""),
        sa.Column("rota", sa.JSON, nullable=False),
        sa.Column("rota_index", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lender", sa.String(32)),
        sa.Column("submitted_at", sa.DateTime, nullable=False),
        *[sa.Column(name, sa.DateTime) for name in (
            "answer_due", "ship_due", "answered_at", "shipped_at", "received_at", "lent_at", "due_back",
            "taken_back_at", "return_shipped_at", "completed_at")],
        sa.Column("reader_message", sa.Text, nullable=False, server_default=""),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_index("ix_requests_reader", "requests", ["reader_id", "status"])
    op.create_index("ix_requests_lender", "requests", ["lender", "status"])
    op.create_index("ix_requests_borrower", "requests", ["borrower"])
    op.create_table(
        "legs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("lender", sa.String(32), nullable=False),
        sa.Column("arrived_at", sa.DateTime, nullable=False),
        sa.Column("answer_due", sa.DateTime, nullable=False),
        sa.Column("ship_due", sa.DateTime, nullable=False),
        sa.Column("answered_at", sa.DateTime),
        sa.Column("answer", sa.String(32)),
        sa.Column("shipped_at", sa.DateTime),
        sa.Column("closed_at", sa.DateTime),
        sa.Column("outcome", sa.String(16), nullable=False, server_default="open"),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("ix_legs_request", "legs", ["request_id", "seq"])
    op.create_index("ix_legs_lender", "legs", ["lender"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(32)),
        sa.Column("from_phase", sa.String(16)),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("to_phase", sa.String(16), nullable=False),
        sa.Column("lender", sa.String(32)),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("before", sa.JSON),
        sa.Column("rolled_back_by", sa.Integer),
    )
    op.create_index("ix_audit_request", "audit", ["request_id", "id"])
    op.create_table(
        "violations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), nullable=False),
        sa.Column("audit_id", sa.Integer, sa.ForeignKey("audit.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("lender", sa.String(32), nullable=False),
        sa.Column("borrower", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("fine_fen", sa.Integer, nullable=False, server_default="0"),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("void", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_violations_borrower", "violations", ["borrower", "at"])


def downgrade() -> None:
    for name in ("violations", "audit", "legs", "requests", "users"):
        op.drop_table(name)
