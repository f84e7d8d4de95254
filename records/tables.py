"""pypinyin, imported in one place: its phrase dictionary is about 190,000 Python lists that live as long as
the process, built in some 200 ms when first imported.

Import `lazy_pinyin` and `Style` from here, not from pypinyin, so that the one import is easy to find. What the
process does about those lists (keep them out of the cyclic collector's walks with `gc.freeze()`) is decided by
the entry points, not here: `balis/process.py`.
"""

from __future__ import annotations

from pypinyin import Style, lazy_pinyin

__all__ = ["Style", "lazy_pinyin"]
