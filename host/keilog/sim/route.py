"""Driving a route: great-circle legs, where the car is, and how fast it may go there.

A route is a list of waypoints. The car drives the legs in order along great circles
(spherical Earth, mean radius), aiming for each leg's speed, slows for sharp turns at
waypoints, stops where a waypoint says so and at the last point. :class:`Route` turns a
distance along the route into a position and heading; :meth:`Route.target_speed` gives
the speed a calm driver aims for at that distance, braking early enough for what is
ahead.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from keilog.units import MPS_PER_MPH, haversine_m

# IUGG mean Earth radius (R1 = 6,371,008.8 m). A sphere is within 0.5 % of the WGS 84
# ellipsoid for distances, far inside GPS noise over the few kilometres of a scenario.

MPH = MPS_PER_MPH  # m/s per mph (keilog.units)

# A calm driver plans to slow down at 1.5 m/s^2 (about 0.15 g): well below the
# 3.4 m/s^2 that AASHTO's Green Book takes for stopping sight distance (a rate most
# drivers accept when they must stop), as unhurried slowing for a known stop is.
PLAN_DECEL_MPS2 = 1.5
# Lateral acceleration a driver accepts in a slow turn, about 0.3 g (the AASHTO Green
# Book's side-friction factors for curve design run from about 0.1 at highway speeds
# to about 0.3 at low speeds).
TURN_LATERAL_MPS2 = 3.0
# A waypoint is a corner; the path rounds it with this many metres of radius per
# unit of cot(turn/2): a 90 degree intersection turn gets 25 m (about 31 km/h).
TURN_RADIUS_SCALE_M = 25.0


@dataclass(frozen=True, slots=True)
class Position:
    lat: float
    lon: float
    heading_deg: float  # true course over ground, 0-360


def route_length_m(points: Sequence[tuple[float, float]]) -> float:
    """Length of a polyline of great-circle legs, in metres."""
    return sum(float(haversine_m(*a, *b)) for a, b in itertools.pairwise(points))


def initial_bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial true bearing (0-360) of the great circle from point 1 to point 2."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


def _unit(lat: float, lon: float) -> tuple[float, float, float]:
    p, lam = math.radians(lat), math.radians(lon)
    return (math.cos(p) * math.cos(lam), math.cos(p) * math.sin(lam), math.sin(p))


class _Leg:
    """One great-circle leg, interpolated by spherical linear interpolation."""

    __slots__ = ("a", "b", "lat1", "lat2", "length_m", "lon1", "lon2", "omega", "sin_omega")

    def __init__(self, lat1: float, lon1: float, lat2: float, lon2: float) -> None:
        self.lat1, self.lon1, self.lat2, self.lon2 = lat1, lon1, lat2, lon2
        self.length_m = float(haversine_m(lat1, lon1, lat2, lon2))
        self.a = _unit(lat1, lon1)
        self.b = _unit(lat2, lon2)
        dot = sum(x * y for x, y in zip(self.a, self.b, strict=True))
        self.omega = math.acos(max(-1.0, min(1.0, dot)))
        self.sin_omega = math.sin(self.omega)

    def point(self, f: float) -> tuple[float, float]:
        if self.sin_omega < 1e-12:
            return self.lat1, self.lon1
        ka = math.sin((1 - f) * self.omega) / self.sin_omega
        kb = math.sin(f * self.omega) / self.sin_omega
        x, y, z = (ka * p + kb * q for p, q in zip(self.a, self.b, strict=True))
        return math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x))

    def heading(self, f: float) -> float:
        lat, lon = self.point(f)
        if f >= 1.0 - 1e-9:
            # bearing at the end = reverse of the bearing from the end back, turned round
            return (initial_bearing_deg(self.lat2, self.lon2, self.lat1, self.lon1) + 180.0) % 360
        return initial_bearing_deg(lat, lon, self.lat2, self.lon2)


@dataclass(frozen=True, slots=True)
class _Constraint:
    at_m: float  # distance along the route where the speed must be at most speed_mps
    speed_mps: float


class Route:
    """A polyline of great-circle legs with a speed plan.

    ``points`` are (lat, lon); ``leg_speeds_mps[i]`` is the speed aimed for on leg i;
    ``stops`` are the indexes of interior waypoints where the car comes to a halt.
    ``max_speed_mps`` caps every target (the car's top speed or its governor).
    """

    def __init__(
        self,
        points: Sequence[tuple[float, float]],
        leg_speeds_mps: Sequence[float],
        stops: Sequence[int] = (),
        max_speed_mps: float = math.inf,
    ) -> None:
        if len(points) < 2:
            raise ValueError("a route needs at least two points")
        if len(leg_speeds_mps) != len(points) - 1:
            raise ValueError("one speed per leg")
        self.points = [(float(a), float(b)) for a, b in points]
        self.legs = [
            _Leg(*self.points[i], *self.points[i + 1]) for i in range(len(self.points) - 1)
        ]
        self.starts_m: list[float] = []
        total = 0.0
        for leg in self.legs:
            self.starts_m.append(total)
            total += leg.length_m
        self.length_m = total
        self.waypoint_m = [*self.starts_m, total]
        self.leg_speeds = [min(v, max_speed_mps) for v in leg_speeds_mps]
        self.stops = sorted(set(stops))
        constraints: list[_Constraint] = []
        for i in range(1, len(self.points) - 1):
            # Entering leg i at its own (lower) speed, and rounding the corner.
            constraints.append(_Constraint(self.starts_m[i], self.leg_speeds[i]))
            constraints.append(_Constraint(self.starts_m[i], self.corner_speed(i)))
        for i in self.stops:
            constraints.append(_Constraint(self.waypoint_m[i], 0.0))
        constraints.append(_Constraint(total, 0.0))
        constraints.sort(key=lambda c: c.at_m)
        self._constraints = constraints
        self._constraint_m = [c.at_m for c in constraints]

    def turn_deg(self, i: int) -> float:
        """The change of heading (0-180) at interior waypoint i."""
        a = self.legs[i - 1].heading(1.0)
        b = self.legs[i].heading(0.0)
        d = abs((b - a + 180.0) % 360.0 - 180.0)
        return d

    def corner_speed(self, i: int) -> float:
        """Speed at which a driver rounds waypoint i: v = sqrt(a_lat * r)."""
        turn = math.radians(self.turn_deg(i))
        if turn < math.radians(2.0):
            return math.inf
        radius = TURN_RADIUS_SCALE_M / math.tan(turn / 2)
        return math.sqrt(TURN_LATERAL_MPS2 * radius)

    def leg_index(self, s: float) -> int:
        if s <= 0:
            return 0
        return min(bisect.bisect_right(self.starts_m, s) - 1, len(self.legs) - 1)

    def position(self, s: float) -> Position:
        """Where the car is after driving ``s`` metres (clamped to the route)."""
        s = min(max(s, 0.0), self.length_m)
        i = self.leg_index(s)
        leg = self.legs[i]
        f = 0.0 if leg.length_m == 0 else min(1.0, (s - self.starts_m[i]) / leg.length_m)
        lat, lon = leg.point(f)
        return Position(lat, lon, leg.heading(f))

    def target_speed(
        self, s: float, stops_done_m: float = -math.inf, decel: float = PLAN_DECEL_MPS2
    ) -> float:
        """The speed (m/s) to aim for at distance ``s``: the leg's speed, lowered so
        that every slower point ahead can be reached braking at ``decel``.

        Stops at or before ``stops_done_m`` have been made already and are ignored
        (the car may have halted a few metres short of the waypoint)."""
        if s >= self.length_m:
            return 0.0
        v = self.leg_speeds[self.leg_index(s)]
        j = bisect.bisect_left(self._constraint_m, s)
        two_a = 2.0 * decel
        for c in self._constraints[j:]:
            if c.speed_mps == 0.0 and c.at_m <= stops_done_m:
                continue
            gap = max(0.0, c.at_m - s)
            bound = math.sqrt(c.speed_mps * c.speed_mps + two_a * gap)
            if bound < v:
                v = bound
            if two_a * gap > v * v:
                break  # constraints farther away cannot bind any more
        return v

    def next_stop_m(self, s: float) -> float:
        """Distance along the route of the next place the car must halt."""
        for i in self.stops:
            if self.waypoint_m[i] >= s - 1e-6:
                return self.waypoint_m[i]
        return self.length_m


def sun_elevation_deg(lat: float, lon: float, when_utc: datetime) -> float:
    """Elevation of the sun's centre above the horizon, in degrees (no refraction).

    NOAA Global Monitoring Laboratory, "General Solar Position Calculations" (the
    fractional-year series); good to about half a degree, plenty for headlights.
    """
    doy = when_utc.timetuple().tm_yday
    hour = when_utc.hour + when_utc.minute / 60 + when_utc.second / 3600
    g = 2 * math.pi / 365 * (doy - 1 + (hour - 12) / 24)
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(g)
        - 0.032077 * math.sin(g)
        - 0.014615 * math.cos(2 * g)
        - 0.040849 * math.sin(2 * g)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(g)
        + 0.070257 * math.sin(g)
        - 0.006758 * math.cos(2 * g)
        + 0.000907 * math.sin(2 * g)
        - 0.002697 * math.cos(3 * g)
        + 0.00148 * math.sin(3 * g)
    )
    true_solar_min = hour * 60 + eqtime + 4 * lon
    hour_angle = math.radians(true_solar_min / 4 - 180)
    phi = math.radians(lat)
    cos_zenith = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(
        hour_angle
    )
    return 90.0 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))
