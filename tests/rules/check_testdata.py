"""Build keilog databases for check tests, with the tables ``keilog import`` writes.

Only the tables and columns the check reads are created (docs/database.md has all of
them): ``gps_fixes`` and the decoded ``msg_VEHICLE_SPEED``.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import sqlite_utils

from tests.roads.osm_testdata import to_latlon

MPH = 0.44704  # m/s per mph


def utc(text: str) -> float:
    """'2026-06-01T14:00:00' (UTC) as unix seconds."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def drive(
    origin: tuple[float, float],
    legs: list[tuple[tuple[float, float], tuple[float, float], float]],
    start: float,
    hz: float = 1.0,
) -> list[dict]:
    """Fixes along straight legs ((e0, n0), (e1, n1), mph), metres from ``origin``.

    The course of a leg is its direction; a 0 mph leg keeps the previous course.
    """
    fixes = []
    t = start
    course = 0.0
    for (e0, n0), (e1, n1), mph in legs:
        length = math.hypot(e1 - e0, n1 - n0)
        if length:
            course = math.degrees(math.atan2(e1 - e0, n1 - n0)) % 360
        # A leg at 0 mph is 30 s standing still.
        steps = round(30 * hz) if mph == 0 else max(1, round(length / (mph * MPH) * hz))
        for k in range(steps):
            f = k / steps
            lat, lon = to_latlon(origin, e0 + (e1 - e0) * f, n0 + (n1 - n0) * f)
            fixes.append(
                {"t": t, "lat": lat, "lon": lon, "speed_mps": mph * MPH, "course_deg": course}
            )
            t += 1.0 / hz
    return fixes


def make_db(
    path: Path,
    fixes: list[dict],
    can: list[tuple[float, float]] | None = None,
    boot: int = 1,
    with_utc: bool = True,
) -> Path:
    """Write fixes (dicts from ``drive``) and CAN speeds [(t, km/h)] as one boot."""
    db = sqlite_utils.Database(path)
    t0 = fixes[0]["t"]
    rows = []
    for f in fixes:
        rows.append(
            {
                "segment": "test",
                "boot": boot,
                "mono_us": round((f["t"] - t0) * 1e6) + 1_000_000,
                "timestamp": f["t"] if with_utc else None,
                "lat": f["lat"],
                "lon": f["lon"],
                "alt_m": 30.0,
                "speed_mps": f["speed_mps"],
                "course_deg": f["course_deg"],
                "quality": f.get("quality", 1),
                "satellites": 9,
                "hdop": 0.9,
            }
        )
    db["gps_fixes"].insert_all(rows, pk="id")
    if can:
        db["msg_VEHICLE_SPEED"].insert_all(
            [
                {
                    "frame_id": i,
                    "timestamp": t if with_utc else None,
                    "boot": boot,
                    "mono_us": round((t - t0) * 1e6) + 1_000_000,
                    "VEHICLE_SPEED": kmh,
                }
                for i, (t, kmh) in enumerate(can)
            ]
        )
    return path
