"""State lookup, road snapping and the rule check.

- where_points_per_s: ``keilog.geo`` vectorised lookup of points inside US states vs the
  per-point Python loop a straightforward implementation writes (STRtree bbox query of
  the same prepared polygons, then ``contains`` per candidate).
- where_file_points_per_s: ``keilog where --file points.csv > out.csv`` end to end, process
  start to output written, on 1 M points (random over the US bounding box, a tenth over
  Canada, Mexico and the sea around) vs the same job as a competent user writes it with
  the library in a new process (``numpy.loadtxt``, ``StateIndex.lookup``, ``numpy.savetxt``
  of state and country). The floor beside it: a new Python process that reads the file and
  writes it back.
- roads_snap_points_per_s: ``RoadIndex.snap`` (one STRtree dwithin query, vectorised
  distances and headings) on a synthetic 80 x 80 street grid vs a per-point loop of
  ``STRtree.query_nearest`` (nearest road only, no heading).
- check_trip_10h_s: ``check_trip`` on a 10-hour trip at 10 Hz GPS (360,000 fixes) around
  that grid in Gainesville, FL, with roads; the reference is the trip's own duration, so
  the ratio is "times faster than real time". ``--quick`` runs 1 hour and scales by 10.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import keilog
import numpy as np
import shapely
from keilog.geo import load_states
from keilog.roads import RoadIndex
from keilog.rules.check import check_trip
from keilog.rules.tripdata import TripData, TripSpan
from keilog.rules.vehicle import Vehicle

from bench import best_of, entry

ORIGIN = (29.6516, -82.3248)
M_PER_DEG = 111_195.0
GRID = 80  # streets each way
SPACING_M = 200.0


def _land_points(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    lat = rng.uniform(25, 49, n * 2)
    lon = rng.uniform(-124, -67, n * 2)
    found = load_states().lookup(lat, lon)
    inside = (found.state != "") & ~found.fallback
    return lat[inside][:n], lon[inside][:n]


def _where(quick: bool) -> dict[str, Any]:
    index = load_states()
    lat, lon = _land_points(100_000 if quick else 500_000)
    t, _ = best_of(lambda: index.lookup(lat, lon), 1 if quick else 3)
    tree = shapely.STRtree(index.polygons)
    m = 5_000 if quick else 20_000

    def loop() -> list[str]:
        out = []
        for y, x in zip(lat[:m], lon[:m], strict=True):
            p = shapely.Point(x, y)
            code = ""
            for k in tree.query(p):
                if index.polygons[k].contains(p):
                    code = index.codes[k]
                    break
            out.append(code)
        return out

    tr, _ = best_of(loop, 1)
    return entry(
        len(lat) / t,
        m / tr,
        "per-point loop: STRtree bbox query + prepared contains",
        "points/s",
        True,
    )


_REFERENCE_SCRIPT = """
import sys
import numpy as np
from keilog.geo import load_states
lat, lon = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, unpack=True)
w = load_states().lookup(lat, lon)
np.savetxt(sys.stdout, np.column_stack([lat, lon, w.state, w.country]), fmt="%s",
           delimiter=",", header="lat,lon,state,country", comments="")
