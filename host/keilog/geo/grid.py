"""A precomputed grid that answers most points of a big lookup without geometry.

``StateIndex.lookup`` tests every point against polygons; for a million points that is
most of a second. But most of the map is settled ground: deep inside one state (farther
than the near-border budget from its boundary), inside one foreign country or US
territory and touching no state, or far from everything. ``scripts/build_where_grid.py``
classifies cells of a two-level grid once (1 degree everywhere; 1/32 degree, about
3.5 km, inside the 1-degree cells that are not settled) and writes
``geo/data/where_grid.npz``. A lookup then reads each point's cell; only points in
unsettled cells (a state line, a coast and its 25 km of water, a national border) go
through ``StateIndex.lookup``, and those answers are the library's own.

A settled cell's answer is exactly what ``StateIndex.lookup`` gives for every point in
it (and within ``_EPS_DEG`` of it, so rounding at a cell edge cannot matter):

- state k: the cell grown by the near-border distance at its worst latitude lies inside
  state k and touches no other state, so every point is in k and not near its boundary;
  such points are never tested against the countries or the water fallback.
- country c: the cell touches no state, lies inside a part of c and touches no other
  country, so every point is in no state and in c.
- nothing: the cell touches no country, and grown by the water fallback's reach it
  touches no state.

The file records the SHA-256 of the boundary files and the constants it was built from;
a grid that does not match them is not used (lookups stay exact, only slower).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from keilog.geo.countries import TERRITORY_NAMES
from keilog.geo.states import (
    COUNTRIES_FILE,
    DATA_FILE,
    M_PER_DEG,
    NEAR_BORDER_M,
    WATER_FALLBACK_M,
    StateIndex,
    Where,
    WhereArrays,
)

GRID_FILE = Path(__file__).resolve().parent / "data" / "where_grid.npz"
FORMAT = 1
COARSE = 1  # cells per degree at the first level (global)
FINE = 32  # cells per coarse cell, each way, where the coarse cell is not settled
_EPS_DEG = 1e-7  # cells are tested grown by this much (about 1 cm)

EXACT = 0  # not settled: ask StateIndex.lookup
NOTHING = 1  # no state, no country
FIRST_STATE = 2  # FIRST_STATE + k: state k; then the countries (FIRST_STATE + n_states + c)


def source_digest(states: Path = DATA_FILE, countries: Path = COUNTRIES_FILE) -> str:
    """What a grid is valid for: the boundary files and the lookup's constants."""
    h = hashlib.sha256()
    for path in (states, countries):
        h.update(path.read_bytes())
    h.update(
        json.dumps([FORMAT, COARSE, FINE, NEAR_BORDER_M, WATER_FALLBACK_M, M_PER_DEG]).encode()
    )
    return h.hexdigest()


