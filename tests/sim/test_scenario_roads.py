"""The built-in scenarios' hand-made OSM files: osmium reads them, and the roads the
rules need (highway class, maxspeed, ref) lie under each route."""

import itertools
import math

import osmium
import pytest
from keilog.roads.osm import CAR_HIGHWAYS
from keilog.sim.route import Route
from keilog.sim.scenario import builtin, builtin_names


def read_ways(path):
    ways = []
    for w in osmium.FileProcessor(str(path)).with_locations():
        if w.is_way():
            pts = [(n.lat, n.lon) for n in w.nodes]
            ways.append((dict(w.tags), pts))
    return ways


def metres_to_segment(p, a, b):
    """Distance from p to segment ab, in a local flat projection (fine below ~10 km)."""
    k = math.cos(math.radians(p[0]))
    ax, ay = (a[1] - p[1]) * k * 111_195, (a[0] - p[0]) * 111_195
    bx, by = (b[1] - p[1]) * k * 111_195, (b[0] - p[0]) * 111_195
    dx, dy = bx - ax, by - ay
    f = 0.0 if dx == dy == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / (dx * dx + dy * dy)))
    return math.hypot(ax + f * dx, ay + f * dy)


def roads_under(ways, p, within=10.0):
    return [
        tags
        for tags, pts in ways
        if any(metres_to_segment(p, a, b) <= within for a, b in itertools.pairwise(pts))
    ]


@pytest.mark.parametrize("name", builtin_names())
def test_every_metre_of_the_route_is_on_a_tagged_road(name):
    sc = builtin(name)
    ways = read_ways(sc.roads)
    assert any(tags.get("highway") in CAR_HIGHWAYS for tags, _ in ways)
    for tags, _pts in ways:
        if tags.get("highway") not in CAR_HIGHWAYS:
            continue  # the base map's context: water, a farm track
        # ramps are often unposted in OpenStreetMap, as here; every other road has a limit,
        # except in the scenario about unposted roads, whose county road has none on purpose
        unposted_on_purpose = name == "florida_unposted" and tags.get("ref") == "CR 234"
        assert "maxspeed" in tags or tags["highway"].endswith("_link") or unposted_on_purpose
    route = Route([(p.lat, p.lon) for p in sc.route], [1.0] * (len(sc.route) - 1))
    s = 0.0
    while s <= route.length_m:
        pos = route.position(s)
        assert roads_under(ways, (pos.lat, pos.lon)), f"{name}: no road at {s:.0f} m"
        s += 25.0


def posted_along(sc, ways, leg):
    route = Route([(p.lat, p.lon) for p in sc.route], [1.0] * (len(sc.route) - 1))
    start, length = route.starts_m[leg], route.legs[leg].length_m
    mid = route.position(start + length / 2)
    return roads_under(ways, (mid.lat, mid.lon))


def test_florida_demo_leaves_a_25_mph_street_for_a_45_mph_county_road():
    sc = builtin("florida_rural")
    ways = read_ways(sc.roads)
    assert [t["maxspeed"] for t in posted_along(sc, ways, 0)] == ["25 mph"]
    assert [(t["ref"], t["maxspeed"]) for t in posted_along(sc, ways, 1)] == [("CR 234", "45 mph")]
    assert sc.route[1].speed_mph == 45  # driven at the posted limit, above Florida's 35


def test_indiana_scenario_drives_on_an_interstate():
    sc = builtin("indiana_interstate")
    on = posted_along(sc, read_ways(sc.roads), 2)
    assert [(t["highway"], t["ref"]) for t in on] == [("motorway", "I 65")]


def test_florida_alabama_scenario_crosses_the_31st_parallel():
    # The Florida-Alabama line west of the Chattahoochee follows 31 degrees north.
    lats = [p.lat for p in builtin("florida_alabama_line").route]
    assert lats[0] < 31.0 < lats[-1]


def test_north_carolina_scenario_crosses_us_64_after_a_stop():
    sc = builtin("north_carolina_gps_only")
    ways = read_ways(sc.roads)
    crossing = posted_along(sc, ways, 1)  # the middle of this short leg is the junction
    assert ("trunk", "US 64", "60 mph") in {
        (t["highway"], t.get("ref"), t["maxspeed"]) for t in crossing
    }
    assert sc.route[1].stop_s > 0
    assert not sc.vehicle.can


@pytest.mark.parametrize("name", ["florida_rural", "florida_unposted"])
def test_the_florida_drives_carry_base_map_context(name):
    # What the report's offline base map draws around the route (docs/report.md): water,
    # a stream, a farm track and the town's name, none of them a road the check judges.
    sc = builtin(name)
    ways = read_ways(sc.roads)
    assert any(tags.get("natural") == "water" for tags, _ in ways)
    assert any(tags.get("waterway") == "stream" for tags, _ in ways)
    assert any(tags.get("highway") == "track" for tags, _ in ways)
    places = [
        dict(n.tags)
        for n in osmium.FileProcessor(str(sc.roads)).with_filter(osmium.filter.KeyFilter("place"))
    ]
    assert [(p["place"], p["name"]) for p in places] == [("town", "Micanopy")]
