"""A consistent copy of a union index folder while the portal reads it and a harvest may write it.

The whoosh files are copied while the index's writer lock is held (the harvest waits for it, readers go on:
whoosh never changes a file a table of contents names), then the harvest store is copied through SQLite's
online backup API under the same lock. The harvest clears its pending records only after the index commit,
so the copied store lists as pending at least every change the copied index lacks; the next harvest after a
restore indexes them (docs/operations.md).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from indexer.index import LOCK_NAME, WHOOSH_DIR, WHOOSH_LOCK, _warn, _WriterLock
from indexer.store import STORE_NAME

_NOT_COPIED = {LOCK_NAME, WHOOSH_LOCK}


def snapshot(index_dir: Path, dest: Path, *, timeout: float = 600.0) -> int | None:
    """Copy the index folder `index_dir` (whoosh/ and harvest.sqlite) into the new folder `dest`; returns the
    number of editions in the copy (None when it has no whoosh index)."""
    index_dir, dest = Path(index_dir), Path(dest)
    dest.mkdir(parents=True)
    folder = index_dir / WHOOSH_DIR
    lock = None
    if folder.is_dir():
        lock = _WriterLock(folder, _warn)
        lock.acquire(timeout)
    try:
        if folder.is_dir():
            out = dest / WHOOSH_DIR
            out.mkdir()
            for path in sorted(folder.iterdir()):
                if path.is_file() and path.name not in _NOT_COPIED:
                    shutil.copy2(path, out / path.name)
        store = index_dir / STORE_NAME
        if store.is_file():
            src = sqlite3.connect(str(store), timeout=60)
            try:
                dst = sqlite3.connect(str(dest / STORE_NAME))
                try:
                    src.backup(dst)
                finally:
                    dst.close()
            finally:
                src.close()
    finally:
        if lock is not None:
            lock.release()
    return doc_count(dest)


def doc_count(index_dir: Path) -> int | None:
    """The number of editions in the whoosh index of `index_dir`, or None when there is none."""
    from whoosh import index as whoosh_index

    folder = Path(index_dir) / WHOOSH_DIR
    if not whoosh_index.exists_in(str(folder)):
        return None
    ix = whoosh_index.open_dir(str(folder))
    try:
        return ix.doc_count()
    finally:
        ix.close()
