"""ISO 18626 messages on the wire: reading what peers send (leniently, as production systems write it), writing
what balis sends, and the confirmations; every message written is valid against the v1.2 schema.

Reading accepts what real systems (ReShare, the ISO 18626 2017 and 2021 forms) send and the v1.2 schema
would otherwise refuse for form only: a message element without the ISO18626Message wrapper, `version` without
its prefix and the 1.0/1.1/2017/2021 version values, empty optional elements (`<needBeforeDate/>`), offsets
written +0000, a header without multipleItemRequestId (1.0/1.1) and request parts in the 2021 order. Anything
else the schema refuses is a BadlyFormedMessage naming the schema's first error. Pure: no store, no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from lxml import etree

NS = "http://illtransactions.org/2013/iso18626"
VERSION = "1.2"
ACCEPTED_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "2017", "2021")
MESSAGES = ("request", "requestConfirmation", "supplyingAgencyMessage", "supplyingAgencyMessageConfirmation",
            "requestingAgencyMessage", "requestingAgencyMessageConfirmation")
CONFIRMATION_OF = {"request": "requestConfirmation",
                   "supplyingAgencyMessage": "supplyingAgencyMessageConfirmation",
                   "requestingAgencyMessage": "requestingAgencyMessageConfirmation"}
# errorType values of the standard
UNSUPPORTED_ACTION = "UnsupportedActionType"
UNSUPPORTED_REASON = "UnsupportedReasonForMessageType"
UNRECOGNISED_ELEMENT = "UnrecognisedDataElement"
UNRECOGNISED_VALUE = "UnrecognisedDataValue"
BADLY_FORMED = "BadlyFormedMessage"

_REQUEST_ORDER = ("header", "bibliographicInfo", "publicationInfo", "serviceInfo", "supplierInfo",
                  "requestedDeliveryInfo", "requestingAgencyInfo", "patronInfo", "billingInfo")
_KEEP_EMPTY = {"multipleItemRequestId"}  # required, and empty is its usual value
_OFFSET = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?)([+-]\d\d)(\d\d)$")

_schema: etree.XMLSchema | None = None
_parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True,
                          remove_comments=True)


class Refusal(Exception):
    """A message balis does not take: `error_type` is the standard's errorType, `value` says what and why."""

    def __init__(self, error_type: str, value: str, http_status: int = 200):
        super().__init__(f"{error_type}: {value}")
        self.error_type, self.value, self.http_status = error_type, value, http_status


def schema() -> etree.XMLSchema:
    """The ISO 18626 v1.2 schema shipped with the package (ill/data/ISO-18626-v1_2.xsd)."""
    global _schema
    if _schema is None:
        xsd = resources.files("ill").joinpath("data/ISO-18626-v1_2.xsd").read_bytes()
        _schema = etree.XMLSchema(etree.fromstring(xsd, _parser))
    return _schema


def schema_error(root: etree._Element) -> str | None:
    """The schema's first complaint about `root` (with its line), or None when it is valid."""
    s = schema()
    if s.validate(root):
        return None
    err = s.error_log.last_error
    return f"line {err.line}: {err.message}"


def q(name: str) -> str:
    return f"{{{NS}}}{name}"


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


@dataclass(frozen=True)
class Message:
    """One message read from a peer: its kind (request, supplyingAgencyMessage, …) and its element."""

    kind: str
    element: etree._Element
    version: str

    def text(self, path: str) -> str | None:
        """The text at `path` (steps separated by /, without prefixes) under the message, or None."""
        e = self.find(path)
        return None if e is None or e.text is None or not e.text.strip() else e.text.strip()

    def find(self, path: str) -> etree._Element | None:
        return self.element.find("/".join(f"i:{step}" for step in path.split("/")), {"i": NS})

    def findall(self, path: str) -> list[etree._Element]:
        return self.element.findall("/".join(f"i:{step}" for step in path.split("/")), {"i": NS})

    def agency(self, side: str) -> str | None:
        """`side` "supplying" or "requesting": the header's agency id as TYPE:VALUE, or None."""
        head = "confirmationHeader" if self.kind.endswith("Confirmation") else "header"
        kind, value = self.text(f"{head}/{side}AgencyId/agencyIdType"), self.text(f"{head}/{side}AgencyId/agencyIdValue")
        return f"{kind}:{value}" if kind and value else None

    @property
    def header(self) -> dict[str, str | None]:
        head = "confirmationHeader" if self.kind.endswith("Confirmation") else "header"
        return {"supplying": self.agency("supplying"), "requesting": self.agency("requesting"),
                "timestamp": self.text(f"{head}/timestamp"),
                "requestingAgencyRequestId": self.text(f"{head}/requestingAgencyRequestId"),
                "supplyingAgencyRequestId": self.text(f"{head}/supplyingAgencyRequestId"),
                "multipleItemRequestId": self.text(f"{head}/multipleItemRequestId") or ""}


