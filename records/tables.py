"""pypinyin, imported once per process and then kept out of the cyclic garbage collector's walks.

pypinyin builds its phrase dictionary when imported: about 190,000 Python lists that live as long as the
process. Python's cyclic collector walks every object it tracks on each full collection, so with those
lists in memory a full collection took 30–55 ms: a stall of the event loop of the portal or of a federated
search, at moments nobody chooses. `gc.freeze()` moves every object alive at this point (pypinyin's tables
and the modules imported so far, nearly all of it static) to a permanent generation that collections no
longer walk. Reference counting still frees frozen objects as usual; only a reference cycle among them
would never be collected, and these tables hold none.

Import `lazy_pinyin` and `Style` from here, not from pypinyin, so that the freeze follows the import
wherever pypinyin is first needed.
"""

from __future__ import annotations

import gc

from pypinyin import Style, lazy_pinyin

gc.freeze()

__all__ = ["Style", "lazy_pinyin"]
