"""Document delivery (原文传递) in the portal: the reader's copy form, the scan on the desk, the download, the
reader's fees, and the administrators' statistics and settlement (docs/document-delivery.md).

    GET  /requests/copy             the copy form (?work=ID: the book or journal fields from the catalogue)
    POST /requests/copy             step=paste (read a pasted reference into the fields), check (the suppliers and
                                    the price, to confirm), confirm (submit), edit (back to the form)
    GET  /requests/{id}/download    the copyright statement; POST (agree, csrf_token) sends the scan
    GET  /requests/fees             what the reader paid for copies
    POST /desk/scan                 the supplier's staff upload the scan (multipart: csrf_token, request, scan)
    GET  /admin/dd                  statistics per member and the month's settlement (?month=YYYY-MM; &format=csv
                                    with &table=stats or &table=settlement)

The rules are the workflow's and the store's (ill/copyrules.py, ill/machine.py `NEEDS_SCAN`, Store.deliver_copy,
Store.download_copy); these pages show what they say. The scan upload is larger than the portal's form limit, so
its route reads the multipart body itself, within the registry's size limit, and checks the CSRF token there.
"""

from __future__ import annotations

import asyncio
import hmac
from datetime import UTC, datetime

from aiohttp import web

from ill import copyrules
from ill import machine as m
from ill.accounts import yuan
from ill.copyfiles import mb
from ill.errors import IllError, InvalidRequest, RuleViolation
from ill.workdays import BEIJING, deadline_text
from portal.auth import require
from portal.i18n import message
from portal.keys import CATALOGUE, CSRF, LANG, REGISTRY, STORE
from portal.params import ParamError, clean_text
from portal.render import private_page
from portal.security import CSRF_COOKIE, CSRF_FIELD

SCAN_PATH = "/desk/scan"
FIELDS = ("journal", "article", "authors", "year", "volume", "issue", "pages", "issn", "isbn", "doi", "publisher",
          "book_pages", "note")
LIMITS = {"journal": 300, "article": 300, "authors": 300, "year": 4, "volume": 20, "issue": 20, "pages": 40,
          "issn": 12, "isbn": 20, "doi": 200, "publisher": 200, "book_pages": 6, "note": 500}
MAX_PASTE = 2000
METHODS = ("download", "email", "post", "")
STYLES = {"gbt7714": "GB/T 7714", "apa": "APA", "chinese": "中文著录 (Chinese)", "doi": "DOI"}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/requests/copy", form_page, name="copy_form")
    app.router.add_post("/requests/copy", form_submit)
    app.router.add_get("/requests/fees", fees_page, name="copy_fees")
    app.router.add_get(r"/requests/{request_id:\d{1,9}}/download", download_page, name="copy_download")
    app.router.add_post(r"/requests/{request_id:\d{1,9}}/download", download_submit)
    app.router.add_post(SCAN_PATH, scan_submit, name="desk_scan")
    app.router.add_get("/admin/dd", admin_page, name="admin_dd")
    csrf = app.get(CSRF)
    if csrf is not None and SCAN_PATH not in csrf.exempt:  # scan_submit checks the token in the multipart body
        csrf.exempt = (*csrf.exempt, SCAN_PATH)


def _now(request: web.Request) -> datetime:
    return request.app[STORE].clock()


def _t(request: web.Request, key: str, **values) -> str:
    return message(key, request[LANG], **values)


# ---- the reader's copy form (pure checks, then the handlers) ---------------------------------------------------

