"""BER codec and APDU decoding: real captured PDUs, property-based round trips and fuzzing."""

from __future__ import annotations

from pathlib import Path

import pymarc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.errors import DecodeError, ProtocolError
from connectors.rpn import Op, Term
from connectors.z3950 import apdu, ber

DATA = Path(__file__).parent / "data"
CAPTURED = {p.name: p.read_bytes() for p in sorted(DATA.glob("*.ber"))}


# ------------------------------------------------------------------------------------ captured real PDUs


def test_present_response_from_zebra_holds_100_parseable_marc_records():
    resp = apdu.decode_apdu(CAPTURED["zebra-present-100-usmarc.ber"])
    assert isinstance(resp, apdu.PresentResponse)
    assert resp.records_returned == len(resp.records) == 100
    assert resp.next_position == 101 and resp.present_status == 0
    ids = []
    for rec in resp.records:
        assert rec.syntax == apdu.OID_USMARC and rec.diagnostic is None
        marc = pymarc.Record(data=rec.data, to_unicode=True, force_utf8=True)
        assert len(rec.data) == int(rec.data[:5])  # the leader's record length matches the bytes
        ids.append(marc["001"].data)
    assert len(set(ids)) == 100


def test_unimarc_present_response_keeps_chinese_bytes():
    resp = apdu.decode_apdu(CAPTURED["zebra-present-unimarc.ber"])
    assert all(r.syntax == apdu.OID_UNIMARC for r in resp.records)
    assert any("中国".encode() in r.data for r in resp.records)


def test_init_responses_record_the_negotiated_charset():
    zebra = apdu.decode_apdu(CAPTURED["zebra-init-response.ber"])
    assert zebra.accepted and zebra.version == 3 and zebra.charset == "UTF-8" and zebra.records_in_charset
    assert {"search", "present", "negotiation"} <= zebra.options
    ztest = apdu.decode_apdu(CAPTURED["ztest-init-response.ber"])
    assert ztest.accepted and ztest.charset == "ISO-8859-1" and ztest.records_in_charset is False
    assert ztest.implementation_name == "GFS/YAZ"


@pytest.mark.parametrize(("name", "code", "addinfo"), [
    ("zebra-search-114.ber", "114", "9999"),
    ("ztest-search-diagnostic.ber", "109", "Nope"),
    ("ztest-present-out-of-range.ber", "13", "30"),
])
def test_non_surrogate_diagnostics_carry_bib1_code_text_and_addinfo(name, code, addinfo):
    resp = apdu.decode_apdu(CAPTURED[name])
    [diag] = resp.diagnostics
    assert (diag.code, diag.addinfo) == (code, addinfo)
    assert diag.diagnostic_message == {"114": "Unsupported Use attribute", "109": "Database unavailable",
                                       "13": "Present request out of range"}[code]


def test_close_apdu():
    close = apdu.decode_apdu(CAPTURED["ztest-close.ber"])
    assert isinstance(close, apdu.Close) and close.reason_text == "finished"


def _present_with(records: bytes) -> bytes:
    """A PresentResponse built with the codec (what a target sends), records = encoded NamePlusRecords."""
    c = apdu._cons
    return c(25, apdu._int(24, 2), apdu._int(25, 3), apdu._int(27, 0), c(28, records))


def _name_plus_record(inner: bytes) -> bytes:
    seq = ber.identifier(ber.SEQUENCE, ber.UNIVERSAL, True)
    return ber.constructed(seq, apdu._str(0, "Default"), apdu._cons(1, inner))


def test_surrogate_diagnostic_and_octet_record_side_by_side():
    seq = ber.identifier(ber.SEQUENCE, ber.UNIVERSAL, True)
    ext = ber.constructed(ber.identifier(ber.EXTERNAL, ber.UNIVERSAL, True), apdu._oid(None, apdu.OID_USMARC),
                          ber.tlv(ber.identifier(1), b"00026nam  2200025   4500\x1d"))
    diag = ber.constructed(seq, apdu._oid(None, "1.2.840.10003.4.1"),
                           ber.tlv(ber.identifier(ber.INTEGER, ber.UNIVERSAL), b"\x0e"),
                           ber.tlv(ber.identifier(ber.VISIBLE_STRING, ber.UNIVERSAL), b"bad record"))
    pdu = _present_with(_name_plus_record(apdu._cons(1, ext)) + _name_plus_record(apdu._cons(2, diag)))
    first, second = apdu.decode_apdu(pdu).records
    assert first.data.startswith(b"00026nam") and first.database == "Default"
    assert second.diagnostic.code == "14" and second.diagnostic.addinfo == "bad record"


def test_encoded_requests_have_expected_shape():
    pdu = apdu.encode_search_request(Op("not", Term("a", ((1, 4),)), Term("b")), "Default")
    key, s, e, after = ber.element(pdu, 0, len(pdu))
    assert after == len(pdu) and ber.tag_number(key) == apdu.SEARCH_REQUEST
    tags = [ber.tag_number(k) for k, _, _ in ber.walk(pdu, s, e)]
    assert tags == [13, 14, 15, 16, 17, 18, 21]
    assert apdu.encode_close(0) == bytes.fromhex("bf30059f81530100")  # [48] { [211] 0 }


