"""Gather what a trip report shows: track, speeds, limits, engine data, summary.

Everything here is numbers (numpy arrays); drawing is in ``svgmap`` and ``plots``.
Speeds are kept in mph (the US limits' unit) and shown with km/h beside them.

Signals are found by name in the decoded tables: the kei car's broadcast messages
(``dbc/keicar.dbc``) first, then OBD-II mode-01 replies (``dbc/obd2.dbc``), then any
other decoded message with a signal of the same name; for each quantity the first
candidate with samples in the trip is used, and the report says which.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlite_utils

from keilog.geo import StateIndex
from keilog.geo.timezones import timezone_at
from keilog.roads import RoadIndex
from keilog.roads.basemap import BaseMap
from keilog.rules import CheckResult, CheckTrip, RuleBook, StatutoryLimit
from keilog.rules.speed import MIN_COMPARE_MPH, compare_speeds
from keilog.rules.thresholds import MOVING_MPH, SPEED_TOLERANCE_MPH
from keilog.store.fixes import Fixes, read_fixes, trip_window
from keilog.store.names import quote
from keilog.store.schema import has_raw_frames
from keilog.store.trips import STANDING_MPS, Trip, trip_extent
from keilog.units import KMH_PER_MPH, MPS_PER_MPH, haversine_m

F64 = npt.NDArray[np.float64]

HOLD_MAX_S = 2.0
"""A sample stands for the time to the next one, at most this long (gaps count as unknown)."""
ROADS_MARGIN_M = 400.0
"""Roads this far around the track are drawn."""
MAX_ROADS = 4000

_OBD = [f"msg_OBD2_RESPONSE_ECU{i}" for i in range(1, 9)]


@dataclass(frozen=True)
class Quantity:
    key: str
    label: str
    names: tuple[str, ...]
    preferred: tuple[str, ...]  # tables, in order


# CAN first, then the logger's own inputs (a car without CAN: dbc/keilog_inputs.dbc)
SPEED = Quantity(
    "speed",
    "Vehicle speed",
    ("VEHICLE_SPEED", "VSS_SPEED_KPH"),
    ("msg_VEHICLE_SPEED", *_OBD, "msg_INPUT_VSS"),
)
VSS = Quantity("vss", "VSS speed", ("VSS_SPEED_KPH",), ("msg_INPUT_VSS",))
ENGINE = (
    Quantity(
        "rpm",
        "Engine speed",
        ("ENGINE_RPM", "RPM", "TACH_RPM"),
        ("msg_ENGINE_STATUS", *_OBD, "msg_INPUT_TACH"),
    ),
    Quantity("throttle", "Throttle", ("THROTTLE_POS",), ("msg_ENGINE_STATUS", *_OBD)),
    Quantity(
        "coolant",
        "Coolant",
        ("COOLANT_TEMP", "COOLANT_C"),
        ("msg_ENGINE_TEMPS", *_OBD, "msg_INPUT_COOLANT"),
    ),
    Quantity("battery", "Battery", ("BATTERY_V",), ("msg_INPUT_BATTERY",)),
)


@dataclass
class Series:
    """One signal over time: ``t`` UTC seconds, ``v`` in ``unit``."""

    key: str
    label: str
    unit: str
    source: str  # "table.column"
    t: F64
    v: F64


@dataclass
class NearbyRoad:
    lon: F64
    lat: F64
    highway: str
    name: str
    limit_mph: float | None


@dataclass
class Limits:
    """Per GPS fix: the road's posted limit, the class's caps (NaN: none or unknown).

    On a road OpenStreetMap gives no usable limit, the state's statutory limit for its
    road type (as the check judges it, low confidence): ``statute`` indexes
    ``statutes`` (-1: none), ``statutory_mph`` is its highest value and
    ``statutory_min_mph`` its lowest (equal unless the statute sets a range)."""

    posted_mph: F64
    vehicle_cap_mph: F64
    class_max_posted_mph: F64
    state: npt.NDArray[np.str_]
    statute: npt.NDArray[np.int64]
    statutes: tuple[StatutoryLimit, ...]

    @property
    def statutory_mph(self) -> F64:
        top = np.array([s.mph for s in self.statutes] + [np.nan])
        return np.asarray(top[self.statute])

    @property
    def statutory_min_mph(self) -> F64:
        low = np.array([s.lowest_mph for s in self.statutes] + [np.nan])
        return np.asarray(low[self.statute])


def statutory_range(low: float, high: float) -> str:
    """A statute's limit for an unposted road in short: ``55 mph`` or ``55–65 mph``."""
    return f"{high:g} mph" if low == high else f"{low:g}–{high:g} mph"


