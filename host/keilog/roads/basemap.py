"""The offline base map: minor roads, water and place names, kept in the road file.

``keilog roads build`` reads them from the same OpenStreetMap extract as the car roads
(:class:`BaseMapCollector` is fed each OSM object of that one pass) and stores them beside
the roads as ``base_*`` arrays; the report draws them around a route (see
``keilog.report.svgmap``), so a trip's map has context without any network.

The car roads themselves are not stored twice: the base map draws them from the road
arrays (``coords``/``offsets``/``highway``). What is added:

- lines: roads no car rule looks at (``track``, ``pedestrian``, ``busway``), rivers,
  canals, streams and ditches (``waterway=*``) and the coastline (``natural=coastline``);
- areas: water (``natural=water``, ``waterway=riverbank``, ``landuse=reservoir``, closed
  ways and multipolygon relations, assembled by osmium's area handler);
- places: ``place=city|town|village|hamlet`` nodes with a name.

Geometry is simplified to about a metre and rounded to 1e-5 degree (1.1 m; the report never
draws closer than 400 m across 960 pixels, 0.4 m a pixel, and usually at several metres a
pixel), then stored as int32 steps from the previous vertex, all x steps then all y steps,
which ``np.savez_compressed`` packs to about 2.6 bytes a vertex (Monaco's extract: 46 kB
for 18,000 vertices, 68 kB at micro-degrees, 140 kB as float64). No library offers this
delta coding for numpy arrays; it is two lines each way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import osmium
import shapely

from keilog.roads.errors import NPZ_ERRORS, RoadsError

if TYPE_CHECKING:
    from keilog.roads.index import RoadIndex

BASEMAP_VERSION = 1

LINE_KINDS = (
    "track",
    "pedestrian",
    "busway",
    "river",
    "canal",
    "stream",
    "ditch",
    "coastline",
)
"""Kinds of the base map's lines (their index is stored)."""
AREA_KINDS = ("water",)
PLACE_KINDS = ("city", "town", "village", "hamlet")
"""Place kinds, the most important first."""

WATERWAY_LINES = {
    "river": "river",
    "canal": "canal",
    "stream": "stream",
    "ditch": "ditch",
    "drain": "ditch",
}
EXTRA_HIGHWAYS = ("track", "pedestrian", "busway")
"""Roads drawn on the base map that are not in the road file's car roads."""

SIMPLIFY_DEG = 1e-5
"""Douglas-Peucker tolerance for base-map geometry (about 1 m)."""
GRID = 1e5
"""Base-map coordinates are kept in units of 1 / GRID degree."""

OSM_KEYS = ("highway", "natural", "waterway", "place", "landuse")
"""Keys of the OSM objects the road build reads (the car roads need only highway)."""


def _is_water_area(tags: Any) -> bool:
    return (
        tags.get("natural") == "water"
        or tags.get("waterway") == "riverbank"
        or tags.get("landuse") == "reservoir"
    )


def line_kind(tags: Any) -> str | None:
    """The base-map line kind of an OSM way's tags (None: not a base-map line)."""
    highway = tags.get("highway")
    if highway in EXTRA_HIGHWAYS:
        return str(highway)
    waterway = tags.get("waterway")
    if waterway in WATERWAY_LINES:
        return WATERWAY_LINES[waterway]
    if tags.get("natural") == "coastline":
        return "coastline"
    return None


def encode_xy(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.int32]:
    """lon/lat degrees (n, 2) -> int32 steps of 1/GRID degree from the previous vertex,
    as (2, n): the x steps, then the y steps (they compress better apart)."""
    q = np.round(np.asarray(coords, dtype=np.float64).reshape(-1, 2).T * GRID).astype(np.int64)
    return np.ascontiguousarray(np.diff(q, axis=1, prepend=0).astype(np.int32))


def decode_xy(steps: npt.NDArray[np.int32]) -> npt.NDArray[np.float64]:
    """The inverse of :func:`encode_xy`: lon/lat degrees, (n, 2)."""
    return np.cumsum(steps.astype(np.int64), axis=1).T / GRID


