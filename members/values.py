"""Member values: who the members are, how to reach their OPACs, what they lend (frozen; the bottom layer).

Nothing here imports another package of the project, so every layer may use these values."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

PROTOCOLS = ("sru", "z3950", "oaipmh")  # oaipmh is used by the harvest only, never for searches
SEARCH_ORDER = ("z3950", "sru")  # the endpoint a search uses when none is named
HARVEST_ORDER = ("oaipmh", "z3950", "sru")  # the endpoint a harvest uses: a change feed first
DEFAULT_HARVEST_MAX_RECORDS = 20_000_000  # more than the largest member's catalogue (docs/harvest.md)
DEFAULT_HARVEST_MAX_HOURS = 6.0  # one member's pass in a nightly harvest
DEFAULT_HARVEST_RATE = 4.0  # requests per second to one member during a harvest (docs/harvest.md)
SYNTAXES = {"marc21": "marc21", "usmarc": "marc21", "cnmarc": "unimarc", "unimarc": "unimarc"}
HARVEST_DELETIONS = ("prefixes", "scan", "compare")
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
        if self.protocol in ("sru", "oaipmh"):
            return f"http://{self.host}:{self.port}/{self.database.lstrip('/')}"
        return f"tcp:{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True, slots=True)
class Target:
    """What a connector needs to open a session with one member endpoint (built by `Member.target`).

    The connectors take this value, never a whole Member: where (protocol, host, port, database, SRU
    version), what the records are (MARC syntax, character set), how long to wait, how to log in, and the
    member's record and holdings options.
    """

    member: str  # the member's code, named in every error and record
    protocol: str  # sru | z3950 | oaipmh
    host: str
    port: int
    database: str = "Default"
    sru_version: str = "1.2"
    syntax: str = "marc21"
    charset: str = "utf-8"
    timeout: float = 10.0
    max_records: int = 50
    credentials: Credentials | None = None
    negotiate_charset: bool = False
    ils: str | None = None
    holdings_schema: str | None = None  # SRU: ask this recordSchema for holdings too (ISO 20775 "isohold")
    opac_syntax: bool = False  # Z39.50: ask for OPAC records (record + holdings)
    record_schemas: tuple[str, ...] = ()  # SRU: the MARCXML schema names the member takes (empty: the usual ones)
    metadata_prefix: str = "marc21"  # OAI-PMH metadataPrefix
    capabilities: dict | None = field(default=None, hash=False)  # what its OPAC can search (registry table)

    @property
    def address(self) -> str:
        return Endpoint(self.protocol, self.host, self.port, self.database, self.sru_version).address


@dataclass(frozen=True, slots=True)
class Contact:
    """How readers and other libraries reach a member's ILL desk (馆际互借处); any value may be missing."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    office: str | None = None  # the ILL office or desk, e.g. 图书馆东楼 105 馆际互借处
    hours: str | None = None  # its opening hours, as the library writes them

    @property
    def known(self) -> bool:
        return any((self.name, self.phone, self.email, self.address, self.office, self.hours))


DESK = "desk"  # the delivery method every member offers: collect at a pick-up point of its ILL desk


@dataclass(frozen=True, slots=True)
class PickupPoint:
    """A desk where the member's readers collect interlibrary loans (a [[member.pickup]] table)."""

    code: str
    name: str
    name_en: str = ""
    hours: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryMethod:
    """Another way the member gets an interlibrary loan to its readers (a [[member.delivery]] table), e.g.
    delivery to the reader's department; `days` are the working days it adds after the book arrives."""

    code: str
    name: str
    name_en: str = ""
    days: int = 0
    note: str | None = None


MATERIAL_TYPES = ("book", "ebook", "serial", "ejournal", "audio", "video", "map", "score", "large_print", "other")
DEFAULT_NOT_FOR_LOAN = ("参考阅览室", "特藏", "过刊")


@dataclass(frozen=True, slots=True)
class FineRule:
    """A lender's own fine rule (each library sets its own; DOMAIN.md), amounts in yuan."""

    overdue_per_day: float = 0.5
    lost_multiplier: float = 2.0  # times the item price when the price is known
    lost_flat: float = 100.0  # when the price is unknown
    damaged_fraction: float = 0.5  # of the amount for a lost item

    def lost(self, price: float | None = None) -> float:
        return round(price * self.lost_multiplier, 2) if price else self.lost_flat

    def damaged(self, price: float | None = None) -> float:
        return round(self.lost(price) * self.damaged_fraction, 2)

    def overdue(self, days_late: int) -> float:
        return round(max(days_late, 0) * self.overdue_per_day, 2)


