"""The JSON API (version 1) and its OpenAPI 3.1 description at /api/openapi.json.

The documents reuse `services.views`' shapes (`work_json`, `member_json`), so `balis search --json` and
the API describe an edition the same way. Errors are `{"error": {"status", "message", "parameter"?}}`.
"""

from __future__ import annotations

from aiohttp import web

from federator.facets import FACETS
from federator.rank import SORTS
from portal.auth import USER, shown_statuses
from portal.i18n import message
from portal.keys import LANG, LIMITER
from portal.openapi_parts import ERROR_RESPONSE, NULL_INT, NULL_STR
from portal.params import (
    MAX_FACET_VALUES,
    MAX_FIELD,
    MAX_PAGE,
    MAX_TEXT,
    SOURCES,
    build_query,
    multi,
    search_params,
)
from portal.params import work_id as check_work_id
from portal.render import json_answer
from services.search import STATES
from services.views import JSON_VERSION, member_json, search_doc, status_json, work_json


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/search", api_search, name="api_search")
    app.router.add_get("/api/works/{work_id}", api_work, name="api_work")
    app.router.add_get("/api/members", api_members, name="api_members")
    app.router.add_get("/api/openapi.json", api_openapi, name="api_openapi")


def _catalogue(request: web.Request):
    from portal.keys import CATALOGUE

    return request.app[CATALOGUE]


async def api_search(request: web.Request) -> web.Response:
    params = search_params(multi(request.query))
    query = build_query(params)
    catalogue = _catalogue(request)
    view = await catalogue.page(params, query, before_asking=lambda: request.app[LIMITER].check(request))
    index = {"available": catalogue.local_ready(), "harvested": view.harvested,
             "members": catalogue.local.harvested if catalogue.local is not None else {}}
    if view.note:
        index["note"] = message(view.note, request[LANG])
    return json_answer(search_doc(
        params.text(), query, [status_json(s) for s in shown_statuses(request, view.statuses)], works=view.works,
        facets=view.facets,
        page=params.page, has_more=view.has_more, sort=params.sort, selected=params.selected,
        extra={"total_hits": view.total_hits, "editions_on_page": view.all_works, "ms": view.ms,
               "source": view.source, "availability": view.availability or "live", "index": index}))


async def api_work(request: web.Request) -> web.Response:
    wid = check_work_id(request.match_info["work_id"])
    catalogue = _catalogue(request)
    work, other_works = await catalogue.edition(wid)
    if work is None:
        raise web.HTTPNotFound()
    doc = work_json(work)
    d = work.display
    doc.update({"subtitle": d.subtitle, "place": d.place, "extent": d.extent, "subjects": list(d.subjects),
                "series": list(d.series), "classification": {k: list(v) for k, v in d.classification.items()}})
    others = [{"work_id": w.work_id, "title": work_json(w)["title"], "year": w.display.year,
               "edition": w.display.edition, "publisher": w.display.publisher}
              for w in other_works]
    return json_answer({"version": JSON_VERSION, "work": doc, "other_editions": others})


async def api_members(request: web.Request) -> web.Response:
    members = _catalogue(request).sorted_members()
    staff = (request.get(USER) or {}).get("role") in ("staff", "admin")
    return json_answer({"version": JSON_VERSION, "members": [member_json(m, addresses=staff) for m in members]})


async def api_openapi(request: web.Request) -> web.Response:
    return json_answer(openapi())


# -- the description -------------------------------------------------------------------------------------
def _text_param(name: str, description: str, limit: int) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string", "maxLength": limit}}


_NULL_STR, _NULL_INT, _ERROR_RESPONSE = NULL_STR, NULL_INT, ERROR_RESPONSE


def openapi() -> dict:
    """The OpenAPI 3.1 document of the JSON API (checked by tests/portal/test_portal_api.py): the search
    part here, and the parts of signing in, readers' requests, the staff desk and administration."""
    from portal import account, admin, cite, desk, reader, searches

    doc = _search_openapi()
    for part in (account, reader, desk, admin, cite, searches):
        paths, schemas = part.openapi_parts()
        doc["paths"].update(paths)
        doc["components"]["schemas"].update(schemas)
    for operations in doc["paths"].values():
        for operation in operations.values():
            if "requestBody" in operation:  # a body sent as anything but JSON: 415 (portal/params.py json_body)
                operation["responses"].setdefault("415", _ERROR_RESPONSE)
    return doc