"""
_FLOOR_SCRIPT = "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read())"


def _run_s(argv: list[str], out: Path, repeat: int) -> float:
    """Best wall time of a new process writing its standard output to ``out``."""
    env = {**os.environ, "PYTHONPATH": str(Path(keilog.__file__).resolve().parents[1])}
    best = float("inf")
    for _ in range(repeat):
        with out.open("wb") as f:
            t0 = time.perf_counter()
            subprocess.run(argv, stdout=f, env=env, check=True)
            best = min(best, time.perf_counter() - t0)
    return best


def _where_file(quick: bool) -> dict[str, Any]:
    n = 100_000 if quick else 1_000_000
    rng = np.random.default_rng(15)
    lat, lon = rng.uniform(24, 50, n), rng.uniform(-125, -66, n)
    abroad = rng.random(n) < 0.1
    lat[abroad] = rng.uniform(10, 70, abroad.sum())
    lon[abroad] = rng.uniform(-170, -50, abroad.sum())
    repeat = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        points = Path(tmp) / "points.csv"
        text = "".join(f"{a:.6f},{o:.6f}\n" for a, o in zip(lat, lon, strict=True))
        points.write_text("lat,lon\n" + text)
        out = Path(tmp) / "out.csv"
        cli = [sys.executable, "-c", "from keilog.cli import main; main()"]
        t = _run_s([*cli, "where", "--file", str(points)], out, repeat)
        output_bytes = out.stat().st_size
        tr = _run_s([sys.executable, "-c", _REFERENCE_SCRIPT, str(points)], out, 1)
        floor = _run_s([sys.executable, "-c", _FLOOR_SCRIPT, str(points)], out, repeat)
    return entry(
        n / t,
        n / tr,
        "new process: numpy.loadtxt + StateIndex.lookup + numpy.savetxt",
        "points/s end to end (process start to output written)",
        True,
        points=n,
        output_bytes=output_bytes,
        floor_points_per_s=round(n / floor, 1),
        floor_name="new process reading the file and writing it back",
    )


def _to_deg(e: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat0, lon0 = ORIGIN
    return lat0 + n / M_PER_DEG, lon0 + e / (M_PER_DEG * math.cos(math.radians(lat0)))


def _grid_roads() -> RoadIndex:
    span = (GRID - 1) * SPACING_M
    coords, offsets, names = [], [0], []
    for k in range(GRID):
        c = k * SPACING_M
        for e, n in (((0.0, span), (c, c)), ((c, c), (0.0, span))):
            lat, lon = _to_deg(np.array(e), np.array(n))
            coords.extend(zip(lon, lat, strict=True))
            offsets.append(len(coords))
            names.append(f"street {len(names)}")
    count = len(names)
    arrays: dict[str, Any] = {
        "coords": np.array(coords),
        "offsets": np.array(offsets),
        "way_id": np.arange(count),
        "highway": np.array(["residential"] * count),
        "ref": np.array([""] * count),
        "name": np.array(names),
        "maxspeed": np.array(["25 mph"] * count),
        "limit_mph": np.full(count, 25.0),
        "limit_status": np.array(["posted"] * count),
        "oneway": np.zeros(count, dtype=np.int8),
        "motorroad": np.zeros(count, dtype=bool),
        "expressway": np.zeros(count, dtype=bool),
        "dual": np.zeros(count, dtype=bool),
    }
    return RoadIndex(arrays, {"format": 1}, path=None)  # type: ignore[arg-type]


def _snap(quick: bool, roads: RoadIndex) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    n = 100_000 if quick else 400_000
    span = (GRID - 1) * SPACING_M
    # Points along the streets with 0-15 m of GPS error, heading along the street.
    along = rng.uniform(0, span, n)
    street = rng.integers(0, GRID, n) * SPACING_M + rng.normal(0, 6, n)
    ew = rng.random(n) < 0.5
    e = np.where(ew, along, street)
    nn = np.where(ew, street, along)
    lat, lon = _to_deg(e, nn)
    course = np.where(ew, 90.0, 0.0)
    speed = np.full(n, 11.0)
    t, _ = best_of(lambda: roads.snap(lat, lon, course, speed), 1 if quick else 3)
    m = 5_000 if quick else 20_000
    pts = shapely.points(
        (np.stack([lon[:m], lat[:m]], axis=1) - (roads.lon0, roads.lat0)) * roads.scale
    )

    def loop() -> list[int]:
        out = []
        for p in pts:
            hit = roads.tree.query_nearest(p, max_distance=25.0)
            out.append(int(hit[0]) if len(hit) else -1)
        return out

    tr, _ = best_of(loop, 1)
    return entry(
        n / t, m / tr, "per-point STRtree.query_nearest loop (no heading)", "points/s", True
    )


def _trip(hours: float) -> TripData:
    """A loop around the outer streets of the grid at 25 mph, 10 Hz."""
    n = int(hours * 3600 * 10)
    span = (GRID - 1) * SPACING_M
    speed = 25 * 0.44704
    s = (np.arange(n) * speed / 10) % (4 * span)
    side = (s // span).astype(int)
    f = s % span
    e = np.choose(side, [f, np.full(n, span), span - f, np.zeros(n)])
    nn = np.choose(side, [np.zeros(n), f, np.full(n, span), span - f])
    course = np.choose(
        side, [np.full(n, 90.0), np.full(n, 0.0), np.full(n, 270.0), np.full(n, 180.0)]
    )
    lat, lon = _to_deg(e, nn)
    t0 = 1_780_329_600.0  # 2026-06-01T16:00:00Z, daytime in Florida
    t = t0 + np.arange(n) / 10
    return TripData(
        span=TripSpan(1, None, 1, 0, int(n * 1e5)),
        utc_known=True,
        t=t,
        lat=lat,
        lon=lon,
        gps_speed_mps=np.full(n, speed),
        course_deg=course,
        quality=np.ones(n),
        can_t=np.zeros(0),
        can_speed_mph=np.zeros(0),
        can_label=None,
    )


def _check(quick: bool, roads: RoadIndex) -> dict[str, Any]:
    hours = 1.0 if quick else 10.0
    data = _trip(hours)
    vehicle = Vehicle("bench", "FL", "lsv")
    t, report = best_of(lambda: check_trip(data, vehicle, roads), 1)
    seconds = t * 10.0 / hours
    return entry(
        seconds,
        36_000.0,
        "real time of the 10-hour trip",
        "s",
        False,
        fixes=len(data.t) * int(10 / hours),
        verdict=report["verdict"],
        **({"scaled_from_hours": hours} if quick else {}),
    )


def run(quick: bool) -> dict[str, dict[str, Any]]:
    roads = _grid_roads()
    return {
        "where_points_per_s": _where(quick),
        "where_file_points_per_s": _where_file(quick),
        "roads_snap_points_per_s": _snap(quick, roads),
        "check_trip_10h_s": _check(quick, roads),
    }
