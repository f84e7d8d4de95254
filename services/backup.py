"""Backups of what balis writes: the ILL store, the harvest store and the union index (docs/operations.md).

Each part is a consistent snapshot taken while the portal and the harvest run: a SQLite file through SQLite's
online backup API (one read transaction), a PostgreSQL ILL store with pg_dump (one snapshot), and the whoosh
index copied while its writer lock is held, the harvest store copied under the same lock right after it, so
the store never says an edition is indexed that the copied index lacks (records it lists as pending are
re-indexed by the next harvest). A backup is written to `NAME.part` and renamed when complete, so a folder
without `.part` is a whole backup; `balis-backup.json` in it says what it holds.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from members import paths

MANIFEST = "balis-backup.json"
FORMAT = 1
ILL_SQLITE = "ill.sqlite"
ILL_PGDUMP = "ill.pgdump"
INDEX_DIR = "index"
INDEX_PGDUMP = "index.pgdump"
CALENDAR = "holidays.toml"
EHOLDINGS = "eholdings.sqlite"


def _home_files() -> list[tuple[str, str, str, Path]]:
    """Files of the home folder a backup keeps beside the stores: (part, file in the backup, kind, where)."""
    from indexer.eholdings import default_path as eholdings_path

    return [("calendar", CALENDAR, "toml", paths.holidays_file()),  # the holidays administrators entered
            ("eholdings", EHOLDINGS, "sqlite", eholdings_path())]  # members' e-journal lists (KBART)


class BackupError(Exception):
    """A backup or restore could not be made; the message says which part and what to do."""


@dataclass(frozen=True, slots=True)
class Part:
    """One part of a backup: what it is, where it came from, and how much it holds."""

    name: str  # "ill" or "index"
    kind: str  # "sqlite", "postgresql", "whoosh"
    source: str
    count: int | None  # requests in the ILL store; editions in the index
    note: str = ""


def default_folder(home: Path, now: datetime | None = None) -> Path:
    """`backups/balis-YYYYMMDDTHHMMSSZ` in the home folder."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return home / "backups" / f"balis-{stamp}"


# -- SQLite ---------------------------------------------------------------------------------------------
def sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (WAL or not) through the online backup API, in one step."""
    src = sqlite3.connect(str(source), timeout=60)
    try:
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst)  # all pages in one step: one read transaction, writers go on beside it
        finally:
            dst.close()
    finally:
        src.close()


def _sqlite_count(path: Path, table: str) -> int | None:
    con = sqlite3.connect(str(path))
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - our own table names
    except sqlite3.DatabaseError:
        return None
    finally:
        con.close()


def _sqlite_path(url: str) -> Path:
    return Path(url.split(":///", 1)[1])


# -- PostgreSQL -----------------------------------------------------------------------------------------
def pg_tool(name: str) -> str:
    """pg_dump / pg_restore: the newest installed (it must be at least the server's version)."""
    import glob

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4])
                   if p.split("/")[4].isdigit() else 0)
    tool = found[-1] if found else shutil.which(name)
    if not tool:
        raise BackupError(f"{name} is not installed; install the PostgreSQL client (postgresql-client) "
                          "to back up or restore a PostgreSQL ILL store")
    return tool


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://…) as libpq reads it (postgresql://…)."""
    return "postgresql://" + url.split("://", 1)[1]


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        why = " ".join(done.stderr.split())[:500]
        raise BackupError(f"{what} failed ({Path(cmd[0]).name} exit {done.returncode}): {why}")


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# -- backup ---------------------------------------------------------------------------------------------
def backup(dest: Path, *, ill_url: str, index_location: Path | str, timeout: float = 600.0) -> list[Part]:
    """Back up the ILL store at `ill_url` and the union index at `index_location` into the new folder `dest`.

    `timeout`: seconds to wait for a harvest that is writing the index. Returns the parts written.
    """
    dest = Path(dest)
    if dest.exists():
        raise BackupError(f"{dest} exists already; give a new folder with --to")
    work = dest.with_name(dest.name + ".part")
    if work.exists():
        shutil.rmtree(work)  # a backup that was interrupted
    work.mkdir(parents=True)
    started = time.monotonic()
    try:
        parts = [_backup_ill(ill_url, work), _backup_index(index_location, work, timeout)]
        for name, file, kind, source in _home_files():
            if not source.is_file():
                continue
            if kind == "sqlite":
                sqlite_copy(source, work / file)
                parts.append(Part(name, kind, str(source), _sqlite_count(work / file, "titles")))
            else:
                shutil.copy2(source, work / file)
                parts.append(Part(name, kind, str(source), None))
        manifest = {"format": FORMAT, "created": datetime.now(UTC).isoformat(timespec="seconds"),
                    "seconds": round(time.monotonic() - started, 2),
                    "parts": [part_json(p) for p in parts]}
        (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        work.rename(dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return parts


def part_json(p: Part) -> dict:
    return {"name": p.name, "kind": p.kind, "source": p.source, "count": p.count, "note": p.note}


def _backup_ill(url: str, work: Path) -> Part:
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        if not path.is_file():
            return Part("ill", "sqlite", str(path), None, "no ILL store yet: nothing to back up")
        sqlite_copy(path, work / ILL_SQLITE)
        return Part("ill", "sqlite", str(path), _sqlite_count(work / ILL_SQLITE, "requests"))
    if url.startswith("postgresql"):
        _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(work / ILL_PGDUMP),
              "--dbname", libpq_url(url)], f"the backup of the ILL store {_safe(url)}")
        from ill.store import Store

        with Store(url, migrate=False) as store, store.read() as conn:
            from sqlalchemy import func, select

            from ill.schema import requests

            count = conn.execute(select(func.count()).select_from(requests)).scalar_one()
        return Part("ill", "postgresql", _safe(url), count)
    raise BackupError(f"the ILL store {url} is neither SQLite nor PostgreSQL; back it up with its own tools")


