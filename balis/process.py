"""How a balis process treats Python's cyclic garbage collector: decided here and applied by the entry points
(the `balis` command's main; search, route, dedup, harvest and `balis serve`'s start-up), never by library
modules.

Two costs it avoids:
- pypinyin's phrase tables (about 190,000 lists alive for the whole process): every full collection walked
  them, 30–55 ms, stalling the portal's event loop or a federated search at moments nobody chooses.
  `settle()` imports them and then `gc.freeze()`s everything alive (those tables and the modules imported so
  far, nearly all static) into a permanent generation that collections no longer walk; reference counting
  still frees frozen objects as usual.
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
    """Import pypinyin's tables (records.tables) and freeze what is alive, once the command's modules are
    imported and before its work starts: full collections then walk only what the work itself creates."""
    import records.tables  # noqa: F401  (the phrase tables, built at import)

    gc.freeze()