def by_statute(low: float, high: float) -> str:
    """A statutory limit of an unposted road as the report words it: ``55 mph (89 km/h)
    by statute``, or for a range ``55–65 mph by statute, at least 55 mph (89 km/h)``
    (the road type does not say which; the check judges a class by the bottom)."""
    if low == high:
        return f"{high:g} mph ({high * KMH_PER_MPH:.0f} km/h) by statute"
    at_least = f"at least {low:g} mph ({low * KMH_PER_MPH:.0f} km/h)"
    return f"{statutory_range(low, high)} by statute, {at_least}"


@dataclass
class Speedometer:
    samples: int
    reads_high_percent: float | None = None
    median_difference_mph: float | None = None
    note: str | None = None


@dataclass
class RoadsAboveClass:
    """Moving time on roads whose limit is above the highest the class may use: roads
    posted above it, and unposted roads whose statutory limit, even at its lowest, is
    above it (as the check judges them; ``statutory_s`` is None where the trip met no
    unposted road with a statutory limit)."""

    posted_s: float
    statutory_s: float | None = None

    @property
    def total_s(self) -> float:
        return self.posted_s + (self.statutory_s or 0.0)


@dataclass
class Summary:
    start: float
    end: float
    distance_m: float
    moving_s: float
    max_mph: float | None
    max_gps_mph: float | None
    speed_source: str
    states: list[str]
    time_above: list[tuple[str, float]] = field(default_factory=list)
    roads_above_class_max: RoadsAboveClass | None = None

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    @property
    def average_mph(self) -> float | None:
        d = self.duration_s
        return self.distance_m / d / MPS_PER_MPH if d > 0 else None

    @property
    def moving_average_mph(self) -> float | None:
        return self.distance_m / self.moving_s / MPS_PER_MPH if self.moving_s > 0 else None


@dataclass
class TripReport:
    trip: Trip
    fixes: Fixes
    speed: Series | None  # the vehicle's own speed (CAN or OBD-II), mph
    gps_speed: Series  # mph
    engine: list[Series]
    limits: Limits
    roads: list[NearbyRoad]
    check: CheckTrip | None
    vehicle: dict[str, Any]
    summary: Summary
    speedometer: Speedometer
    notes: list[str] = field(default_factory=list)
    zone: str | None = None  # the IANA time zone where the trip started (None: show UTC)
    basemap: BaseMap | None = None  # the road file's offline base map, drawn around the trip


def gather(
    db: sqlite_utils.Database,
    trip: Trip,
    check: CheckResult | None = None,
    roads: RoadIndex | None = None,
    states: StateIndex | None = None,
    rules: RuleBook | None = None,
    basemap: BaseMap | None = None,
) -> TripReport:
    """Read and compute everything the report shows for one trip.

    ``basemap`` defaults to the one in ``roads`` (pass it to read it once for many trips).
    """
    from keilog.geo import load_states
    from keilog.rules import load_rules

    fixes = read_fixes(db, trip)
    notes: list[str] = []
    speed = find_series(db, trip, SPEED)
    if speed is not None:
        speed = _to_mph(speed)
    engine = [s for q in ENGINE if (s := find_series(db, trip, q)) is not None]
    if speed is not None and not speed.source.startswith("msg_INPUT_VSS"):
        vss = find_series(db, trip, VSS)  # a car with CAN and the VSS wired: both shown
        if vss is not None:
            engine.insert(0, _to_mph(vss))
    gps = Series(
        "gps_speed",
        "GPS speed",
        "mph",
        "gps_fixes.speed_mps",
        fixes.t,
        fixes.speed_mps / MPS_PER_MPH,
    )
    where = (states or load_states()).lookup(
        np.where(fixes.valid, fixes.lat, np.nan), np.where(fixes.valid, fixes.lon, np.nan)
    )
    check_trip = check.for_trip(trip) if check else None
    vehicle = dict(check.vehicle) if check else {}
    vclass = check.vehicle_class if check else None
    limits = _limits(fixes, where.state, vclass, rules or load_rules(), roads)
    if check is None:
        notes.append(
            "No rules check was given: run keilog check --json > check.json and pass "
            "--check check.json to see violations and the vehicle's limits."
        )
    elif check_trip is None:
        notes.append(f"The check result {check.path} does not cover this trip.")
    if roads is None:
        notes.append("No road file was used: posted limits are not shown.")
    elif basemap is None:
        basemap = BaseMap.of(roads)
    if basemap is not None and not basemap.has_layers:
        notes.append(
            "The road file has no base map (water, place names, minor roads): rebuild it "
            "with keilog roads build to draw them."
        )
    visited = list(dict.fromkeys(str(s) for s in where.state if s))
    if check_trip is not None and check_trip.states:
        visited = list(dict.fromkeys([*check_trip.states, *visited]))
    summary = _summary(trip, fixes, speed, gps, limits, visited)
    valid = np.flatnonzero(fixes.valid)
    zone = (
        timezone_at(float(fixes.lat[valid[0]]), float(fixes.lon[valid[0]])) if len(valid) else None
    )
    return TripReport(
        zone=zone,
        basemap=basemap,
        trip=trip,
        fixes=fixes,
        speed=speed,
        gps_speed=gps,
        engine=engine,
        limits=limits,
        roads=nearby_roads(roads, fixes) if roads is not None else [],
        check=check_trip,
        vehicle=vehicle,
        summary=summary,
        speedometer=speedometer(speed, fixes),
        notes=notes,
    )


