"""A trip's GPS fixes read back from the store, as numpy columns (report, exports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlite_utils

from keilog.store.trips import Trip

F64 = npt.NDArray[np.float64]


@dataclass
class Fixes:
    t: F64
    lat: F64
    lon: F64
    alt_m: F64
    speed_mps: F64
    course_deg: F64
    quality: F64

    @property
    def valid(self) -> npt.NDArray[np.bool_]:
        return (self.quality > 0) & np.isfinite(self.lat) & np.isfinite(self.lon)

    def __len__(self) -> int:
        return len(self.t)


def trip_window(trip: Trip) -> tuple[str, list[Any]]:
    return (
        "device_id = ? and boot = ? and timestamp between ? and ?",
        [trip.device_id, trip.boot, trip.start, trip.end],
    )


def read_fixes(db: sqlite_utils.Database, trip: Trip) -> Fixes:
    where, args = trip_window(trip)
    rows = db.execute(
        "select timestamp, lat, lon, alt_m, speed_mps, course_deg, quality from gps_fixes "
        f"where {where} order by timestamp, id",
        args,
    ).fetchall()
    a = np.array(rows, dtype=np.float64).reshape(-1, 7)  # None -> nan
    return Fixes(a[:, 0], a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5], np.nan_to_num(a[:, 6]))
