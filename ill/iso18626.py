"""ISO 18626 XML export and import of requests, validated against the standard's schema (v1.2).

A request travels as two messages: the `request` (bibliographic data, service type, the patron, the rota
as `supplierInfo` in order) and a `supplyingAgencyMessage` with the current supplier status, the expected
delivery and due dates. Another ISO 18626 system (CALIS, a ReShare node) reads those standard fields. What
only balis keeps (the borrowing-side phase, the lenders tried, deadlines, the reader's message) rides in the
message note as `balis:{json}`, so a balis store that imports the messages has the same request state.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import Any

from lxml import etree

from ill import isomessages as im
from ill import machine as m
from ill.errors import InvalidRequest
from ill.isomessages import COPY_FORMAT, NS, SENT_VIA, VERSION, copy_bibliographic, copy_citation, schema
from ill.schema import legs, requests
from ill.store import ANSWER_WORKING_DAYS, PENDING_MESSAGE, SHIP_WORKING_DAYS, Store
from ill.workdays import BEIJING, local_date, working_days_after

AGENCY_SCHEME = "BALIS"  # agencyIdType: member codes of the BALIS registry
WORK_SCHEME = "BALIS-work"  # bibliographicRecordIdentifierCode of a merged edition (work id)
RECORD_SCHEME = "BALIS-record"  # a member's own record id for the edition
NOTE_PREFIX = "balis:"
REQUEST_ID_PREFIX = "BALIS-"
# What the `balis:` note carries (export_request writes exactly these), and each lender row's fields in it.
# A copy's state (原文传递, docs/document-delivery.md); the scan itself stays with the system that holds it.
COPY_FIELDS = ("copy_method", "pages", "fee_fen", "subsidy_fen", "reader_fen", "copy_expires", "copy_downloads",
               "copy_deleted_at")
MONEY = ("price", "fee_fen", "subsidy_fen", "reader_fen")
NOTE_FIELDS = ("phase", "rota_index", "source", "answer_due", "ship_due", "answered_at", "shipped_at", "received_at",
               "lent_at", "due_back", "taken_back_at", "return_shipped_at", "completed_at", "reader_message", "price",
               "delivery", "pickup", "citation_data", "isbn", *COPY_FIELDS)
LEG_FIELDS = ("seq", "lender", "arrived_at", "answer_due", "ship_due", "answered_at", "answer", "shipped_at",
              "closed_at", "outcome", "note")
_NUMBERS = {"rota_index": int, "seq": int, "price": (int, float), "citation_data": dict, "pages": int, "fee_fen": int,
            "subsidy_fen": int, "reader_fen": int, "copy_downloads": int}
_LEG_NEEDS = ("seq", "lender", "arrived_at", "answer_due", "ship_due")  # a lender row has these
_NOT_NULL = ({"phase", "rota_index", "source", "reader_message", "delivery", "pickup", "isbn", "copy_method",
              "copy_downloads"},
             {"outcome", "note", *_LEG_NEEDS})  # request, leg

_parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True)


def validate(document: bytes) -> etree._Element:
    """Parse and validate one ISO18626Message; InvalidRequest names the first schema error and its line."""
    try:
        root = etree.fromstring(document, _parser)
    except etree.XMLSyntaxError as exc:
        raise InvalidRequest(f"not well-formed XML: {exc}") from None
    s = schema()
    if not s.validate(root):
        err = s.error_log.last_error
        raise InvalidRequest(f"not a valid ISO 18626 message (line {err.line}): {err.message}")
    return root


def _el(parent, name: str, text: Any = None) -> etree._Element:
    e = etree.SubElement(parent, f"{{{NS}}}{name}")
    if text is not None:
        e.text = str(text)
    return e


def _agency(parent, name: str, code: str) -> None:
    a = _el(parent, name)
    _el(a, "agencyIdType", AGENCY_SCHEME)
    _el(a, "agencyIdValue", code)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _header(parent, r: dict, supplier: str, timestamp: datetime) -> None:
    h = _el(parent, "header")
    _agency(h, "supplyingAgencyId", supplier)
    _agency(h, "requestingAgencyId", r["borrower"])
    _el(h, "multipleItemRequestId", "")
    _el(h, "timestamp", _ts(timestamp))
    _el(h, "requestingAgencyRequestId", f"{REQUEST_ID_PREFIX}{r['id']}")


def _message(build) -> bytes:
    root = etree.Element(f"{{{NS}}}ISO18626Message", nsmap={None: NS, "ill": NS})
    root.set(f"{{{NS}}}version", VERSION)
    build(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def export_request(store: Store, request_id: int) -> list[bytes]:
    """The request as ISO 18626 messages (each valid against the schema)."""
    r = store.get(request_id)
    tried = store.legs(request_id)
    supplier = r["lender"] or (r["rota"][0]["member"] if r["rota"] else r["borrower"])

    def request_message(root):
        q = _el(root, "request")
        _header(q, r, supplier, r["submitted_at"])
        b = _el(q, "bibliographicInfo")
        cd = r["citation_data"] if r["kind"] == m.COPY and isinstance(r["citation_data"], dict) else None
        if cd is not None:
            copy_bibliographic(b, r, cd)
        else:
            if r["title"]:
                _el(b, "title", r["title"])
            if r["author"]:
                _el(b, "author", r["author"])
            if r["isbn"]:
                _item(b, "ISBN", r["isbn"])
        if r["work_id"]:
            rec = _el(b, "bibliographicRecordId")
            _el(rec, "bibliographicRecordIdentifierCode", WORK_SCHEME)
            _el(rec, "bibliographicRecordIdentifier", r["work_id"])
        year = r["year"] or str((cd or {}).get("year") or "")
        if year or (cd or {}).get("publisher") or (cd or {}).get("place"):
            p = _el(q, "publicationInfo")
            if (cd or {}).get("publisher"):
                _el(p, "publisher", cd["publisher"])
            if year:
                _el(p, "publicationDate", year)
            if (cd or {}).get("place"):
                _el(p, "placeOfPublication", cd["place"])
        s = _el(q, "serviceInfo")
        _el(s, "requestType", "New")
        _el(s, "serviceType", "Loan" if r["kind"] == m.LOAN else "Copy")
        if r["kind"] == m.COPY and r.get("copy_method") in COPY_FORMAT:
            _el(s, "preferredFormat", COPY_FORMAT[r["copy_method"]])
        if r["need_before"]:  # the end of that day in Beijing
            _el(s, "needBeforeDate", datetime.combine(r["need_before"], time(23, 59, 59), BEIJING).isoformat())
        if r["citation"]:
            _el(s, "note", r["citation"])
        for i, entry in enumerate(r["rota"]):
            si = _el(q, "supplierInfo")
            _el(si, "sortOrder", i + 1)
            _agency(si, "supplierCode", entry["member"])
            if entry.get("reason"):
                _el(si, "supplierDescription", entry["reason"])
            if entry.get("record_id"):
                rec = _el(si, "bibliographicRecordId")
                _el(rec, "bibliographicRecordIdentifierCode", RECORD_SCHEME)
                _el(rec, "bibliographicRecordIdentifier", entry["record_id"])
            if entry.get("holding"):
                _el(si, "callNumber", entry["holding"])
        _el(_el(q, "patronInfo"), "patronId", r["reader_id"])

    messages = [_message(request_message)]
    if r["status"] != m.PENDING:
        extras = {k: _ts(r[k]) if isinstance(r[k], datetime) else r[k] for k in NOTE_FIELDS}
        extras["legs"] = [{k: _ts(v) if isinstance(v, datetime) else v for k, v in leg.items()
                           if k not in ("id", "request_id")} for leg in tried]
        last_change = max([x for x in (r["submitted_at"], *(leg["closed_at"] or leg["arrived_at"] for leg in tried),
                                       r["shipped_at"], r["received_at"], r["lent_at"], r["taken_back_at"],
                                       r["return_shipped_at"], r["completed_at"]) if x is not None])

        def status_message(root):
            sm = _el(root, "supplyingAgencyMessage")
            _header(sm, r, supplier, last_change)
            info = _el(sm, "messageInfo")
            _el(info, "reasonForMessage", "StatusChange")
            _el(info, "note", NOTE_PREFIX + json.dumps(extras, ensure_ascii=False, sort_keys=True))
            st = _el(sm, "statusInfo")
            _el(st, "status", r["status"])
            if r["ship_due"] and r["status"] in (m.REQUEST_RECEIVED, m.EXPECT_TO_SUPPLY, m.WILL_SUPPLY):
                _el(st, "expectedDeliveryDate", _ts(r["ship_due"]))
            if r["due_back"]:
                _el(st, "dueDate", _ts(r["due_back"]))
            _el(st, "lastChange", _ts(last_change))
            if r["shipped_at"]:
                d = _el(sm, "deliveryInfo")
                _el(d, "dateSent", _ts(r["shipped_at"]))
                if r["kind"] == m.COPY and r.get("copy_method") in SENT_VIA:
                    _el(d, "sentVia", SENT_VIA[r["copy_method"]])
                    if r.get("copy_method") != "post":
                        _el(d, "sentToPatron", "true")
                if r["kind"] == m.COPY and r.get("fee_fen") is not None:
                    costs = _el(d, "deliveryCosts")
                    _el(costs, "currencyCode", "CNY")
                    _el(costs, "monetaryValue", f"{r['fee_fen'] / 100:.2f}")

        messages.append(_message(status_message))
    for document in messages:
        validate(document)  # never send what the standard would refuse
    return messages


def _item(parent, code: str, value: str) -> None:
    item = _el(parent, "bibliographicItemId")
    _el(item, "bibliographicItemIdentifier", value)
    _el(item, "bibliographicItemIdentifierCode", code)


# ---- import ------------------------------------------------------------------------------------------

def _foreign_state(status_root, values: dict, tried: list[dict]) -> dict:
    """The balis state of a request known only from another system's standard fields.

    A book the supplier has Loaned is taken to be on its way (phase transit); Overdue or Recalled, with the
    reader. A request still open at the supplier gets its answer and ship deadlines from the message time,
    and one open lender row, so the clock and the staff can carry it on.
    """
    status = values["status"]
    changed = _dt(_text(status_root, "i:statusInfo/i:lastChange")) or values["submitted_at"]
    out: dict[str, Any] = {"due_back": _dt(_text(status_root, "i:statusInfo/i:dueDate")),
                           "shipped_at": _dt(_text(status_root, "i:deliveryInfo/i:dateSent"))}
    if status == m.RETRY_POSSIBLE:
        raise InvalidRequest("status RetryPossible: balis sends such a request on to the next lender at once; "
                             "import it after the supplier's final answer, or submit it anew with a rota")
    if status == m.LOANED:
        out["phase"] = m.TRANSIT
    elif status in (m.OVERDUE, m.RECALLED):
        out["phase"] = m.READER
    if status in m.FINAL:
        out["completed_at"] = changed
    if status in (m.REQUEST_RECEIVED, m.EXPECT_TO_SUPPLY, m.WILL_SUPPLY):
        answer_due = working_days_after(changed, ANSWER_WORKING_DAYS)
        ship_due = working_days_after(changed, SHIP_WORKING_DAYS)
        out.update(answer_due=answer_due, ship_due=ship_due)
        index = next((i for i, e in enumerate(values["rota"]) if e["member"] == values["lender"]), 0)
        out["rota_index"] = index
        if status != m.REQUEST_RECEIVED:
            out["answered_at"] = changed
        tried.append({"seq": index, "lender": values["lender"], "arrived_at": changed,
                      "answer_due": answer_due, "ship_due": ship_due,
                      "answered_at": None if status == m.REQUEST_RECEIVED else changed,
                      "answer": None if status == m.REQUEST_RECEIVED else status, "outcome": "open", "note": ""})
    return out


def _find(root, path: str):
    return root.find(path, {"i": NS})


def _text(root, path: str) -> str | None:
    e = _find(root, path)
    return None if e is None or e.text is None else e.text


def _dt(value: str | None) -> datetime | None:
    """An ISO 8601 time of a message, as an aware UTC datetime."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except (AttributeError, ValueError, OverflowError):
        raise InvalidRequest(f"{str(value)[:40]!r} is not an ISO 8601 time") from None