def _backup_index(location: Path | str, work: Path, timeout: float) -> Part:
    from indexer.backend import is_database

    if is_database(location):  # pg_dump takes one consistent snapshot of the index and its harvest store
        url = str(location)
        _run([pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(work / INDEX_PGDUMP),
              "--dbname", libpq_url(url)], f"the backup of the union index {_safe(url)}")
        return Part("index", "postgresql", _safe(url), None)
    from indexer.snapshot import snapshot

    folder = Path(location)
    if not (folder / "whoosh").is_dir() and not (folder / "harvest.sqlite").is_file():
        return Part("index", "whoosh", str(folder), None, "no union index yet: nothing to back up")
    docs = snapshot(folder, work / INDEX_DIR, timeout=timeout)
    return Part("index", "whoosh", str(folder), docs)


# -- restore --------------------------------------------------------------------------------------------
def read_manifest(source: Path) -> dict:
    try:
        manifest = json.loads((Path(source) / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{source} is not a balis backup (no {MANIFEST}); an interrupted backup ends in "
                          "'.part' and cannot be restored") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read {Path(source) / MANIFEST}: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source} was written by another version of balis (format {manifest.get('format')}, "
                          f"this one reads {FORMAT})")
    return manifest


def restore(source: Path, *, ill_url: str, index_location: Path | str, replace: bool = False) -> list[Part]:
    """Restore the backup in `source` into the ILL store at `ill_url` and the index folder `index_location`.

    Stop the portal and the harvest first. Without `replace`, a store or index that exists already is
    refused; with it, a SQLite store and an index folder are moved aside (`NAME.before-restore-STAMP`) and kept.
    """
    source = Path(source)
    read_manifest(source)
    if not replace:  # refuse before anything is changed
        from indexer.backend import is_database

        there = [str(p) for p, ok in (
            (_sqlite_path(ill_url) if ill_url.startswith("sqlite") else None, (source / ILL_SQLITE).is_file()),
            (None if is_database(index_location) else Path(index_location), (source / INDEX_DIR).is_dir()),
            *((where, (source / file).is_file()) for _n, file, _k, where in _home_files()))
            if ok and p is not None and p.exists() and (p.is_file() or any(p.iterdir()))]
        if there:
            raise BackupError(f"{', '.join(there)} exist(s) already; add --replace to restore over them "
                              "(the current files are kept beside, renamed)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    parts = []
    if (source / ILL_SQLITE).is_file() or (source / ILL_PGDUMP).is_file():
        parts.append(_restore_ill(source, ill_url, replace, stamp))
    if (source / INDEX_DIR).is_dir():
        parts.append(_restore_index(source / INDEX_DIR, index_location, replace, stamp))
    if (source / INDEX_PGDUMP).is_file():
        parts.append(_restore_index_database(source / INDEX_PGDUMP, index_location, replace))
    for name, file, kind, target in _home_files():
        if not (source / file).is_file():
            continue
        kept = ""
        if target.exists():
            if not replace:
                raise BackupError(f"{target} exists already; add --replace to restore over it")
            kept = str(_aside(target, stamp))
            target.rename(kept)
        target.parent.mkdir(parents=True, exist_ok=True)
        if kind == "sqlite":
            sqlite_copy(source / file, target)
        else:
            shutil.copy2(source / file, target)
        parts.append(Part(name, kind, str(target), None, f"the previous file is kept as {kept}" if kept else ""))
    return parts


def _restore_index_database(dump: Path, location: Path | str, replace: bool) -> Part:
    from indexer.backend import is_database

    if not is_database(location):
        raise BackupError("this backup holds a PostgreSQL union index; restore it into a database "
                          "(--index postgresql://…), or fill a folder with 'balis harvest --index DIR --full'")
    url = str(location)
    cmd = [pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction", "--dbname",
           libpq_url(url), str(dump)]
    if replace:
        cmd[1:1] = ["--clean", "--if-exists"]
    else:
        from sqlalchemy import create_engine, inspect

        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            if inspect(engine).get_table_names():
                raise BackupError(f"the database {_safe(url)} is not empty; add --replace to restore the union index "
                                  "over it, or restore into an empty database")
        finally:
            engine.dispose()
    _run(cmd, f"the restore of the union index into {_safe(url)}")
    return Part("index", "postgresql", _safe(url), None)


def _aside(path: Path, stamp: str) -> Path:
    return path.with_name(f"{path.name}.before-restore-{stamp}")


def _restore_ill(source: Path, url: str, replace: bool, stamp: str) -> Part:
    if (source / ILL_SQLITE).is_file():
        if not url.startswith("sqlite"):
            raise BackupError("this backup holds a SQLite ILL store; restore it into a SQLite file (--db FILE), "
                              "or copy its requests with 'balis request export/import'")
        target = _sqlite_path(url)
        kept = ""
        if target.exists():
            if not replace:
                raise BackupError(f"the ILL store {target} exists already; add --replace to restore over it "
                                  "(the current file is kept beside it)")
            kept = str(_aside(target, stamp))
            for suffix in ("", "-wal", "-shm"):
                old = Path(f"{target}{suffix}")
                if old.exists():
                    old.rename(f"{kept}{suffix}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".restoring")
        sqlite_copy(source / ILL_SQLITE, tmp)
        tmp.rename(target)
        return Part("ill", "sqlite", str(target), _sqlite_count(target, "requests"),
                    f"the previous store is kept as {kept}" if kept else "")
    if not url.startswith("postgresql"):
        raise BackupError("this backup holds a PostgreSQL ILL store; restore it into a PostgreSQL database "
                          "(--db postgresql://…)")
    cmd = [pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction", "--dbname",
           libpq_url(url), str(source / ILL_PGDUMP)]
    if replace:
        cmd[1:1] = ["--clean", "--if-exists"]
    else:
        from sqlalchemy import create_engine, inspect

        engine = create_engine(url)
        try:
            if "requests" in inspect(engine).get_table_names():
                raise BackupError(f"the database {_safe(url)} holds an ILL store already; add --replace to "
                                  "restore over it, or restore into an empty database")
        finally:
            engine.dispose()
    _run(cmd, f"the restore of the ILL store into {_safe(url)}")
    return Part("ill", "postgresql", _safe(url), None)


def _restore_index(source: Path, location: Path | str, replace: bool, stamp: str) -> Part:
    from indexer.backend import is_database

    if is_database(location):
        raise BackupError("this backup holds a whoosh union index; restore it into a folder (--index DIR), "
                          "or fill the database with 'balis harvest --index postgresql://… --full'")
    target = Path(location)
    kept = ""
    if target.exists() and any(target.iterdir()):
        if not replace:
            raise BackupError(f"the union index {target} exists already; add --replace to restore over it "
                              "(the current folder is kept beside it)")
        kept = str(_aside(target, stamp))
        target.rename(kept)
    elif target.exists():
        target.rmdir()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".restoring")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(source, tmp)
    os.replace(tmp, target)
    from indexer.snapshot import doc_count

    return Part("index", "whoosh", str(target), doc_count(target),
                f"the previous index is kept as {kept}" if kept else "")
