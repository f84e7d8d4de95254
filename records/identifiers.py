"""ISBN and ISSN as members catalogue them: parsing qualifiers, validating, and every search form.

Validation, conversion and hyphenation come from python-stdnum; this module only finds the number
inside the cataloguer's text ("7-5037-1744-0 (平装)", "0-19-852663-6 (pbk.) :", "ISBN 978...").
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from stdnum import isbn as _isbn
from stdnum import issn as _issn
from stdnum.exceptions import ValidationError

from records.model import Isbn

# A run of digits with optional hyphens/spaces, ending in a digit or X: the candidate number.
_ISBN_RUN = re.compile(r"(?<![0-9A-Za-z])((?:97[89][-\s]?)?(?:\d[-\s]?){8,9}[\dXx])(?![0-9])")
_ISSN_RUN = re.compile(r"(?<![0-9])(\d{4})\s*[-‐‑–]?\s*(\d{3}[\dXx])(?![0-9])")
_QUALIFIER_TRIM = " \t:;,/=+()[]（）【】：；，。／"
_ISBN_PREFIX = re.compile(r"^\s*(?:isbn(?:[-\s]?1[03])?)\s*[:：]?\s*", re.IGNORECASE)


def _clean(text: str) -> str:
    """NFKC so full-width digits, hyphens and brackets look like ASCII."""
    return unicodedata.normalize("NFKC", text)


def _qualifier(rest: str) -> str | None:
    """The text after the number, without brackets and ISBD punctuation: "(平装)" → "平装"."""
    q = rest.strip(_QUALIFIER_TRIM).lstrip(". ")
    # Prices that were catalogued into the same subfield ("CNY25.00") are not qualifiers.
    q = re.sub(r"\s*(?:CNY|RMB|¥|￥|\$|USD)\s*[\d.]+\s*$", "", q, flags=re.IGNORECASE).strip(_QUALIFIER_TRIM)
    if q.count("(") != q.count(")"):
        q = q.strip("()")
    return q or None


@lru_cache(maxsize=4096)
def parse_isbn(text: str) -> Isbn | None:
    """Parse an ISBN as catalogued; None when the text holds no ISBN-like number at all.

    A number of ISBN shape that fails the check digit is kept with valid=False and isbn13=None, so a
    record's wrong ISBN is still shown and can still be matched by its digits.
    """
    if not text or not text.strip():
        return None
    cleaned = _ISBN_PREFIX.sub("", _clean(text))
    m = _ISBN_RUN.search(cleaned)
    if not m:
        return None
    digits = re.sub(r"[-\s]", "", m.group(1)).upper()
    if len(digits) not in (10, 13):
        return None
    qualifier = _qualifier(cleaned[: m.start()] + " " + cleaned[m.end():])
    raw = text.strip().strip(" :;=/")
    try:
        compact = _isbn.validate(digits)
    except ValidationError:
        return Isbn(raw=raw, isbn13=None, qualifier=qualifier, valid=False)
    return Isbn(raw=raw, isbn13=_isbn.to_isbn13(compact), qualifier=qualifier, valid=True)


def isbn_search_forms(text: str) -> list[str]:
    """Every form a member may have catalogued the ISBN in: 13 and 10 digits, bare and hyphenated.

    Invalid numbers give their bare digits only (a member may hold the same wrong number).
    """
    parsed = parse_isbn(text)
    if parsed is None:
        return []
    if not parsed.valid or parsed.isbn13 is None:
        m = _ISBN_RUN.search(_ISBN_PREFIX.sub("", _clean(text)))
        return [re.sub(r"[-\s]", "", m.group(1)).upper()] if m else []
    isbn13 = parsed.isbn13
    forms = [isbn13]
    isbn10 = None
    if isbn13.startswith("978"):
        isbn10 = _isbn.to_isbn10(isbn13)
        forms.append(isbn10)
    forms.append(_isbn.format(isbn13))
    if isbn10:
        forms.append(_isbn.format(isbn10))
    seen: list[str] = []
    for f in forms:
        if f not in seen:
            seen.append(f)
    return seen


def isbn13(text: str) -> str | None:
    """The ISBN-13 of a catalogued ISBN, or None when there is no valid ISBN in the text."""
    parsed = parse_isbn(text)
    return parsed.isbn13 if parsed else None


def parse_issn(text: str) -> str | None:
    """A validated ISSN in its hyphenated form ("0378-5955"), or None."""
    if not text:
        return None
    m = _ISSN_RUN.search(_clean(text))
    if not m:
        return None
    try:
        compact = _issn.validate(m.group(1) + m.group(2))
    except ValidationError:
        return None
    return _issn.format(compact)
