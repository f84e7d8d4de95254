"""The ILL request store: requests, their lenders, the audit log and violations (SQLAlchemy Core).

SQLite (WAL) is the embedded default (`var/ill.sqlite`); PostgreSQL works the same. Every change runs in
one transaction that writes the new state, its audit entry and the notices it gives (the outbox,
ill/outbox.py) together, so a crash leaves a request in its old or its new state, told or not told. The schema upgrades itself on open (Alembic, migrations in `ill/migrations`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, and_, create_engine, event, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from ill import accounts, copyfiles, copyrules, duplicates, editions, needby, notices, outbox, peer_outbox
from ill import delivery as ill_delivery
from ill import machine as m
from ill.errors import InvalidRequest, NotAllowed, NotFound, RuleViolation, StoreError
from ill.rota import Lender, lenders, normalise_rota
from ill.schema import audit, legs, member_states, peer_received, requests, sessions, users, violations
from ill.workdays import BEIJING, deadline_text, loan_due, local_date, working_days_after
from members import FineRule, Registry, paths
from members.values import DEFAULT_COPY, CopyRules, CopyService

MAX_OPEN_LOANS = m.MAX_OPEN_LOANS  # a reader has at most 3 books out through ILL
CANCEL_WINDOW = m.CANCEL_WINDOW  # a reader may cancel within 1 hour of submitting
ANSWER_WORKING_DAYS = 1
SHIP_WORKING_DAYS = 3
ROLES = ("reader", "staff", "admin")
SYSTEM_ACTOR = "system"
PENDING_MESSAGE = "等待馆员处理手工申请 (waiting for staff to route it)"

Clock = Callable[[], datetime]


def resolve_url(url: str | os.PathLike | None = None) -> str:
    """--db, else $BALIS_DB, else ill.sqlite in the home folder ($BALIS_HOME). A plain path means a SQLite file."""
    text = str(url) if url else os.environ.get("BALIS_DB") or str(paths.ill_db())
    if "://" not in text:
        return f"sqlite:///{Path(text).resolve()}"
    if text.startswith("postgresql://") or text.startswith("postgres://"):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    return text


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60}, pool_size=20, max_overflow=40)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # transactions are begun below, as BEGIN IMMEDIATE
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # A change takes the write lock at its start, so a check and the write it guards (the 3-books
            # rule and the insert) are one atomic step. Reads begin deferred: in WAL mode they run beside
            # a writer.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("ill_read") else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_size=20, max_overflow=40, pool_pre_ping=True)


def upgrade(engine: Engine) -> str:
    """Bring the schema to the newest migration (no-op when current); returns the revision."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", "ill:migrations")
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(18626)")  # one upgrader at a time
        if MigrationContext.configure(conn).get_current_revision() == head:
            return head
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return head


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise InvalidRequest(f"time {moment.isoformat()} has no time zone; give an aware datetime")
    return moment.astimezone(UTC)


def _db(moment: datetime | None) -> datetime | None:
    """Aware moment -> naive UTC, as stored."""
    return None if moment is None else _utc(moment).replace(tzinfo=None)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _audit_entry(row) -> dict:
    """An audit row as `Store.history` gives it: aware times, without the rollback snapshot."""
    return {k: _aware(v) if isinstance(v, datetime) else v for k, v in row._mapping.items() if k != "before"}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (datetime, date)) else value


_USER_COLUMNS = tuple(c for c in users.c if c.name != "password_hash")  # never read by accident


