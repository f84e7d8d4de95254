"""How a balis process treats Python's cyclic garbage collector: decided here and applied by the entry points
(the `balis` command's main; search, route, dedup, harvest and `balis serve`'s start-up), never by library
modules.

Two costs it avoids:
- what stays alive for the whole process (the modules imported for the command, some 50,000 objects, and the
  compact pinyin table of records/tables.py, a few thousand more): every full collection walked it, stalling the
  portal's event loop or a federated search at moments nobody chooses. `settle()` loads the pinyin table and then
  `gc.freeze()`s everything alive (nearly all static) into a permanent generation that collections no longer
  walk; reference counting still frees frozen objects as usual.
- a merge of thousands of records allocates tens of thousands of small objects (keys, pairs, works) holding no
  cycles; with the default threshold the collector ran every 700 allocations over them and over every record in
  memory, a third of the merge time. `tune_collector()` lets the youngest generation grow to YOUNG_THRESHOLD
  objects before a collection (docs/decisions/0008-paths-and-config.md has the figures).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 100_000  # objects allocated (net) before a collection of the youngest generation; default 700


def tune_collector() -> None:
    """Collect the youngest generation less often; older generations keep their default ratios."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


def settle() -> None:
    """Load the pinyin table (records.tables, built with pypinyin the first time) and freeze what is alive, once
    the command's modules are imported and before its work starts: full collections then walk only what the work
    itself creates."""
    from records.tables import load

    load()
    gc.freeze()