def _balis_state(note: str, original: str | None) -> tuple[dict, list[dict]]:
    """The request state only balis keeps, read from its `balis:{json}` note; anything else there is refused."""
    try:
        extras = json.loads(note[len(NOTE_PREFIX):])
    except (ValueError, RecursionError):
        raise InvalidRequest(f"request {original}: the balis: note is not JSON") from None
    tried = extras.pop("legs", []) if isinstance(extras, dict) else None
    if not isinstance(tried, list) or not all(isinstance(leg, dict) for leg in tried):
        raise InvalidRequest(f"request {original}: the balis: note is not a request state balis wrote")
    unknown = set(extras) - set(NOTE_FIELDS) | {k for leg in tried for k in leg if k not in LEG_FIELDS}
    if unknown:
        raise InvalidRequest(f"request {original}: the balis: note has unknown fields: {', '.join(sorted(unknown))}")
    missing = {k for leg in tried for k in _LEG_NEEDS if k not in leg}
    if missing:
        raise InvalidRequest(f"request {original}: a lender in the balis: note has no {', '.join(sorted(missing))}")
    for row, not_null in [(extras, _NOT_NULL[0]), *((leg, _NOT_NULL[1]) for leg in tried)]:
        for k, v in row.items():
            ok = v is None and k not in not_null or isinstance(v, _NUMBERS.get(k, str)) and not isinstance(v, bool)
            if ok and isinstance(v, int) and k in MONEY:
                ok = 0 <= v < 10**9
            elif ok and isinstance(v, int):
                ok = 0 <= v < 10_000  # a place in the rota, a lender's sequence number
            if not ok:
                raise InvalidRequest(f"request {original}: {k} in the balis: note is {str(v)[:40]!r}")
    return _times(extras), [_times(leg) for leg in tried]


