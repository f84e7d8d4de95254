"""Requests that make sense: how the reader gets the book, by when, and the edition it is for.

- requests.delivery: how the reader gets the book ("desk": collect at the own library's ILL desk, or a
  delivery method the borrowing member offers, by its code in the registry).
- requests.pickup: which desk / pick-up point of the borrowing library (its code in the registry).
- requests.need_before: the date after which the reader no longer needs it (ISO 18626 NeedBeforeDate).
- requests.citation_data: a structured citation for copy requests (journal or book title, issn, isbn, year,
  volume, issue, pages, article, authors, doi).
- requests.isbn, requests.year: the requested edition's ISBN (ISBN-13, digits) and year, so that every
  request carries its edition's title, author, ISBN and year, and a second request for it can be found.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("delivery", sa.String(32), nullable=False, server_default="desk"))
        batch.add_column(sa.Column("pickup", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("need_before", sa.Date))
        batch.add_column(sa.Column("citation_data", sa.JSON(none_as_null=True)))
        batch.add_column(sa.Column("isbn", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("year", sa.String(16), nullable=False, server_default=""))
    op.create_index("ix_requests_need_before", "requests", ["need_before"])


def downgrade() -> None:
    op.drop_index("ix_requests_need_before", "requests")
    with op.batch_alter_table("requests") as batch:
        for name in ("year", "isbn", "citation_data", "need_before", "pickup", "delivery"):
            batch.drop_column(name)
