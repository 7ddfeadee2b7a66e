"""keilog where: the state of a position, offline, with its flags.

Expected states come from where the state lines are on the ground (the streets and
rivers named below), cross-checked against the full-resolution Census 1:500,000 file the
shipped boundaries are simplified from (the distance to the other state is from that file).
"""

from __future__ import annotations

import contextlib
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
from keilog.geo.states import M_PER_DEG, NEAR_BORDER_M

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
        "country": "US",
        "territory": None,
        "covered": True,
        "confidence": "low",
        "method": "nearest",
        "near_border": False,
        "distance_m": 453.1,
    }


def test_cli_where_outside_the_us():
    result = CliRunner().invoke(cli, ["where", "30", "-140"])
    assert result.output == "none\n"


# Land just across the US border. Each pair is the town on each side of a border crossing;
# the foreign point is 1-3 km from the line (street centres of the named towns), far
# beyond the boundary error budget, and within the 25 km the water fallback reaches, so
# it used to take the US state across the line.
CROSSINGS = [
    # (name, lat, lon, country, state)
    ("Tijuana, Av. Revolucion", 32.5305, -117.0368, "MX", None),
    ("San Ysidro, CA", 32.5560, -117.0440, "US", "CA"),
    ("Mexicali centro", 32.6245, -115.4523, "MX", None),
    ("Calexico, CA", 32.6790, -115.4990, "US", "CA"),
    ("Nogales, Sonora", 31.3000, -110.9400, "MX", None),
    ("Nogales, AZ", 31.3404, -110.9343, "US", "AZ"),
    ("Ciudad Juarez cathedral", 31.7385, -106.4866, "MX", None),
    ("El Paso downtown", 31.7587, -106.4869, "US", "TX"),
    ("Nuevo Laredo centro", 27.4860, -99.5070, "MX", None),
    ("Laredo downtown", 27.5064, -99.5075, "US", "TX"),
    ("Matamoros centro", 25.8700, -97.5040, "MX", None),
    ("Brownsville downtown", 25.9017, -97.4975, "US", "TX"),
    ("Windsor, ON", 42.3160, -83.0370, "CA", None),
    ("Detroit downtown", 42.3314, -83.0458, "US", "MI"),
    ("Niagara Falls, ON (Clifton Hill)", 43.0896, -79.0849, "CA", None),
    ("Niagara Falls, NY", 43.0962, -79.0377, "US", "NY"),
    ("Sarnia, ON", 42.9745, -82.4000, "CA", None),
    ("Port Huron, MI", 42.9709, -82.4249, "US", "MI"),
    ("Fort Erie, ON", 42.9050, -78.9250, "CA", None),
    ("Buffalo, NY", 42.8864, -78.8784, "US", "NY"),
    ("White Rock, BC", 49.0250, -122.8000, "CA", None),
    ("Blaine, WA", 48.9940, -122.7470, "US", "WA"),
    ("Stanstead, QC", 45.0200, -72.0950, "CA", None),
    ("Derby Line, VT", 44.9950, -72.0990, "US", "VT"),
    ("Emerson, MB", 49.0200, -97.2100, "CA", None),
    ("Pembina, ND", 48.9660, -97.2430, "US", "ND"),
    ("Sault Ste. Marie, ON", 46.5220, -84.3330, "CA", None),
    ("Sault Ste. Marie, MI", 46.4900, -84.3450, "US", "MI"),
    ("Campobello Island, NB", 44.8900, -66.9500, "CA", None),
    ("Lubec, ME", 44.8600, -66.9850, "US", "ME"),
    ("Tsawwassen, BC", 49.0150, -123.0800, "CA", None),
    # Point Roberts is a US exclave reached only through Canada.
    ("Point Roberts, WA", 48.9750, -123.0600, "US", "WA"),
    # Pelee Island, Ontario, in Lake Erie 20 km from Ohio's Kelleys Island.
    ("Pelee Island, ON", 41.7700, -82.6500, "CA", None),
    ("Kelleys Island, OH", 41.6000, -82.7000, "US", "OH"),
    # Big Diomede (Russia) and Little Diomede (Alaska), 4 km apart in the Bering Strait.
    ("Big Diomede, Russia", 65.7833, -169.0667, "RU", None),
    ("Little Diomede, AK", 65.7500, -168.9500, "US", "AK"),
    # The Canadian half of the Detroit River, south of Windsor (water, not land).
    ("Detroit River, Canadian water", 42.2000, -83.1200, "CA", None),
]


