"""A reader's saved searches and their new-book alerts (定题通告), kept in the ILL store beside the reader.

A saved search holds the search as the portal's parameters (to open it again), its query as JSON (for the alert
run, services/alerts.py) and whether its alert is on. The alert run records the new editions it found for a
search (`search_hits`, once per edition) and the reader's notice (ill/notices.py `new_books`) in one
transaction, then moves the search's `checked_through` on; 我的检索 lists what is new since the reader last
looked (`seen_at`) and the Atom feed (its address carries `token`) the newest found. docs/portal-readers.md.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select, update

from ill import notices as n
from ill import outbox
from ill.errors import InvalidRequest, NotFound
from ill.schema import saved_searches, search_hits, users

if TYPE_CHECKING:
    from ill.store import Store

MAX_SEARCHES = 50  # per reader
MAX_NAME = 100  # characters of a search's name
MAX_PARAMS = 40  # parameters of one search (the search box, six fields, up to 20 facet values, page, sort)
HITS_SHOWN = 100  # the newest new editions listed per search (and in its feed)


class SearchRefused(InvalidRequest):
    """A saved search cannot be written as asked (a limit, a missing name): `key` and `values` say why in the
    portal's words, the message in Chinese and English."""

    def __init__(self, key: str, message: str, **values) -> None:
        super().__init__(message)
        self.key, self.values = key, values


@dataclass(frozen=True, slots=True)
class NewEdition:
    """An edition the alert run found new in the union index for a search."""

    work_id: str
    title: str
    details: str  # authors · publisher · year
    first_seen: datetime