def _times(row: dict) -> dict:
    return {k: _dt(v) if k.endswith(("_at", "_due")) or k in ("due_back", "copy_expires") else v
            for k, v in row.items()}


def import_request(store: Store, documents: list[bytes], actor: str = "import", *, by_user: bool = False) -> int:
    """Create a request from its ISO 18626 messages (as export_request writes them); returns its new id.

    `by_user`: `actor` is a person (a user id), who must be allowed to import (`ill.machine.import_verdict`:
    centre administrators); otherwise `actor` names the system job doing it.

    The reader is registered (as a reader of the requesting agency) if the store does not know them. The
    request's audit log starts with one `import` entry naming the original request id.
    """
    if by_user and not (v := store.may_import(actor)).allowed:
        raise v.error({})
    roots = [validate(d) for d in documents]
    req_root = next((_find(r, "i:request") for r in roots if _find(r, "i:request") is not None), None)
    if req_root is None:
        raise InvalidRequest("no ISO 18626 request message among the documents")
    status_root = next((_find(r, "i:supplyingAgencyMessage") for r in roots
                        if _find(r, "i:supplyingAgencyMessage") is not None), None)
    borrower = _text(req_root, "i:header/i:requestingAgencyId/i:agencyIdValue")
    original = _text(req_root, "i:header/i:requestingAgencyRequestId")
    reader = _text(req_root, "i:patronInfo/i:patronId")
    if not reader:
        raise InvalidRequest(f"request {original}: no patronId; balis needs the reader")
    service = _text(req_root, "i:serviceInfo/i:serviceType")
    if service not in ("Loan", "Copy"):
        raise InvalidRequest(f"request {original}: serviceType {service!r} (balis handles Loan or Copy)")
    rota = []
    for si in req_root.findall("i:supplierInfo", {"i": NS}):
        rota.append({"member": _text(si, "i:supplierCode/i:agencyIdValue"),
                     "reason": _text(si, "i:supplierDescription") or "",
                     "record_id": _text(si, "i:bibliographicRecordId/i:bibliographicRecordIdentifier"),
                     "holding": _text(si, "i:callNumber"), "days": None})
    work_id = None
    for rec in req_root.findall("i:bibliographicInfo/i:bibliographicRecordId", {"i": NS}):
        if _text(rec, "i:bibliographicRecordIdentifierCode") == WORK_SCHEME:
            work_id = _text(rec, "i:bibliographicRecordIdentifier")
    isbn = next((_text(item, "i:bibliographicItemIdentifier") or "" for item in
                 req_root.findall("i:bibliographicInfo/i:bibliographicItemId", {"i": NS})
                 if _text(item, "i:bibliographicItemIdentifierCode") == "ISBN"), "")
    need = _dt(_text(req_root, "i:serviceInfo/i:needBeforeDate"))
    copy_bits: dict[str, Any] = {}
    if service == "Copy":  # the article or chapter: its citation, the part's title and authors
        cited = copy_citation(req_root)
        part = _text(req_root, "i:bibliographicInfo/i:titleOfComponent")
        copy_bits = {"citation_data": cited or None,
                     "copy_method": im.copy_method_of(req_root),
                     "title": part or _text(req_root, "i:bibliographicInfo/i:title") or "",
                     "author": _text(req_root, "i:bibliographicInfo/i:authorOfComponent")
                     or _text(req_root, "i:bibliographicInfo/i:author") or ""}
    submitted = _dt(_text(req_root, "i:header/i:timestamp"))
    values: dict[str, Any] = dict(
        reader_id=reader, borrower=borrower, kind=m.LOAN if service == "Loan" else m.COPY,
        source="edition" if work_id else "manual", work_id=work_id,
        title=_text(req_root, "i:bibliographicInfo/i:title") or "",
        author=_text(req_root, "i:bibliographicInfo/i:author") or "",
        citation=_text(req_root, "i:serviceInfo/i:note") or "", rota=rota, rota_index=0,
        isbn=isbn[:32], year=(_text(req_root, "i:publicationInfo/i:publicationDate") or "")[:16],
        need_before=local_date(need) if need else None,
        status=m.PENDING, phase=m.NONE, lender=None, submitted_at=submitted, version=1,
        reader_message=PENDING_MESSAGE)
    values.update(copy_bits)
    tried: list[dict] = []
    if status_root is not None:
        values["status"] = _text(status_root, "i:statusInfo/i:status")
        values["lender"] = _text(status_root, "i:header/i:supplyingAgencyId/i:agencyIdValue")
        note = _text(status_root, "i:messageInfo/i:note") or ""
        if note.startswith(NOTE_PREFIX):
            extras, tried = _balis_state(note, original)
            values.update(extras)  # with "price", in yuan
        else:  # a foreign system's message: the standard fields only
            values.update(_foreign_state(status_root, values, tried))
    for row, table in [(values, requests), *((leg, legs) for leg in tried)]:
        for k, v in row.items():
            limit = getattr(table.c[k].type, "length", None) if k in table.c else None
            if limit and isinstance(v, str) and len(v) > limit:  # PostgreSQL would refuse it (SQLite keeps it)
                raise InvalidRequest(f"request {original}: {k} {v[:40]!r} is longer than {limit} characters")
    return store.adopt(values, tried, actor=actor, note=f"imported from ISO 18626 request {original}")
