"""From the logger's boot-monotonic microseconds to UTC.

Every record carries microseconds since its device booted (docs/log-format.md, "Time").
UTC comes from reference points that tie a monotonic time to a UTC time:

- GPS fixes that carry the receiver's date and time, and clock anchors written from GPS:
  the best clock there is. With two or more, the UTC of a record is interpolated
  between the points on either side, which also takes out the drift of the board's
  crystal (tens of ppm), and, on the unix port, any time compression of a simulation
  run faster than real time (``keilog demo --speedup``).
- Otherwise clock anchors from the host (set during USB sync), the board's RTC or the
  system clock, in that order of trust: the latest such anchor at or before a record
  (the earliest one for records before any) gives UTC at rate 1.

Before the first and after the last GPS point, time runs on at rate 1 from that point.
A GPS point whose UTC goes backwards against the previous one (a receiver glitch, a
week-number rollover) is dropped rather than trusted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Anchor sources by trust, best first (the names of keilog.logformat.reader.ANCHOR_SOURCES).
TRUST = ("gps", "host", "rtc", "system")


@dataclass(frozen=True)
class Clock:
    """Maps monotonic microseconds of one device boot to UTC seconds."""

    mono_us: npt.NDArray[np.int64]  # reference points, ascending
    utc_us: npt.NDArray[np.int64]
    interpolate: bool  # True: piecewise linear between points (GPS); False: steps
    source: str | None  # where UTC comes from, None when unknown

    @property
    def known(self) -> bool:
        return len(self.mono_us) > 0

    def utc(self, mono_us: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """UTC seconds for monotonic microseconds (NaN when no reference exists)."""
        mono = np.asarray(mono_us, dtype=np.int64)
        if not self.known:
            return np.full(mono.shape, np.nan)
        ref_m, ref_u = self.mono_us, self.utc_us
        if self.interpolate and len(ref_m) >= 2:
            out = np.interp(
                mono.astype(np.float64), ref_m.astype(np.float64), ref_u.astype(np.float64)
            )
            before = mono < ref_m[0]
            after = mono > ref_m[-1]
            out[before] = ref_u[0] + (mono[before] - ref_m[0])
            out[after] = ref_u[-1] + (mono[after] - ref_m[-1])
            return out / 1e6
        # Steps: the latest reference at or before each time, the first one before any.
        idx = np.searchsorted(ref_m, mono, side="right") - 1
        idx[idx < 0] = 0
        return (ref_u[idx] + (mono - ref_m[idx])).astype(np.float64) / 1e6

    def utc_one(self, mono_us: int) -> float | None:
        value = float(self.utc(np.array([mono_us]))[0])
        return None if np.isnan(value) else value


def build_clock(points: Iterable[tuple[int, int, str]]) -> Clock:
    """A clock from (mono_us, utc_us, source) reference points of one device boot.

    GPS fixes with a time are passed with source "gps", like GPS clock anchors.
    """
    by_source: dict[str, list[tuple[int, int]]] = {}
    for m, u, source in points:
        by_source.setdefault(source, []).append((int(m), int(u)))
    for source in TRUST:
        pts = by_source.get(source)
        if not pts:
            continue
        pts.sort()
        if source == "gps":
            kept: list[tuple[int, int]] = []
            for m, u in pts:
                if kept and (m == kept[-1][0] or u < kept[-1][1]):
                    continue  # same instant twice, or time going backwards: not trusted
                kept.append((m, u))
            pts = kept
        mono = np.array([p[0] for p in pts], dtype=np.int64)
        utc = np.array([p[1] for p in pts], dtype=np.int64)
        return Clock(mono, utc, interpolate=source == "gps", source=source)
    others = sorted(s for s in by_source if s not in TRUST)
    if others:
        pts = sorted(by_source[others[0]])
        mono = np.array([p[0] for p in pts], dtype=np.int64)
        utc = np.array([p[1] for p in pts], dtype=np.int64)
        return Clock(mono, utc, interpolate=False, source=others[0])
    return Clock(np.zeros(0, np.int64), np.zeros(0, np.int64), False, None)
