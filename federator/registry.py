"""The member registry: who the members are and how to reach their OPACs (config/members.toml)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pypinyin import Style, lazy_pinyin

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REGISTRY = PROJECT_ROOT / "config" / "members.toml"
DEMO_REGISTRY = PROJECT_ROOT / "var" / "testbed" / "registry.toml"

PROTOCOLS = ("sru", "z3950")
SYNTAXES = {"marc21": "marc21", "usmarc": "marc21", "cnmarc": "unimarc", "unimarc": "unimarc"}
CHARSETS = {"utf-8": "utf-8", "utf8": "utf-8", "marc-8": "marc-8", "marc8": "marc-8", "gbk": "gbk", "gb2312": "gbk"}
STATUSES = ("active", "suspended")
SRU_VERSIONS = ("1.1", "1.2", "2.0")


class RegistryError(Exception):
    """The registry file is missing or wrong; the message names the file, member and key."""

    def __init__(self, path: Path | str, message: str, member: str | None = None, key: str | None = None):
        where = str(path)
        if member:
            where += f", member {member}"
        if key:
            where += f", key '{key}'"
        super().__init__(f"registry {where}: {message}")
        self.path, self.member, self.key = str(path), member, key


@dataclass(frozen=True, slots=True)
class Endpoint:
    protocol: str  # sru | z3950
    host: str
    port: int
    database: str = "Default"  # Z39.50 database name, or the SRU path
    sru_version: str = "1.2"

    @property
    def address(self) -> str:
        if self.protocol == "sru":
            return f"http://{self.host}:{self.port}/{self.database.lstrip('/')}"
        return f"tcp:{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True, slots=True)
class Contact:
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None


@dataclass(frozen=True, slots=True)
class Member:
    code: str
    name: str
    name_en: str
    district: str | None = None
    status: str = "active"
    suspended_reason: str | None = None
    suspended_since: date | None = None
    syntax: str = "marc21"  # marc21 | unimarc (cnmarc is read as unimarc)
    charset: str = "utf-8"  # utf-8 | marc-8 | gbk
    timeout: float = 10.0
    max_records: int = 50
    endpoints: tuple[Endpoint, ...] = ()
    contact: Contact = field(default_factory=Contact)
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept as written

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def queryable(self) -> bool:
        """Active and with at least one endpoint: such members take part in searches."""
        return self.active and bool(self.endpoints)

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.protocol for e in self.endpoints))

    def endpoint(self, protocol: str | None = None) -> Endpoint | None:
        """The endpoint to use: the one for `protocol` if given, else Z39.50 first, then SRU."""
        order = [protocol] if protocol else ["z3950", "sru"]
        for proto in order:
            for e in self.endpoints:
                if e.protocol == proto:
                    return e
        return None


@dataclass(frozen=True, slots=True)
class Registry:
    path: Path
    members: tuple[Member, ...]

    def __iter__(self):
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    def get(self, code: str) -> Member:
        for m in self.members:
            if m.code == code.upper():
                return m
        raise KeyError(code)

    def select(self, codes: list[str] | None) -> list[Member]:
        """Members by code (unknown codes raise RegistryError naming them), or all."""
        if not codes:
            return list(self.members)
        known = {m.code: m for m in self.members}
        unknown = [c for c in codes if c.upper() not in known]
        if unknown:
            raise RegistryError(self.path, f"unknown member code(s): {', '.join(unknown)}; "
                                f"'balis members' lists the codes")
        return [known[c.upper()] for c in codes]

    def sorted_by_pinyin(self) -> list[Member]:
        return sorted(self.members, key=lambda m: pinyin_key(m.name))


def pinyin_key(text: str) -> tuple[str, str]:
    """Sort key for Chinese names in pinyin order (the order readers and staff expect)."""
    return (" ".join(lazy_pinyin(text, style=Style.TONE3)).lower(), text)


def resolve_registry_path(explicit: str | os.PathLike | None = None) -> Path:
    """--registry, else $BALIS_REGISTRY, else the demo test bed's registry if it exists, else config/."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("BALIS_REGISTRY")
    if env:
        return Path(env)
    if DEMO_REGISTRY.exists():
        return DEMO_REGISTRY
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
    members: list[Member] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        member = _member(p, i, entry)
        if member.code in seen:
            raise RegistryError(p, "the code is used twice", member=member.code, key="code")
        seen.add(member.code)
        members.append(member)
    return Registry(path=p, members=tuple(members))


_KNOWN_KEYS = {"code", "name", "name_en", "district", "status", "suspended_reason", "suspended_since",
               "syntax", "charset", "timeout", "max_records", "endpoint", "contact"}


def _member(path: Path, index: int, entry: object) -> Member:
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
            raise fail(f"{key}.protocol", f"must be 'sru' or 'z3950', found {ep.get('protocol')!r}")
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
        raise fail("contact", "must be a table with name, phone, email, address")
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
        endpoints=tuple(endpoints),
        contact=Contact(**{k: str(v) for k, v in contact.items() if k in ("name", "phone", "email", "address")}),
        extra={k: v for k, v in entry.items() if k not in _KNOWN_KEYS},
    )
