"""Where each fix of a trip is, how fast it moved, and which rule was in force there.

The per-fix context every rule of the check reads: valid fixes, state and country
(``keilog.geo``), the rule period for the vehicle's class on that day, and the speed
(the logged vehicle speed where the log has it, else GPS).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import numpy.typing as npt

from keilog.geo import StateIndex, WhereArrays
from keilog.rules.model import ClassRule, RuleBook
from keilog.rules.thresholds import MOVING_MPH
from keilog.rules.tripdata import TripData
from keilog.rules.vehicle import Vehicle
from keilog.units import MPS_PER_MPH

F64 = npt.NDArray[np.float64]
BOOL = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]


class FixContext:
    """Per-fix place, speed and rule of one trip.

    ``rules`` holds each distinct rule the trip met (None: no rule for this class on
    that date); ``rule_idx`` points every fix into it (-1: in no state).
    """

    def __init__(self, data: TripData, vehicle: Vehicle, book: RuleBook, states: StateIndex):
        self.d = data
        self.vehicle = vehicle
        self.book = book
        d = data
        self.valid: BOOL = np.isfinite(d.lat) & np.isfinite(d.lon) & (np.nan_to_num(d.quality) > 0)
        self.where: WhereArrays = states.lookup(
            np.where(self.valid, d.lat, np.nan), np.where(self.valid, d.lon, np.nan)
        )
        self.state = self.where.state
        self.rules: list[ClassRule | None] = []
        self.rule_idx = self._rule_index()
        self.fix_mph = self._fix_speed()
        self.moving: BOOL = self.valid & (self.fix_mph >= MOVING_MPH)

    def _rule_index(self) -> I64:
        out = np.full(len(self.d.t), -1, dtype=np.int64)
        days = (self.d.t // 86400).astype(np.int64) if self.d.utc_known else None
        cache: dict[tuple[str, int], int] = {}
        for i, code in enumerate(self.state):
            if not code:
                continue
            day = int(days[i]) if days is not None else -1
            k = (str(code), day)
            if k not in cache:
                cache[k] = len(self.rules)
                self.rules.append(self._lookup(str(code), day))
            out[i] = cache[k]
        return out

    def _lookup(self, code: str, day: int) -> ClassRule | None:
        periods = self.book[code].classes[self.vehicle.vehicle_class]
        if day < 0:  # no clock in the log: only an undated single period is usable
            return periods[0] if len(periods) == 1 else None
        return self.book[code].rule(
            self.vehicle.vehicle_class, dt.date(1970, 1, 1) + dt.timedelta(days=day)
        )

    def _fix_speed(self) -> F64:
        d = self.d
        if len(d.can_t):
            inside = (d.t >= d.can_t[0] - 1.0) & (d.t <= d.can_t[-1] + 1.0)
            can = np.interp(d.t, d.can_t, d.can_speed_mph)
            return np.where(inside, can, d.gps_speed_mps / MPS_PER_MPH)
        return np.nan_to_num(d.gps_speed_mps / MPS_PER_MPH)

    def rule_at(self, i: int) -> ClassRule | None:
        """The rule in force at fix ``i`` (None: none known, or in no state)."""
        ri = self.rule_idx[i]
        return self.rules[ri] if ri >= 0 else None

    def field(self, name: str) -> list[Any]:
        """The value of a rule field for each rule in ``rules`` (None: unknown)."""
        return [r[name].value if r is not None else None for r in self.rules]

    def per_fix(self, values: list[Any], default: Any = None) -> npt.NDArray[Any]:
        """One value per rule in ``rules`` spread over the fixes (``default``: no rule)."""
        table = np.array([*values, default], dtype=object)
        return table[self.rule_idx]  # -1 picks the default
