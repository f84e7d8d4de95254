"""Double-encoded UTF-8 and mislabelled charsets, repaired on real records and variants made from them."""

from __future__ import annotations

import pathlib
import subprocess
import unicodedata

import pymarc
import pytest
from pymarc import Subfield

from records.marc import MarcRecord, iter_iso2709, iter_marcxml, read_iso2709, read_marcxml
from records.normalise import normalise
from records.repair import MOJIBAKE_WARNING, count_repaired, may_be_mojibake, repair_text

ISO_FILES = ["yaz/marccol1.u8.marc", "yaz/marccol2.u8.marc", "yaz/marccol3.u8.marc", "yaz/marccol4.u8.marc",
             "yaz/marccol5.u8.marc", "traject/test_data.utf8.mrc", "marc-perl/cjk1.marc", "marc-perl/cjk2.marc",
             "marc-perl/cjk3.marc", "marc-perl/cjk4.marc", "marc4j/chinese_mangled_multibyte.mrc",
             "marc4j/chabon.mrc", "marc4j/chabon-loc.mrc", "marc4j/oclc_63111280_export_as_UTF8_from_connexion.mrc",
             "pymarc/marc8.dat", "pymarc/test.dat", "pymarc/testunimarc.dat"]
# The same BALIS member answering in the unimarcxml-v0.1 namespace (copied from the shared data, licence beside it).
UNIMARCXML = pathlib.Path(__file__).parents[1] / "data" / "isohold" / "sample_unimarcxml.xml"  # BNU's
XML_FILES = ["loc-cc0/british_library.xml", "loc-cc0/dnb.xml", "loc-cc0/gwu.xml", "loc-cc0/loc_general.xml",
             "loc-cc0/nlm.xml", "loc-cc0/oclc.xml", "loc-cc0/princeton.xml", "traject/test_data.utf8.marc.xml",
             "dp2-cnmarc/sample_cnmarcxml.xml", "dp2-cnmarc/sample_cnmarc.as_marcxml.xml",
             "dp2-cnmarc/sample_marcxml.xml", "dp2-cnmarc/sample_marc21_chi.as_marcxml.xml"]


def _values(rec) -> list[str]:
    out = []
    for f in rec.fields:
        out.extend([f.data] if f.is_control_field() else [s.value for s in f.subfields])
    return out


def _fields(rec) -> list[tuple]:
    return [(f.tag, f.data) if f.is_control_field() else (f.tag, f.indicators, [(s.code, s.value) for s in f.subfields])
            for f in rec.fields]


def _all_real_records(marc_data, extra_xml):
    for name in ISO_FILES:
        for _, rec in iter_iso2709(marc_data / name):
            yield name, rec
    for path in [marc_data / n for n in XML_FILES] + extra_xml:
        for _, rec in iter_marcxml(path):
            yield str(path), rec


def test_correct_text_in_every_real_record_comes_out_unchanged(marc_data):
    """French, German, Vietnamese, Chinese, Hebrew… as catalogued: nothing is taken for mojibake."""
    seen = non_ascii = 0
    for name, rec in _all_real_records(marc_data, [UNIMARCXML]):
        assert isinstance(rec, MarcRecord), f"{name}: {rec}"
        assert not any(w.startswith(MOJIBAKE_WARNING) for w in rec.warnings), f"{name}: {rec.warnings}"
        for value in _values(rec):
            assert repair_text(value) == value, f"{name}: {value!r}"
            non_ascii += not value.isascii()
        seen += 1
    assert seen > 800 and non_ascii > 1000


