"""Every request parameter the portal takes, checked for type and length before anything uses it.

Pure functions: a mapping of query-string values in, a frozen `SearchParams` (or a `ParamError` naming the
parameter, the problem as a message key, and the limit) out. The search's `Query` is built here too: the
free-text box in reader syntax (docs/query-syntax.md), the advanced fields each applied to its field, all
combined with AND.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.query import Bool, Clause, Query, QueryError, parse, year_query, year_range
from federator import facets as facet_mod
from federator.facets import FACETS
from federator.rank import SORTS
from portal.i18n import LANGUAGES

MAX_TEXT = 1000  # the query parser's own limit (connectors.query.MAX_QUERY_LENGTH)
MAX_FIELD = 200  # one advanced-search field
MAX_FACET_VALUE = 100
MAX_FACET_VALUES = 20  # selected values over all facets
MAX_PAGE = 50
SOURCES = ("local", "live")  # where a search is answered: the union index, or every member now
WORK_ID = re.compile(r"^W[0-9a-f]{16}$")
_ISBN = re.compile(r"^[0-9Xx\- ]{1,40}$")

# Advanced-search parameters: name → the query field its words are searched in.
ADVANCED = {"ti": "title", "au": "author", "su": "subject", "isbn": "isbn", "pub": "publisher", "year": "year"}


class ParamError(ValueError):
    """A parameter is wrong: `name` is the parameter, `key` the message key, `values` fill it in."""

    def __init__(self, name: str, key: str, **values) -> None:
        super().__init__(f"{name}: {key} {values}")
        self.name, self.key, self.values = name, key, values


class SearchQueryError(ValueError):
    """The search text cannot be parsed; `name` is the parameter it came from."""

    def __init__(self, name: str, error: QueryError) -> None:
        super().__init__(f"{name}: {error}")
        self.name, self.error = name, error


MAX_JSON_DEPTH = 16  # no request body of the API nests deeper than a few levels
_SURROGATE = re.compile("[\ud800-\udfff]")


class MediaTypeError(ParamError):
    """A JSON endpoint was sent a body that does not say it is JSON (HTTP 415)."""


async def json_body(request) -> dict:
    """A request's JSON object body, checked: its content type is JSON, it parses, nests at most
    MAX_JSON_DEPTH levels, and holds no text a store cannot keep (lone surrogates). ParamError names the field
    at fault ("body" for the whole); MediaTypeError for another content type."""
    if request.content_type != "application/json" and not request.content_type.endswith("+json"):
        raise MediaTypeError("body", "param.json_media_type", media_type=request.content_type or "-")
    try:
        body = json.loads(await request.text())
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ParamError("body", "param.json") from None
    if not isinstance(body, dict):
        raise ParamError("body", "param.json")
    _check_json(body, "body", 0)
    return body


def _check_json(value, where: str, depth: int) -> None:
    if depth > MAX_JSON_DEPTH:
        raise ParamError(where, "param.json_depth", limit=MAX_JSON_DEPTH)
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise ParamError(where, "param.text_invalid")
    elif isinstance(value, dict):
        for key, item in value.items():
            name = key if depth == 0 else f"{where}.{key}"
            if _SURROGATE.search(key):
                raise ParamError(where, "param.text_invalid")
            _check_json(item, name, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, where, depth + 1)


@dataclass(frozen=True, slots=True)
class SearchParams:
    """A checked search request: what to search, which page, the sort and the selected facet values."""

    q: str = ""
    fields: tuple[tuple[str, str], ...] = ()  # (advanced parameter, value), only the filled ones
    page: int = 1
    sort: str = "relevance"
    facets: tuple[tuple[str, str], ...] = ()  # (facet, value), in the order given
    live: bool = False  # the page shell whose results come by server-sent events
    source: str = ""  # "local" (the union index), "live" (ask every member now), "" (local when it can answer)

    @property
    def empty(self) -> bool:
        return not self.q and not self.fields

    @property
    def selected(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name, value in self.facets:
            out.setdefault(name, []).append(value)
        return out

    def text(self) -> str:
        """The search as one line a reader recognises (free text, then the fields with their prefixes)."""
        parts = [self.q] if self.q else []
        parts += [f"{name}:{value}" for name, value in self.fields]
        return " AND ".join(parts)

    def query_args(self, **changes) -> list[tuple[str, str]]:
        """The parameters as (name, value) pairs for a link, with `changes` applied (None drops one)."""
        base: dict[str, object] = {"q": self.q, **dict(self.fields), "page": self.page, "sort": self.sort,
                                   "facet": list(self.facets), "live": self.live, "source": self.source}
        base.update(changes)
        out: list[tuple[str, str]] = []
        for name, value in base.items():
            if value is None or value == "" or value is False:
                continue
            if name == "facet":
                out += [("facet", f"{f}:{v}") for f, v in value]  # type: ignore[union-attr]
            elif name == "page" and value == 1:
                continue
            elif name == "sort" and value == "relevance":
                continue
            elif value is True:
                out.append((name, "1"))
            else:
                out.append((name, str(value)))
        return out

    def search_key(self) -> tuple:
        """What identifies the federated search (not the view of it: sort and facets are applied after)."""
        return (self.q, self.fields, self.page)


@dataclass(frozen=True, slots=True)
class _Raw:
    values: Mapping[str, list[str]] = field(default_factory=dict)

    def one(self, name: str) -> str:
        vs = self.values.get(name) or []
        return vs[-1] if vs else ""


def clean_text(name: str, value: str, limit: int) -> str:
    """Trimmed, NFC text without control characters, at most `limit` characters."""
    if len(value) > limit:
        raise ParamError(name, "param.too_long", limit=limit)
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in value):
        raise ParamError(name, "param.control")
    return " ".join(unicodedata.normalize("NFC", value).split())


def ascii_digits(text: str) -> bool:
    """Only 0-9 (str.isdigit() also takes "²" and other digits int() refuses)."""
    return text.isascii() and text.isdigit()


def request_number(name: str, value: str) -> int:
    """An ILL request number (1 to 12 digits, 0-9); ParamError naming `name` otherwise."""
    text = value.strip()
    if not ascii_digits(text) or len(text) > 12:
        raise ParamError(name, "param.not_integer")
    return int(text)


def integer(name: str, value: str, default: int, low: int, high: int) -> int:
    if not value.strip():
        return default
    text = value.strip()
    if len(text) > 6 or not ascii_digits(text):
        raise ParamError(name, "param.not_integer")
    number = int(text)
    if not low <= number <= high:
        raise ParamError(name, "param.out_of_range", low=low, high=high)
    return number


def choice(name: str, value: str, default: str, allowed: tuple[str, ...]) -> str:
    if not value:
        return default
    if value not in allowed:
        raise ParamError(name, "param.choice", choices=", ".join(allowed))
    return value


def language(value: str | None) -> str | None:
    """A language code from a parameter or cookie, or None when absent or unknown."""
    return value if value in LANGUAGES else None


def multi(values: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """aiohttp's MultiDict (or any mapping of lists) as a plain dict of lists."""
    getall = getattr(values, "getall", None)
    if getall is not None:
        return {k: list(getall(k)) for k in set(values.keys())}
    return {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in values.items()}


