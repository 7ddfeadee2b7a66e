"""Time plots as SVG: speed against the applicable limits, and engine data.

Speed is drawn in mph on the left axis with km/h on the right. Violations of the check
are shaded over their time span and numbered like the table and the map; GPS dropouts
are shaded grey. Long series are decimated to each pixel column's minimum and maximum.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keilog.geo.timezones import local_time
from keilog.report.data import Series, TripReport, by_statute
from keilog.report.svg import (
    F64,
    decimate,
    el,
    nice_step,
    num,
    path_d,
    runs,
    time_step,
    title,
    txt,
)
from keilog.report.svgmap import _track_parts
from keilog.rules import StatutoryLimit
from keilog.rules.thresholds import DROPOUT_S, MOVING_MPH, SPEED_TOLERANCE_MPH
from keilog.units import KMH_PER_MPH, iso

WIDTH = 960
LEFT, RIGHT, TOP, BOTTOM = 58, 62, 24, 30
SPEED_H = 320
PANEL_H = 130


BOOL = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class TimeAxis:
    t0: float
    t1: float
    left: float = LEFT
    right: float = WIDTH - RIGHT

    def x(self, t: F64 | float) -> F64:
        span = max(self.t1 - self.t0, 1e-9)
        return np.asarray(
            self.left + (np.asarray(t, float) - self.t0) / span * (self.right - self.left)
        )


@dataclass(frozen=True)
class ValueAxis:
    v0: float
    v1: float
    top: float
    bottom: float

    def y(self, v: F64 | float) -> F64:
        span = max(self.v1 - self.v0, 1e-9)
        return np.asarray(
            self.bottom - (np.asarray(v, float) - self.v0) / span * (self.bottom - self.top)
        )


def _clock(t: float, step: float, zone: str | None) -> str:
    d = local_time(t, zone)
    return d.strftime("%H:%M:%S" if step < 60 else "%H:%M")


def _time_grid(
    ax: TimeAxis, top: float, bottom: float, labels: bool, zone: str | None = None
) -> str:
    step = time_step(ax.t1 - ax.t0)
    first = math.ceil(ax.t0 / step) * step
    out = []
    t = first
    while t <= ax.t1 + 1e-6:
        x = num(float(ax.x(t)))
        out.append(el("path", "", d=f"M{x},{num(top)}V{num(bottom)}", class_="grid"))
        if labels:
            out.append(txt(_clock(t, step, zone), x=x, y=num(bottom + 16), text_anchor="middle"))
        t += step
    if labels:
        out.append(
            txt(
                local_time(ax.t0, zone).tzname() or "UTC",
                x=num(ax.right + 8),
                y=num(bottom + 16),
                class_="axis-unit",
            )
        )
    return "".join(out)


def _value_grid(
    ax: ValueAxis,
    left: float,
    right: float,
    unit: str,
    other: tuple[str, Callable[[float], float], Callable[[float], float]] | None = None,
) -> str:
    """Horizontal grid with left labels; ``other`` = (unit, to_other, from_other) on the right."""
    out = []
    step = nice_step(ax.v1 - ax.v0, 5)
    v = math.ceil(ax.v0 / step) * step
    while v <= ax.v1 + 1e-9:
        y = num(float(ax.y(v)))
        out.append(el("path", "", d=f"M{num(left)},{y}H{num(right)}", class_="grid"))
        out.append(txt(f"{v:g}", x=num(left - 6), y=y, dy="0.32em", text_anchor="end"))
        v += step
    out.append(
        txt(unit, x=num(left - 6), y=num(ax.top - 10), text_anchor="end", class_="axis-unit")
    )
    if other is not None:
        name, to_other, from_other = other
        lo, hi = to_other(ax.v0), to_other(ax.v1)
        step = nice_step(hi - lo, 5)
        w = math.ceil(lo / step) * step
        while w <= hi + 1e-9:
            y = num(float(ax.y(from_other(w))))
            out.append(el("path", "", d=f"M{num(right)},{y}h4", class_="tick"))
            out.append(txt(f"{w:g}", x=num(right + 7), y=y, dy="0.32em"))
            w += step
        out.append(txt(name, x=num(right + 7), y=num(ax.top - 10), class_="axis-unit"))
    return "".join(out)


def _series_path(tx: TimeAxis, vy: ValueAxis, t: F64, v: F64, max_gap: float) -> str:
    parts = []
    total = max(tx.t1 - tx.t0, 1e-9)
    for a, b in runs(t, v, max_gap):
        buckets = max(4, int((t[b - 1] - t[a]) / total * (tx.right - tx.left)))
        ts, vs = decimate(t[a:b], v[a:b], buckets)
        parts.append(path_d(tx.x(ts), vy.y(vs)))
    return "".join(parts)


def _step_path(tx: TimeAxis, vy: ValueAxis, t: F64, v: F64, max_gap: float) -> str:
    """A step line: each value holds until the next sample (NaN and gaps break it)."""
    parts = []
    for a, b in runs(t, v, max_gap):
        seg_t, seg_v = t[a:b], v[a:b]
        change = np.flatnonzero(np.diff(seg_v) != 0) + 1
        starts = np.append(0, change)
        ends = np.append(change, len(seg_v))
        xs: list[float] = []
        ys: list[float] = []
        for s, e in zip(starts, ends, strict=True):
            t_end = seg_t[e] if e < len(seg_t) else seg_t[-1]
            y = float(vy.y(seg_v[s]))
            xs += [float(tx.x(seg_t[s])), float(tx.x(t_end))]
            ys += [y, y]
        parts.append(path_d(xs, ys))
    return "".join(parts)


def _bands(report: TripReport, tx: TimeAxis, top: float, bottom: float, numbers: bool) -> str:
    out = []
    f = report.fixes
    _, gaps = _track_parts(f)
    for a, b in gaps:
        x0, x1 = float(tx.x(f.t[a])), float(tx.x(f.t[b]))
        out.append(
            el(
                "rect",
                title(f"GPS dropout {iso(float(f.t[a]))} – {iso(float(f.t[b]))}"),
                x=num(x0),
                y=num(top),
                width=num(max(x1 - x0, 1.0)),
                height=num(bottom - top),
                class_="dropout-band",
            )
        )
    for v in report.check.violations if report.check else []:
        if v.start is None:
            continue
        end = v.end if v.end is not None else v.start
        x0, x1 = float(tx.x(v.start)), float(tx.x(end))
        label = f"Violation {v.number}: {v.rule} {iso(v.start)} – {iso(end)}"
        body = el(
            "rect",
            title(label),
            x=num(x0),
            y=num(top),
            width=num(max(x1 - x0, 2.0)),
            height=num(bottom - top),
        )
        if numbers:
            body += el(
                "text", str(v.number), x=num((x0 + x1) / 2), y=num(top + 14), text_anchor="middle"
            )
        out.append(
            el(
                "a",
                body,
                href=f"#violation-{report.trip.id}-{v.number}",
                class_="violation-band",
                data_violation=str(v.number),
            )
        )
    return "".join(out)


def _held(t_fix: F64, values: F64, t: F64) -> F64:
    """``values`` (one per GPS fix) at times ``t``: the latest fix's value at or before."""
    if len(t_fix) == 0:
        return np.full(len(t), np.nan)
    i = np.searchsorted(t_fix, t, side="right") - 1
    out = values[np.clip(i, 0, None)].astype(float)
    out[i < 0] = np.nan
    return out