def _latin1(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")


def _cp1252(text: str) -> str:
    """UTF-8 bytes read as Windows-1252, the five undefined bytes kept as C1 characters (as Windows does)."""
    return "".join(bytes([b]).decode("cp1252", "ignore") or chr(b) for b in text.encode("utf-8"))


MANGLERS = {"latin-1": _latin1, "cp1252": _cp1252, "two layers": lambda t: _latin1(_latin1(t)),
            "cp1252 twice": lambda t: _cp1252(_cp1252(t))}


def _mangled(rec: pymarc.Record, mangle) -> MarcRecord:
    out = MarcRecord(str(rec.leader))
    for f in rec.fields:
        if f.is_control_field():
            out.add_field(pymarc.Field(tag=f.tag, data=mangle(f.data)))
        else:
            out.add_field(pymarc.Field(tag=f.tag, indicators=f.indicators,
                                       subfields=[Subfield(s.code, mangle(s.value)) for s in f.subfields]))
    return out


def _samples(marc_data) -> list[pymarc.Record]:
    """Real records with non-ASCII text: German (DNB), Vietnamese/Hebrew/… (traject), Chinese (CNMARC, 880s)."""
    out = []
    for path in (marc_data / "loc-cc0/dnb.xml", marc_data / "traject/test_data.utf8.marc.xml",
                 marc_data / "dp2-cnmarc/sample_cnmarc.as_marcxml.xml", UNIMARCXML):
        out += [r for _, r in iter_marcxml(path) if not all(v.isascii() for v in _values(r))]
    out += [r for _, r in iter_iso2709(marc_data / "yaz/marccol1.u8.marc")]
    return out


@pytest.mark.parametrize("kind", sorted(MANGLERS))
def test_double_encoded_records_are_repaired_in_iso2709_and_marcxml(marc_data, kind):
    samples = _samples(marc_data)
    assert len(samples) > 80
    for original in samples:
        bad = _mangled(original, MANGLERS[kind])
        for back in (read_iso2709(bad.as_marc()), read_marcxml(pymarc.record_to_xml(bad, namespace=True))):
            assert _fields(back) == _fields(original), f"{kind}: {original['001']}"
            assert sum(w.startswith(MOJIBAKE_WARNING) for w in back.warnings) == 1
            warning = next(w for w in back.warnings if w.startswith(MOJIBAKE_WARNING))
            assert "field(s)" in warning and "→" in warning


def test_double_encoded_chinese_is_repaired_and_counted_per_member(marc_data):
    originals = [r for _, r in iter_marcxml(marc_data / "dp2-cnmarc/sample_cnmarc.as_marcxml.xml")]
    assert _latin1("中") == "ä¸\xad"
    records = []
    for i, original in enumerate(originals):
        raw = (_mangled(original, _latin1) if i % 2 else original).as_marc()
        records.append(normalise(read_iso2709(raw, member="bnu"), syntax="unimarc", member="bnu"))
    for i, rec in enumerate(records):
        want = normalise(originals[i], syntax="unimarc", member="bnu")
        assert (rec.title, rec.publisher, rec.authors) == (want.title, want.publisher, want.authors)
    assert count_repaired(r.warnings for r in records) == len(originals) // 2


def test_a_marker_of_non_sorting_text_is_not_taken_for_mojibake():
    assert repair_text("\x98Die\x9c Welt") == "\x98Die\x9c Welt"
    assert repair_text("\x98Die\x9c Welt in MÃ¼nchen") == "\x98Die\x9c Welt in München"
    assert not may_be_mojibake("SÃO PAULO") and repair_text("SÃO PAULO") == "SÃO PAULO"


# ---------------------------------------------------------------- per-record charset fallback

def _relabel(raw: bytes, leader9: str) -> bytes:
    return raw[:9] + leader9.encode("ascii") + raw[10:]


@pytest.mark.parametrize("name", ["pymarc/marc8.dat", "marc-perl/cjk1.marc", "marc-perl/cjk3.marc",
                                  "marc4j/chinese_mangled_multibyte.mrc"])
def test_marc8_record_marked_utf8_is_read_as_marc8(marc_data, name):
    data = (marc_data / name).read_bytes()
    raw = data[: data.index(b"\x1d") + 1]
    as_marc8 = read_iso2709(raw)
    relabelled = read_iso2709(_relabel(raw, "a"), member="m", position=1)
    assert relabelled.charset == "marc-8"
    assert _fields(relabelled) == _fields(as_marc8)
    assert any("declared UTF-8" in w and "MARC-8" in w for w in relabelled.warnings)
    assert "\ufffd" not in str(relabelled) or "\ufffd" in str(as_marc8)


def _yaz_to_marc8(marc_data, name: str) -> list[bytes]:
    """Real UTF-8 records converted to MARC-8 by YAZ (the reference toolkit), as an ANSEL member sends them."""
    out = subprocess.run(["yaz-marcdump", "-f", "UTF-8", "-t", "MARC-8", "-o", "marc", "-i", "marc",
                          str(marc_data / name)], capture_output=True, check=True).stdout
    return [r + b"\x1d" for r in out.split(b"\x1d") if r.strip()]


def test_ansel_record_marked_utf8_reads_like_its_utf8_original(marc_data):
    originals = [r for _, r in iter_iso2709(marc_data / "traject/test_data.utf8.mrc")]
    converted = _yaz_to_marc8(marc_data, "traject/test_data.utf8.mrc")
    checked = 0
    for original, raw in zip(originals, converted, strict=True):
        if raw.isascii() or 0x1B in raw:
            continue  # only Latin diacritics (no escape sequences): the hard case
        back = read_iso2709(_relabel(raw, "a"))
        assert back.charset == "marc-8", back.warnings
        nfc = [(t, unicodedata.normalize("NFC", str(x))) for t, *x in _fields(original)]
        assert [(t, unicodedata.normalize("NFC", str(x))) for t, *x in _fields(back)] == nfc
        checked += 1
    assert checked >= 3


def test_latin1_record_marked_utf8_is_read_as_latin1(marc_data):
    """Western records with accented letters (é, ü, ñ…), written in Windows-1252 and declared UTF-8."""
    checked = 0
    for _, original in _all_real_records(marc_data, []):
        try:
            raw = _iso(original, lambda tag: "cp1252")
        except UnicodeEncodeError:
            continue
        if not any(c.isalpha() for c in raw.decode("cp1252") if not c.isascii()):
            continue
        back = read_iso2709(raw)
        assert back.charset == "cp1252", back.warnings
        assert any("Latin-1" in w for w in back.warnings)
        assert _fields(back) == _fields(original)
        checked += 1
    assert checked >= 5


def _iso(rec: pymarc.Record, charset_of) -> bytes:
    """ISO 2709 with each field in the charset `charset_of(tag)` gives, leader/09 'a' (declared UTF-8)."""
    fields = [f.as_marc(charset_of(f.tag)) for f in rec.fields]
    directory, offset = b"", 0
    for f, data in zip(rec.fields, fields, strict=True):
        directory += f"{f.tag}{len(data):04d}{offset:05d}".encode("ascii")
        offset += len(data)
    base = 24 + len(directory) + 1
    body = b"".join(fields) + b"\x1d"
    leader = str(rec.leader)
    return (f"{base + len(body):05d}{leader[5:9]}a22{base:05d}{leader[17:20]}4500".encode("ascii")
            + directory + b"\x1e" + body)


def test_utf8_record_with_one_gbk_field_reads_every_field(marc_data):
    for _, original in iter_marcxml(marc_data / "dp2-cnmarc/sample_cnmarc.as_marcxml.xml"):
        back = read_iso2709(_iso(original, lambda tag: "gb18030" if tag == "200" else "utf-8"))
        assert _fields(back) == _fields(original)
        assert any("hold GBK bytes" in w for w in back.warnings)


def test_a_cut_utf8_character_is_replaced_and_the_rest_kept(marc_data):
    original = next(r for _, r in iter_marcxml(marc_data / "dp2-cnmarc/sample_cnmarc.as_marcxml.xml"))
    raw = bytearray(original.as_marc())
    title = original["200"]["a"]
    first = next(i for i, c in enumerate(title) if not c.isascii())
    at = raw.index(title.encode("utf-8")) + len(title[:first].encode("utf-8"))
    raw[at + 1] = 0x41  # the first Chinese character's second byte becomes 'A': one broken character
    back = read_iso2709(bytes(raw))
    assert back.charset == "utf-8"
    assert back["200"]["a"].startswith(title[:first] + "\ufffd") and back["200"]["a"].endswith(title[first + 1:])
    assert [f for f in _fields(back) if f[0] != "200"] == [f for f in _fields(original) if f[0] != "200"]
    assert any("U+FFFD" in w for w in back.warnings)


def test_a_whole_file_transcoded_twice_reads_back_whole(marc_data):
    """A file converted Latin-1 -> UTF-8 by a tool that did not know it was UTF-8 already: every byte of
    the record, directory counts included, went through it, so the lengths now count characters."""
    checked = 0
    for name in ("yaz/marccol1.u8.marc", "traject/test_data.utf8.mrc"):
        data = (marc_data / name).read_bytes()
        for raw in (r + b"\x1d" for r in data.split(b"\x1d") if r.strip()):
            if raw.isascii():
                continue
            back = read_iso2709(raw.decode("latin-1").encode("utf-8"))
            assert _fields(back) == _fields(read_iso2709(raw))
            assert any(w.startswith(MOJIBAKE_WARNING) for w in back.warnings)
            assert any("characters" in w or "leader says" in w for w in back.warnings)
            checked += 1
    assert checked > 30
