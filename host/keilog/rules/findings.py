"""What the check found in one trip: violation events, unverified stretches, crossings.

Per-fix flags become debounced events (``keilog.rules.events``); each event carries its
place, time, the rule's source with the source's own date, and how sure the location is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np

from keilog.rules.context import BOOL, F64, I64, FixContext
from keilog.rules.events import Run, runs


def stamp(t: float, utc: bool) -> str | None:
    """UTC seconds as ISO 8601 with a Z, to the millisecond (None: the log has no clock)."""
    if not utc:
        return None
    text = dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


class Findings:
    """The events of one trip, as JSON objects (docs/rules.md), in the order found."""

    def __init__(self, ctx: FixContext):
        self.ctx = ctx
        self.violations: list[dict[str, Any]] = []
        self.unverified: list[dict[str, Any]] = []
        self.crossings: list[dict[str, Any]] = []

    def event(self, run: Run, t: F64, fix: I64, rule: str, extra: dict[str, Any]) -> dict[str, Any]:
        """Common fields of an event over samples run.first..run.last of timeline t.

        ``extra`` adds fields; its ``_field`` names the rule-data field whose source is
        cited (default ``road_use``), its ``_worst`` the fix whose place is given.
        """
        c, d = self.ctx, self.ctx.d
        a, b = fix[run.first], fix[run.last]
        code = str(c.state[a] or c.state[b]) or None
        rule_obj = c.rule_at(a)
        span = slice(min(a, b), max(a, b) + 1)
        worst = extra.pop("_worst", a)
        ev = {
            "rule": rule,
            "state": code,
            "start": stamp(float(t[run.first]), d.utc_known),
            "end": stamp(float(t[run.last]), d.utc_known),
            "duration_s": round(run.duration_s, 1),
            **extra,
            "lat": None if np.isnan(d.lat[worst]) else round(float(d.lat[worst]), 6),
            "lon": None if np.isnan(d.lon[worst]) else round(float(d.lon[worst]), 6),
            "near_border": bool(c.where.near_border[span].any()),
            "location_confidence": "low" if c.where.fallback[span].any() else "high",
        }
        if not d.utc_known:
            ev["t_start_s"] = round(float(t[run.first]), 3)
        src_field = extra.get("_field")
        if rule_obj is not None:
            value = rule_obj[src_field] if src_field else rule_obj["road_use"]
            ev["source"] = value.source_label
            ev["source_date"] = value.source_date
            ev["source_urls"] = [s.url for s in value.sources if s.url]
            ev["rule_confidence"] = value.confidence
        else:
            ev["source"] = None
            ev["rule_confidence"] = None
        ev.pop("_field", None)
        return ev

    def emit(
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
        """Events where ``flag`` holds: violations, or unverified with a reason.

        ``t``/``fix`` give another timeline (the logged speed's) and each sample's fix.
        """
        d = self.ctx.d
        t = d.t if t is None else t
        fix = np.arange(len(d.t)) if fix is None else fix
        found = runs(t, flag, self.ctx.rule_idx[fix])
        for run in found:
            extra: dict[str, Any] = {"_field": field}
            if values is not None:
                extra.update(values(run))
            if unverified_reason is None:
                self.violations.append(self.event(run, t, fix, rule, extra))
            else:
                reason = (
                    unverified_reason(run) if callable(unverified_reason) else unverified_reason
                )
                extra["reason"] = reason
                self.unverified.append(self.event(run, t, fix, rule, extra))
        return found