def check_form(form) -> tuple[dict[str, str], dict[str, str], dict]:
    """(values as typed, field -> message key of what is wrong, the structured citation for the store)."""
    from stdnum import isbn as isbn_mod
    from stdnum.exceptions import ValidationError

    from records.identifiers import parse_issn

    values, errors = {}, {}
    for name in FIELDS:
        raw = form.get(name)
        try:
            values[name] = clean_text(name, raw if isinstance(raw, str) else "", LIMITS[name])
        except ParamError:
            values[name] = (raw if isinstance(raw, str) else "")[: LIMITS[name]]
            errors[name] = "dd.error.required"
    kind = form.get("kind")
    values["kind"] = kind if kind in ("article", "chapter") else "article"
    method = form.get("method")
    values["method"] = method if method in METHODS else "download"
    if not values["journal"] and not values["issn"]:
        errors["journal"] = "dd.error.journal"
    year = values["year"]
    if not (year.isdecimal() and len(year) == 4):
        errors["year"] = "dd.error.year"
    if values["issn"]:
        issn = parse_issn(values["issn"])
        if issn is None or len([c for c in values["issn"] if c.isalnum()]) != 8:
            errors["issn"] = "dd.error.issn"
        else:
            values["issn"] = issn
    if values["isbn"]:
        try:
            values["isbn"] = isbn_mod.compact(isbn_mod.validate(values["isbn"]))
        except ValidationError:
            errors["isbn"] = "dd.error.isbn"
    if values["book_pages"] and not values["book_pages"].isdecimal():
        errors["book_pages"] = "dd.error.number"
    cited = {"kind": values["kind"], "journal": values["journal"], "article": values["article"],
             "authors": [a.strip() for a in values["authors"].replace("，", ",").split(",") if a.strip()],
             "year": int(year) if year.isdecimal() else None, "volume": values["volume"], "issue": values["issue"],
             "pages": values["pages"], "issn": values["issn"], "isbn": values["isbn"], "doi": values["doi"],
             "publisher": values["publisher"],
             "book_pages": int(values["book_pages"]) if values["book_pages"].isdecimal() else None}
    return values, errors, {k: v for k, v in cited.items() if v not in (None, "", [])}


def pasted(text: str) -> tuple[dict[str, str], object]:
    """The form fields a pasted reference gives (records.citation.parse_citation), and what it parsed."""
    from records.citation import parse_citation

    parsed = parse_citation(text)
    c = parsed.citation
    fields = {"kind": "chapter" if c.kind in ("book", "chapter") else "article", "journal": c.journal,
              "article": c.article, "authors": ", ".join(c.authors), "year": str(c.year or ""), "volume": c.volume,
              "issue": c.issue, "pages": c.pages, "issn": c.issn, "isbn": c.isbn, "doi": c.doi,
              "publisher": c.publisher}
    return {k: v for k, v in fields.items() if v}, parsed


def _edition_fields(request: web.Request, work_id: str) -> tuple[dict[str, str], str]:
    """The book or journal fields of a catalogue edition (and its title), or ({}, "") when it is not known."""
    work = request.app[CATALOGUE].work(work_id[:64]) if work_id else None
    if work is None:
        return {}, ""
    d = work.display
    issns = [i for rec in work.records for i in getattr(rec, "issns", ())]
    serial = bool(issns)
    fields = {"kind": "article" if serial else "chapter", "journal": d.title or "", "publisher": d.publisher or "",
              "issn": issns[0] if issns else "", "isbn": work.isbns[0] if work.isbns else "",
              "year": "" if serial else str(d.year or "")}
    return {k: v for k, v in fields.items() if v}, d.title or ""


def _methods(request: web.Request) -> list[dict]:
    return [{"value": v, "label": _t(request, f"dd.method.{v or 'library'}")} for v in METHODS]


def _form(request: web.Request, values: dict, *, errors: dict | None = None, status: int = 200, note: str = "",
          failed: str = "") -> web.Response:
    lang = request[LANG]
    return private_page(request, "copy_request.html", status, form=values, limits=LIMITS, methods=_methods(request),
                        errors={k: message(v, lang) for k, v in (errors or {}).items()}, note=note, failed=failed,
                        paste=values.get("paste", ""))


async def form_page(request: web.Request) -> web.Response:
    require(request, "reader")
    values, note = {"kind": "article", "method": "download"}, ""
    work_id = request.query.get("work", "")
    if work_id:
        found, title = _edition_fields(request, work_id)
        values.update(found)
        note = _t(request, "dd.from_edition", title=title) if title else ""
    return _form(request, values, note=note)


