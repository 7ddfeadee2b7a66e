"""Vehicle speed for the check, and the speedometer error from CAN vs GPS speed.

The check uses the car's own speed signal (CAN or OBD-II) where the log has one, else
GPS speed, and says which. Comparing the two over a trip gives the speedometer error:
kei imports often read km/h, and old or non-stock tyres change the reading.
:func:`compare_speeds` is the one comparison; the check's JSON and the report word it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from keilog.rules.tripdata import TripData
from keilog.units import KMH_PER_MPH, MPS_PER_MPH

MIN_COMPARE_MPH = 12.0
"""Speedometer error is compared above this speed: GPS speed is noisy when slow."""
MAX_PAIR_GAP_S = 1.0
"""A car speed sample this close in time to a GPS fix is compared with it."""

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SpeedComparison:
    """The car's own speed against GPS speed over a trip."""

    samples: int  # fixes compared (0: none could be)
    ratio: float | None = None  # median of car / GPS speed
    median_difference_mph: float | None = None  # median of car - GPS speed

    @property
    def reads_high_percent(self) -> float | None:
        return None if self.ratio is None else round((self.ratio - 1.0) * 100.0, 2)

    @property
    def misreading(self) -> str | None:
        """``kmh_as_mph``, ``mph_as_kmh``, ``off`` (by more than 5 %) or None (within 5 %)."""
        r = self.ratio
        if r is None:
            return None
        if abs(r - KMH_PER_MPH) / KMH_PER_MPH < 0.05:
            return "kmh_as_mph"
        if abs(r * KMH_PER_MPH - 1) < 0.05:
            return "mph_as_kmh"
        return "off" if abs(r - 1.0) > 0.05 else None


def compare_speeds(
    car_t: F64, car_mph: F64, t: F64, gps_mph: F64, valid: npt.NDArray[np.bool_]
) -> SpeedComparison:
    """Compare each valid fix (times ``t``) above MIN_COMPARE_MPH with the nearest car
    speed sample (times ``car_t``, sorted) within MAX_PAIR_GAP_S."""
    if not len(car_t) or not len(t):
        return SpeedComparison(0)
    j = np.clip(np.searchsorted(car_t, t), 1, max(len(car_t) - 1, 1))
    if len(car_t) == 1:
        j = np.zeros(len(t), dtype=np.int64)
    else:
        j = np.where(np.abs(car_t[j - 1] - t) < np.abs(car_t[j] - t), j - 1, j)
    ok = (np.abs(car_t[j] - t) <= MAX_PAIR_GAP_S) & valid
    ok &= np.isfinite(gps_mph) & (gps_mph >= MIN_COMPARE_MPH)
    n = int(ok.sum())
    if n == 0:
        return SpeedComparison(0)
    car, gps = car_mph[j[ok]], gps_mph[ok]
    return SpeedComparison(n, float(np.median(car / gps)), round(float(np.median(car - gps)), 2))


_NOTES = {
    "kmh_as_mph": "CAN speed reads about 1.61 x GPS: a km/h value is being read as mph",
    "mph_as_kmh": "CAN speed reads about 0.62 x GPS: an mph value is being read as km/h",
    "off": "speedometer off by more than 5 %: check tyre size and calibration",
}


def speedometer(data: TripData) -> dict[str, Any]:
    """CAN-vs-GPS comparison of one trip (``{"compared_samples": 0}`` when impossible)."""
    if not len(data.can_t) or not len(data.t):
        return {"compared_samples": 0, "note": "needs both a CAN speed signal and GPS speed"}
    c = compare_speeds(
        data.can_t, data.can_speed_mph, data.t, data.gps_speed_mps / MPS_PER_MPH, data.quality > 0
    )
    if c.samples == 0:
        return {"compared_samples": 0, "note": f"no moments above {MIN_COMPARE_MPH} mph with both"}
    out: dict[str, Any] = {
        "compared_samples": c.samples,
        "can_reads_high_percent": c.reads_high_percent,
        "median_difference_mph": c.median_difference_mph,
    }
    if c.misreading is not None:
        out["note"] = _NOTES[c.misreading]
    return out
