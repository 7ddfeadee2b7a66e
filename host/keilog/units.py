"""Units and distances, one definition each.

Speeds are kept in SI (m/s) or km/h where a source gives them so, and shown in mph, as
US speed limits are posted. Both factors are exact: 1 international mile = 1,609.344 m
(NIST SP 811, B.8).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import numpy.typing as npt

M_PER_MILE = 1609.344
MPS_PER_MPH = M_PER_MILE / 3600  # 0.44704 m/s per mph
KMH_PER_MPH = M_PER_MILE / 1000  # 1.609344 km/h per mph
MPS_PER_KMH = 1 / 3.6

# The IUGG mean Earth radius (R1 of GRS 80), for great-circle distances on a sphere.
EARTH_RADIUS_M = 6_371_008.8


def haversine_m(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Great-circle distance in metres between points in degrees (arrays or scalars).

    On the mean-radius sphere: within about 0.3 % of the ellipsoid's distance, far finer
    than a GPS fix over the distances a trip is cut into.
    """
    p1, p2 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lat2, float))
    dl = np.radians(np.asarray(lon2, float) - np.asarray(lon1, float))
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def track_distance_m(lat: npt.ArrayLike, lon: npt.ArrayLike) -> float:
    """Length of a track along its points, in metres (NaN positions are skipped)."""
    y, x = np.asarray(lat, float), np.asarray(lon, float)
    ok = np.isfinite(y) & np.isfinite(x)
    y, x = y[ok], x[ok]
    if len(y) < 2:
        return 0.0
    return float(haversine_m(y[:-1], x[:-1], y[1:], x[1:]).sum())


def iso(ts: float | None) -> str | None:
    """UTC seconds as ISO 8601 with a Z, to the second (None stays None)."""
    if ts is None or not math.isfinite(ts):
        return None
    return (
        dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )
