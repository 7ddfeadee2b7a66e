"""Calibrate the VSS pulse input against GPS: pulses per km, and the speedometer's error.

The logger logs the speed sensor's pulse frequency (``msg_INPUT_VSS.VSS_HZ``) beside
the speed it computed from its configured ``vss.pulses_per_km``. Where the truck drove
steadily with a good GPS fix, GPS speed is the truth (its speed error is a few cm/s,
against the several percent a worn tyre or a wrong sensor gear makes), so each such
fix gives ``pulses per km = Hz * 3600 / GPS km/h``; the median over all of them is the
calibration. Fixes and VSS samples of one device and boot are matched on the times
import gave them (UTC, disciplined by GPS), or on the logger's monotonic clock where
the log has no clock.

The speedometer shares the sensor's drive, which JIS D 5601 sets at 637 revolutions
per km; with the whole number of pulses per revolution nearest the fit, the
speedometer's error is how far the fitted drive is from 637 rev/km.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from keilog.errors import StoreError

JIS_REV_PER_KM = 637
"""Speedometer drive revolutions per km (JIS D 5601; hardware/README.md)."""
MIN_KMH = 30.0
"""Slower than this, a few cm/s of GPS speed error are too large a share."""
MAX_ACCEL_MPS2 = 0.3
"""Steady: GPS speed changes less than this per second over the stretch."""
MIN_STRETCH_S = 5.0
MIN_SAMPLES = 20
MAX_HDOP = 2.0
MATCH_S = 0.5
"""A VSS sample counts for a fix when it is this close to it (monotonic time)."""

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class VssCalibration:
    """What :func:`calibrate_vss` found."""

    pulses_per_km: int
    configured_pulses_per_km: int | None
    vss_reads_high_percent: float | None  # the logged VSS speed against GPS
    pulses_per_rev: int  # nearest whole number at 637 rev/km
    speedometer_reads_high_percent: float  # the fitted drive against JIS 637 rev/km
    samples: int
    stretches: int
    spread_percent: float  # half the interquartile range of the per-fix values

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _connect(path: Path) -> sqlite3.Connection:
    if not Path(path).is_file():
        raise StoreError(f"{path}: no such database; create it with keilog import")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tables = {
        r[0] for r in conn.execute("select name from sqlite_master where type in ('table', 'view')")
    }
    if "msg_INPUT_VSS" not in tables:
        raise StoreError(
            f"{path}: has no VSS samples (msg_INPUT_VSS); wire vss.pin on the logger, "
            "drive, then sync and import"
        )
    return conn


def _steady(t: F64, v: F64) -> npt.NDArray[np.bool_]:
    """Fixes inside stretches of at least MIN_STRETCH_S where speed is above MIN_KMH and
    changes by less than MAX_ACCEL_MPS2 per second from fix to fix."""
    n = len(t)
    ok = v * 3.6 >= MIN_KMH
    if n > 1:
        dt = np.diff(t)
        acc = np.abs(np.diff(v)) / np.where(dt > 0, dt, np.inf)
        calm = (acc <= MAX_ACCEL_MPS2) & (dt > 0) & (dt <= 2.0)
        ok[1:] &= calm
        ok[:-1] &= calm
    out = np.zeros(n, np.bool_)
    start = None
    for i in range(n + 1):
        if i < n and ok[i]:
            start = i if start is None else start
        elif start is not None:
            if t[i - 1] - t[start] >= MIN_STRETCH_S:
                out[start:i] = True
            start = None
    return out


def calibrate_vss(db_path: str | Path, device_id: str | None = None) -> VssCalibration:
    """Fit pulses per km from every boot's steady driving; raises StoreError when the
    database holds too little of it."""
    conn = _connect(Path(db_path))
    try:
        where = "" if device_id is None else " where device_id = ?"
        args = [] if device_id is None else [device_id]
        boots = conn.execute(
            f"select distinct device_id, boot from msg_INPUT_VSS{where}", args
        ).fetchall()
        ratios: list[F64] = []
        configured: list[float] = []
        stretches = 0
        for dev, boot in boots:
            vss = np.array(
                conn.execute(
                    "select coalesce(timestamp, mono_us / 1e6) as t, VSS_HZ, VSS_SPEED_KPH from "
                    "msg_INPUT_VSS where device_id = ? and boot = ? and mono_us is not null "
                    "order by t",
                    (dev, boot),
                ).fetchall(),
                np.float64,
            ).reshape(-1, 3)
            fixes = np.array(
                conn.execute(
                    "select coalesce(timestamp, mono_us / 1e6) as t, speed_mps, coalesce(hdop, 0) "
                    "from gps_fixes where device_id = ? and boot = ? and quality > 0 and "
                    "speed_mps is not null and mono_us is not null order by t",
                    (dev, boot),
                ).fetchall(),
                np.float64,
            ).reshape(-1, 3)
            moving = vss[:, 2] > 0
            configured += list(vss[moving, 1] * 3600 / vss[moving, 2])
            if not len(vss) or not len(fixes):
                continue
            t = fixes[:, 0]
            steady = _steady(t, fixes[:, 1]) & (fixes[:, 2] <= MAX_HDOP)
            starts = np.flatnonzero(steady & ~np.r_[False, steady[:-1]])
            stretches += len(starts)
            vt = vss[:, 0]
            j = np.clip(np.searchsorted(vt, t), 1, max(1, len(vt) - 1))
            near = np.minimum(np.abs(vt[j - 1] - t), np.abs(vt[np.minimum(j, len(vt) - 1)] - t))
            use = steady & (near <= MATCH_S)
            hz = np.interp(t[use], vt, vss[:, 1])
            kmh = fixes[use, 1] * 3.6
            ratios.append(hz * 3600 / kmh)
    finally:
        conn.close()
    r = np.concatenate(ratios) if ratios else np.zeros(0)
    r = r[np.isfinite(r) & (r > 0)]
    if len(r) < MIN_SAMPLES:
        raise StoreError(
            f"{db_path}: {len(r)} GPS fixes of steady driving above {MIN_KMH:.0f} km/h with "
            f"VSS samples, {MIN_SAMPLES} needed; drive a few straight, level minutes at a "
            "steady speed with a clear sky view, then sync, import and calibrate again"
        )
    ppk = float(np.median(r))
    q1, q3 = np.percentile(r, [25, 75])
    cfg = round(float(np.median(configured))) if configured else None
    ppr = max(1, round(ppk / JIS_REV_PER_KM))
    return VssCalibration(
        pulses_per_km=round(ppk),
        configured_pulses_per_km=cfg,
        vss_reads_high_percent=round((ppk / cfg - 1) * 100, 2) if cfg else None,
        pulses_per_rev=ppr,
        speedometer_reads_high_percent=round((ppk / (JIS_REV_PER_KM * ppr) - 1) * 100, 2),
        samples=len(r),
        stretches=stretches,
        spread_percent=round(float((q3 - q1) / 2 / ppk * 100), 3),
    )