def _candidates(db: sqlite_utils.Database, q: Quantity) -> list[tuple[str, str, str]]:
    """(table, column, unit) to try for a quantity, in order of preference."""
    found: dict[tuple[str, str], str] = {}
    if db.table("signals").exists():
        marks = ",".join("?" for _ in q.names)
        for message, signal, unit in db.execute(
            f"select message, signal, unit from signals where upper(signal) in ({marks})",
            list(q.names),
        ).fetchall():
            found[(f"msg_{message}", signal)] = unit or ""
    rank = {t: i for i, t in enumerate(q.preferred)}
    keys = sorted(found, key=lambda k: (rank.get(k[0], len(rank)), k[0], k[1]))
    return [(t, c, found[(t, c)]) for t, c in keys]


def find_series(db: sqlite_utils.Database, trip: Trip, q: Quantity) -> Series | None:
    """The first candidate signal for ``q`` with samples in the trip."""
    # The trip's frame numbers first: a search of each sig_ table's primary key (the
    # msg_ views compute timestamp, which no index serves); the time window beside.
    frames, frame_args = trip_extent(db, trip.id).frame_condition()
    window, window_args = trip_window(trip)
    for table, column, unit in _candidates(db, q):
        if not db[table].exists() or column not in db[table].columns_dict:
            continue
        if has_raw_frames(db.conn, table):
            where, args = f"{frames} and {window}", [*frame_args, *window_args]
        else:  # the logger's input records: no frame numbers, the window alone
            where, args = window, list(window_args)
        rows = db.execute(
            f"select timestamp, {quote(column)} from {quote(table)} where {where} and "
            f"{quote(column)} is not null order by timestamp",
            args,
        ).fetchall()
        if rows:
            a = np.array(rows, dtype=np.float64)
            return Series(q.key, q.label, unit, f"{table}.{column}", a[:, 0], a[:, 1])
    return None


def _to_mph(s: Series) -> Series:
    unit = s.unit.strip().lower()
    if unit in ("mph", "mi/h"):
        factor = 1.0
    elif unit in ("m/s", "mps"):
        factor = 1 / MPS_PER_MPH
    else:  # km/h, as Japanese-market cars and OBD-II PID 0x0D report speed
        factor = 1 / KMH_PER_MPH
    return Series(s.key, s.label, "mph", s.source, s.t, s.v * factor)


def _numeric(value: Any) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else np.nan
    )


def _limits(
    fixes: Fixes,
    state: npt.NDArray[np.str_],
    vclass: str | None,
    book: RuleBook,
    roads: RoadIndex | None,
) -> Limits:
    n = len(fixes)
    cap = np.full(n, np.nan)
    max_posted = np.full(n, np.nan)
    if vclass is not None and n:
        days = np.array([dt.datetime.fromtimestamp(t, dt.UTC).date().isoformat() for t in fixes.t])
        for code, day in set(zip(state.tolist(), days.tolist(), strict=True)):
            if not code or code not in book:
                continue
            rule = book[code].rule(vclass, dt.date.fromisoformat(day))
            if rule is None:
                continue
            m = (state == code) & (days == day)
            cap[m] = _numeric(rule["vehicle_max_mph"].value)
            max_posted[m] = _numeric(rule["road_max_posted_mph"].value)
    posted = np.full(n, np.nan)
    statute = np.full(n, -1, dtype=np.int64)
    statutes: dict[StatutoryLimit, int] = {}
    if roads is not None and n:
        v = np.flatnonzero(fixes.valid)
        snap = roads.snap(fixes.lat[v], fixes.lon[v], fixes.course_deg[v], fixes.speed_mps[v])
        table = np.array([np.nan if r.limit_mph is None else r.limit_mph for r in roads.roads])
        hit = snap.road >= 0
        posted[v[hit]] = table[snap.road[hit]]
        # Unposted roads: the statute's limit for the road type, as the check judges them.
        unposted = v[hit][np.isnan(table[snap.road[hit]])]
        highway = np.array([roads.roads[r].highway for r in snap.road[hit]], dtype=str)
        highway = highway[np.isnan(table[snap.road[hit]])]
        for code, kind in set(zip(state[unposted].tolist(), highway.tolist(), strict=True)):
            limit = book[code].statutory_limit(kind) if code in book else None
            if limit is not None:
                m = unposted[(state[unposted] == code) & (highway == kind)]
                statute[m] = statutes.setdefault(limit, len(statutes))
    return Limits(posted, cap, max_posted, state, statute, tuple(statutes))