def broken_limits(report: TripReport, t: F64, v: F64) -> tuple[BOOL, BOOL]:
    """Where a speed series (times ``t``, mph ``v``) breaks a limit of the class:
    above the vehicle's top-speed cap (beyond the check's tolerance), or on a road posted
    above the highest posted limit the class may drive on (whatever the speed); on an
    unposted road, where even the statute's lowest limit for it is above that (as the
    check judges it)."""
    f, lim = report.fixes, report.limits
    cap = _held(f.t, lim.vehicle_cap_mph, t)
    road = np.where(np.isfinite(lim.posted_mph), lim.posted_mph, lim.statutory_min_mph)
    posted = _held(f.t, road, t)
    class_max = _held(f.t, lim.class_max_posted_mph, t)
    with np.errstate(invalid="ignore"):
        over_cap = np.isfinite(cap) & np.isfinite(v) & (v > cap + SPEED_TOLERANCE_MPH)
        road_too_fast = np.isfinite(posted) & np.isfinite(class_max) & (posted > class_max)
    moving = np.isfinite(v) & (v >= MOVING_MPH)
    return over_cap & moving, road_too_fast & moving & ~over_cap


def speed_plot(report: TripReport, plot_id: str) -> str:
    """Speed (the car's own and GPS) against every limit that applies: the road's posted
    limit, the highest posted limit the class may use, and the vehicle's top-speed cap.
    Where the car breaks one, its line is drawn in that limit's colour."""
    f, lim = report.fixes, report.limits
    tx = TimeAxis(report.trip.start, max(report.trip.end, report.trip.start + 1))
    top, bottom = TOP + 6.0, SPEED_H - BOTTOM
    values = [
        report.gps_speed.v,
        lim.posted_mph,
        lim.statutory_mph,
        lim.vehicle_cap_mph,
        lim.class_max_posted_mph,
    ]
    if report.speed is not None:
        values.append(report.speed.v)
    finite = np.concatenate([x[np.isfinite(x)] for x in values] + [np.array([30.0])])
    vmax = math.ceil(float(finite.max()) * 1.08 / 10) * 10
    vy = ValueAxis(0.0, float(vmax), top, bottom)
    body = [
        _bands(report, tx, top, bottom, numbers=True),
        _time_grid(tx, top, bottom, labels=True, zone=report.zone),
        _value_grid(
            vy,
            tx.left,
            tx.right,
            "mph",
            ("km/h", lambda m: m * KMH_PER_MPH, lambda k: k / KMH_PER_MPH),
        ),
    ]
    body.append(_statutory(report, tx, vy))
    for values_mph, cls in (
        (lim.posted_mph, "posted"),
        (lim.class_max_posted_mph, "class-max"),
        (lim.vehicle_cap_mph, "cap"),
    ):
        if np.isfinite(values_mph).any():
            body.append(
                el("path", "", d=_step_path(tx, vy, f.t, values_mph, DROPOUT_S), class_=cls)
            )
    gps_v = np.where(f.valid, report.gps_speed.v, np.nan)
    lines = [(f.t, gps_v, DROPOUT_S, "gps-speed")]
    if report.speed is not None:
        lines.append((report.speed.t, report.speed.v, 2.0, "can-speed"))
    for t, v, gap, cls in lines:
        body.append(el("path", "", d=_series_path(tx, vy, t, v, gap), class_=cls))
    # The car's own speed where there is one, else GPS: coloured where a limit is broken.
    t, v, gap, _ = lines[-1]
    over_cap, road_too_fast = broken_limits(report, t, v)
    for mask, cls in ((over_cap, "breaks-cap"), (road_too_fast, "breaks-class-max")):
        if mask.any():
            shown = np.where(mask, v, np.nan)
            body.append(el("path", "", d=_series_path(tx, vy, t, shown, gap), class_=cls))
    body.append(el("path", "", d=f"M{num(tx.left)},{num(bottom)}H{num(tx.right)}", class_="axis"))
    body.append(el("path", "", d=f"M-10,{num(top)}V{num(bottom)}", class_="cursor-line"))
    return _svg(report, plot_id, "speed-plot", SPEED_H, tx, "Speed over time", "".join(body))


