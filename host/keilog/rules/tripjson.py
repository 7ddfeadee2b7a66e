"""One checked trip as its JSON object (docs/rules.md): verdict, events, shares, rules."""

from __future__ import annotations

from typing import Any

from keilog.rules.context import BOOL, F64
from keilog.rules.findings import Findings, stamp
from keilog.rules.speed import speedometer
from keilog.rules.tripdata import speed_source


def _order(e: dict[str, Any]) -> tuple[str, float, str]:
    return (e.get("start") or "", e.get("t_start_s", 0.0), e["rule"])


def trip_json(
    found: Findings,
    active: BOOL,
    road_need: BOOL,
    road_posted: BOOL,
    road_statutory: BOOL,
    step_mi: F64,
) -> dict[str, Any]:
    """The trip's JSON object from what the rules found; ``active`` is where the class
    may drive, ``road_need``/``road_posted`` where a road rule applies and where it was
    judged on a posted limit, ``step_mi`` the miles to each fix."""
    c = found.ctx
    d = c.d
    utc = d.utc_known
    seen: list[str] = []
    for s in c.state:
        if s and s not in seen:
            seen.append(str(s))
    conditions = _conditions(found, active)
    verdict = (
        "violations"
        if found.violations
        else "unverified"
        if found.unverified
        else "conditional"
        if conditions
        else "clean"
    )
    return {
        "id": d.span.id,
        "boot": d.span.boot,
        "start": stamp(float(d.t[0]), utc) if len(d.t) else None,
        "end": stamp(float(d.t[-1]), utc) if len(d.t) else None,
        "duration_s": round(float(d.t[-1] - d.t[0]), 1) if len(d.t) else 0.0,
        "utc_known": utc,
        "states": seen,
        "countries": sorted({str(x) for x in c.where.country if x}),
        "verdict": verdict,
        "distance_mi": round(float(step_mi.sum()), 2),
        "speed_source": {
            "source": speed_source(d.can_label) if len(d.can_t) else "gps",
            "signal": d.can_label,
        },
        "speedometer": speedometer(d),
        "violations": sorted(found.violations, key=_order),
        "unverified": sorted(found.unverified, key=_order),
        "crossings": sorted(found.crossings, key=_order),
        "conditions": conditions,
        "road_judged": _road_judged(road_need, road_posted, road_statutory, step_mi),
        "rules": _rules(found),
    }


def _rules(found: Findings) -> list[dict[str, Any]]:
    """Each rule period the trip met, once."""
    out: list[dict[str, Any]] = []
    for r in found.ctx.rules:
        if r is not None and not any(
            x["state"] == r.jurisdiction and x["from"] == (r.start and r.start.isoformat())
            for x in out
        ):
            out.append(
                {
                    "state": r.jurisdiction,
                    "class": r.vehicle_class,
                    "from": r.start.isoformat() if r.start else None,
                    "road_use": r["road_use"].value,
                    "summary": r.summary,
                }
            )
    return out


def _road_judged(need: BOOL, posted: BOOL, statutory: BOOL, step: F64) -> dict[str, Any]:
    """How much of the distance where a road rule applies was judged: on posted limits
    from OpenStreetMap, on a state's statutory limit for an unposted road of that type
    (lower confidence), or not at all."""
    total = float(step[need].sum())
    on_posted = float(step[need & posted].sum())
    on_statute = float(step[need & statutory].sum())

    def share(x: float) -> float | None:
        return round(x / total, 3) if total > 0 else None

    return {
        "distance_mi": round(total, 2),
        "posted_limit_share": share(on_posted),
        "statutory_default_share": share(on_statute),
        "unjudged_share": share(total - on_posted - on_statute),
    }


def _conditions(found: Findings, active: BOOL) -> list[dict[str, Any]]:
    """Use limits of the rules this trip drove under that a log cannot check."""
    c = found.ctx
    out: list[dict[str, Any]] = []
    for i in sorted(set(c.rule_idx[active].tolist())):
        r = c.rules[i]
        if r is None or not r["use_conditions"].known:
            continue
        v = r["use_conditions"]
        out.append(
            {
                "state": r.jurisdiction,
                "class": r.vehicle_class,
                "condition": v.value,
                "source": v.source_label,
                "source_date": v.source_date,
            }
        )
    return out
