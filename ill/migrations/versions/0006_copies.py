"""Document delivery (原文传递): a copy's delivery method, pages, price, subsidy and reader's share, and the scan
delivered to the reader (its stored name, size, expiry, downloads and deletion) on the request (docs/document-delivery.md).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = (
    ("copy_method", sa.String(16), {"nullable": False, "server_default": ""}),
    ("pages", sa.Integer, {}),
    ("fee_fen", sa.Integer, {}),
    ("subsidy_fen", sa.Integer, {}),
    ("reader_fen", sa.Integer, {}),
    ("copy_file", sa.String(200), {}),
    ("copy_size", sa.Integer, {}),
    ("copy_expires", sa.DateTime, {}),
    ("copy_downloads", sa.Integer, {"nullable": False, "server_default": "0"}),
    ("copy_deleted_at", sa.DateTime, {}),
)


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        for name, kind, options in COLUMNS:
            batch.add_column(sa.Column(name, kind, **options))
    op.create_index("ix_requests_copy_expires", "requests", ["copy_expires"])


def downgrade() -> None:
    op.drop_index("ix_requests_copy_expires", "requests")
    with op.batch_alter_table("requests") as batch:
        for name, _kind, _options in reversed(COLUMNS):
            batch.drop_column(name)
