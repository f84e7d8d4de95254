"""Pull slips and shipping labels for requests ticked on the desk: printable pages (print CSS in
portal/static/print.css: A4 with six slips a page, or one 100 × 150 mm label a page).

    GET /desk/slips?id=N&id=M…&format=a4|label

A pull slip goes with the book from the shelf: request number (also as a QR code), title and author, our
copy's call number, location and barcode, the borrowing library and the reader's pick-up desk. A shipping
label addresses the parcel: to the borrowing library's ILL office when we lend, to the lender's when we send
a book back. Our copy is the desk's (services/copies.py): one look at our own catalogue, with its deadline.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlencode

import segno
from aiohttp import web
from markupsafe import Markup

from ill import machine as m
from ill.errors import NotFound
from ill.notices import contact_of
from portal.auth import Forbidden, require
from portal.i18n import message
from portal.keys import CATALOGUE, LANG, REGISTRY, STORE
from portal.params import ParamError
from portal.render import private_page

FORMATS = ("a4", "label")


def slips_url(ids: list[int], kind: str) -> str:
    """The slips page of these requests: `kind` "slips" (A4) or "labels"."""
    fmt = "label" if kind in ("labels", "label") else "a4"
    return "/desk/slips?" + urlencode([("id", str(i)) for i in ids] + [("format", fmt)])


def qr_svg(rid: int) -> Markup:
    """The request number as a QR code, an inline SVG (no styles: the pages' policy allows none inline)."""
    return Markup(segno.make(str(rid), micro=False, error="m").svg_inline(scale=2, border=2))


@dataclass(frozen=True, slots=True)
class Slip:
    """What one slip or label of a request says."""

    id: int
    kind: str
    title: str
    author: str
    citation_source: str  # edition | manual
    borrower: str
    borrower_name: str
    lender: str
    lender_name: str
    pickup: str  # where the reader collects the book
    delivery: str  # how the reader gets it, when the request says
    call_number: str
    location: str
    library: str
    barcode: str
    direction: str  # out: lender → borrowing library; back: borrowing library → lender
    to_name: str
    to_lines: tuple[str, ...]
    from_name: str
    reader_id: str | None
    qr: Markup


def _member(registry, code: str):
    try:
        return registry.get(code)
    except KeyError:
        return None


def pickup_of(req: dict, registry) -> tuple[str, str]:
    """(where the reader collects the book, how it gets to them when not collected): the request's pick-up
    point or delivery method as the borrowing library's registry entry names them, else its ILL office and
    address from the registry's contacts."""
    member = _member(registry, req["borrower"])
    delivery = str(req.get("delivery") or "").strip()
    if delivery and delivery != "desk":
        find = getattr(member, "delivery_method", None)
        method = find(delivery) if find else None
        return "", method.name if method else delivery
    c = contact_of(registry, req["borrower"])
    code = str(req.get("pickup") or "").strip()
    find = getattr(member, "pickup", None)
    points = getattr(member, "pickups", ())
    point = find(code) if find and code else (points[0] if points else None)
    desk = point.name if point else c.office
    return "，".join(x for x in (desk, c.address, getattr(point, "hours", None) or c.hours) if x), ""


def address_lines(registry, code: str) -> tuple[str, ...]:
    c = contact_of(registry, code)
    return tuple(x for x in (c.office, c.address, c.name, c.phone, c.hours) if x)


def slip_of(req: dict, member: str, registry, names: dict[str, str], work=None, copy=None) -> Slip:
    """A request's slip for staff of `member`; `copy` is the lender's copy when the desk has looked it up."""
    from services.copies import citation_of, own_copy

    lender = req.get("lender") or ""
    if copy is None and lender:
        copy = own_copy(req, lender, work)
    pickup, delivery = pickup_of(req, registry)
    back = req["borrower"] == member and req.get("phase") in (m.RETURNED, m.READER, m.LIBRARY, m.RETURN_TRANSIT)
    to = lender if back else req["borrower"]
    sender = req["borrower"] if back else lender
    return Slip(
        id=req["id"], kind=req["kind"], title=req["title"] or req["citation"], author=req.get("author") or "",
        citation_source=citation_of(req), borrower=req["borrower"],
        borrower_name=names.get(req["borrower"], req["borrower"]), lender=lender,
        lender_name=names.get(lender, lender), pickup=pickup,
        delivery=delivery, call_number=copy.call_number if copy else "",
        location=copy.location if copy else "", library=copy.library if copy else "",
        barcode=copy.barcode if copy else "", direction="back" if back else "out",
        to_name=f"{names.get(to, to)} ({to})" if to else "", to_lines=address_lines(registry, to) if to else (),
        from_name=f"{names.get(sender, sender)} ({sender})" if sender else "",
        reader_id=req["reader_id"] if req["borrower"] == member else None, qr=qr_svg(req["id"]))


async def slips_page(request: web.Request) -> web.Response:
    from portal.desk import own_copies, parse_items, sides

    user = require(request, "staff")
    items = parse_items(request.query.getall("id", []), "id")
    fmt = request.query.get("format", "a4")
    if fmt not in FORMATS:
        raise ParamError("format", "param.choice", choices=", ".join(FORMATS))
    lang = request[LANG]
    store = request.app[STORE]
    catalogue = request.app[CATALOGUE]
    names = catalogue.names(lang)
    registry = request.app[REGISTRY]
    found, missing = [], []
    for rid, _ in items:
        try:
            req = await asyncio.to_thread(store.get, rid)
        except NotFound:
            missing.append(message("slips.not_found", lang, id=rid))
            continue
        if not sides(req, user["member"]):
            missing.append(message("desk.not_ours", lang, id=rid, member=user["member"]))
            continue
        found.append(req)
    copies = await own_copies(request, found, user["member"])  # ours: one look at our catalogue, short deadline
    works = await catalogue.works_by_id(req["work_id"] for req in found if req.get("work_id"))
    slips = [slip_of(req, user["member"], registry, names, works.get(req.get("work_id") or ""), copies.get(req["id"]))
             for req in found]
    if not slips and missing:
        raise Forbidden("; ".join(missing))
    return private_page(request, "desk_slips.html", slips=slips, missing=missing, format=fmt,
                        member=user["member"], ids=[s.id for s in slips],
                        other_url=slips_url([s.id for s in slips], "a4" if fmt == "label" else "labels"))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/desk/slips", slips_page, name="desk_slips")