# ------------------------------------------------------------------------------------ property-based


tlv_trees = st.recursive(
    st.tuples(st.integers(0, 2000), st.binary(max_size=40)),
    lambda kids: st.tuples(st.integers(0, 2000), st.lists(kids, max_size=5)),
    max_leaves=20,
)


def _encode_tree(node) -> bytes:
    number, value = node
    if isinstance(value, bytes):
        return ber.tlv(ber.identifier(number), value)
    return ber.constructed(ber.identifier(number, constructed=True), *[_encode_tree(k) for k in value])


def _encode_tree_indefinite(node) -> bytes:
    number, value = node
    if isinstance(value, bytes):
        return ber.tlv(ber.identifier(number), value)
    return ber.identifier(number, constructed=True) + b"\x80" + b"".join(
        _encode_tree_indefinite(k) for k in value) + b"\x00\x00"


def _decode_tree(buf: bytes, key: int, s: int, e: int):
    if not ber.is_constructed(key):
        return ber.tag_number(key), buf[s:e]
    return ber.tag_number(key), [_decode_tree(buf, *kid) for kid in ber.walk(buf, s, e)]


@given(tlv_trees, st.booleans())
def test_tlv_trees_round_trip_in_definite_and_indefinite_form(tree, indefinite):
    data = _encode_tree_indefinite(tree) if indefinite else _encode_tree(tree)
    key, s, e, after = ber.element(data, 0, len(data))
    assert after == len(data)
    expected = tree if not isinstance(tree[1], list) else (tree[0], [_norm(k) for k in tree[1]])
    assert _decode_tree(data, key, s, e) == expected


def _norm(node):
    number, value = node
    return (number, value) if isinstance(value, bytes) else (number, [_norm(k) for k in value])


@given(st.integers(-(2**100), 2**100))
def test_integers_round_trip(value):
    content = ber.integer_content(value)
    assert ber.decode_int(content, 0, len(content)) == value if len(content) <= 16 else True


@given(st.integers(0, 2), st.integers(0, 39), st.lists(st.integers(0, 2**40), max_size=8))
def test_oids_round_trip(first, second, rest):
    dotted = ".".join(str(a) for a in [first, second, *rest])
    content = ber.oid_content(dotted)
    assert ber.decode_oid(content, 0, len(content)) == dotted


@given(st.sets(st.integers(0, 40)))
def test_bit_strings_round_trip(bits):
    content = ber.bits_content(sorted(bits), 41)
    assert ber.decode_bits(content, 0, len(content)) == bits


@given(st.lists(st.tuples(st.integers(1, 2000), st.integers(0, 10**6)), max_size=4),
       st.text(max_size=30), st.sampled_from(["and", "or", "not"]))
def test_search_requests_round_trip_through_the_generic_walker(attrs, term, op):
    rpn = Op(op, Term(term, tuple(attrs)), Term("x"))
    pdu = apdu.encode_search_request(rpn, "Default", record_syntax=apdu.OID_UNIMARC)
    key, s, e, after = ber.element(pdu, 0, len(pdu))
    assert after == len(pdu)
    found = {ber.tag_number(k): (k, s2, e2) for k, s2, e2 in ber.walk(pdu, s, e)}
    assert ber.decode_oid(pdu, *found[104][1:]) == apdu.OID_UNIMARC
    # the first operand's term comes back byte for byte
    _, qs, qe = found[21]
    _, rs, re_ = ber.children(pdu, *ber.children(pdu, qs, qe)[0][1:])[1]
    left = ber.children(pdu, rs, re_)[0]
    apt = ber.children(pdu, *ber.children(pdu, *left[1:])[0][1:])
    assert pdu[apt[1][1]:apt[1][2]] == term.encode()
    assert len(ber.children(pdu, *apt[0][1:])) == len(attrs)


LAYER_ERRORS = (DecodeError, ProtocolError)


def _decode_only_layer_errors(data: bytes) -> None:
    try:
        apdu.decode_apdu(data)
    except LAYER_ERRORS:
        pass


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_layer_errors(data):
    _decode_only_layer_errors(data)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(sorted(n for n in CAPTURED if "100" not in n)), st.data())
def test_mutated_real_pdus_raise_only_layer_errors(name, data):
    pdu = bytearray(CAPTURED[name])
    for _ in range(data.draw(st.integers(1, 6))):
        action = data.draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]))
        i = data.draw(st.integers(0, max(len(pdu) - 1, 0)))
        if action == "flip" and pdu:
            pdu[i] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "set" and pdu:
            pdu[i] = data.draw(st.sampled_from([0x00, 0x80, 0x81, 0x84, 0x9F, 0xBF, 0xFF, 0x30, 0x1F]))
        elif action == "truncate":
            del pdu[i:]
        elif action == "insert":
            pdu[i:i] = data.draw(st.binary(min_size=1, max_size=4))
        elif action == "delete" and pdu:
            del pdu[i]
    _decode_only_layer_errors(bytes(pdu))


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.integers(0, 143469), st.integers(0, 255))
def test_mutated_large_present_response_raises_only_layer_errors(i, value):
    pdu = bytearray(CAPTURED["zebra-present-100-usmarc.ber"])
    pdu[i] = value
    _decode_only_layer_errors(bytes(pdu))