@dataclass(frozen=True, slots=True)
class LendingPolicy:
    """What a member lends through ILL. The consortium's default scope: Chinese general books."""

    lends: bool = True
    material_types: frozenset[str] = frozenset({"book"})
    languages: frozenset[str] | None = frozenset({"chi"})  # None: any language
    locations_not_for_loan: frozenset[str] = frozenset(DEFAULT_NOT_FOR_LOAN)
    fines: FineRule = field(default_factory=FineRule)

    def excludes(self, material_type: str | None, language: str | None, lang: str = "zh") -> str | None:
        """Why this policy does not lend such an item (for staff, in Chinese or with `lang="en"` in English),
        or None if it does."""
        en = lang == "en"
        if not self.lends:
            return "does not lend to other libraries" if en else "不参加馆际互借出借"
        mt = material_type or "book"
        if mt not in self.material_types:
            return f"does not lend this kind of item ({mt})" if en else f"不外借此类文献（{mt}）"
        if self.languages is not None and (language or "und") not in self.languages:
            return (f"does not lend items in this language ({language or 'unknown'})" if en
                    else f"不外借此语种文献（{language or '语种不明'}）")
        return None

    def to_dict(self) -> dict:
        return {"lends": self.lends, "material_types": sorted(self.material_types),
                "languages": sorted(self.languages) if self.languages is not None else None,
                "locations_not_for_loan": sorted(self.locations_not_for_loan),
                "fines": {"overdue_per_day": self.fines.overdue_per_day,
                          "lost_multiplier": self.fines.lost_multiplier, "lost_flat": self.fines.lost_flat,
                          "damaged_fraction": self.fines.damaged_fraction}}

    def location_lendable(self, location: str | None) -> bool:
        """False when the copy's location is one the member keeps for use in the library only."""
        if not location:
            return True
        return not any(loc and loc in location for loc in self.locations_not_for_loan)


DEFAULT_LENDING = LendingPolicy()


COPY_METHODS = ("download", "email", "post")  # how a copy reaches the reader (原文传递): link, mail, printed by post


@dataclass(frozen=True, slots=True)
class CopyService:
    """What a member asks and allows as a supplier of copies (原文传递): a [member.copy] table over
    [defaults.copy]. Prices in yuan (per request and per page); `max_pages` per request (None: only the
    consortium's rule); `methods` it delivers by (COPY_METHODS)."""

    supplies: bool = True
    price_per_request: float = 0.0
    price_per_page: float = 0.0
    max_pages: int | None = None
    methods: frozenset[str] = frozenset(COPY_METHODS)


DEFAULT_COPY = CopyService()


@dataclass(frozen=True, slots=True)
class CopyRules:
    """The consortium's own rules for document delivery (the registry's top-level [copy] table).

    At most `max_pages` pages a request and `max_book_fraction` of a book (when its page count is known); the
    centre's subsidy per filled request and each member's yearly subsidy budget (yuan); a delivered file may be
    downloaded `download_limit` times within `download_days` days, then it is deleted; files up to
    `file_max_mb` MB, mailed as an attachment up to `email_max_mb` MB."""

    max_pages: int = 50
    max_book_fraction: float = 0.10
    subsidy_per_request: float = 0.0
    subsidy_budget: float = 0.0
    download_days: int = 14
    download_limit: int = 5
    file_max_mb: float = 30.0
    email_max_mb: float = 10.0


# library systems whose holdings fields and status words balis knows (records/holdings.py has the profiles)
ILS_NAMES = ("koha", "alma", "aleph", "evergreen", "folio", "horizon", "sierra", "symphony", "polaris", "voyager",
             "tlc", "wms", "huiwen", "interlib", "generic")

LOGIN_FORMS = ("idpass", "open")  # Z39.50 IdAuthentication: idPass {group, user, password} or open "user/password"


