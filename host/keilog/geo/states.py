"""Which US state (or DC) a point is in, offline, after deciding whether it is in the US.

The boundaries are the US Census 1:500,000 cartographic boundary polygons simplified with
``shapely.coverage_simplify`` at 0.002 degrees (at most about 94 m from the Census
lines), built by ``scripts/build_states.py`` into ``geo/data/states.npz``. Lookups are
vectorised: per state, a bounding-box mask and ``shapely.contains_xy`` on the prepared
polygon.

Country first: the Census polygons stop at the US border but say nothing about what lies
beyond it, so a point in Tijuana 50 m from the line could fall in a simplified California,
and a point in Canadian water would take the nearest state. ``keilog.geo.countries``
holds the land and water of the neighbouring countries and of the US territories; a
point in them never gets a state.

Two more things the state polygons cannot do alone:

- They are clipped to the shoreline, so points on bridges or with GPS drift over water
  fall in no polygon. Those fall back to the nearest state within 25 km, marked low
  confidence (the Delaware Memorial Bridge is legally Delaware but nearest to New Jersey).
- Near a state line the answer is only as good as the error budget: the simplification
  (94 m), differences between Census vintages (median 32 m) and GPS error. Points within
  ``NEAR_BORDER_M`` of another state are flagged ``near_border``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from keilog.geo.countries import COUNTRY_NAMES, TERRITORY_NAMES, CountryIndex, read_multipolygons
from keilog.geo.errors import GeoError

DATA_FILE = Path(__file__).resolve().parent / "data" / "states.npz"
COUNTRIES_FILE = Path(__file__).resolve().parent / "data" / "countries.npz"

NEAR_BORDER_M = 150.0
"""Error budget near a state line: simplification (<= 94 m) + Census vintage differences
(median 32 m) + GPS error (~25 m), rounded up."""

WATER_FALLBACK_M = 25_000.0
"""Points in no polygon take the nearest state within this distance (low confidence)."""

M_PER_DEG = 111_195.0  # metres per degree of latitude (mean Earth radius 6,371 km)

_CORE_MIN_POINTS = 2000  # build a state's shrunk core only for lookups this large
_BAND_DEG = 0.5  # latitude bands for the metric distances of the water fallback


@dataclass(frozen=True)
class Where:
    """Where one point is."""

    state: str | None
    confidence: str | None  # "high" inside a polygon, "low" by the water fallback
    method: str  # "polygon", "nearest" (water fallback), "country", "territory" or "none"
    near_border: bool  # another state or a foreign country within the error budget
    distance_m: float | None  # 0 inside a polygon; to the nearest state for "nearest"
    country: str | None = None  # "US", a neighbour's ISO 3166 code, or None: not known
    territory: str | None = None  # PR, VI, GU, MP, AS or UM: in the US, not covered

    @property
    def covered(self) -> bool:
        """Whether keilog has rules for this place (a state or DC)."""
        return self.state is not None

    @property
    def place(self) -> str:
        """A short human description of where the point is."""
        if self.state:
            return self.state
        if self.territory:
            return f"{TERRITORY_NAMES[self.territory]} (US territory, not covered)"
        if self.country:
            return f"outside the US: {COUNTRY_NAMES.get(self.country, self.country)}"
        return "outside the US"

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "country": self.country,
            "territory": self.territory,
            "covered": self.covered,
            "confidence": self.confidence,
            "method": self.method,
            "near_border": self.near_border,
            "distance_m": None if self.distance_m is None else round(self.distance_m, 1),
        }


@dataclass(frozen=True)
class WhereArrays:
    """Where many points are: one entry per point, in input order."""

    state: npt.NDArray[np.str_]  # "" where no state
    fallback: npt.NDArray[np.bool_]
    near_border: npt.NDArray[np.bool_]
    distance_m: npt.NDArray[np.float64]  # NaN where no state
    country: npt.NDArray[np.str_]  # "US", a neighbour's code, or "" where not known
    territory: npt.NDArray[np.str_]  # "" unless in a US territory

    def __len__(self) -> int:
        return len(self.state)

    @property
    def abroad(self) -> npt.NDArray[np.bool_]:
        """Points known to be outside the US (in a neighbouring country)."""
        return (self.country != "") & (self.country != "US")

    def __getitem__(self, i: int) -> Where:
        code = str(self.state[i])
        country = str(self.country[i]) or None
        territory = str(self.territory[i]) or None
        near = bool(self.near_border[i])
        if not code:
            method = "territory" if territory else "country" if country else "none"
            return Where(None, None, method, near, None, country, territory)
        fb = bool(self.fallback[i])
        return Where(
            code,
            "low" if fb else "high",
            "nearest" if fb else "polygon",
            near,
            float(self.distance_m[i]),
            "US",
            None,
        )


class StateIndex:
    """The state polygons, prepared for fast point lookups."""

    def __init__(
        self,
        codes: list[str],
        polygons: npt.NDArray[Any],
        meta: dict[str, Any],
        countries: CountryIndex | None = None,
    ):
        self.codes = list(codes)
        self.countries = countries
        self.polygons = polygons
        self.meta = meta
        self.boundaries = shapely.boundary(polygons)
        shapely.prepare(self.polygons)
        shapely.prepare(self.boundaries)
        self.bounds = shapely.bounds(polygons)  # (n, 4): xmin, ymin, xmax, ymax
        self._cores: dict[int, Any] = {}
        self._tiles: dict[tuple[int, int, int], Any] = {}

    @classmethod
    def load(cls, path: Path = DATA_FILE, countries: Path | None = COUNTRIES_FILE) -> StateIndex:
        """Read a boundary file written by ``scripts/build_states.py`` and the file of the
        neighbouring countries written by ``scripts/build_countries.py`` (None: without)."""
        country_index = CountryIndex.load(countries) if countries is not None else None
        return cls(*read_multipolygons(path, "states"), country_index)

    def lookup(self, lat: npt.ArrayLike, lon: npt.ArrayLike) -> WhereArrays:
        """Look up many points at once (non-finite coordinates give no state)."""
        y = np.asarray(lat, dtype=np.float64).ravel()
        x = np.asarray(lon, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise GeoError(f"got {len(y)} latitudes but {len(x)} longitudes")
        idx = np.full(len(x), -1, dtype=np.int64)
        finite = np.isfinite(x) & np.isfinite(y)
        for k, (x0, y0, x1, y1) in enumerate(self.bounds):
            m = np.flatnonzero(finite & (idx < 0) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
            if len(m):
                hit = shapely.contains_xy(self.polygons[k], x[m], y[m])
                idx[m[hit]] = k
        near = np.zeros(len(x), dtype=bool)
        edge = np.zeros(len(x), dtype=bool)
        distance = np.where(idx >= 0, 0.0, np.nan)
        fallback = np.zeros(len(x), dtype=bool)
        self._flag_near_border(x, y, idx, near, edge)
        cidx = self._country_first(x, y, finite, idx, near, edge)
        todo = np.flatnonzero(finite & (idx < 0) & (cidx < 0))
        if len(todo):
            self._water_fallback(x, y, todo, idx, near, distance, fallback)
        distance[idx < 0] = np.nan
        codes = np.array([*self.codes, ""])[idx]  # idx -1 picks ""
        ccodes = self.countries.codes if self.countries is not None else []
        country_of = np.array([*ccodes, ""])[cidx]
        is_territory = np.array([c in TERRITORY_NAMES for c in ccodes] + [False])[cidx]
        country = np.where(idx >= 0, "US", np.where(is_territory, "US", country_of))
        territory = np.where(is_territory, country_of, "")
        return WhereArrays(codes, fallback, near, distance, country, territory)

    def _country_first(
        self,
        x: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        finite: npt.NDArray[np.bool_],
        idx: npt.NDArray[np.int64],
        near: npt.NDArray[np.bool_],
        edge: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.int64]:
        """Which foreign country or US territory each point is in (-1: none); a point in
        one loses its state. Points deep inside a state cannot be abroad (the simplified
        state lines are within the error budget of the real ones), so only points near
        their state's boundary, or in no state, are tested."""
        cidx = np.full(len(x), -1, dtype=np.int64)
        if self.countries is None:
            return cidx
        test = np.flatnonzero(finite & ((idx < 0) | edge))
        if not len(test):
            return cidx
        cidx[test] = self.countries.lookup(x[test], y[test])
        abroad = (idx >= 0) & (cidx >= 0)
        idx[abroad] = -1
        near[abroad] = True
        home = test[(idx[test] >= 0)]
        if len(home):
            near[home] |= self.countries.near(
                x[home], y[home], self._degrees(NEAR_BORDER_M, y[home])
            )
        return cidx

    def where(self, lat: float, lon: float) -> Where:
        """Look up one point; raises GeoError for impossible coordinates."""
        if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
            raise GeoError(
                f"({lat}, {lon}) is not a position; give LAT in -90..90 and LON in -180..180 "
                "degrees (LAT first)"
            )
        return self.lookup([lat], [lon])[0]

    def _degrees(self, metres: float, y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """A distance in degrees that covers ``metres`` in every direction at latitude y."""
        with np.errstate(invalid="ignore"):  # non-finite latitudes are never used
            coslat = np.maximum(np.cos(np.radians(y)), 0.05)
        return np.asarray(metres / (M_PER_DEG * coslat), dtype=np.float64)

    def _flag_near_border(
        self,
        x: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        idx: npt.NDArray[np.int64],
        near: npt.NDArray[np.bool_],
        edge: npt.NDArray[np.bool_],
    ) -> None:
        # ``edge`` gets the points within the budget of their own state's boundary.
        # A point far from its own state's boundary is far from every other state (the
        # polygons are a coverage), so only points near their own boundary are tested
        # against the neighbours; that keeps coastlines from being flagged.
        d = self._degrees(NEAR_BORDER_M, y)
        for k in range(len(self.codes)):
            own = np.flatnonzero(idx == k)
            if len(own) > _CORE_MIN_POINTS:
                # Points inside the state shrunk by the budget are certainly not near.
                own = own[~shapely.contains_xy(self._core(k), x[own], y[own])]
            if not len(own):
                continue
            close = own[shapely.dwithin(self.boundaries[k], shapely.points(x[own], y[own]), d[own])]
            if not len(close):
                continue
            edge[close] = True
            pts = shapely.points(x[close], y[close])
            for j, (x0, y0, x1, y1) in enumerate(self.bounds):
                if j == k:
                    continue
                dd = d[close]
                m = (x[close] >= x0 - dd) & (x[close] <= x1 + dd)
                m &= (y[close] >= y0 - dd) & (y[close] <= y1 + dd)
                if m.any():
                    hit = shapely.dwithin(self.polygons[j], pts[m], dd[m])
                    near[close[m][hit]] = True

    def _core(self, k: int) -> Any:
        """State k shrunk by at least NEAR_BORDER_M everywhere (built on first use)."""
        if k not in self._cores:
            worst_lat = max(abs(self.bounds[k][1]), abs(self.bounds[k][3]))
            d = float(self._degrees(NEAR_BORDER_M, np.array([worst_lat]))[0])
            # Two segments per quarter circle: the chords of the arcs around concave
            # corners lie inside the arcs, so the shrink is by d / cos(22.5 degrees) to
            # keep every point of the core at least d from the boundary.
            core = shapely.buffer(self.polygons[k], -d / math.cos(math.pi / 8), quad_segs=2)
            shapely.prepare(core)
            self._cores[k] = core
        return self._cores[k]

    def _tile_piece(self, k: int, tx: int, ty: int) -> Any:
        """State k within the 1-degree tile whose south-west corner is (tx, ty) (cached:
        clipping a big state is the slow part)."""
        key = (k, tx, ty)
        if key not in self._tiles:
            self._tiles[key] = shapely.clip_by_rect(self.polygons[k], tx, ty, tx + 1, ty + 1)
        return self._tiles[key]

    def _water_fallback(
        self,
        x: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        todo: npt.NDArray[np.int64],
        idx: npt.NDArray[np.int64],
        near: npt.NDArray[np.bool_],
        distance: npt.NDArray[np.float64],
        fallback: npt.NDArray[np.bool_],
    ) -> None:
        # Every step depends on the point alone, never on which other points are looked
        # up with it, so a batch gives bit for bit the answers of one-point lookups:
        # - which states are measured: those within the reach in degrees (generous, so
        #   it covers the metric disk; only the metric distance below decides);
        # - the metric frame: a local equirectangular one per band of latitude (the scale
        #   changes by under 2 % across a band at 60 degrees north);
        # - what is measured: the pieces of the state in the fixed 1-degree tiles that
        #   the point's disk of the reach touches, so the nearest distance is the
        #   distance to the state whenever it is within the reach. The reach includes
        #   NEAR_BORDER_M, so a second state that makes the point near_border is measured.
        reach = WATER_FALLBACK_M + NEAR_BORDER_M
        d = self._degrees(reach * 1.02, y[todo])
        pts = shapely.points(x[todo], y[todo])
        candidate = np.zeros((len(todo), len(self.codes)), dtype=bool)
        for k, (x0, y0, x1, y1) in enumerate(self.bounds):
            m = (x[todo] >= x0 - d) & (x[todo] <= x1 + d)
            m &= (y[todo] >= y0 - d) & (y[todo] <= y1 + d)
            if m.any():
                candidate[np.flatnonzero(m), k] = shapely.dwithin(self.polygons[k], pts[m], d[m])
        keep = candidate.any(axis=1)
        todo, candidate = todo[keep], candidate[keep]
        if not len(todo):
            return
        px, py = x[todo], y[todo]
        band = np.floor(py / _BAND_DEG).astype(np.int64)
        coslat = np.maximum(np.cos(np.radians((band + 0.5) * _BAND_DEG)), 0.05)
        dy = reach * 1.001 / M_PER_DEG
        dx = dy / coslat
        # (point, state, tile) triples: every tile of the point's disk, for each state.
        pt, st = np.nonzero(candidate)
        tx0 = np.floor(px[pt] - dx[pt]).astype(np.int64)
        tx1 = np.floor(px[pt] + dx[pt]).astype(np.int64)
        ty0 = np.floor(py[pt] - dy).astype(np.int64)
        ty1 = np.floor(py[pt] + dy).astype(np.int64)
        wide, tall = tx1 - tx0 + 1, ty1 - ty0 + 1
        many = wide * tall
        rep = np.repeat(np.arange(len(pt)), many)
        step = np.arange(len(rep)) - np.repeat(np.cumsum(many) - many, many)
        pt, st = pt[rep], st[rep]
        tx = tx0[rep] + step % wide[rep]
        ty = ty0[rep] + step // wide[rep]
        # One metric piece per (state, tile, band); one vectorised distance for all.
        # Packed (state, tile x, tile y, band) key; tiles and bands cover -180..180, -90..90.
        key = ((st * 400 + tx + 200) * 200 + ty + 100) * 400 + band[pt] + 200
        packed, which = np.unique(key, return_inverse=True)
        groups = np.stack(
            [
                packed // 32_000_000,
                packed // 80_000 % 400 - 200,
                packed // 400 % 200 - 100,
                packed % 400 - 200,
            ],
            axis=1,
        )
        pieces = np.array(
            [self._tile_piece(int(g[0]), int(g[1]), int(g[2])) for g in groups], dtype=object
        )
        scale = np.stack(
            [
                M_PER_DEG * np.maximum(np.cos(np.radians((groups[:, 3] + 0.5) * _BAND_DEG)), 0.05),
                np.full(len(groups), M_PER_DEG),
            ],
            axis=1,
        )
        _, owner = shapely.get_coordinates(pieces, return_index=True)
        local = shapely.transform(pieces, lambda c: c * scale[owner])
        where_pt = np.stack([px, py], axis=1)[pt] * scale[which.ravel()]
        far = shapely.distance(local[which.ravel()], shapely.points(where_pt))
        far = np.where(np.isnan(far), np.inf, far)
        dist = np.full(candidate.shape, np.inf)  # metres to each measured state
        np.minimum.at(dist, (pt, st), far)
        # The nearest state (the first in code order on a tie) and the second distance.
        best_k = np.argmin(dist, axis=1)
        best = np.take_along_axis(dist, best_k[:, None], axis=1)[:, 0]
        second = np.partition(dist, 1, axis=1)[:, 1] if dist.shape[1] > 1 else np.inf
        ok = best <= WATER_FALLBACK_M
        sel = todo[ok]
        idx[sel] = best_k[ok]
        distance[sel] = best[ok]
        fallback[sel] = True
        near[sel] = (second <= best + NEAR_BORDER_M)[ok]


@functools.lru_cache(maxsize=1)
def load_states() -> StateIndex:
    """The boundary index keilog ships (loaded once)."""
    return StateIndex.load()


def where(lat: float, lon: float) -> Where:
    """Which state a point is in, with the near-border and water-fallback flags."""
    return load_states().where(lat, lon)
