"""Serial holdings in CNMARC records: where Chinese members' systems write which volumes of a journal they hold.

Pure over a pymarc record. What the standards say, and what is assumed (docs/document-delivery.md):

- 905 is the CNMARC holdings field (馆藏信息, national-use block 9--: the library's code, accession number, class
  and book number, volumes held and years) of CALIS and of the systems that export to it (汇文 Libsys, Interlib
  图创): `$a` the library, `$b` the barcode, `$c` the location, `$d`/`$e` class and book number, `$s` the call
  number (as records/holdings.py reads the copies). **Assumed**: `$f` carries the volumes and years the field
  stands for (卷期/卷册: one bound volume "2004年 第25卷 第1-6期", or a summary "1980-2004年"), `$z` a note (缺…).
- 866 `$a`/`$z`: MARC 21 textual holdings that Aleph's holdings records carry; **assumed** to be embedded the same
  way in the CNMARC records an Aleph library exports (UNIMARC's bibliographic format defines no 866, so the tag
  means nothing else there).
- Not read: 207 `$a` (编号, "1980,no.1-") states the journal's own numbering, not what a library holds; the UNIMARC
  Holdings Format's 520 textual holdings exist only in separate holdings records (in a bibliographic record 520 is
  the former title).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pymarc

from records.model import SerialHolding

__all__ = ["cnmarc_serial_holdings"]

_GAPS = re.compile(r"缺|lack|deficient|missing|wanting", re.IGNORECASE)


def _values(f: pymarc.Field, codes: str) -> list[str]:
    return [sf.value.strip() for sf in f.subfields if sf.code in codes and sf.value and sf.value.strip()]


def _one(f: pymarc.Field, codes: str) -> str | None:
    return " ".join(_values(f, codes)) or None


def _statement(f: pymarc.Field, text_codes: str) -> str:
    text = " ".join(_values(f, text_codes))
    note = " ".join(_values(f, "z"))
    if note and _GAPS.search(note):
        text = f"{text}; {note}" if text else note
    return text if re.search(r"\d|现刊", text) else ""


def cnmarc_serial_holdings(rec: pymarc.Record, *, member: str,
                           by_tag: Mapping[str, list[pymarc.Field]]) -> list[SerialHolding]:
    """The print runs a CNMARC serial record states (905 $f, 866 $a; see the module), each as written."""
    if str(rec.leader)[7:8] != "s" and "866" not in by_tag:
        return []
    out: list[SerialHolding] = []
    for f in by_tag.get("866", ()):
        if not f.is_control_field() and (text := _statement(f, "a")):
            out.append(SerialHolding(member, text, None, None, "866"))
    if out:
        return out
    for f in by_tag.get("905", ()):
        if f.is_control_field():
            continue
        text = _statement(f, "f")
        if text:
            call = _one(f, "s") or "/".join(_values(f, "de")) or None
            out.append(SerialHolding(member, text, _one(f, "c"), call, "905$f"))
    return out
