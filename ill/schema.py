"""Tables of the ILL store (SQLAlchemy Core). The Alembic migrations in ill/migrations create them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)

metadata = MetaData()

# Readers (of a member library), staff (of a library) and centre administrators. `password_hash` is an
# Argon2id hash made by the portal (portal/auth.py); none means the user cannot sign in.
users = Table(
    "users", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, server_default=""),
    Column("role", String(16), nullable=False),  # reader | staff | admin
    Column("member", String(32)),  # the library of a reader or staff member; none for administrators
    Column("created_at", DateTime, nullable=False),
    Column("password_hash", Text),
    Column("email", String(254)),  # where notices are mailed; none: shown in the portal only
    Column("email_notices", Boolean, nullable=False, server_default=true()),  # the user may turn mail off
)

# Signed-in browsers of the portal, by the SHA-256 of the session cookie (the cookie is never stored).
sessions = Table(
    "sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Index("ix_sessions_user", "user_id"),
)

# Members suspended or resumed by a centre administrator; this overrides the registry file's status.
member_states = Table(
    "member_states", metadata,
    Column("code", String(32), primary_key=True),
    Column("status", String(16), nullable=False),  # active | suspended
    Column("reason", Text, nullable=False, server_default=""),
    Column("since", Date),
    Column("changed_by", String(64), nullable=False),
    Column("changed_at", DateTime, nullable=False),
)

requests = Table(
    "requests", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reader_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("borrower", String(32), nullable=False),  # the reader's (borrowing) library
    Column("kind", String(8), nullable=False),  # loan | copy
    Column("source", String(8), nullable=False),  # edition | manual
    Column("work_id", String(64)),
    Column("title", Text, nullable=False, server_default=""),
    Column("author", Text, nullable=False, server_default=""),
    Column("citation", Text, nullable=False, server_default=""),  # the manual citation, as the reader wrote it
    Column("price_fen", Integer),  # the book's price in fen, for lost/damaged fines
    Column("status", String(32), nullable=False),
    Column("phase", String(16), nullable=False, server_default=""),
    Column("rota", JSON, nullable=False),  # [{"member", "reason", "record_id", "holding", "days"}, ...]
    Column("rota_index", Integer, nullable=False, server_default="0"),
    Column("lender", String(32)),  # the lender the request is at now
    Column("submitted_at", DateTime, nullable=False),
    Column("answer_due", DateTime),
    Column("ship_due", DateTime),
    Column("answered_at", DateTime),  # the first answer of any lender (ends the cancel right)
    Column("shipped_at", DateTime),
    Column("received_at", DateTime),
    Column("lent_at", DateTime),
    Column("due_back", DateTime),
    Column("taken_back_at", DateTime),
    Column("return_shipped_at", DateTime),
    Column("completed_at", DateTime),
    Column("reader_message", Text, nullable=False, server_default=""),
    Column("version", Integer, nullable=False, server_default="1"),
    # how the reader gets the book: "desk" (the own library's ILL desk) or a delivery method the borrowing
    # member offers (members/values.py Delivery), and which desk / pick-up point (its code in the registry)
    Column("delivery", String(32), nullable=False, server_default="desk"),
    Column("pickup", String(64), nullable=False, server_default=""),
    Column("need_before", Date),  # ISO 18626 NeedBeforeDate: not needed after this (Beijing) date
    # a structured citation for copy requests: title, issn, isbn, year, volume, issue, pages, article, authors, doi
    Column("citation_data", JSON(none_as_null=True)),
    Column("isbn", String(32), nullable=False, server_default=""),  # the edition's ISBN-13 (digits)
    Column("year", String(16), nullable=False, server_default=""),  # the edition's year
    # a request from another ILL network (the borrower is a peer): the requester's own request id (ISO 18626
    # requestingAgencyRequestId); our request at a peer: the peer's supplyingAgencyRequestId once it answered
    Column("peer_request_id", String(200)),
    Column("peer_agency", String(100)),  # the peer's agency on this request (TYPE:VALUE): requester or supplier
    # a copy (原文传递): how it reaches the reader (download | email | post), its pages (asked; delivered: the
    # scan's), the supplier's price, the centre's subsidy and the reader's share in fen (set when delivered), and
    # the scan kept for the reader (its name in the copies folder, ill/copyfiles.py) until it expires
    Column("copy_method", String(16), nullable=False, server_default=""),
    Column("pages", Integer),
    Column("fee_fen", Integer),
    Column("subsidy_fen", Integer),
    Column("reader_fen", Integer),
    Column("copy_file", String(200)),
    Column("copy_size", Integer),
    Column("copy_expires", DateTime),
    Column("copy_downloads", Integer, nullable=False, server_default="0"),
    Column("copy_deleted_at", DateTime),
    Index("ix_requests_reader", "reader_id", "status"),
    Index("ix_requests_lender", "lender", "status"),
    Index("ix_requests_borrower", "borrower"),
    Index("ix_requests_need_before", "need_before"),
    Index("ix_requests_peer", "borrower", "peer_request_id"),
    Index("ix_requests_copy_expires", "copy_expires"),
)

# One row per lender a request has been sent to, in rota order: what each lender did and when.
legs = Table(
    "legs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("requests.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("lender", String(32), nullable=False),
    Column("arrived_at", DateTime, nullable=False),
    Column("answer_due", DateTime, nullable=False),
    Column("ship_due", DateTime, nullable=False),
    Column("answered_at", DateTime),
    Column("answer", String(32)),
    Column("shipped_at", DateTime),
    Column("closed_at", DateTime),
    Column("outcome", String(16), nullable=False, server_default="open"),  # open|supplied|unfilled|timeout|cancelled
    Column("note", Text, nullable=False, server_default=""),
    Index("ix_legs_request", "request_id", "seq"),
    Index("ix_legs_lender", "lender"),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("requests.id"), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("actor_role", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_status", String(32)),
    Column("from_phase", String(16)),
    Column("to_status", String(32), nullable=False),
    Column("to_phase", String(16), nullable=False),
    Column("lender", String(32)),
    Column("reason", Text, nullable=False, server_default=""),
    Column("before", JSON(none_as_null=True)),  # the request and its legs before the change (for rollback)
    Column("rolled_back_by", Integer),
    Index("ix_audit_request", "request_id", "id"),
)

violations = Table(
    "violations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("requests.id"), nullable=False),
    Column("audit_id", Integer, ForeignKey("audit.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # overdue | lost | damaged
    Column("lender", String(32), nullable=False),  # whose rule settles it
    Column("borrower", String(32), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("fine_fen", Integer, nullable=False, server_default="0"),
    Column("note", Text, nullable=False, server_default=""),
    Column("void", Boolean, nullable=False, server_default=false()),  # undone by a rollback
    Index("ix_violations_borrower", "borrower", "at"),
)

# The outbox of notices for readers and staff (ill/notices.py): written in the transaction of the change
# that caused it (or once by the clock, `key` keeps it once), shown in the portal, and mailed after commit.
# `email`: pending | sent | skipped (the user has no address or turned mail off) | failed (the server refused
# the address for good); a pending one is retried at `next_attempt_at` with a growing wait.
notices = Table(
    "notices", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("request_id", Integer, ForeignKey("requests.id")),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("member", String(32)),  # the recipient's library
    Column("audience", String(8), nullable=False),  # reader | staff
    Column("kind", String(32), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("link", Text, nullable=False, server_default=""),  # the portal page, from its root
    Column("created_at", DateTime, nullable=False),
    Column("read_at", DateTime),
    Column("email", String(8), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    Column("last_error", Text, nullable=False, server_default=""),
    Index("ix_notices_user", "user_id", "id"),
    Index("ix_notices_outbox", "email", "next_attempt_at"),
)

# The outbox of ISO 18626 messages to peers (ill/peer_outbox.py): written in the transaction of the change that
# gives them, posted after commit in order per request (`seq`), retried with a growing wait. `state`:
# pending | sent | failed (the peer answered ERROR: not retried); `answer` keeps the peer's confirmation.
peer_messages = Table(
    "peer_messages", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("peer", String(32), nullable=False),
    Column("request_id", Integer, ForeignKey("requests.id"), nullable=False),
    Column("kind", String(40), nullable=False),  # request | supplyingAgencyMessage | requestingAgencyMessage
    Column("what", String(40), nullable=False, server_default=""),  # the status or action it carries
    Column("body", Text, nullable=False),  # the ISO18626Message, valid against the schema
    Column("created_at", DateTime, nullable=False),
    Column("state", String(8), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime, nullable=False),
    Column("sent_at", DateTime),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("answer", Text, nullable=False, server_default=""),
    Index("ix_peer_messages_due", "state", "next_attempt_at"),
    Index("ix_peer_messages_request", "request_id", "id"),
)

# Messages received from peers and applied, by their key (sender agency, request id, timestamp, message type
# and what it says): the same message again gets the same confirmation and changes nothing.
peer_received = Table(
    "peer_received", metadata,
    Column("key", String(400), primary_key=True),
    Column("peer", String(32), nullable=False),
    Column("request_id", Integer, ForeignKey("requests.id")),
    Column("kind", String(40), nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("confirmation", Text, nullable=False),
)

# A reader's saved searches (ill/searches.py, docs/portal-readers.md 我的检索): the search as the portal's
# parameters, its query as JSON (connectors.query's AST, for the alert run), and the new-book alert: editions
# first harvested after `checked_through` are new to it; `token` is the secret of its Atom feed's address.
saved_searches = Table(
    "saved_searches", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("params", JSON, nullable=False),  # [[name, value], ...] as in the results page's address
    Column("query", JSON, nullable=False),
    Column("alert", Boolean, nullable=False, server_default=true()),
    Column("token", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("checked_through", DateTime, nullable=False),  # the alert run looked at editions first seen up to this
    Column("seen_at", DateTime, nullable=False),  # the reader last looked at its new editions
    Index("ix_saved_searches_user", "user_id", "id"),
)

# The new editions an alert run found for a saved search (once each): listed under 我的检索 and in its feed.
search_hits = Table(
    "search_hits", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("search_id", Integer, ForeignKey("saved_searches.id"), nullable=False),
    Column("work_id", String(64), nullable=False),
    Column("title", Text, nullable=False, server_default=""),
    Column("details", Text, nullable=False, server_default=""),  # authors · publisher · year, as listed
    Column("first_seen", DateTime, nullable=False),  # when the union index first had the edition
    Column("found_at", DateTime, nullable=False),  # the alert run that found it
    UniqueConstraint("search_id", "work_id", name="uq_search_hits"),
    Index("ix_search_hits_search", "search_id", "id"),
)