def classify_cells(
    index: StateIndex,
    x0: npt.NDArray[np.float64],
    y0: npt.NDArray[np.float64],
    x1: npt.NDArray[np.float64],
    y1: npt.NDArray[np.float64],
) -> npt.NDArray[np.int32]:
    """The code of each cell [x0, x1] x [y0, y1] (degrees): EXACT, NOTHING, a state or a
    country, by the rules in the module docstring."""
    assert index.countries is not None, "the grid is built with the countries file"
    countries = index.countries
    n = len(x0)
    codes = np.full(n, EXACT, dtype=np.int32)
    worst_lat = np.maximum(np.abs(y0), np.abs(y1))

    def grown(by: npt.NDArray[np.float64]) -> npt.NDArray[Any]:
        return shapely.box(x0 - by, y0 - by, x1 + by, y1 + by)

    state_tree = shapely.STRtree(index.polygons)
    part_tree = shapely.STRtree(countries.parts)

    def touching(tree: Any, shapes: Any, boxes: Any) -> tuple[Any, Any]:
        # Bounding boxes from the tree, then the exact test with the prepared polygon
        # first (the tree's own predicate would prepare each small box instead).
        cell, j = tree.query(boxes)
        hit = shapely.intersects(shapes[j], boxes[cell])
        return cell[hit], j[hit]

    # State interiors: exactly one state within the near-border distance, containing it.
    near = index._degrees(NEAR_BORDER_M, worst_lat) * 1.01 + _EPS_DEG
    boxes = grown(near)
    cell, state = touching(state_tree, index.polygons, boxes)
    count = np.bincount(cell, minlength=n)
    single = np.flatnonzero(count == 1)
    k = np.full(n, -1, dtype=np.int64)
    k[cell] = state
    inside = shapely.contains_properly(index.polygons[k[single]], boxes[single])
    codes[single[inside]] = FIRST_STATE + k[single[inside]]
    # No state in the cell: one country containing it, or nothing within reach.
    boxes = grown(np.full(n, _EPS_DEG))
    cell, _ = touching(state_tree, index.polygons, boxes)
    stateless = np.ones(n, dtype=bool)
    stateless[cell] = False
    cell, part = touching(part_tree, countries.parts, boxes)
    owners = countries.owner[part]
    n_parts = np.bincount(cell, minlength=n)
    lo = np.full(n, np.iinfo(np.int64).max)
    hi = np.full(n, -1, dtype=np.int64)
    np.minimum.at(lo, cell, owners)
    np.maximum.at(hi, cell, owners)
    one_owner = stateless & (n_parts > 0) & (lo == hi)
    held = np.zeros(n, dtype=bool)
    pick = one_owner[cell]
    held_by = shapely.contains_properly(countries.parts[part[pick]], boxes[cell[pick]])
    held[cell[pick][held_by]] = True
    codes[held] = FIRST_STATE + len(index.codes) + lo[held]
    empty = np.flatnonzero(stateless & (n_parts == 0))
    reach = index._degrees((WATER_FALLBACK_M + NEAR_BORDER_M) * 1.02, worst_lat[empty])
    reach = reach * 1.01 + _EPS_DEG
    boxes_far = shapely.box(
        x0[empty] - reach, y0[empty] - reach, x1[empty] + reach, y1[empty] + reach
    )
    cell, _ = touching(state_tree, index.polygons, boxes_far)
    lonely = np.ones(len(empty), dtype=bool)
    lonely[cell] = False
    codes[empty[lonely]] = NOTHING
    return codes


def build_grid(index: StateIndex, digest: str) -> dict[str, Any]:
    """The arrays of a grid file: ``coarse`` (180*COARSE, 360*COARSE) int32 codes, with
    -1 - b pointing at ``blocks[b]``, a (FINE, FINE) uint16 array of codes."""
    ny, nx = 180 * COARSE, 360 * COARSE
    iy, ix = np.divmod(np.arange(ny * nx), nx)
    x0 = ix / COARSE - 180.0
    y0 = iy / COARSE - 90.0
    coarse = classify_cells(index, x0, y0, x0 + 1 / COARSE, y0 + 1 / COARSE)
    split = np.flatnonzero(coarse == EXACT)
    step = 1 / (COARSE * FINE)
    fy, fx = np.divmod(np.arange(FINE * FINE), FINE)
    bx0 = (x0[split][:, None] + fx[None, :] * step).ravel()
    by0 = (y0[split][:, None] + fy[None, :] * step).ravel()
    fine = classify_cells(index, bx0, by0, bx0 + step, by0 + step)
    coarse[split] = -1 - np.arange(len(split))
    meta = {
        "format": FORMAT,
        "coarse": COARSE,
        "fine": FINE,
        "digest": digest,
        "states": list(index.codes),
        "countries": list(index.countries.codes) if index.countries is not None else [],
    }
    return {
        "coarse": coarse.reshape(ny, nx).astype(np.int32),
        "blocks": fine.reshape(len(split), FINE, FINE).astype(np.uint16),
        "meta": np.array(json.dumps(meta)),
    }


