"""keilog where: the state of a position, offline, with its flags.

Expected states come from where the state lines are on the ground (the streets and
rivers named below), cross-checked against the full-resolution Census 1:500,000 file the
shipped boundaries are simplified from (the distance to the other state is from that file).
"""

from __future__ import annotations

import json
import math

import keilog.cli.geo_cmd  # noqa: F401  (registers the command)
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from keilog.cli.main import cli
from keilog.geo import GeoError, StateIndex, load_states, where

PLACES = [
    # (name, lat, lon, state, method, near_border)
    # State Line Avenue (US 59/71) is the AR-TX line through Texarkana; 382 m east of it.
    ("Texarkana, AR side of State Line Ave", 33.4250, -94.0395, "AR", "polygon", False),
    # ... and 397 m west of it.
    ("Texarkana, TX side of State Line Ave", 33.4250, -94.0465, "TX", "polygon", False),
    # State Line Road is the KS-MO line south of the Missouri River; 455 m east of it.
    ("Kansas City, MO side of State Line Rd", 39.0000, -94.6040, "MO", "polygon", False),
    # ... and 323 m west of it.
    ("Kansas City, KS side of State Line Rd", 39.0000, -94.6110, "KS", "polygon", False),
    # State Street is the TN-VA line in Bristol; 401 m north of it.
    ("Bristol, VA side of State Street", 36.5985, -82.1800, "VA", "polygon", False),
    # ... and 266 m south of it.
    ("Bristol, TN side of State Street", 36.5925, -82.1800, "TN", "polygon", False),
    # The casinos of Stateline, NV stand at the CA-NV line; 211 m from California.
    ("Stateline, NV casino corner", 38.9611, -119.9415, "NV", "polygon", False),
    # Heavenly Village, South Lake Tahoe, CA; 491 m from Nevada.
    ("South Lake Tahoe, CA", 38.9555, -119.9445, "CA", "polygon", False),
    # Four Corners: NM, AZ, CO and UT meet here, 4 m from Arizona.
    ("Four Corners monument", 36.99898, -109.04519, "NM", "polygon", True),
    # Delaware Memorial Bridge: the whole river here is Delaware (New Jersey v. Delaware,
    # 552 U.S. 597 (2008)); Census polygons stop at the shore, so the answer is the
    # nearest state, marked low confidence. Mid-river it is right ...
    ("Delaware Memorial Bridge, mid-river", 39.6879, -75.5292, "DE", "nearest", False),
    # ... near the New Jersey shore the nearest polygon is NJ: legally wrong, which is
    # exactly why fallback answers are low confidence.
    ("Delaware Memorial Bridge, NJ end", 39.6840, -75.5150, "NJ", "nearest", False),
    # Golden Gate Bridge mid-span is in San Francisco, CA (631 m from the shore polygon).
    ("Golden Gate Bridge", 37.8199, -122.4783, "CA", "nearest", False),
    # Mackinac Bridge joins Michigan's two peninsulas.
    ("Mackinac Bridge", 45.8174, -84.7278, "MI", "nearest", False),
    # City centres far from any line.
    ("Gainesville, FL", 29.6516, -82.3248, "FL", "polygon", False),
    ("White House, Washington DC", 38.8977, -77.0365, "DC", "polygon", False),
    ("Anchorage, AK", 61.2181, -149.9003, "AK", "polygon", False),
    ("Honolulu, HI", 21.3069, -157.8583, "HI", "polygon", False),
    # Open Pacific, 2,000 km from California: no state.
    ("Pacific Ocean", 30.0, -140.0, None, "none", False),
]


@pytest.mark.parametrize(
    ("name", "lat", "lon", "state", "method", "near_border"), PLACES, ids=[p[0] for p in PLACES]
)
def test_known_places(name, lat, lon, state, method, near_border):
    w = where(lat, lon)
    assert (w.state, w.method, w.near_border) == (state, method, near_border)
    assert w.confidence == {"polygon": "high", "nearest": "low", "none": None}[method]


def test_vectorised_lookup_matches_single_lookups():
    rng = np.random.default_rng(7)
    lat = np.concatenate([rng.uniform(24, 50, 300), [p[1] for p in PLACES], [np.nan]])
    lon = np.concatenate([rng.uniform(-125, -66, 300), [p[2] for p in PLACES], [-90.0]])
    many = load_states().lookup(lat, lon)
    assert len(many) == len(lat)
    for i in range(len(lat) - 1):
        assert many[i] == where(float(lat[i]), float(lon[i]))
    assert many[len(lat) - 1].state is None  # NaN latitude: no state, no error


def test_states_do_not_overlap():
    # coverage_simplify keeps shared edges identical: no point is in two states.
    index = load_states()
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-125, -66, 50_000), rng.uniform(24, 50, 50_000)
    count = sum(shapely.contains_xy(index.polygons[k], x, y).astype(int) for k in range(51))
    assert count.max() == 1


def test_boundary_file_has_the_51_jurisdictions():
    index = load_states()
    assert len(index.codes) == 51
    assert {"DC", "AK", "HI"} <= set(index.codes)
    assert index.meta["tolerance_deg"] == 0.002


def test_corrupt_boundary_file_names_the_file(tmp_path):
    bad = tmp_path / "states.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(GeoError, match=r"states\.npz: cannot read"):
        StateIndex.load(bad)


@pytest.mark.parametrize(("lat", "lon"), [(91.0, 0.0), (0.0, 181.0), (math.nan, 0.0)])
def test_impossible_positions_are_errors(lat, lon):
    with pytest.raises(GeoError, match="not a position"):
        where(lat, lon)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(allow_nan=True), st.floats(allow_nan=True)), min_size=1, max_size=20
    )
)
def test_lookup_never_fails_on_any_floats(points):
    lat = [p[0] for p in points]
    lon = [p[1] for p in points]
    out = load_states().lookup(lat, lon)
    assert len(out) == len(points)
    assert set(out.state.tolist()) <= set(load_states().codes) | {""}


def test_cli_where_text_and_negative_longitude():
    result = CliRunner().invoke(cli, ["where", "33.4250", "-94.0395"])
    assert result.exit_code == 0, result.output
    assert result.output == "AR (high confidence)\n"


def test_cli_where_json_for_a_bridge():
    result = CliRunner().invoke(cli, ["where", "39.6840", "-75.5150", "--json"])
    assert json.loads(result.output) == {
        "lat": 39.684,
        "lon": -75.515,
        "state": "NJ",
        "confidence": "low",
        "method": "nearest",
        "near_border": False,
        "distance_m": 453.1,
    }


def test_cli_where_outside_the_us():
    result = CliRunner().invoke(cli, ["where", "30", "-140"])
    assert result.output == "none\n"