async def _suppliers(request: web.Request, user: dict, cited: dict):
    """(rota entries, note, own-library text) for the citation: by coverage when it has an ISSN (services.articles,
    immediate: nothing is asked of the members), else none (the reader's library routes it)."""
    from routing import RoutingError
    from services.articles import locate_suppliers

    if not cited.get("issn"):
        return [], "", ""
    catalogue = request.app[CATALOGUE]
    index = getattr(catalogue.local, "location", None) if catalogue.local is not None else None
    volume, issue = cited.get("volume", ""), cited.get("issue", "")
    try:
        _sources, rota = await asyncio.to_thread(
            locate_suppliers, request.app[REGISTRY], user["member"], [cited["issn"]], cited["year"],
            int(volume) if volume.isdecimal() else None, int(issue) if issue.isdecimal() else None, index=index,
            store=request.app[STORE])
    except RoutingError as exc:
        return [], str(exc), ""
    if rota.own:
        return [], rota.note, rota.note
    return list(rota.lenders), rota.note, ""


async def form_submit(request: web.Request) -> web.Response:
    user = require(request, "reader")
    form = await request.post()
    step = form.get("step") if form.get("step") in ("paste", "check", "confirm", "edit") else "check"
    if step == "paste":
        raw = form.get("paste")
        text = raw.strip()[:MAX_PASTE] if isinstance(raw, str) else ""
        values = {name: (form.get(name) or "") for name in FIELDS if isinstance(form.get(name), str)}
        values.update({"kind": form.get("kind") or "article", "method": form.get("method") or "download",
                       "paste": text})
        found, parsed = pasted(text) if text else ({}, None)
        if not found or parsed.style == "unknown":  # no style recognised: the text is not put into a field
            return _form(request, values, status=400, failed=_t(request, "dd.paste.nothing"))
        values.update(found)
        note = _t(request, "dd.paste.read", style=STYLES.get(parsed.style, parsed.style))
        if parsed.missing:
            note += " " + _t(request, "dd.paste.missing", fields=parsed.missing_text)
        return _form(request, values, note=note)
    values, errors, cited = check_form(form)
    if errors:
        return _form(request, values, errors=errors, status=400, failed=message("reader.form.fix", request[LANG]))
    if step == "edit":
        return _form(request, values)
    store = request.app[STORE]
    pages = copyrules.count_pages(cited.get("pages"))
    try:
        copyrules.check_consortium(store.copy_rules, pages, cited)
    except RuleViolation as exc:
        return _form(request, values, status=409, failed=str(exc))
    lenders, note, own = await _suppliers(request, user, cited)
    if own:
        return _form(request, values, status=409, failed=_t(request, "dd.confirm.own", note=own))
    if step == "check":
        quote = None
        if lenders:
            quote = await asyncio.to_thread(store.quote_copy, user["member"], lenders[0].member, pages, _now(request))
        names = request.app[CATALOGUE].names(request[LANG])
        return private_page(request, "copy_confirm.html", form=values, cited=cited, note=note, quote=quote,
                            yuan=yuan, unknown_pages=pages is None,
                            rota=[{"member": e.member, "name": names.get(e.member, e.member), "text": e.text}
                                  for e in lenders],
                            method_text=_t(request, f"dd.method.{values['method'] or 'library'}"))
    from ill.rota import Lender

    title = cited.get("article") or cited.get("journal") or cited.get("issn", "")
    citation = "; ".join(x for x in (cited.get("journal", ""), str(cited.get("year", "")),
                                      ":".join(x for x in (cited.get("volume", ""), cited.get("issue", ""),
                                                           cited.get("pages", "")) if x),
                                      f"读者附言：{values['note']}" if values["note"] else "") if x)
    try:
        req = await asyncio.to_thread(store.submit, user["id"], kind=m.COPY, title=title,
                                      author=", ".join(cited.get("authors", [])), citation=citation,
                                      rota=[Lender.ranked(e) for e in lenders], year=str(cited.get("year", "")),
                                      citation_data=cited, copy_method=values["method"] or None)
    except IllError as exc:
        return _form(request, values, status=getattr(exc, "http_status", 400), failed=str(exc))
    raise web.HTTPSeeOther(f"/requests/{req['id']}?submitted=1")


# ---- the reader's request page, the download and the fees --------------------------------------------------

