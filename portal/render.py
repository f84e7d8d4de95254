"""Jinja2 templates (auto-escaped) and the small helpers they use; no reader-facing text lives here."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import jinja2

from portal.i18n import MESSAGES, message, translator
from portal.params import SearchParams
from records.vocabulary import clc_class, clc_name, language_name
from services.search import starting_points
from services.views import display_title

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


# Characters that change how text around them is shown without being seen: bidi embeddings, overrides and
# isolates (U+202A–202E, U+2066–2069), marks, other format characters and C0/C1 controls. A citation, a note or
# a catalogue title carrying them could show staff something other than what it says (U+202E reverses what
# follows); pages show text without them, and the store keeps it as it was sent. ZWJ and ZWNJ stay: scripts
# such as Persian and the Indic ones need them.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f"
                        "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")


def shown(value):
    """A value as a page shows it: text without invisible controls (Markup stays Markup)."""
    if isinstance(value, str) and _INVISIBLE.search(value):
        return type(value)(_INVISIBLE.sub("", value))
    return value


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             finalize=shown)
    env.globals.update(search_url=search_url, display_title=display_title, url=url, language_name=language_name,
                       clc_class=clc_class, material_name=material_name, strip_summary=strip_summary,
                       strip_open_up_to=STRIP_OPEN_UP_TO, page_numbers=page_numbers,
                       starting_points=starting_points)
    return env


def url(path: str, pairs=()) -> str:
    query = urlencode(list(pairs))
    return f"{path}?{query}" if query else path


def search_url(params: SearchParams, path: str = "/search", **changes) -> str:
    return url(path, params.query_args(**changes))


def page_numbers(current: int, last: int, around: int = 2) -> list[int | None]:
    """The pages a pager links: the first, the last, and `around` either side of the current one; None where
    pages are left out (shown as …; a gap of one page shows that page). 7 of 12 → [1, None, 5, 6, 7, 8, 9,
    None, 12]; 5 of 12 → [1, 2, 3, 4, 5, 6, 7, None, 12]."""
    last = max(last, current)
    shown = sorted({1, last, *range(max(1, current - around), min(last, current + around) + 1)})
    out: list[int | None] = []
    for n in shown:
        if out and n - out[-1] > 1:
            out.append(None if n - out[-1] > 2 else out[-1] + 1)
        out.append(n)
    return out


STRIP_OPEN_UP_TO = 12  # members: a strip this short is shown whole; a longer one opens from its summary
_STRIP_ORDER = ("answered", "asking", "slow", "down", "refused", "suspended", "not_asked")


def strip_summary(statuses) -> list[tuple[str, int]]:
    """The member strip in one line: (state, count) in a fixed order, a suspended member counted apart from
    the others not asked ("62 已响应 · 3 响应慢 · 2 无法连接 · 3 暂停服务")."""
    counts: dict[str, int] = {}
    for s in statuses:
        key = "suspended" if s.state == "not_asked" and s.reason == "suspended" else s.state
        counts[key] = counts.get(key, 0) + 1
    return [(k, counts[k]) for k in _STRIP_ORDER if counts.get(k)] + \
        [(k, n) for k, n in counts.items() if k not in _STRIP_ORDER]


def material_name(code: str | None, lang: str) -> str:
    """A material type (record model's `material_type`) as a reader reads it: 电子书 / E-book."""
    if not code:
        return ""
    return message(f"material.{code}", lang) if f"material.{code}" in MESSAGES else code


def facet_label(facet: str, entry: dict, lang: str, names_en: dict[str, str]) -> str:
    """A facet value as a reader reads it in `lang` (the facet module's labels are Chinese)."""
    value, label = entry["value"], entry.get("label")
    if lang != "en":
        return label or value
    if value == "unknown":
        return message(f"facet.unknown.{facet}", lang)
    if facet == "member":
        return names_en.get(value) or value
    if facet == "year":
        return value if value != "-1949" else "before 1950"
    if facet == "clc":
        return clc_name(value, lang)
    if facet == "language":
        return language_name(value, lang)
    return material_name(value, lang)


def context(request, **values) -> dict:
    """What every template gets: the language, `_()`, the CSRF token, the current path, the signed-in user."""
    from portal.auth import current_user
    from portal.keys import CSRF, LANG

    lang = request[LANG]
    return {"lang": lang, "_": translator(lang), "csrf_token": request.app[CSRF].token(request),
            "path_qs": request.path_qs, "user": current_user(request), **values}


def render(request, template: str, **values):
    """A page of `template` with `values` (and what every template gets)."""
    from aiohttp import web

    from portal.keys import TEMPLATES

    html = request.app[TEMPLATES].get_template(template).render(context(request, **values))
    return web.Response(text=html, content_type="text/html")


def private_page(request, template: str, status: int = 200, **values):
    """A page about the signed-in user (their requests, a desk, a form with their input): `status`, never cached."""
    response = render(request, template, **values)
    response.set_status(status)
    response.headers["Cache-Control"] = "no-store"
    return response