class BaseMapCollector:
    """Collects base-map features from the OSM objects of the road build's one pass."""

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.lines: list[bytes] = []
        self.line_kind: list[int] = []
        self.areas: list[bytes] = []
        self.area_kind: list[int] = []
        self.place_xy: list[tuple[float, float]] = []
        self.place_kind: list[int] = []
        self.place_name: list[str] = []
        self.skipped = 0

    def node(self, obj: Any) -> None:
        tags = obj.tags
        kind = tags.get("place")
        name = tags.get("name")
        if kind in PLACE_KINDS and name and obj.location.valid():
            self.place_xy.append((obj.location.lon, obj.location.lat))
            self.place_kind.append(PLACE_KINDS.index(kind))
            self.place_name.append(name)

    def way(self, obj: Any) -> None:
        kind = line_kind(obj.tags)
        if kind is None:
            return
        try:
            self.lines.append(self.factory.create_linestring(obj))
        except (osmium.InvalidLocationError, RuntimeError):  # cut at the extract's edge
            self.skipped += 1
            return
        self.line_kind.append(LINE_KINDS.index(kind))

    def area(self, obj: Any) -> None:
        if not _is_water_area(obj.tags):
            return
        try:
            self.areas.append(self.factory.create_multipolygon(obj))
        except (osmium.InvalidLocationError, RuntimeError):
            self.skipped += 1
            return
        self.area_kind.append(AREA_KINDS.index("water"))

    def arrays(self) -> dict[str, npt.NDArray[Any]]:
        """The ``base_*`` arrays of the road file."""
        out: dict[str, npt.NDArray[Any]] = {}
        lines = shapely.from_wkb(np.array(self.lines, dtype=object))
        lines = shapely.simplify(lines, SIMPLIFY_DEG)
        kinds = np.array(self.line_kind, dtype=np.uint8)
        coords, offsets = _ragged(lines, shapely.GeometryType.LINESTRING)
        out["base_line_xy"] = encode_xy(coords)
        out["base_line_offsets"] = offsets[0]
        out["base_line_kind"] = kinds
        areas = shapely.from_wkb(np.array(self.areas, dtype=object))
        # one polygon per row: a multipolygon's parts each keep the area's kind
        parts, which = shapely.get_parts(areas, return_index=True)
        parts = shapely.simplify(parts, SIMPLIFY_DEG)
        keep = ~shapely.is_empty(parts)
        parts, which = parts[keep], which[keep]
        coords, offsets = _ragged(parts, shapely.GeometryType.POLYGON)
        out["base_area_xy"] = encode_xy(coords)
        out["base_area_ring_offsets"] = offsets[0]
        out["base_area_offsets"] = offsets[1]
        out["base_area_kind"] = np.array(self.area_kind, dtype=np.uint8)[which]
        out["base_place_xy"] = np.round(
            np.array(self.place_xy, dtype=np.float64).reshape(-1, 2) * GRID
        ).astype(np.int32)
        out["base_place_kind"] = np.array(self.place_kind, dtype=np.uint8)
        out["base_place_name"] = np.array(self.place_name, dtype=str)
        return out

    def meta(self) -> dict[str, Any]:
        return {
            "version": BASEMAP_VERSION,
            "line_kinds": list(LINE_KINDS),
            "area_kinds": list(AREA_KINDS),
            "place_kinds": list(PLACE_KINDS),
            "lines": len(self.lines),
            "areas": len(self.areas),
            "places": len(self.place_name),
            "skipped_incomplete": self.skipped,
        }


def _ragged(
    geoms: npt.NDArray[Any], kind: shapely.GeometryType
) -> tuple[npt.NDArray[np.float64], tuple[npt.NDArray[np.int64], ...]]:
    if len(geoms):
        _, coords, offsets = shapely.to_ragged_array(geoms)
        return np.asarray(coords), tuple(np.asarray(o, dtype=np.int64) for o in offsets)
    depth = 1 if kind == shapely.GeometryType.LINESTRING else 2
    return np.zeros((0, 2)), tuple(np.zeros(1, dtype=np.int64) for _ in range(depth))


@dataclass(frozen=True)
class Bounds:
    """A lon/lat box: west, south, east, north (degrees)."""

    west: float
    south: float
    east: float
    north: float


@dataclass(frozen=True)
class Feature:
    """One line or area of the base map, clipped to a box: a kind and lon/lat geometry."""

    kind: str
    geometry: Any  # shapely LineString/MultiLineString or Polygon/MultiPolygon, lon/lat


@dataclass(frozen=True)
class Place:
    kind: str
    name: str
    lon: float
    lat: float


@dataclass(frozen=True)
class BaseMapLayers:
    """The base map inside one box, ready to draw."""

    roads: list[Feature]  # every road, car roads by their highway class (``_link`` dropped)
    lines: list[Feature]  # waterways, coastline
    areas: list[Feature]  # water
    places: list[Place]

    def __bool__(self) -> bool:
        return bool(self.roads or self.lines or self.areas or self.places)


