"""Pinyin sort keys of member names, kept between processes in `pinyin-keys.json` in the home folder.

pypinyin builds its phrase tables in some 300 ms when imported: longer than a whole `balis members` run should
take, to sort a few dozen names that rarely change. The keys are computed with pypinyin once, for the names not
yet known (and again for all when pypinyin's phrase tables change), and read back from the file after that. A file
that cannot be read or written only costs the import.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from importlib.util import find_spec

from members import paths

CACHE_NAME = "pinyin-keys.json"


def pinyin_keys(texts: Iterable[str]) -> dict[str, str]:
    """Each text's pinyin with tone numbers ("bei3 jing1 da4 xue2"), lower case, as pypinyin gives it."""
    wanted = set(texts)
    path = paths.home() / CACHE_NAME
    version = pypinyin_version()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        doc = {}
    known = doc.get("keys") if isinstance(doc, dict) and doc.get("pypinyin") == version else None
    known = {k: v for k, v in known.items() if isinstance(v, str)} if isinstance(known, dict) else {}
    missing = wanted - known.keys()
    if missing:
        from pypinyin import Style, lazy_pinyin

        known.update({t: " ".join(lazy_pinyin(t, style=Style.TONE3)).lower() for t in missing})
        _save(path, {"pypinyin": version, "keys": known})
    return {t: known[t] for t in wanted}


def pypinyin_version() -> str:
    """The size and time of pypinyin's table files and of the module that converts with them: they change with
    any upgrade, and are read without importing pypinyin (or importlib.metadata, which costs 30 ms)."""
    spec = find_spec("pypinyin")
    if spec is None or not spec.origin:
        return "missing"
    folder = os.path.dirname(spec.origin)
    try:
        stats = [os.stat(os.path.join(folder, name))
                 for name in ("phrases_dict.json", "pinyin_dict.json", "converter.py", "__init__.py")]
    except OSError:
        return "unknown"
    return ";".join(f"{st.st_size}:{st.st_mtime_ns}" for st in stats)


def _save(path, doc: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(doc, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
