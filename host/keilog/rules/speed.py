"""Vehicle speed for the check, and the speedometer error from CAN vs GPS speed.

The check uses the car's own speed signal (CAN or OBD-II) where the log has one, else
GPS speed, and says which. Comparing the two over a trip gives the speedometer error:
kei imports often read km/h, and old or non-stock tyres change the reading.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from keilog.rules.tripdata import TripData
from keilog.units import KMH_PER_MPH, MPS_PER_MPH

MIN_COMPARE_MPH = 12.0  # GPS speed is noisy when slow; compare above this
MAX_PAIR_GAP_S = 1.0  # a CAN sample this close to a fix is compared with it


def speedometer(data: TripData) -> dict[str, Any]:
    """CAN-vs-GPS comparison of one trip (``{"compared_samples": 0}`` when impossible)."""
    if not len(data.can_t) or not len(data.t):
        return {"compared_samples": 0, "note": "needs both a CAN speed signal and GPS speed"}
    gps_mph = data.gps_speed_mps / MPS_PER_MPH
    j = np.clip(np.searchsorted(data.can_t, data.t), 1, max(len(data.can_t) - 1, 1))
    if len(data.can_t) == 1:
        j = np.zeros(len(data.t), dtype=np.int64)
    else:
        left_closer = np.abs(data.can_t[j - 1] - data.t) < np.abs(data.can_t[j] - data.t)
        j = np.where(left_closer, j - 1, j)
    gap = np.abs(data.can_t[j] - data.t)
    ok = (gap <= MAX_PAIR_GAP_S) & np.isfinite(gps_mph) & (gps_mph >= MIN_COMPARE_MPH)
    ok &= data.quality > 0
    n = int(ok.sum())
    if n == 0:
        return {"compared_samples": 0, "note": f"no moments above {MIN_COMPARE_MPH} mph with both"}
    can = data.can_speed_mph[j[ok]]
    gps = gps_mph[ok]
    ratio = float(np.median(can / gps))
    out: dict[str, Any] = {
        "compared_samples": n,
        "can_reads_high_percent": round((ratio - 1.0) * 100.0, 2),
        "median_difference_mph": round(float(np.median(can - gps)), 2),
    }
    if abs(ratio - KMH_PER_MPH) / KMH_PER_MPH < 0.05:
        out["note"] = "CAN speed reads about 1.61 x GPS: a km/h value is being read as mph"
    elif abs(ratio - 1 / KMH_PER_MPH) * KMH_PER_MPH < 0.05:
        out["note"] = "CAN speed reads about 0.62 x GPS: an mph value is being read as km/h"
    elif abs(ratio - 1.0) > 0.05:
        out["note"] = "speedometer off by more than 5 %: check tyre size and calibration"
    return out
