"""Courier distances between the districts members sit in (config/districts.toml)."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from members import paths
from routing.errors import RoutingError

DEFAULT_DISTRICTS = paths.config_file("districts.toml")
EARTH_KM = 6371.0


@dataclass(frozen=True, slots=True)
class Districts:
    """District centres and the road factor; `km(a, b)` is the courier's road distance, None if unknown."""

    centres: dict[str, tuple[float, float]] = field(default_factory=dict)
    road_factor: float = 1.3

    def km(self, a: str | None, b: str | None) -> float | None:
        if not a or not b:
            return None
        if a == b:
            return 0.0
        pa, pb = self.centres.get(a), self.centres.get(b)
        if pa is None or pb is None:
            return None
        return round(self.road_factor * great_circle_km(pa, pb), 1)


def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(h))


def parse_districts(doc: dict, source: str = "districts") -> Districts:
    """Check a parsed districts table; a bad entry raises RoutingError naming the file and the district."""
    factor = doc.get("road_factor", 1.3)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 1 <= factor <= 3:
        raise RoutingError(f"{source}: 'road_factor' must be a number between 1 and 3, found {factor!r}")
    table = doc.get("district", {})
    if not isinstance(table, dict):
        raise RoutingError(f"{source}: [district.\"NAME\"] tables expected")
    centres = {}
    for name, entry in table.items():
        lat = entry.get("lat") if isinstance(entry, dict) else None
        lon = entry.get("lon") if isinstance(entry, dict) else None
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lat, lon))
        if not ok or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise RoutingError(f"{source}: district {name!r} needs lat (-90..90) and lon (-180..180) in degrees")
        centres[name] = (float(lat), float(lon))
    return Districts(centres, float(factor))


@lru_cache(maxsize=8)
def load_districts(path: str | Path = DEFAULT_DISTRICTS) -> Districts:
    """Read a districts file (the shipped config/districts.toml by default)."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RoutingError(f"{p}: districts file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RoutingError(f"{p}: cannot be read as UTF-8 TOML: {exc}") from None
    return parse_districts(doc, str(p))