class CredentialsError(Exception):
    """A member's password could not be read (environment variable unset, file unreadable); never shows it."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """How to log in to a member ([member.auth]): the user and group, and where the password is kept.

    The registry holds a reference only (an environment variable or a file), never the password itself, so
    the registry can be shared and printed; `password()` reads it when a connection is opened.
    """

    user: str
    group: str | None = None
    form: str = "idpass"  # idpass | open (Z39.50 only; SRU sends HTTP basic auth either way)
    password_env: str | None = None
    password_file: str | None = None

    def password(self) -> str:
        """The password, read now from its environment variable or file ("" when the login has none)."""
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise CredentialsError(f"the environment variable {self.password_env} named by password_env is "
                                       "not set; set it where balis runs, or use password_file")
            return value
        if self.password_file:
            try:
                return Path(self.password_file).read_text(encoding="utf-8").strip("\r\n")
            except OSError as exc:
                raise CredentialsError(f"the password file {self.password_file} cannot be read "
                                       f"({exc.strerror or exc}); check that it exists and balis may read it") from None
        return ""

    def describe(self) -> str:
        """The login as staff may see it: form, group and user, and where the password is (never the password)."""
        where = (f"${self.password_env}" if self.password_env else self.password_file) or "no password"
        who = f"{self.group}/{self.user}" if self.group else self.user
        return f"{self.form} {who} (password: {where})"


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
    harvest_rate: float = DEFAULT_HARVEST_RATE  # requests per second during a harvest; 0 = no limit
    # how a harvest finds records deleted at a Z39.50 / SRU member with a date search (when its record count
    # says something went): count its records by record id "prefixes", "scan" its ids, or "compare" everything
    harvest_deletions: str = "prefixes"
    # a harvest pass stops (and the member is reported failed) past these: records received, hours, and a
    # record count the member claims (an implausible count is not paged through)
    harvest_max_records: int = DEFAULT_HARVEST_MAX_RECORDS
    harvest_max_hours: float = DEFAULT_HARVEST_MAX_HOURS
    endpoints: tuple[Endpoint, ...] = ()
    contact: Contact = field(default_factory=Contact)
    lending: LendingPolicy = DEFAULT_LENDING
    auth: Credentials | None = None  # a login the member requires (Z39.50 Init, SRU basic auth)
    negotiate_charset: bool = False  # propose UTF-8 in Z39.50 Init (docs/connectors-z3950.md)
    ils: str | None = None  # the member's library system: where its holdings and status words live (ILS_NAMES)
    holdings_schema: str | None = None  # SRU: also ask this recordSchema for holdings ("isohold", ISO 20775)
    opac_syntax: bool = False  # Z39.50: ask for the OPAC record syntax (record + holdings and circulation)
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept as written
    pickup_points: tuple[PickupPoint, ...] = ()  # as the registry lists them (none: `pickups` gives the default)
    delivery_methods: tuple[DeliveryMethod, ...] = ()  # besides collecting at the desk
    agency_id: str = ""  # its ISO 18626 agency id (TYPE:VALUE); `agency` gives BALIS:<code> when none is set
    opac_url: str | None = None  # its own OPAC's page of a record: an http(s) URL with {record_id}
    copy: CopyService = DEFAULT_COPY  # as a supplier of copies (原文传递): prices, page limit, delivery methods

    def record_url(self, record_id: str | None) -> str | None:
        """The address of `record_id` in the member's own OPAC (`opac_url` filled in), or None."""
        if not self.opac_url or not record_id:
            return None
        from urllib.parse import quote

        return self.opac_url.replace("{record_id}", quote(record_id, safe=""))

    @property
    def agency(self) -> str:
        """The member's ISO 18626 agency id: the registry's `agency_id`, else BALIS:<code>."""
        return self.agency_id or f"{AGENCY_TYPE}:{self.code}"

    @property
    def pickups(self) -> tuple[PickupPoint, ...]:
        """Where readers collect: the registry's pick-up points, else the ILL desk itself (its contact office)."""
        if self.pickup_points:
            return self.pickup_points
        return (PickupPoint(DESK, self.contact.office or f"{self.name}馆际互借处",
                            f"{self.name_en or self.code} ILL desk", self.contact.hours),)

    def pickup(self, code: str | None) -> PickupPoint | None:
        return next((p for p in self.pickups if p.code == code), None)

    def delivery_method(self, code: str | None) -> DeliveryMethod | None:
        return next((d for d in self.delivery_methods if d.code == code), None)

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

    def endpoint(self, protocol: str | None = None, order: tuple[str, ...] = SEARCH_ORDER) -> Endpoint | None:
        """The endpoint to use: the one for `protocol` if given, else the first of `order` it has (a search:
        Z39.50, then SRU)."""
        for proto in [protocol] if protocol else order:
            for e in self.endpoints:
                if e.protocol == proto:
                    return e
        return None

    def harvest_endpoint(self) -> Endpoint | None:
        """The endpoint a harvest uses: OAI-PMH, else Z39.50, else SRU (None if it has none)."""
        return self.endpoint(order=HARVEST_ORDER)

    def target(self, endpoint: Endpoint | str | None = None, *, timeout: float | None = None) -> Target | None:
        """The connector's view of this member at `endpoint` (an Endpoint, a protocol, or None: the search
        endpoint); `timeout` replaces the member's own. None when it has no such endpoint."""
        e = endpoint if isinstance(endpoint, Endpoint) else self.endpoint(endpoint)
        if e is None:
            return None
        extra = self.extra or {}
        caps = extra.get("capabilities")
        schema = extra.get("sru_record_schema")
        return Target(self.code, e.protocol, e.host, e.port, e.database, e.sru_version, syntax=self.syntax,
                      charset=self.charset, timeout=timeout if timeout is not None else self.timeout,
                      max_records=self.max_records, credentials=self.auth, negotiate_charset=self.negotiate_charset,
                      ils=self.ils, holdings_schema=self.holdings_schema, opac_syntax=self.opac_syntax,
                      record_schemas=(schema,) if isinstance(schema, str) else tuple(map(str, schema or ())),
                      metadata_prefix=str(extra.get("oai_metadata_prefix") or "marc21"),
                      capabilities=dict(caps) if isinstance(caps, dict) else None)


