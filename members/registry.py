"""The registry loader: reads and checks config/members.toml (or the demo test bed's registry) into values."""

from __future__ import annotations

import os
import tomllib
from dataclasses import replace
from datetime import date
from pathlib import Path

from members import paths
from members.values import (
    CHARSETS,
    COPY_METHODS,
    DEFAULT_COPY,
    DEFAULT_HARVEST_MAX_HOURS,
    DEFAULT_HARVEST_MAX_RECORDS,
    DEFAULT_HARVEST_RATE,
    DEFAULT_LENDING,
    DESK,
    HARVEST_DELETIONS,
    ILS_NAMES,
    LOGIN_FORMS,
    MATERIAL_TYPES,
    PEER_SERVICES,
    PEER_VERSIONS,
    PROTOCOLS,
    SRU_VERSIONS,
    STATUSES,
    SYNTAXES,
    Contact,
    CopyRules,
    CopyService,
    Credentials,
    DeliveryMethod,
    Endpoint,
    FineRule,
    LendingPolicy,
    Member,
    Peer,
    PickupPoint,
    Registry,
    RegistryError,
)

DEFAULT_REGISTRY = paths.config_file("members.toml")  # the consortium's registry, shipped with balis


def with_member_states(registry: Registry, states: dict[str, dict]) -> Registry:
    """The registry with members suspended or resumed at the portal (`ill.Store.member_states()`): such a
    change overrides the file's status, reason and date. Codes not in the registry are ignored."""
    if not states:
        return registry
    members = []
    for m in registry.members:
        st = states.get(m.code)
        if st is not None and st.get("status") in STATUSES:
            suspended = st["status"] == "suspended"
            m = replace(m, status=st["status"], suspended_reason=(st.get("reason") or None) if suspended else None,
                        suspended_since=st.get("since") if suspended else None)
        members.append(m)
    return replace(registry, members=tuple(members))


def resolve_registry_path(explicit: str | os.PathLike | None = None) -> Path:
    """--registry, else $BALIS_REGISTRY, else the demo test bed's registry in the home folder if it exists
    ($BALIS_HOME/testbed/registry.toml), else the shipped config/members.toml."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("BALIS_REGISTRY")
    if env:
        return Path(env)
    demo = paths.testbed_dir() / "registry.toml"
    if demo.exists():
        return demo
    return DEFAULT_REGISTRY


def load_registry(path: str | os.PathLike | None = None) -> Registry:
    """Read and check a registry file; any fault raises RegistryError before anything starts."""
    p = resolve_registry_path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise RegistryError(p, "file not found; pass --registry FILE or set BALIS_REGISTRY") from None
    except OSError as exc:
        raise RegistryError(p, f"cannot be read: {exc.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RegistryError(p, f"not UTF-8 (byte {exc.start}); save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(p, f"not valid TOML: {exc}") from None
    entries = doc.get("member")
    if not isinstance(entries, list) or not entries:
        raise RegistryError(p, "no [[member]] tables found", key="member")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise RegistryError(p, "must be a table ([defaults])", key="defaults")
    default_lending = DEFAULT_LENDING
    if "lending" in defaults:
        default_lending = parse_lending(p, "defaults", defaults["lending"], DEFAULT_LENDING)
    default_copy = DEFAULT_COPY
    if "copy" in defaults:
        default_copy = parse_copy_service(p, "defaults", defaults["copy"], DEFAULT_COPY)
    members: list[Member] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        member = _member(p, i, entry, default_lending)
        if isinstance(entry, dict) and "copy" in entry:
            member = replace(member, copy=parse_copy_service(p, member.code, entry["copy"], default_copy))
        elif default_copy is not DEFAULT_COPY:
            member = replace(member, copy=default_copy)
        if member.code in seen:
            raise RegistryError(p, "the code is used twice", member=member.code, key="code")
        seen.add(member.code)
        members.append(member)
    agencies: dict[str, str] = {}
    for member in members:
        if member.agency in agencies:
            raise RegistryError(p, f"agency id {member.agency} is also {agencies[member.agency]}'s; each member "
                                   f"needs its own", member=member.code, key="agency_id")
        agencies[member.agency] = member.code
    peers = parse_peers(p, doc.get("peers", []), seen, agencies)
    rules = parse_copy_rules(p, doc["copy"]) if "copy" in doc else CopyRules()
    return Registry(path=p, members=tuple(members), peers=peers, copy=rules)


def _numbers(path: Path, raw: dict, limits: dict, *, member: str | None, prefix: str) -> dict:
    """The numeric keys of a table checked against (low, high, whole) limits; keys left out keep base's value."""
    values = {}
    for key, (low, high, whole) in limits.items():
        if key not in raw:
            continue
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)):
            kind = "a whole number" if whole else "a number"
            raise RegistryError(path, f"must be {kind}, found {value!r}", member=member, key=f"{prefix}.{key}")
        if not low <= value <= high:
            raise RegistryError(path, f"must be between {low:g} and {high:g}, found {value!r}", member=member,
                                key=f"{prefix}.{key}")
        values[key] = int(value) if whole else float(value)
    return values