@pytest.mark.parametrize(
    ("name", "lat", "lon", "country", "state"), CROSSINGS, ids=[c[0] for c in CROSSINGS]
)
def test_country_first_at_border_crossings(name, lat, lon, country, state):
    w = where(lat, lon)
    assert (w.country, w.state) == (country, state)
    if country != "US":
        assert w.method == "country" and not w.covered and w.confidence is None


TERRITORIES = [
    ("San Juan", 18.4655, -66.1057, "PR"),
    ("Charlotte Amalie", 18.3419, -64.9307, "VI"),
    ("Hagatna", 13.4757, 144.7489, "GU"),
    ("Saipan", 15.1778, 145.7500, "MP"),
    ("Pago Pago", -14.2756, -170.7020, "AS"),
]


@pytest.mark.parametrize(
    ("name", "lat", "lon", "code"), TERRITORIES, ids=[t[0] for t in TERRITORIES]
)
def test_territories_are_named_and_not_covered(name, lat, lon, code):
    w = where(lat, lon)
    assert (w.state, w.country, w.territory, w.method, w.covered) == (
        None,
        "US",
        code,
        "territory",
        False,
    )
    assert "not covered" in w.place


def test_vectorised_lookup_matches_single_lookups_across_borders():
    lat = [c[1] for c in CROSSINGS] + [t[1] for t in TERRITORIES]
    lon = [c[2] for c in CROSSINGS] + [t[2] for t in TERRITORIES]
    many = load_states().lookup(lat, lon)
    for i in range(len(lat)):
        assert many[i] == where(lat[i], lon[i])


def test_cli_where_abroad_and_territory():
    runner = CliRunner()
    assert runner.invoke(cli, ["where", "32.5305", "-117.0368"]).stdout == (
        "none (outside the US: Mexico)\n"
    )
    assert runner.invoke(cli, ["where", "18.4655", "-66.1057"]).stdout == (
        "none (Puerto Rico (US territory, not covered))\n"
    )
    out = json.loads(runner.invoke(cli, ["where", "42.316", "-83.037", "--json"]).output)
    assert (out["state"], out["country"], out["method"]) == (None, "CA", "country")


def test_cli_where_hints_at_swapped_coordinates():
    # Gainesville, FL given as LON LAT: the answer says so instead of a bare "none".
    result = CliRunner().invoke(cli, ["where", "-82.3248", "29.6516"])
    assert result.exit_code == 0
    assert result.stdout == "none\n"
    assert "LAT LON swapped? 29.6516 -82.3248 is in FL" in result.stderr