def read(document: bytes) -> Message:
    """Read one message a peer sent, leniently as the module says, and validate it; Refusal otherwise."""
    try:
        root = etree.fromstring(document, _parser)
    except etree.XMLSyntaxError as exc:
        raise Refusal(BADLY_FORMED, f"not well-formed XML: {exc}") from None
    if etree.QName(root).namespace != NS:
        raise Refusal(BADLY_FORMED, f"the root element {root.tag} is not in the ISO 18626 namespace {NS}")
    if local(root) in MESSAGES:  # a bare message, as some systems post it
        wrapper = etree.Element(q("ISO18626Message"), nsmap={None: NS})
        wrapper.set(q("version"), VERSION)
        wrapper.append(root)
        root = wrapper
    elif local(root) != "ISO18626Message":
        raise Refusal(BADLY_FORMED, f"the root element is {local(root)}, not ISO18626Message or a message")
    version = root.get(q("version"), root.get("version"))
    if version not in ACCEPTED_VERSIONS:
        raise Refusal(BADLY_FORMED, f"version {version!r}: balis reads ISO 18626 versions "
                                    f"{', '.join(ACCEPTED_VERSIONS)}")
    root.attrib.pop("version", None)
    root.set(q("version"), VERSION)
    if len(root) != 1:
        raise Refusal(BADLY_FORMED, "an ISO18626Message holds exactly one message")
    message = root[0]
    _tidy(message)
    header = message.find(q("header"))
    if header is not None and header.find(q("multipleItemRequestId")) is None:  # the 1.0/1.1 header
        after = header.find(q("requestingAgencyId"))
        if after is not None:
            after.addnext(etree.Element(q("multipleItemRequestId")))
    status = message.find(q("statusInfo"))
    if status is not None and status.find(q("lastChange")) is None and header is not None:
        stamp_at = header.find(q("timestamp"))  # ReShare leaves lastChange out: the message's own time
        if stamp_at is not None:
            el(status, "lastChange", stamp_at.text)
    for item in message.iterfind(".//i:bibliographicItemId", {"i": NS}):  # code before identifier (2021)
        item[:] = sorted(item, key=lambda e: local(e) != "bibliographicItemIdentifier")
    if local(message) == "request":
        message[:] = sorted(message, key=lambda e: _REQUEST_ORDER.index(local(e)) if local(e) in _REQUEST_ORDER
                            else len(_REQUEST_ORDER))
    why = schema_error(root)
    if why:
        raise Refusal(BADLY_FORMED, f"not a valid ISO 18626 {local(message)} ({why})")
    return Message(local(message), message, version)


def _tidy(element: etree._Element) -> None:
    """Drop empty optional elements (children first), write +0000 offsets as +00:00, prefix `scheme`."""
    for child in list(element):
        if not isinstance(child.tag, str):
            continue
        _tidy(child)
        if "scheme" in child.attrib:  # ReShare writes scheme="" without the ill: prefix
            scheme = child.attrib.pop("scheme")
            if scheme:
                child.set(q("scheme"), scheme)
        text = (child.text or "").strip()
        if len(child) == 0 and not text and local(child) not in _KEEP_EMPTY:
            element.remove(child)
        elif text and (m := _OFFSET.match(text)):
            child.text = f"{m.group(1)}{m.group(2)}:{m.group(3)}"


def when(value: str | None) -> datetime | None:
    """An ISO 8601 time of a message as an aware UTC datetime (None when absent or unreadable)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def stamp(moment: datetime) -> str:
    """A time as ISO 18626 writes it: UTC, milliseconds, Z."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---- writing ----------------------------------------------------------------------------------------------