def statutory_tooltip(s: StatutoryLimit) -> str:
    """What hovering a statutory limit says: that it is one, its range and statute."""
    dated = ", ".join(f"{x.label} ({x.date_text})" for x in s.sources)
    return (
        f"statutory limit of an unposted road (no maxspeed in OpenStreetMap): "
        f"{by_statute(s.lowest_mph, s.mph)} ({s.where}); for road types "
        f"{', '.join(sorted(s.highways))}; {dated}; {s.confidence} confidence"
    )


def _statutory(report: TripReport, tx: TimeAxis, vy: ValueAxis) -> str:
    """The state's statutory limit where the road posts none: a dashed band from its
    lowest to its highest value (a line where the statute sets one), with a tooltip."""
    f, lim = report.fixes, report.limits
    out = []
    for a, b in runs(f.t, lim.statutory_mph, DROPOUT_S):
        k = lim.statute[a:b]
        cuts = [a, *(a + np.flatnonzero(np.diff(k) != 0) + 1).tolist(), b]
        for i, j in itertools.pairwise(cuts):
            s = lim.statutes[int(lim.statute[i])]
            # Each value holds to the next fix, as the posted limit's step line does.
            x0, x1 = float(tx.x(f.t[i])), float(tx.x(f.t[j] if j < b else f.t[b - 1]))
            y0, y1 = float(vy.y(s.mph)), float(vy.y(s.lowest_mph))
            shape: dict[str, str] = (
                {"d": f"M{num(x0)},{num(y0)}H{num(max(x1, x0 + 1.0))}"}
                if s.lowest_mph == s.mph
                else {
                    "x": num(x0),
                    "y": num(y0),
                    "width": num(max(x1 - x0, 1.0)),
                    "height": num(y1 - y0),
                }
            )
            out.append(
                el(
                    "path" if "d" in shape else "rect",
                    title(statutory_tooltip(s)),
                    **shape,
                    data_range_mph=f"{s.lowest_mph:g}-{s.mph:g}",
                )
            )
    return el("g", "".join(out), class_="statutory") if out else ""


