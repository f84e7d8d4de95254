"""A schematic map of Beijing's 16 districts (tiles in roughly their places), with member libraries as dots.

Drawn here as plain shapes for an inline SVG: no map tiles, no external service. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from members import Member

TILE_W, TILE_H, GAP, MARGIN = 120, 92, 6, 10
DOT_R, DOT_STEP, DOT_TOP = 5, 13, 30

# district → (column, row) on the schematic grid: north at the top, the old city in the middle.
DISTRICTS: dict[str, tuple[int, int]] = {
    "延庆区": (1, 0), "怀柔区": (3, 0), "密云区": (4, 0),
    "昌平区": (2, 1), "顺义区": (4, 1), "平谷区": (5, 1),
    "门头沟区": (0, 2), "海淀区": (1, 2), "西城区": (2, 2), "东城区": (3, 2), "朝阳区": (4, 2), "通州区": (5, 2),
    "房山区": (0, 3), "石景山区": (1, 3), "丰台区": (2, 3), "大兴区": (3, 3),
}  # fmt: skip
COLUMNS, ROWS = 6, 4
# The six urban districts (城六区) are drawn in a darker shade.
URBAN = frozenset({"东城区", "西城区", "朝阳区", "海淀区", "丰台区", "石景山区"})


@dataclass(frozen=True, slots=True)
class Dot:
    code: str
    name: str
    x: int
    y: int
    active: bool


@dataclass(frozen=True, slots=True)
class Tile:
    district: str
    x: int
    y: int
    w: int
    h: int
    urban: bool
    dots: tuple[Dot, ...]


@dataclass(frozen=True, slots=True)
class SchematicMap:
    width: int
    height: int
    tiles: tuple[Tile, ...]
    unplaced: tuple[Member, ...]  # members whose district is not one of the 16


def normalise_district(name: str | None) -> str | None:
    """'海淀' and '海淀区' both name 海淀区; None or an unknown place gives None."""
    if not name:
        return None
    name = name.strip()
    if name in DISTRICTS:
        return name
    if name + "区" in DISTRICTS:
        return name + "区"
    return None


def schematic(members: Iterable[Member]) -> SchematicMap:
    """Tiles for every district with each member as a dot in its district's tile (in the order given)."""
    by_district: dict[str, list[Member]] = {d: [] for d in DISTRICTS}
    unplaced: list[Member] = []
    for m in members:
        d = normalise_district(m.district)
        if d is None:
            unplaced.append(m)
        else:
            by_district[d].append(m)
    per_row = (TILE_W - 2 * 8) // DOT_STEP + 1
    tiles = []
    for district, (col, row) in DISTRICTS.items():
        x = MARGIN + col * (TILE_W + GAP)
        y = MARGIN + row * (TILE_H + GAP)
        dots = []
        for i, m in enumerate(by_district[district]):
            dx = x + 10 + (i % per_row) * DOT_STEP
            dy = y + DOT_TOP + (i // per_row) * DOT_STEP
            if dy > y + TILE_H - DOT_R:  # more members than the tile holds: the list below names them all
                break
            dots.append(Dot(m.code, m.name, dx, dy, m.active))
        tiles.append(Tile(district, x, y, TILE_W, TILE_H, district in URBAN, tuple(dots)))
    width = 2 * MARGIN + COLUMNS * TILE_W + (COLUMNS - 1) * GAP
    height = 2 * MARGIN + ROWS * TILE_H + (ROWS - 1) * GAP
    return SchematicMap(width, height, tuple(tiles), tuple(unplaced))
