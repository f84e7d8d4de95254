"""Whether the edition staff route a manual citation to is the one the reader wrote down (pure).

A manual request (手工填写) names a title and maybe an ISBN; staff pick an edition on the locate page. When the
edition's ISBNs do not include the reader's ISBN, or its title is not the reader's title, routing asks staff
to confirm (`mismatch` says why); the store refuses without that confirmation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from difflib import SequenceMatcher

TITLE_SIMILAR = 0.8  # titles this similar (after folding) are the same title written differently
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def fold(text: str | None) -> str:
    """A title for comparing: width and case folded, spaces and punctuation dropped."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text or "").casefold())


def same_title(a: str | None, b: str | None) -> bool:
    fa, fb = fold(a), fold(b)
    if not fa or not fb:
        return True  # nothing to compare with
    if fa in fb or fb in fa:
        return True
    return SequenceMatcher(None, fa, fb).ratio() >= TITLE_SIMILAR


def mismatch(request: dict, title: str, isbns: Sequence[str]) -> str | None:
    """Why the edition (`title`, ISBN-13s `isbns`) may not be what `request` asks for, or None when it fits."""
    wanted = request.get("isbn") or ""
    if wanted and isbns and wanted not in isbns:
        return (f"ISBN 不符：读者填写 {wanted}，所选版本为 {', '.join(isbns[:3])} (the edition's ISBN is not the "
                f"reader's)")
    asked = request.get("title") or ""
    if asked and not same_title(asked, title):
        return f"题名不符：读者填写《{asked}》，所选版本为《{title}》(the edition's title is not the reader's)"
    return None