def parse_copy_service(path: Path, member: str, raw: object, base: CopyService) -> CopyService:
    """A [member.copy] (or [defaults.copy]) table over `base`: supplies, price_per_request, price_per_page (yuan),
    max_pages, methods (docs/registry.md)."""
    where = None if member == "defaults" else member
    prefix = "defaults.copy" if member == "defaults" else "copy"
    if not isinstance(raw, dict):
        raise RegistryError(path, "must be a table ([member.copy])", member=where, key=prefix)
    known = ("supplies", "price_per_request", "price_per_page", "max_pages", "methods")
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise RegistryError(path, f"unknown key; known: {', '.join(known)}", member=where, key=f"{prefix}.{unknown[0]}")
    supplies = raw.get("supplies", base.supplies)
    if not isinstance(supplies, bool):
        raise RegistryError(path, f"must be true or false, found {supplies!r}", member=where, key=f"{prefix}.supplies")
    values = _numbers(path, raw, {"price_per_request": (0, 10000, False), "price_per_page": (0, 1000, False),
                                  "max_pages": (1, 100000, True)}, member=where, prefix=prefix)
    methods = base.methods
    if "methods" in raw:
        given = raw["methods"]
        if not isinstance(given, list) or not all(isinstance(v, str) for v in given):
            raise RegistryError(path, f"must be a list of {', '.join(COPY_METHODS)}, found {given!r}", member=where,
                                key=f"{prefix}.methods")
        methods = frozenset(v.strip().lower() for v in given)
        bad = sorted(methods - set(COPY_METHODS))
        if bad:
            raise RegistryError(path, f"unknown delivery method {bad[0]!r}; use {', '.join(COPY_METHODS)}",
                                member=where, key=f"{prefix}.methods")
        if not methods and supplies:
            raise RegistryError(path, "is empty; list at least one method or set supplies = false", member=where,
                                key=f"{prefix}.methods")
    return replace(base, supplies=supplies, methods=methods, **values)


def parse_copy_rules(path: Path, raw: object) -> CopyRules:
    """The top-level [copy] table: the consortium's document-delivery rules (docs/registry.md)."""
    if not isinstance(raw, dict):
        raise RegistryError(path, "must be a table ([copy])", key="copy")
    limits = {"max_pages": (1, 100000, True), "max_book_fraction": (0.001, 1, False),
              "subsidy_per_request": (0, 10000, False), "subsidy_budget": (0, 100_000_000, False),
              "download_days": (1, 365, True), "download_limit": (1, 1000, True),
              "file_max_mb": (0.1, 2000, False), "email_max_mb": (0, 100, False)}
    unknown = sorted(set(raw) - set(limits))
    if unknown:
        raise RegistryError(path, f"unknown key; known: {', '.join(limits)}", key=f"copy.{unknown[0]}")
    return replace(CopyRules(), **_numbers(path, raw, limits, member=None, prefix="copy"))


_PEER_KEYS = ("code", "name", "agency_id", "endpoint", "version", "services", "agencies", "secret_env",
              "secret_file", "active")


def _agency_id(value: object) -> bool:
    """An ISIL-style agency id TYPE:VALUE (both parts non-empty, no spaces)."""
    if not isinstance(value, str) or value.count(":") < 1 or any(c.isspace() for c in value):
        return False
    kind, _, code = value.partition(":")
    return bool(kind) and bool(code) and len(value) <= 100