class Store:
    """The ILL store. `clock` gives "now" (aware); `fine_rules(code)` gives a lender's FineRule or None;
    `registry`, when set, is what every rota is checked against: each lender a member that lends through ILL
    and is not suspended (the portal sets it to its own registry)."""

    def __init__(self, url: str | os.PathLike | None = None, *, clock: Clock | None = None,
                 fine_rules: Callable[[str], FineRule | None] | None = None, migrate: bool = True,
                 registry: Registry | None = None, copies: str | os.PathLike | None = None):
        self.url = resolve_url(url)
        self.copies = Path(copies) if copies else copyfiles.folder_for(self.url)  # delivered scans (ill/copyfiles.py)
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.fine_rules = fine_rules or (lambda _code: None)
        self.registry = registry
        try:
            self.engine = _engine(self.url)
            if migrate:
                self.revision = upgrade(self.engine)
        except (OperationalError, DBAPIError, OSError) as exc:
            why = " ".join(str(getattr(exc, "orig", None) or exc).split())
            raise StoreError(f"cannot open the ILL store {self._safe_url()}: {why}; "
                             f"check --db / $BALIS_DB and that the database is reachable") from None

    def _safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True) if hasattr(self, "engine") else self.url

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _now(self, now: datetime | None) -> datetime:
        return _utc(now if now is not None else self.clock())

    def read(self) -> Connection:
        """A connection for reading (no write lock on SQLite); use it as a context manager."""
        return self.engine.connect().execution_options(ill_read=True)

    @contextmanager
    def _tx(self):
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            why = " ".join(str(exc.orig).split())
            raise StoreError(f"the ILL store {self._safe_url()} could not complete the change: {why}; "
                             f"nothing was changed, try again") from None

    # ---- users ---------------------------------------------------------------------------------------

    def add_user(self, user_id: str, role: str, member: str | None = None, name: str = "",
                 now: datetime | None = None) -> dict:
        """Register a reader or staff member of `member`, or a centre administrator (no member)."""
        user_id = (user_id or "").strip()
        if not user_id:
            raise InvalidRequest("a user needs an id (a reader's card number or a staff login)")
        if role not in ROLES:
            raise InvalidRequest(f"role {role!r} is not one of {', '.join(ROLES)}")
        if role in ("reader", "staff") and not member:
            raise InvalidRequest(f"a {role} belongs to a member library: give its code")
        member = member.strip().upper() if member else None
        with self._tx() as conn:
            same = conn.execute(select(users.c.id).where(func.lower(users.c.id) == user_id.lower())).scalar()
            if same is not None:  # user names are signed in with in any case: one user per name
                raise InvalidRequest(f"user {user_id} exists already" + (f" (as {same})" if same != user_id else ""))
            conn.execute(insert(users).values(id=user_id, role=role, member=member if role != "admin" else None,
                                              name=name, created_at=_db(self._now(now))))
        return self.user(user_id)

    def user(self, user_id: str) -> dict:
        with self.read() as conn:
            return self._user(conn, user_id)

    def user_id_for(self, name: str) -> str | None:
        """The id of the user `name` names, in whatever case it was typed (STAFF-PKU is staff-pku), or None."""
        name = (name or "").strip()
        with self.read() as conn:
            exact = conn.execute(select(users.c.id).where(users.c.id == name)).scalar()
            if exact is not None or not name:
                return exact
            return conn.execute(select(users.c.id).where(func.lower(users.c.id) == name.lower())
                                .order_by(users.c.id).limit(1)).scalar()

    def users(self, *, member: str | None = None, role: str | None = None) -> list[dict]:
        q = select(*_USER_COLUMNS).order_by(users.c.id)
        if member:
            q = q.where(users.c.member == member.upper())
        if role:
            q = q.where(users.c.role == role)
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    @staticmethod
    def _user(conn: Connection, user_id: str, lock: bool = False) -> dict:
        q = select(*_USER_COLUMNS).where(users.c.id == user_id)
        row = conn.execute(q.with_for_update() if lock else q).first()
        if row is None:
            raise NotFound(f"no user {user_id!r}; register with 'balis request user add'")
        return dict(row._mapping)

    # ---- signing in (the hashing itself is the portal's: portal/auth.py) ------------------------

    def set_password_hash(self, user_id: str, password_hash: str | None) -> None:
        """Store a user's password hash (None: the user can no longer sign in); ends their sessions."""
        with self._tx() as conn:
            self._user(conn, user_id, lock=True)
            conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))
            conn.execute(sessions.delete().where(sessions.c.user_id == user_id))

    def password_hash(self, user_id: str) -> str | None:
        """The stored hash, or None (no such user, or no password set)."""
        with self.read() as conn:
            return conn.execute(select(users.c.password_hash).where(users.c.id == user_id)).scalar_one_or_none()

    def open_session(self, session_id: str, user_id: str, lifetime: timedelta, now: datetime | None = None) -> None:
        """Record a signed-in browser; `session_id` is the hash of its cookie."""
        now = self._now(now)
        with self._tx() as conn:
            self._user(conn, user_id)
            conn.execute(sessions.delete().where(sessions.c.expires_at < _db(now)))
            conn.execute(insert(sessions).values(id=session_id, user_id=user_id, created_at=_db(now),
                                                 expires_at=_db(now + lifetime), last_seen_at=_db(now)))

    def session_user(self, session_id: str, now: datetime | None = None) -> dict | None:
        """The user of a live session, or None (unknown or expired)."""
        now = self._now(now)
        with self.read() as conn:
            row = conn.execute(select(*_USER_COLUMNS).join(sessions, sessions.c.user_id == users.c.id).where(
                sessions.c.id == session_id, sessions.c.expires_at > _db(now))).first()
        return dict(row._mapping) if row else None

    def close_session(self, session_id: str) -> None:
        with self._tx() as conn:
            conn.execute(sessions.delete().where(sessions.c.id == session_id))

    # ---- members suspended at the portal --------------------------------------------------------

    def set_member_state(self, code: str, status: str, actor_id: str, reason: str = "",
                         now: datetime | None = None) -> dict:
        """Suspend or resume a member (centre administrators only); the registry file is left as it is."""
        if status not in ("active", "suspended"):
            raise InvalidRequest(f"member status {status!r}: use active or suspended")
        reason = (reason or "").strip()
        if status == "suspended" and not reason:
            raise InvalidRequest("a suspension needs a reason, shown to readers and staff (暂停原因)")
        now = self._now(now)
        code = code.strip().upper()
        with self._tx() as conn:
            actor = self._user(conn, actor_id)
            if actor["role"] != "admin":
                raise NotAllowed(f"user {actor_id} is {actor['role']}; only centre administrators suspend or "
                                 f"resume members")
            conn.execute(member_states.delete().where(member_states.c.code == code))
            conn.execute(insert(member_states).values(
                code=code, status=status, reason=reason, since=local_date(now) if status == "suspended" else None,
                changed_by=actor_id, changed_at=_db(now)))
        return self.member_states()[code]

    def member_states(self) -> dict[str, dict]:
        """code → {status, reason, since, changed_by, changed_at} for members changed at the portal."""
        with self.read() as conn:
            return {r.code: {k: _aware(v) if isinstance(v, datetime) else v for k, v in r._mapping.items()}
                    for r in conn.execute(select(member_states))}

    # ---- submitting ------------------------------------------------------------------------------

    def submit(self, reader_id: str, *, kind: str = m.LOAN, title: str = "", author: str = "",
               work_id: str | None = None, citation: str = "", rota: Iterable[str | Lender] | None = None,
               price: float | None = None, isbn: str = "", year: str = "", delivery: str | None = None,
               pickup: str | None = None, need_before: date | str | None = None,
               citation_data: dict | None = None, confirm_duplicate: bool = False,
               copy_method: str | None = None, now: datetime | None = None) -> dict:
        """A reader's new request: from an edition (work id + rota) or a manual citation (手工填写).

        `isbn`, `year`: the edition's; `delivery`, `pickup`: how the reader gets it (ill.delivery, checked
        against the borrowing library's offer when the store has a registry); `need_before`: the date after
        which it is not needed (ill.needby: lenders that cannot meet it go last in the rota).
        The 3-books rule and the duplicates rule (ill.duplicates: refused while a request for the same edition
        is open; `confirm_duplicate` after one that closed in the last 30 days) are checked in the same
        transaction that inserts the request, with the reader's row locked (PostgreSQL) or the database
        write-locked (SQLite), so concurrent submissions can never break them.
        """
        if kind not in m.KINDS:
            raise InvalidRequest(f"kind {kind!r}: use 'loan' (馆际互借, returnable) or 'copy' (原文传递)")
        title, citation = (title or "").strip(), (citation or "").strip()
        source = "edition" if work_id else "manual"
        if source == "manual" and not (title or citation):
            raise InvalidRequest("a manual request (手工填写) needs a title or a citation")
        entries = normalise_rota(lenders(rota))
        if source == "edition" and not entries:
            raise InvalidRequest(f"edition {work_id}: no lender to send the request to; give a rota "
                                 f"(--rota A,B) or submit it as a manual citation for staff to route")
        price_fen = accounts.price_fen(price)
        isbn = duplicates.isbn13(isbn)
        if citation_data is not None and not isinstance(citation_data, dict):
            raise InvalidRequest("citation_data must be a mapping (title, issn, isbn, year, volume, ...)")
        now = self._now(now)
        need = needby.parse(need_before, now)
        method, pages = "", None
        if kind == m.COPY:  # the consortium's page limits, then the suppliers that take it (ill/copyrules.py)
            method = copyrules.check_method(copy_method) if copy_method else ""
            pages = copyrules.count_pages(str((citation_data or {}).get("pages") or ""))
            copyrules.check_consortium(self.copy_rules, pages, citation_data)
            entries = copyrules.admit(entries, self.copy_services(), pages, method or None)
        with self._tx() as conn:
            self._check_lenders(entries, conn)
            reader = self._user(conn, reader_id, lock=True)
            if reader["role"] != "reader":
                raise NotAllowed(f"user {reader_id} is {reader['role']}, not a reader; requests are submitted "
                                 f"in a reader's name")
            borrower = reader["member"]
            how = ill_delivery.choose(self._member(borrower), delivery, pickup)
            entries = needby.order(entries, now, need, kind, how.days)
            duplicates.check(self._same_edition(conn, reader_id, work_id, isbn), work_id=work_id, isbn=isbn,
                             now=now, confirmed=confirm_duplicate)
            if any(e["member"] == borrower for e in entries):
                raise InvalidRequest(f"the reader's own library {borrower} cannot be a lender in the rota; "
                                     f"borrow from the own shelves instead")
            if kind == m.LOAN:
                open_ids = [r.id for r in conn.execute(
                    select(requests.c.id).where(requests.c.reader_id == reader_id, requests.c.kind == m.LOAN,
                                                requests.c.status.in_(sorted(m.OPEN))).order_by(requests.c.id))]
                if m.over_loan_limit(kind, len(open_ids)):
                    raise RuleViolation(
                        f"读者 {reader_id} 已有 {len(open_ids)} 册馆际互借在途或未还 (open loan requests "
                        f"{', '.join(map(str, open_ids))}); at most {MAX_OPEN_LOANS} books may be out: "
                        f"return one before requesting again")
            values = dict(reader_id=reader_id, borrower=borrower, kind=kind, source=source, work_id=work_id,
                          title=title or citation[:200], author=(author or "").strip(), citation=citation,
                          price_fen=price_fen, status=m.PENDING, phase=m.NONE, rota=entries, rota_index=0,
                          submitted_at=_db(now), reader_message="", version=1, isbn=isbn,
                          year=str(year or "").strip()[:16], delivery=how.delivery, pickup=how.pickup,
                          need_before=need, citation_data=citation_data, copy_method=method, pages=pages)
            request_id = conn.execute(insert(requests).values(**values)).inserted_primary_key[0]
            if entries:
                self._enter_lender(conn, request_id, entries, 0, now)
            else:
                self._set(conn, request_id, reader_message=PENDING_MESSAGE)
            req = self._request(conn, request_id)
            self._audit(conn, request_id, now, reader_id, m.READER_, "submit", None, None, req, req["lender"],
                        "手工填写" if source == "manual" else f"edition {work_id}", before=None)
            return self._public(req)

    # ---- document delivery (原文传递): rules, money and the delivered scan --------------------------------

    @property
    def copy_rules(self) -> CopyRules:
        """The consortium's document-delivery rules (the registry's [copy]; the defaults without a registry)."""
        return self.registry.copy if self.registry is not None else CopyRules()

    def copy_services(self) -> dict[str, CopyService]:
        """Each member's copy service as a supplier (prices, page limit, delivery methods)."""
        return {mem.code: mem.copy for mem in (self.registry.members if self.registry is not None else ())}

    def _subsidy_left(self, conn: Connection, borrower: str, now: datetime) -> int:
        """What is left of `borrower`'s subsidy budget for the calendar year (Beijing) of `now`, in fen."""
        year = local_date(now).year
        start = datetime(year, 1, 1, tzinfo=BEIJING).astimezone(UTC).replace(tzinfo=None)
        end = datetime(year + 1, 1, 1, tzinfo=BEIJING).astimezone(UTC).replace(tzinfo=None)
        used = conn.execute(select(func.coalesce(func.sum(requests.c.subsidy_fen), 0)).where(
            requests.c.borrower == borrower, requests.c.completed_at >= start, requests.c.completed_at < end)
        ).scalar_one()
        return max(0, copyrules.budget_fen(self.copy_rules) - int(used))

    def quote_copy(self, borrower: str, supplier: str, pages: int | None, now: datetime | None = None
                   ) -> copyrules.Quote:
        """What a copy of `pages` pages from `supplier` costs a reader of `borrower` now: shown before they confirm."""
        now = self._now(now)
        with self.read() as conn:
            left = self._subsidy_left(conn, borrower, now)
        return copyrules.quote(supplier, self.copy_services().get(supplier, DEFAULT_COPY), self.copy_rules, pages,
                               left)

    def _lock_budget(self, conn: Connection, borrower: str, now: datetime) -> None:
        """Hold `borrower`'s subsidy budget for the year of `now` until the transaction ends, so that two deliveries
        at the same moment cannot both take its last yuan. SQLite: the write lock every change takes at its start
        (BEGIN IMMEDIATE) already does. PostgreSQL: a transaction-level advisory lock on (member, year); in READ
        COMMITTED each statement after it sees what the transaction that held it before committed."""
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(copyrules.budget_lock_key(borrower, local_date(now).year))))

    def _copy_charges(self, conn: Connection, req: dict, pages: int | None, now: datetime) -> dict:
        """The price, subsidy and reader's share of a copy as it is delivered (the supplier is its lender now),
        the subsidy taken from the borrower's budget under its lock (the caller's transaction)."""
        self._lock_budget(conn, req["borrower"], now)
        left = self._subsidy_left(conn, req["borrower"], now)
        q = copyrules.quote(req["lender"], self.copy_services().get(req["lender"], DEFAULT_COPY), self.copy_rules,
                            pages or req.get("pages"), left)
        charges = {"pages": q.pages, "fee_fen": q.price_fen, "subsidy_fen": q.subsidy_fen, "reader_fen": q.reader_fen}
        spent = copyrules.budget_note(q, self.copy_rules, left, local_date(now).year)
        if spent:
            charges["reader_message"] = f"文献已传递 (the copy was delivered)；{spent}"
        return charges

    def deliver_copy(self, request_id: int, actor_id: str, data: bytes, *, now: datetime | None = None) -> dict:
        """The supplier's staff deliver a copy by uploading the scan: checked (ill/copyfiles.py), stored for the
        reader, and the request becomes CopyCompleted with its charges, in one transaction (the file is removed
        again when the change is refused)."""
        now = self._now(now)
        with self.read() as conn:
            actor = self._user(conn, actor_id)
            req = self._request(conn, request_id)
        v = m.verdict({**req, "scan": True}, actor, now, m.SHIP)
        if not v.allowed:
            raise v.error(req)
        if req["kind"] != m.COPY:
            raise InvalidRequest(f"申请单 {request_id} 是借书申请，不能上传扫描件 (a loan request: ship the book instead)")
        rules = self.copy_rules
        scan = copyfiles.check(data, max_mb=rules.file_max_mb, request_id=request_id)
        name = copyfiles.save(self.copies, request_id, scan)
        try:
            with self._tx() as conn:
                req = self._request(conn, request_id, lock=True)
                v = m.verdict({**req, "scan": True}, actor, now, m.SHIP)
                if not v.allowed:
                    raise v.error(req)
                extra = {"pages": scan.pages, "copy_file": name, "copy_size": scan.size, "copy_downloads": 0,
                         "copy_expires": _db(now + timedelta(days=rules.download_days)), "copy_deleted_at": None}
                if not req["copy_method"]:
                    extra["copy_method"] = copyrules.DOWNLOAD
                return self._apply(conn, req, v.transition, actor_id, v.role, now, reason=f"扫描件 {scan.pages} 页 "
                                   f"({copyfiles.mb(scan.size)})", price=None, rota=None, work_id=None, extra=extra)
        except BaseException:
            copyfiles.delete(self.copies, name)
            raise

    def download_copy(self, request_id: int, reader_id: str, *, now: datetime | None = None) -> Path:
        """The reader takes the delivered scan: only the reader who asked, before the link expires and within its
        downloads; counted, and written to the audit log, in one transaction. Returns the file to send."""
        now = self._now(now)
        rules = self.copy_rules
        with self._tx() as conn:
            req = self._request(conn, request_id, lock=True)
            if req["reader_id"] != reader_id:
                raise NotAllowed(f"申请单 {request_id} 不是您的申请，不能下载 (only the reader who asked may download it)")
            why = copyrules.unavailable(req, now.replace(tzinfo=None), rules.download_limit)
            if why:
                exc = RuleViolation(f"申请单 {request_id}: {why}")
                exc.code = "copy_gone"
                raise exc
            count = req["copy_downloads"] + 1
            self._set(conn, request_id, copy_downloads=count)
            self._note(conn, req, now, reader_id, m.READER_, "download",
                       f"第 {count}/{rules.download_limit} 次下载 (download {count} of {rules.download_limit})")
            return copyfiles.path(self.copies, req["copy_file"])

    def _note(self, conn: Connection, req: dict, now: datetime, actor: str, role: str, action: str, text: str) -> None:
        """An audit entry that changes no state and gives no notice (a download, a deleted file)."""
        conn.execute(insert(audit).values(request_id=req["id"], at=_db(now), actor=actor, actor_role=role,
                                          action=action, from_status=req["status"], from_phase=req["phase"],
                                          to_status=req["status"], to_phase=req["phase"], lender=req["lender"],
                                          reason=text, before=None))

    def expire_copies(self, now: datetime | None = None) -> list[dict]:
        """Delete the scans whose link expired or whose downloads are used up; each deletion is in the request's
        audit log. Run by the clock (`tick`). Returns [{"id", "file", "reason"}]."""
        now = self._now(now)
        t = _db(now)
        limit = self.copy_rules.download_limit
        with self.read() as conn:
            ids = [r.id for r in conn.execute(select(requests.c.id).where(
                requests.c.copy_file.is_not(None),
                or_(requests.c.copy_expires < t, requests.c.copy_downloads >= limit)).order_by(requests.c.id))]
        done = []
        for rid in ids:
            with self._tx() as conn:
                req = self._request(conn, rid, lock=True)
                why = copyrules.unavailable(req, t, limit)
                if not req["copy_file"] or not why:
                    continue
                self._set(conn, rid, copy_file=None, copy_deleted_at=t)
                self._note(conn, req, now, SYSTEM_ACTOR, m.SYSTEM, "copy_deleted", f"扫描件已删除 (scan deleted): {why}")
                copyfiles.delete(self.copies, req["copy_file"])  # gone before the change commits
            done.append({"id": rid, "action": "copy_deleted", "from": req["status"], "to": req["status"],
                         "lender": req["lender"], "file": req["copy_file"], "reason": why})
        return done

    def may_import(self, actor_id: str) -> m.Verdict:
        """The workflow's answer to whether `actor_id` may import requests (`ill.machine.import_verdict`)."""
        with self.read() as conn:
            return m.import_verdict(self._user(conn, actor_id))

    def adopt(self, values: dict, lenders: list[dict], *, actor: str, note: str, now: datetime | None = None) -> int:
        """Take over a request as another system had it (ISO 18626 import: ill/iso18626.py); returns its id.

        `values` are the request's columns (times aware; `price` in yuan), `lenders` the lenders tried with
        their times. The reader is registered as a reader of the borrowing library if the store does not know
        them. One transaction; the audit log starts with one `import` entry saying `note`.
        """
        now = self._now(now)
        row = {k: _db(v) if isinstance(v, datetime) else v for k, v in values.items() if k != "price"}
        row["price_fen"] = accounts.price_fen(values.get("price"))
        with self._tx() as conn:
            if conn.execute(select(users.c.id).where(users.c.id == row["reader_id"])).first() is None:
                conn.execute(insert(users).values(id=row["reader_id"], role="reader", member=row["borrower"], name="",
                                                  created_at=_db(now)))
            rid = conn.execute(insert(requests).values(**row)).inserted_primary_key[0]
            for leg in lenders:
                conn.execute(insert(legs).values(request_id=rid, **{
                    k: _db(v) if isinstance(v, datetime) else v for k, v in leg.items()}))
            after = self._request(conn, rid)
            self._audit(conn, rid, now, actor, m.ADMIN, "import", None, None, after, after["lender"], note,
                        before=None)
        return rid

    # ---- acting ------------------------------------------------------------------------------------

    def act(self, request_id: int, action: str, actor_id: str, *, reason: str = "",
            price: float | None = None, rota: Iterable[str | Lender] | None = None, work_id: str | None = None,
            edition: dict | None = None, confirm_edition: bool = False, now: datetime | None = None) -> dict:
        """Take `action` on a request as `actor_id` if the workflow allows it (`ill.machine.verdict`), and
        apply its effects in one transaction; refused with the workflow's own words otherwise.

        Routing a manual citation: `edition` ({"title", "isbns", "year"}) is the edition `work_id` names; one
        whose title or ISBN is not the reader's (ill.editions) is refused unless `confirm_edition`. Lenders
        that cannot meet the request's need-before date go last (ill.needby)."""
        if action == m.ROLLBACK:
            return self.rollback(request_id, actor_id, reason, now=now)
        if action in m.SYSTEM_ACTIONS:
            raise NotAllowed(f"'{action}' is taken by the clock ('balis request tick'), not by a person")
        if action not in m.ACTIONS:
            raise InvalidRequest(f"unknown action {action!r}; actions: {', '.join(m.PERSON_ACTIONS)}")
        now = self._now(now)
        with self._tx() as conn:
            actor = self._user(conn, actor_id)
            req = self._request(conn, request_id, lock=True)
            v = m.verdict(req, actor, now, action)
            if not v.allowed:
                raise v.error(req)
            entries = normalise_rota(lenders(rota)) if v.transition.rota else None
            m.check_inputs(v.transition, req, reason=reason, rota=entries)
            if entries:
                self._check_lenders(entries, conn)
                if req["kind"] == m.COPY:  # the suppliers' own page limits and delivery methods (ill/copyrules.py)
                    entries = copyrules.admit(entries, self.copy_services(), req["pages"], req["copy_method"] or None)
                entries = needby.order(entries, now, req["need_before"], req["kind"], self._extra_days(req))
            if v.transition.action == m.ROUTE and edition:
                why = editions.mismatch(req, str(edition.get("title") or ""), list(edition.get("isbns") or ()))
                if why and not confirm_edition:
                    exc = RuleViolation(f"申请单 {request_id}: {why}；请核对后确认 (confirm that this edition is "
                                        f"what the reader asked for)")
                    exc.code = "edition_mismatch"
                    raise exc
            return self._apply(conn, req, v.transition, actor_id, v.role, now, reason=reason, price=price,
                               rota=entries, work_id=work_id, edition=edition)

    def _check_lenders(self, entries: list[dict], conn: Connection) -> None:
        """Every lender of a rota is a member of the registry that lends through ILL and is not suspended
        (at the portal or in the registry); InvalidRequest names the first that is not."""
        if self.registry is None or not entries:
            return
        known = {mem.code: mem for mem in self.registry.members}
        states = dict(conn.execute(select(member_states.c.code, member_states.c.status)).all())
        for entry in entries:
            code = entry["member"]
            member = known.get(code)
            if member is None:
                raise InvalidRequest(f"{code} is not a member of the consortium: no lender can answer for it; "
                                     f"choose lenders from 'balis members' (不是成员馆，无法发送)")
            if not member.lending.lends:
                raise InvalidRequest(f"{member.name} ({code}) does not lend through ILL (不参加馆际互借出借); "
                                     "choose another lender")
            if states.get(code, member.status) != "active":
                raise InvalidRequest(f"{member.name} ({code}) is suspended (暂停服务); choose another lender")

    def _member(self, code: str | None):
        """The registry's member `code` (None without a registry or for an unknown code)."""
        if self.registry is None or not code:
            return None
        return next((mem for mem in self.registry.members if mem.code == code), None)

    def _extra_days(self, req: dict) -> int:
        """Working days the request's delivery method adds after the book arrives (0: collected at the desk)."""
        member = self._member(req["borrower"])
        method = member.delivery_method(req.get("delivery")) if member is not None else None
        return method.days if method is not None else 0

    @staticmethod
    def _same_edition(conn: Connection, reader_id: str, work_id: str | None, isbn: str) -> list[dict]:
        """The reader's requests for the edition `work_id` or ISBN `isbn` (for the duplicates rule)."""
        same = [requests.c.work_id == work_id] if work_id else []
        if isbn:
            same.append(requests.c.isbn == isbn)
        if not same:
            return []
        q = select(requests.c.id, requests.c.reader_id, requests.c.work_id, requests.c.isbn, requests.c.title,
                   requests.c.status, requests.c.submitted_at, requests.c.completed_at)
        return [{**r._mapping, "submitted_at": _aware(r.submitted_at), "completed_at": _aware(r.completed_at)}
                for r in conn.execute(q.where(requests.c.reader_id == reader_id, or_(*same)))]

    def possible_duplicates(self, request_id: int) -> list[dict]:
        """The same reader's other requests for the same edition or ISBN, newest first (shown to staff)."""
        with self.read() as conn:
            req = self._request(conn, request_id)
            rows = self._same_edition(conn, req["reader_id"], req["work_id"], req["isbn"] or "")
        return duplicates.possible(rows, req)

    def explain(self, request_id: int, actor_id: str, now: datetime | None = None) -> list[m.Verdict]:
        """What `actor_id` may do on the request now and why not (`ill.machine.explain`), as the store sees it."""
        now = self._now(now)
        with self.read() as conn:
            actor = self._user(conn, actor_id)
            req = self._request(conn, request_id)
            return m.explain(req, actor, now, undoable=self._undoable(conn, request_id) is not None)

    def cancel(self, request_id: int, actor_id: str, reason: str = "", now: datetime | None = None) -> dict:
        return self.act(request_id, m.CANCEL, actor_id, reason=reason, now=now)

    def _apply(self, conn: Connection, req: dict, t: m.Transition, actor_id: str, acting: str, now: datetime,
               *, reason: str, price: float | None, rota: list[dict] | None, work_id: str | None,
               edition: dict | None = None, extra: dict | None = None) -> dict:
        """The effects of a transition the workflow allowed: the request's new values, its lender rows, the
        forward to the next lender, the fine, and the audit entry (the caller's transaction)."""
        rid = req["id"]
        before = self._snapshot(conn, rid)
        changes: dict[str, Any] = {"status": t.to_status, "phase": t.to_phase}
        leg = self._current_leg(conn, rid)
        violation: accounts.Fine | None = None
        forward_reason = None
        action = t.action
        lender_acting = req["lender"]

        if action == m.ROUTE:
            entries = rota or []
            found = {}
            if edition and not req["isbn"] and edition.get("isbns"):
                found["isbn"] = str(list(edition["isbns"])[0])[:32]
            if edition and not req["year"] and edition.get("year"):
                found["year"] = str(edition["year"])[:16]
            self._set(conn, rid, rota=entries, work_id=work_id or req["work_id"],
                      source="edition" if (work_id or req["work_id"]) else req["source"], reader_message="", **found)
            self._enter_lender(conn, rid, entries, 0, now)
            changes = {}
            lender_acting = entries[0]["member"]
        elif action == m.CANCEL:
            if leg:
                self._close_leg(conn, leg["id"], now, "cancelled", reason)
            changes.update(completed_at=_db(now), reader_message="已取消 (cancelled)")
        elif action in (m.EXPECT, m.WILL):
            changes["answered_at"] = req["answered_at"] or _db(now)
            conn.execute(update(legs).where(legs.c.id == leg["id"]).values(
                answered_at=leg["answered_at"] or _db(now), answer=action))
        elif action in (m.ANSWER_UNFILLED, m.ANSWER_RETRY):
            changes["answered_at"] = req["answered_at"] or _db(now)
            conn.execute(update(legs).where(legs.c.id == leg["id"]).values(
                answered_at=leg["answered_at"] or _db(now), answer=action))
            self._close_leg(conn, leg["id"], now, "unfilled", reason)
            word = "无法提供" if action == m.ANSWER_UNFILLED else "暂时无法提供"
            forward_reason = f"{req['lender']} {word}" + (f": {reason}" if reason else "")
        elif action == m.SHIP:
            changes["shipped_at"] = _db(now)
            conn.execute(update(legs).where(legs.c.id == leg["id"]).values(
                answered_at=leg["answered_at"] or _db(now), shipped_at=_db(now), outcome="supplied",
                closed_at=_db(now)))
            changes["answered_at"] = req["answered_at"] or _db(now)
            if req["kind"] == m.COPY:
                changes.update(completed_at=_db(now), reader_message="文献已传递 (the copy was delivered)")
                changes.update(self._copy_charges(conn, req, (extra or {}).get("pages"), now))
                changes.update(extra or {})
            else:
                changes["reader_message"] = f"{req['lender']} 已寄出图书 (the book is on its way)"
        elif action == m.RECEIVED:
            changes.update(received_at=_db(now), reader_message="图书已到馆，请来取书 (the book is at your library)")
        elif action == m.LEND:
            due = loan_due(now)
            changes.update(lent_at=_db(now), due_back=_db(due),
                           reader_message=f"请于 {deadline_text(due)} 前归还 (due back)")
        elif action == m.TAKE_BACK:
            changes.update(taken_back_at=_db(now), reader_message="已还书 (returned, thank you)")
        elif action == m.SHIPPED_RETURN:
            changes["return_shipped_at"] = _db(now)
        elif action == m.CHECK_IN:
            changes["completed_at"] = _db(now)
            late = self._days_late(req)
            if late > 0:
                violation = accounts.fine(accounts.OVERDUE, self.fine_rules(req["lender"]), req["lender"],
                                          days=late, note=f"{late} day(s) late")
        elif action == m.RECALL:
            changes["reader_message"] = "出借馆召回此书，请尽快归还 (the lender recalls the book: return it now)"
        elif action in (m.REPORT_LOST, m.REPORT_DAMAGED):
            book_fen = accounts.price_fen(price) if price is not None else req["price_fen"]
            if price is not None:
                changes["price_fen"] = book_fen
            if action == m.REPORT_LOST:
                changes["completed_at"] = _db(now)
            violation = accounts.fine(accounts.LOST if action == m.REPORT_LOST else accounts.DAMAGED,
                                      self.fine_rules(req["lender"]), req["lender"], book_fen=book_fen, note=reason)
        elif action == m.NOTIFY:
            changes = {}

        if changes:
            self._set(conn, rid, **changes)
        if forward_reason is not None:
            skipped = self._forward(conn, rid, now, forward_reason)
            forward_reason = "; ".join(x for x in (forward_reason, skipped) if x)
        after = self._request(conn, rid)
        audit_id = self._audit(conn, rid, now, actor_id, acting, action, req["status"], req["phase"], after,
                               lender_acting, reason if forward_reason is None else forward_reason, before=before)
        if violation is not None:
            conn.execute(insert(violations).values(request_id=rid, audit_id=audit_id, kind=violation.kind,
                                                   lender=req["lender"], borrower=req["borrower"], at=_db(now),
                                                   fine_fen=violation.amount_fen, note=violation.note or "",
                                                   void=False))
        return self._public(after)

    @staticmethod
    def _days_late(req: dict) -> int:
        due, back = req["due_back"], req["taken_back_at"] or req["return_shipped_at"]
        if due is None or back is None or back <= due:
            return 0
        return (local_date(_aware(back)) - local_date(_aware(due) - timedelta(microseconds=1))).days

    # ---- the clock --------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[dict]:
        """Apply the deadlines: forward requests a lender did not answer or ship in time to the next lender
        in the rota (or close them Unfilled at its end), and mark loans past their due date Overdue.
        Run by `balis request tick`, the portal or a scheduler; each request changes in its own transaction.
        Returns one entry per change: {"id", "action", "from", "to", "reason"}."""
        now = self._now(now)
        t = _db(now)
        waiting = or_(and_(requests.c.status == m.REQUEST_RECEIVED, requests.c.answer_due < t),
                      and_(requests.c.status.in_([m.EXPECT_TO_SUPPLY, m.WILL_SUPPLY]), requests.c.ship_due < t))
        peers = [p.code for p in self.registry.peers] if self.registry is not None else []
        if peers:  # a peer keeps its own deadlines and tells us its answers (docs/iso18626.md)
            waiting = and_(waiting, requests.c.lender.notin_(peers))
        late = and_(requests.c.status == m.LOANED, requests.c.phase == m.READER, requests.c.due_back < t)
        needed = and_(requests.c.need_before < local_date(now), requests.c.status.in_(sorted(needby.WAITING)))
        with self.read() as conn:
            ids = [r.id for r in conn.execute(select(requests.c.id).where(or_(waiting, late, needed))
                                              .order_by(requests.c.id))]
        done = []
        for rid in ids:
            with self._tx() as conn:
                req = self._request(conn, rid, lock=True)
                change = self._tick_one(conn, req, now)
                if change:
                    done.append(change)
        return done + self.expire_copies(now)

    def _tick_one(self, conn: Connection, req: dict, now: datetime) -> dict | None:
        t = _db(now)
        status, rid = req["status"], req["id"]
        before = self._snapshot(conn, rid)
        if needby.passed(req, local_date(now)):
            return self._close_needed(conn, req, now, before)
        if status == m.REQUEST_RECEIVED and req["answer_due"] < t:
            why = f"{req['lender']} 未在 {ANSWER_WORKING_DAYS} 个工作日内答复 (due {deadline_text(_aware(req['answer_due']))})"
        elif status in (m.EXPECT_TO_SUPPLY, m.WILL_SUPPLY) and req["ship_due"] < t:
            why = f"{req['lender']} 未在 {SHIP_WORKING_DAYS} 个工作日内发货 (due {deadline_text(_aware(req['ship_due']))})"
        elif status == m.LOANED and req["phase"] == m.READER and req["due_back"] < t:
            self._set(conn, rid, status=m.OVERDUE,
                      reader_message=f"已超期，请尽快归还 (overdue: due {deadline_text(_aware(req['due_back']))})")
            after = self._request(conn, rid)
            self._audit(conn, rid, now, SYSTEM_ACTOR, m.SYSTEM, m.MARK_OVERDUE, status, req["phase"], after,
                        req["lender"], f"loan period ended {deadline_text(_aware(req['due_back']))}", before=before)
            return {"id": rid, "action": m.MARK_OVERDUE, "from": status, "to": m.OVERDUE, "reason": ""}
        else:
            return None  # changed meanwhile by someone else
        leg = self._current_leg(conn, rid)
        if leg:
            self._close_leg(conn, leg["id"], now, "timeout", why)
        why = "; ".join(x for x in (why, self._forward(conn, rid, now, why)) if x)
        after = self._request(conn, rid)
        self._audit(conn, rid, now, SYSTEM_ACTOR, m.SYSTEM, m.TIMEOUT, status, req["phase"], after, req["lender"],
                    why, before=before)
        return {"id": rid, "action": m.TIMEOUT, "from": status, "to": after["status"], "lender": after["lender"],
                "reason": why}

    def _close_needed(self, conn: Connection, req: dict, now: datetime, before: dict) -> dict:
        """The clock closes a request still waiting after the reader's need-before date: Unfilled, with why."""
        rid, status = req["id"], req["status"]
        why = needby.passed_text(req["need_before"])
        leg = self._current_leg(conn, rid)
        if leg:
            self._close_leg(conn, leg["id"], now, "cancelled", why)
        self._set(conn, rid, status=m.UNFILLED, phase=m.NONE, completed_at=_db(now), answer_due=None, ship_due=None,
                  reader_message=why)
        after = self._request(conn, rid)
        self._audit(conn, rid, now, SYSTEM_ACTOR, m.SYSTEM, m.NEED_BEFORE, status, req["phase"], after, req["lender"],
                    why, before=before)
        return {"id": rid, "action": m.NEED_BEFORE, "from": status, "to": m.UNFILLED, "lender": req["lender"],
                "reason": why}

    def _forward(self, conn: Connection, rid: int, now: datetime, why: str) -> str:
        """Send the request on to the next lender of its rota that can still meet its need-before date
        (ill.needby), or close it Unfilled; returns why lenders were skipped ("" when none was)."""
        req = self._request(conn, rid)
        need = req["need_before"]
        if need is not None and local_date(now) > need:
            self._set(conn, rid, status=m.UNFILLED, phase=m.NONE, completed_at=_db(now), answer_due=None,
                      ship_due=None, reader_message=needby.passed_text(need))
            return ""
        index, skipped = needby.next_in_time(req["rota"], req["rota_index"] + 1, now, need, req["kind"],
                                             self._extra_days(req))
        skipped_text = ("跳过 (skipped): " + "; ".join(skipped)) if skipped else ""
        if index is not None:
            self._enter_lender(conn, rid, req["rota"], index, now)
            return skipped_text
        peer = self._next_peer(req)
        if peer is not None:  # no member can supply it: another ILL network that takes the service (docs/iso18626.md)
            self._enter_peer(conn, req, peer, now)
            return skipped_text
        reasons = [f"{leg['lender']}: {leg['note'] or leg['outcome']}" for leg in self._legs(conn, rid)]
        self._set(conn, rid, status=m.UNFILLED, phase=m.NONE, completed_at=_db(now), answer_due=None, ship_due=None,
                  reader_message="未能满足：轮询的各馆都无法提供 (no lender could supply). " + "; ".join(reasons)
                  + (f"；其余各馆无法在需要日期前送达 (no other lender can meet the need-before date): "
                     f"{'; '.join(skipped)}" if skipped else ""))
        return skipped_text

    def _enter_peer(self, conn: Connection, req: dict, peer, now: datetime) -> None:
        """Send the request on to peer `peer` (its `request` message is written by the change's audit entry)."""
        rota = [*req["rota"], {"member": peer.code, "reason": f"转至 {peer.name} (forwarded to the ILL network "
                                                             f"{peer.code})", "record_id": None, "holding": None,
                               "days": None, "peer": True}]
        self._set(conn, req["id"], rota=rota, peer_request_id=None, peer_agency=None)
        self._enter_lender(conn, req["id"], rota, len(rota) - 1, now)

    def forward_to_peer(self, request_id: int, actor_id: str, peer: str, *, reason: str = "",
                        now: datetime | None = None) -> dict:
        """Staff of the borrowing library send a request no BALIS lender has answered (a manual citation, or one
        at a lender that has not answered) to `peer`, another ILL network that takes its service; the lender it
        was at is told. `ill.machine` decides whether they may (FORWARD_PEER)."""
        now = self._now(now)
        with self._tx() as conn:
            actor = self._user(conn, actor_id)
            req = self._request(conn, request_id, lock=True)
            v = m.verdict(req, actor, now, m.FORWARD_PEER)
            if not v.allowed:
                raise v.error(req)
            found = self.registry.peer(peer or "") if self.registry is not None else None
            offered = [p.code for p in self.peers_for(req["kind"])]
            if found is None or found.code not in offered:
                raise InvalidRequest(f"申请单 {request_id}: {peer or '—'} 不是可转发的馆际互借网络 (not an ILL network "
                                     f"that takes {req['kind']} requests); choose one of: "
                                     f"{', '.join(offered) or 'none in the registry ([[peers]])'}")
            before = self._snapshot(conn, request_id)
            leg = self._current_leg(conn, request_id)
            why = f"转至 {found.code} (forwarded to {found.code})" + (f": {reason}" if reason else "")
            if leg:
                self._close_leg(conn, leg["id"], now, "cancelled", why)
            self._enter_peer(conn, req, found, now)
            after = self._request(conn, request_id)
            self._audit(conn, request_id, now, actor_id, v.role, m.FORWARD_PEER, req["status"], req["phase"], after,
                        req["lender"], why, before=before)
            return self._public(after)

    def peers_for(self, kind: str) -> list:
        """The active peers of the registry that take `kind` requests (loan or copy)."""
        return [p for p in (self.registry.peers if self.registry is not None else ()) if p.takes(kind)]

    def _next_peer(self, req: dict):
        """The first active peer that takes the request's service and has not had it, for a request of one of our
        members (a peer's own request is not passed on to another network); None otherwise."""
        if self.registry is None or not self.registry.peers or self.registry.peer(req["borrower"]) is not None:
            return None
        tried = {e["member"] for e in req["rota"]}
        return next((p for p in self.registry.peers if p.takes(req["kind"]) and p.code not in tried), None)

    # ---- ISO 18626 peers: what their messages change (ill/peers.py reads the messages) --------------------

    def receipt(self, key: str) -> str | None:
        """The confirmation given to the peer message `key` when it was applied, or None (not seen)."""
        with self.read() as conn:
            return conn.execute(select(peer_received.c.confirmation).where(peer_received.c.key == key)).scalar()

    def _receipt(self, conn: Connection, receipt: dict | None, request_id: int | None, now: datetime) -> None:
        if receipt is not None:
            conn.execute(insert(peer_received).values(key=receipt["key"], peer=receipt["peer"], request_id=request_id,
                                                      kind=receipt["kind"], received_at=_db(now),
                                                      confirmation=receipt["confirmation"]))

    def note_receipt(self, receipt: dict, request_id: int | None, now: datetime | None = None,
                     answers: list | None = None) -> None:
        """Record a peer message that changed nothing (a status we already have, a status request, a Cancel the
        lender may no longer take), so a repeat is answered alike; `answers` (ill.peer_outbox.Outgoing) go to the
        peer in the same transaction."""
        now = self._now(now)
        with self._tx() as conn:
            self._receipt(conn, receipt, request_id, now)
            if answers and request_id is not None:
                peer_outbox.write(conn, answers, request_id, now)

    def peer_request(self, peer: str, peer_request_id: str) -> dict | None:
        """The request peer `peer` sent us under its id `peer_request_id`, or None."""
        with self.read() as conn:
            row = conn.execute(select(requests).where(requests.c.borrower == peer,
                                                      requests.c.peer_request_id == peer_request_id)).first()
        return self._public(dict(row._mapping)) if row else None

    def receive_request(self, peer: str, values: dict, *, receipt: dict | None = None,
                        now: datetime | None = None) -> dict:
        """A request from peer `peer` (another ILL network) to our lender `values["lender"]`: it enters that
        lender's queue like any other, the peer as the borrowing library and its patron as the reader.
        `values`: lender, kind, title, author, citation, isbn, year, need_before, patron, peer_request_id,
        peer_agency, and for a copy citation_data, copy_method, pages. One transaction, with the message's receipt."""
        now = self._now(now)
        lender = values["lender"]
        entries = [{"member": lender, "reason": f"ISO 18626 request from {peer}", "record_id": None,
                    "holding": None, "days": None}]
        reader_id = f"{peer}:{values['patron']}"[:64]
        with self._tx() as conn:
            self._check_lenders(entries, conn)
            if conn.execute(select(users.c.id).where(users.c.id == reader_id)).first() is None:
                conn.execute(insert(users).values(id=reader_id, role="reader", member=peer, name="",
                                                  created_at=_db(now)))
            row = dict(reader_id=reader_id, borrower=peer, kind=values["kind"], source="manual", work_id=None,
                       title=(values.get("title") or values.get("citation") or "")[:500],
                       author=values.get("author") or "", citation=values.get("citation") or "", price_fen=None,
                       status=m.PENDING, phase=m.NONE, rota=entries, rota_index=0, submitted_at=_db(now),
                       reader_message="", version=1, isbn=(values.get("isbn") or "")[:32],
                       year=(values.get("year") or "")[:16], delivery="desk", pickup="",
                       need_before=values.get("need_before"), citation_data=values.get("citation_data"),
                       copy_method=values.get("copy_method") or "", pages=values.get("pages"),
                       peer_request_id=values["peer_request_id"], peer_agency=values["peer_agency"])
            rid = conn.execute(insert(requests).values(**row)).inserted_primary_key[0]
            self._enter_lender(conn, rid, entries, 0, now)
            req = self._request(conn, rid)
            self._audit(conn, rid, now, f"peer:{peer}", m.PEER_REQUESTER, "submit", None, None, req, lender,
                        f"ISO 18626 request {values['peer_request_id']} from {values['peer_agency']}", before=None)
            self._receipt(conn, receipt, rid, now)
            return self._public(req)

    def peer_act(self, request_id: int, action: str, peer: str, *, reason: str = "", receipt: dict | None = None,
                 peer_request_id: str | None = None, peer_agency: str | None = None,
                 now: datetime | None = None) -> dict:
        """Peer `peer` takes `action` on a request through an ISO 18626 message, if the workflow lets it (a peer
        acts only on its own requests and on its side: `ill.machine.roles_of`); the message's receipt and the
        peer's own ids for the request are written in the same transaction."""
        now = self._now(now)
        actor = {"id": f"peer:{peer}", "role": "peer", "member": peer}
        with self._tx() as conn:
            req = self._request(conn, request_id, lock=True)
            v = m.verdict(req, actor, now, action)
            if not v.allowed:
                raise v.error(req)
            m.check_inputs(v.transition, req, reason=reason, rota=None)
            ids = {k: val for k, val in (("peer_request_id", peer_request_id), ("peer_agency", peer_agency))
                   if val and not req[k]}
            if ids:
                self._set(conn, request_id, **ids)
                req = self._request(conn, request_id)
            out = self._apply(conn, req, v.transition, actor["id"], v.role, now, reason=reason, price=None,
                              rota=None, work_id=None)
            self._receipt(conn, receipt, request_id, now)
            return out

    def _enter_lender(self, conn: Connection, rid: int, rota: list[dict], index: int, now: datetime) -> None:
        lender = rota[index]["member"]
        answer_due, ship_due = working_days_after(now, ANSWER_WORKING_DAYS), working_days_after(now, SHIP_WORKING_DAYS)
        conn.execute(insert(legs).values(request_id=rid, seq=index, lender=lender, arrived_at=_db(now),
                                         answer_due=_db(answer_due), ship_due=_db(ship_due), outcome="open", note=""))
        self._set(conn, rid, status=m.REQUEST_RECEIVED, phase=m.NONE, lender=lender, rota_index=index,
                  answer_due=_db(answer_due), ship_due=_db(ship_due),
                  reader_message=f"已发往 {lender} (sent to {lender}), 答复期限 {deadline_text(answer_due)}")

    # ---- rollback ----------------------------------------------------------------------------------

    def rollback(self, request_id: int, admin_id: str, reason: str, now: datetime | None = None) -> dict:
        """A centre administrator undoes the request's latest change (not its submission), with a reason.
        Violations that change recorded are voided; the rollback itself is an audit entry."""
        now = self._now(now)
        with self._tx() as conn:
            actor = self._user(conn, admin_id)
            req = self._request(conn, request_id, lock=True)
            target = self._undoable(conn, request_id)
            v = m.verdict(req, actor, now, m.ROLLBACK, undoable=target is not None)
            if not v.allowed:
                raise v.error(req)
            if not (reason or "").strip():
                raise InvalidRequest("a rollback needs a reason (--reason), kept in the audit log")
            before = self._snapshot(conn, request_id)
            self._restore(conn, request_id, target.before)
            after = self._request(conn, request_id)
            audit_id = self._audit(conn, request_id, now, admin_id, m.ADMIN, m.ROLLBACK, req["status"], req["phase"],
                                   after, req["lender"], f"undo #{target.id} ({target.action}): {reason}", before=before)
            conn.execute(update(audit).where(audit.c.id == target.id).values(rolled_back_by=audit_id))
            conn.execute(update(violations).where(violations.c.audit_id == target.id).values(void=True))
            if req.get("copy_file") and req["copy_file"] != after.get("copy_file"):  # an undone delivery's scan
                copyfiles.delete(self.copies, req["copy_file"])
            return self._public(after)

    # ---- reading -----------------------------------------------------------------------------------

    def get(self, request_id: int) -> dict:
        with self.read() as conn:
            return self._public(self._request(conn, request_id))

    def undoable(self, request_id: int) -> dict | None:
        """The change a rollback would undo now (an entry of `history`), or None: what `rollback` picks."""
        with self.read() as conn:
            self._request(conn, request_id)
            row = self._undoable(conn, request_id)
            return None if row is None else _audit_entry(row)

    def history(self, request_id: int) -> list[dict]:
        """The audit log of one request, oldest first (without the rollback snapshots)."""
        with self.read() as conn:
            self._request(conn, request_id)
            rows = conn.execute(select(audit).where(audit.c.request_id == request_id).order_by(audit.c.id))
            return [_audit_entry(r) for r in rows]

    def legs(self, request_id: int) -> list[dict]:
        with self.read() as conn:
            return [{k: _aware(v) if isinstance(v, datetime) else v for k, v in leg.items()}
                    for leg in self._legs(conn, request_id)]

    def violations(self, request_id: int | None = None) -> list[dict]:
        q = select(violations).order_by(violations.c.id)
        if request_id is not None:
            q = q.where(violations.c.request_id == request_id)
        with self.read() as conn:
            return [{k: _aware(v) if isinstance(v, datetime) else v for k, v in r._mapping.items()}
                    for r in conn.execute(q)]

    def list_requests(self, *, reader: str | None = None, member: str | None = None, side: str | None = None,
                      status: str | None = None, title: str | None = None, since: datetime | None = None,
                      until: datetime | None = None, open_only: bool = False, limit: int = 200) -> list[dict]:
        """Requests, newest first: a reader's history (申请单查询) or a library's queue.

        `member` with `side` "borrower" (its readers' requests), "lender" (requests at it now) or None
        (either); `title` matches title, author or citation; `since`/`until` bound the submission time.
        """
        q = select(requests)
        if reader:
            q = q.where(requests.c.reader_id == reader)
        if member:
            code = member.upper()
            if side == "borrower":
                q = q.where(requests.c.borrower == code)
            elif side == "lender":
                q = q.where(requests.c.lender == code)
            else:
                q = q.where(or_(requests.c.borrower == code, requests.c.lender == code))
        if status:
            q = q.where(requests.c.status == status)
        if open_only:
            q = q.where(requests.c.status.in_(sorted(m.OPEN)))
        if title:
            pattern = f"%{title.strip()}%"
            q = q.where(or_(requests.c.title.ilike(pattern), requests.c.author.ilike(pattern),
                            requests.c.citation.ilike(pattern)))
        if since:
            q = q.where(requests.c.submitted_at >= _db(since))
        if until:
            q = q.where(requests.c.submitted_at < _db(until))
        q = q.order_by(requests.c.submitted_at.desc(), requests.c.id.desc()).limit(limit)
        with self.read() as conn:
            return [self._public(dict(r._mapping)) for r in conn.execute(q)]

    def open_loans(self, reader_id: str) -> int:
        with self.read() as conn:
            return conn.execute(select(func.count()).select_from(requests).where(
                requests.c.reader_id == reader_id, requests.c.kind == m.LOAN,
                requests.c.status.in_(sorted(m.OPEN)))).scalar_one()

    # ---- internals ---------------------------------------------------------------------------------

    @staticmethod
    def _request(conn: Connection, request_id: int, lock: bool = False) -> dict:
        q = select(requests).where(requests.c.id == int(request_id))
        row = conn.execute(q.with_for_update() if lock else q).first()
        if row is None:
            raise NotFound(f"no request {request_id}; 'balis request list' shows the requests")
        return dict(row._mapping)

    @staticmethod
    def _undoable(conn: Connection, rid: int):
        """The latest change an administrator could roll back (not the submission), or None."""
        return conn.execute(
            select(audit).where(audit.c.request_id == rid, audit.c.rolled_back_by.is_(None),
                                audit.c.action.notin_(["submit", "import", m.ROLLBACK]), audit.c.before.is_not(None))
            .order_by(audit.c.id.desc()).limit(1)).first()

    @staticmethod
    def _legs(conn: Connection, rid: int) -> list[dict]:
        return [dict(r._mapping) for r in conn.execute(select(legs).where(legs.c.request_id == rid).order_by(legs.c.seq,
                                                                                                           legs.c.id))]

    @staticmethod
    def _current_leg(conn: Connection, rid: int) -> dict | None:
        row = conn.execute(select(legs).where(legs.c.request_id == rid, legs.c.outcome == "open")
                           .order_by(legs.c.seq.desc()).limit(1)).first()
        return dict(row._mapping) if row else None

    @staticmethod
    def _close_leg(conn: Connection, leg_id: int, now: datetime, outcome: str, note: str) -> None:
        conn.execute(update(legs).where(legs.c.id == leg_id).values(closed_at=_db(now), outcome=outcome,
                                                                   note=note or ""))

    @staticmethod
    def _set(conn: Connection, rid: int, **values) -> None:
        conn.execute(update(requests).where(requests.c.id == rid).values(version=requests.c.version + 1, **values))

    def _snapshot(self, conn: Connection, rid: int) -> dict:
        req = {k: _iso(v) for k, v in self._request(conn, rid).items()}
        return {"request": req, "legs": [{k: _iso(v) for k, v in leg.items()} for leg in self._legs(conn, rid)]}

    @staticmethod
    def _restore(conn: Connection, rid: int, snap: dict) -> None:
        def back(table, row: dict) -> dict:
            out = {}
            for col in table.columns:
                if col.name in row:
                    v = row[col.name]
                    if isinstance(v, str) and isinstance(col.type, DateTime):
                        v = datetime.fromisoformat(v)
                    elif isinstance(v, str) and isinstance(col.type, Date):
                        v = date.fromisoformat(v)
                    out[col.name] = v
            return out

        req = back(requests, snap["request"])
        req.pop("id", None)
        req.pop("version", None)
        conn.execute(update(requests).where(requests.c.id == rid).values(version=requests.c.version + 1, **req))
        conn.execute(legs.delete().where(legs.c.request_id == rid))
        for leg in snap["legs"]:
            conn.execute(insert(legs).values(**back(legs, leg)))

    def _audit(self, conn: Connection, rid: int, now: datetime, actor: str, role: str, action: str,
               from_status: str | None, from_phase: str | None, after: dict, lender: str | None, reason: str,
               before: dict | None) -> int:
        """The audit entry of a change, and the notices it gives (ill/notices.py), in the change's transaction."""
        audit_id = conn.execute(insert(audit).values(
            request_id=rid, at=_db(now), actor=actor, actor_role=role, action=action, from_status=from_status,
            from_phase=from_phase, to_status=after["status"], to_phase=after["phase"], lender=lender,
            reason=reason or "", before=before)).inserted_primary_key[0]
        if action not in ("import", m.ROLLBACK):
            aware = {k: _aware(v) if isinstance(v, datetime) else v for k, v in after.items()}
            lender_before = (before or {}).get("request", {}).get("lender")
            change = notices.Change(audit_id, action, from_status, role, aware, lender_before, reason or "")
            outbox.write(conn, notices.for_change(change, self.registry), now)
            peer_outbox.write(conn, peer_outbox.for_change(self.registry, action, role, from_status, lender_before,
                                                           aware, reason or "", now), rid, now)
        return audit_id

    @staticmethod
    def _public(req: dict) -> dict:
        out = {k: _aware(v) if isinstance(v, datetime) else v for k, v in req.items()}
        out["price"] = None if req.get("price_fen") is None else req["price_fen"] / 100
        out["allowed"] = m.allowed_actions(req["status"], req["phase"], req["kind"])  # for someone; `explain`: whom
        return out
