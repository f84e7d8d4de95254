"""Broken ISO 2709 directories, made from real records the ways real files break: no field ever carries
another field's data after the repair (a title never becomes an ISBN)."""

from __future__ import annotations

import pathlib
from collections import Counter

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from records.errors import RecordError
from records.marc import iter_marcxml, read_iso2709

DATA = pathlib.Path(__file__).resolve().parents[2] / "testbed" / "data" / "marc"
SOURCES = [("marc4j/chabon.mrc", 0), ("marc4j/chabon-loc.mrc", 1), ("yaz/marccol1.u8.marc", 3),
           ("traject/test_data.utf8.mrc", 5), ("pymarc/testunimarc.dat", 0), ("marc-perl/cjk3.marc", 0)]


def _raw(marc_data, name: str, index: int) -> bytes:
    data = (marc_data / name).read_bytes()
    return [r + b"\x1d" for r in data.split(b"\x1d") if r.strip(b"\r\n ")][index]


def _split(raw: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """A well-formed record as (leader, [(tag, field bytes with terminator)]) in directory order."""
    base = int(raw[12:17])
    directory = raw[24:base - 1]
    fields = []
    for i in range(0, len(directory), 12):
        tag, ln, off = directory[i:i + 3].decode(), int(directory[i + 3:i + 7]), int(directory[i + 7:i + 12])
        fields.append((tag, raw[base + off:base + off + ln]))
    return raw[:24], fields


def _build(leader: bytes, entries: list[tuple[str, int, int]], body: bytes) -> bytes:
    directory = b"".join(f"{t}{ln:04d}{off:05d}".encode() for t, ln, off in entries) + b"\x1e"
    base = 24 + len(directory)
    total = base + len(body) + 1
    return f"{total:05d}".encode() + leader[5:12] + f"{base:05d}".encode() + leader[17:] + directory + body + b"\x1d"


def _layout(fields: list[tuple[str, bytes]]) -> list[tuple[str, int, int]]:
    out, off = [], 0
    for tag, data in fields:
        out.append((tag, len(data), off))
        off += len(data)
    return out


def _as_strings(rec) -> Counter:
    return Counter((f.tag, str(f)) for f in rec.fields)


def _no_field_shifted(rec, good) -> None:
    """Every field read carries data the same tag carries in the good reading: none has moved."""
    extra = _as_strings(rec) - _as_strings(good)
    assert not extra, f"fields with another field's data: {list(extra)}"


def _variants(leader: bytes, fields: list[tuple[str, bytes]]):
    """(what, record bytes, tags that must come through) for the ways directories break."""
    entries = _layout(fields)
    body = b"".join(d for _, d in fields)
    all_tags = [t for t, _ in fields]
    # every length one too long (a converter counting the terminator twice)
    yield "lengths +1", _build(leader, [(t, ln + 1, off) for t, ln, off in entries], body), all_tags
    # one wrong length, each entry in turn
    for i in range(len(entries)):
        bad = list(entries)
        t, ln, off = bad[i]
        bad[i] = (t, ln + 7, off)
        yield f"length of {t} (#{i})", _build(leader, bad, body), all_tags
    # one wrong offset, each entry in turn (points into the middle of the next field)
    for i in range(len(entries)):
        bad = list(entries)
        t, ln, off = bad[i]
        bad[i] = (t, ln, off + 3)
        yield f"offset of {t} (#{i})", _build(leader, bad, body), all_tags
    # every offset counted from the record's start, not from the base address
    base = 24 + 12 * len(entries) + 1
    yield "offsets from the record start", _build(leader, [(t, ln, off + base) for t, ln, off in entries], body), all_tags
    # a missing entry, each in turn: its field's data is in the body but not in the directory
    for i in range(len(entries)):
        yield (f"missing entry {entries[i][0]} (#{i})", _build(leader, entries[:i] + entries[i + 1:], body),
               all_tags[:i] + all_tags[i + 1:])
    # an extra field in the data that the directory does not list (later offsets now point too early);
    # not where it is as long as the field it displaces: then the directory itself points at it
    extra = b"  \x1faEXTRA FIELD NOT IN THE DIRECTORY\x1e"
    for i in range(1, len(entries)):
        if len(fields[i][1]) == len(extra):
            continue
        moved = b"".join(d for _, d in fields[:i]) + extra + b"".join(d for _, d in fields[i:])
        # before the last field, nothing after it shows the data moved: that entry may be dropped instead
        tags = all_tags if i < len(entries) - 1 else None
        yield f"extra field before #{i}", _build(leader, entries, moved), tags


@pytest.mark.parametrize("name, index", SOURCES)
def test_no_repaired_directory_gives_a_field_another_fields_data(marc_data, name, index):
    raw = _raw(marc_data, name, index)
    good = read_iso2709(raw)
    leader, fields = _split(raw)
    assert [t for t, _ in fields] == [f.tag for f in good.fields]
    count = 0
    for what, data, tags in _variants(leader, fields):
        rec = read_iso2709(data, member="m", position=1)
        _no_field_shifted(rec, good)
        if tags is not None:
            assert [f.tag for f in rec.fields] == tags, what
        assert rec.warnings, what
        count += 1
    assert count > 3 * len(fields)


def test_lengths_and_offsets_counted_in_characters_are_understood(marc_data):
    """Some converters write the directory in characters after converting to UTF-8."""
    checked = 0
    for name, index in SOURCES:
        raw = _raw(marc_data, name, index)
        good = read_iso2709(raw)
        if good.charset != "utf-8" or raw.isascii():
            continue
        leader, fields = _split(raw)
        entries, off = [], 0
        for tag, data in fields:
            n = len(data.decode("utf-8"))
            entries.append((tag, n, off))
            off += n
        rec = read_iso2709(_build(leader, entries, b"".join(d for _, d in fields)))
        assert [str(f) for f in rec.fields] == [str(f) for f in good.fields]
        assert any("characters" in w for w in rec.warnings)
        checked += 1
    assert checked >= 2


def test_the_title_is_never_read_as_the_isbn(marc_data):
    """The failure the issue names: a shifted reading put 020's ISBN where the 245 title belongs."""
    raw = _raw(marc_data, "marc4j/chabon.mrc", 0)
    good = read_iso2709(raw)
    leader, fields = _split(raw)
    entries = _layout(fields)
    at = [t for t, _ in fields].index("020")
    broken = _build(leader, entries[:at] + entries[at + 1:], b"".join(d for _, d in fields))
    rec = read_iso2709(broken)
    assert rec["245"].value() == good["245"].value()
    assert rec.get("020") is None and any("not in the directory" in w for w in rec.warnings)


def test_a_record_cut_short_is_still_refused(marc_data):
    raw = _raw(marc_data, "marc4j/chabon.mrc", 0)
    cut = raw[: len(raw) * 2 // 3]
    last = cut.rindex(b"\x1e") + 1
    with pytest.raises(RecordError, match="truncated"):
        read_iso2709(cut[:last] + b"\x1d", member="m", position=2)


def test_repairs_on_cjk_records_keep_each_chinese_field_with_its_tag(marc_data):
    for _, original in iter_marcxml(marc_data / "dp2-cnmarc/sample_cnmarc.as_marcxml.xml"):
        raw = original.as_marc()
        good = read_iso2709(raw)
        leader, fields = _split(raw)
        for _what, data, _tags in _variants(leader, fields):
            _no_field_shifted(read_iso2709(data), good)


@st.composite
def _broken_directory(draw):
    """A real record with up to three directory entries broken at random: a wrong length, a wrong offset,
    both, or the entry missing. (Run with 6,000 examples, and with up to four entries, while developing.)"""
    name, index = draw(st.sampled_from(SOURCES))
    raw = _raw(DATA, name, index)
    leader, fields = _split(raw)
    entries = _layout(fields)
    broken = draw(st.lists(st.integers(0, len(entries) - 1), min_size=1, max_size=3, unique=True))
    out = []
    for i, (tag, ln, off) in enumerate(entries):
        if i in broken:
            kind = draw(st.sampled_from(["length", "offset", "both", "drop"]))
            if kind == "drop":
                continue
            if kind in ("length", "both"):
                ln = max(1, ln + draw(st.integers(-20, 20)))
            if kind in ("offset", "both"):
                off = max(0, off + draw(st.integers(-40, 40)))
            # an entry pointing exactly at another field says that field is its own: nothing to repair
            assume(all((ln, off) != other[1:] for k, other in enumerate(entries) if k != i))
        out.append((tag, ln, off))
    return raw, _build(leader, out, b"".join(d for _, d in fields))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_broken_directory())
def test_any_broken_directory_is_refused_or_read_without_a_shifted_field(case):
    good_raw, broken = case
    good = read_iso2709(good_raw)
    try:
        rec = read_iso2709(broken, member="fuzz", position=1)
    except RecordError as exc:
        assert exc.member == "fuzz"
        return
    _no_field_shifted(rec, good)


def test_an_offset_is_not_backed_by_an_entry_before_that_points_at_no_field():
    """Found by the property above: 700's offset points inside 490's data, and 710's at the 700's field with a
    wrong length. That 700 "ends" where 710 begins says nothing (700 points at no field), so 710 is not given
    the 700's data: the two are placed in order between the sound entries around them."""
    raw = _raw(DATA, "traject/test_data.utf8.mrc", 5)
    leader, fields = _split(raw)
    entries = _layout(fields)
    assert entries[-2:] == [("700", 24, 656), ("710", 33, 680)]
    broken = [*entries[:-2], ("700", 24, 632), ("710", 34, 656)]
    rec = read_iso2709(_build(leader, broken, b"".join(d for _, d in fields)), member="m", position=1)
    _no_field_shifted(rec, read_iso2709(raw))
    assert [f.tag for f in rec.get_fields("700", "710")] == ["700", "710"]
    assert "Mazur" in str(rec.get_fields("700")[0]) and "Constitution" in str(rec.get_fields("710")[0])
    assert any("do not match the data" in w for w in rec.warnings)


def test_an_entry_pointing_at_a_dropped_entrys_field_is_not_given_its_data():
    """Found by the property above: 082's entry is missing and 100's has a wrong length whose offset is
    where 082's data begins (the entry before ends there). Either field could be the 100's: neither is taken."""
    raw = _raw(DATA, "marc4j/chabon-loc.mrc", 1)
    leader, fields = _split(raw)
    entries = _layout(fields)
    broken = [("906", 60, 59) if i == 3 else ("100", 7, entries[12][2]) if i == 13 else e
              for i, e in enumerate(entries) if i != 12]
    rec = read_iso2709(_build(leader, broken, b"".join(d for _, d in fields)), member="m", position=1)
    _no_field_shifted(rec, read_iso2709(raw))
    assert any("100" in w and "dropped" in w for w in rec.warnings)
