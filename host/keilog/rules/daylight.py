"""Is the sun up? Sunrise and sunset for the place and date (astral, NOAA algorithm)."""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import numpy.typing as npt
from astral import Observer
from astral.sun import elevation, sun

_GRID_DEG = 0.1  # sunrise moves about 24 s per 0.1 degree of longitude: close enough


@functools.lru_cache(maxsize=4096)
def _days(lat: float, lon: float, day: dt.date) -> tuple[tuple[float, float], ...]:
    """Daylight intervals (sunrise, sunset) in UTC unix seconds around the UTC date day.

    astral gives the sunrise and sunset that fall on a UTC date; in the Americas the
    evening's sunset falls on the next UTC date, so rises and sets of three dates are
    collected and each sunrise is paired with the first sunset after it.
    """
    obs = Observer(latitude=lat, longitude=lon)
    rises: list[float] = []
    sets: list[float] = []
    out: list[tuple[float, float]] = []
    for d in (day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)):
        try:
            s = sun(obs, date=d, tzinfo=dt.UTC)
        except ValueError:
            # Polar day or night: the sun does not cross the horizon that date.
            noon = dt.datetime(d.year, d.month, d.day, 12, tzinfo=dt.UTC) - dt.timedelta(
                hours=lon / 15.0
            )
            if elevation(obs, noon) > 0:
                start = dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()
                out.append((start, start + 86400.0))
            continue
        rises.append(s["sunrise"].timestamp())
        sets.append(s["sunset"].timestamp())
    sets.sort()
    for rise in sorted(rises):
        later = [x for x in sets if x > rise]
        if later and later[0] - rise < 86400.0:
            out.append((rise, later[0]))
    return tuple(out)


def is_daylight(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64], t_utc: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """True where t (UTC unix seconds) is between sunrise and sunset at (lat, lon)."""
    out = np.zeros(len(t_utc), dtype=bool)
    glat = np.round(lat / _GRID_DEG) * _GRID_DEG
    glon = np.round(lon / _GRID_DEG) * _GRID_DEG
    days = (t_utc // 86400).astype(np.int64)
    keys = np.stack([glat, glon, days.astype(np.float64)], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    for u, (la, lo, d) in enumerate(uniq):
        m = inverse == u
        day = dt.date(1970, 1, 1) + dt.timedelta(days=int(d))
        for rise, set_ in _days(float(la), float(lo), day):
            out[m] |= (t_utc[m] >= rise) & (t_utc[m] < set_)
    return out
