"""The reader's interlibrary-loan pages and their JSON API: request an edition, a manual request, my requests.

    GET  /work/{id}/request         the edition, the rota the request will follow, the rules, the form
    POST /work/{id}/request         kind (loan | copy), note, csrf_token → 303 to the new request
    GET  /requests/new              the manual request form (手工填写申请单); POST submits it
    GET  /requests                  my open requests and my history (q, since, until, page)
    GET  /requests/{id}             one request: status, deadlines, its route so far and its history
    GET  /requests/{id}/cancel      the confirmation step; POST cancels (within 1 hour, before an answer)

    GET  /api/requests              mine (the same filters)      POST /api/requests            submit
    GET  /api/requests/{id}         one, with legs and history   POST /api/requests/{id}/cancel
    GET  /api/works/{id}/rota       the rota for the signed-in reader, and the rules

Only signed-in readers: a page sends others to /login, the API answers 401; staff and administrators get
403 (their queues are the staff desk's). A reader sees only their own requests: another reader's request
id is answered exactly like one that does not exist (404). The store's rules (3 books, the cancel window)
stay the store's; the pages check them first only to say the refusal in the reader's words.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from aiohttp import web

from ill import machine as m
from ill import needby
from ill.errors import Duplicate, IllError, InvalidRequest, NotFound, RuleViolation
from ill.machine import CANCEL_WINDOW, MAX_OPEN_LOANS, over_loan_limit
from ill.notices import contact_of
from ill.rota import Lender
from ill.workdays import BEIJING, deadline_text, local_date
from members import DESK
from portal.auth import require
from portal.i18n import message
from portal.keys import CATALOGUE, LANG, REGISTRY, STORE
from portal.openapi_parts import ERROR_RESPONSE, NULL_STR, STR
from portal.params import ParamError, clean_text, integer, json_body
from portal.params import work_id as check_work_id
from portal.render import json_answer, json_refused, private_page

log = logging.getLogger("balis.portal")

READER = "reader"
PAGE_SIZE = 10
MAX_PAGE = 100
MAX_TITLE = 300
MAX_NAME = 200  # author, publisher
MAX_CITATION = 2000
MAX_NOTE = 500
MAX_QUERY = 100
HISTORY_LIMIT = 2000  # a reader's requests read for one history page (paged here)
ROTA_TTL = 600.0  # seconds a rota shown on the request page is kept for the form that follows
FRESH_SECONDS = 600.0  # an edition seen by a search this recently has live holdings already
ROTA_DEADLINE = 10.0  # seconds to wait for holding members' live availability
KINDS = (m.LOAN, m.COPY)
EXPLAINED = frozenset({m.UNFILLED, m.RETRY_POSSIBLE, m.COMPLETED_WITHOUT_RETURN})  # the store's words say why
MANUAL_FIELDS = ("title", "author", "publisher", "year", "isbn", "citation")


# -- the rota kept between the request page and its form -----------------------------------------------------
class _Rotas:
    """The rota shown to a reader, kept briefly so the request follows exactly the rota it showed."""

    def __init__(self, size: int = 1000, ttl: float = ROTA_TTL) -> None:
        self.items: OrderedDict[tuple[str, str], tuple[float, object]] = OrderedDict()
        self.size, self.ttl = size, ttl

    def get(self, key: tuple[str, str]):
        item = self.items.get(key)
        if item is None or time.monotonic() - item[0] > self.ttl:
            self.items.pop(key, None)
            return None
        return item[1]

    def put(self, key: tuple[str, str], rota) -> None:
        self.items[key] = (time.monotonic(), rota)
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


ROTAS = web.AppKey("reader_rotas", _Rotas)


def add_routes(app: web.Application) -> None:
    """Register this part's pages and /api/ endpoints."""
    app[ROTAS] = _Rotas()
    app.router.add_get("/work/{work_id}/request", request_page, name="request_edition")
    app.router.add_post("/work/{work_id}/request", request_submit)
    app.router.add_get("/requests", my_requests, name="my_requests")
    app.router.add_get("/requests/new", manual_page, name="request_manual")
    app.router.add_post("/requests/new", manual_submit)
    app.router.add_get(r"/requests/{request_id:\d{1,9}}", request_detail, name="request_detail")
    app.router.add_get(r"/requests/{request_id:\d{1,9}}/cancel", cancel_page, name="request_cancel")
    app.router.add_post(r"/requests/{request_id:\d{1,9}}/cancel", cancel_submit)
    app.router.add_get("/api/requests", api_list)
    app.router.add_post("/api/requests", api_submit)
    app.router.add_get(r"/api/requests/{request_id:\d{1,9}}", api_detail)
    app.router.add_post(r"/api/requests/{request_id:\d{1,9}}/cancel", api_cancel)
    app.router.add_get("/api/works/{work_id}/rota", api_rota)
    from portal import docdelivery  # document delivery (原文传递): the copy form, the download, the fees

    docdelivery.add_routes(app)


