"""One union index, two backends: a whoosh folder (the embedded default) or a PostgreSQL database.

`--index DIR` / `--index postgresql://…` (else `$BALIS_INDEX`, else the default folder) is resolved once by
`resolve_location`; `open_index` gives the write side the harvest uses and `open_searcher` the read side
search, the CLI and the SRU server use. Both backends give the same editions, facets, sorts and pages
(`tests/indexer/test_backends.py`); docs/local-search.md says where they differ. A database index may have
hot standbys that searches read from (`open_searcher(location, replicas)`, `balis serve --index-replica`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from connectors.query import Query
from dedup.work import Work
from indexer.pg.index import is_database
from indexer.search import LocalResult

__all__ = ["IndexSearcher", "UnionIndex", "is_database", "open_index", "open_searcher", "resolve_location",
           "store_folder"]


class UnionIndex(Protocol):
    """The write side: what the harvest and `balis index stats` use."""

    index_dir: object  # the folder, or the database URL without its password

    def write(self, upsert: Iterable[Work] = (), delete: Iterable[str] = (), *,
              harvested: dict[str, str] | None = None, timeout: float = 30.0,
              documents: Iterable[dict] = ()) -> dict: ...

    def rebuild(self, works: Iterable[Work], *, harvested: dict[str, str] | None = None,
                timeout: float = 30.0) -> dict: ...

    def work_ids(self) -> set[str]: ...

    def doc_count(self) -> int: ...

    def harvested(self) -> dict[str, str]: ...

    def stats(self) -> dict: ...

    def close(self) -> None: ...


class IndexSearcher(Protocol):
    """The read side: one page of editions with facets, as `indexer.search.LocalResult`."""

    def search(self, query: Query, *, sort: str = "relevance", page: int = 1, size: int = 10,
               selected: Mapping[str, list[str]] | None = None,
               names: Mapping[str, str] | None = None) -> LocalResult: ...

    def work(self, work_id: str) -> Work | None: ...

    def group(self, group_id: str, limit: int = 51) -> list[Work]: ...

    def harvested(self) -> dict[str, str]: ...

    def up_to_date(self) -> bool: ...

    def refresh(self) -> None: ...

    def warm(self) -> None: ...

    def doc_count(self) -> int: ...

    def suggest(self, words: list[str], limit: int = 3) -> list[str]: ...

    def close(self) -> None: ...


def resolve_location(arg: str | os.PathLike | None = None) -> Path | str:
    """The index chosen by the command line, then $BALIS_INDEX, then the default folder: a folder (Path) or a
    PostgreSQL URL (str)."""
    from indexer.paths import resolve_index_dir

    for value in (arg, os.environ.get("BALIS_INDEX")):
        if value:
            return str(value) if is_database(str(value)) else resolve_index_dir(value)
    return resolve_index_dir(None)


LOCATION_FILE = "index.location"  # in a harvest store's folder: the database its harvest writes into


def store_folder(location: Path | str, *, under: Path | None = None, create: bool = True) -> Path:
    """The folder of the harvest store that fills the index at `location`: the index folder itself, or for a
    database a folder of its own, `index-databases/HOST_PORT_DATABASE` in the home folder (or `under`), whose
    `index.location` names the database, so that the harvest, given this folder, writes into the database."""
    if not is_database(location):
        return Path(location)
    from urllib.parse import urlsplit

    from indexer.pg.index import connection_url

    url = connection_url(str(location))
    parts = urlsplit(url)
    name = re.sub(r"[^\w.-]", "_", f"{parts.hostname or 'local'}_{parts.port or 5432}_{parts.path.strip('/')}")
    if under is None:
        from members import paths

        under = paths.home()
    folder = under / "index-databases" / name
    if create:
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / LOCATION_FILE
        marker.touch(mode=0o600)  # the URL may hold a password
        marker.write_text(url + "\n", encoding="utf-8")
    return folder


def _named_database(folder: Path) -> str | None:
    try:
        text = (folder / LOCATION_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text if is_database(text) else None


def open_index(location: Path | str, *, create: bool = False) -> UnionIndex:
    """The write side of the index at `location` (`create=True` makes it when there is none); a harvest store
    folder that names a database (`store_folder`) opens that database."""
    if not is_database(location):
        location = _named_database(Path(location)) or location
    if is_database(location):
        from indexer.pg.index import PgIndex

        return PgIndex.open(str(location), create=create)
    from indexer.index import LocalIndex

    return LocalIndex.open(location, create=create)


def open_searcher(location: Path | str, replicas: Sequence[str] = (), slices: int | None = None) -> IndexSearcher:
    """A searcher over the index at `location`; NoIndexError when there is none or it is empty. `replicas`:
    hot standbys of a database index, which its searches then read from (`indexer/pg/reads.py`); `slices`: into
    how many slices a database index splits a broad page (`indexer/pg/search.py`; None: its default)."""
    if not is_database(location):
        location = _named_database(Path(location)) or location
    if is_database(location):
        from indexer.pg.search import PgSearcher

        return PgSearcher.open(str(location), replicas, slices)
    if replicas:
        raise ValueError("standbys (--index-replica) serve a PostgreSQL index only, not an index folder")
    from indexer.search import LocalSearcher

    return LocalSearcher.open(location)
