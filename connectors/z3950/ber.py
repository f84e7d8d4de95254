"""A small BER (X.690) codec for the Z39.50 subset: tag-length-value walking over bytes, no schema.

Decoding never copies until a value is asked for: `walk` yields `(tag, start, end)` triples over one
buffer, so a Present response with hundreds of records is sliced once per record. Every malformed
input raises `DecodeError` (never IndexError/ValueError). See docs/decisions/0002-ber-codec.md.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from connectors.errors import DecodeError

# Tag classes, as the top two bits of the identifier octet.
UNIVERSAL, APPLICATION, CONTEXT, PRIVATE = 0x00, 0x40, 0x80, 0xC0
CONSTRUCTED = 0x20

# Universal tag numbers used by Z39.50.
BOOLEAN, INTEGER, BIT_STRING, OCTET_STRING, NULL, OID = 1, 2, 3, 4, 5, 6
OBJECT_DESCRIPTOR, EXTERNAL, SEQUENCE, VISIBLE_STRING, GENERAL_STRING = 7, 8, 16, 26, 27

MAX_DEPTH = 64


def tag(number: int, cls: int = CONTEXT, constructed: bool = False) -> int:
    """The integer key `walk` reports for a tag: class and constructed bits above the tag number."""
    return ((cls | (CONSTRUCTED if constructed else 0)) << 24) | number


def tag_number(key: int) -> int:
    return key & 0xFFFFFF


def is_constructed(key: int) -> bool:
    return bool((key >> 24) & CONSTRUCTED)


# ---------------------------------------------------------------------------------------------- encoding


def identifier(number: int, cls: int = CONTEXT, constructed: bool = False) -> bytes:
    """The identifier octets of a tag (high-tag-number form above 30)."""
    first = cls | (CONSTRUCTED if constructed else 0)
    if number < 31:
        return bytes((first | number,))
    out = [number & 0x7F]
    number >>= 7
    while number:
        out.append(0x80 | (number & 0x7F))
        number >>= 7
    return bytes((first | 0x1F, *reversed(out)))


def length(n: int) -> bytes:
    """Definite-form length octets."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(ident: bytes, content: bytes) -> bytes:
    """One element: identifier octets, length, content."""
    return ident + length(len(content)) + content


def constructed(ident: bytes, *children: bytes) -> bytes:
    """A constructed element from already encoded children (None children are skipped)."""
    content = b"".join(c for c in children if c)
    return ident + length(len(content)) + content


def integer_content(value: int) -> bytes:
    """Two's-complement minimal content octets of an INTEGER."""
    n = (value + (value < 0)).bit_length() // 8 + 1
    return value.to_bytes(n, "big", signed=True)


