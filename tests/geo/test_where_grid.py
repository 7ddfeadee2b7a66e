"""The grid behind ``keilog where --file`` answers exactly as one-point lookups do.

Settled cells are checked by points on their corners, edges and insides; unsettled ones
go through ``StateIndex.lookup`` itself, so the properties are: the grid matches the
shipped boundary files, its settled answers equal the library's, and a batch of points
near borders equals the same points looked up one by one.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from keilog.geo import load_states, where
from keilog.geo.batch import read_points, where_file
from keilog.geo.grid import COARSE, EXACT, FINE, WhereGrid, lookup_answers

from tests.geo.test_where import CROSSINGS, PLACES, TERRITORIES


@pytest.fixture(scope="module")
def grid() -> WhereGrid:
    found = WhereGrid.load()
    assert found is not None, "where_grid.npz is stale: run scripts/build_where_grid.py"
    return found


def _border_vertices() -> np.ndarray:
    """Vertices of every state and country boundary (lon, lat), where answers change."""
    index = load_states()
    assert index.countries is not None
    shapes = np.concatenate([index.polygons, index.countries.parts])
    return shapely.get_coordinates(shapely.boundary(shapes))


BORDERS = _border_vertices()


def _same(lat: np.ndarray, lon: np.ndarray, grid: WhereGrid) -> None:
    answers = lookup_answers(load_states(), grid, lat, lon)
    for i in range(len(lat)):
        assert answers[i] == where(float(lat[i]), float(lon[i])), (lat[i], lon[i])


def test_the_shipped_grid_matches_the_shipped_boundaries(grid):
    assert grid.meta["states"] == load_states().codes
    assert grid.coarse.shape == (180 * COARSE, 360 * COARSE)
    assert grid.blocks.shape[1:] == (FINE, FINE)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(BORDERS) - 1),
            st.floats(-0.3, 0.3),  # up to ~30 km off the boundary: the water fallback's reach
            st.floats(-0.3, 0.3),
            st.sampled_from([1.0, 0.01, 0.001]),  # ... and very close to it
        ),
        min_size=1,
        max_size=25,
    )
)
def test_points_near_borders_answer_as_single_lookups(grid, picks):
    lon = np.array([BORDERS[i][0] + dx * s for i, dx, _, s in picks]).clip(-180, 180)
    lat = np.array([BORDERS[i][1] + dy * s for i, _, dy, s in picks]).clip(-90, 90)
    _same(lat, lon, grid)


def test_settled_cells_answer_as_single_lookups_at_corners_edges_and_inside(grid):
    rng = np.random.default_rng(15)
    step = 1 / (COARSE * FINE)
    # A sample of settled fine cells, and of settled coarse cells, of every kind.
    block, fy, fx = np.nonzero(grid.blocks != EXACT)
    cy, cx = np.nonzero(grid.coarse >= 0)
    where_block = np.argwhere(grid.coarse < 0)
    pick = rng.choice(len(block), 300, replace=False)
    y0 = where_block[block[pick], 0] / COARSE - 90 + fy[pick] * step
    x0 = where_block[block[pick], 1] / COARSE - 180 + fx[pick] * step
    coarse_pick = rng.choice(len(cy), 100, replace=False)
    y0 = np.concatenate([y0, cy[coarse_pick] / COARSE - 90])
    x0 = np.concatenate([x0, cx[coarse_pick] / COARSE - 180])
    size = np.concatenate([np.full(300, step), np.full(100, 1 / COARSE)])
    # Corners, edge midpoints, the centre and a random point of each cell.
    fractions = [(0, 0), (1, 0), (0, 1), (1, 1), (0.5, 0), (0, 0.5), (0.5, 0.5)]
    fractions.append(tuple(rng.random(2)))
    lat = np.concatenate([y0 + fy_ * size for _, fy_ in fractions]).clip(-90, 90)
    lon = np.concatenate([x0 + fx_ * size for fx_, _ in fractions]).clip(-180, 180)
    codes = grid.codes(lat, lon)
    assert (codes != EXACT).mean() > 0.5  # the sample is mostly settled cells
    _same(lat, lon, grid)


def test_known_places_through_the_grid(grid):
    rows = [(p[1], p[2]) for p in PLACES] + [(c[1], c[2]) for c in CROSSINGS]
    rows += [(t[1], t[2]) for t in TERRITORIES]
    lat, lon = np.array(rows).T
    _same(lat, lon, grid)


def test_where_file_is_the_same_with_and_without_the_grid(grid):
    rng = np.random.default_rng(2)
    lat = np.concatenate([rng.uniform(24, 50, 3000), rng.uniform(10, 70, 500)])
    lon = np.concatenate([rng.uniform(-125, -66, 3000), rng.uniform(-170, -50, 500)])
    text = "lat,lon\n" + "".join(f"{a:.6f},{o:.6f}\n" for a, o in zip(lat, lon, strict=True))
    for fmt in ("csv", "jsonl"):
        fast = where_file(text.encode(), "p.csv", load_states(), fmt, grid)
        assert fast == where_file(text.encode(), "p.csv", load_states(), fmt)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "-", "+"]),
            st.text("0123456789", min_size=1, max_size=6),
            st.text("0123456789", max_size=8),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_plain_decimals_read_exactly_as_float_does(fields):
    texts = [f"{s}{i}.{f}" if f else f"{s}{i}" for s, i, f in fields]
    rows = [f"{a},{b}" for a, b in zip(texts, texts[::-1], strict=True)]
    table = read_points(("\n".join(rows) + "\n").encode(), "p.csv")
    assert table.lat.tolist() == [float(t) for t in texts]
    assert table.lon.tolist() == [float(t) for t in texts[::-1]]