def _search_openapi() -> dict:
    search_parameters = [
        _text_param("q", "free text in the reader query syntax (docs/query-syntax.md), or CQL", MAX_TEXT),
        _text_param("ti", "title words", MAX_FIELD),
        _text_param("au", "author words", MAX_FIELD),
        _text_param("su", "subject words", MAX_FIELD),
        {**_text_param("isbn", "an ISBN (digits, X, hyphens)", 40),
         "schema": {"type": "string", "maxLength": 40, "pattern": "^[0-9Xx\\- ]*$"}},
        _text_param("pub", "publisher words", MAX_FIELD),
        _text_param("year", "a year or a range: 2009, 2000-2010, 2000-, -2010", MAX_FIELD),
        {"name": "source", "in": "query", "required": False,
         "description": "where the search is answered: `local`, the union index harvested from every member "
                        "(milliseconds; holdings as harvested), or `live`, every member asked now. Default: "
                        "`local` when the portal has a union index that can answer, else `live`; a `local` "
                        "search the index cannot answer is answered live, and `index.note` says why",
         "schema": {"type": "string", "enum": list(SOURCES)}},
        {"name": "page", "in": "query", "required": False,
         "description": "result page: from the index, 20 editions a page; live, each page asks every member "
                        "for its next records",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}},
        {"name": "sort", "in": "query", "required": False,
         "schema": {"type": "string", "enum": list(SORTS), "default": "relevance"}},
        {"name": "facet", "in": "query", "required": False, "style": "form", "explode": True,
         "description": "NAME:VALUE, repeatable (AND across facets, OR within one); NAME is one of "
                        + ", ".join(FACETS),
         "schema": {"type": "array", "maxItems": MAX_FACET_VALUES,
                    "items": {"type": "string", "pattern": "^(" + "|".join(FACETS) + "):.+$"}}},
    ]
    holding = {"type": "object", "required": ["member", "status"], "properties": {
        "member": {"type": "string"}, "record_id": _NULL_STR, "call_number": _NULL_STR, "location": _NULL_STR,
        "status": {"type": "string", "enum": ["available", "on_loan", "in_transit", "on_hold", "not_for_loan", "unknown"]},
        "due_date": _NULL_STR}}
    work = {"type": "object", "required": ["work_id", "group_id", "title", "authors", "members", "holdings"],
            "properties": {
                "work_id": {"type": "string", "pattern": "^W[0-9a-f]{16}$"},
                "group_id": {"type": "string"},
                "title": {"type": "string"},
                "authors": {"type": "array", "items": {"type": "string"}},
                "year": _NULL_INT, "edition": _NULL_STR, "publisher": _NULL_STR,
                "isbns": {"type": "array", "items": {"type": "string"}},
                "language": _NULL_STR, "material_type": _NULL_STR,
                "members": {"type": "array", "items": {"type": "string"}},
                "records": {"type": "array", "items": {"type": "string"}},
                "holdings": {"type": "array", "items": {"$ref": "#/components/schemas/Holding"}}}}
    facet_value = {"type": "object", "required": ["value", "count"], "properties": {
        "value": {"type": "string"}, "label": _NULL_STR, "count": {"type": "integer", "minimum": 0},
        "estimated": {"type": "boolean", "description": "the count is an estimate (a PostgreSQL union index "
                                                        "counts a sample when a query has many hits)"}}}
    member_status = {"type": "object", "required": ["code", "name", "state"], "properties": {
        "code": {"type": "string"}, "name": {"type": "string"}, "state": {"type": "string", "enum": list(STATES)},
        "reason": _NULL_STR, "hits": _NULL_INT, "ms": _NULL_INT, "cached": {"type": "boolean"},
        "detail": _NULL_STR}}
    search_result = {"type": "object", "required": ["version", "query", "page", "has_more", "works", "facets",
                                                    "members"], "properties": {
        "version": {"type": "integer", "const": JSON_VERSION},
        "query": {"type": "object", "properties": {"text": {"type": "string"}, "cql": {"type": "string"}}},
        "page": {"type": "integer"}, "has_more": {"type": "boolean"}, "sort": {"type": "string"},
        "selected_facets": {"type": "object", "additionalProperties": {"type": "array",
                                                                      "items": {"type": "string"}}},
        "total_hits": {"type": "integer"}, "editions_on_page": {"type": "integer"},
        "works": {"type": "array", "items": {"$ref": "#/components/schemas/Work"}},
        "facets": {"type": "object", "additionalProperties": {
            "type": "array", "items": {"$ref": "#/components/schemas/FacetValue"}}},
        "members": {"type": "array", "items": {"$ref": "#/components/schemas/MemberStatus"},
                    "description": "live: every member's outcome; local: each member's part in the answer "
                                   "(not asked: the index answered)"},
        "ms": {"type": "integer"},
        "source": {"type": "string", "enum": list(SOURCES),
                   "description": "where this answer came from: the union index (`local`) or the members now "
                                  "(`live`)"},
        "availability": {"type": "string", "enum": ["harvested", "live"],
                         "description": "holdings' status as harvested into the index, or as members said now"},
        "index": {"type": "object", "required": ["available"], "properties": {
            "available": {"type": "boolean", "description": "whether the portal's union index can answer"},
            "harvested": {**_NULL_STR, "description": "local: the latest member harvest in the index "
                                                      "(ISO 8601)"},
            "members": {"type": "object", "additionalProperties": {"type": "string"},
                        "description": "member code → when it was last harvested into the index"},
            "note": {"type": "string", "description": "why a search that wanted the index was answered live"}}}}}
    member = {"type": "object", "required": ["code", "name", "status", "protocols"], "properties": {
        "code": {"type": "string"}, "name": {"type": "string"}, "name_en": {"type": "string"},
        "district": _NULL_STR, "status": {"type": "string", "enum": ["active", "suspended"]},
        "suspended_reason": _NULL_STR, "suspended_since": _NULL_STR,
        "protocols": {"type": "array", "items": {"type": "string"}},
        "contact": {"type": "object", "additionalProperties": {"type": "string"}}}}
    error = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["status", "message"], "properties": {
            "status": {"type": "integer"}, "message": {"type": "string"}, "parameter": {"type": "string"},
            "incident": {"type": "string"},
            "code": {"type": "string", "description": "a refusal's stable code, e.g. duplicate_open"},
            "request_id": {"type": "integer", "description": "the request a refusal is about"},
            "request": {"type": "string"}, "confirm": {"type": ["string", "null"],
                                                      "description": "the flag that lets it go on, if any"}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "BALIS union catalogue API", "version": str(JSON_VERSION),
                 "description": "Federated search over the BALIS member libraries' catalogues, editions "
                                "merged across members, and the member list. Searches are rate-limited "
                                "per client (429 with Retry-After)."},
        "servers": [{"url": "/"}],
        "paths": {
            "/api/search": {"get": {
                "operationId": "search",
                "summary": "Search the union index (or every member live); one page of merged editions",
                "parameters": search_parameters,
                "responses": {
                    "200": {"description": "the page, with facets and every member's outcome",
                            "content": {"application/json": {
                                "schema": {"$ref": "#/components/schemas/SearchResult"}}}},
                    "400": _ERROR_RESPONSE, "429": _ERROR_RESPONSE}}},
            "/api/works/{work_id}": {"get": {
                "operationId": "getWork", "summary": "An edition from recent searches or the union index, with other editions",
                "parameters": [{"name": "work_id", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": "^W[0-9a-f]{16}$"}}],
                "responses": {
                    "200": {"description": "the edition", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["version", "work", "other_editions"], "properties": {
                            "version": {"type": "integer"}, "work": {"$ref": "#/components/schemas/Work"},
                            "other_editions": {"type": "array", "items": {"type": "object"}}}}}}},
                    "400": _ERROR_RESPONSE, "404": _ERROR_RESPONSE}}},
            "/api/members": {"get": {
                "operationId": "listMembers", "summary": "Member libraries, sorted by pinyin",
                "responses": {"200": {"description": "the members", "content": {"application/json": {
                    "schema": {"type": "object", "required": ["version", "members"], "properties": {
                        "version": {"type": "integer"},
                        "members": {"type": "array", "items": {"$ref": "#/components/schemas/Member"}}}}}}}}}},
            "/api/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}}}},
        },
        "components": {"schemas": {"Holding": holding, "Work": work, "FacetValue": facet_value,
                                   "MemberStatus": member_status, "SearchResult": search_result,
                                   "Member": member, "Error": error}},
    }