def parse_peers(path: Path, raw: object, member_codes: set[str], agencies: dict[str, str]) -> tuple[Peer, ...]:
    """[[peers]] tables: other ILL networks balis exchanges ISO 18626 messages with (docs/registry.md)."""
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(i, dict) for i in raw):
        raise RegistryError(path, "must be a list of [[peers]] tables", key="peers")
    out: list[Peer] = []
    for i, item in enumerate(raw):
        code = item.get("code")
        if not isinstance(code, str) or not code.strip() or not code.strip().replace("-", "").isalnum():
            raise RegistryError(path, "missing; give the peer a short code such as CALIS", member=f"peers #{i + 1}",
                                key="code")
        code = code.strip().upper()

        def fail(key: str, message: str, code: str = code) -> RegistryError:
            return RegistryError(path, message, member=f"peer {code}", key=key)

        unknown = sorted(set(item) - set(_PEER_KEYS))
        if unknown:
            if unknown[0] in ("secret", "password"):
                raise fail(unknown[0], "a secret is never written in the registry; put it in an environment "
                                       f'variable (secret_env = "BALIS_PEER_{code}") or a file only balis may read '
                                       "(secret_file), and remove this key")
            raise fail(unknown[0], f"unknown key; known: {', '.join(_PEER_KEYS)}")
        if code in member_codes or any(p.code == code for p in out):
            raise fail("code", "the code is used twice (members and peers share one list of codes)")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise fail("name", "missing; give the network's name staff see (e.g. CALIS 中国高等教育文献保障系统)")
        agency = item.get("agency_id")
        if not _agency_id(agency):
            raise fail("agency_id", f"must be an ISIL-style agency id TYPE:VALUE such as CALIS:CN-100000, "
                                    f"found {agency!r}")
        if agency in agencies:
            raise fail("agency_id", f"{agency} is the agency id of member {agencies[agency]}")
        endpoint = item.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise fail("endpoint", f"must be the peer's ISO 18626 address (http:// or https://), found {endpoint!r}")
        version = str(item.get("version", "1.2"))
        if version not in PEER_VERSIONS:
            raise fail("version", f"must be one of {', '.join(PEER_VERSIONS)}, found {version!r}")
        services = item.get("services", list(PEER_SERVICES))
        if not isinstance(services, list) or not services or any(s not in PEER_SERVICES for s in services):
            raise fail("services", f"must list what the peer supplies: {', '.join(PEER_SERVICES)}; found {services!r}")
        extra = item.get("agencies", [])
        if not isinstance(extra, list) or not all(_agency_id(a) for a in extra):
            raise fail("agencies", f"must be a list of agency ids TYPE:VALUE (TYPE:* for all), found {extra!r}")
        where = {}
        for key in ("secret_env", "secret_file"):
            value = item.get(key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise fail(key, "must be non-empty text")
            where[key] = value.strip() if isinstance(value, str) else None
        if where["secret_env"] and where["secret_file"]:
            raise fail("secret_file", "give secret_env or secret_file, not both")
        active = item.get("active", True)
        if not isinstance(active, bool):
            raise fail("active", f"must be true or false, found {active!r}")
        if active and not (where["secret_env"] or where["secret_file"]):
            raise fail("secret_env", "an active peer needs its shared secret: secret_env or secret_file")
        out.append(Peer(code, name.strip(), agency, endpoint, version, frozenset(services), tuple(extra),
                        where["secret_env"], where["secret_file"], active))
    return tuple(out)


# The contact table of a member (docs/registry.md); every value may be empty.
CONTACT_FIELDS = ("office", "name", "phone", "email", "address", "hours")
_KNOWN_KEYS = {"code", "name", "name_en", "district", "status", "suspended_reason", "suspended_since",
               "syntax", "charset", "timeout", "max_records", "harvest_rate", "harvest_deletions", "endpoint",
               "harvest_max_records", "harvest_max_hours",
               "auth", "negotiate_charset", "ils", "holdings_schema", "opac_syntax",
               "contact", "lending", "pickup", "delivery", "agency_id", "opac_url", "copy"}


def parse_pickups(path: Path, member: str, raw: object) -> tuple[PickupPoint, ...]:
    """[[member.pickup]] tables: code, name (required), name_en, hours; codes unique within the member."""
    items = _tables(path, member, "pickup", raw)
    out: list[PickupPoint] = []
    for j, item in enumerate(items):
        code, name, name_en = _entry_texts(path, member, f"pickup[{j}]", item, {"code", "name", "name_en", "hours"})
        hours = str(item.get("hours") or "").strip() or None
        if any(p.code == code for p in out):
            raise RegistryError(path, f"pick-up point code {code!r} is used twice", member=member, key=f"pickup[{j}]")
        out.append(PickupPoint(code, name, name_en, hours))
    return tuple(out)


def parse_deliveries(path: Path, member: str, raw: object) -> tuple[DeliveryMethod, ...]:
    """[[member.delivery]] tables: code (not "desk"), name (required), name_en, days (0-30), note."""
    items = _tables(path, member, "delivery", raw)
    out: list[DeliveryMethod] = []
    for j, item in enumerate(items):
        key = f"delivery[{j}]"
        code, name, name_en = _entry_texts(path, member, key, item, {"code", "name", "name_en", "days", "note"})
        if code == DESK or any(d.code == code for d in out):
            raise RegistryError(path, f"delivery code {code!r} is taken ('{DESK}' is collecting at a pick-up point)",
                                member=member, key=f"{key}.code")
        days = item.get("days", 0)
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 30:
            raise RegistryError(path, f"must be whole working days 0-30, found {days!r}", member=member,
                                key=f"{key}.days")
        out.append(DeliveryMethod(code, name, name_en, days, str(item.get("note") or "").strip() or None))
    return tuple(out)


def _tables(path: Path, member: str, key: str, raw: object) -> list[dict]:
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise RegistryError(path, f"must be a list of [[member.{key}]] tables", member=member, key=key)
    return items


def _entry_texts(path: Path, member: str, key: str, item: dict, known: set[str]) -> tuple[str, str, str]:
    unknown = sorted(set(item) - known)
    if unknown:
        raise RegistryError(path, f"unknown key; known: {', '.join(sorted(known))}", member=member,
                            key=f"{key}.{unknown[0]}")
    values = []
    for name in ("code", "name", "name_en"):
        value = item.get(name, "")
        if not isinstance(value, str):
            raise RegistryError(path, f"must be text, found {value!r}", member=member, key=f"{key}.{name}")
        values.append(value.strip())
    code, name, name_en = values
    if not code or len(code) > 32 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in code):
        raise RegistryError(path, "needs a short code of letters, digits, - or _ (at most 32)", member=member,
                            key=f"{key}.code")
    if not name:
        raise RegistryError(path, "missing; give the name readers see", member=member, key=f"{key}.name")
    return code.lower(), name, name_en


