"""Build keilog databases for check tests, with the tables ``keilog import`` writes.

The store's schema (docs/database.md) with the rows the check reads: ``gps_fixes``, the
decoded ``msg_VEHICLE_SPEED``, and the trips the store makes of them.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import sqlite_utils
from keilog.store import trips
from keilog.store.schema import ensure_schema
from keilog.units import MPS_PER_MPH

from tests.roads.osm_testdata import to_latlon

MPH = MPS_PER_MPH  # m/s per mph
DEVICE = "KEI-TEST"


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
    """Write fixes (dicts from ``drive``) and CAN speeds [(t, km/h)] as one segment of one
    boot, and its trips as ``keilog import`` makes them (keilog.store.trips)."""
    db = sqlite_utils.Database(path)
    ensure_schema(db)
    conn = db.conn
    t0 = fixes[0]["t"]

    def mono(t: float) -> int:
        return round((t - t0) * 1e6) + 1_000_000

    device = conn.execute("insert into devices (device_id) values (?)", (DEVICE,)).lastrowid
    segment = conn.execute(
        "insert into segments (sha256, name, device, boot, blocks, frames, gps_fixes, events, "
        "damage, imported_at) values (?, 'test', ?, ?, 0, ?, ?, 0, '', '2026-01-01T00:00:00')",
        (f"test-{boot}", device, boot, len(can or ()), len(fixes)),
    ).lastrowid
    assert segment is not None
    rows = [
        {
            "segment": segment,
            "device_id": DEVICE,
            "boot": boot,
            "mono_us": mono(f["t"]),
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
        for f in fixes
    ]
    db["gps_fixes"].insert_all(rows)
    if can:
        db["msg_VEHICLE_SPEED"].insert_all(
            [
                {
                    "frame_id": i,
                    "timestamp": t if with_utc else None,
                    "boot": boot,
                    "mono_us": mono(t),
                    "VEHICLE_SPEED": kmh,
                }
                for i, (t, kmh) in enumerate(can)
            ]
        )
    # The trips, as the import makes them: the segment's spans, then its boot's trips.
    quality = [f.get("quality", 1) for f in fixes]
    valid = [q > 0 for q in quality]
    spans = trips.segment_spans(
        np.array([mono(t) for t, _ in can or ()], np.int64),
        trips.Fixes(
            np.array([r["mono_us"] for r in rows], np.int64),
            np.array([f["lat"] if v else np.nan for f, v in zip(fixes, valid, strict=True)]),
            np.array([f["lon"] if v else np.nan for f, v in zip(fixes, valid, strict=True)]),
            np.array([f["speed_mps"] for f in fixes], np.float64),
            np.array(quality, np.int64),
        ),
        [],
    )
    offset = t0 - 1.0  # UTC seconds = monotonic seconds + offset
    trips.store_spans(
        conn,
        segment,
        DEVICE,
        boot,
        "mono",
        spans,
        lambda us: us / 1e6 + offset if with_utc else None,
    )
    trips.rebuild_trips(conn, DEVICE, boot)
    conn.commit()
    return path
