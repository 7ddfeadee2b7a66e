"""The rules about roads: a class's highest posted limit, and banned road classes.

Each fix is snapped to the road it was on (``keilog.roads``); a short stretch on such a
road counts as crossing it where the state allows crossings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from keilog.roads import SNAP_RADIUS_M, RoadIndex
from keilog.rules.context import BOOL, F64, I64
from keilog.rules.events import runs
from keilog.rules.findings import Findings
from keilog.rules.model import StatutoryLimit
from keilog.rules.thresholds import CROSSING_MAX_S


def road_rules(found: Findings, active: BOOL, roads: RoadIndex | None) -> tuple[BOOL, BOOL, BOOL]:
    """Judge the road rules; returns where a road rule applies, where it was judged on a
    posted limit and where on the state's statutory limit for an unposted road of that
    type (for the trip's ``road_judged`` shares)."""
    c = found.ctx
    n = len(c.d.t)
    road_max = c.field("road_max_posted_mph")
    banned = c.field("banned_roads")
    matters = [
        (m is None or isinstance(m, int | float)) or (b is None or len(b) > 0)
        for m, b in zip(road_max, banned, strict=True)
    ]
    need: BOOL = active & c.per_fix(matters, default=False).astype(bool)
    if roads is None:
        found.emit(
            need,
            "road_rules",
            None,
            unverified_reason="no road data: give --roads with a road file of this area",
        )
        return need, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    road = np.full(n, -1, dtype=np.int64)
    amb = np.zeros(n, dtype=bool)
    v = np.flatnonzero(c.valid)
    if len(v):
        d = c.d
        snap = roads.snap(d.lat[v], d.lon[v], d.course_deg[v], d.gps_speed_mps[v])
        road[v], amb[v] = snap.road, snap.ambiguous
    on = road >= 0
    found.emit(
        need & ~on,
        "road_rules",
        None,
        unverified_reason=f"no road within {SNAP_RADIUS_M:g} m (off-road, a car park, or a road "
        "missing from the extract)",
    )
    found.emit(
        need & on & amb,
        "road_rules",
        None,
        unverified_reason="ambiguous road match: parallel roads with different rules",
    )
    clean = need & on & ~amb
    all_roads = roads.roads
    limit = np.array([np.nan if r.limit_mph is None else r.limit_mph for r in all_roads] + [np.nan])
    lim = limit[road]
    cap = c.per_fix(road_max)
    cap_num = np.array([x if isinstance(x, int | float) else np.inf for x in cap])
    cap_unknown = np.array([x is None for x in cap])
    found.emit(
        clean & cap_unknown,
        "road_max_posted",
        "road_max_posted_mph",
        unverified_reason="the class's road posted-limit rule is unknown",
    )
    statute, by_statute, statute_low = _statutory(found, roads, road, clean & np.isnan(lim))
    found.emit(
        clean & ~cap_unknown & np.isfinite(cap_num) & np.isnan(lim) & np.isnan(by_statute),
        "road_max_posted",
        "road_max_posted_mph",
        unverified_reason="road has no usable maxspeed in OpenStreetMap, and keilog has no "
        "statutory limit of this state for this road type",
    )
    # A statute's limit for an unposted road may be a range (e.g. 35 mph inside city
    # limits, 55 outside): a class allowed on roads up to its top keeps to it, one whose
    # highest road limit is below its bottom breaks it, and anything between is unknown.
    unposted = clean & np.isnan(lim) & ~np.isnan(by_statute)
    finite_cap = ~cap_unknown & np.isfinite(cap_num)
    between = unposted & finite_cap & (statute_low <= cap_num) & (cap_num < by_statute)
    found.emit(
        between,
        "road_max_posted",
        "road_max_posted_mph",
        unverified_reason=lambda run: _between_reason(statute[run.first], cap_num[run.first]),
    )
    posted: BOOL = clean & ~np.isnan(lim)
    statutory: BOOL = unposted & ~between
    over = clean & ~np.isnan(lim) & (lim > cap_num)
    _candidates(found, roads, over, "road_max_posted", "road_max_posted_mph", road, lim, cap_num)
    over_statute = unposted & finite_cap & (statute_low > cap_num)
    _candidates(
        found,
        roads,
        over_statute,
        "road_max_posted",
        "road_max_posted_mph",
        road,
        statute_low,
        cap_num,
        statute=statute,
    )
    ban = c.per_fix(banned)
    hit = np.zeros(n, dtype=bool)
    maybe = np.zeros(n, dtype=bool)
    unknown = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(clean):
        r = all_roads[road[i]]
        if ban[i] is None:
            unknown[i] = bool(r.classes or r.maybe_classes)
        else:
            hit[i] = bool(r.classes & set(ban[i]))
            maybe[i] = not hit[i] and bool(r.maybe_classes & set(ban[i]))
    found.emit(
        unknown,
        "banned_road",
        "banned_roads",
        unverified_reason="banned road classes unknown for this class",
    )
    found.emit(
        maybe,
        "banned_road",
        "banned_roads",
        unverified_reason=lambda run: (
            "road may be a banned class ("
            + ", ".join(sorted(all_roads[road[run.first]].maybe_classes & set(ban[run.first])))
            + ") but OpenStreetMap does not say"
        ),
    )
    _candidates(found, roads, hit, "banned_road", "banned_roads", road, lim, cap_num, ban)
    return need, posted, statutory


def _statutory(
    found: Findings, roads: RoadIndex, road: I64, unposted: BOOL
) -> tuple[list[StatutoryLimit | None], F64, F64]:
    """The statutory limit of each unposted fix's state for its road type: the limit,
    its highest and its lowest value in mph (NaN: none)."""
    c = found.ctx
    n = len(road)
    limits: list[StatutoryLimit | None] = [None] * n
    mph = np.full(n, np.nan)
    low = np.full(n, np.nan)
    for i in np.flatnonzero(unposted):
        code = str(c.state[i])
        if not code or code not in c.book:
            continue
        s = c.book[code].statutory_limit(roads.roads[road[i]].highway)
        if s is not None:
            limits[i], mph[i], low[i] = s, s.mph, s.lowest_mph
    return limits, mph, low


def _between_reason(s: StatutoryLimit | None, cap: float) -> str:
    assert s is not None  # only fixes with a statutory limit are between
    return (
        f"road has no usable maxspeed in OpenStreetMap; {s.source_label} sets {s.text} for "
        f"such a road ({s.where}), and the class may use roads posted up to {cap:g} mph"
    )


def _candidates(
    found: Findings,
    roads: RoadIndex,
    flag: BOOL,
    rule: str,
    field: str,
    road: I64,
    lim: F64,
    cap: F64,
    ban: npt.NDArray[Any] | None = None,
    statute: list[StatutoryLimit | None] | None = None,
) -> None:
    """Violations unless short enough to be an allowed crossing. With ``statute``, the
    road's limit is the statute's for an unposted road of its type (lower confidence)."""
    c = found.ctx
    t = c.d.t
    crossing = c.per_fix(c.field("crossing_allowed"))
    fix = np.arange(len(t))
    for run in runs(t, flag, c.rule_idx):
        seg = slice(run.first, run.last + 1)
        k = run.first + int(np.nanargmax(np.nan_to_num(lim[seg], nan=-1.0)))
        r = roads.roads[road[k]]
        extra: dict[str, Any] = {"_field": field, "_worst": k, "road": r.to_dict()}
        if ban is None:
            extra.update(
                limit_mph=float(cap[k]),
                observed_mph=float(lim[k]),
                worst_excess_mph=round(float(lim[k] - cap[k]), 1),
            )
        else:
            extra["road_class"] = sorted(r.classes & set(ban[k]))
        s = statute[k] if statute is not None else None
        if s is not None:
            extra.update(
                road_limit_basis="statutory_default",
                confidence=s.confidence,
                road_limit_source={
                    "cite": s.source_label,
                    "where": s.where,
                    "range_mph": [s.lowest_mph, s.mph],
                    "source_date": s.source_date,
                    "urls": [x.url for x in s.sources if x.url],
                },
            )
        short = run.duration_s <= CROSSING_MAX_S
        if short and crossing[run.first] is True:
            found.crossings.append(found.event(run, t, fix, rule, extra))
        elif short and crossing[run.first] is None:
            extra["reason"] = "short stretch; whether crossing is allowed is unknown"
            found.unverified.append(found.event(run, t, fix, rule, extra))
        else:
            found.violations.append(found.event(run, t, fix, rule, extra))