# -- checking what readers type (pure) ------------------------------------------------------------------------
@dataclass(slots=True)
class Checked:
    """Form values as typed (trimmed) and the problems found, field → message (key, values)."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, tuple[str, dict]] = field(default_factory=dict)

    def text(self, name: str, raw: object, limit: int) -> str:
        value = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
        self.values[name] = value[: limit + 50]  # kept to show again, not unbounded
        try:
            cleaned = clean_text(name, value, limit)
        except ParamError as exc:
            self.errors[name] = (exc.key, exc.values)
            return ""
        self.values[name] = cleaned
        return cleaned


def check_kind(checked: Checked, raw: object) -> str:
    kind = raw if isinstance(raw, str) and raw else m.LOAN
    checked.values["kind"] = kind if kind in KINDS else m.LOAN
    if kind not in KINDS:
        checked.errors["kind"] = ("param.choice", {"choices": ", ".join(KINDS)})
    return checked.values["kind"]


def check_delivery(checked: Checked, form, now: datetime | None) -> None:
    """How the reader gets the book and by when: `delivery` ("desk:POINT" from the form's one choice, or a
    method's code, with `pickup` beside it in the API), `need_before` (YYYY-MM-DD: a real date, not in the
    past: ill.needby), and `confirm_duplicate` (asking again after a request closed lately)."""
    raw = form.get("delivery")
    choice = clean_text("delivery", raw if isinstance(raw, str) else "", 100) if raw else ""
    delivery, _, pickup = choice.partition(":")
    pickup_raw = form.get("pickup")
    if not pickup and isinstance(pickup_raw, str):
        pickup = pickup_raw.strip()[:64]
    checked.values["delivery"] = (delivery or DESK).strip().lower()
    checked.values["pickup"] = pickup.strip() if checked.values["delivery"] == DESK else ""
    checked.values["delivery_choice"] = choice or ""
    day = form.get("need_before")
    day = day.strip() if isinstance(day, str) else ""
    checked.values["need_before"] = day[:20]
    if day and now is not None:
        try:
            needby.parse(day, now)
        except InvalidRequest as exc:
            checked.errors["need_before"] = ("reader.field.need_before.bad", {"why": str(exc)})
    flag = form.get("confirm_duplicate")
    checked.values["confirm_duplicate"] = "1" if flag in (True, "1", "on", "true", "yes") else ""


def check_edition_form(form, now: datetime | None = None) -> Checked:
    """kind, note, delivery and need-before of the request form on an edition's request page."""
    checked = Checked()
    check_kind(checked, form.get("kind"))
    checked.text("note", form.get("note"), MAX_NOTE)
    check_delivery(checked, form, now)
    return checked


def check_manual_form(form, this_year: int, now: datetime | None = None) -> Checked:
    """The manual request form: title, author, publisher, year, ISBN, citation, kind, note, delivery and
    need-before."""
    from stdnum import isbn as isbn_mod
    from stdnum.exceptions import ValidationError

    checked = Checked()
    check_kind(checked, form.get("kind"))
    title = checked.text("title", form.get("title"), MAX_TITLE)
    checked.text("author", form.get("author"), MAX_NAME)
    checked.text("publisher", form.get("publisher"), MAX_NAME)
    year = checked.text("year", form.get("year"), 4)
    if year and "year" not in checked.errors:
        if not (year.isdecimal() and len(year) == 4 and 1000 <= int(year) <= this_year + 1):
            checked.errors["year"] = ("reader.field.year.bad", {"high": this_year + 1})
    isbn = checked.text("isbn", form.get("isbn"), 20)
    if isbn and "isbn" not in checked.errors:
        try:
            checked.values["isbn"] = isbn_mod.format(isbn_mod.validate(isbn))
        except ValidationError:
            checked.errors["isbn"] = ("reader.field.isbn.bad", {})
    citation = checked.text("citation", form.get("citation"), MAX_CITATION)
    checked.text("note", form.get("note"), MAX_NOTE)
    if not title and not citation and "title" not in checked.errors and "citation" not in checked.errors:
        checked.errors["title"] = ("reader.field.title_or_citation", {})
    check_delivery(checked, form, now)
    return checked


def submit_options(values: dict[str, str]) -> dict:
    """The store's submit arguments for delivery, need-before and a confirmed duplicate."""
    return {"delivery": values.get("delivery") or DESK, "pickup": values.get("pickup") or None,
            "need_before": values.get("need_before") or None,
            "confirm_duplicate": values.get("confirm_duplicate") == "1"}


def delivery_options(member, lang: str) -> list[dict]:
    """The choices of the form's delivery list for a reader of `member`: its pick-up points, then its other
    delivery methods (members/values.py)."""
    if member is None:
        return [{"value": f"{DESK}:", "label": message("reader.delivery.desk_only", lang)}]
    en = lang == "en"
    out = [{"value": f"{DESK}:{p.code}", "label": message("reader.delivery.at", lang,
                                                           place=(p.name_en if en and p.name_en else p.name))
            + (f" ({p.hours})" if p.hours else "")} for p in member.pickups]
    for d in member.delivery_methods:
        label = d.name_en if en and d.name_en else d.name
        if d.days:
            label += message("reader.delivery.days", lang, days=d.days)
        out.append({"value": d.code, "label": label})
    return out


def delivery_text(req: dict, registry, lang: str) -> str:
    """How the reader gets the book, in words: the pick-up point's name, or the delivery method's."""
    member = None
    if registry is not None:
        member = next((x for x in registry.members if x.code == req["borrower"]), None)
    en = lang == "en"
    if (req.get("delivery") or DESK) == DESK:
        point = member.pickup(req.get("pickup")) if member is not None else None
        place = (point.name_en if en and point.name_en else point.name) if point else (req.get("pickup") or "")
        return message("reader.delivery.at", lang, place=place or message("reader.delivery.desk_only", lang))
    method = member.delivery_method(req["delivery"]) if member is not None else None
    return (method.name_en if en and method.name_en else method.name) if method else req["delivery"]


def manual_citation(values: dict[str, str]) -> str:
    """What staff read of a manual request beside its title and author: publisher, year, ISBN, the citation
    as written, and the reader's note, in one line (the store keeps one citation text)."""
    parts = []
    for name, label in (("publisher", "出版者"), ("year", "出版年"), ("isbn", "ISBN")):
        if values.get(name):
            parts.append(f"{label}：{values[name]}")
    if values.get("citation"):
        parts.append(f"出处：{values['citation']}")
    if values.get("note"):
        parts.append(f"读者附言：{values['note']}")
    return "；".join(parts)


def day_param(name: str, value: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ParamError(name, "reader.param.date") from None


@dataclass(frozen=True, slots=True)
class HistoryParams:
    q: str = ""
    since: date | None = None
    until: date | None = None
    page: int = 1

    def args(self, **changes) -> list[tuple[str, str]]:
        base = {"q": self.q, "since": self.since.isoformat() if self.since else "",
                "until": self.until.isoformat() if self.until else "", "page": self.page, **changes}
        return [(k, str(v)) for k, v in base.items() if v not in ("", None) and not (k == "page" and v == 1)]

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.since or self.until)