def nearby_roads(roads: RoadIndex, fixes: Fixes) -> list[NearbyRoad]:
    """The roads within ROADS_MARGIN_M of the track's bounding box."""
    ok = fixes.valid
    if not ok.any() or not len(roads):
        return []
    lat, lon = fixes.lat[ok], fixes.lon[ok]
    dlat = ROADS_MARGIN_M / 111_195.0
    dlon = dlat / max(np.cos(np.radians(float(np.mean(lat)))), 0.1)
    x0, x1 = float(lon.min()) - dlon, float(lon.max()) + dlon
    y0, y1 = float(lat.min()) - dlat, float(lat.max()) + dlat
    coords, offsets = roads.a["coords"], roads.a["offsets"]
    starts, ends = offsets[:-1], offsets[1:]
    nonempty = ends > starts
    lo = np.full((len(starts), 2), np.inf)
    hi = np.full((len(starts), 2), -np.inf)
    lo[nonempty] = np.minimum.reduceat(coords, starts[nonempty])
    hi[nonempty] = np.maximum.reduceat(coords, starts[nonempty])
    hit = (hi[:, 0] >= x0) & (lo[:, 0] <= x1) & (hi[:, 1] >= y0) & (lo[:, 1] <= y1)
    out = []
    for i in np.flatnonzero(hit)[:MAX_ROADS]:
        r = roads.roads[int(i)]
        c = coords[starts[i] : ends[i]]
        out.append(NearbyRoad(c[:, 0], c[:, 1], r.highway, r.name or r.ref, r.limit_mph))
    return out


def gps_distance_m(fixes: Fixes) -> float:
    """Distance along the valid fixes; steps between two standing fixes (jitter) skipped."""
    valid = fixes.valid
    if valid.sum() < 2:
        return 0.0
    y, x, v = fixes.lat[valid], fixes.lon[valid], np.nan_to_num(fixes.speed_mps[valid])
    step = haversine_m(y[:-1], x[:-1], y[1:], x[1:])
    still = (v[:-1] < STANDING_MPS) & (v[1:] < STANDING_MPS)
    return float(step[~still].sum())


def trip_rows(db: sqlite_utils.Database, trips: list[Trip]) -> list[dict[str, Any]]:
    """``keilog trips``: each trip with its distance, top speeds and a speed profile."""
    out = []
    for trip in trips:
        fixes = read_fixes(db, trip)
        speed = find_series(db, trip, SPEED)
        row = trip.to_dict()
        gps = fixes.speed_mps[fixes.valid] / MPS_PER_MPH
        row["distance_mi"] = round(gps_distance_m(fixes) / 1609.344, 3)
        row["max_gps_mph"] = round(float(np.nanmax(gps)), 1) if np.isfinite(gps).any() else None
        row["max_speed_mph"] = None
        row["speed_source"] = None
        profile_t, profile_v = fixes.t[fixes.valid], gps
        if speed is not None:
            speed = _to_mph(speed)
            row["max_speed_mph"] = round(float(np.nanmax(speed.v)), 1)
            row["speed_source"] = speed.source
            profile_t, profile_v = speed.t, speed.v
        row["speed_profile_mph"] = profile(profile_t, profile_v, trip.start, trip.end)
        out.append(row)
    return out


def profile(t: F64, v: F64, start: float, end: float, buckets: int = 24) -> list[float | None]:
    """The highest speed in each of ``buckets`` equal stretches of time (None: no sample)."""
    edges = np.linspace(start, end, buckets + 1)
    idx = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, buckets - 1)
    out: list[float | None] = []
    for b in range(buckets):
        m = (idx == b) & np.isfinite(v)
        out.append(round(float(v[m].max()), 1) if m.any() else None)
    return out


