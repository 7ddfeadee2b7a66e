"""Reading a check result (keilog check --json) back: validation, trips, sources."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keilog.report import ReportError, Trip, check_from_dict, load_check
from keilog.rules import CheckResult, rule_field
from keilog.rules.check import check_database, check_result
from keilog.rules.vehicle import Vehicle

from tests.report.synth import START

VIOLATION = {
    "rule": "road_max_posted",
    "state": "FL",
    "start": "2026-06-01T14:00:57Z",
    "end": "2026-06-01T14:01:39Z",
    "duration_s": 42.0,
    "limit_mph": 35,
    "observed_mph": 45.0,
    "lat": 29.5072,
    "lon": -82.2799,
    "source": "Fla. Stat. 316.2122",
}


def doc(*trips):
    return {"vehicle": {"registration_state": "FL", "class": "mini_truck"}, "trips": list(trips)}


def trip(i, start, end, violations=()):
    return {"id": i, "start": start, "end": end, "states": ["FL"], "violations": list(violations)}


def test_violations_get_their_sources_date_and_url_from_the_rule_data():
    result = check_from_dict(
        doc(trip(1, "2026-06-01T14:00:00Z", "2026-06-01T14:03:00Z", [VIOLATION]))
    )
    [v] = result.trips[0].violations
    assert (v.number, v.rule, v.limit_mph, v.observed_mph, v.excess_mph) == (
        1, "road_max_posted", 35, 45.0, 10.0,
    )  # fmt: skip
    # host/keilog/rules/data/FL.json: compiled 2026-11-25; source fla-stat-316-2122-2.
    assert v.source_date == "2026-11-25"
    assert v.source_url is not None and v.source_url.startswith("http")
    assert v.start == START + 57


def test_a_date_given_by_the_check_wins():
    v = dict(VIOLATION, source_date="2025-01-31")
    result = check_from_dict(doc(trip(1, None, None, [v])))
    assert result.trips[0].violations[0].source_date == "2025-01-31"


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ("road_max_posted", "road_max_posted_mph"),
        ("vehicle_max_speed", "vehicle_max_mph"),
        ("banned_road", "banned_roads"),
        ("class_not_allowed", "road_use"),
        ("daylight_only", "daylight_only"),
        ("distance_limit", "distance_limit_mi"),
        ("gps_dropout", None),
    ],
)
def test_rule_ids_map_to_rule_data_fields(rule, field):
    assert rule_field(rule) == field


def test_check_trips_are_matched_to_database_trips_by_time_overlap():
    result = check_from_dict(
        doc(
            trip(1, "2026-06-01T14:00:00Z", "2026-06-01T14:01:00Z"),
            trip(2, "2026-06-01T15:00:00Z", "2026-06-01T15:01:00Z"),
        )
    )
    # The database numbers trips differently (a CAN-only boot came first): time decides.
    db_trip = Trip(5, "KEI-0001", 3, START + 3590, START + 3700)
    matched = result.for_trip(db_trip)
    assert matched is not None and matched.id == 2
    assert result.for_trip(Trip(1, "KEI-0001", 1, START + 9000, START + 9100)) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", r"bad\.json:1: not JSON"),
        (
            '{"trips": 3}',
            r"bad\.json: not a keilog check result at trips: 3 is not of type 'array'",
        ),
        (
            '{"trips": [{"id": 1, "violations": [{}]}]}',
            r"at trips/0/violations/0: 'rule' is a required",
        ),
        (
            '{"trips": [{"id": 1, "road_judged": {"posted_limit_share": "most"}}]}',
            r"at trips/0/road_judged/posted_limit_share: 'most' is not of type",
        ),
        (
            '{"trips": [{"id": 1, "start": "yesterday"}]}',
            r"trips\[0\]\.start: 'yesterday' is not an ISO 8601",
        ),
    ],
)
def test_malformed_check_results_are_errors_that_say_where(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ReportError, match=message):
        load_check(path)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    ["rule", "state", "start", "end", "lat", "limit_mph", "source", "id", "road_judged"]
)


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        JSONISH,
        st.fixed_dictionaries(
            {"trips": st.lists(st.dictionaries(FIELDS, JSONISH, max_size=5), max_size=3)}
        ),
        st.fixed_dictionaries(
            {
                "trips": st.lists(
                    st.fixed_dictionaries(
                        {
                            "id": st.integers(),
                            "violations": st.lists(st.dictionaries(FIELDS, JSONISH)),
                        }
                    ),
                    max_size=2,
                )
            }
        ),
    )
)
def test_any_json_is_read_or_refused_with_a_report_error(value):
    try:
        result = check_from_dict(value, "fuzz.json")
    except ReportError as exc:
        assert str(exc).startswith("fuzz.json")
    else:
        assert isinstance(result.trips, list)
        for t in result.trips:
            judged = t.road_judged
            assert judged is None or judged.text


def test_a_trips_road_judged_shares_are_read_in_one_wording():
    judged = {
        "distance_mi": 9.8,
        "posted_limit_share": 0.62,
        "statutory_default_share": 0.0,
        "unjudged_share": 0.38,
    }
    result = check_from_dict(
        doc(dict(trip(1, None, None), road_judged=judged), trip(2, None, None))
    )
    first, older = result.trips
    assert first.road_judged is not None
    assert first.road_judged.text == (
        "62 % on posted limits, 0 % on statutory limits of unposted roads (low confidence), "
        "38 % not judged, of 9.8 mi"
    )
    assert first.road_judged.short == "62 % posted, 0 % statutory, 38 % not judged (9.8 mi)"
    assert older.road_judged is None  # a check written before road_judged existed
    none = dict(judged, distance_mi=0.0, posted_limit_share=None)
    nothing = check_from_dict(doc(dict(trip(1, None, None), road_judged=none)))
    assert nothing.trips[0].road_judged.text == "no road rule applied on this trip"
    assert nothing.trips[0].road_judged.short == "no road rule applied"


def test_a_check_written_by_keilog_check_is_read(florida, tmp_path):
    path = tmp_path / "check.json"
    path.write_text(json.dumps(florida.check))
    result = load_check(path)
    assert result.vehicle_class == "mini_truck"
    assert [len(t.violations) for t in result.trips] == [
        len(t["violations"]) for t in florida.check["trips"]
    ]


def test_the_typed_result_writes_the_json_it_was_read_from(florida):
    # One definition of the JSON: check_database is check_result(...).to_json().
    result = CheckResult.from_json(florida.check, "check.json")
    assert json.dumps(result.to_json(), indent=2) == json.dumps(florida.check, indent=2)
    assert result.rules_version == florida.check["rules_version"]
    assert result.thresholds == florida.check["thresholds"]


def test_check_result_gives_the_typed_result_of_check_database(florida):
    vehicle = Vehicle("Carry", "FL", "mini_truck")
    result = check_result(florida.db, vehicle, florida.roads)
    assert result.vehicle_class == "mini_truck"
    assert [v.rule for t in result.trips for v in t.violations] == [
        v["rule"] for t in florida.check["trips"] for v in t["violations"]
    ]
    assert result.to_json() == check_database(florida.db, vehicle, florida.roads)


def test_a_check_result_nested_100000_deep_is_our_error(tmp_path):
    path = tmp_path / "check.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ReportError, match=r"check\.json: nested too deep"):
        load_check(path)


@pytest.mark.parametrize(
    "data",
    [b'{"a": 1' + b"1" * 5000 + b"}", b"\xff\xfe{}"],
    ids=["huge-integer", "not-utf8"],
)
def test_a_check_result_json_cannot_hold_is_our_error(tmp_path, data):
    path = tmp_path / "check.json"
    path.write_bytes(data)
    with pytest.raises(ReportError, match=r"check\.json: not a check result"):
        load_check(path)
