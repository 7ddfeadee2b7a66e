"""keilog check: each rule kind makes exactly the events it should, and no others.

Every scenario drives a hand-made road network (tests/roads/osm_testdata.py) placed in a
real state, so the state comes from the shipped boundaries and the rule from the shipped
rule data; expected limits cite the statute the rule data cites.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import keilog.cli.check_cmd
import keilog.rules.model
import pytest
import sqlite_utils
from click.testing import CliRunner
from keilog.cli.main import cli
from keilog.errors import ConfigError, StoreError
from keilog.roads import build_roads
from keilog.rules import load_rules
from keilog.rules.check import check_database
from keilog.rules.vehicle import Vehicle, load_vehicle

from tests.roads.osm_testdata import GAINESVILLE, NETWORK, write_osm
from tests.rules.check_testdata import drive, make_db, utc

INDIANAPOLIS = (39.7684, -86.1581)
DENVER = (39.7392, -104.9903)
MINNEAPOLIS = (44.9778, -93.2650)
KANSAS_CITY = (39.0000, -94.6075)  # State Line Rd area: KS to the west, MO to the east

NOON_FL = "2026-06-01T16:00:00"  # 12:00 EDT


def run(tmp_path, origin, legs, start, vehicle, network=NETWORK, can=None, gap=None):
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))
    roads = tmp_path / "net.roads.npz"
    build_roads(write_osm(tmp_path / "net.osm", origin, network), roads)
    fixes = drive(origin, legs, utc(start))
    if gap:  # drop the fixes of a GPS dropout (seconds from the start)
        fixes = [f for f in fixes if not gap[0] <= f["t"] - fixes[0]["t"] < gap[1]]
    db = make_db(tmp_path / "trip.db", fixes, can=can)
    report = check_database(db, vehicle, roads_path=roads)
    (trip,) = report["trips"]
    return trip


def rules(events):
    return [e["rule"] for e in events]


def test_lsv_over_its_speed_cap(tmp_path):
    # 49 CFR 571.3: an LSV does at most 25 mph; 30 mph along a 25 mph street in Florida.
    trip = run(
        tmp_path, GAINESVILLE, [((-1400, 3), (1400, 3), 30)], NOON_FL, Vehicle("t", "FL", "lsv")
    )
    assert rules(trip["violations"]) == ["vehicle_max_speed"]
    v = trip["violations"][0]
    assert (v["limit_mph"], v["observed_mph"], v["speed_source"]) == (25, 30.0, "gps")
    assert v["state"] == "FL" and v["source"] == "49 CFR 571.3"
    assert trip["unverified"] == []
    assert trip["verdict"] == "violations"


def _can(fixes_start, seconds, mph_at):
    """10 Hz CAN speed samples in km/h, mph_at(t) giving mph."""
    return [(fixes_start + k / 10, mph_at(k / 10) * 1.609344) for k in range(int(seconds * 10))]


def test_can_speed_spikes_do_not_make_events(tmp_path):
    # 22 mph on CAN with a 0.5 s spike to 40 mph: shorter than the 2 s debounce.
    start = utc(NOON_FL)
    can = _can(start, 130, lambda t: 40.0 if 50 <= t < 50.5 else 22.0)
    trip = run(
        tmp_path,
        GAINESVILLE,
        [((-1400, 3), (-100, 3), 22)],
        NOON_FL,
        Vehicle("t", "FL", "lsv"),
        can=can,
    )
    assert trip["violations"] == []
    assert trip["speed_source"] == {"source": "can", "signal": "CAN VEHICLE_SPEED (ABS)"}


def test_sustained_can_speed_over_the_cap_is_one_event(tmp_path):
    start = utc(NOON_FL)
    can = _can(start, 130, lambda t: 30.0 if 50 <= t < 54 else 22.0)
    trip = run(
        tmp_path,
        GAINESVILLE,
        [((-1400, 3), (-100, 3), 22)],
        NOON_FL,
        Vehicle("t", "FL", "lsv"),
        can=can,
    )
    assert rules(trip["violations"]) == ["vehicle_max_speed"]
    v = trip["violations"][0]
    assert v["speed_source"] == "can" and v["observed_mph"] == 30.0
    assert v["duration_s"] == pytest.approx(4.0, abs=0.2)


def test_speedometer_error_from_can_vs_gps(tmp_path):
    start = utc(NOON_FL)
    can = _can(start, 130, lambda t: 22.0 * 1.10)  # CAN reads 10 % high
    trip = run(
        tmp_path,
        GAINESVILLE,
        [((-1400, 3), (-100, 3), 22)],
        NOON_FL,
        Vehicle("t", "FL", "mini_truck"),
        can=can,
    )
    assert trip["speedometer"]["can_reads_high_percent"] == pytest.approx(10.0, abs=0.5)


def test_posted_limit_breach(tmp_path):
    # Fla. Stat. 316.2122: mini trucks only on streets posted 35 mph or less; Archer Rd is 45.
    trip = run(
        tmp_path,
        GAINESVILLE,
        [((-1400, 403), (1400, 403), 40)],
        NOON_FL,
        Vehicle("t", "FL", "mini_truck"),
    )
    assert rules(trip["violations"]) == ["road_max_posted"]
    v = trip["violations"][0]
    assert (v["limit_mph"], v["observed_mph"], v["source"]) == (35, 45.0, "Fla. Stat. 316.2122")
    assert v["road"]["name"] == "Archer Rd"
    # The Florida mini truck definition was not retrieved: its speed cap stays unknown.
    assert rules(trip["unverified"]) == ["vehicle_max_speed"]


def test_interstate_is_banned(tmp_path):
    # IC 9-21-8-46: no mini-trucks on interstates (I-75's southbound carriageway here).
    trip = run(
        tmp_path,
        INDIANAPOLIS,
        [((1030, 2800), (1030, -2800), 55)],
        NOON_FL,
        Vehicle("t", "IN", "mini_truck"),
    )
    assert rules(trip["violations"]) == ["banned_road"]
    v = trip["violations"][0]
    assert v["road_class"] == ["interstate"] and v["source"] == "IC 9-21-8-46"
    assert v["state"] == "IN"
    # 55 mph is under the 60 mph cap of IC 9-13-2-103.1: no speed event.
    assert "vehicle_max_speed" not in rules(trip["violations"])


def test_short_stretch_on_a_faster_road_is_an_allowed_crossing(tmp_path):
    # North on NW 1st St, then 9 s along Archer Rd (45 mph): Florida allows crossing.
    legs = [((3, -300), (3, 397), 20), ((0, 403), (100, 403), 25), ((100, 403), (100, 403), 0)]
    trip = run(tmp_path, GAINESVILLE, legs, NOON_FL, Vehicle("t", "FL", "mini_truck"))
    assert "road_max_posted" not in rules(trip["violations"])
    assert rules(trip["crossings"]) == ["road_max_posted"]


def test_long_stretch_on_the_faster_road_is_not_a_crossing(tmp_path):
    legs = [((3, -300), (3, 397), 20), ((0, 403), (900, 403), 25)]
    trip = run(tmp_path, GAINESVILLE, legs, NOON_FL, Vehicle("t", "FL", "mini_truck"))
    assert rules(trip["violations"]) == ["road_max_posted"]
    assert trip["crossings"] == []


KC_ROAD = [
    {
        "points": [(-1500, 0), (1500, 0)],
        "tags": {"highway": "secondary", "name": "W 75th St", "maxspeed": "40 mph"},
    }
]


def test_state_line_into_a_state_with_another_rule(tmp_path):
    # An LSV on a 40 mph road: allowed in Kansas (KSA 8-15,101: 40 mph roads), not in
    # Missouri (RSMo 304.029: 35 mph roads). Only the Missouri part is a violation.
    trip = run(
        tmp_path,
        KANSAS_CITY,
        [((-1400, 3), (1400, 3), 24)],
        "2026-06-01T17:00:00",
        Vehicle("t", "KS", "lsv"),
        network=KC_ROAD,
    )
    assert trip["states"] == ["KS", "MO"]
    assert rules(trip["violations"]) == ["road_max_posted"]
    v = trip["violations"][0]
    assert v["state"] == "MO" and v["limit_mph"] == 35 and v["observed_mph"] == 40.0
    assert "RSMo 304.029" in v["source"]
    assert v["near_border"] is True  # it starts at the state line


DENVER_ROAD = [
    {
        "points": [(-1500, 0), (1500, 0)],
        "tags": {"highway": "primary", "name": "Colfax Ave", "maxspeed": "45 mph"},
    }
]


def test_future_dated_rule_applies_only_from_its_date(tmp_path):
    vehicle = Vehicle("t", "CO", "mini_truck")
    legs = [((-1400, 3), (1400, 3), 40)]
    # Colorado DMV: kei vehicles may not be driven on any Colorado road until HB25-1281
    # applies; the act takes effect 2027-07-01 but applies from 2028-01-01.
    for day in ("2026-06-01", "2027-08-02"):
        before = run(tmp_path, DENVER, legs, f"{day}T18:00:00", vehicle, network=DENVER_ROAD)
        assert rules(before["violations"]) == ["class_not_allowed"], day
    # From 2028-01-01: roads posted 55 mph or less; a 45 mph road is fine.
    after = run(tmp_path, DENVER, legs, "2028-08-02T18:00:00", vehicle, network=DENVER_ROAD)
    assert after["violations"] == []
    assert after["rules"][0]["from"] == "2028-01-01"
    # No source states whether the class has a top-speed cap: unverified, never allowed.
    assert "vehicle_max_speed" in rules(after["unverified"])


MPLS_ROAD = [
    {
        "points": [(-1500, 0), (1500, 0)],
        "tags": {"highway": "residential", "name": "Lake St", "maxspeed": "30 mph"},
    }
]


def _mn_with_daylight_rule(tmp_path):
    """The shipped rules, with Minnesota's mini-truck daylight rule set as the research
    summary states it (Minn. Stat. 169.045: sunrise to sunset unless lighted). The shipped
    data leaves it unknown: the research could not confirm the text in force."""
    data = tmp_path / "rules"
    shutil.copytree(Path(keilog.rules.model.DATA_DIR), data)
    doc = json.loads((data / "MN.json").read_text())
    period = doc["classes"]["mini_truck"][0]
    period["daylight_only"] = {
        "value": "unless_lighted",
        "sources": [next(iter(doc["sources"]))],
        "confidence": "high",
    }
    (data / "MN.json").write_text(json.dumps(doc))
    return load_rules(data)


def run_with_book(tmp_path, book, origin, legs, start, vehicle, network):
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))
    roads = tmp_path / "net.roads.npz"
    build_roads(write_osm(tmp_path / "net.osm", origin, network), roads)
    db = make_db(tmp_path / "trip.db", drive(origin, legs, utc(start)))
    (trip,) = check_database(db, vehicle, roads_path=roads, book=book)["trips"]
    return trip


@pytest.mark.parametrize(
    ("when", "lights", "expected"),
    [
        # 21:00 CST on 15 Jan: dark. Sunrise to sunset unless lighted.
        ("2026-01-16T03:00:00", False, ["daylight_only"]),
        ("2026-01-16T03:00:00", True, []),
        # 12:00 CST: daylight.
        ("2026-01-15T18:00:00", False, []),
        # 20:30 CDT on 14 June: still light (sunset 21:03 CDT), though it is already
        # 15 June in UTC; 22:30 CDT: dark.
        ("2026-06-15T01:30:00", False, []),
        ("2026-06-15T03:30:00", False, ["daylight_only"]),
    ],
)
def test_daylight_only_at_night(tmp_path, when, lights, expected):
    trip = run_with_book(
        tmp_path,
        _mn_with_daylight_rule(tmp_path),
        MINNEAPOLIS,
        [((-1400, 3), (1400, 3), 25)],
        when,
        Vehicle("t", "MN", "mini_truck", lights=lights),
        MPLS_ROAD,
    )
    assert rules(trip["violations"]) == expected
    # Minnesota mini trucks need a local ordinance: never "clean" from state law alone.
    assert "class_not_allowed" in rules(trip["unverified"])


def test_unknown_daylight_rule_at_night_is_unverified(tmp_path):
    # The shipped data: Minnesota's mini-truck daylight rule is unknown, so a night drive
    # is unverified, never a violation and never allowed.
    trip = run(
        tmp_path,
        MINNEAPOLIS,
        [((-1400, 3), (1400, 3), 25)],
        "2026-01-16T03:00:00",
        Vehicle("t", "MN", "mini_truck"),
        network=MPLS_ROAD,
    )
    assert trip["violations"] == []
    night = [e for e in trip["unverified"] if e["rule"] == "daylight_only"]
    assert [e["reason"] for e in night] == ["daylight-only rule unknown; driven at night"]


def test_gps_dropout_is_unverified_not_a_violation(tmp_path):
    trip = run(
        tmp_path,
        GAINESVILLE,
        [((-1400, 3), (1400, 3), 24)],
        NOON_FL,
        Vehicle("t", "FL", "lsv"),
        gap=(60, 90),
    )
    assert trip["violations"] == []
    assert rules(trip["unverified"]) == ["gps_dropout"]
    assert trip["unverified"][0]["duration_s"] == pytest.approx(31.0, abs=1.5)
    assert trip["verdict"] == "unverified"


def test_clean_trip(tmp_path):
    trip = run(
        tmp_path, GAINESVILLE, [((-1400, 3), (1400, 3), 24)], NOON_FL, Vehicle("t", "FL", "lsv")
    )
    assert (trip["verdict"], trip["violations"], trip["unverified"]) == ("clean", [], [])


def test_without_roads_the_road_rules_are_unverified(tmp_path):
    fixes = drive(GAINESVILLE, [((-1400, 3), (1400, 3), 24)], utc(NOON_FL))
    db = make_db(tmp_path / "trip.db", fixes)
    (trip,) = check_database(db, Vehicle("t", "FL", "lsv"))["trips"]
    assert rules(trip["unverified"]) == ["road_rules"]
    assert "no road data" in trip["unverified"][0]["reason"]


def test_boots_and_long_gaps_make_trips(tmp_path):
    a = drive(GAINESVILLE, [((-1400, 3), (0, 3), 24)], utc(NOON_FL))
    b = drive(GAINESVILLE, [((-1400, 3), (0, 3), 24)], utc(NOON_FL) + 3600)
    db = make_db(tmp_path / "trip.db", a + b)  # one boot, a one-hour gap
    report = check_database(db, Vehicle("t", "FL", "lsv"))
    assert [t["id"] for t in report["trips"]] == [1, 2]
    only = check_database(db, Vehicle("t", "FL", "lsv"), trip=2)
    assert [t["id"] for t in only["trips"]] == [2]
    with pytest.raises(ConfigError, match="has no trip 3"):
        check_database(db, Vehicle("t", "FL", "lsv"), trip=3)


def test_a_database_without_the_stores_trips_is_refused_in_one_line(tmp_path):
    # Trips come from the store alone (keilog.store.trips), never made up by the check.
    db = sqlite_utils.Database(tmp_path / "hand.db")
    db["gps_fixes"].insert({"boot": 1, "mono_us": 0, "lat": 29.65, "lon": -82.32})
    with pytest.raises(StoreError, match=r"hand\.db: has no trips table .* keilog import"):
        check_database(tmp_path / "hand.db", Vehicle("t", "FL", "lsv"))


def test_vehicle_file(tmp_path):
    good = tmp_path / "kei.json"
    good.write_text('{"name": "Hijet", "registration_state": "NC", "class": "mini_truck"}')
    assert load_vehicle(good) == Vehicle("Hijet", "NC", "mini_truck", True)
    bad = tmp_path / "bad.json"
    bad.write_text('{"class": "kei"}')
    with pytest.raises(ConfigError, match=r"bad\.json: needs \"class\""):
        load_vehicle(bad)


def test_cli_check_json(tmp_path):
    fixes = drive(GAINESVILLE, [((-1400, 3), (1400, 3), 30)], utc(NOON_FL))
    db = make_db(tmp_path / "trip.db", fixes)
    roads = tmp_path / "net.roads.npz"
    build_roads(write_osm(tmp_path / "net.osm", GAINESVILLE, NETWORK), roads)
    result = CliRunner().invoke(
        cli,
        [
            "check",
            "--db",
            str(db),
            "--state",
            "FL",
            "--class",
            "lsv",
            "--roads",
            str(roads),
            "--json",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {
        "vehicle", "disclaimer", "rules_version", "thresholds", "roads", "trips",
    }  # fmt: skip
    assert report["roads"] == str(roads)  # so a report made later finds the road file
    assert report["disclaimer"].startswith("Not legal advice")
    assert report["rules_version"] == load_rules().version
    trip = report["trips"][0]
    assert {"id", "start", "end", "states", "verdict", "violations", "unverified"} <= set(trip)
    assert trip["violations"][0]["rule"] == "vehicle_max_speed"


def test_cli_check_needs_a_class(tmp_path):
    result = CliRunner().invoke(cli, ["check", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert "give --vehicle FILE" in result.output


TIJUANA = (32.5250, -117.0300)  # Zona Centro, 2 km south of the San Ysidro crossing


def test_a_trip_abroad_is_outside_the_us_never_a_us_violation(tmp_path):
    # The same 30 mph LSV drive that breaks 49 CFR 571.3 in Florida, driven in Tijuana:
    # California's rules do not apply there.
    trip = run(tmp_path, TIJUANA, [((-1400, 3), (1400, 3), 30)], NOON_FL, Vehicle("t", "CA", "lsv"))
    assert trip["violations"] == []
    assert rules(trip["unverified"]) == ["outside_us"]
    ev = trip["unverified"][0]
    assert (ev["state"], ev["country"]) == (None, "MX")
    assert "outside the US (Mexico)" in ev["reason"]
    assert trip["states"] == [] and trip["countries"] == ["MX"]


UNTAGGED = [
    {
        "points": [(-1500, 0), (1500, 0)],
        "tags": {"highway": "tertiary", "name": "County Road 1"},  # no maxspeed, as is usual
    }
]


def test_each_trip_reports_how_much_of_it_was_judged(tmp_path):
    # An LSV (road cap 35 mph, Fla. Stat. 316.2122) on a county road OpenStreetMap gives no
    # limit: it is judged by Florida's limit for roads outside business and residence
    # districts, 55 mph (Fla. Stat. 316.183(2)), with low confidence, and the trip says so.
    trip = run(
        tmp_path,
        GAINESVILLE,
        [((-1400, 3), (1400, 3), 20)],
        NOON_FL,
        Vehicle("t", "FL", "lsv"),
        network=UNTAGGED,
    )
    judged = trip["road_judged"]
    assert judged["distance_mi"] > 1.5  # 2.8 km driven
    assert judged["posted_limit_share"] == 0.0
    assert judged["statutory_default_share"] == 1.0 and judged["unjudged_share"] == 0.0
    [v] = [v for v in trip["violations"] if v["rule"] == "road_max_posted"]
    assert (v["observed_mph"], v["limit_mph"]) == (55.0, 35.0)
    assert (v["road_limit_basis"], v["confidence"]) == ("statutory_default", "low")
    assert v["road_limit_source"]["cite"].startswith("Fla. Stat. 316.183(2)")
    text = keilog.cli.check_cmd._text({"vehicle": {"name": "t", "class": "lsv"}, "trips": [trip]})
    assert (
        "  roads judged: 0 % on posted limits, 100 % on statutory limits of unposted roads "
        f"(low confidence), 0 % not judged, of {judged['distance_mi']:g} mi\n"
    ) in text
    # Where keilog has no statute for the state, the unposted road stays unjudged.
    tn = run(
        tmp_path,
        (36.1627, -86.7816),
        [((-1400, 3), (1400, 3), 20)],
        "2026-06-01T17:00:00",
        Vehicle("t", "TN", "lsv"),
        network=UNTAGGED,
    )
    assert tn["road_judged"]["statutory_default_share"] in (0.0, None)
    tagged = run(
        tmp_path, GAINESVILLE, [((-1400, 3), (1400, 3), 20)], NOON_FL, Vehicle("t", "FL", "lsv")
    )
    assert tagged["road_judged"]["posted_limit_share"] == 1.0
    text = keilog.cli.check_cmd._text({"vehicle": {"name": "t", "class": "lsv"}, "trips": [tagged]})
    assert "  roads judged: 100 % on posted limits, 0 % on statutory limits" in text


def _untagged(highway):
    return [{"points": [(-1500, 0), (1500, 0)], "tags": {"highway": highway, "name": "Rd 1"}}]


SILER_CITY_NC = (35.7235, -79.4622)
DUBLIN_GA = (32.5404, -82.9038)
OPELOUSAS_LA = (30.5335, -92.0815)
LIMON_CO = (39.2639, -103.6922)
MIDDAY = "2026-06-01T17:00:00"  # 13:00 EDT, 12:00 CDT, 11:00 MDT


def _unposted(tmp_path, origin, vehicle, highway="tertiary", start=MIDDAY):
    trip = run(tmp_path, origin, [((-1400, 3), (1400, 3), 20)], start, vehicle, _untagged(highway))
    posted = [e for e in trip["violations"] + trip["unverified"] if e["rule"] == "road_max_posted"]
    return trip, posted


@pytest.mark.parametrize(
    ("origin", "vehicle", "start"),
    [
        # N.C.G.S. 20-141(b): 35 mph inside city limits, 55 outside; mini trucks may use
        # roads posted 55 mph or less (N.C. S.L. 2019-34): kept either way.
        (SILER_CITY_NC, Vehicle("t", "NC", "mini_truck"), MIDDAY),
        # C.R.S. 42-4-1101(2): 20 to 55 mph off freeways; HB25-1281: roads up to 55 mph.
        (LIMON_CO, Vehicle("t", "CO", "mini_truck"), "2028-06-01T17:00:00"),
    ],
)
def test_an_unposted_rural_road_within_the_classes_limit_is_judged_kept(
    tmp_path, origin, vehicle, start
):
    trip, posted = _unposted(tmp_path, origin, vehicle, start=start)
    assert posted == []
    assert trip["road_judged"]["statutory_default_share"] == 1.0


@pytest.mark.parametrize(
    ("origin", "vehicle", "highway", "observed"),
    [
        # La. R.S. 32:61: 55 mph on any highway unless a lower limit is posted; an LSV may
        # use roads posted 35 mph or less.
        (OPELOUSAS_LA, Vehicle("t", "LA", "lsv"), "unclassified", 55.0),
        # The same on a road that may be a multi-lane divided highway (55 or 65 mph): even
        # its lowest limit is above 35 mph, so it is broken.
        (OPELOUSAS_LA, Vehicle("t", "LA", "lsv"), "secondary", 55.0),
    ],
)
def test_an_unposted_road_whose_lowest_statutory_limit_is_above_the_classes_is_broken(
    tmp_path, origin, vehicle, highway, observed
):
    trip, [v] = _unposted(tmp_path, origin, vehicle, highway)
    assert v in trip["violations"]
    assert (v["observed_mph"], v["limit_mph"]) == (observed, 35.0)
    assert v["road_limit_basis"] == "statutory_default" and v["confidence"] == "low"
    assert v["road_limit_source"]["cite"] == "La. R.S. 32:61"
    assert trip["road_judged"]["statutory_default_share"] == 1.0
    low, high = v["road_limit_source"]["range_mph"]
    text = keilog.cli.check_cmd._text({"vehicle": vehicle.to_dict(), "trips": [trip]})
    shown = f"{low:g} mph" if low == high else f"at least {low:g} mph ({low:g}-{high:g})"
    assert f"unposted road whose limit by statute is {shown} (class max 35" in text


@pytest.mark.parametrize(
    ("origin", "vehicle", "highway", "start", "limit"),
    [
        # N.C.G.S. 20-141(b): 35 or 55 mph; an LSV may use roads posted 35 mph or less.
        (SILER_CITY_NC, Vehicle("t", "NC", "lsv"), "tertiary", MIDDAY, "35-55 mph"),
        # O.C.G.A. 40-6-181(b): 30 mph in an urban or residential district, else 55.
        (DUBLIN_GA, Vehicle("t", "GA", "lsv"), "residential", MIDDAY, "30-55 mph"),
        # C.R.S. 42-4-1101(2)(g): a trunk road may be a freeway (65 mph); kei: 55 at most.
        (LIMON_CO, Vehicle("t", "CO", "mini_truck"), "trunk", "2028-06-01T17:00:00", "20-65 mph"),
    ],
)
def test_an_unposted_road_whose_statutory_limit_may_be_either_side_is_unverified(
    tmp_path, origin, vehicle, highway, start, limit
):
    trip, [u] = _unposted(tmp_path, origin, vehicle, highway, start)
    assert u in trip["unverified"]
    assert f"sets {limit} for such a road" in u["reason"]
    judged = trip["road_judged"]
    assert judged["statutory_default_share"] == 0.0 and judged["unjudged_share"] == 1.0


OPELOUSAS_LA = (30.5335, -92.0815)


def test_the_check_text_shows_each_source_once_parenthesised_for_every_state(tmp_path):
    # La. R.S. 32:300.1: an LSV only on highways posted 35 mph or less; the network's
    # Archer Rd is posted 45 mph. Its source used to read "((Louisiana LSV access, ...))".
    trip = run(
        tmp_path,
        OPELOUSAS_LA,
        [((-1400, 403), (1400, 403), 20)],
        "2026-06-01T17:00:00",
        Vehicle("t", "LA", "lsv"),
    )
    [v] = [v for v in trip["violations"] if v["rule"] == "road_max_posted"]
    text = keilog.cli.check_cmd._text({"vehicle": {"name": "t", "class": "lsv"}, "trips": [trip]})
    assert "on a road posted 45 mph (class max 35) (La. R.S. 32:300.1)" in text
    # Every source label of the rule book, as a violation's source and as an unposted
    # road's statute, rendered by the same text: one pair of parentheses around it, and
    # every parenthesis in it closed.
    book = load_rules()
    labels = {
        value.source_label
        for code in book
        for periods in book[code].classes.values()
        for rule in periods
        for value in rule.values.values()
        if value.sources
    }
    labels |= {s.label for code in book for s in book[code].sources.values()}
    statutes = {s.source_label for code in book for s in book[code].statutory_limits}
    assert len(labels) > 200 and len(statutes) >= 5  # every source of the 51 books
    shown = [{**v, "source": label} for label in sorted(labels)]
    shown += [
        {
            **v,
            "road_limit_basis": "statutory_default",
            "road_limit_source": {"cite": cite, "range_mph": [55.0, 55.0]},
        }
        for cite in sorted(statutes)
    ]
    text = keilog.cli.check_cmd._text(
        {"vehicle": {"name": "t", "class": "lsv"}, "trips": [{**trip, "violations": shown}]}
    )
    lines = [line for line in text.splitlines() if line.startswith("  VIOLATION")]
    assert len(lines) == len(shown)
    for line in lines:
        assert "((" not in line, line
        depth = 0
        for ch in line:
            depth += (ch == "(") - (ch == ")")
            assert depth >= 0, line
        assert depth == 0, line