def _svg(
    report: TripReport, plot_id: str, cls: str, height: int, tx: TimeAxis, label: str, body: str
) -> str:
    return el(
        "svg",
        body,
        id=plot_id,
        class_=f"plot {cls}",
        viewBox=f"0 0 {WIDTH} {height}",
        role="img",
        aria_label=label,
        data_t0=repr(tx.t0),
        data_t1=repr(tx.t1),
        data_left=repr(tx.left),
        data_right=repr(tx.right),
        data_trip=str(report.trip.id),
    )


def _fahrenheit(c: float) -> float:
    return c * 9 / 5 + 32


def engine_plot(report: TripReport, plot_id: str) -> str:
    """One panel per logged engine signal (RPM, throttle, coolant), sharing the time axis."""
    series = report.engine
    if not series:
        return ""
    tx = TimeAxis(report.trip.start, max(report.trip.end, report.trip.start + 1))
    height = int(len(series) * PANEL_H + BOTTOM)
    body = []
    for i, s in enumerate(series):
        top = i * PANEL_H + TOP + 4.0
        bottom = (i + 1) * PANEL_H - 8.0
        body.append(_bands(report, tx, top, bottom, numbers=False))
        body.append(_time_grid(tx, top, bottom, labels=i == len(series) - 1, zone=report.zone))
        v, unit, other = _engine_units(s)
        finite = v[np.isfinite(v)]
        lo = float(finite.min()) if len(finite) else 0.0
        hi = float(finite.max()) if len(finite) else 1.0
        lo = min(lo, 0.0) if s.key != "coolant" else math.floor(lo / 20) * 20
        hi = hi + max((hi - lo) * 0.08, 1.0)
        vy = ValueAxis(lo, hi, top, bottom)
        body.append(_value_grid(vy, tx.left, tx.right, unit, other))
        body.append(
            txt(
                f"{s.label} ({s.source})",
                x=num(tx.left + 4),
                y=num(top - 6),
                class_="panel-label",
            )
        )
        body.append(el("path", "", d=_series_path(tx, vy, s.t, v, 5.0), class_=f"engine {s.key}"))
    body.append(el("path", "", d=f"M-10,{TOP}V{num(height - BOTTOM)}", class_="cursor-line"))
    return _svg(report, plot_id, "engine-plot", height, tx, "Engine data over time", "".join(body))


def _engine_units(
    s: Series,
) -> tuple[F64, str, tuple[str, Callable[[float], float], Callable[[float], float]] | None]:
    unit = s.unit or ""
    if s.key == "coolant" and unit.lower() in ("degc", "°c", "c"):
        return (
            s.v * 9 / 5 + 32,
            "°F",
            ("°C", lambda f: (f - 32) * 5 / 9, _fahrenheit),
        )
    return s.v, {"%": "%", "rpm": "rpm"}.get(unit.lower(), unit), None