def mine_view(req: dict, rules, now: datetime, lang: str) -> dict | None:
    """What the reader's request page shows of a copy: how it comes, its pages and charges, the download."""
    if req["kind"] != m.COPY:
        return None
    naive = now.astimezone(UTC).replace(tzinfo=None)
    row = {**req, **{k: req[k].astimezone(UTC).replace(tzinfo=None) if isinstance(req.get(k), datetime) else req.get(k)
                     for k in ("copy_expires", "copy_deleted_at")}}
    why = copyrules.unavailable(row, naive, rules.download_limit) if req.get("copy_file") or req.get(
        "copy_deleted_at") else None
    charges = None
    if req.get("fee_fen") is not None:
        charges = message("dd.desk.charges", lang, fee=yuan(req["fee_fen"]), subsidy=yuan(req["subsidy_fen"]),
                          paid=yuan(req["reader_fen"]))
    return {"method": message(f"dd.method.{req.get('copy_method') or 'library'}", lang), "pages": req.get("pages"),
            "charges": charges, "can_download": bool(req.get("copy_file")) and why is None,
            "gone": why or "", "expires": message("dd.mine.expires", lang, until=deadline_text(req["copy_expires"]),
                                                  count=req.get("copy_downloads") or 0, limit=rules.download_limit)
            if req.get("copy_expires") else ""}


async def _own_copy(request: web.Request, user: dict) -> dict:
    rid = int(request.match_info["request_id"])
    try:
        req = await asyncio.to_thread(request.app[STORE].get, rid)
    except IllError:
        raise web.HTTPNotFound() from None
    if req["reader_id"] != user["id"]:
        raise web.HTTPNotFound()  # another reader's request is answered like one that does not exist
    return req


async def download_page(request: web.Request, *, failed: str = "", status: int = 200) -> web.Response:
    user = require(request, "reader")
    req = await _own_copy(request, user)
    view = mine_view(req, request.app[STORE].copy_rules, _now(request), request[LANG])
    if view is None or not view["can_download"]:
        failed, status = failed or _t(request, "dd.mine.gone", why=(view or {}).get("gone") or "—"), 410
    return private_page(request, "copy_download.html", status, r=req, dd=view, failed=failed)


async def download_submit(request: web.Request) -> web.StreamResponse:
    user = require(request, "reader")
    req = await _own_copy(request, user)
    form = await request.post()
    if form.get("agree") not in ("1", "on", "yes"):
        return await download_page(request, failed=_t(request, "dd.copyright.required"), status=400)
    try:
        path = await asyncio.to_thread(request.app[STORE].download_copy, req["id"], user["id"], now=_now(request))
    except IllError as exc:
        return await download_page(request, failed=str(exc), status=410 if isinstance(exc, RuleViolation) else 403)
    if not path.is_file():
        return await download_page(request, failed=_t(request, "dd.mine.gone", why="—"), status=410)
    return web.FileResponse(path, headers={
        "Content-Type": "application/pdf", "Cache-Control": "no-store",
        "Content-Disposition": f'attachment; filename="balis-{req["id"]}.pdf"'})


async def fees_page(request: web.Request) -> web.Response:
    from ill.settlement import reader_account

    user = require(request, "reader")
    account = await asyncio.to_thread(reader_account, request.app[STORE], user["id"])
    names = request.app[CATALOGUE].names(request[LANG])
    return private_page(request, "copy_fees.html", account=account, yuan=yuan, names=names)


# ---- the desk: the supplier's upload ----------------------------------------------------------------------

def desk_view(req: dict, member: str | None, store, now: datetime, lang: str) -> dict | None:
    """The desk's document-delivery block on a copy request: the citation, how the reader wants it, the estimated
    charge, whether this library may upload the scan now (the workflow's answer with a scan), what was delivered."""
    if req["kind"] != m.COPY:
        return None
    rules = store.copy_rules
    actor = {"id": "", "role": "staff", "member": member}
    upload = m.verdict({**req, "scan": True}, actor, now, m.SHIP)
    quote = None
    if req.get("lender") and req.get("fee_fen") is None:
        quote = store.quote_copy(req["borrower"], req["lender"], req.get("pages"), now).text()
    cited = req.get("citation_data") or {}
    return {"cited": [(message(f"dd.field.{k}", lang), ", ".join(v) if isinstance(v, list) else v)
                      for k, v in cited.items() if k in LIMITS and v],
            "method": message(f"dd.method.{req.get('copy_method') or 'library'}", lang),
            "can_upload": upload.allowed and req.get("copy_method") != "post", "post": req.get("copy_method") == "post"
            and upload.allowed, "max_mb": f"{rules.file_max_mb:g}", "days": rules.download_days,
            "times": rules.download_limit, "quote": quote,
            "delivered": message("dd.desk.delivered", lang, pages=req.get("pages"), size=mb(req["copy_size"] or 0),
                                 count=req.get("copy_downloads") or 0) if req.get("copy_size") else "",
            "deleted": message("dd.desk.deleted", lang, when=deadline_text(req["copy_deleted_at"]))
            if req.get("copy_deleted_at") else "",
            "charges": message("dd.desk.charges", lang, fee=yuan(req["fee_fen"]), subsidy=yuan(req["subsidy_fen"]),
                               paid=yuan(req["reader_fen"])) if req.get("fee_fen") is not None else ""}


