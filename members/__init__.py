"""The bottom layer: frozen member values and the registry loader. Imports no other package of the project."""

from members import paths
from members.registry import (
    DEFAULT_REGISTRY,
    load_registry,
    parse_auth,
    parse_lending,
    resolve_registry_path,
    with_member_states,
)
from members.values import (
    CHARSETS,
    DEFAULT_HARVEST_RATE,
    DEFAULT_LENDING,
    DEFAULT_NOT_FOR_LOAN,
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
    Credentials,
    CredentialsError,
    DeliveryMethod,
    Endpoint,
    FineRule,
    LendingPolicy,
    Member,
    Peer,
    PickupPoint,
    Registry,
    RegistryError,
    Target,
    pinyin_key,
)

__all__ = [
    "CHARSETS", "DEFAULT_HARVEST_RATE", "DEFAULT_LENDING", "DEFAULT_NOT_FOR_LOAN", "DEFAULT_REGISTRY", "DESK",
    "HARVEST_DELETIONS", "ILS_NAMES", "LOGIN_FORMS", "MATERIAL_TYPES", "PEER_SERVICES", "PEER_VERSIONS", "PROTOCOLS",
    "SRU_VERSIONS", "STATUSES", "SYNTAXES", "Contact", "Credentials", "CredentialsError", "DeliveryMethod", "Endpoint", "FineRule",
    "LendingPolicy", "Member", "Peer", "PickupPoint", "Registry", "RegistryError", "Target", "load_registry", "parse_auth", "parse_lending",
    "paths", "pinyin_key", "resolve_registry_path", "with_member_states",
]