class BaseMap:
    """The base-map layers of a road file (and its car roads), clipped on demand."""

    def __init__(
        self,
        road_coords: npt.NDArray[np.float64],
        road_offsets: npt.NDArray[np.int64],
        road_highway: npt.NDArray[np.str_],
        base: dict[str, npt.NDArray[Any]],
    ) -> None:
        self.roads = _Lines(road_coords, road_offsets)
        self.road_highway = road_highway
        self.has_layers = bool(base)
        if base:
            self.lines = _Lines(decode_xy(base["base_line_xy"]), base["base_line_offsets"])
            self.line_kind = base["base_line_kind"]
            self.area_xy = decode_xy(base["base_area_xy"])
            self.area_rings = base["base_area_ring_offsets"]
            self.area_offsets = base["base_area_offsets"]
            self.area_kind = base["base_area_kind"]
            self.place_xy = base["base_place_xy"] / GRID
            self.place_kind = base["base_place_kind"]
            self.place_name = base["base_place_name"]

    @classmethod
    def of(cls, index: RoadIndex) -> BaseMap:
        """The base map of a loaded road file (only its roads, if it was built without)."""
        base: dict[str, npt.NDArray[Any]] = {}
        if index.meta.get("basemap", {}).get("version") == BASEMAP_VERSION:
            try:
                with np.load(index.path, allow_pickle=False) as z:
                    base = {k: z[k] for k in z.files if k.startswith("base_")}
            except NPZ_ERRORS as exc:
                raise RoadsError(
                    f"{index.path}: the base map cannot be read ({exc}); rebuild the road "
                    "file with keilog roads build"
                ) from None
        return cls(index.a["coords"], index.a["offsets"], index.a["highway"], base)

    def within(self, box: Bounds) -> BaseMapLayers:
        """Everything that touches ``box``, clipped to it."""
        roads = []
        for i, geom in self.roads.clipped(box):
            highway = str(self.road_highway[i]).removesuffix("_link")
            roads.append(Feature(highway, geom))
        if not self.has_layers:
            return BaseMapLayers(roads, [], [], [])
        lines: list[Feature] = []
        for i, geom in self.lines.clipped(box):
            kind = LINE_KINDS[int(self.line_kind[i])]
            (roads if kind in EXTRA_HIGHWAYS else lines).append(Feature(kind, geom))
        areas = [Feature(AREA_KINDS[int(self.area_kind[i])], g) for i, g in self._areas(box)]
        x, y = self.place_xy[:, 0], self.place_xy[:, 1]
        inside = (x >= box.west) & (x <= box.east) & (y >= box.south) & (y <= box.north)
        places = [
            Place(
                PLACE_KINDS[int(self.place_kind[i])],
                str(self.place_name[i]),
                float(x[i]),
                float(y[i]),
            )
            for i in np.flatnonzero(inside)
        ]
        return BaseMapLayers(roads, lines, areas, places)

    def _areas(self, box: Bounds) -> list[tuple[int, Any]]:
        n = len(self.area_offsets) - 1
        if n <= 0:
            return []
        # each polygon's vertices: from its first ring's start to its last ring's end
        starts = self.area_rings[self.area_offsets[:-1]]
        ends = self.area_rings[self.area_offsets[1:]]
        hit = _bbox_hits(self.area_xy, starts, ends, box)
        out = []
        for i in np.flatnonzero(hit):
            a, b = self.area_offsets[i], self.area_offsets[i + 1]
            rings = [self.area_xy[self.area_rings[r] : self.area_rings[r + 1]] for r in range(a, b)]
            poly = shapely.Polygon(rings[0], rings[1:])
            geom = shapely.clip_by_rect(poly, box.west, box.south, box.east, box.north)
            if not geom.is_empty:
                out.append((int(i), geom))
        return out


def _bbox_hits(
    xy: npt.NDArray[np.float64],
    starts: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
    box: Bounds,
) -> npt.NDArray[np.bool_]:
    """Which runs xy[starts[i]:ends[i]] have a bounding box that meets ``box``."""
    nonempty = ends > starts
    lo = np.full((len(starts), 2), np.inf)
    hi = np.full((len(starts), 2), -np.inf)
    if nonempty.any():
        lo[nonempty] = np.minimum.reduceat(xy, starts[nonempty])
        hi[nonempty] = np.maximum.reduceat(xy, starts[nonempty])
    return (
        (hi[:, 0] >= box.west)
        & (lo[:, 0] <= box.east)
        & (hi[:, 1] >= box.south)
        & (lo[:, 1] <= box.north)
    )


class _Lines:
    """Ragged lon/lat lines (coords and offsets), clipped to a box on demand."""

    def __init__(self, xy: npt.NDArray[np.float64], offsets: npt.NDArray[np.int64]) -> None:
        self.xy = xy
        self.offsets = offsets

    def clipped(self, box: Bounds) -> list[tuple[int, Any]]:
        starts, ends = self.offsets[:-1], self.offsets[1:]
        if not len(starts):
            return []
        hit = np.flatnonzero(_bbox_hits(self.xy, starts, ends, box) & (ends - starts >= 2))
        if not len(hit):
            return []
        counts = (ends - starts)[hit]
        group = np.repeat(np.arange(len(hit)), counts)
        vertex = np.repeat(starts[hit] - np.cumsum(counts) + counts, counts) + np.arange(
            counts.sum()
        )
        lines = shapely.linestrings(self.xy[vertex], indices=group)
        clipped = shapely.clip_by_rect(lines, box.west, box.south, box.east, box.north)
        keep = ~shapely.is_empty(clipped)
        return [(int(i), g) for i, g in zip(hit[keep], clipped[keep], strict=True)]