def _hold(t: F64) -> F64:
    """How long each sample stands for: to the next sample, at most HOLD_MAX_S."""
    if len(t) == 0:
        return np.zeros(0)
    return np.append(np.minimum(np.diff(t), HOLD_MAX_S), 0.0)


def at_fix(fixes: Fixes, values: F64, t: F64, max_gap_s: float = 5.0) -> F64:
    """Per-fix values looked up at times t (the nearest fix within max_gap_s, else NaN)."""
    if not len(fixes) or not len(t):
        return np.full(len(t), np.nan)
    j = np.clip(np.searchsorted(fixes.t, t), 1, max(len(fixes) - 1, 1))
    if len(fixes) == 1:
        j = np.zeros(len(t), dtype=np.int64)
    else:
        j = np.where(np.abs(fixes.t[j - 1] - t) < np.abs(fixes.t[j] - t), j - 1, j)
    out = values[j].astype(float)
    out[np.abs(fixes.t[j] - t) > max_gap_s] = np.nan
    return np.asarray(out)


def _summary(
    trip: Trip,
    fixes: Fixes,
    speed: Series | None,
    gps: Series,
    limits: Limits,
    states: list[str],
) -> Summary:
    main = speed if speed is not None else gps
    ok = np.isfinite(main.v)
    t, v = main.t[ok], main.v[ok]
    hold = _hold(t)
    moving = float(hold[v >= MOVING_MPH].sum())
    valid = fixes.valid
    # Distance along the GPS track, or from the car's speed when there is no track.
    distance = gps_distance_m(fixes) if valid.sum() >= 2 else float((v * MPS_PER_MPH * hold).sum())
    gps_ok = np.isfinite(gps.v) & valid if len(gps.v) else np.zeros(0, bool)
    s = Summary(
        start=trip.start,
        end=trip.end,
        distance_m=distance,
        moving_s=moving,
        max_mph=float(v.max()) if len(v) else None,
        max_gps_mph=float(gps.v[gps_ok].max()) if gps_ok.any() else None,
        speed_source=main.source,
        states=states,
    )
    posted = at_fix(fixes, limits.posted_mph, t)
    cap = at_fix(fixes, limits.vehicle_cap_mph, t)
    max_posted = at_fix(fixes, limits.class_max_posted_mph, t)
    if np.isfinite(posted).any():
        over = v > posted + SPEED_TOLERANCE_MPH
        s.time_above.append(("the road's posted limit", float(hold[over].sum())))
    if np.isfinite(cap).any():
        over = v > cap + SPEED_TOLERANCE_MPH
        s.time_above.append(("the class's top-speed cap", float(hold[over].sum())))
    # Unposted, a road is judged by the bottom of its statute's range (keilog.rules).
    statutory = np.where(np.isfinite(posted), np.nan, at_fix(fixes, limits.statutory_min_mph, t))
    if (np.isfinite(posted).any() or np.isfinite(statutory).any()) and np.isfinite(
        max_posted
    ).any():
        moving_at = v >= MOVING_MPH
        on_posted = (posted > max_posted) & moving_at
        on_statutory = (statutory > max_posted) & moving_at
        s.roads_above_class_max = RoadsAboveClass(
            float(hold[on_posted].sum()),
            float(hold[on_statutory].sum()) if np.isfinite(statutory).any() else None,
        )
    return s


_NOTES = {
    "kmh_as_mph": "the car's speed reads about 1.61 x GPS: a km/h value is being read as mph",
    "mph_as_kmh": "the car's speed reads about 0.62 x GPS: an mph value is being read as km/h",
    "off": "off by more than 5 %: check the tyre size and the speedometer calibration",
}


def speedometer(speed: Series | None, fixes: Fixes) -> Speedometer:
    """How far the car's own speed reads from GPS speed (median ratio over the trip;
    keilog.rules.speed compares them as the check does)."""
    if speed is None or not len(speed.t) or not len(fixes):
        return Speedometer(0, note="needs both the car's own speed signal and GPS speed")
    c = compare_speeds(speed.t, speed.v, fixes.t, fixes.speed_mps / MPS_PER_MPH, fixes.valid)
    if c.samples == 0:
        return Speedometer(0, note=f"no moments above {MIN_COMPARE_MPH:g} mph with both speeds")
    note = _NOTES[c.misreading] if c.misreading is not None else None
    return Speedometer(c.samples, c.reads_high_percent, c.median_difference_mph, note)