def _csrf_ok(request: web.Request, given: str) -> bool:
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin != f"{request.scheme}://{request.host}":
        return False
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and given) and hmac.compare_digest(given, request.app[CSRF].token_for(cookie))


async def scan_submit(request: web.Request) -> web.Response:
    """The supplier's staff upload the scan: read within the registry's size limit, then Store.deliver_copy."""
    from portal import desk

    user = require(request, "staff")
    if not request.content_type.startswith("multipart/"):
        raise web.HTTPBadRequest(text="send the scan as multipart/form-data (request, scan, csrf_token)")
    store = request.app[STORE]
    limit = int(store.copy_rules.file_max_mb * 1_000_000)
    fields: dict[str, str] = {}
    data = b""
    too_big = False
    reader = await request.multipart()
    async for part in reader:
        if part.name == "scan":
            chunks, size = [], 0
            while chunk := await part.read_chunk(256 * 1024):
                size += len(chunk)
                if size > limit:
                    too_big = True
                    break
                chunks.append(chunk)
            data = b"".join(chunks)
            if too_big:
                break
        elif part.name in (CSRF_FIELD, "request"):
            fields[part.name] = (await part.text())[:200]
    if not _csrf_ok(request, fields.get(CSRF_FIELD, "")):
        raise web.HTTPForbidden(reason="csrf")
    rid_text = fields.get("request", "")
    if not rid_text.isdecimal() or len(rid_text) > 9:
        raise web.HTTPBadRequest(text="the form names no request (request=ID)")
    rid = int(rid_text)
    await desk.own_request(request, user, rid)
    if too_big:
        error = str(InvalidRequest(f"申请单 {rid}: 文件超过 {store.copy_rules.file_max_mb:g} MB 上限；请降低扫描分辨率 "
                                   f"(the file is larger than the {store.copy_rules.file_max_mb:g} MB limit)"))
        return await desk.request_page(request, status=413, error=error, rid=rid)
    try:
        await asyncio.to_thread(store.deliver_copy, rid, user["id"], data, now=_now(request))
    except IllError as exc:
        return await desk.request_page(request, status=getattr(exc, "http_status", 400), error=str(exc), rid=rid)
    raise web.HTTPSeeOther(f"/desk/requests/{rid}?done={m.SHIP}")


# ---- administrators: statistics and settlement ------------------------------------------------------------

async def admin_page(request: web.Request) -> web.StreamResponse:
    from ill import settlement, stats

    require(request, "admin")
    month = request.query.get("month", "") or _now(request).astimezone(BEIJING).strftime("%Y-%m")
    try:
        stats.month_bounds(month[:7])
    except ValueError:
        raise web.HTTPBadRequest(text=f"month {month[:20]!r}: write it as YYYY-MM, e.g. 2026-12") from None
    month = month[:7]
    store = request.app[STORE]
    rows = await asyncio.to_thread(stats.dd_table, store, [month])
    report = await asyncio.to_thread(settlement.settlement, store, month)
    if request.query.get("format") == "csv":
        which = request.query.get("table", "stats")
        from services.spreadsheets import dd_stats_csv, settlement_csv

        text = "\ufeff" + (settlement_csv(report) if which == "settlement" else dd_stats_csv(rows))
        return web.Response(text=text, content_type="text/csv", charset="utf-8", headers={
            "Content-Disposition": f'attachment; filename="balis-dd-{which}-{month}.csv"'})
    names = request.app[CATALOGUE].names(request[LANG])
    return private_page(request, "admin_dd.html", month=month, rows=rows, report=report, names=names, yuan=yuan)
