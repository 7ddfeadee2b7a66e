"""Land and water next to the US that is not a US state: the neighbouring countries and
the US territories, offline.

The polygons are the time-zone polygons of timezone-boundary-builder (OpenStreetMap,
ODbL 1.0) as shipped by the PyPI package ``timezonefinder``, grouped by the country code
the tz database gives each zone, clipped to the neighbourhood of the US and simplified by
about 11 m; ``scripts/build_countries.py`` writes ``geo/data/countries.npz``. They
follow national borders on land and include each country's territorial water (the
Great Lakes and border rivers are split where the border runs), which the Census state
polygons, clipped to the shoreline, cannot say.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from keilog.geo.errors import GeoError

DATA_FILE = Path(__file__).resolve().parent / "data" / "countries.npz"

TERRITORY_NAMES = {
    "PR": "Puerto Rico",
    "VI": "U.S. Virgin Islands",
    "GU": "Guam",
    "MP": "Northern Mariana Islands",
    "AS": "American Samoa",
    "UM": "U.S. Minor Outlying Islands",
}
"""US territories: in the US, but keilog has no rules for them."""

COUNTRY_NAMES = {
    "CA": "Canada",
    "MX": "Mexico",
    "RU": "Russia",
    "BS": "the Bahamas",
    "CU": "Cuba",
    "VG": "the British Virgin Islands",
}


def read_multipolygons(path: Path, what: str) -> tuple[list[str], Any, dict[str, Any]]:
    """Codes, MultiPolygons and metadata of a boundary file written by scripts/build_*.py."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            coords = np.cumsum(z["delta"].astype(np.int64), axis=0) * float(meta["quantum_deg"])
            offsets = (z["ring_offsets"], z["polygon_offsets"], z["part_offsets"])
            polygons = shapely.from_ragged_array(shapely.GeometryType.MULTIPOLYGON, coords, offsets)
            codes = [str(c) for c in z["codes"]]
    except (OSError, KeyError, ValueError) as exc:
        raise GeoError(
            f"{path}: cannot read the {what} boundary file ({exc}); rebuild it with "
            f"scripts/build_{what}.py"
        ) from None
    return codes, polygons, meta


class CountryIndex:
    """Foreign countries and US territories near the US, prepared for point lookups."""

    def __init__(self, codes: list[str], polygons: npt.NDArray[Any], meta: dict[str, Any]):
        self.codes = list(codes)
        self.meta = meta
        # One entry per polygon part, so each bounding box is tight (a country's parts
        # are islands and mainland pieces far apart).
        parts, owner = shapely.get_parts(polygons, return_index=True)
        self.parts = parts
        self.owner = owner.astype(np.int64)
        shapely.prepare(self.parts)
        self.bounds = shapely.bounds(self.parts)
        self.is_territory = np.array([c in TERRITORY_NAMES for c in self.codes])

    @classmethod
    def load(cls, path: Path = DATA_FILE) -> CountryIndex:
        return cls(*read_multipolygons(path, "countries"))

    def lookup(
        self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        """Index into ``codes`` for each point (-1: in none of them)."""
        out = np.full(len(x), -1, dtype=np.int64)
        for k, (x0, y0, x1, y1) in enumerate(self.bounds):
            m = np.flatnonzero((out < 0) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
            if len(m):
                hit = shapely.contains_xy(self.parts[k], x[m], y[m])
                out[m[hit]] = self.owner[k]
        return out

    def near(
        self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], d: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.bool_]:
        """Whether each point is within ``d`` degrees of a foreign country."""
        out = np.zeros(len(x), dtype=bool)
        for k, (x0, y0, x1, y1) in enumerate(self.bounds):
            if self.is_territory[self.owner[k]]:
                continue
            m = np.flatnonzero(~out & (x >= x0 - d) & (x <= x1 + d) & (y >= y0 - d) & (y <= y1 + d))
            if len(m):
                hit = shapely.dwithin(self.parts[k], shapely.points(x[m], y[m]), d[m])
                out[m[hit]] = True
        return out
