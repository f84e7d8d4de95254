"""The Z39.50 OPAC record syntax (1.2.840.10003.5.102): a bibliographic record with its holdings and
circulation data, decoded with the project's BER codec.

    OPACRecord ::= SEQUENCE { bibliographicRecord [1] IMPLICIT EXTERNAL OPTIONAL,
                              holdingsData [2] IMPLICIT SEQUENCE OF HoldingsRecord OPTIONAL }
    HoldingsRecord ::= CHOICE { marcHoldingsRecord [1] IMPLICIT EXTERNAL,
                                holdingsAndCirc [2] IMPLICIT HoldingsAndCircData }
    HoldingsAndCircData ::= SEQUENCE { typeOfRecord [1] … enumAndChron [17], volumes [18],
                                       circulationData [19] IMPLICIT SEQUENCE OF CircRecord }
    CircRecord ::= SEQUENCE { availableNow [1] BOOLEAN, availablityDate [2], availableThru [3],
                              restrictions [4], itemId [5], renewable [6] BOOLEAN, onHold [7] BOOLEAN,
                              enumAndChron [8], midspine [9], temporaryLocation [10] }

The holdings are handed on as XML with the element names YAZ uses when it renders an OPAC record (and SRU
gateways send), so the record layer reads one form whichever way they came.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from connectors.errors import DecodeError
from connectors.z3950 import ber

OID_OPAC = "1.2.840.10003.5.102"
_UNIVERSAL_SEQ = ber.tag(16, ber.UNIVERSAL, True)

# HoldingsAndCircData's text fields by tag number, in YAZ's names; [18] volumes and [19] circulation apart
_HOLDING_FIELDS = {1: "typeOfRecord", 2: "encodingLevel", 3: "format", 4: "receiptAcqStatus",
                   5: "generalRetention", 6: "completeness", 7: "dateOfReport", 8: "nucCode", 9: "localLocation",
                   10: "shelvingLocation", 11: "callNumber", 12: "shelvingData", 13: "copyNumber", 14: "publicNote",
                   15: "reproductionNote", 16: "termsUseRepro", 17: "enumAndChron"}
_CIRC_FIELDS = {1: "availableNow", 2: "availablityDate", 3: "availableThru", 4: "restrictions", 5: "itemId",
                6: "renewable", 7: "onHold", 8: "enumAndChron", 9: "midspine", 10: "temporaryLocation"}
_CIRC_FLAGS = {1, 6, 7}
_VOLUME_FIELDS = {1: "enumeration", 2: "chronology", 3: "enumAndChron"}


@dataclass(frozen=True, slots=True)
class OpacRecord:
    """The parts of one OPAC record: the bibliographic record (its syntax OID and bytes) and its holdings."""

    syntax: str | None
    data: bytes | None
    holdings: bytes  # <holdings><holding>…</holding></holdings>, YAZ's element names


def _external(buf: bytes, start: int, end: int) -> tuple[str | None, bytes | None]:
    """An (IMPLICIT) EXTERNAL's direct-reference OID and its octet-aligned or single-ASN1-type content."""
    oid = None
    for k, s, e in ber.walk(buf, start, end):
        if k == ber.tag(ber.OID, ber.UNIVERSAL):
            oid = ber.decode_oid(buf, s, e)
        elif (k >> 24) & 0xC0 == ber.CONTEXT and ber.tag_number(k) in (0, 1, 2):
            if ber.tag_number(k) == 1:
                return oid, ber.decode_octets(buf, k, s, e)
            return oid, buf[s:e]
    return oid, None


def _text(buf: bytes, key: int, s: int, e: int, charset: str) -> str:
    return ber.decode_octets(buf, key, s, e).decode(charset, errors="replace")


def _circulation(buf: bytes, start: int, end: int, charset: str, parent: etree._Element) -> None:
    circ = etree.SubElement(parent, "circulation")
    for k, s, e in ber.walk(buf, start, end):
        name = _CIRC_FIELDS.get(ber.tag_number(k))
        if name is None:
            continue
        if ber.tag_number(k) in _CIRC_FLAGS:
            etree.SubElement(circ, name, value="1" if ber.decode_bool(buf, s, e) else "0")
        else:
            etree.SubElement(circ, name).text = _text(buf, k, s, e, charset)


def _holding(buf: bytes, start: int, end: int, charset: str, parent: etree._Element) -> None:
    holding = etree.SubElement(parent, "holding")
    for k, s, e in ber.walk(buf, start, end):
        number = ber.tag_number(k)
        if number in _HOLDING_FIELDS:
            etree.SubElement(holding, _HOLDING_FIELDS[number]).text = _text(buf, k, s, e, charset)
        elif number == 18:
            volumes = etree.SubElement(holding, "volumes")
            for _, vs, ve in ber.walk(buf, s, e):
                volume = etree.SubElement(volumes, "volume")
                for vk, fs, fe in ber.walk(buf, vs, ve):
                    if (name := _VOLUME_FIELDS.get(ber.tag_number(vk))) is not None:
                        etree.SubElement(volume, name).text = _text(buf, vk, fs, fe, charset)
        elif number == 19:
            circulations = etree.SubElement(holding, "circulations")
            for ck, cs, ce in ber.walk(buf, s, e):
                if ck == _UNIVERSAL_SEQ:
                    _circulation(buf, cs, ce, charset, circulations)


def decode_opac(data: bytes, charset: str = "utf-8") -> OpacRecord:
    """One OPAC record (the BER of the OPACRecord SEQUENCE, as the Present response carries it)."""
    try:
        key, start, end, _ = ber.element(data, 0, len(data))
        if key != _UNIVERSAL_SEQ:
            raise DecodeError("the OPAC record is not a SEQUENCE")
        syntax, bib = None, None
        holdings = etree.Element("holdings")
        for k, s, e in ber.walk(data, start, end):
            if k == ber.tag(1, ber.CONTEXT, True):
                syntax, bib = _external(data, s, e)
            elif k == ber.tag(2, ber.CONTEXT, True):
                for hk, hs, he in ber.walk(data, s, e):
                    if hk == ber.tag(2, ber.CONTEXT, True):
                        _holding(data, hs, he, charset, holdings)
                    # [1] marcHoldingsRecord (MARC holdings format) is not read: members send [2]
    except (IndexError, ValueError, LookupError) as exc:
        raise DecodeError(f"the OPAC record could not be decoded: {exc}") from exc
    return OpacRecord(syntax, bib, etree.tostring(holdings, encoding="UTF-8"))
