"""Did a logged trip keep to the rules of the states it went through?

``check_database`` reads trips from a keilog database, finds the state of every GPS fix
(``keilog.geo``), the road it was on (``keilog.roads``, optional), the rule in force for
the vehicle's registration class there on that date (``keilog.rules``), and reports
debounced violation events and the stretches it could not verify. docs/rules.md
documents the JSON and the thresholds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from keilog.errors import ConfigError
from keilog.geo import StateIndex, WhereArrays, load_states
from keilog.roads import RoadIndex
from keilog.rules.daylight import is_daylight
from keilog.rules.events import Run, runs
from keilog.rules.model import ClassRule, RuleBook, load_rules
from keilog.rules.speed import speedometer
from keilog.rules.tripdata import (
    MPS_PER_MPH,
    TripData,
    connect,
    load_trip,
    speed_source,
    trip_spans,
)
from keilog.rules.vehicle import Vehicle

SPEED_TOLERANCE_MPH = 1.0
"""Speed over a vehicle cap must exceed it by more than this (GPS/CAN noise)."""
CROSSING_MAX_S = 20.0
"""A stretch this short on a faster or banned road counts as crossing it."""
DROPOUT_S = 5.0
"""Fixes further apart than this leave a GPS dropout between them."""
MOVING_MPH = 3.0
"""Below this the vehicle counts as stopped (parked on a driveway is not driving)."""

F64 = npt.NDArray[np.float64]
BOOL = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]


def _iso(t: float, utc: bool) -> str | None:
    if not utc:
        return None
    stamp = dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


class _Trip:
    """The evaluation of one trip; ``report()`` gives its JSON object."""

    def __init__(
        self,
        data: TripData,
        vehicle: Vehicle,
        book: RuleBook,
        states: StateIndex,
        roads: RoadIndex | None,
    ):
        self.d = data
        self.vehicle = vehicle
        self.book = book
        self.roads = roads
        self.violations: list[dict[str, Any]] = []
        self.unverified: list[dict[str, Any]] = []
        self.crossings: list[dict[str, Any]] = []
        d = data
        self.valid: BOOL = np.isfinite(d.lat) & np.isfinite(d.lon) & (np.nan_to_num(d.quality) > 0)
        self.where: WhereArrays = states.lookup(
            np.where(self.valid, d.lat, np.nan), np.where(self.valid, d.lon, np.nan)
        )
        self.state = self.where.state
        self._rules: list[ClassRule | None] = []
        self.rule_idx = self._rule_index()
        self.fix_mph = self._fix_speed()
        self.moving: BOOL = self.valid & (self.fix_mph >= MOVING_MPH)

    # -- per-fix context -------------------------------------------------------------

    def _rule_index(self) -> I64:
        """Index into self._rules for each fix (-1: no state)."""
        out = np.full(len(self.d.t), -1, dtype=np.int64)
        days = (self.d.t // 86400).astype(np.int64) if self.d.utc_known else None
        cache: dict[tuple[str, int], int] = {}
        for i, code in enumerate(self.state):
            if not code:
                continue
            day = int(days[i]) if days is not None else -1
            k = (str(code), day)
            if k not in cache:
                cache[k] = len(self._rules)
                self._rules.append(self._lookup(str(code), day))
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

    def _field(self, name: str) -> list[Any]:
        """The value of a rule field for each rule in self._rules (None: unknown)."""
        return [r[name].value if r is not None else None for r in self._rules]

    def _per_fix(self, values: list[Any], default: Any = None) -> npt.NDArray[Any]:
        table = np.array([*values, default], dtype=object)
        return table[self.rule_idx]  # -1 picks the default

    # -- events ----------------------------------------------------------------------

    def _event(
        self, run: Run, t: F64, fix: I64, rule: str, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """Common fields of an event over samples run.first..run.last of timeline t."""
        a, b = fix[run.first], fix[run.last]
        code = str(self.state[a] or self.state[b]) or None
        ri = self.rule_idx[a]
        rule_obj = self._rules[ri] if ri >= 0 else None
        span = slice(min(a, b), max(a, b) + 1)
        worst = extra.pop("_worst", a)
        ev = {
            "rule": rule,
            "state": code,
            "start": _iso(float(t[run.first]), self.d.utc_known),
            "end": _iso(float(t[run.last]), self.d.utc_known),
            "duration_s": round(run.duration_s, 1),
            **extra,
            "lat": None if np.isnan(self.d.lat[worst]) else round(float(self.d.lat[worst]), 6),
            "lon": None if np.isnan(self.d.lon[worst]) else round(float(self.d.lon[worst]), 6),
            "near_border": bool(self.where.near_border[span].any()),
            "location_confidence": "low" if self.where.fallback[span].any() else "high",
        }
        if not self.d.utc_known:
            ev["t_start_s"] = round(float(t[run.first]), 3)
        src_field = extra.get("_field")
        if rule_obj is not None:
            value = rule_obj[src_field] if src_field else rule_obj["road_use"]
            ev["source"] = value.source_label
            ev["rule_confidence"] = value.confidence
        else:
            ev["source"] = None
            ev["rule_confidence"] = None
        ev.pop("_field", None)
        return ev

    def _emit(
        self,
        flag: BOOL,
        rule: str,
        field: str | None,
        *,
        unverified_reason: str | Callable[[Run], str] | None = None,
        values: Callable[[Run], dict[str, Any]] | None = None,
        t: F64 | None = None,
        fix: I64 | None = None,
    ) -> list[Run]:
        t = self.d.t if t is None else t
        fix = np.arange(len(self.d.t)) if fix is None else fix
        found = runs(t, flag, self.rule_idx[fix])
        for run in found:
            extra: dict[str, Any] = {"_field": field}
            if values is not None:
                extra.update(values(run))
            if unverified_reason is None:
                self.violations.append(self._event(run, t, fix, rule, extra))
            else:
                reason = (
                    unverified_reason(run) if callable(unverified_reason) else unverified_reason
                )
                extra["reason"] = reason
                self.unverified.append(self._event(run, t, fix, rule, extra))
        return found

    # -- the rules -------------------------------------------------------------------

    def evaluate(self) -> None:
        self._dropouts()
        use = self._per_fix(self._field("road_use"), default="")
        no_rule = self._per_fix([r is None for r in self._rules], default=True).astype(bool)
        m = self.moving
        self._emit(
            m & (self.state == ""),
            "location",
            None,
            unverified_reason="position not in any US state (or outside the boundary file)",
        )
        self._emit(
            m & (self.state != "") & no_rule,
            "class_not_allowed",
            None,
            unverified_reason="no rule known for this class on this date",
        )
        self._emit(m & (use == "prohibited"), "class_not_allowed", "road_use")
        self._emit(
            m & (use == "not_registrable"),
            "class_not_allowed",
            "road_use",
            unverified_reason="the state does not title or register this class; "
            "whether a vehicle registered elsewhere may drive here is not settled",
        )
        self._emit(
            m & (use == "local_option"),
            "class_not_allowed",
            "road_use",
            unverified_reason="allowed only where a local ordinance allows it",
        )
        self._emit(
            m & (self.state != "") & ~no_rule & np.array([u is None for u in use], dtype=bool),
            "class_not_allowed",
            "road_use",
            unverified_reason="rule unknown",
        )
        self.active: BOOL = m & np.isin(use, ["allowed", "local_option"])
        self._vehicle_speed()
        self._roads()
        self._daylight()
        self._distance()

    def _dropouts(self) -> None:
        t = self.d.t[self.valid]
        idx = np.flatnonzero(self.valid)
        if len(t) < 2:
            return
        gaps = np.flatnonzero(np.diff(t) > DROPOUT_S)
        for g in gaps:
            a, b = idx[g], idx[g + 1]
            self.unverified.append(
                {
                    "rule": "gps_dropout",
                    "state": str(self.state[a]) or None,
                    "start": _iso(float(self.d.t[a]), self.d.utc_known),
                    "end": _iso(float(self.d.t[b]), self.d.utc_known),
                    "duration_s": round(float(self.d.t[b] - self.d.t[a]), 1),
                    "reason": "no valid GPS fix: position, state and road unknown",
                    "lat": round(float(self.d.lat[a]), 6),
                    "lon": round(float(self.d.lon[a]), 6),
                    "source": None,
                }
            )

    def _vehicle_speed(self) -> None:
        d = self.d
        caps = self._field("vehicle_max_mph")
        if len(d.can_t):
            t, mph = d.can_t, d.can_speed_mph
            valid_t = d.t[self.valid]
            valid_i = np.flatnonzero(self.valid)
            if not len(valid_t):
                return
            j = np.clip(np.searchsorted(valid_t, t), 0, len(valid_t) - 1)
            j0 = np.clip(j - 1, 0, len(valid_t) - 1)
            j = np.where(np.abs(valid_t[j0] - t) < np.abs(valid_t[j] - t), j0, j)
            fix = valid_i[j]
            near = np.abs(d.t[fix] - t) <= DROPOUT_S
        else:
            t, mph, fix = d.t, self.fix_mph, np.arange(len(d.t))
            near = self.valid.copy()
        cap_num = np.array([c if isinstance(c, int | float) else np.inf for c in caps] + [np.inf])
        cap_unknown = np.array([c is None for c in caps] + [False])
        active = self.active[fix] & near
        cap = cap_num[self.rule_idx[fix]]
        over = active & (mph > cap + SPEED_TOLERANCE_MPH)
        source = speed_source(d.can_label)

        def values(run: Run) -> dict[str, Any]:
            seg = slice(run.first, run.last + 1)
            k = run.first + int(np.argmax(mph[seg]))
            lim = float(cap[run.first])
            return {
                "limit_mph": lim,
                "observed_mph": round(float(mph[k]), 1),
                "worst_excess_mph": round(float(mph[k]) - lim, 1),
                "speed_source": source,
                "_worst": int(fix[k]),
            }

        self._emit(over, "vehicle_max_speed", "vehicle_max_mph", values=values, t=t, fix=fix)
        unknown = active & cap_unknown[self.rule_idx[fix]]
        self._emit(
            unknown,
            "vehicle_max_speed",
            "vehicle_max_mph",
            unverified_reason="vehicle top-speed cap unknown",
            t=t,
            fix=fix,
        )

    def _roads(self) -> None:
        road_max = self._field("road_max_posted_mph")
        banned = self._field("banned_roads")
        matters = [
            (m is None or isinstance(m, int | float)) or (b is None or len(b) > 0)
            for m, b in zip(road_max, banned, strict=True)
        ]
        need = self.active & self._per_fix(matters, default=False).astype(bool)
        if self.roads is None:
            self._emit(
                need,
                "road_rules",
                None,
                unverified_reason="no road data: give --roads with a road file of this area",
            )
            return
        n = len(self.d.t)
        road = np.full(n, -1, dtype=np.int64)
        amb = np.zeros(n, dtype=bool)
        v = np.flatnonzero(self.valid)
        if len(v):
            snap = self.roads.snap(
                self.d.lat[v], self.d.lon[v], self.d.course_deg[v], self.d.gps_speed_mps[v]
            )
            road[v], amb[v] = snap.road, snap.ambiguous
        on = road >= 0
        self._emit(
            need & ~on,
            "road_rules",
            None,
            unverified_reason="no road within 25 m (off-road, a car park, or a road "
            "missing from the extract)",
        )
        self._emit(
            need & on & amb,
            "road_rules",
            None,
            unverified_reason="ambiguous road match: parallel roads with different rules",
        )
        clean = need & on & ~amb
        roads = self.roads.roads
        limit = np.array([np.nan if r.limit_mph is None else r.limit_mph for r in roads] + [np.nan])
        lim = limit[road]
        cap = self._per_fix(road_max)
        cap_num = np.array([c if isinstance(c, int | float) else np.inf for c in cap])
        cap_unknown = np.array([c is None for c in cap])
        self._emit(
            clean & cap_unknown,
            "road_max_posted",
            "road_max_posted_mph",
            unverified_reason="the class's road posted-limit rule is unknown",
        )
        no_limit = clean & ~cap_unknown & np.isfinite(cap_num) & np.isnan(lim)
        self._emit(
            no_limit,
            "road_max_posted",
            "road_max_posted_mph",
            unverified_reason="road has no usable maxspeed in OpenStreetMap",
        )
        over = clean & ~np.isnan(lim) & (lim > cap_num)
        self._candidates(over, "road_max_posted", "road_max_posted_mph", road, lim, cap_num)
        ban = self._per_fix(banned)
        hit = np.zeros(n, dtype=bool)
        maybe = np.zeros(n, dtype=bool)
        unknown = np.zeros(n, dtype=bool)
        for i in np.flatnonzero(clean):
            r = roads[road[i]]
            if ban[i] is None:
                unknown[i] = bool(r.classes or r.maybe_classes)
            else:
                hit[i] = bool(r.classes & set(ban[i]))
                maybe[i] = not hit[i] and bool(r.maybe_classes & set(ban[i]))
        self._emit(
            unknown,
            "banned_road",
            "banned_roads",
            unverified_reason="banned road classes unknown for this class",
        )
        self._emit(
            maybe,
            "banned_road",
            "banned_roads",
            unverified_reason=lambda run: (
                "road may be a banned class ("
                + ", ".join(sorted(roads[road[run.first]].maybe_classes & set(ban[run.first])))
                + ") but OpenStreetMap does not say"
            ),
        )
        self._candidates(hit, "banned_road", "banned_roads", road, lim, cap_num, ban)

    def _candidates(
        self,
        flag: BOOL,
        rule: str,
        field: str,
        road: I64,
        lim: F64,
        cap: F64,
        ban: npt.NDArray[Any] | None = None,
    ) -> None:
        """Violations unless short enough to be an allowed crossing."""
        crossing = self._per_fix(self._field("crossing_allowed"))
        roads = self.roads.roads if self.roads is not None else []
        fix = np.arange(len(self.d.t))
        for run in runs(self.d.t, flag, self.rule_idx):
            seg = slice(run.first, run.last + 1)
            k = run.first + int(np.nanargmax(np.nan_to_num(lim[seg], nan=-1.0)))
            r = roads[road[k]]
            extra: dict[str, Any] = {"_field": field, "_worst": k, "road": r.to_dict()}
            if ban is None:
                extra.update(
                    limit_mph=float(cap[k]),
                    observed_mph=float(lim[k]),
                    worst_excess_mph=round(float(lim[k] - cap[k]), 1),
                )
            else:
                extra["road_class"] = sorted(r.classes & set(ban[k]))
            short = run.duration_s <= CROSSING_MAX_S
            if short and crossing[run.first] is True:
                ev = self._event(run, self.d.t, fix, rule, extra)
                self.crossings.append(ev)
            elif short and crossing[run.first] is None:
                extra["reason"] = "short stretch; whether crossing is allowed is unknown"
                self.unverified.append(self._event(run, self.d.t, fix, rule, extra))
            else:
                self.violations.append(self._event(run, self.d.t, fix, rule, extra))

    def _daylight(self) -> None:
        rule = self._per_fix(self._field("daylight_only"))
        lights = self.vehicle.lights
        applies = np.array([v is True or (v == "unless_lighted" and not lights) for v in rule])
        unknown = np.array([v is None for v in rule])
        if not self.d.utc_known:
            self._emit(
                self.active & (applies | unknown),
                "daylight_only",
                "daylight_only",
                unverified_reason="no UTC time in the log: daylight cannot be judged",
            )
            return
        night = np.zeros(len(self.d.t), dtype=bool)
        v = self.valid
        night[v] = ~is_daylight(self.d.lat[v], self.d.lon[v], self.d.t[v])
        self._emit(
            self.active & applies & night,
            "daylight_only",
            "daylight_only",
            values=lambda run: {"observed": "night"},
        )
        self._emit(
            self.active & unknown & night,
            "daylight_only",
            "daylight_only",
            unverified_reason="daylight-only rule unknown; driven at night",
        )

    def _distance(self) -> None:
        d = self.d
        lat, lon = np.radians(d.lat), np.radians(d.lon)
        a = (
            np.sin(np.diff(lat) / 2) ** 2
            + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
        )
        step_mi = 2 * 3958.8 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
        ok = self.valid[1:] & self.valid[:-1] & (np.diff(d.t) <= DROPOUT_S)
        ok &= self.state[1:] == self.state[:-1]
        step = np.concatenate([[0.0], np.where(ok, np.nan_to_num(step_mi), 0.0)])
        self.distance_mi = float(step.sum())
        limits = self._per_fix(self._field("distance_limit_mi"))
        notes = [r["distance_limit_mi"].note if r is not None else None for r in self._rules]
        for code in {str(s) for s in self.state if s}:
            here = self.state == code
            cum = np.cumsum(np.where(here, step, 0.0))
            total = float(cum[-1])
            numeric = np.array([isinstance(x, int | float) for x in limits])
            lim = np.array([x if isinstance(x, int | float) else np.inf for x in limits])
            over = self.active & here & numeric & (cum > lim)
            if over.any():
                ri = self.rule_idx[np.flatnonzero(over)[0]]
                scope = notes[ri] or "see the rule's note"
                self._emit(
                    over,
                    "distance_limit",
                    "distance_limit_mi",
                    unverified_reason=f"the {lim[over][0]:g} mi limit applies {scope}; "
                    f"this trip went {total:.1f} mi in {code}",
                )
            unknown = self.active & here & np.array([x is None for x in limits])
            self._emit(
                unknown,
                "distance_limit",
                "distance_limit_mi",
                unverified_reason="distance-limit rule unknown",
            )

    # -- the result ------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        d = self.d
        utc = d.utc_known
        seen: list[str] = []
        for s in self.state:
            if s and s not in seen:
                seen.append(str(s))
        key = lambda e: (e.get("start") or "", e.get("t_start_s", 0.0), e["rule"])  # noqa: E731
        verdict = "violations" if self.violations else "unverified" if self.unverified else "clean"
        rules: list[dict[str, Any]] = []
        for r in self._rules:
            if r is not None and not any(
                x["state"] == r.jurisdiction and x["from"] == (r.start and r.start.isoformat())
                for x in rules
            ):
                rules.append(
                    {
                        "state": r.jurisdiction,
                        "class": r.vehicle_class,
                        "from": r.start.isoformat() if r.start else None,
                        "road_use": r["road_use"].value,
                        "summary": r.summary,
                    }
                )
        return {
            "id": d.span.id,
            "boot": d.span.boot,
            "start": _iso(float(d.t[0]), utc) if len(d.t) else None,
            "end": _iso(float(d.t[-1]), utc) if len(d.t) else None,
            "duration_s": round(float(d.t[-1] - d.t[0]), 1) if len(d.t) else 0.0,
            "utc_known": utc,
            "states": seen,
            "verdict": verdict,
            "distance_mi": round(self.distance_mi, 2),
            "speed_source": {"source": speed_source(d.can_label), "signal": d.can_label},
            "speedometer": speedometer(d),
            "violations": sorted(self.violations, key=key),
            "unverified": sorted(self.unverified, key=key),
            "crossings": sorted(self.crossings, key=key),
            "rules": rules,
        }


THRESHOLDS = {
    "min_event_s": 2.0,
    "merge_gap_s": 3.0,
    "speed_tolerance_mph": SPEED_TOLERANCE_MPH,
    "crossing_max_s": CROSSING_MAX_S,
    "gps_dropout_s": DROPOUT_S,
    "moving_mph": MOVING_MPH,
    "snap_radius_m": 25.0,
}


def check_trip(
    data: TripData,
    vehicle: Vehicle,
    roads: RoadIndex | None = None,
    book: RuleBook | None = None,
    states: StateIndex | None = None,
) -> dict[str, Any]:
    """Check one trip's data; returns the trip's JSON object (docs/rules.md)."""
    trip = _Trip(data, vehicle, book or load_rules(), states or load_states(), roads)
    trip.evaluate()
    return trip.report()


def check_database(
    db_path: Path,
    vehicle: Vehicle,
    roads_path: Path | None = None,
    trip: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Check every trip (or trip number ``trip``) of a keilog database."""
    book = load_rules()
    if vehicle.registration_state:
        book[vehicle.registration_state].code  # noqa: B018  (raises for an unknown state)
    roads = RoadIndex.load(roads_path) if roads_path else None
    conn = connect(db_path)
    try:
        spans = trip_spans(conn)
        if trip is not None:
            spans = [s for s in spans if s.id == trip]
            if not spans:
                raise ConfigError(
                    f"{db_path}: has no trip {trip}; run keilog check without --trip to list them"
                )
        out = []
        for n, span in enumerate(spans, start=1):
            out.append(check_trip(load_trip(conn, span), vehicle, roads, book))
            if progress is not None:
                progress(n, len(spans))
    finally:
        conn.close()
    return {
        "vehicle": vehicle.to_dict(),
        "disclaimer": "Not legal advice: see docs/rules.md.",
        "thresholds": THRESHOLDS,
        "trips": out,
    }