AGENCY_TYPE = "BALIS"  # agencyIdType of the members' default agency ids
PEER_VERSIONS = ("1.2", "2017", "2021")  # ISO 18626 forms a peer may speak (balis writes the v1.2 schema's form)
PEER_SERVICES = ("loan", "copy")


@dataclass(frozen=True, slots=True)
class Peer:
    """Another ILL network balis exchanges ISO 18626 messages with ([[peers]] in the registry; docs/iso18626.md).

    `agency_id` (TYPE:VALUE) is the agency requests to it are addressed to; `agencies` are further agency ids
    its messages may come from (a trailing * matches any value: "BALIS:*"). The shared secret is never in the
    registry: `secret_env` or `secret_file` says where it is kept; `secret()` reads it when needed.
    """

    code: str
    name: str
    agency_id: str
    endpoint: str
    version: str = "1.2"
    services: frozenset[str] = frozenset(PEER_SERVICES)
    agencies: tuple[str, ...] = ()
    secret_env: str | None = None
    secret_file: str | None = None
    active: bool = True

    def takes(self, kind: str) -> bool:
        return self.active and kind in self.services

    def speaks_for(self, agency: str) -> bool:
        """Whether a message from agency id `agency` (TYPE:VALUE) may come from this peer."""
        for pattern in (self.agency_id, *self.agencies):
            if agency == pattern or (pattern.endswith("*") and agency.startswith(pattern[:-1])):
                return True
        return False

    def secret(self) -> str:
        """The shared secret, read now from its variable or file; CredentialsError (never showing it) if it
        cannot be read. "" when the registry names none (the peer cannot be authenticated then)."""
        return Credentials(self.code, password_env=self.secret_env, password_file=self.secret_file).password()

    def describe_secret(self) -> str:
        return (f"${self.secret_env}" if self.secret_env else self.secret_file) or "none"


@dataclass(frozen=True, slots=True)
class Registry:
    path: Path
    members: tuple[Member, ...]
    peers: tuple[Peer, ...] = ()
    copy: CopyRules = field(default_factory=CopyRules)  # the consortium's document-delivery rules ([copy])

    def peer(self, code: str) -> Peer | None:
        return next((p for p in self.peers if p.code == code.upper()), None)

    def peer_for_agency(self, agency: str) -> Peer | None:
        """The peer whose messages may come from agency id `agency`, or None."""
        return next((p for p in self.peers if p.speaks_for(agency)), None)

    def member_for_agency(self, agency: str) -> Member | None:
        """The member whose agency id is `agency`, or None."""
        return next((m for m in self.members if m.agency == agency), None)

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
        from members.pinyin import pinyin_keys  # kept between processes: pypinyin takes 300 ms to import

        keys = pinyin_keys(m.name for m in self.members)
        return sorted(self.members, key=lambda m: (keys[m.name], m.name))


def pinyin_key(text: str) -> tuple[str, str]:
    """Sort key for Chinese names in pinyin order (the order readers and staff expect)."""
    from members.pinyin import pinyin_keys

    return (pinyin_keys([text])[text], text)