def el(parent: etree._Element, name: str, text: Any = None) -> etree._Element:
    e = etree.SubElement(parent, q(name))
    if text is not None:
        e.text = str(text)
    return e


def agency(parent: etree._Element, name: str, agency_id: str) -> None:
    kind, _, value = agency_id.partition(":")
    a = el(parent, name)
    el(a, "agencyIdType", kind)
    el(a, "agencyIdValue", value)


def envelope(build) -> bytes:
    """An ISO18626Message with what `build(root)` adds; refused (ValueError) if the schema would refuse it."""
    root = etree.Element(q("ISO18626Message"), nsmap={None: NS, "ill": NS})
    root.set(q("version"), VERSION)
    build(root)
    why = schema_error(root)
    if why:
        raise ValueError(f"balis wrote an ISO 18626 message the schema refuses ({why})")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def header(parent: etree._Element, *, supplying: str, requesting: str, timestamp: datetime,
           requesting_id: str, supplying_id: str | None = None) -> None:
    h = el(parent, "header")
    agency(h, "supplyingAgencyId", supplying)
    agency(h, "requestingAgencyId", requesting)
    el(h, "multipleItemRequestId", "")
    el(h, "timestamp", stamp(timestamp))
    el(h, "requestingAgencyRequestId", requesting_id)
    if supplying_id:
        el(h, "supplyingAgencyRequestId", supplying_id)


def confirmation(message: Message | None, kind: str, now: datetime, error: Refusal | None = None) -> bytes:
    """The confirmation of `message` (None: it could not be read; `kind` then says which to send): messageStatus
    OK, or ERROR with the refusal's errorType and errorValue; the header's ids copied from the message."""
    head = message.header if message is not None else {}

    def build(root):
        c = el(root, CONFIRMATION_OF.get(kind, "requestConfirmation"))
        h = el(c, "confirmationHeader")
        for side in ("supplying", "requesting"):
            if head.get(side):
                agency(h, f"{side}AgencyId", head[side])
        el(h, "timestamp", stamp(now))
        if head.get("requestingAgencyRequestId"):
            el(h, "requestingAgencyRequestId", head["requestingAgencyRequestId"])
        if message is not None:
            el(h, "multipleItemRequestId", head.get("multipleItemRequestId") or "")
        received = when(head.get("timestamp"))
        el(h, "timestampReceived", stamp(received or now))
        el(h, "messageStatus", "ERROR" if error else "OK")
        if kind == "supplyingAgencyMessage" and message is not None and message.text("messageInfo/reasonForMessage"):
            el(c, "reasonForMessage", message.text("messageInfo/reasonForMessage"))
        if kind == "requestingAgencyMessage" and message is not None and message.text("action"):
            el(c, "action", message.text("action"))
        if error:
            e = el(c, "errorData")
            el(e, "errorType", error.error_type)
            el(e, "errorValue", error.value[:1000])

    return envelope(build)


def kind_of(document: bytes) -> str:
    """Which message a document that could not be read seems to be (for its confirmation's name)."""
    for name in ("supplyingAgencyMessage", "requestingAgencyMessage"):
        if f"{name}>".encode() in document or f"{name} ".encode() in document:
            return name
    return "request"


# ---- a copy request's citation (原文传递) in the standard's elements -------------------------------------------

# a copy's delivery method as the standard's preferredFormat (request) and sentVia (supplier's message)
COPY_FORMAT = {"download": "PDF", "email": "PDF", "post": "printed"}
SENT_VIA = {"download": "URL", "email": "Email", "post": "Mail"}


def _text_at(root: etree._Element, path: str) -> str | None:
    e = root.find(path, {"i": NS})
    return None if e is None or e.text is None else e.text


def _item(parent: etree._Element, code: str, value: str) -> None:
    item = el(parent, "bibliographicItemId")
    el(item, "bibliographicItemIdentifier", value)
    el(item, "bibliographicItemIdentifierCode", code)