def _db(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise InvalidRequest(f"time {moment.isoformat()} has no time zone; give an aware datetime")
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(value):
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


def _row(row) -> dict:
    return {k: _aware(v) for k, v in row._mapping.items()}


def _name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise SearchRefused("searches.name_empty", "请给检索起个名字 / Give the search a name")
    if len(name) > MAX_NAME:
        raise SearchRefused("searches.name_long", f"检索名称最多 {MAX_NAME} 个字 / A search's name has at most "
                            f"{MAX_NAME} characters", limit=MAX_NAME)
    return name


def _reader(conn, user_id: str) -> None:
    role = conn.execute(select(users.c.role).where(users.c.id == user_id)).scalar()
    if role is None:
        raise NotFound(f"no user {user_id}")
    if role != "reader":
        raise SearchRefused("searches.readers_only", "只有读者可以保存检索 / Only readers save searches")


# ---- the reader's own --------------------------------------------------------------------------------------

def save(store: Store, user_id: str, name: str, params: list[list[str]], query: dict, *, alert: bool = True,
         now: datetime | None = None) -> dict:
    """Save a search for a reader (at most MAX_SEARCHES); editions first harvested from now on are new to it."""
    name = _name(name)
    if not params or len(params) > MAX_PARAMS:
        raise InvalidRequest(f"a saved search has 1 to {MAX_PARAMS} parameters, not {len(params)}")
    at = _db(now or store.clock())
    with store._tx() as conn:
        _reader(conn, user_id)
        count = conn.execute(select(func.count()).select_from(saved_searches)
                             .where(saved_searches.c.user_id == user_id)).scalar_one()
        if count >= MAX_SEARCHES:
            raise SearchRefused("searches.limit", f"您已保存 {MAX_SEARCHES} 个检索，已达上限：请先删除不再需要的检索 / "
                                f"You have saved {MAX_SEARCHES} searches, the most allowed: delete one you no "
                                f"longer need first", limit=MAX_SEARCHES)
        new_id = conn.execute(insert(saved_searches).values(
            user_id=user_id, name=name, params=[list(p) for p in params], query=query, alert=bool(alert),
            token=secrets.token_urlsafe(24), created_at=at, checked_through=at, seen_at=at)
        ).inserted_primary_key[0]
    return get(store, user_id, new_id)


def _own(conn, user_id: str, search_id: int) -> dict:
    row = conn.execute(select(saved_searches).where(saved_searches.c.id == search_id,
                                                    saved_searches.c.user_id == user_id)).first()
    if row is None:
        raise NotFound(f"检索 {search_id} 不存在或不属于您 / no saved search {search_id} of yours")
    return _row(row)


def _new_counts(conn, rows: list[dict]) -> dict[int, int]:
    if not rows:
        return {}
    seen = {r["id"]: _db(r["seen_at"]) for r in rows}
    counts = dict.fromkeys(seen, 0)
    for sid, found in conn.execute(select(search_hits.c.search_id, search_hits.c.found_at)
                                   .where(search_hits.c.search_id.in_(list(seen)))):
        if found > seen[sid]:
            counts[sid] += 1
    return counts


def get(store: Store, user_id: str, search_id: int) -> dict:
    """One of the reader's saved searches, with `new` (editions found since the reader last looked)."""
    with store.read() as conn:
        row = _own(conn, user_id, search_id)
        row["new"] = _new_counts(conn, [row])[row["id"]]
    return row


def for_user(store: Store, user_id: str) -> list[dict]:
    """The reader's saved searches, newest first, each with `new`."""
    with store.read() as conn:
        rows = [_row(r) for r in conn.execute(select(saved_searches).where(saved_searches.c.user_id == user_id)
                                              .order_by(saved_searches.c.id.desc()))]
        counts = _new_counts(conn, rows)
    for r in rows:
        r["new"] = counts[r["id"]]
    return rows


def change(store: Store, user_id: str, search_id: int, *, name: str | None = None,
           alert: bool | None = None) -> dict:
    """Rename a saved search or turn its alert on or off (on again: editions from now on are new to it)."""
    values: dict = {}
    if name is not None:
        values["name"] = _name(name)
    with store._tx() as conn:
        row = _own(conn, user_id, search_id)
        if alert is not None and bool(alert) != row["alert"]:
            values["alert"] = bool(alert)
            if alert:  # not the editions of the weeks it was off, all at once
                values["checked_through"] = _db(store.clock())
        if values:
            conn.execute(update(saved_searches).where(saved_searches.c.id == search_id).values(**values))
    return get(store, user_id, search_id)


def remove(store: Store, user_id: str, search_id: int) -> None:
    """Delete a saved search and what its alerts found."""
    with store._tx() as conn:
        _own(conn, user_id, search_id)
        conn.execute(delete(search_hits).where(search_hits.c.search_id == search_id))
        conn.execute(delete(saved_searches).where(saved_searches.c.id == search_id))


def hits(store: Store, user_id: str, search_id: int, *, limit: int = HITS_SHOWN) -> list[dict]:
    """The new editions found for the search, newest first, each marked `new` if found since the reader looked."""
    with store.read() as conn:
        row = _own(conn, user_id, search_id)
        return _hits(conn, row, limit)


def _hits(conn, search: dict, limit: int) -> list[dict]:
    seen = search["seen_at"]
    out = []
    for r in conn.execute(select(search_hits).where(search_hits.c.search_id == search["id"])
                          .order_by(search_hits.c.found_at.desc(), search_hits.c.id.desc()).limit(limit)):
        hit = _row(r)
        hit["new"] = hit["found_at"] > seen
        out.append(hit)
    return out


def mark_seen(store: Store, user_id: str, search_id: int, now: datetime | None = None) -> None:
    """The reader looked at the search's new editions: they are no longer new."""
    with store._tx() as conn:
        _own(conn, user_id, search_id)
        conn.execute(update(saved_searches).where(saved_searches.c.id == search_id)
                     .values(seen_at=_db(now or store.clock())))


def by_token(store: Store, search_id: int, token: str) -> tuple[dict, list[dict]]:
    """The search whose feed address carries `token`, and its newest new editions (NotFound otherwise)."""
    with store.read() as conn:
        row = conn.execute(select(saved_searches).where(saved_searches.c.id == search_id)).first()
        if row is None or not secrets.compare_digest(row.token, token or ""):
            raise NotFound(f"no feed {search_id} with this address")
        search = _row(row)
        return search, _hits(conn, search, HITS_SHOWN)


# ---- the alert run (services/alerts.py) ---------------------------------------------------------------------

def to_check(store: Store) -> list[dict]:
    """Every saved search whose alert is on, oldest first."""
    with store.read() as conn:
        return [_row(r) for r in conn.execute(select(saved_searches).where(saved_searches.c.alert.is_(True))
                                              .order_by(saved_searches.c.id))]


def record(store: Store, search: dict, found: Iterable[NewEdition], through: datetime,
           now: datetime | None = None) -> int:
    """In one transaction: the new editions found for `search` (each once), the reader's notice listing those
    not found before, and `checked_through` moved on to `through`. Returns how many editions were new."""
    at = _db(now or store.clock())
    found = list(found)
    with store._tx() as conn:
        current = conn.execute(select(saved_searches.c.id, saved_searches.c.alert)
                               .where(saved_searches.c.id == search["id"])).first()
        if current is None or not current.alert:  # deleted or turned off while the run looked
            return 0
        known = {w for (w,) in conn.execute(select(search_hits.c.work_id).where(
            search_hits.c.search_id == search["id"], search_hits.c.work_id.in_([e.work_id for e in found])))}
        fresh = [e for e in found if e.work_id not in known]
        if fresh:
            conn.execute(insert(search_hits), [dict(search_id=search["id"], work_id=e.work_id, title=e.title,
                                                    details=e.details, first_seen=_db(e.first_seen), found_at=at)
                                               for e in fresh])
            outbox.write(conn, [n.new_books(search, fresh, through)], now or store.clock())
        conn.execute(update(saved_searches).where(saved_searches.c.id == search["id"])
                     .values(checked_through=_db(through)))
    return len(fresh)