def parse_lending(path: Path, member: str, raw: object, base: LendingPolicy) -> LendingPolicy:
    """A [member.lending] (or [defaults.lending]) table over `base`; keys left out keep base's value."""
    if not isinstance(raw, dict):
        raise RegistryError(path, "must be a table ([member.lending])", member=member, key="lending")

    def fail(key: str, message: str) -> RegistryError:
        return RegistryError(path, message, member=member, key=f"lending.{key}")

    unknown = sorted(set(raw) - {"lends", "material_types", "languages", "locations_not_for_loan", "fines"})
    if unknown:
        raise fail(unknown[0], "unknown key; known: lends, material_types, languages, "
                               "locations_not_for_loan, fines")

    def texts(key: str) -> frozenset[str]:
        value = raw[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise fail(key, f"must be a list of non-empty texts, found {value!r}")
        return frozenset(v.strip() for v in value)

    lends = raw.get("lends", base.lends)
    if not isinstance(lends, bool):
        raise fail("lends", f"must be true or false, found {lends!r}")
    material_types = base.material_types
    if "material_types" in raw:
        material_types = frozenset(v.lower() for v in texts("material_types"))
        bad = sorted(material_types - set(MATERIAL_TYPES))
        if bad:
            raise fail("material_types", f"unknown type {bad[0]!r}; use {', '.join(MATERIAL_TYPES)}")
        if not material_types and lends:
            raise fail("material_types", "is empty; list at least one type or set lends = false")
    languages = base.languages
    if "languages" in raw:
        languages = frozenset(v.lower() for v in texts("languages"))
        bad = sorted(v for v in languages if len(v) != 3 or not v.isalpha())
        if bad:
            raise fail("languages", f"{bad[0]!r} is not an ISO 639-2 code such as chi, eng, jpn")
        if not languages:
            raise fail("languages", "is empty; leave the key out to lend in any language")
    locations = base.locations_not_for_loan
    if "locations_not_for_loan" in raw:
        locations = texts("locations_not_for_loan")
    fines = base.fines
    if "fines" in raw:
        fines = _fine_rule(raw["fines"], base.fines, fail)
    return LendingPolicy(lends, material_types, languages, locations, fines)


def _fine_rule(raw: object, base: FineRule, fail) -> FineRule:
    if not isinstance(raw, dict):
        raise fail("fines", "must be a table ([member.lending.fines])")
    limits = {"overdue_per_day": (0, 1000), "lost_multiplier": (0, 100), "lost_flat": (0, 100000),
              "damaged_fraction": (0, 1)}
    unknown = sorted(set(raw) - set(limits))
    if unknown:
        raise fail(f"fines.{unknown[0]}", f"unknown key; known: {', '.join(limits)}")
    values = {}
    for key, (low, high) in limits.items():
        value = raw.get(key, getattr(base, key))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(f"fines.{key}", f"must be a number, found {value!r}")
        if not low <= value <= high:
            raise fail(f"fines.{key}", f"must be between {low:g} and {high:g}, found {value!r}")
        values[key] = float(value)
    return FineRule(**values)


_AUTH_KEYS = ("user", "group", "form", "password_env", "password_file")


def parse_auth(path: Path, member: str, raw: object) -> Credentials:
    """A [member.auth] table: user, optional group and form, and where the password is kept (never itself)."""
    if not isinstance(raw, dict):
        raise RegistryError(path, "must be a table ([member.auth]) with user and password_env or password_file",
                            member=member, key="auth")

    def fail(key: str, message: str) -> RegistryError:
        return RegistryError(path, message, member=member, key=f"auth.{key}")

    if "password" in raw:  # the message never repeats the value
        raise fail("password", "a password is never written in the registry; put it in an environment variable "
                               '(password_env = "BALIS_PW_' + member + '") or in a file only balis may read '
                               '(password_file = "/etc/balis/' + member.lower() + '.secret"), and remove this key')
    unknown = sorted(set(raw) - set(_AUTH_KEYS))
    if unknown:
        raise fail(unknown[0], f"unknown key; known: {', '.join(_AUTH_KEYS)}")
    values: dict[str, str | None] = {}
    for key in _AUTH_KEYS:
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise fail(key, "must be non-empty text")
        values[key] = value.strip() if isinstance(value, str) else None
    if not values["user"]:
        raise fail("user", "missing; give the user name the member gave the consortium")
    if values["password_env"] and values["password_file"]:
        raise fail("password_file", "give password_env or password_file, not both")
    form = (values["form"] or "idpass").lower()
    if form not in LOGIN_FORMS:
        raise fail("form", f"must be idpass or open, found {values['form']!r}")
    if form == "open" and values["group"]:
        raise fail("group", 'the open form sends "user/password" only; use form = "idpass" to send a group')
    return Credentials(user=values["user"], group=values["group"], form=form,
                       password_env=values["password_env"], password_file=values["password_file"])


def _member(path: Path, index: int, entry: object, default_lending: LendingPolicy = DEFAULT_LENDING) -> Member:
    label = f"#{index + 1}"
    if not isinstance(entry, dict):
        raise RegistryError(path, "each [[member]] must be a table", member=label)
    code = entry.get("code")
    if not isinstance(code, str) or not code.strip():
        raise RegistryError(path, "missing or empty; give a short code such as THU", member=label, key="code")
    code = code.strip().upper()

    def fail(key: str, message: str) -> RegistryError:
        return RegistryError(path, message, member=code, key=key)

    def text(key: str, required: bool = False) -> str | None:
        value = entry.get(key)
        if value is None or value == "":
            if required:
                raise fail(key, "missing; it is required")
            return None
        if not isinstance(value, str):
            raise fail(key, f"must be text, found {type(value).__name__}")
        return value.strip()

    def number(key: str, default: float, minimum: float, maximum: float) -> float:
        value = entry.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(key, f"must be a number, found {value!r}")
        if not minimum <= value <= maximum:
            raise fail(key, f"must be between {minimum:g} and {maximum:g}, found {value!r}")
        return value

    def choice(key: str, default: str, allowed) -> str:
        value = text(key) or default
        norm = allowed.get(value.lower()) if isinstance(allowed, dict) else (value if value in allowed else None)
        if norm is None:
            raise fail(key, f"must be one of {', '.join(sorted(set(allowed)))}; found {value!r}")
        return norm

    def flag(key: str, default: bool) -> bool:
        value = entry.get(key, default)
        if not isinstance(value, bool):
            raise fail(key, f"must be true or false, found {value!r}")
        return value

    status = choice("status", "active", STATUSES)
    since = entry.get("suspended_since")
    if since is not None and not isinstance(since, date):
        try:
            since = date.fromisoformat(str(since))
        except ValueError:
            raise fail("suspended_since", f"must be a date (YYYY-MM-DD), found {since!r}") from None

    endpoints = []
    raw_eps = entry.get("endpoint", [])
    if isinstance(raw_eps, dict):
        raw_eps = [raw_eps]
    if not isinstance(raw_eps, list):
        raise fail("endpoint", "must be a list of [[member.endpoint]] tables")
    for j, ep in enumerate(raw_eps):
        key = f"endpoint[{j}]"
        if not isinstance(ep, dict):
            raise fail(key, "must be a table")
        proto = str(ep.get("protocol", "")).lower().replace("z39.50", "z3950")
        if proto not in PROTOCOLS:
            raise fail(f"{key}.protocol", f"must be 'sru', 'z3950' or 'oaipmh', found {ep.get('protocol')!r}")
        host = ep.get("host")
        if not isinstance(host, str) or not host:
            raise fail(f"{key}.host", "missing; give a host name or address")
        port = ep.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise fail(f"{key}.port", f"must be a port number 1-65535, found {port!r}")
        database = ep.get("database", "Default")
        if not isinstance(database, str) or not database:
            raise fail(f"{key}.database", "must be non-empty text")
        version = str(ep.get("sru_version", ep.get("version", "1.2")))
        if version not in SRU_VERSIONS:
            raise fail(f"{key}.sru_version", f"must be one of {', '.join(SRU_VERSIONS)}, found {version!r}")
        endpoints.append(Endpoint(proto, host, port, database, version))

    contact = entry.get("contact", {})
    if not isinstance(contact, dict):
        raise fail("contact", f"must be a table with {', '.join(CONTACT_FIELDS)}")
    return Member(
        code=code,
        name=text("name", required=True) or "",
        name_en=text("name_en") or "",
        district=text("district"),
        status=status,
        suspended_reason=text("suspended_reason"),
        suspended_since=since,
        syntax=choice("syntax", "marc21", SYNTAXES),
        charset=choice("charset", "utf-8", CHARSETS),
        timeout=float(number("timeout", 10, 0.1, 600)),
        max_records=int(number("max_records", 50, 1, 10000)),
        harvest_rate=float(number("harvest_rate", DEFAULT_HARVEST_RATE, 0, 1000)),
        harvest_deletions=choice("harvest_deletions", "prefixes", HARVEST_DELETIONS),
        harvest_max_records=int(number("harvest_max_records", DEFAULT_HARVEST_MAX_RECORDS, 1, 10**9)),
        harvest_max_hours=float(number("harvest_max_hours", DEFAULT_HARVEST_MAX_HOURS, 0.01, 24 * 7)),
        endpoints=tuple(endpoints),
        contact=Contact(**{k: str(v).strip() or None for k, v in contact.items() if k in CONTACT_FIELDS}),
        lending=(parse_lending(path, code, entry["lending"], default_lending) if "lending" in entry
                 else default_lending),
        auth=parse_auth(path, code, entry["auth"]) if "auth" in entry else None,
        negotiate_charset=flag("negotiate_charset", False),
        ils=choice("ils", "generic", {n: n for n in ILS_NAMES}) if text("ils") else None,
        holdings_schema=text("holdings_schema"),
        opac_syntax=flag("opac_syntax", False),
        extra={k: v for k, v in entry.items() if k not in _KNOWN_KEYS},
        pickup_points=parse_pickups(path, code, entry["pickup"]) if "pickup" in entry else (),
        delivery_methods=parse_deliveries(path, code, entry["delivery"]) if "delivery" in entry else (),
        agency_id=_member_agency(path, code, entry.get("agency_id")),
        opac_url=_opac_url(path, code, entry.get("opac_url")),
    )


def _opac_url(path: Path, code: str, value: object) -> str | None:
    """A member's OPAC record address: http(s), with {record_id} where the record id goes."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or "{record_id}" not in value \
            or any(c.isspace() for c in value):
        raise RegistryError(path, "must be an http(s) address with {record_id} where the record id goes, e.g. "
                            f"'https://opac.example.edu.cn/record/{{record_id}}'; found {value!r}", member=code,
                            key="opac_url")
    return value


def _member_agency(path: Path, code: str, value: object) -> str:
    if value is None:
        return ""
    if not _agency_id(value):
        raise RegistryError(path, f"must be an ISIL-style agency id TYPE:VALUE such as BALIS:{code}, found {value!r}",
                            member=code, key="agency_id")
    return str(value)
