"""Route driving along great-circle legs: distances, positions, speed plan."""

import math

import pytest
from keilog.sim.route import (
    Route,
    initial_bearing_deg,
    sun_elevation_deg,
)
from keilog.units import EARTH_RADIUS_M, haversine_m


def test_one_degree_of_latitude_on_the_mean_sphere():
    # pi * R / 180 with R = 6,371,008.8 m (IUGG mean radius) = 111,195.08 m
    assert haversine_m(29.0, -82.0, 30.0, -82.0) == pytest.approx(
        math.pi * EARTH_RADIUS_M / 180, rel=1e-9
    )


@pytest.mark.parametrize(
    ("end", "bearing"), [((30.0, -82.0), 0.0), ((29.0, -81.0), 89.757), ((28.0, -82.0), 180.0)]
)
def test_initial_bearing(end, bearing):
    # eastward from 29 N the great circle starts a little north of east: 90 - 0.243 deg
    assert initial_bearing_deg(29.0, -82.0, *end) == pytest.approx(bearing, abs=0.01)


def test_positions_lie_on_the_legs_and_distances_add_up():
    route = Route([(29.50, -82.30), (29.51, -82.30), (29.51, -82.29)], [10.0, 10.0])
    first = haversine_m(29.50, -82.30, 29.51, -82.30)
    assert route.length_m == pytest.approx(first + haversine_m(29.51, -82.30, 29.51, -82.29))
    mid = route.position(first / 2)
    assert mid.lat == pytest.approx(29.505, abs=1e-7)
    assert mid.lon == pytest.approx(-82.30, abs=1e-9)
    assert mid.heading_deg == pytest.approx(0.0, abs=1e-6)
    corner = route.position(first)
    assert (corner.lat, corner.lon) == pytest.approx((29.51, -82.30), abs=1e-9)
    end = route.position(route.length_m + 50)  # clamped to the last point
    assert (end.lat, end.lon) == pytest.approx((29.51, -82.29), abs=1e-9)


def test_target_speed_brakes_early_for_a_slower_leg_and_stops_at_the_end():
    route = Route([(29.50, -82.30), (29.51, -82.30), (29.52, -82.30)], [20.0, 10.0])
    first = route.legs[0].length_m
    assert route.target_speed(0.0) == 20.0
    # 100 m before the slower leg: sqrt(10^2 + 2 * 1.5 * 100) = 20 m/s, just binding
    assert route.target_speed(first - 100.0) == pytest.approx(20.0)
    assert route.target_speed(first - 50.0) == pytest.approx(math.sqrt(100 + 150))
    assert route.target_speed(first + 1.0) == 10.0
    # 8 m before the end: sqrt(2 * 1.5 * 8) = 4.9 m/s
    assert route.target_speed(route.length_m - 8.0) == pytest.approx(math.sqrt(24))
    assert route.target_speed(route.length_m) == 0.0


def test_a_right_angle_turn_is_taken_at_about_31_kmh():
    route = Route([(29.50, -82.30), (29.51, -82.30), (29.51, -82.29)], [25.0, 25.0])
    assert route.turn_deg(1) == pytest.approx(90.0, abs=0.01)
    # v = sqrt(3 m/s^2 * 25 m / tan 45 deg) = 8.66 m/s = 31.2 km/h
    assert route.corner_speed(1) == pytest.approx(math.sqrt(75), rel=1e-3)


def test_stops_made_are_not_made_again():
    route = Route([(29.50, -82.30), (29.51, -82.30), (29.52, -82.30)], [15.0, 15.0], stops=[1])
    stop = route.waypoint_m[1]
    assert route.target_speed(stop - 2.0) == pytest.approx(math.sqrt(6))
    assert route.target_speed(stop - 2.0, stops_done_m=stop) == 15.0


def test_sun_elevation_noon_and_night():
    # Gainesville FL (29.65 N, 82.32 W), 2026-06-01: solar noon about 17:30 UTC with the
    # sun 82 deg up (90 - 29.65 + declination 22.0); two hours after sunset it is down.
    from datetime import UTC, datetime

    noon = sun_elevation_deg(29.65, -82.32, datetime(2026, 6, 1, 17, 30, tzinfo=UTC))
    assert noon == pytest.approx(90 - 29.65 + 22.0, abs=0.6)
    assert sun_elevation_deg(29.65, -82.32, datetime(2026, 6, 2, 2, 30, tzinfo=UTC)) < -10