def copy_bibliographic(b, r: dict, cd: dict) -> None:
    """A copy's structured citation in the standard's elements: the journal or book as title (its editors as
    author), the article or chapter as titleOfComponent and authorOfComponent, volume, issue, pagesRequested,
    estimatedNoPages, and ISBN, ISSN and DOI as bibliographicItemIds."""
    whole = cd.get("journal") or (r["title"] if not cd.get("article") else "")
    if whole:
        el(b, "title", whole)
    if cd.get("editors"):
        el(b, "author", ", ".join(cd["editors"]))
    if cd.get("article") or r["title"] != whole:
        el(b, "titleOfComponent", cd.get("article") or r["title"])
    if r["author"]:
        el(b, "authorOfComponent", r["author"])
    for name, key in (("volume", "volume"), ("issue", "issue"), ("pagesRequested", "pages")):
        if cd.get(key):
            el(b, name, cd[key])
    if r.get("pages"):
        el(b, "estimatedNoPages", r["pages"])
    for code, value in (("ISBN", r["isbn"] or cd.get("isbn")), ("ISSN", cd.get("issn")), ("DOI", cd.get("doi"))):
        if value:
            _item(b, code, str(value))


def copy_citation(req_root) -> dict:
    """The structured citation of a copy request read from the standard's elements (see `copy_bibliographic`)."""
    def t(path: str) -> str:
        return (_text_at(req_root, f"i:bibliographicInfo/i:{path}") or "").strip()

    items = {(_text_at(i, "i:bibliographicItemIdentifierCode") or "").upper(): _text_at(i, "i:bibliographicItemIdentifier")
             for i in req_root.findall("i:bibliographicInfo/i:bibliographicItemId", {"i": NS})}
    year = (_text_at(req_root, "i:publicationInfo/i:publicationDate") or "").strip()[:4]
    cd: dict[str, Any] = {"kind": "article" if items.get("ISSN") or not items.get("ISBN") else "chapter",
                          "journal": t("title"), "article": t("titleOfComponent"),
                          "authors": [a.strip() for a in t("authorOfComponent").split(",") if a.strip()],
                          "year": int(year) if year.isdigit() else None, "volume": t("volume"), "issue": t("issue"),
                          "pages": t("pagesRequested"), "issn": items.get("ISSN"), "isbn": items.get("ISBN"),
                          "doi": items.get("DOI"), "publisher": _text_at(req_root, "i:publicationInfo/i:publisher"),
                          "place": _text_at(req_root, "i:publicationInfo/i:placeOfPublication")}
    return {k: v for k, v in cd.items() if v not in (None, "", [])}


def copy_delivery(message: etree._Element, method: str, *, email: str | None = None,
                  address: str | None = None) -> None:
    """Where a copy request wants the copy (requestedDeliveryInfo, after serviceInfo): the borrowing library's
    e-mail for an e-mailed copy, its postal address for a printed one; a download says it by preferredFormat."""
    if method == "email" and email:
        e = el(el(el(message, "requestedDeliveryInfo"), "address"), "electronicAddress")
        el(e, "electronicAddressType", "email")
        el(e, "electronicAddressData", email)
    elif method == "post" and address:
        el(el(el(el(message, "requestedDeliveryInfo"), "address"), "physicalAddress"), "line1", address)


def copy_method_of(req_root: etree._Element) -> str:
    """The delivery method a copy request asks for (see `copy_delivery`): an e-mail address asked for → email,
    a postal address or preferredFormat "printed" → post, preferredFormat PDF → download; "" when it says none."""
    ns = {"i": NS}
    kinds = [(_text_at(a, "i:electronicAddressType") or "").strip().lower()
             for a in req_root.findall("i:requestedDeliveryInfo/i:address/i:electronicAddress", ns)]
    if "email" in kinds:
        return "email"
    if req_root.find("i:requestedDeliveryInfo/i:address/i:physicalAddress", ns) is not None:
        return "post"
    fmt = (_text_at(req_root, "i:serviceInfo/i:preferredFormat") or "").strip().lower()
    return {"pdf": "download", "printed": "post"}.get(fmt, "")


def copy_pages(req_root: etree._Element) -> int | None:
    """The pages a copy request asks for: estimatedNoPages, else counted from pagesRequested ("12-15": 4)."""
    from ill.copyrules import count_pages

    n = (_text_at(req_root, "i:bibliographicInfo/i:estimatedNoPages") or "").strip()
    if n.isdigit() and int(n) > 0:
        return int(n)
    return count_pages(_text_at(req_root, "i:bibliographicInfo/i:pagesRequested"))
