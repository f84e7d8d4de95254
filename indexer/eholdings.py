"""Members' e-journal holdings from KBART files: which packages each member licenses, which titles and runs
they hold, and whether the licence allows document delivery from them (a per-package flag).

Its own SQLite file, `eholdings.sqlite` in the home folder (members/paths.py), beside the union index and the
ILL store: KBART lists are not catalogue records (no MARC, no editions to merge), are replaced whole per
package, and are read by ISSN when a copy request is routed. One import replaces a package in one
transaction; a file that cannot be read changes nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from indexer.errors import HarvestStoreError
from records.kbart import KbartTitle

STORE_NAME = "eholdings.sqlite"
_TITLE_COLUMNS = tuple(f.name for f in fields(KbartTitle))

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS packages (
    member TEXT NOT NULL,
    package TEXT NOT NULL,
    dd_allowed INTEGER NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    imported_at TEXT NOT NULL,
    titles INTEGER NOT NULL,
    PRIMARY KEY (member, package)
);
CREATE TABLE IF NOT EXISTS titles (
    member TEXT NOT NULL,
    package TEXT NOT NULL,
    {", ".join(f"{c} TEXT NOT NULL DEFAULT ''" for c in _TITLE_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS ix_titles_print ON titles (print_issn);
CREATE INDEX IF NOT EXISTS ix_titles_online ON titles (online_issn);
CREATE INDEX IF NOT EXISTS ix_titles_package ON titles (member, package);
"""


def default_path() -> Path:
    from members import paths

    return paths.home() / STORE_NAME


@dataclass(frozen=True, slots=True)
class Licensed:
    """One title a member licenses, in one package, with the package's document-delivery flag."""

    member: str
    package: str
    dd_allowed: bool
    title: KbartTitle


class EHoldings:
    """The e-holdings store (SQLite). Use as a context manager; `open` creates the file when asked."""

    def __init__(self, path: Path | str | None = None, *, create: bool = True):
        self.path = Path(path) if path else default_path()
        if not create and not self.path.exists():
            raise HarvestStoreError(f"no e-journal holdings at {self.path}; import a member's list first: "
                                    "balis holdings import-kbart MEMBER FILE")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=30)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise HarvestStoreError(f"cannot open the e-journal holdings store {self.path}: {exc}") from exc

    def __enter__(self) -> EHoldings:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def replace_package(self, member: str, package: str, titles: Iterable[KbartTitle], *, dd_allowed: bool,
                        source: str = "", now: datetime | None = None) -> dict:
        """The package's titles replaced by `titles` in one transaction; returns what was stored."""
        rows = [(member, package, *(getattr(t, c) for c in _TITLE_COLUMNS)) for t in titles]
        stamp = (now or datetime.now(UTC)).isoformat()
        try:
            with self.conn:
                old = self.conn.execute("SELECT count(*) FROM titles WHERE member=? AND package=?",
                                        (member, package)).fetchone()[0]
                self.conn.execute("DELETE FROM titles WHERE member=? AND package=?", (member, package))
                self.conn.executemany(
                    f"INSERT INTO titles (member, package, {', '.join(_TITLE_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * (len(_TITLE_COLUMNS) + 2))})", rows)
                self.conn.execute(
                    "INSERT INTO packages (member, package, dd_allowed, source, imported_at, titles) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (member, package) DO UPDATE SET "
                    "dd_allowed=excluded.dd_allowed, source=excluded.source, imported_at=excluded.imported_at, "
                    "titles=excluded.titles", (member, package, int(dd_allowed), source, stamp, len(rows)))
        except sqlite3.Error as exc:
            raise HarvestStoreError(f"cannot write the e-journal holdings store {self.path}: {exc}") from exc
        return {"member": member, "package": package, "titles": len(rows), "replaced": old,
                "dd_allowed": dd_allowed, "imported_at": stamp, "store": str(self.path)}

    def set_dd_allowed(self, member: str, package: str, allowed: bool) -> bool:
        with self.conn:
            cur = self.conn.execute("UPDATE packages SET dd_allowed=? WHERE member=? AND package=?",
                                    (int(allowed), member, package))
        return cur.rowcount > 0

    def packages(self, member: str | None = None) -> list[dict]:
        sql = "SELECT member, package, dd_allowed, source, imported_at, titles FROM packages"
        args: tuple = ()
        if member:
            sql += " WHERE member=?"
            args = (member,)
        rows = self.conn.execute(sql + " ORDER BY member, package", args).fetchall()
        return [{"member": r[0], "package": r[1], "dd_allowed": bool(r[2]), "source": r[3], "imported_at": r[4],
                 "titles": r[5]} for r in rows]

    def by_issn(self, issns: Iterable[str]) -> list[Licensed]:
        """Every licensed title with one of these ISSNs (print or online), with its package's flag."""
        wanted = sorted({i for i in issns if i})
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        cols = ", ".join(f"t.{c}" for c in _TITLE_COLUMNS)
        rows = self.conn.execute(
            f"SELECT t.member, t.package, p.dd_allowed, {cols} FROM titles t JOIN packages p "
            f"ON p.member = t.member AND p.package = t.package "
            f"WHERE t.print_issn IN ({marks}) OR t.online_issn IN ({marks}) ORDER BY t.member, t.package",
            (*wanted, *wanted)).fetchall()
        return [Licensed(r[0], r[1], bool(r[2]), KbartTitle(**dict(zip(_TITLE_COLUMNS, r[3:], strict=True))))
                for r in rows]


def licensed_by_issn(issns: Iterable[str], path: Path | str | None = None) -> list[Licensed]:
    """The licensed titles with these ISSNs, or [] when no list was ever imported (no store file)."""
    target = Path(path) if path else default_path()
    if not target.exists():
        return []
    with EHoldings(target, create=False) as store:
        return store.by_issn(issns)
