"""keilog roads: maxspeed parsing, building a road file, snapping with heading."""

from __future__ import annotations

import json
import math
from pathlib import Path

import keilog.cli.roads_cmd  # noqa: F401  (registers the command)
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from keilog.cli.main import cli
from keilog.roads import RoadIndex, RoadsError, build_roads, parse_maxspeed, road_limit
from keilog.roads.index import road_classes

from tests.roads.osm_testdata import GAINESVILLE, NETWORK, to_latlon, write_osm


@pytest.mark.parametrize(
    ("raw", "mph", "status"),
    [
        ("35 mph", 35.0, "posted"),
        ("35mph", 35.0, "posted"),
        ("55 MPH", 55.0, "posted"),
        # OSM wiki Key:maxspeed: km/h with a unit; 1 mph = 1.609344 km/h.
        ("50 km/h", 50 / 1.609344, "posted"),
        ("80 kmh", 80 / 1.609344, "posted"),
        # A bare number is km/h in OSM, often mph in US data: the stricter (higher) reading.
        ("50", 50.0, "ambiguous"),
        # Several values: the highest counts.
        ("25 mph;35 mph", 35.0, "posted"),
        ("25 mph|45 mph", 45.0, "posted"),
        ("none", math.inf, "none"),
        ("signals", None, "unusable"),
        ("variable", None, "unusable"),
        ("walk", None, "unusable"),
        ("US:urban", None, "unusable"),
        ("35 mph;signals", None, "unusable"),
        ("0", None, "unusable"),
        ("-5 mph", None, "unusable"),
        (None, None, "missing"),
        ("  ", None, "missing"),
    ],
)
def test_parse_maxspeed(raw, mph, status):
    limit = parse_maxspeed(raw)
    assert limit.status == status
    assert limit.mph == (pytest.approx(mph) if mph is not None else None)


def test_directional_limits_take_the_higher():
    assert road_limit(None, "35 mph", "45 mph").mph == 45.0
    assert road_limit(None, "35 mph", "signals").status == "unusable"
    assert road_limit("30 mph", "35 mph", "45 mph").mph == 30.0


@given(st.text(max_size=30))
def test_parse_maxspeed_never_fails(text):
    limit = parse_maxspeed(text)
    assert limit.status in ("posted", "ambiguous", "none", "missing", "unusable")
    assert (limit.mph is None) == (limit.status in ("missing", "unusable"))


FREEWAY = {"controlled_access", "expressway", "divided_highway"}


@pytest.mark.parametrize(
    ("highway", "ref", "yes", "maybe"),
    [
        (
            "motorway",
            "I 75",
            {"interstate", "controlled_access", "expressway", "divided_highway"},
            set(),
        ),
        (
            "motorway",
            "I-95;US 1",
            {"interstate", "controlled_access", "expressway", "divided_highway", "us_highway"},
            set(),
        ),
        # Not every motorway is an interstate (e.g. a state toll road).
        (
            "motorway",
            "FL 417",
            {"controlled_access", "expressway", "divided_highway", "state_highway"},
            set(),
        ),
        ("primary", "US 441", {"us_highway"}, set()),
        ("primary", "SR 24", {"state_highway"}, set()),
        ("secondary", "FM 1960", {"state_highway"}, set()),  # Texas farm-to-market road
        ("trunk", "US 27", {"us_highway"}, {"controlled_access", "expressway"}),
        ("residential", "CR 234", set(), set()),  # county road
        # I-ref on a non-motorway (a business loop on a street) is not an interstate.
        ("primary", "I 75 Business", set(), set()),
    ],
)
def test_road_classes_from_tags(highway, ref, yes, maybe):
    got_yes, got_maybe = road_classes(highway, ref, False, False, False, 0)
    assert (set(got_yes), set(got_maybe)) == (yes, maybe)


@pytest.fixture(scope="module")
def roads(tmp_path_factory) -> RoadIndex:
    d = tmp_path_factory.mktemp("roads")
    osm = write_osm(d / "net.osm", GAINESVILLE, NETWORK)
    build_roads(osm, d / "net.roads.npz")
    return RoadIndex.load(d / "net.roads.npz")


def test_build_keeps_car_roads_only(tmp_path):
    osm = write_osm(tmp_path / "net.osm", GAINESVILLE, NETWORK)
    summary = build_roads(osm, tmp_path / "out.npz")
    assert summary.ways == 8  # the footway is dropped
    assert summary.limits == {"ambiguous": 1, "missing": 1, "posted": 6}


def _snap(roads, points):
    lat, lon = zip(*[to_latlon(GAINESVILLE, e, n) for e, n, _, _ in points], strict=True)
    return roads.snap(lat, lon, [p[2] for p in points], [p[3] for p in points])


@pytest.mark.parametrize(
    ("name", "east", "north", "course", "speed", "way", "ambiguous"),
    [
        ("10 m off NW 8th Ave, heading east", 500, 10, 90, 10, "NW 8th Ave", False),
        # Between the frontage road (10 m) and I-75 northbound (10 m): heading south
        # rules out the one-way northbound carriageway.
        ("frontage road, heading south", 990, 100, 180, 25, "Frontage Rd", False),
        # Heading north both fit, and they differ in class and limit: ambiguous.
        ("frontage or I-75 NB, heading north", 990, 100, 0, 25, "Frontage Rd", True),
        ("I-75 southbound, heading south", 1025, 100, 180, 30, "I 75", False),
        # On NW 1st St, 10 m from Archer Rd: heading north rules out the east-west road.
        ("NW 1st St near Archer Rd, heading north", 0, 390, 0, 10, "NW 1st St", False),
        # Standing still: heading unknown, the nearest road wins.
        ("parked 3 m off Archer Rd", 500, 403, math.nan, 0, "Archer Rd", False),
        ("60 m from every road", 300, 200, 90, 10, None, False),
    ],
)
def test_snapping(roads, name, east, north, course, speed, way, ambiguous):
    out = _snap(roads, [(east, north, course, speed)])
    i = int(out.road[0])
    if way is None:
        assert i == -1
        return
    road = roads.roads[i]
    assert way in (road.name, road.ref)
    assert bool(out.ambiguous[0]) is ambiguous
    assert out.distance_m[0] <= 25.0


def test_snap_distance_is_metric(roads):
    out = _snap(roads, [(500, 10, 90, 10)])
    assert out.distance_m[0] == pytest.approx(10.0, abs=0.1)


def test_corrupt_road_file_is_an_error(tmp_path):
    bad = tmp_path / "x.roads.npz"
    bad.write_bytes(b"nope")
    with pytest.raises(RoadsError, match=r"x\.roads\.npz: not a keilog road file"):
        RoadIndex.load(bad)


def test_missing_extract_is_an_error(tmp_path):
    with pytest.raises(RoadsError, match="no such file"):
        build_roads(tmp_path / "none.osm.pbf", tmp_path / "out.npz")


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([".osm", ".osm.pbf"]))
def test_garbage_extracts_raise_roads_error(tmp_path_factory, data, suffix):
    d = tmp_path_factory.mktemp("fuzz")
    path = d / ("x" + suffix)
    path.write_bytes(data)
    try:
        build_roads(path, d / "out.npz")
    except RoadsError as exc:
        assert "x" + suffix in str(exc)


def test_cli_roads_build(tmp_path):
    osm = write_osm(tmp_path / "net.osm", GAINESVILLE, NETWORK)
    result = CliRunner().invoke(cli, ["roads", "build", str(osm), "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["ways"] == 8
    assert Path(summary["out"]) == tmp_path / "net.roads.npz"
