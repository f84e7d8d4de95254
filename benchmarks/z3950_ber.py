"""BER codec choice for the Z39.50 client: hand-written walker vs asn1tools vs pyasn1 (docs/decisions/0002).

Decodes a real Zebra Present response with 100 MARC records (tests/z3950/data) down to the record bytes,
and encodes a SearchRequest with a three-term RPN query. Prints figures and writes benchmarks/z3950_ber.json.
"""

from __future__ import annotations

import json
import sys
import timeit
from pathlib import Path

import asn1tools
from pyasn1.codec.ber import decoder as pyasn1_decoder
from pyasn1.type import char, namedtype, tag, univ

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.rpn import Op, Term  # noqa: E402
from connectors.z3950 import apdu  # noqa: E402

PRESENT = (ROOT / "tests/z3950/data/zebra-present-100-usmarc.ber").read_bytes()
QUERY = Op("and", Op("or", Term("history", ((1, 4), (2, 3))), Term("china", ((1, 21),))), Term("1994", ((1, 31),)))

# The subset of Z39-50-APDU-1995 both libraries need for this comparison.
SPEC = """
Z DEFINITIONS ::= BEGIN
PDU ::= CHOICE { searchRequest [22] IMPLICIT SearchRequest, presentResponse [25] IMPLICIT PresentResponse }
Ext ::= [UNIVERSAL 8] IMPLICIT SEQUENCE { directReference OBJECT IDENTIFIER OPTIONAL,
    indirectReference INTEGER OPTIONAL,
    encoding CHOICE { single [0] ANY, octetAligned [1] IMPLICIT OCTET STRING, arbitrary [2] IMPLICIT BIT STRING } }
SearchRequest ::= SEQUENCE { smallSetUpperBound [13] IMPLICIT INTEGER, largeSetLowerBound [14] IMPLICIT INTEGER,
    mediumSetPresentNumber [15] IMPLICIT INTEGER, replaceIndicator [16] IMPLICIT BOOLEAN,
    resultSetName [17] IMPLICIT OCTET STRING, databaseNames [18] IMPLICIT SEQUENCE OF [105] IMPLICIT OCTET STRING,
    preferredRecordSyntax [104] IMPLICIT OBJECT IDENTIFIER OPTIONAL, query [21] Query }
Query ::= CHOICE { type1 [1] IMPLICIT RPNQuery }
RPNQuery ::= SEQUENCE { attributeSet OBJECT IDENTIFIER, rpn RPNStructure }
RPNStructure ::= CHOICE { op [0] Operand, rpnRpnOp [1] IMPLICIT SEQUENCE { rpn1 RPNStructure, rpn2 RPNStructure, op Operator } }
Operand ::= CHOICE { attrTerm [102] IMPLICIT SEQUENCE { attributes [44] IMPLICIT SEQUENCE OF AttributeElement, term Term } }
Term ::= CHOICE { general [45] IMPLICIT OCTET STRING }
Operator ::= [46] CHOICE { and [0] IMPLICIT NULL, or [1] IMPLICIT NULL, andNot [2] IMPLICIT NULL }
AttributeElement ::= SEQUENCE { attributeType [120] IMPLICIT INTEGER, attributeValue CHOICE { numeric [121] IMPLICIT INTEGER } }
PresentResponse ::= SEQUENCE { numberOfRecordsReturned [24] IMPLICIT INTEGER, nextResultSetPosition [25] IMPLICIT INTEGER,
    presentStatus [27] IMPLICIT INTEGER, records Records OPTIONAL }
Records ::= CHOICE { responseRecords [28] IMPLICIT SEQUENCE OF NamePlusRecord }
NamePlusRecord ::= SEQUENCE { name [0] IMPLICIT OCTET STRING OPTIONAL,
    record [1] CHOICE { retrievalRecord [1] Ext, surrogateDiagnostic [2] ANY } }
END
"""


def hand_decode() -> list[bytes]:
    return [r.data for r in apdu.decode_apdu(PRESENT).records]


def hand_encode() -> bytes:
    return apdu.encode_search_request(QUERY, "Default", record_syntax=apdu.OID_USMARC)


ASN1TOOLS = asn1tools.compile_string(SPEC, "ber")