@dataclass(frozen=True)
class WhereGrid:
    """A loaded grid (see the module docstring)."""

    coarse: npt.NDArray[np.int32]
    blocks: npt.NDArray[np.uint16]
    meta: dict[str, Any]

    @classmethod
    def load(cls, path: Path = GRID_FILE) -> WhereGrid | None:
        """The grid in ``path`` if it matches the shipped boundary files, else None."""
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                if meta.get("digest") != source_digest():
                    return None
                return cls(z["coarse"], z["blocks"], meta)
        except (OSError, KeyError, ValueError):
            return None

    def codes(
        self, lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.int64]:
        """The code of each point's cell (points must be finite, in -90..90, -180..180)."""
        ny, nx = self.coarse.shape
        fx = (lon + 180.0) * COARSE
        fy = (lat + 90.0) * COARSE
        ix = np.clip(fx.astype(np.int64), 0, nx - 1)
        iy = np.clip(fy.astype(np.int64), 0, ny - 1)
        code = self.coarse[iy, ix].astype(np.int64)
        sub = np.flatnonzero(code < 0)
        if len(sub):
            jx = np.clip(((fx[sub] - ix[sub]) * FINE).astype(np.int64), 0, FINE - 1)
            jy = np.clip(((fy[sub] - iy[sub]) * FINE).astype(np.int64), 0, FINE - 1)
            code[sub] = self.blocks[-1 - code[sub], jy, jx]
        return code


@dataclass(frozen=True)
class Answers:
    """Where many points are, as small codes: ``table[code[i]]`` is point i's answer
    without its distance; ``distance_m`` is NaN except for water-fallback answers."""

    code: npt.NDArray[np.int64]
    table: list[tuple[str, str, str, str, str, bool]]  # state, country, territory,
    # confidence, method, near_border ("" for None)
    distance_m: npt.NDArray[np.float64]
    fallback: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.code)

    def __getitem__(self, i: int) -> Where:
        state, country, territory, conf, method, near = self.table[self.code[i]]
        distance = float(self.distance_m[i]) if method == "nearest" else 0.0 if state else None
        return Where(
            state or None, conf or None, method, near, distance, country or None, territory or None
        )


def _answer_of(w: WhereArrays, i: int) -> tuple[str, str, str, str, str, bool]:
    one = w[i]
    return (
        one.state or "",
        one.country or "",
        one.territory or "",
        one.confidence or "",
        one.method,
        one.near_border,
    )


def grid_table(index: StateIndex) -> list[tuple[str, str, str, str, str, bool]]:
    """The answer of each grid code (EXACT has none: a placeholder)."""
    table: list[tuple[str, str, str, str, str, bool]] = [
        ("", "", "", "", "exact", False),
        ("", "", "", "", "none", False),
    ]
    table += [(code, "US", "", "high", "polygon", False) for code in index.codes]
    for c in index.countries.codes if index.countries is not None else []:
        if c in TERRITORY_NAMES:
            table.append(("", "US", c, "", "territory", False))
        else:
            table.append(("", c, "", "", "country", False))
    return table


def lookup_answers(
    index: StateIndex,
    grid: WhereGrid | None,
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
) -> Answers:
    """``index.lookup`` for finite points in range, through the grid where it is settled."""
    n = len(lat)
    if grid is None or grid.meta.get("states") != index.codes:
        code = np.zeros(n, dtype=np.int64)
        table: list[tuple[str, str, str, str, str, bool]] = [("", "", "", "", "exact", False)]
    else:
        code = grid.codes(lat, lon)
        table = grid_table(index)
    distance = np.full(n, np.nan)
    fallback = np.zeros(n, dtype=bool)
    exact = np.flatnonzero(code == EXACT)
    if len(exact):
        w = index.lookup(lat[exact], lon[exact])
        # Few distinct answers: one table entry per distinct answer.
        key = np.char.add(np.char.add(w.state, w.country), w.territory)
        kinds = np.array(
            [
                f"{a}|{int(f)}|{int(nb)}"
                for a, f, nb in zip(
                    key.tolist(), w.fallback.tolist(), w.near_border.tolist(), strict=True
                )
            ]
        )
        uniq, first, inverse = np.unique(kinds, return_index=True, return_inverse=True)
        del uniq
        code[exact] = len(table) + inverse
        table += [_answer_of(w, int(i)) for i in first]
        distance[exact] = w.distance_m
        fallback[exact] = w.fallback
    return Answers(code, table, distance, fallback)
