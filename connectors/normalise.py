"""A raw record as a member sent it, read into a `Record`: the one place the search and the harvest do it."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.base import RawRecord
    from records.model import Record

NO_001 = "no 001 control number"


def content_hash(data: bytes) -> str:
    """The hash a harvest knows a record's bytes by (unchanged bytes: unchanged record)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def normalise_raw(raw: RawRecord, *, charset: str | None = None, ils: str | None = None,
                  name_by_hash: bool = False) -> Record:
    """The Record of a raw record, read with the record's syntax and character set (`charset`, the member's,
    when the record names none) and the member's holdings profile `ils`. RecordError when it cannot be read.

    `name_by_hash`: a record without a 001 is named by the hash of its bytes, so it keeps its name between
    harvests (a search names it by its position in the answer).
    """
    from records.normalise import from_raw  # the MARC readers are imported when first needed

    rec = from_raw(raw.data, syntax=raw.syntax, charset=raw.charset or charset or "utf-8", member=raw.member,
                   position=raw.position, ils=ils, holdings=raw.holdings)
    if name_by_hash and any(w.startswith(NO_001) for w in rec.warnings):
        rec.record_id = f"h{content_hash(raw.data)[:16]}"
        rec.warnings = [w for w in rec.warnings if not w.startswith(NO_001)]
        rec.warnings.append(f"{NO_001}; named by its content hash {rec.record_id}")
    return rec
