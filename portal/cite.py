"""Citing and exporting editions (services/cite.py does the formatting).

    GET /work/{work_id}/export?format=ris|bibtex|marcxml      one edition as a file
    GET /export?work=W…&work=W…&format=ris|bibtex|marcxml      the editions marked on a results page
    GET /api/works/{work_id}/citation                          {"gbt7714": …, "apa": …} (text and HTML)

The edition page shows the GB/T 7714-2015 and APA references itself (`references`).
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web
from markupsafe import Markup

from portal.keys import CATALOGUE
from portal.openapi_parts import ERROR_RESPONSE, STR, ok
from portal.params import ParamError, work_id
from portal.render import json_answer
from services.cite import FORMATS, MAX_EXPORT, STYLES, bibtex, citation, marcxml, ris

_SMALL_CAPS = re.compile(r'<span style="font-variant:small-caps;">(.*?)</span>')


def add_routes(app: web.Application) -> None:
    app.router.add_get("/work/{work_id}/export", export_one, name="work_export")
    app.router.add_get("/export", export_marked, name="export")
    app.router.add_get("/api/works/{work_id}/citation", api_citation, name="api_citation")


def references(work) -> dict[str, Markup]:
    """The edition's references for its page: style → HTML. citeproc-py's HTML formatter escapes every piece
    of record text and adds only its own tags (<i>, <b>, <sup>, <sub>); small capitals get a class, not an
    inline style, which the page's Content-Security-Policy would refuse."""
    return {style: Markup(_SMALL_CAPS.sub(r'<span class="smallcaps">\1</span>', citation(work, style, html=True)))
            for style in STYLES}


def _format(request: web.Request) -> str:
    fmt = request.query.get("format", "ris")
    if fmt not in FORMATS:
        raise ParamError("format", "param.choice", choices=", ".join(FORMATS))
    return fmt


async def _works(request: web.Request, ids: list[str]) -> list:
    catalogue = request.app[CATALOGUE]
    found = []
    for wid in dict.fromkeys(ids):
        work, _others = await catalogue.edition(work_id(wid))
        if work is None:
            raise ParamError("work", "param.work_unknown", work_id=wid[:40])
        found.append(work)
    return found


def _file(works: list, fmt: str, name: str) -> web.Response:
    media, ext = FORMATS[fmt]
    if fmt == "marcxml":
        body = marcxml(works)
    else:
        body = (ris(works) if fmt == "ris" else bibtex(works)).encode("utf-8")
    return web.Response(body=body, headers={
        "Content-Type": f"{media}; charset=utf-8",
        "Content-Disposition": f'attachment; filename="{name}.{ext}"'})


async def export_one(request: web.Request) -> web.Response:
    fmt = _format(request)
    works = await _works(request, [request.match_info["work_id"]])
    return await asyncio.to_thread(_file, works, fmt, works[0].work_id)


async def export_marked(request: web.Request) -> web.Response:
    fmt = _format(request)
    ids = request.query.getall("work", [])
    if not ids:
        raise ParamError("work", "param.export_none")
    if len(ids) > MAX_EXPORT:
        raise ParamError("work", "param.export_too_many", limit=MAX_EXPORT)
    works = await _works(request, ids)
    return await asyncio.to_thread(_file, works, fmt, f"balis-{len(works)}")


async def api_citation(request: web.Request) -> web.Response:
    works = await _works(request, [request.match_info["work_id"]])
    body = {style: {"text": citation(works[0], style), "html": str(references(works[0])[style])}
            for style in STYLES}
    return json_answer({"work_id": works[0].work_id, "citations": body})



def openapi_parts() -> tuple[dict, dict]:
    reference = {"type": "object", "required": ["text", "html"], "properties": {
        "text": {**STR, "description": "the reference as plain text"},
        "html": {**STR, "description": "the same with the style's italics (<i>), text escaped"}}}
    work = {"name": "work_id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^W[0-9a-f]{16}$"}}
    paths = {"/api/works/{work_id}/citation": {"get": {
        "operationId": "citeWork", "summary": "The edition's reference in GB/T 7714-2015 and APA (7th edition)",
        "description": "Formatted by citeproc-py from the CSL styles (docs/portal-readers.md, Cite and export). "
                       "Files for reference managers: GET /work/{work_id}/export?format=ris|bibtex|marcxml, and "
                       "GET /export?work=…&work=…&format=… for several editions.",
        "parameters": [work],
        "responses": {"200": ok("the references", {
            "type": "object", "required": ["work_id", "citations"], "properties": {
                "work_id": STR, "citations": {"type": "object", "required": list(STYLES), "properties": {
                    style: {"$ref": "#/components/schemas/Reference"} for style in STYLES}}}}),
            "400": ERROR_RESPONSE}}}}
    return paths, {"Reference": reference}