def oid_content(dotted: str) -> bytes:
    """Content octets of an OBJECT IDENTIFIER from its dotted form."""
    try:
        arcs = [int(a) for a in dotted.split(".")]
    except ValueError as exc:
        raise ValueError(f"not a dotted OID: {dotted!r}") from exc
    if len(arcs) < 2 or arcs[0] > 2 or min(arcs) < 0:
        raise ValueError(f"not a valid OID: {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


def bits_content(bits: list[int] | tuple[int, ...], size: int) -> bytes:
    """Content octets of a BIT STRING of `size` bits with the given bit positions set (bit 0 = MSB)."""
    nbytes = (size + 7) // 8
    value = bytearray(nbytes)
    for b in bits:
        value[b // 8] |= 0x80 >> (b % 8)
    return bytes((nbytes * 8 - size,)) + bytes(value)


# ---------------------------------------------------------------------------------------------- decoding


def header(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Read one identifier and length at `pos`: (tag key, content start, content length or -1 if indefinite)."""
    if pos >= end:
        raise DecodeError(f"BER element expected at offset {pos}, found end of data")
    first = buf[pos]
    pos += 1
    number = first & 0x1F
    if number == 0x1F:
        number = 0
        for _ in range(3):
            if pos >= end:
                raise DecodeError("BER tag truncated")
            b = buf[pos]
            pos += 1
            number = (number << 7) | (b & 0x7F)
            if not b & 0x80:
                break
        else:
            raise DecodeError("BER tag number too large")
    if pos >= end:
        raise DecodeError("BER length missing")
    n = buf[pos]
    pos += 1
    if n & 0x80:
        count = n & 0x7F
        if count == 0:
            if not first & CONSTRUCTED:
                raise DecodeError("BER indefinite length on a primitive element")
            return ((first & 0xE0) << 24) | number, pos, -1
        if count > 6 or pos + count > end:
            raise DecodeError("BER length field truncated or too large")
        n = int.from_bytes(buf[pos : pos + count], "big")
        pos += count
    if pos + n > end:
        raise DecodeError(f"BER element at offset {pos} claims {n} bytes, only {end - pos} left")
    return ((first & 0xE0) << 24) | number, pos, n


class _Ends(threading.local):
    """Where each indefinite-length element of the buffer being decoded ends (found once, reused)."""

    buf: bytes | None = None
    ends: dict[int, tuple[int, int]]


_ENDS = _Ends()


def element(buf: bytes, pos: int, end: int, depth: int = 0) -> tuple[int, int, int, int]:
    """One element at `pos`: (tag key, content start, content end, position after the element)."""
    key, start, n = header(buf, pos, end)
    if n >= 0:
        return key, start, start + n, start + n
    memo = _ENDS
    if memo.buf is not buf:
        memo.buf, memo.ends = buf, {}
    found = memo.ends.get(start)
    if found is not None and found[1] <= end:
        return key, start, found[0], found[1]
    if depth > MAX_DEPTH:
        raise DecodeError("BER nesting too deep")
    p = start
    while True:
        if p + 1 < end and buf[p] == 0 and buf[p + 1] == 0:
            memo.ends[start] = (p, p + 2)
            return key, start, p, p + 2
        if p >= end:
            raise DecodeError("BER indefinite-length element has no end-of-contents")
        p = element(buf, p, end, depth + 1)[3]


def walk(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """The children of a constructed element's content: (tag key, start, end) for each."""
    pos = start
    while pos < end:
        key, s, e, pos = element(buf, pos, end)
        yield key, s, e


def children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    return list(walk(buf, start, end))


def decode_int(buf: bytes, start: int, end: int) -> int:
    if end <= start:
        raise DecodeError("BER INTEGER with no content")
    if end - start > 16:
        raise DecodeError("BER INTEGER too large")
    return int.from_bytes(buf[start:end], "big", signed=True)


def decode_bool(buf: bytes, start: int, end: int) -> bool:
    if end - start != 1:
        raise DecodeError("BER BOOLEAN must have one content octet")
    return buf[start] != 0


def decode_oid(buf: bytes, start: int, end: int) -> str:
    if end <= start:
        raise DecodeError("BER OBJECT IDENTIFIER with no content")
    arcs: list[int] = []
    value = 0
    for i in range(start, end):
        b = buf[i]
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    if buf[end - 1] & 0x80:
        raise DecodeError("BER OBJECT IDENTIFIER truncated")
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def decode_octets(buf: bytes, key: int, start: int, end: int, depth: int = 0) -> bytes:
    """An OCTET STRING (or string type) value, joining the segments of the constructed form."""
    if not is_constructed(key):
        return bytes(buf[start:end])
    if depth > MAX_DEPTH:
        raise DecodeError("BER nesting too deep")
    return b"".join(decode_octets(buf, k, s, e, depth + 1) for k, s, e in walk(buf, start, end))


def decode_str(buf: bytes, key: int, start: int, end: int, encoding: str = "utf-8") -> str:
    return decode_octets(buf, key, start, end).decode(encoding, "replace")


def decode_bits(buf: bytes, start: int, end: int) -> set[int]:
    """The positions of the bits set in a BIT STRING (bit 0 = most significant bit of the first octet)."""
    if end <= start:
        raise DecodeError("BER BIT STRING with no content")
    unused = buf[start]
    if unused > 7:
        raise DecodeError("BER BIT STRING with more than 7 unused bits")
    out = set()
    for i in range(start + 1, end):
        b = buf[i]
        if b:
            for j in range(8):
                if b & (0x80 >> j):
                    out.add((i - start - 1) * 8 + j)
    return out