def asn1tools_decode() -> list[bytes]:
    _, pr = ASN1TOOLS.decode("PDU", PRESENT)
    return [npr["record"][1]["encoding"][1] for npr in pr["records"][1]]


def _rpn_value(node):
    if isinstance(node, Term):
        attrs = [{"attributeType": t, "attributeValue": ("numeric", v)} for t, v in node.attributes]
        return ("op", ("attrTerm", {"attributes": attrs, "term": ("general", node.term.encode())}))
    return ("rpnRpnOp", {"rpn1": _rpn_value(node.left), "rpn2": _rpn_value(node.right),
                         "op": ({"and": "and", "or": "or", "not": "andNot"}[node.op], None)})


def asn1tools_encode() -> bytes:
    return ASN1TOOLS.encode("PDU", ("searchRequest", {
        "smallSetUpperBound": 0, "largeSetLowerBound": 1, "mediumSetPresentNumber": 0, "replaceIndicator": True,
        "resultSetName": b"default", "databaseNames": [b"Default"], "preferredRecordSyntax": apdu.OID_USMARC,
        "query": ("type1", {"attributeSet": "1.2.840.10003.3.1", "rpn": _rpn_value(QUERY)})}))


# pyasn1: the PresentResponse half only (class-based specs are verbose).
def _ctx(n: int, constructed: bool = False):
    fmt = tag.tagFormatConstructed if constructed else tag.tagFormatSimple
    return tag.Tag(tag.tagClassContext, fmt, n)


class External(univ.Sequence):
    tagSet = univ.Sequence.tagSet.tagImplicitly(tag.Tag(tag.tagClassUniversal, tag.tagFormatConstructed, 8))
    componentType = namedtype.NamedTypes(
        namedtype.OptionalNamedType("directReference", univ.ObjectIdentifier()),
        namedtype.NamedType("encoding", univ.Choice(componentType=namedtype.NamedTypes(
            namedtype.NamedType("octetAligned", univ.OctetString().subtype(implicitTag=_ctx(1)))))))


class Record(univ.Choice):
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("retrievalRecord", External().subtype(explicitTag=_ctx(1, True))))


class NamePlusRecord(univ.Sequence):
    componentType = namedtype.NamedTypes(
        namedtype.OptionalNamedType("name", char.GeneralString().subtype(implicitTag=_ctx(0))),
        namedtype.NamedType("record", Record().subtype(explicitTag=_ctx(1, True))))


class PresentResponse(univ.Sequence):
    tagSet = univ.Sequence.tagSet.tagImplicitly(_ctx(25, True))
    componentType = namedtype.NamedTypes(
        namedtype.NamedType("returned", univ.Integer().subtype(implicitTag=_ctx(24))),
        namedtype.NamedType("next", univ.Integer().subtype(implicitTag=_ctx(25))),
        namedtype.NamedType("status", univ.Integer().subtype(implicitTag=_ctx(27))),
        namedtype.OptionalNamedType("records", univ.SequenceOf(componentType=NamePlusRecord()).subtype(
            implicitTag=_ctx(28, True))))


def pyasn1_decode() -> list[bytes]:
    pr, _ = pyasn1_decoder.decode(PRESENT, asn1Spec=PresentResponse())
    return [bytes(npr["record"]["retrievalRecord"]["encoding"]["octetAligned"]) for npr in pr["records"]]


def best(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def main() -> None:
    expected = hand_decode()
    assert asn1tools_decode() == expected and pyasn1_decode() == expected, "decoders disagree"
    assert ASN1TOOLS.decode("PDU", hand_encode()) == ASN1TOOLS.decode("PDU", asn1tools_encode())
    figures = {
        "present_response_bytes": len(PRESENT),
        "records": len(expected),
        "decode_ms": {"hand": best(hand_decode, 50) * 1e3, "asn1tools": best(asn1tools_decode, 5) * 1e3,
                      "pyasn1": best(pyasn1_decode, 2) * 1e3},
        "encode_search_us": {"hand": best(hand_encode, 2000) * 1e6, "asn1tools": best(asn1tools_encode, 500) * 1e6},
    }
    print(json.dumps(figures, indent=2))
    (ROOT / "benchmarks" / "z3950_ber.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