def test_where_file_csv_and_jsonl_round_trip(tmp_path):
    from keilog.geo.batch import read_points, where_file

    rows = [(c[1], c[2]) for c in CROSSINGS[:6]] + [(30.0, -140.0)]
    text = "lat,lon,name\n" + "".join(f"{a},{o},p{i}\n" for i, (a, o) in enumerate(rows))
    out = where_file(text.encode(), "pts.csv", load_states()).decode().splitlines()
    assert out[0] == (
        "lat,lon,name,state,country,territory,covered,confidence,method,near_border,distance_m"
    )
    assert out[1] == "32.5305,-117.0368,p0,,MX,,false,,country,false,"
    assert out[2] == "32.556,-117.044,p1,CA,US,,true,high,polygon,false,0.0"
    assert out[-1] == "30.0,-140.0,p6,,,,false,,none,false,"
    lines = where_file(b"32.5305,-117.0368\n18.4655,-66.1057\n", "-", load_states(), "jsonl")
    first, second = (json.loads(x) for x in lines.decode().splitlines())
    assert first == {
        "lat": 32.5305,
        "lon": -117.0368,
        "state": None,
        "country": "MX",
        "territory": None,
        "covered": False,
        "confidence": None,
        "method": "country",
        "near_border": False,
        "distance_m": None,
    }
    assert (second["country"], second["territory"]) == ("US", "PR")
    # The fast decimal parser agrees with float() to within 1e-12 degrees.
    t = read_points(text.encode(), "pts.csv")
    assert np.allclose(t.lat, [r[0] for r in rows], atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"lat,lon\n32.5,-117.0\n32.5,north\n", r"pts\.csv:3: could not convert"),
        (b"a,b\n1,2\n", r"pts\.csv:1: the header 'a,b' has no lat and lon columns"),
        (
            b"lat,lon\n32.5,-117.0\n-117.0,232.5\n",
            r"pts\.csv:3: \(-117\.0, 232\.5\) is not a position",
        ),
        (b"", r"pts\.csv: no points"),
    ],
)
def test_where_file_bad_input_names_the_file_and_line(text, message):
    from keilog.geo.batch import where_file

    with pytest.raises(GeoError, match=message):
        where_file(text, "pts.csv", load_states())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-90, 90), st.floats(-180, 180)), min_size=1, max_size=30))
def test_fast_parser_matches_float_on_plain_decimals(points):
    from keilog.geo.batch import read_points

    text = "".join(f"{a:.7f},{o:.7f}\n" for a, o in points).encode()
    t = read_points(text, "p.csv")
    assert np.allclose(t.lat, [float(f"{a:.7f}") for a, _ in points], atol=1e-9, rtol=0)
    assert np.allclose(t.lon, [float(f"{o:.7f}") for _, o in points], atol=1e-9, rtol=0)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_where_file_never_crashes_on_any_bytes(data):
    from keilog.geo.batch import where_file

    with contextlib.suppress(GeoError):
        where_file(data, "fuzz.csv", load_states())


def test_cli_where_file_from_stdin():
    result = CliRunner().invoke(
        cli, ["where", "--file", "-", "--nl"], input="42.3160,-83.0370\n42.3314,-83.0458\n"
    )
    assert result.exit_code == 0, result.output
    states = [json.loads(x)["state"] for x in result.stdout.splitlines()]
    assert states == [None, "MI"]


def test_water_fallback_distance_is_shapelys_distance_to_the_state():
    # Water near coasts, lakes and bays: the nearest state and its distance are those
    # shapely gives for the state polygons in the same local frame (x scaled by the
    # cosine of the point's half-degree band of latitude), and near_border says whether
    # a second state is within NEAR_BORDER_M of that.
    index = load_states()
    rng = np.random.default_rng(7)
    lat = rng.uniform(24, 50, 40_000)
    lon = rng.uniform(-125, -66, 40_000)
    w = index.lookup(lat, lon)
    picked = np.flatnonzero(w.fallback)[:100]
    assert len(picked) == 100
    for i in picked.tolist():
        c = max(math.cos(math.radians((math.floor(lat[i] / 0.5) + 0.5) * 0.5)), 0.05)
        local = shapely.transform(index.polygons, lambda xy, c=c: xy * (c * M_PER_DEG, M_PER_DEG))
        d = shapely.distance(local, shapely.Point(lon[i] * c * M_PER_DEG, lat[i] * M_PER_DEG))
        order = np.argsort(d, kind="stable")
        assert w.state[i] == index.codes[order[0]]
        assert w.distance_m[i] == pytest.approx(d[order[0]], abs=1e-6)
        assert w.near_border[i] == (d[order[1]] <= d[order[0]] + NEAR_BORDER_M)
