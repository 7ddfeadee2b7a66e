"""Read the trips of a keilog database: GPS fixes and logged vehicle speed.

Reads the tables ``keilog import`` writes (docs/database.md): ``trips`` (the store owns
them: ``keilog.store.trips``), ``gps_fixes`` and, for the vehicle's own speed, the
decoded ``msg_VEHICLE_SPEED`` (the kei car's ABS speed) or the OBD-II PID 0x0D replies
``msg_OBD2_RESPONSE_ECU*``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from keilog.errors import StoreError
from keilog.units import KMH_PER_MPH

# (table, column, what it is), in order of preference; speeds are in km/h (DBC units).
# CAN first, then the logger's VSS pulse input (a car without CAN), else GPS.
SPEED_SIGNALS = (
    [("msg_VEHICLE_SPEED", "VEHICLE_SPEED", "CAN VEHICLE_SPEED (ABS)")]
    + [
        (f"msg_OBD2_RESPONSE_ECU{i}", "VEHICLE_SPEED", f"OBD-II PID 0x0D (ECU{i})")
        for i in range(1, 9)
    ]
    + [("msg_INPUT_VSS", "VSS_SPEED_KPH", "VSS pulse input (VSS_SPEED_KPH)")]
)


def speed_source(label: str | None) -> str:
    """Which kind of source a trip's speed came from: "can", "vss" or "gps"."""
    if label is None:
        return "gps"
    return "vss" if label.startswith("VSS") else "can"


F64 = npt.NDArray[np.float64]

TRIP_COLUMNS = {"id", "device_id", "boot", "mono_start_us", "mono_end_us", "gps_fixes"}
"""What the check reads of the store's ``trips`` table."""


@dataclass(frozen=True)
class TripSpan:
    """Where one trip's fixes are: a boot and a monotonic-time window."""

    id: int
    device_id: str | None
    boot: int
    mono_start_us: int
    mono_end_us: int


@dataclass
class TripData:
    """One trip's samples, as arrays sorted by time.

    ``t`` is UTC unix seconds when the log has a clock, else seconds of monotonic time
    (``utc_known`` says which).
    """

    span: TripSpan
    utc_known: bool
    t: F64
    lat: F64
    lon: F64
    gps_speed_mps: F64
    course_deg: F64
    quality: F64
    can_t: F64
    can_speed_mph: F64
    can_label: str | None


def connect(path: Path) -> sqlite3.Connection:
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no such database; create it with keilog import")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.execute("select count(*) from sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable SQLite database ({exc})") from None
    if not _columns(conn, "gps_fixes"):
        raise StoreError(f"{path}: has no gps_fixes table; import logs with keilog import first")
    if not _columns(conn, "trips") >= TRIP_COLUMNS:
        conn.close()
        raise StoreError(
            f"{path}: has no trips table (made by hand, or by an older keilog); "
            "import its logs again with keilog import, which makes the trips"
        )
    return conn


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f'pragma table_info("{table}")')}


def trip_spans(conn: sqlite3.Connection) -> list[TripSpan]:
    """The trips of the database as the store keeps them (``keilog.store.trips``), so the
    check and the report number trips alike; trips without GPS fixes have nothing to
    check and are left out."""
    return [
        TripSpan(tid, dev, boot, start, end)
        for tid, dev, boot, start, end in conn.execute(
            "select id, device_id, boot, mono_start_us, mono_end_us from trips "
            "where gps_fixes > 0 and mono_start_us is not null order by id"
        ).fetchall()
    ]


def _clock_offset(mono_us: npt.NDArray[np.int64], ts: F64) -> float | None:
    """Median of (UTC - monotonic) over samples that have both, or None."""
    ok = np.isfinite(ts)
    if not ok.any():
        return None
    return float(np.median(ts[ok] - mono_us[ok] / 1e6))


def _times(mono_us: npt.NDArray[np.int64], ts: F64, offset: float | None) -> F64:
    """UTC seconds as the import computed them (keilog.logformat.clock: GPS-disciplined);
    monotonic time plus the median offset where a row has none."""
    fallback = mono_us / 1e6 + (offset or 0.0)
    if offset is None:
        return fallback
    return np.where(np.isfinite(ts), ts, fallback)


def load_trip(conn: sqlite3.Connection, span: TripSpan) -> TripData:
    """Read one trip's fixes and logged vehicle speed."""
    rows = conn.execute(
        "select mono_us, timestamp, lat, lon, speed_mps, course_deg, quality from gps_fixes "
        "where boot = ? and mono_us between ? and ? order by mono_us",
        (span.boot, span.mono_start_us, span.mono_end_us),
    ).fetchall()
    arr = np.array(rows, dtype=np.float64).reshape(-1, 7)
    mono = arr[:, 0].astype(np.int64)
    offset = _clock_offset(mono, arr[:, 1])
    utc_known = offset is not None
    t = _times(mono, arr[:, 1], offset)
    can_t, can_mph, label = _load_speed(conn, span, offset)
    return TripData(
        span=span,
        utc_known=utc_known,
        t=t,
        lat=arr[:, 2],
        lon=arr[:, 3],
        gps_speed_mps=arr[:, 4],
        course_deg=arr[:, 5],
        quality=arr[:, 6],
        can_t=can_t,
        can_speed_mph=can_mph,
        can_label=label,
    )


def _load_speed(
    conn: sqlite3.Connection, span: TripSpan, offset: float | None
) -> tuple[F64, F64, str | None]:
    for table, column, label in SPEED_SIGNALS:
        cols = _columns(conn, table)
        if not {column, "boot", "mono_us"} <= cols:
            continue
        ts = "timestamp" if "timestamp" in cols else "null"
        rows = conn.execute(
            f'select mono_us, {ts}, "{column}" from "{table}" where boot = ? and mono_us '
            f'between ? and ? and "{column}" is not null order by mono_us',
            (span.boot, span.mono_start_us, span.mono_end_us),
        ).fetchall()
        if rows:
            a = np.array(rows, dtype=np.float64)
            return _times(a[:, 0].astype(np.int64), a[:, 1], offset), a[:, 2] / KMH_PER_MPH, label
    return np.zeros(0), np.zeros(0), None
