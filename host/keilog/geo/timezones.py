"""The local time zone of a place, offline (timezonefinder's boundary data).

Owners and tickets think in local time; a trip's report shows its times in the zone the
trip started in, with UTC beside them.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@cache
def _finder() -> Any:
    from timezonefinder import TimezoneFinder  # its data loads on first use: ~0.1 s

    return TimezoneFinder()


def timezone_at(lat: float, lon: float) -> str | None:
    """The IANA time zone (``America/New_York``) at a point, or None (open sea, bad input)."""
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return None
    name = _finder().timezone_at(lat=float(lat), lng=float(lon))
    return str(name) if name else None


def local_time(t: float, zone: str | None) -> dt.datetime:
    """UTC seconds as an aware datetime in ``zone`` (UTC when the zone is unknown)."""
    utc = dt.datetime.fromtimestamp(t, dt.UTC)
    if zone is None:
        return utc
    try:
        return utc.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        return utc
