"""The offline base map in the road file: what `keilog roads build` keeps, and clipping.

The extract is written in the test with osmium (a .osm.pbf), positions in metres from
Gainesville, FL (see osm_testdata), so areas and distances can be stated in metres.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import osmium
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from keilog.roads import RoadIndex, RoadsError, build_roads
from keilog.roads.basemap import GRID, BaseMap, Bounds, decode_xy, encode_xy

from tests.roads.osm_testdata import GAINESVILLE, M_PER_DEG, to_latlon


def _square(e: float, n: float, size: float) -> list[tuple[float, float]]:
    return [(e, n), (e + size, n), (e + size, n + size), (e, n + size), (e, n)]


# (points in metres, tags); a closed ring repeats its first point.
WAYS: list[tuple[list[tuple[float, float]], dict[str, str]]] = [
    ([(-2000, 0), (2000, 0)], {"highway": "residential", "name": "NW 8th Ave"}),
    ([(0, 100), (0, 900)], {"highway": "track"}),
    ([(100, 100), (100, 900)], {"highway": "footway"}),  # not a road on the map
    ([(-2000, -500), (2000, -500)], {"waterway": "river", "name": "Hogtown River"}),
    ([(-300, -100), (-300, -400)], {"waterway": "stream"}),
    ([(300, -100), (300, -400)], {"waterway": "drain"}),  # drawn as a ditch
    ([(-2000, -1800), (2000, -1800)], {"natural": "coastline"}),
    (_square(500, 200, 200), {"natural": "water", "name": "Square Pond"}),  # 40,000 m²
    (_square(-900, 200, 100), {"building": "yes"}),  # a closed way that is no water
]
# A multipolygon lake (untagged member ways): 400 m square with a 100 m square island.
LAKE_OUTER = _square(-1500, 1000, 400)
LAKE_INNER = _square(-1350, 1150, 100)
PLACES = [
    ((0, 50), {"place": "town", "name": "Testville"}),
    ((800, 800), {"place": "hamlet", "name": "Tiny"}),
    ((900, 900), {"place": "suburb", "name": "Not A Town"}),  # not a kind the map labels
    ((950, 950), {"place": "village"}),  # no name: nothing to write
]


def write_extract(path: Path) -> Path:
    """Write the ways, the lake relation, the places and one way cut at the edge."""
    writer = osmium.SimpleWriter(str(path))
    nid = 1
    node_rows: list[osmium.osm.mutable.Node] = []
    way_rows: list[osmium.osm.mutable.Way] = []

    def nodes_of(points: list[tuple[float, float]]) -> list[int]:
        nonlocal nid
        refs = []
        for k, (e, n) in enumerate(points):
            if k == len(points) - 1 and len(points) > 2 and points[0] == points[-1]:
                refs.append(refs[0])
                break
            lat, lon = to_latlon(GAINESVILLE, e, n)
            node_rows.append(osmium.osm.mutable.Node(id=nid, location=(lon, lat)))
            refs.append(nid)
            nid += 1
        return refs

    for wid, (points, tags) in enumerate(WAYS, start=1):
        way_rows.append(osmium.osm.mutable.Way(id=wid, nodes=nodes_of(points), tags=tags))
    outer, inner = len(WAYS) + 1, len(WAYS) + 2
    way_rows.append(osmium.osm.mutable.Way(id=outer, nodes=nodes_of(LAKE_OUTER)))
    way_rows.append(osmium.osm.mutable.Way(id=inner, nodes=nodes_of(LAKE_INNER)))
    # a river whose second node is outside the extract (OSM extracts cut ways at the edge)
    cut = nodes_of([(-2000, -900)])
    way_rows.append(
        osmium.osm.mutable.Way(id=inner + 1, nodes=[*cut, 999_999], tags={"waterway": "river"})
    )
    for (e, n), tags in PLACES:
        lat, lon = to_latlon(GAINESVILLE, e, n)
        node_rows.append(osmium.osm.mutable.Node(id=nid, location=(lon, lat), tags=tags))
        nid += 1
    for row in node_rows:
        writer.add_node(row)
    for row in way_rows:
        writer.add_way(row)
    writer.add_relation(
        osmium.osm.mutable.Relation(
            id=1,
            members=[("w", outer, "outer"), ("w", inner, "inner")],
            tags={"type": "multipolygon", "natural": "water", "name": "Island Lake"},
        )
    )
    writer.close()
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("basemap")
    extract = write_extract(d / "test.osm.pbf")
    summary = build_roads(extract, d / "test.roads.npz")
    return summary, BaseMap.of(RoadIndex.load(summary.out))


def _box_m(west: float, south: float, east: float, north: float) -> Bounds:
    s, w = to_latlon(GAINESVILLE, west, south)
    n, e = to_latlon(GAINESVILLE, east, north)
    return Bounds(w, s, e, n)


def _area_m2(geometry: object) -> float:
    """Area in square metres, in the same equirectangular scale as the test's positions."""
    lat0, lon0 = GAINESVILLE
    scale = (M_PER_DEG * math.cos(math.radians(lat0)), M_PER_DEG)
    return float(shapely.area(shapely.transform(geometry, lambda c: (c - (lon0, lat0)) * scale)))


EVERYTHING = (-3000, -3000, 3000, 3000)


def test_the_build_counts_the_base_map_layers_and_skips_cut_ways(built):
    summary, _ = built
    # lines: track, river, stream, drain, coastline; areas: the pond and the lake;
    # places: Testville and Tiny. The cut river is skipped, the footway and the
    # building are not base-map features.
    assert summary.basemap == {"lines": 5, "areas": 2, "places": 2}
    assert summary.ways == 1  # the road file's car roads: only NW 8th Ave
    assert summary.size_bytes == summary.out.stat().st_size


def test_every_road_is_drawn_by_its_class_with_car_roads_from_the_road_arrays(built):
    _, base = built
    layers = base.within(_box_m(*EVERYTHING))
    assert sorted(r.kind for r in layers.roads) == ["residential", "track"]
    assert sorted(line.kind for line in layers.lines) == ["coastline", "ditch", "river", "stream"]


def test_water_areas_come_from_closed_ways_and_multipolygons_with_their_holes(built):
    _, base = built
    layers = base.within(_box_m(*EVERYTHING))
    areas = sorted(_area_m2(a.geometry) for a in layers.areas)
    assert [a.kind for a in layers.areas] == ["water", "water"]
    assert areas == pytest.approx([40_000, 400**2 - 100**2], rel=0.01)


def test_places_keep_named_cities_towns_villages_and_hamlets(built):
    _, base = built
    places = {(p.kind, p.name) for p in base.within(_box_m(*EVERYTHING)).places}
    assert places == {("town", "Testville"), ("hamlet", "Tiny")}


def test_the_base_map_is_clipped_to_the_box(built):
    _, base = built
    layers = base.within(_box_m(-200, -100, 200, 300))
    # NW 8th Ave (4 km long) is cut to the box's 400 m; the track runs 100-300 m north.
    (road,) = [r for r in layers.roads if r.kind == "residential"]
    length_deg = shapely.length(road.geometry)
    metres = length_deg * M_PER_DEG * math.cos(math.radians(GAINESVILLE[0]))
    assert metres == pytest.approx(400, rel=0.01)
    assert [p.name for p in layers.places] == ["Testville"]
    assert layers.areas == [] and [x.kind for x in layers.lines] == []
    assert not base.within(_box_m(5000, 5000, 5100, 5100))  # nothing out there


def test_an_old_road_file_without_a_base_map_still_gives_its_roads(tmp_path, built):
    summary, _ = built
    with np.load(summary.out, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("base_")}
    meta = json.loads(str(arrays.pop("meta")))
    del meta["basemap"]
    old = tmp_path / "old.roads.npz"
    np.savez_compressed(old, meta=np.array(json.dumps(meta)), **arrays)
    base = BaseMap.of(RoadIndex.load(old))
    assert not base.has_layers
    layers = base.within(_box_m(*EVERYTHING))
    assert [r.kind for r in layers.roads] == ["residential"] and not layers.areas


@given(
    st.lists(
        st.tuples(st.floats(-180, 180, allow_nan=False), st.floats(-90, 90, allow_nan=False)),
        max_size=50,
    )
)
def test_coordinates_survive_the_delta_coding_to_half_a_grid_step(points):
    xy = np.array(points, dtype=np.float64).reshape(-1, 2)
    assert decode_xy(encode_xy(xy)).shape == xy.shape
    assert np.abs(decode_xy(encode_xy(xy)) - xy).max(initial=0) <= 0.5 / GRID + 1e-9


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_a_damaged_road_file_is_a_roads_error_or_reads(built, tmp_path_factory, data):
    summary, _ = built
    raw = bytearray(summary.out.read_bytes())
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    bad = tmp_path_factory.mktemp("damaged") / "bad.roads.npz"
    bad.write_bytes(bytes(raw))
    try:
        BaseMap.of(RoadIndex.load(bad)).within(_box_m(*EVERYTHING))
    except RoadsError as exc:
        assert str(bad) in str(exc)