def history_params(query) -> HistoryParams:
    q = clean_text("q", query.get("q", ""), MAX_QUERY)
    since = day_param("since", query.get("since", ""))
    until = day_param("until", query.get("until", ""))
    if since and until and since > until:
        raise ParamError("until", "reader.param.date_order")
    page_text = query.get("page", "")
    page = integer("page", page_text, 1, 1, MAX_PAGE)
    return HistoryParams(q, since, until, page)


def matches(req: dict, words: str) -> bool:
    """Whether every word of `words` is in the request's title, author or citation (case and width folded)."""
    import unicodedata

    def fold(text: str) -> str:
        return unicodedata.normalize("NFKC", text or "").casefold()

    hay = fold(" ".join((req["title"], req["author"], req["citation"])))
    return all(word in hay for word in fold(words).split())


def _day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), BEIJING)


# -- what a reader reads of a request (pure) --------------------------------------------------------------
def beijing(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def owner_of(req: dict) -> dict:
    """The reader who asked, as the workflow sees an actor."""
    return {"id": req["reader_id"], "role": "reader", "member": req["borrower"]}


def cancel_state(req: dict, now: datetime) -> tuple[str, datetime | None]:
    """What the workflow says about the reader cancelling: ("ok", until) while they may; else ("answered" |
    "expired" | "closed", until or None). The store enforces the same verdict."""
    verdict = m.verdict(req, owner_of(req), now, m.CANCEL)
    until = req["submitted_at"] + CANCEL_WINDOW
    if verdict.allowed:
        return "ok", until
    if verdict.code in ("answered", "expired"):
        return verdict.code, until if verdict.code == "expired" else None
    return "closed", None


def status_key(req: dict) -> str:
    """The message key of the request's state in words (a loan on its way by its phase)."""
    if req["status"] in (m.LOANED, m.OVERDUE, m.RECALLED) and req.get("phase"):
        return f"reader.phase.{req['status']}.{req['phase']}"
    return f"reader.status.{req['status']}"


def request_view(req: dict, now: datetime, names: dict[str, str], lang: str, *, registry=None) -> dict:
    """A request as the pages and the API show it to its reader."""
    state, until = cancel_state(req, now)
    waiting = req["status"] in (m.REQUEST_RECEIVED, m.EXPECT_TO_SUPPLY, m.WILL_SUPPLY)
    return {
        "id": req["id"], "kind": req["kind"], "source": req["source"], "work_id": req["work_id"],
        "title": req["title"], "author": req["author"], "citation": req["citation"],
        "status": req["status"], "phase": req["phase"] or "", "status_text": message(status_key(req), lang),
        "open": m.is_open(req["status"]), "lender": req["lender"],
        "lender_name": names.get(req["lender"], req["lender"]) if req["lender"] else None,
        "borrower": req["borrower"],
        "submitted_at": req["submitted_at"].isoformat(), "submitted_text": beijing(req["submitted_at"]),
        "answer_due": _iso(req["answer_due"] if req["status"] == m.REQUEST_RECEIVED else None),
        "answer_due_text": deadline_text(req["answer_due"]) if req["answer_due"] and
        req["status"] == m.REQUEST_RECEIVED else "",
        "ship_due": _iso(req["ship_due"] if waiting else None),
        "ship_due_text": deadline_text(req["ship_due"]) if req["ship_due"] and waiting else "",
        "due_back": _iso(req["due_back"]), "due_back_text": deadline_text(req["due_back"]) if req["due_back"] else "",
        "completed_at": _iso(req["completed_at"]), "completed_text": beijing(req["completed_at"]),
        "reader_message": (req["reader_message"] or "") if req["status"] in EXPLAINED else "",
        "can_cancel": state == "ok", "cancel_state": state, "cancel_until": _iso(until),
        "cancel_until_text": beijing(until) if until else "",
        "rota": [{"member": e["member"], "name": names.get(e["member"], e["member"]), "reason": e["reason"]}
                 for e in req["rota"] or []],
        "isbn": req.get("isbn") or "", "year": req.get("year") or "",
        "delivery": req.get("delivery") or DESK, "pickup": req.get("pickup") or "",
        "delivery_text": delivery_text(req, registry, lang),
        "need_before": req["need_before"].isoformat() if req.get("need_before") else None,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def leg_view(leg: dict, names: dict[str, str], lang: str) -> dict:
    return {"seq": leg["seq"] + 1, "lender": leg["lender"], "lender_name": names.get(leg["lender"], leg["lender"]),
            "arrived_at": _iso(leg["arrived_at"]), "arrived_text": beijing(leg["arrived_at"]),
            "answer_due_text": deadline_text(leg["answer_due"]), "answered_text": beijing(leg["answered_at"]),
            "shipped_text": beijing(leg["shipped_at"]), "closed_text": beijing(leg["closed_at"]),
            "outcome": leg["outcome"], "outcome_text": message(f"reader.leg.{leg['outcome']}", lang),
            "note": leg["note"] or ""}


def event_view(entry: dict, names: dict[str, str], lang: str) -> dict:
    role = entry["actor_role"] if entry["actor_role"] in ("reader", "borrower", "lender", "admin", "system") \
        else "system"
    after = {"status": entry["to_status"], "phase": entry["to_phase"]}
    return {"at": _iso(entry["at"]), "at_text": beijing(entry["at"]), "action": entry["action"],
            "by": message(f"reader.by.{role}", lang), "status": entry["to_status"],
            "status_text": message(status_key(after), lang),
            "lender": entry["lender"], "lender_name": names.get(entry["lender"], entry["lender"] or ""),
            "reason": "" if entry["action"] in ("submit", "import") else entry["reason"] or ""}


def rules_view(open_ids: list[int]) -> dict:
    return {"max_open_loans": MAX_OPEN_LOANS, "open_loans": len(open_ids), "open_loan_ids": open_ids,
            "loan_period": "P1M", "renewals": 0, "cancel_window_minutes": int(CANCEL_WINDOW.total_seconds() // 60)}


# -- shared steps ------------------------------------------------------------------------------------------
def _reader(request: web.Request) -> dict:
    return require(request, READER)


def _names(request: web.Request) -> dict[str, str]:
    return request.app[CATALOGUE].names(request[LANG])


def _now(request: web.Request) -> datetime:
    return request.app[STORE].clock()


async def _open_loan_ids(request: web.Request, reader_id: str) -> list[int]:
    rows = await asyncio.to_thread(request.app[STORE].list_requests, reader=reader_id, open_only=True,
                                   limit=HISTORY_LIMIT)
    return sorted(r["id"] for r in rows if r["kind"] == m.LOAN)


async def _own_request(request: web.Request, user: dict) -> dict:
    """The reader's own request named in the path; another reader's is answered as not found."""
    rid = int(request.match_info["request_id"])
    try:
        req = await asyncio.to_thread(request.app[STORE].get, rid)
    except NotFound:
        req = None
    if req is None or req["reader_id"] != user["id"]:
        raise NotFound(message("reader.not_found", request[LANG], id=rid))
    return req


async def _edition(request: web.Request, wid: str | None = None):
    wid = check_work_id(request.match_info["work_id"] if wid is None else wid)
    work, _others = await request.app[CATALOGUE].edition(wid)
    if work is None:
        raise NotFound(message("error.work_not_found", request[LANG], work_id=wid))
    return work


def _fresh(catalogue, work_id: str) -> bool:
    """Whether a search showed this edition (with its holdings as members said then) a short while ago."""
    works = getattr(catalogue, "works", None)
    item = OrderedDict.get(works, work_id) if isinstance(works, OrderedDict) else None
    if not item:
        return False
    clock = getattr(works, "clock", time.monotonic)
    return clock() - item[0] <= FRESH_SECONDS


async def _rota(request: web.Request, work, user: dict, *, reuse: bool = True):
    """The rota for this reader's library: the one just shown (kept briefly), else built now."""
    key = (work.work_id, user["member"])
    rotas = request.app[ROTAS]
    if reuse:
        kept = rotas.get(key)
        if kept is not None:
            return kept
    from routing import RoutingError
    from services.lenders import lender_history, rota_for_work

    catalogue = request.app[CATALOGUE]
    history, _source, problem = await asyncio.to_thread(lender_history, store=request.app[STORE])  # loans only
    if problem:
        log.warning("portal: %s", problem)
    try:
        _found, rota = await rota_for_work(work, user["member"], catalogue.registry, history=history,
                                           fresh=_fresh(catalogue, work.work_id), timeout=ROTA_DEADLINE)
    except RoutingError as exc:
        raise InvalidRequest(message("reader.rota.no_home", request[LANG], member=user["member"],
                                     why=str(exc))) from None
    rotas.put(key, rota)
    return rota


def _refusal(request: web.Request, rota, kind: str, open_ids: list[int]) -> str | None:
    """Why this request cannot go now, in the reader's words (None: it can)."""
    lang = request[LANG]
    if rota.own_available:
        return message("reader.refused.own", lang, note=rota.note)
    if not rota.lenders:
        return message("reader.refused.no_lender", lang, note=rota.note)
    if over_loan_limit(kind, len(open_ids)):
        return _limit_text(lang, open_ids)
    return None


def _limit_text(lang: str, open_ids: list[int]) -> str:
    return message("reader.refused.limit", lang, count=len(open_ids), max=MAX_OPEN_LOANS,
                   ids="、".join(map(str, open_ids)))


def _member(request: web.Request, code: str):
    registry = request.app[REGISTRY]
    return next((x for x in registry.members if x.code == code), None) if registry is not None else None


def _form_extras(request: web.Request, user: dict) -> dict:
    """What the delivery part of a request form shows: the reader's library's choices, and today (the
    earliest need-before date)."""
    return {"deliveries": delivery_options(_member(request, user["member"]), request[LANG]),
            "today": local_date(_now(request)).isoformat()}


def _duplicate(request: web.Request, exc: Duplicate) -> tuple[str, dict]:
    """The refusal in the reader's words, and what the form shows: a link to the earlier request, and the
    confirmation box when asking again is allowed."""
    lang = request[LANG]
    key = "reader.duplicate.recent" if exc.confirmable else "reader.duplicate.open"
    return message(key, lang, id=exc.request_id), {"id": exc.request_id, "confirmable": exc.confirmable}


def _field_errors(request: web.Request, checked: Checked) -> dict[str, str]:
    lang = request[LANG]
    return {name: message(key, lang, **values) for name, (key, values) in checked.errors.items()}


# -- pages ---------------------------------------------------------------------------------------------------
async def request_page(request: web.Request, *, checked: Checked | None = None, failed: str | None = None,
                       status: int = 200, duplicate: dict | None = None) -> web.Response:
    user = _reader(request)
    work = await _edition(request)
    rota = await _rota(request, work, user)
    open_ids = await _open_loan_ids(request, user["id"])
    checked = checked or Checked(values={"kind": m.LOAN, "note": ""})
    return private_page(request, "request.html", status, work=work, rota=rota, names=_names(request),
                        rules=rules_view(open_ids), form=checked.values, errors=_field_errors(request, checked),
                        failed=failed, blocked=_refusal(request, rota, m.COPY, open_ids),
                        at_limit=over_loan_limit(m.LOAN, len(open_ids)), duplicate=duplicate,
                        **_form_extras(request, user))


async def request_submit(request: web.Request) -> web.Response:
    user = _reader(request)
    form = await request.post()
    checked = check_edition_form(form, _now(request))
    if checked.errors:
        return await request_page(request, checked=checked, status=400)
    work = await _edition(request)
    rota = await _rota(request, work, user)
    kind, note = checked.values["kind"], checked.values["note"]
    open_ids = await _open_loan_ids(request, user["id"])
    why = _refusal(request, rota, kind, open_ids)
    if why:
        return await request_page(request, checked=checked, failed=why, status=409)
    try:
        req = await asyncio.to_thread(_submit_edition, request.app[STORE], user["id"], work, rota, kind, note,
                                      submit_options(checked.values))
    except Duplicate as exc:  # asked before: refused while open, confirmed after a request closed lately
        why, duplicate = _duplicate(request, exc)
        return await request_page(request, checked=checked, failed=why, status=409, duplicate=duplicate)
    except RuleViolation:  # the 3-books rule, decided by the store at the moment of writing
        open_ids = await _open_loan_ids(request, user["id"])
        why = _refusal(request, rota, kind, open_ids) or _limit_text(request[LANG], open_ids)
        return await request_page(request, checked=checked, failed=why, status=409)
    except InvalidRequest as exc:
        return await request_page(request, checked=checked, failed=str(exc), status=400)
    raise web.HTTPSeeOther(f"/requests/{req['id']}?submitted=1")


def _submit_edition(store, reader_id: str, work, rota, kind: str, note: str, options: dict) -> dict:
    from services.requests import edition_text

    text = edition_text(work, note)
    return store.submit(reader_id, kind=kind, title=text.title, author=text.author, work_id=work.work_id,
                        citation=text.citation, rota=[Lender.ranked(e) for e in rota.lenders], isbn=text.isbn,
                        year=text.year, **options)


async def manual_page(request: web.Request, *, checked: Checked | None = None, failed: str | None = None,
                      status: int = 200, duplicate: dict | None = None) -> web.Response:
    user = _reader(request)
    if checked is None:  # a link from an edition no one can lend may bring its title and author
        checked = Checked(values={"kind": m.LOAN})
        for name in ("title", "author", "publisher", "year", "isbn"):
            value = request.query.get(name, "")
            checked.values[name] = value[:MAX_TITLE] if isinstance(value, str) else ""
    open_ids = await _open_loan_ids(request, user["id"])
    return private_page(request, "request_new.html", status, form=checked.values,
                        errors=_field_errors(request, checked), failed=failed, rules=rules_view(open_ids), limits={
                            "title": MAX_TITLE, "name": MAX_NAME, "citation": MAX_CITATION, "note": MAX_NOTE},
                        duplicate=duplicate, **_form_extras(request, user))


async def manual_submit(request: web.Request) -> web.Response:
    user = _reader(request)
    form = await request.post()
    checked = check_manual_form(form, _now(request).astimezone(BEIJING).year, _now(request))
    if checked.errors:
        return await manual_page(request, checked=checked, failed=message("reader.form.fix", request[LANG]),
                                 status=400)
    v = checked.values
    open_ids = await _open_loan_ids(request, user["id"])
    if over_loan_limit(v["kind"], len(open_ids)):
        return await manual_page(request, checked=checked, status=409, failed=_limit_text(request[LANG], open_ids))
    try:
        req = await asyncio.to_thread(request.app[STORE].submit, user["id"], kind=v["kind"], title=v["title"],
                                      author=v["author"], citation=manual_citation(v), isbn=v.get("isbn", ""),
                                      year=v.get("year", ""), **submit_options(v))
    except Duplicate as exc:
        why, duplicate = _duplicate(request, exc)
        return await manual_page(request, checked=checked, status=409, failed=why, duplicate=duplicate)
    except RuleViolation:
        open_ids = await _open_loan_ids(request, user["id"])
        return await manual_page(request, checked=checked, status=409, failed=_limit_text(request[LANG], open_ids))
    except InvalidRequest as exc:
        return await manual_page(request, checked=checked, failed=str(exc), status=400)
    raise web.HTTPSeeOther(f"/requests/{req['id']}?submitted=1")


async def _history(request: web.Request, user: dict, params: HistoryParams) -> tuple[list[dict], list[dict], bool]:
    """(open requests, one page of the history matching the filters, whether more pages follow)."""
    store = request.app[STORE]
    now, names, lang = _now(request), _names(request), request[LANG]
    until = _day_start(params.until + timedelta(days=1)) if params.until else None
    since = _day_start(params.since) if params.since else None
    rows = await asyncio.to_thread(store.list_requests, reader=user["id"], since=since, until=until,
                                   limit=HISTORY_LIMIT)
    rows = [r for r in rows if matches(r, params.q)]
    opened = await asyncio.to_thread(store.list_requests, reader=user["id"], open_only=True, limit=HISTORY_LIMIT)
    start = (params.page - 1) * PAGE_SIZE
    page = rows[start:start + PAGE_SIZE]
    return ([request_view(r, now, names, lang, registry=request.app[REGISTRY]) for r in opened], [request_view(r, now, names, lang, registry=request.app[REGISTRY]) for r in page],
            len(rows) > start + PAGE_SIZE)


async def my_requests(request: web.Request) -> web.Response:
    user = _reader(request)
    params = history_params(request.query)
    opened, history, more = await _history(request, user, params)
    open_ids = sorted(r["id"] for r in opened if r["kind"] == m.LOAN)
    return private_page(request, "my_requests.html", opened=opened, history=history, more=more, hp=params,
                        rules=rules_view(open_ids), cancelled=request.query.get("cancelled", "")[:9])


async def _own_request_parts(request: web.Request) -> tuple:
    """The signed-in reader's request the address names, its legs and events, and the names and language
    to show them in."""
    req = await _own_request(request, _reader(request))
    store = request.app[STORE]
    legs, events = await asyncio.to_thread(lambda: (store.legs(req["id"]), store.history(req["id"])))
    return req, legs, events, _names(request), request[LANG]


async def request_detail(request: web.Request) -> web.Response:
    from portal.docdelivery import mine_view

    req, legs, events, names, lang = await _own_request_parts(request)
    return private_page(request, "my_request.html", r=request_view(req, _now(request), names, lang, registry=request.app[REGISTRY]),
                        desk_contact=contact_of(request.app[REGISTRY], req["borrower"]),
                        desk_name=names.get(req["borrower"], req["borrower"]),
                        legs=[leg_view(x, names, lang) for x in legs],
                        events=[event_view(e, names, lang) for e in events],
                        submitted=request.query.get("submitted") == "1",
                        cancelled=request.query.get("cancelled") == "1",
                        dd=mine_view(req, request.app[STORE].copy_rules, _now(request), lang))


async def cancel_page(request: web.Request, *, failed: str | None = None, status: int = 200) -> web.Response:
    user = _reader(request)
    req = await _own_request(request, user)
    r = request_view(req, _now(request), _names(request), request[LANG], registry=request.app[REGISTRY])
    if failed is None and not r["can_cancel"]:
        failed, status = _cancel_refusal(request, r), 409
    return private_page(request, "request_cancel.html", status, r=r, failed=failed)


def _cancel_refusal(request: web.Request, r: dict) -> str:
    return message(f"reader.cancel.{r['cancel_state']}", request[LANG], id=r["id"], until=r["cancel_until_text"])


async def cancel_submit(request: web.Request) -> web.Response:
    user = _reader(request)
    req = await _own_request(request, user)
    r = request_view(req, _now(request), _names(request), request[LANG], registry=request.app[REGISTRY])
    if not r["can_cancel"]:
        return await cancel_page(request, failed=_cancel_refusal(request, r), status=409)
    try:
        await asyncio.to_thread(request.app[STORE].cancel, req["id"], user["id"], "读者取消")
    except (RuleViolation, IllError) as exc:  # the store decides at the moment of writing
        req = await _own_request(request, user)
        r = request_view(req, _now(request), _names(request), request[LANG], registry=request.app[REGISTRY])
        why = _cancel_refusal(request, r) if not r["can_cancel"] else str(exc)
        return await cancel_page(request, failed=why, status=409)
    raise web.HTTPSeeOther(f"/requests/{req['id']}?cancelled=1")


# -- the JSON API ------------------------------------------------------------------------------------------


async def api_list(request: web.Request) -> web.Response:
    user = _reader(request)
    params = history_params(request.query)
    opened, history, more = await _history(request, user, params)
    open_ids = sorted(r["id"] for r in opened if r["kind"] == m.LOAN)
    return json_answer({"version": 1, "page": params.page, "has_more": more, "rules": rules_view(open_ids),
                  "open": opened, "requests": history})


async def api_detail(request: web.Request) -> web.Response:
    req, legs, events, names, lang = await _own_request_parts(request)
    return json_answer({"version": 1, "request": request_view(req, _now(request), names, lang, registry=request.app[REGISTRY]),
                  "legs": [leg_view(x, names, lang) for x in legs],
                  "history": [event_view(e, names, lang) for e in events]})


async def api_submit(request: web.Request) -> web.Response:
    user = _reader(request)
    body = await json_body(request)
    if any(not isinstance(v, str) for k, v in body.items() if k != "confirm_duplicate") or \
            not isinstance(body.get("confirm_duplicate", False), bool):
        raise ParamError("body", "param.json")
    lang, store = request[LANG], request.app[STORE]
    open_ids = await _open_loan_ids(request, user["id"])
    now = _now(request)
    if body.get("work_id"):
        checked = check_edition_form(body, now)
        _raise_first(checked)
        work = await _edition(request, body["work_id"])
        rota = await _rota(request, work, user)
        why = _refusal(request, rota, checked.values["kind"], open_ids)
        if why:
            return json_refused(409, why)
        submit = lambda: _submit_edition(store, user["id"], work, rota, checked.values["kind"],  # noqa: E731
                                         checked.values["note"], submit_options(checked.values))
    else:
        checked = check_manual_form(body, now.astimezone(BEIJING).year, now)
        _raise_first(checked)
        v = checked.values
        if over_loan_limit(v["kind"], len(open_ids)):
            return json_refused(409, _limit_text(lang, open_ids))
        submit = lambda: store.submit(user["id"], kind=v["kind"], title=v["title"],  # noqa: E731
                                      author=v["author"], citation=manual_citation(v), isbn=v.get("isbn", ""),
                                      year=v.get("year", ""), **submit_options(v))
    try:
        req = await asyncio.to_thread(submit)
    except Duplicate as exc:  # the JSON error names the earlier request, and whether confirming may go on
        why, _ = _duplicate(request, exc)
        return json_answer({"error": {"status": 409, "message": why, "code": exc.code, "request_id": exc.request_id,
                                "request": f"/api/requests/{exc.request_id}",
                                "confirm": "confirm_duplicate" if exc.confirmable else None}}, 409)
    except RuleViolation:
        return json_refused(409, _limit_text(lang, await _open_loan_ids(request, user["id"])))
    except InvalidRequest as exc:  # a pick-up point or delivery method the library does not offer
        return json_refused(400, str(exc), "delivery")
    return json_answer({"version": 1, "request": request_view(req, _now(request), _names(request), lang, registry=request.app[REGISTRY])}, 201)


def _raise_first(checked: Checked) -> None:
    """A 400 naming the first field that is wrong."""
    for name, (key, values) in checked.errors.items():
        raise ParamError(name, key, **values)


async def api_cancel(request: web.Request) -> web.Response:
    user = _reader(request)
    req = await _own_request(request, user)
    lang, names = request[LANG], _names(request)
    r = request_view(req, _now(request), names, lang, registry=request.app[REGISTRY])
    if not r["can_cancel"]:
        return json_refused(409, _cancel_refusal(request, r))
    try:
        req = await asyncio.to_thread(request.app[STORE].cancel, req["id"], user["id"], "读者取消")
    except (RuleViolation, IllError):
        req = await _own_request(request, user)
        r = request_view(req, _now(request), names, lang, registry=request.app[REGISTRY])
        return json_refused(409, _cancel_refusal(request, r))
    return json_answer({"version": 1, "request": request_view(req, _now(request), names, lang, registry=request.app[REGISTRY])})


async def api_rota(request: web.Request) -> web.Response:
    user = _reader(request)
    work = await _edition(request)
    rota = await _rota(request, work, user)
    open_ids = await _open_loan_ids(request, user["id"])
    why = _refusal(request, rota, m.LOAN, open_ids)
    return json_answer({"version": 1, "work_id": work.work_id, "home": user["member"], "rota": rota.to_dict(),
                  "rules": rules_view(open_ids), "can_request": why is None, "refusal": why})


# -- the description -------------------------------------------------------------------------------------
_STR, _NSTR, _ERR = STR, NULL_STR, ERROR_RESPONSE
_ID = {"name": "request_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_WORK = {"name": "work_id", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": "^W[0-9a-f]{16}$"}}
_SIGNED_IN = ("Signed-in readers only (the session cookie of POST /api/session): 401 when signed out, 403 for "
              "staff and administrators. A reader sees only their own requests: another reader's id is 404.")


def _ok(description: str, ref: str, status: str = "200") -> dict:
    return {status: {"description": description, "content": {"application/json": {"schema": {
        "$ref": f"#/components/schemas/{ref}"}}}}}


def openapi_parts() -> tuple[dict, dict]:
    """(paths, component schemas) this part adds to /api/openapi.json."""
    rules = {"type": "object", "required": ["max_open_loans", "open_loans", "loan_period", "renewals",
                                            "cancel_window_minutes"], "properties": {
        "max_open_loans": {"type": "integer", "description": "books a reader may have out through ILL (3)"},
        "open_loans": {"type": "integer", "description": "the reader's open returnable-loan requests now"},
        "open_loan_ids": {"type": "array", "items": {"type": "integer"}},
        "loan_period": {"type": "string", "description": "ISO 8601 duration: one month"},
        "renewals": {"type": "integer", "const": 0},
        "cancel_window_minutes": {"type": "integer", "description": "a reader may cancel this long after "
                                                                    "submitting, before a lender answers"}}}
    request = {"type": "object", "required": ["id", "kind", "source", "title", "status", "status_text", "open",
                                              "submitted_at", "can_cancel", "rota"], "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string", "enum": list(KINDS)},
        "source": {"type": "string", "enum": ["edition", "manual"]}, "work_id": _NSTR,
        "title": _STR, "author": _STR, "citation": _STR,
        "status": {"type": "string", "description": "ISO 18626 supplier status, or Pending (a manual request "
                                                    "waiting for staff)"},
        "phase": {"type": "string", "description": "where a loan is on the borrowing side: transit, library, "
                                                  "reader, returned, return_transit, or empty"},
        "status_text": {"type": "string", "description": "the state in words, in the reader's language"},
        "open": {"type": "boolean"}, "lender": _NSTR, "lender_name": _NSTR, "borrower": _STR,
        "submitted_at": {"type": "string", "format": "date-time"}, "submitted_text": _STR,
        "answer_due": _NSTR, "answer_due_text": _STR, "ship_due": _NSTR, "ship_due_text": _STR,
        "due_back": _NSTR, "due_back_text": _STR, "completed_at": _NSTR, "completed_text": _STR,
        "reader_message": _STR,
        "can_cancel": {"type": "boolean", "description": "within 1 hour of submitting and before any lender "
                                                         "answered"},
        "cancel_state": {"type": "string", "enum": ["ok", "answered", "expired", "closed"]},
        "cancel_until": _NSTR, "cancel_until_text": _STR,
        "rota": {"type": "array", "items": {"type": "object", "required": ["member", "name", "reason"],
                                            "properties": {"member": _STR, "name": _STR, "reason": _STR}}},
        "isbn": {"type": "string", "description": "the edition's ISBN-13, or the one the reader wrote"},
        "year": _STR,
        "delivery": {"type": "string", "description": "desk (collect at a pick-up point) or a delivery method "
                                                      "the reader's library offers"},
        "pickup": {"type": "string", "description": "the pick-up point's code (delivery desk)"},
        "delivery_text": {"type": "string", "description": "how the reader gets it, in words"},
        "need_before": {"type": ["string", "null"], "format": "date",
                        "description": "not needed after this day (ISO 18626 NeedBeforeDate); still unshipped "
                                       "after it, the request is closed"}},
        "description": "times are ISO 8601; the *_text fields are Beijing time as readers read them "
                       "(deadlines: the end of a working day, 24:00)"}
    leg = {"type": "object", "required": ["seq", "lender", "outcome", "outcome_text"], "properties": {
        "seq": {"type": "integer", "minimum": 1}, "lender": _STR, "lender_name": _STR, "arrived_at": _NSTR,
        "arrived_text": _STR, "answer_due_text": _STR, "answered_text": _STR, "shipped_text": _STR,
        "closed_text": _STR, "outcome": {"type": "string", "enum": ["open", "supplied", "unfilled", "timeout",
                                                                   "cancelled"]},
        "outcome_text": _STR, "note": _STR}}
    event = {"type": "object", "required": ["at", "action", "by", "status", "status_text"], "properties": {
        "at": _STR, "at_text": _STR, "action": _STR, "by": _STR, "status": _STR, "status_text": _STR,
        "lender": _NSTR, "lender_name": _STR, "reason": _STR}}
    entry = {"type": "object", "required": ["rank", "member", "name", "reasons"], "properties": {
        "rank": {"type": "integer"}, "member": _STR, "name": _STR, "availability": _STR,
        "reasons": {"type": "array", "items": _STR}, "text": _STR}}
    rota = {"type": "object", "required": ["version", "work_id", "home", "rota", "rules", "can_request"],
            "properties": {
                "version": {"type": "integer"}, "work_id": _STR, "home": _STR,
                "rota": {"type": "object", "required": ["lenders", "excluded", "own_available", "note"],
                         "properties": {
                             "lenders": {"type": "array", "items": entry,
                                         "description": "the lenders asked in turn, best first, with reasons"},
                             "spare": {"type": "array", "items": entry},
                             "excluded": {"type": "array", "items": {
                                 "type": "object", "required": ["member", "reason"],
                                 "properties": {"member": _STR, "name": _STR, "reason": _STR}}},
                             "own_available": {"type": "boolean",
                                               "description": "the reader's own library has a copy on the "
                                                              "shelf: no ILL request"},
                             "own_copies": {"type": "array", "items": {"type": "object"}},
                             "note": _STR}},
                "rules": {"$ref": "#/components/schemas/ReaderRules"},
                "can_request": {"type": "boolean"}, "refusal": _NSTR}}
    listing = {"type": "object", "required": ["version", "page", "has_more", "rules", "open", "requests"],
               "properties": {
                   "version": {"type": "integer"}, "page": {"type": "integer"}, "has_more": {"type": "boolean"},
                   "rules": {"$ref": "#/components/schemas/ReaderRules"},
                   "open": {"type": "array", "items": {"$ref": "#/components/schemas/ReaderRequest"}},
                   "requests": {"type": "array", "items": {"$ref": "#/components/schemas/ReaderRequest"},
                                "description": "the history page matching the filters, newest first"}}}
    one = {"type": "object", "required": ["version", "request"], "properties": {
        "version": {"type": "integer"}, "request": {"$ref": "#/components/schemas/ReaderRequest"}}}
    detail = {"type": "object", "required": ["version", "request", "legs", "history"], "properties": {
        "version": {"type": "integer"}, "request": {"$ref": "#/components/schemas/ReaderRequest"},
        "legs": {"type": "array", "items": {"$ref": "#/components/schemas/ReaderRequestLeg"}},
        "history": {"type": "array", "items": {"$ref": "#/components/schemas/ReaderRequestEvent"}}}}
    submit_body = {"type": "object", "properties": {
        "work_id": {"type": "string", "pattern": "^W[0-9a-f]{16}$",
                    "description": "request this edition (its rota as GET /api/works/{id}/rota shows); "
                                   "without it, a manual request from the fields below"},
        "kind": {"type": "string", "enum": list(KINDS), "default": m.LOAN,
                 "description": "loan: returnable (馆际互借); copy: document delivery (原文传递)"},
        "note": {"type": "string", "maxLength": MAX_NOTE},
        "title": {"type": "string", "maxLength": MAX_TITLE}, "author": {"type": "string", "maxLength": MAX_NAME},
        "publisher": {"type": "string", "maxLength": MAX_NAME}, "year": {"type": "string", "pattern": "^[0-9]{4}$"},
        "isbn": {"type": "string", "maxLength": 20}, "citation": {"type": "string", "maxLength": MAX_CITATION},
        "delivery": {"type": "string", "description": "desk (collect at the ILL desk), desk:POINT (at that pick-up "
                                                      "point) or the code of a delivery method the reader's "
                                                      "library offers", "default": "desk"},
        "pickup": {"type": "string", "description": "the pick-up point's code (default: the library's first)"},
        "need_before": {"type": "string", "format": "date",
                        "description": "not needed after this day (YYYY-MM-DD, today or later)"},
        "confirm_duplicate": {"type": "boolean", "default": False,
                              "description": "ask again for an edition whose request closed in the last 30 days "
                                             "(409 with code duplicate_recent without it); an open request for "
                                             "the edition is refused either way (duplicate_open)"}},
        "additionalProperties": {"type": "string"}}
    history_params_ = [
        {"name": "q", "in": "query", "required": False, "description": "words of the title, author or citation",
         "schema": {"type": "string", "maxLength": MAX_QUERY}},
        {"name": "since", "in": "query", "required": False, "description": "submitted on or after (Beijing date)",
         "schema": {"type": "string", "format": "date"}},
        {"name": "until", "in": "query", "required": False, "description": "submitted on or before",
         "schema": {"type": "string", "format": "date"}},
        {"name": "page", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}}]
    changes = " Changes need the header X-CSRF-Token (GET /api/session)."
    paths = {
        "/api/requests": {
            "get": {"operationId": "listMyRequests", "summary": "My ILL requests: the open ones and my history",
                    "description": _SIGNED_IN, "parameters": history_params_,
                    "responses": {**_ok("my requests", "ReaderRequestList"), "400": _ERR, "401": _ERR, "403": _ERR}},
            "post": {"operationId": "submitRequest",
                     "summary": "Request an edition (work_id) or, without work_id, a manual request (手工填写)",
                     "description": _SIGNED_IN + changes + " 409 when a rule refuses (a 4th book, no lender, "
                                                           "the own library has it, a request for the same "
                                                           "edition: the error's request_id and code), with the "
                                                           "reason.",
                     "requestBody": {"required": True, "content": {"application/json": {"schema": submit_body}}},
                     "responses": {**_ok("the new request", "ReaderRequestOne", "201"), "400": _ERR, "401": _ERR,
                                   "403": _ERR, "404": _ERR, "409": _ERR}}},
        "/api/requests/{request_id}": {
            "get": {"operationId": "getMyRequest", "summary": "One of my requests, its route so far and history",
                    "description": _SIGNED_IN, "parameters": [_ID],
                    "responses": {**_ok("the request", "ReaderRequestDetail"), "401": _ERR, "403": _ERR,
                                  "404": _ERR}}},
        "/api/requests/{request_id}/cancel": {
            "post": {"operationId": "cancelMyRequest",
                     "summary": "Cancel my request (within 1 hour of submitting, before a lender answered)",
                     "description": _SIGNED_IN + changes, "parameters": [_ID],
                     "responses": {**_ok("the cancelled request", "ReaderRequestOne"), "401": _ERR, "403": _ERR,
                                   "404": _ERR, "409": _ERR}}},
        "/api/works/{work_id}/rota": {
            "get": {"operationId": "getRotaForMe",
                    "summary": "The lenders a request for this edition would go to, for my library, and the rules",
                    "description": _SIGNED_IN, "parameters": [_WORK],
                    "responses": {**_ok("the rota", "ReaderRota"), "400": _ERR, "401": _ERR, "403": _ERR,
                                  "404": _ERR}}},
    }
    schemas = {"ReaderRules": rules, "ReaderRequest": request, "ReaderRequestLeg": leg,
               "ReaderRequestEvent": event, "ReaderRota": rota, "ReaderRequestList": listing,
               "ReaderRequestOne": one, "ReaderRequestDetail": detail}
    return paths, schemas
