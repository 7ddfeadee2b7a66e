"""Scenario files: the documented format, and mistakes named by their key."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from keilog.errors import ConfigError
from keilog.sim import scenario as sc

EXAMPLE = {
    "name": "Kei truck on a rural Florida road",
    "start_utc": "2026-06-01T14:00:00Z",
    "vehicle": {"registered_state": "FL", "class": "mini_truck"},
    "route": [
        {"lat": 29.6516, "lon": -82.3248, "speed_mph": 30},
        {"lat": 29.6600, "lon": -82.3248, "speed_mph": 45},
        {"lat": 29.6700, "lon": -82.3300},
    ],
    "roads": "roads.osm",
    "gps_dropouts": [{"after_s": 120, "for_s": 15}],
}


def write(tmp_path, data, roads=True):
    if roads:
        (tmp_path / "roads.osm").write_text("<osm version='0.6'/>\n")
    path = tmp_path / "trip.json"
    path.write_text(json.dumps(data))
    return path


def test_the_issue_example_loads(tmp_path):
    s = sc.load(write(tmp_path, EXAMPLE))
    assert s.name == "Kei truck on a rural Florida road"
    assert s.start_utc.isoformat() == "2026-06-01T14:00:00+00:00"
    assert (s.vehicle.registered_state, s.vehicle.vehicle_class) == ("FL", "mini_truck")
    assert [p.speed_mph for p in s.route] == [30, 45, None]
    assert s.roads == tmp_path / "roads.osm"  # relative to the scenario file
    assert s.gps_dropouts == (sc.Dropout(120.0, 15.0),)
    assert s.vehicle.can and s.vehicle.obd


def mutate(path: str, value):
    data = json.loads(json.dumps(EXAMPLE))
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if value is DELETE:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return data


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("colour", "red", r"colour: unknown key 'colour'"),
        ("vehicle.turbo", True, r"vehicle\.turbo: unknown key 'turbo'"),
        ("route.1.speed", 45, r"route\[1\]\.speed: unknown key 'speed'"),
        ("gps_dropouts.0.until_s", 3, r"gps_dropouts\[0\]\.until_s: unknown key"),
        ("route.1.lat", 95.0, r"route\[1\]\.lat: 95\.0 is out of range"),
        ("route.2.lon", -182.5, r"route\[2\]\.lon: -182\.5 is out of range"),
        ("route.0.lat", "29.65", r"route\[0\]\.lat: must be a number, not the string '29.65'"),
        ("route.0.lon", None, r"route\[0\]\.lon: must be a number, not null"),
        ("route.0.lat", float("nan"), r"route\[0\]\.lat: nan is out of range"),
        ("route.0.speed_mph", 0, r"route\[0\]\.speed_mph: 0 is out of range"),
        ("route.0.speed_mph", DELETE, r"route\[0\]\.speed_mph: is missing"),
        ("route.2.speed_mph", 20, r"route\[2\]\.speed_mph: the last point ends the route"),
        ("route.1", {"lat": 29.6516, "lon": -82.3248, "speed_mph": 3}, r"route\[1\]: is the same"),
        ("route", [{"lat": 29.0, "lon": -82.0}], r"route: needs at least 2 points"),
        ("vehicle.class", "kei", r"vehicle\.class: 'kei' is not one of normal, mini_truck"),
        ("vehicle.registered_state", "XX", r"vehicle\.registered_state: 'XX' is not a US state"),
        ("vehicle.can", "yes", r"vehicle\.can: must be true or false"),
        ("vehicle.registered_state", DELETE, r"vehicle\.registered_state: is missing"),
        ("start_utc", "2026-06-01T14:00:00", r"start_utc: .* has no time zone"),
        ("start_utc", "June 1st", r"start_utc: 'June 1st' is not an ISO 8601 time"),
        ("gps_dropouts.0.for_s", 0, r"gps_dropouts\[0\]\.for_s: 0 is out of range"),
        ("roads", "missing.osm", r"roads: file not found: .*missing\.osm"),
        ("name", DELETE, r"name: is missing"),
        ("seed", -1, r"seed: must be a whole number"),
    ],
)
def test_mistakes_are_errors_naming_file_and_key(tmp_path, path, value, message):
    trip = write(tmp_path, mutate(path, value))
    with pytest.raises(ConfigError, match=message) as err:
        sc.load(trip)
    assert str(err.value).startswith(f"{trip}: ")


def test_json_syntax_errors_name_the_line(tmp_path):
    trip = tmp_path / "trip.json"
    trip.write_text('{\n  "name": "x",\n  "route": [,]\n}\n')
    with pytest.raises(ConfigError, match=r"trip\.json: line 3 column 13: not valid JSON"):
        sc.load(trip)


def test_missing_file_lists_the_built_in_scenarios(tmp_path):
    with pytest.raises(ConfigError, match=r"scenario file not found.*florida_rural"):
        sc.load(tmp_path / "nope.json")


def test_builtins_load_by_name_and_the_demo_is_florida_rural():
    names = sc.builtin_names()
    assert names == [
        "florida_alabama_line",
        "florida_rural",
        "florida_unposted",
        "indiana_interstate",
        "kei_truck_1995",
        "north_carolina_gps_only",
        "tennessee_speed_cap",
    ]
    demo = sc.builtin()
    assert demo.name == "Kei truck on a rural Florida road"
    assert sc.builtin("florida_rural.json") == demo
    assert sc.resolve("florida_rural") == demo
    assert demo.roads is not None and demo.roads.is_file()
    with pytest.raises(ConfigError, match="no built-in scenario named 'atlantis'"):
        sc.builtin("atlantis")


def test_optional_fields_have_documented_defaults(tmp_path):
    data = {k: v for k, v in EXAMPLE.items() if k not in ("roads", "gps_dropouts")}
    s = sc.load(write(tmp_path, data, roads=False))
    assert s.roads is None and s.gps_dropouts == ()
    assert (s.ambient_c, s.seed, s.description, s.expect) == (25.0, 0, "", {})
    v = s.vehicle
    assert (v.can, v.obd, v.speedo_error_pct, v.governor_mph) == (True, True, 0.0, None)
    assert (v.odometer_km, v.fuel_pct, v.engine_warm) == (48_000.0, 60.0, False)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@given(doc=JSON)
def test_any_json_document_is_a_scenario_or_a_config_error(doc):
    try:
        sc.parse(doc, source="fuzz.json")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.json")


@given(
    key=st.sampled_from(sorted(EXAMPLE)),
    value=JSON,
)
def test_any_value_in_any_field_is_accepted_or_named(key, value):
    data = dict(EXAMPLE)
    data.pop("roads")
    if key == "roads":
        return
    data[key] = value
    try:
        sc.parse(data, source="fuzz.json")
    except ConfigError as exc:
        assert str(exc).startswith(f"fuzz.json: {key}")


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a": ' * 100_000], ids=["lists", "objects"])
def test_a_scenario_nested_100000_deep_is_a_config_error(text):
    with pytest.raises(ConfigError, match=r"^deep\.json: nested too deep to be a scenario"):
        sc.loads(text, source="deep.json")
