"""The real seed records shipped in testbed/data/marc, read with pymarc into (syntax, Record) pairs."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymarc

DATA_DIR = Path(__file__).resolve().parent / "data" / "marc"

# file (relative to DATA_DIR) → (syntax, how to read it). MARCXML collections that repeat an ISO 2709 file
# are left out so a record is not seeded twice; so are SRU response wrappers (the .as_marcxml files hold
# the same records).
SOURCES: tuple[tuple[str, str, str], ...] = (
    ("dp2-cnmarc/sample_cnmarc.as_marcxml.xml", "unimarc", "xml"),
    ("dp2-cnmarc/sample_marc21_chi.as_marcxml.xml", "marc21", "xml"),
    ("loc-cc0/loc_general.xml", "marc21", "xml"),
    ("loc-cc0/british_library.xml", "marc21", "xml"),
    ("loc-cc0/dnb.xml", "marc21", "xml"),
    ("loc-cc0/gwu.xml", "marc21", "xml"),
    ("loc-cc0/nlm.xml", "marc21", "xml"),
    ("loc-cc0/oclc.xml", "marc21", "xml"),
    ("loc-cc0/princeton.xml", "marc21", "xml"),
    ("yaz/marccol1.u8.marc", "marc21", "utf-8"),
    ("yaz/marccol2.u8.marc", "marc21", "utf-8"),
    ("yaz/marccol3.u8.marc", "marc21", "utf-8"),
    ("yaz/marccol4.u8.marc", "marc21", "utf-8"),
    ("yaz/marccol5.u8.marc", "marc21", "utf-8"),
    ("traject/test_data.utf8.mrc", "marc21", "utf-8"),
    ("marc-perl/cjk1.marc", "marc21", "marc-8"),
    ("marc-perl/cjk2.marc", "marc21", "marc-8"),
    ("marc-perl/cjk3.marc", "marc21", "marc-8"),
    ("marc-perl/cjk4.marc", "marc21", "marc-8"),
    ("marc4j/chabon-loc.mrc", "marc21", "marc-8"),
    ("marc4j/chabon.mrc", "marc21", "marc-8"),
    ("marc4j/oclc_63111280_export_as_UTF8_from_connexion.mrc", "marc21", "utf-8"),
    ("pymarc/marc8.dat", "marc21", "marc-8"),
    ("pymarc/test.dat", "marc21", "marc-8"),
    ("pymarc/testunimarc.dat", "unimarc", "utf-8"),
)


@dataclass(frozen=True, slots=True)
class Seed:
    """One real record: where it came from and its syntax (marc21 | unimarc)."""

    source: str
    index: int
    syntax: str
    record: pymarc.Record

    @property
    def control_number(self) -> str:
        f = self.record.get("001")
        return f.data.strip() if f is not None and f.data else ""


def read_seeds(data_dir: Path = DATA_DIR, syntax: str | None = None) -> Iterator[Seed]:
    """Every readable seed record in a fixed order; unreadable ones are skipped (the stream goes on)."""
    for rel, rec_syntax, how in SOURCES:
        if syntax and rec_syntax != syntax:
            continue
        path = data_dir / rel
        if not path.exists():
            continue
        for i, rec in enumerate(_read(path, how)):
            if rec is not None:
                yield Seed(rel, i, rec_syntax, rec)


def _read(path: Path, how: str) -> Iterator[pymarc.Record | None]:
    if how == "xml":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield from pymarc.parse_xml_to_array(str(path))
        return
    data = path.read_bytes()
    if how == "marc-8":
        reader = pymarc.MARCReader(io.BytesIO(data), to_unicode=True, force_utf8=False,
                                   utf8_handling="replace", permissive=True)
    else:
        reader = pymarc.MARCReader(io.BytesIO(data), to_unicode=True, force_utf8=True,
                                   utf8_handling="replace", permissive=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield from reader


def to_marcxml(record: pymarc.Record) -> bytes:
    """One record as a namespaced MARCXML `<record>` document (UTF-8 bytes)."""
    return pymarc.record_to_xml(record, namespace=True)


def seed_marcxml(syntax: str) -> list[bytes]:
    """The seed records of one syntax as MARCXML, unique by 001 (records lacking one get `seed-N`)."""
    out: list[bytes] = []
    seen: set[str] = set()
    for n, seed in enumerate(read_seeds(syntax=syntax)):
        cn = seed.control_number
        if cn in seen:
            continue
        rec = seed.record
        if not cn:
            cn = f"seed-{n}"
            rec.remove_fields("001")
            rec.add_ordered_field(pymarc.Field(tag="001", data=cn))
        seen.add(cn)
        out.append(to_marcxml(rec))
    return out
