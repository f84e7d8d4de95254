"""Property-based robustness: whatever bytes arrive, the readers raise only RecordError."""

from __future__ import annotations

import pathlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from records.errors import RecordError
from records.marc import MarcRecord, iter_iso2709, read_iso2709, read_marcxml
from records.normalise import from_raw, normalise

DATA = pathlib.Path(__file__).resolve().parents[2] / "testbed" / "data" / "marc"


def _records(path: pathlib.Path) -> list[bytes]:
    raw = path.read_bytes()
    return [r.lstrip(b"\r\n") + b"\x1d" for r in raw.split(b"\x1d") if r.strip()]


SEEDS = (
    _records(DATA / "marc-perl/cjk1.marc")
    + _records(DATA / "marc4j/chinese_mangled_multibyte.mrc")[:2]
    + _records(DATA / "yaz/marccol2.u8.marc")
    + _records(DATA / "pymarc/testunimarc.dat")
    + _records(DATA / "marc4j/chabon.mrc")[:1]
)
CHARSETS = st.sampled_from(["auto", "utf-8", "marc-8", "gbk"])
PROFILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read_and_normalise(data: bytes, charset: str) -> None:
    try:
        rec = read_iso2709(data, charset=charset, member="fuzz", position=1)
    except RecordError as exc:
        assert exc.member == "fuzz" and exc.position == 1
        return
    assert isinstance(rec, MarcRecord)
    normalise(rec, syntax="auto", member="fuzz", record_id="1")


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "length", "directory", "cut", "delimiter"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete" and data:
            del data[pos:pos + draw(st.integers(1, 4))]
        elif kind == "length" and len(data) >= 24:
            field = draw(st.sampled_from([(0, 5), (12, 17)]))
            data[field[0]:field[1]] = draw(st.from_regex(rb"\A[0-9 a-z]{5}\Z"))
        elif kind == "directory" and len(data) > 36:
            entry = draw(st.integers(0, max(0, (len(data) - 36) // 12)))
            start = 24 + entry * 12 + draw(st.integers(3, 11))
            data[start:start + 1] = draw(st.sampled_from([b"9", b"0", b"x", b"\x1e", b"\xe4"]))
        elif kind == "cut":
            del data[pos:]
        elif kind == "delimiter" and data:
            data[pos] = draw(st.sampled_from([0x1B, 0x1D, 0x1E, 0x1F, 0xE4, 0xB8]))
    return bytes(data)


@PROFILE
@given(st.binary(max_size=400), CHARSETS)
def test_random_bytes_raise_only_record_error(data, charset):
    _read_and_normalise(data, charset)


@PROFILE
@given(st.binary(max_size=300), CHARSETS)
def test_random_bytes_after_a_valid_leader(tail, charset):
    _read_and_normalise(b"00300nam a2200049 a 4500" + tail, charset)


@PROFILE
@given(mutated(), CHARSETS)
def test_mutated_real_records_raise_only_record_error(data, charset):
    _read_and_normalise(data, charset)


@PROFILE
@given(st.lists(mutated(), min_size=1, max_size=4))
def test_stream_of_mutated_records_yields_records_or_errors(records):
    results = list(iter_iso2709(b"".join(records), member="fuzz"))
    assert [p for p, _ in results] == list(range(1, len(results) + 1))
    for position, item in results:
        assert isinstance(item, MarcRecord | RecordError)
        if isinstance(item, RecordError):
            assert item.position == position


@PROFILE
@given(mutated(), st.sampled_from(["marc21", "unimarc", "marcxml"]), CHARSETS)
def test_from_raw_raises_only_record_error(data, syntax, charset):
    try:
        from_raw(data, syntax=syntax, charset=charset, member="fuzz", position=9)
    except RecordError as exc:
        assert exc.member == "fuzz" and exc.position == 9


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=200).map(lambda t: f"<record>{t}</record>".encode()))
def test_random_xml_raises_only_record_error(data):
    try:
        read_marcxml(data, member="fuzz", position=2)
    except RecordError as exc:
        assert exc.position == 2
