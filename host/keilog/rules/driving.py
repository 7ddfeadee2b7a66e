"""The rules about the vehicle and the drive: may the class use the road at all, its
top-speed cap, daylight only, and a distance limit per state."""

from __future__ import annotations

from typing import Any

import numpy as np

from keilog.rules.context import BOOL, F64
from keilog.rules.daylight import is_daylight
from keilog.rules.events import Run
from keilog.rules.findings import Findings
from keilog.rules.thresholds import DROPOUT_S, SPEED_TOLERANCE_MPH
from keilog.rules.tripdata import speed_source
from keilog.units import M_PER_MILE, haversine_m


def road_use(found: Findings, moving: BOOL) -> BOOL:
    """Events where the class may not (or may not surely) drive; returns where it may:
    the fixes every other rule judges."""
    c = found.ctx
    use = c.per_fix(c.field("road_use"), default="")
    no_rule = c.per_fix([r is None for r in c.rules], default=True).astype(bool)
    m = moving
    found.emit(
        m & (c.state != "") & no_rule,
        "class_not_allowed",
        None,
        unverified_reason="no rule known for this class on this date",
    )
    found.emit(m & (use == "prohibited"), "class_not_allowed", "road_use")
    found.emit(
        m & (use == "not_registrable"),
        "class_not_allowed",
        "road_use",
        unverified_reason="the state does not title or register this class; "
        "whether a vehicle registered elsewhere may drive here is not settled",
    )
    found.emit(
        m & (use == "local_option"),
        "class_not_allowed",
        "road_use",
        unverified_reason="allowed only where a local ordinance allows it",
    )
    found.emit(
        m & (c.state != "") & ~no_rule & np.array([u is None for u in use], dtype=bool),
        "class_not_allowed",
        "road_use",
        unverified_reason="rule unknown",
    )
    active: BOOL = m & np.isin(use, ["allowed", "local_option"])
    return active


def vehicle_speed(found: Findings, active: BOOL) -> None:
    """Speed above the class's top-speed cap, on the logged speed's own timeline."""
    c = found.ctx
    d = c.d
    caps = c.field("vehicle_max_mph")
    if len(d.can_t):
        t, mph = d.can_t, d.can_speed_mph
        valid_t = d.t[c.valid]
        valid_i = np.flatnonzero(c.valid)
        if not len(valid_t):
            return
        j = np.clip(np.searchsorted(valid_t, t), 0, len(valid_t) - 1)
        j0 = np.clip(j - 1, 0, len(valid_t) - 1)
        j = np.where(np.abs(valid_t[j0] - t) < np.abs(valid_t[j] - t), j0, j)
        fix = valid_i[j]
        near = np.abs(d.t[fix] - t) <= DROPOUT_S
    else:
        t, mph, fix = d.t, c.fix_mph, np.arange(len(d.t))
        near = c.valid.copy()
    cap_num = np.array([x if isinstance(x, int | float) else np.inf for x in caps] + [np.inf])
    cap_unknown = np.array([x is None for x in caps] + [False])
    here = active[fix] & near
    cap = cap_num[c.rule_idx[fix]]
    over = here & (mph > cap + SPEED_TOLERANCE_MPH)
    source = speed_source(d.can_label) if len(d.can_t) else "gps"

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

    found.emit(over, "vehicle_max_speed", "vehicle_max_mph", values=values, t=t, fix=fix)
    found.emit(
        here & cap_unknown[c.rule_idx[fix]],
        "vehicle_max_speed",
        "vehicle_max_mph",
        unverified_reason="vehicle top-speed cap unknown",
        t=t,
        fix=fix,
    )


def daylight(found: Findings, active: BOOL) -> None:
    """Driving at night where the class may drive in daylight only."""
    c = found.ctx
    rule = c.per_fix(c.field("daylight_only"))
    lights = c.vehicle.lights
    applies = np.array([v is True or (v == "unless_lighted" and not lights) for v in rule])
    unknown = np.array([v is None for v in rule])
    if not c.d.utc_known:
        found.emit(
            active & (applies | unknown),
            "daylight_only",
            "daylight_only",
            unverified_reason="no UTC time in the log: daylight cannot be judged",
        )
        return
    night = np.zeros(len(c.d.t), dtype=bool)
    v = c.valid
    night[v] = ~is_daylight(c.d.lat[v], c.d.lon[v], c.d.t[v])
    found.emit(
        active & applies & night,
        "daylight_only",
        "daylight_only",
        values=lambda run: {"observed": "night"},
    )
    found.emit(
        active & unknown & night,
        "daylight_only",
        "daylight_only",
        unverified_reason="daylight-only rule unknown; driven at night",
    )


def distance(found: Findings, active: BOOL) -> F64:
    """Distance limits per state; returns the miles from the previous fix to each fix
    (0 across a dropout or a state line)."""
    c = found.ctx
    d = c.d
    step_mi = haversine_m(d.lat[:-1], d.lon[:-1], d.lat[1:], d.lon[1:]) / M_PER_MILE
    ok = c.valid[1:] & c.valid[:-1] & (np.diff(d.t) <= DROPOUT_S)
    ok &= c.state[1:] == c.state[:-1]
    step: F64 = np.concatenate([[0.0], np.where(ok, np.nan_to_num(step_mi), 0.0)])
    limits = c.per_fix(c.field("distance_limit_mi"))
    notes = [r["distance_limit_mi"].note if r is not None else None for r in c.rules]
    numeric = np.array([isinstance(x, int | float) for x in limits], dtype=bool)
    lim = np.array([x if isinstance(x, int | float) else np.inf for x in limits])
    for code in {str(s) for s in c.state if s}:
        here = c.state == code
        cum = np.cumsum(np.where(here, step, 0.0))
        total = float(cum[-1])
        over = active & here & numeric & (cum > lim)
        if over.any():
            scope = notes[c.rule_idx[np.flatnonzero(over)[0]]] or "see the rule's note"
            found.emit(
                over,
                "distance_limit",
                "distance_limit_mi",
                unverified_reason=f"the {lim[over][0]:g} mi limit applies {scope}; "
                f"this trip went {total:.1f} mi in {code}",
            )
        found.emit(
            active & here & np.array([x is None for x in limits], dtype=bool),
            "distance_limit",
            "distance_limit_mi",
            unverified_reason="distance-limit rule unknown",
        )
    return step
