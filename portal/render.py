"""Jinja2 templates (auto-escaped) and the small helpers they use; no reader-facing text lives here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from portal.i18n import MESSAGES, message, translator
from portal.i18n_said import CALENDAR_ERRORS, LENDER_REASONS, TO_CHINESE, TO_ENGLISH
from portal.params import SearchParams
from records.vocabulary import clc_class, clc_name, language_name, rate
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
                       starting_points=starting_points, nav_current=nav_current, said=said,
                       rate=rate, lender_reasons=lender_reasons, in_language=in_language,
                       district_name=district_name)
    return env


def url(path: str, pairs=()) -> str:
    query = urlencode(list(pairs))
    return f"{path}?{query}" if query else path


def nav_current(path_qs: str) -> str:
    """The menu item a page belongs to, for `aria-current`: the first segment of its path ("desk" for
    /desk/requests/7); the search pages and an edition belong to "search"."""
    first = path_qs.split("?", 1)[0].strip("/").split("/", 1)[0]
    return "search" if first in ("", "search", "work", "export") else first


_GLOSS = re.compile(r"\s+\(([a-z][^()]*)\)")  # the store's " (English)" after its Chinese words
_DUE = re.compile(r"due \d")  # "(due 2026-12-08 24:00)" adds a date to the phrase before it
_BOUNDARIES = ("; ", "；", ". ", "。", ", ", ": ")  # a Chinese comma stays inside the phrase a gloss translates
_PARTS = re.compile(r"(; |；|: |：)")


def said(text: str | None, lang: str, typed: bool = False) -> str:
    """A text the ILL store wrote, in `lang`: of each "中文 (English)" pair the page's half, the store's
    one-language phrases turned (portal/i18n_said.py), a lender's reason chosen from the list in `lang`;
    anything else as written, and all of a text a person `typed` but a reason from the list.
    `said("已取消 (cancelled)", "en") == "cancelled"`."""
    if not text:
        return ""
    if not typed:
        text = _halves(_phrases(text, lang), lang)
    return "".join(_REASON_IN.get(part.strip(), {}).get(lang, part) for part in _PARTS.split(text))


def _halves(text: str, lang: str) -> str:
    """Of each "中文 (English)" pair the half in `lang`; a gloss "(due …)" adds a date in either language."""
    if lang != "en":
        return _GLOSS.sub(lambda m: message("said.due", lang, when=m.group(1)[4:]) if _DUE.match(m.group(1))
                          else "", text)
    out, pos = [], 0
    for m in _GLOSS.finditer(text):
        gloss = m.group(1)
        if _DUE.match(gloss):
            continue
        segment = text[pos:m.start()]
        cut = max((segment.rfind(b) + len(b) for b in _BOUNDARIES if b in segment), default=0)
        out += [segment[:cut], gloss]
        pos = m.end()
    return "".join(out) + text[pos:]


def _phrases(text: str, lang: str) -> str:
    """The store's one-language phrases in `lang`."""
    for pattern, replacement in TO_ENGLISH if lang == "en" else TO_CHINESE:
        text = re.sub(pattern, replacement, text)
    return text


# a lender's reason from the list, in either language → {"zh": ..., "en": ...}
_REASON_IN = {text: {"zh": zh, "en": en} for zh, en in LENDER_REASONS.values() for text in (zh, en)}


_CJK = re.compile("[\u3400-\u9fff]")
_LABEL = re.compile(r"^([^\x00-\x7f][^:]*?) ([A-Za-z][A-Za-z ]*): ")  # "地址 Address: …" (a notice's contact lines)
_NAMES = re.compile(r"^([^\x00-\x7f][^()]*) \(([\x20-\x7e]+)\)$")  # "清华大学 (Tsinghua University)"


def in_language(text: str, lang: str, subject: bool = False) -> str:
    """A notice (ill/notices.py writes each in both languages, for mail) in the page's language: of a subject
    "申请单 7 已寄出 / Request 7: shipped" one half; of a body "中文\n\nEnglish[\n\ncontact lines]" one
    paragraph and the contact lines' labels. A text of another shape is shown as it is."""
    en = lang == "en"
    if subject:
        zh_part, sep, en_part = text.partition(" / ")
        bilingual = sep and _CJK.search(zh_part) and en_part[:1].isascii() and en_part[:1].isalpha()
        return (en_part if en else zh_part) if bilingual else text
    parts = text.split("\n\n", 2)
    if len(parts) < 2 or not _CJK.search(parts[0]) or not parts[1][:1].isascii():
        return text
    lines = []
    for line in (parts[2].split("\n") if len(parts) > 2 else []):
        if m := _LABEL.match(line):
            line = f"{m.group(2) if en else m.group(1)}: {line[m.end():]}"
        elif m := _NAMES.match(line):
            line = m.group(2) if en else m.group(1)
        lines.append(line)
    return "\n\n".join([_phrases(parts[1] if en else parts[0], lang), *(["\n".join(lines)] if lines else [])])


_CALENDAR_WHERE = re.compile(r"^.*?, year (\d{4})(?:, (holidays|workdays))?: ")


def calendar_error(text: str, lang: str) -> str:
    """What the holiday calendar's reader says of a year typed on /admin/holidays, in `lang` and without the
    file-style origin ("2027 年节假日：“2027-13-01”不是日期（应写作 YYYY-MM-DD）"); other texts as they are."""
    where = _CALENDAR_WHERE.match(text)
    if not where:
        return text
    key = f"calendar.where.{where.group(2)}" if where.group(2) else "calendar.where"
    rest = text[where.end():]
    for pattern, zh, en in CALENDAR_ERRORS:
        if re.fullmatch(pattern, rest):
            rest = re.sub(pattern, en if lang == "en" else zh, rest)
            break
    return message(key, lang, year=where.group(1)) + (": " if lang == "en" else "：") + rest


def district_name(district: str | None, lang: str) -> str:
    """One of Beijing's districts as the page's language names it (海淀区 → Haidian); others as written."""
    if district and lang == "en" and f"district.{district}" in MESSAGES:
        return message(f"district.{district}", lang)
    return district or ""


def lender_reasons(lang: str) -> list[str]:
    """The lenders' common reasons in `lang`, for the confirm page's list."""
    return [en if lang == "en" else zh for zh, en in LENDER_REASONS.values()]


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


def json_answer(data: dict, status: int = 200, *, private: bool = False, headers: dict | None = None) -> web.Response:
    """A JSON response of the API (UTF-8, Chinese as written); `private` for one user's data (never cached)."""
    response = web.json_response(data, status=status, headers=headers,
                                 dumps=lambda d: json.dumps(d, ensure_ascii=False))
    if private:
        response.headers["Cache-Control"] = "no-store"
    return response


def json_refused(status: int, text: str, parameter: str | None = None, *, incident: str | None = None,
                 headers: dict | None = None) -> web.Response:
    """The API's error document: {"error": {"status", "message", "parameter" when one is to blame, "incident" when
    the log holds the trace}}."""
    body: dict = {"error": {"status": status, "message": text}}
    if parameter:
        body["error"]["parameter"] = parameter
    if incident:
        body["error"]["incident"] = incident
    return json_answer(body, status, headers=headers)