def search_params(values: Mapping[str, list[str]]) -> SearchParams:
    """Check a search request's parameters: q, ti, au, su, isbn, pub, year, page, sort, facet, live, source."""
    raw = _Raw(values)
    q = clean_text("q", raw.one("q"), MAX_TEXT)
    fields = []
    for name in ADVANCED:
        value = clean_text(name, raw.one(name), MAX_FIELD)
        if not value:
            continue
        if name == "isbn" and not _ISBN.match(value):
            raise ParamError(name, "param.isbn")
        if name == "year" and not year_range(value):
            raise ParamError(name, "param.year")
        fields.append((name, value))
    page = integer("page", raw.one("page"), 1, 1, MAX_PAGE)
    sort = choice("sort", raw.one("sort"), "relevance", SORTS)
    facet_values = values.get("facet") or []
    if len(facet_values) > MAX_FACET_VALUES:
        raise ParamError("facet", "param.repeated", limit=MAX_FACET_VALUES)
    facets = []
    for item in facet_values:
        name, sep, value = item.partition(":")
        value = clean_text("facet", value, MAX_FACET_VALUE)
        if not sep or name not in FACETS or not value:
            raise ParamError("facet", "param.choice", choices=", ".join(f"{f}:…" for f in FACETS))
        if (name, value) not in facets:
            facets.append((name, value))
    try:
        facet_mod.apply([], {name: [v for f, v in facets if f == name] for name, _ in facets})
    except ValueError:
        raise ParamError("facet", "param.year") from None
    live = raw.one("live") in ("1", "true", "yes")
    source = choice("source", raw.one("source"), "", SOURCES)
    return SearchParams(q, tuple(fields), page, sort, tuple(facets), live, source)


def _in_field(node: Query, target: str) -> Query:
    """The query with every anywhere-clause searched in `target` instead (explicit prefixes stay)."""
    if isinstance(node, Clause):
        if node.field != "any":
            return node
        return Clause(target, node.relation, node.value, node.phrase)
    return Bool(node.op, _in_field(node.left, target), _in_field(node.right, target))


def build_query(params: SearchParams) -> Query:
    """The AST of the whole search: free text AND each advanced field (SearchQueryError if unreadable)."""
    parts: list[Query] = []
    if params.q:
        try:
            parts.append(parse(params.q))
        except QueryError as exc:
            raise SearchQueryError("q", exc) from None
    for name, value in params.fields:
        target = ADVANCED[name]
        if target == "isbn":
            parts.append(Clause("isbn", "=", value.replace(" ", "")))
        elif target == "year":
            parts.append(year_query(*year_range(value)))  # checked when the parameters were read
        else:
            try:
                parts.append(_in_field(parse(value, cql=False), target))
            except QueryError as exc:
                raise SearchQueryError(name, exc) from None
    if not parts:
        raise ParamError("q", "param.empty_query")
    query = parts[0]
    for part in parts[1:]:
        query = Bool("and", query, part)
    return query


def work_id(value: str) -> str:
    if not WORK_ID.match(value):
        raise ParamError("work_id", "param.work_id")
    return value


def local_path(value: str, default: str = "/") -> str:
    """A redirect target that stays on this site (a path, never a scheme or another host)."""
    if not value:
        return default
    if len(value) > 2000 or not value.startswith("/") or value.startswith("//") or "\\" in value:
        raise ParamError("next", "param.next")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ParamError("next", "param.next")
    return value
