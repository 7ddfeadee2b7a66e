"""Small hand-made trips, written through the store's own segment import.

A car drives due north from Gainesville, FL (29.6516 N, 82.3248 W) at a steady speed:
GPS fixes at 1 Hz, the kei car's VEHICLE_SPEED frame (dbc/keicar.dbc, km/h) at 10 Hz.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from keilog import paths, store
from keilog.decode import dbc
from keilog.logformat.reader import CanFrame, ClockAnchor, GpsFix, Segment, SegmentHeader
from keilog.store import ingest

START = 1_780_322_400.0  # 2026-06-01T14:00:00Z
M_PER_DEG_LAT = 111_195.0  # mean-radius sphere, as keilog.units.haversine_m


@dataclass
class Drive:
    boot: int = 1
    start: float = START
    seconds: int = 60
    gps_mps: float = 10.0
    can_kmh: float | None = 36.0  # None: no CAN speed frames
    gps: bool = True
    device: str = "KEI-0001"


def records(d: Drive) -> list[CanFrame | GpsFix | ClockAnchor]:
    msg = dbc.load_databases([paths.keicar_dbc()]).get_message_by_name("VEHICLE_SPEED")
    mono0 = 5_000_000 + round((d.start - START) * 1e6)  # one monotonic clock per boot
    out: list[CanFrame | GpsFix | ClockAnchor] = [ClockAnchor(mono0, round(d.start * 1e6), "gps")]
    if d.gps:
        for s in range(d.seconds + 1):
            lat = 29.6516 + d.gps_mps * s / M_PER_DEG_LAT
            out.append(
                GpsFix(mono0 + s * 1_000_000, None, lat, -82.3248, 30.0, d.gps_mps, 0.0, 1.0, 1, 9)
            )
    if d.can_kmh is not None:
        data = msg.encode(
            {
                "VEHICLE_SPEED": d.can_kmh,
                "WHEEL_SPEED_FL": 0,
                "WHEEL_SPEED_FR": 0,
                "ACCEL_LONG": 0,
                "COUNTER": 0,
            }
        )
        for k in range(d.seconds * 10 + 1):
            out.append(
                CanFrame(mono0 + k * 100_000 + 500, msg.frame_id, False, False, False, 8, data)
            )
    out.sort(key=lambda r: r.mono_us)
    return out


def make_db(path: Path, *drives: Drive) -> Path:
    db = store.open_db(path)
    can_db = dbc.load_databases([paths.keicar_dbc()])
    for i, d in enumerate(drives):
        # One segment per drive: its own segment number (a logger never writes two
        # segments with the same device, boot and number; import takes those as copies).
        header = SegmentHeader(0, 1, 0, d.boot, i, d.device, (0, 1, 0))
        seg = Segment(header, [header, *records(d)], name=f"T{i:07d}.KLG")
        sha = hashlib.sha256(repr(d).encode()).hexdigest()
        ingest._store_segment(db, seg, sha, seg.name, can_db)
    return path
