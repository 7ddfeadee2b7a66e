"""The report page: one self-contained HTML file (inline CSS, SVG and script)."""

from __future__ import annotations

import datetime as dt
import json
import math
from html import escape
from typing import Any

import numpy as np
import numpy.typing as npt

from keilog import __version__
from keilog.geo.timezones import local_time
from keilog.report.assets import CSS, JS
from keilog.report.data import TripReport, by_statute, statutory_range
from keilog.report.plots import broken_limits, engine_plot, speed_plot, statutory_tooltip
from keilog.report.svgmap import draw_map as _draw_map
from keilog.report.svgmap import frame_for, legend
from keilog.rules import Violation
from keilog.units import KMH_PER_MPH, iso

DISCLAIMER = (
    "<b>Not legal advice.</b> Rule data is a best-effort summary of statutes and agency "
    "pages on the dates shown; a clean trip means only that keilog found nothing against "
    "the rules it knows. Check the cited sources or ask the state's DMV."
)
CURSOR_POINTS = 2000  # samples per trip embedded for the mouse cursor readout

RULES = {
    "road_max_posted": "On a road posted above the highest limit the class may use",
    "vehicle_max_speed": "Faster than the class's top-speed cap",
    "banned_road": "On a road class the class may not use",
    "class_not_allowed": "The class may not use public roads here",
    "daylight_only": "Driving outside daylight where the class is daylight-only",
    "distance_limit": "Beyond the distance the class may travel",
    "location": "Outside any US state (no rules known)",
    "road_rules": "Road rules could not be checked",
}


def mph(value: float | None, digits: int = 0) -> str:
    """``45 mph (72 km/h)``."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f} mph ({value * KMH_PER_MPH:.{digits}f} km/h)"


def distance(metres: float) -> str:
    return f"{metres / 1609.344:.2f} mi ({metres / 1000:.2f} km)"


def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h} h {m:02d} min"
    if m:
        return f"{m} min {sec:02d} s"
    return f"{seconds:.1f} s" if seconds < 10 else f"{sec} s"


def clock(t: float | None, zone: str | None = None) -> str:
    """A time as the owner reads it: in the trip's own zone (``09:59:59 EDT``), else UTC."""
    text = iso(t)
    if not text or t is None:
        return "–"
    if zone is None:
        return text.replace("T", " ").replace("Z", " UTC")
    return local_time(t, zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def when(t: float | None, zone: str | None) -> str:
    """HTML for a time: local, with UTC on hover and in a second line."""
    if t is None or zone is None:
        return escape(clock(t))
    return (
        f'<time datetime="{escape(iso(t) or "")}" title="{escape(clock(t))}">'
        f"{escape(clock(t, zone))}</time><br><small>{escape(clock(t))}</small>"
    )


def _card(label: str, value: str, title: str | None = None) -> str:
    hover = f' title="{escape(title)}"' if title else ""
    return f'<div class="card"><b>{escape(label)}</b><span{hover}>{escape(value)}</span></div>'


def _verdict(report: TripReport) -> tuple[str, str]:
    if report.check is None:
        return "unchecked", "not checked"
    verdict = report.check.verdict or ("violations" if report.check.violations else "clean")
    return verdict, verdict


def _summary(report: TripReport) -> str:
    s = report.summary
    cards = [
        _card("Start", clock(s.start, report.zone), clock(s.start)),
        _card("End", clock(s.end, report.zone), clock(s.end)),
        _card("Duration", duration(s.duration_s)),
        _card("Moving time", duration(s.moving_s)),
        _card("Distance", distance(s.distance_m)),
        _card("Max speed", mph(s.max_mph, 1)),
        _card("Average speed", mph(s.average_mph, 1)),
        _card("Moving average", mph(s.moving_average_mph, 1)),
        _card("States", ", ".join(s.states) or "none (no GPS position)"),
    ]
    judged = report.check.road_judged if report.check else None
    if judged is not None:
        cards.append(_card("Roads judged", judged.short, f"{judged.text}. {ROADS_JUDGED}."))
    if s.max_gps_mph is not None and report.speed is not None:
        cards.append(_card("Max GPS speed", mph(s.max_gps_mph, 1)))
    for label, seconds in s.time_above:
        cards.append(_card(f"Time above {label}", duration(seconds)))
    roads = s.roads_above_class_max
    if roads is not None and roads.statutory_s is None:
        cards.append(
            _card("Time on roads posted above the class's maximum", duration(roads.posted_s))
        )
    elif roads is not None and roads.statutory_s is not None:
        cards.append(
            _card(
                "Time on roads whose limit is above the class's maximum",
                f"{duration(roads.total_s)}: {duration(roads.posted_s)} posted, "
                f"{duration(roads.statutory_s)} statutory",
                f"{duration(roads.posted_s)} on roads posted above the highest limit the "
                f"class may use; {duration(roads.statutory_s)} on unposted roads whose "
                "statutory limit, even at its lowest, is above it (the state's statute for "
                "the road type: lower confidence)",
            )
        )
    return '<div class="cards">' + "".join(cards) + "</div>"


ROADS_JUDGED = (
    "Share of the distance where a road rule applies that the check judged on the "
    "posted limit from OpenStreetMap, on the state's statutory limit for an unposted "
    "road of that type (lower confidence), or could not judge"
)
"""The summary card's explanation of a trip's road_judged shares, on hover."""


def _what(v: Violation) -> str:
    road = v.extra.get("road") if isinstance(v.extra.get("road"), dict) else None
    name = (road.get("name") or road.get("ref")) if road else None
    statute = v.extra.get("road_limit_source")
    if v.rule == "road_max_posted" and isinstance(statute, dict):
        low, high = _statute_range(v)
        text = (
            f"no posted limit; statutory default: {by_statute(low, high)} "
            f"({statute.get('cite')}, {statute.get('where')}; "
            f"{v.extra.get('confidence', 'low')} confidence); class maximum {mph(v.limit_mph)}"
        )
    elif v.rule == "road_max_posted":
        text = f"posted {mph(v.observed_mph)}; class maximum {mph(v.limit_mph)}"
    elif v.rule == "vehicle_max_speed":
        text = f"{mph(v.observed_mph, 1)} against a cap of {mph(v.limit_mph)}"
    elif v.rule == "banned_road":
        classes = ", ".join(v.extra.get("road_class") or []) or "banned class"
        text = f"on a {classes} road"
    else:
        parts = [RULES.get(v.rule, v.rule)]
        if v.limit_mph is not None:
            parts.append(f"limit {mph(v.limit_mph)}")
        if v.observed_mph is not None:
            parts.append(f"observed {mph(v.observed_mph, 1)}")
        text = "; ".join(parts)
    if name:
        text = f"{name}: {text}"
    return text


def _statute_range(v: Violation) -> tuple[float, float]:
    """A statutory-default violation's range of the road's limit in mph: the statute's
    ``range_mph`` as the check gave it, else its ``observed_mph`` alone."""
    statute = v.extra.get("road_limit_source")
    given = statute.get("range_mph") if isinstance(statute, dict) else None
    if (
        isinstance(given, list)
        and len(given) == 2
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in given)
    ):
        return float(given[0]), float(given[1])
    seen = v.observed_mph if isinstance(v.observed_mph, int | float) else math.nan
    return float(seen), float(seen)


def _by_how_much(v: Violation) -> str:
    excess = v.extra.get("worst_excess_mph")
    if not isinstance(excess, int | float):
        excess = v.excess_mph
    if excess is None:
        return "–"
    speed = str(v.extra.get("speed_source") or "")
    by = f"<br><small>speed from {escape(SPEED_SOURCES.get(speed, speed))}</small>"
    # On an unposted road whose statute sets a range, the excess is over its bottom.
    low, high = _statute_range(v) if "road_limit_source" in v.extra else (0.0, 0.0)
    least = "at least " if low != high else ""
    return f"{least}+{excess:.1f} mph (+{excess * KMH_PER_MPH:.1f} km/h)" + (by if speed else "")


SPEED_SOURCES = {"can": "CAN", "vss": "the speed sensor (VSS)", "gps": "GPS"}
"""How a violation's ``speed_source`` (rules check) reads in the report."""


def _source(v: Violation) -> str:
    label = escape(v.source or "no source given")
    # Only http(s) becomes a link: a check.json is input, and "javascript:..." or
    # "data:..." in a report would run when clicked.
    if v.source_url and v.source_url.strip().lower().startswith(("http://", "https://")):
        label = f'<a href="{escape(v.source_url.strip(), quote=True)}">{label}</a>'
    date = f"<br><small>source dated {escape(v.source_date)}</small>" if v.source_date else ""
    return label + date


def _place(v: Violation) -> str:
    bits = [escape(v.state or "–")]
    if v.lat is not None and v.lon is not None:
        bits.append(f"<small>{v.lat:.5f}, {v.lon:.5f}</small>")
    if v.extra.get("near_border"):
        bits.append("<small>near a state line</small>")
    return "<br>".join(bits)


def _violations(report: TripReport) -> str:
    if report.check is None:
        return '<p class="note">No rules check was given for this trip.</p>'
    if not report.check.violations:
        return '<p class="note">The check found no violation on this trip.</p>'
    head = (
        f"<tr><th>#</th><th>Time ({_zone_label(report)})</th><th>Duration</th><th>Place</th>"
        "<th>Rule</th>"
        "<th>What</th><th>By how much</th><th>Source</th></tr>"
    )
    rows = []
    for v in report.check.violations:
        at = when(v.start, report.zone)
        if v.end is not None:
            at += f" –<br>{when(v.end, report.zone)}"
        rows.append(
            f'<tr id="violation-{report.trip.id}-{v.number}" data-violation="{v.number}">'
            f"<td>{v.number}</td><td class='num'>{at}</td>"
            f"<td class='num'>{duration(v.duration_s)}</td><td>{_place(v)}</td>"
            f"<td><b>{escape(v.rule)}</b><br><small>{escape(RULES.get(v.rule, ''))}</small></td>"
            f"<td>{escape(_what(v))}</td><td class='num'>{_by_how_much(v)}</td>"
            f"<td>{_source(v)}</td></tr>"
        )
    return f'<table class="violations">{head}{"".join(rows)}</table>'


def _unverified(report: TripReport) -> str:
    items = report.check.unverified if report.check else []
    if not items:
        return ""
    rows = []
    for u in items:
        span = f"{when(_t(u.get('start')), report.zone)} – {when(_t(u.get('end')), report.zone)}"
        rows.append(
            f"<tr><td>{escape(str(u.get('rule', '')))}</td><td>{escape(str(u.get('state') or '–'))}"
            f"</td><td class='num'>{span}</td><td class='num'>{duration(u.get('duration_s'))}</td>"
            f"<td>{escape(str(u.get('reason') or ''))}</td></tr>"
        )
    return (
        f"<details><summary>{len(items)} stretch(es) the check could not verify</summary>"
        f"<table><tr><th>Rule</th><th>State</th><th>Time ({_zone_label(report)})</th>"
        "<th>Duration</th>"
        f"<th>Why</th></tr>{''.join(rows)}</table></details>"
    )


def _zone_label(report: TripReport) -> str:
    return "local, UTC below" if report.zone else "UTC"


def _zone_note(report: TripReport) -> str:
    if report.zone is None:
        return ""
    return f" <small>(local time, {escape(report.zone)}; UTC on hover)</small>"


def _t(text: Any) -> float | None:
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


def _speedometer(report: TripReport) -> str:
    sp = report.speedometer
    if sp.samples == 0 or sp.reads_high_percent is None:
        return f'<p class="note">Speedometer error: {escape(sp.note or "not available")}.</p>'
    word = "high" if sp.reads_high_percent >= 0 else "low"
    diff = sp.median_difference_mph or 0.0
    text = (
        f"The car's own speed ({escape(report.speed.source if report.speed else '')}) reads "
        f"<b>{abs(sp.reads_high_percent):.1f} % {word}</b> against GPS speed (median over "
        f"{sp.samples} fixes above 12 mph; median difference {diff:+.1f} mph, "
        f"{diff * KMH_PER_MPH:+.1f} km/h)."
    )
    if sp.note:
        text += f" <b>{escape(sp.note)}</b>."
    return f"<p>{text}</p>"


def _cursor_data(report: TripReport) -> str:
    """Decimated samples for the script's cursor: time, map position, speeds."""
    f = report.fixes
    step = max(1, math.ceil(len(f) / CURSOR_POINTS))
    k = np.arange(0, len(f), step)
    frame = frame_for(f.lat[f.valid], f.lon[f.valid])
    x = y = np.full(len(k), np.nan)
    if frame is not None:
        x, y = frame.px(f.lat[k], f.lon[k])
    ok = f.valid[k]

    def col(a: Any, digits: int) -> list[float | None]:
        return [
            round(float(v), digits) if good and math.isfinite(v) else None
            for v, good in zip(a, ok, strict=True)
        ]

    data: dict[str, Any] = {
        "t": [round(float(t), 2) for t in f.t[k]],
        "x": col(x, 1),
        "y": col(y, 1),
        "gps": col(report.gps_speed.v[k], 1),
        "posted": col(report.limits.posted_mph[k], 0),
        # An unposted road's statutory limit: an index into "statutes" (null: none).
        "statutory": [
            int(i) if good and i >= 0 else None
            for i, good in zip(report.limits.statute[k], ok, strict=True)
        ],
        "statutes": [statutory_range(s.lowest_mph, s.mph) for s in report.limits.statutes],
        "st": [],
        "sv": [],
        "zone": None,
        "offset": 0,
    }
    if report.zone is not None:
        start = local_time(report.trip.start, report.zone)
        offset = start.utcoffset()
        data["zone"] = start.tzname()
        data["offset"] = int(offset.total_seconds()) if offset is not None else 0
    if report.speed is not None:
        s = report.speed
        step = max(1, math.ceil(len(s.t) / CURSOR_POINTS))
        data["st"] = [round(float(t), 2) for t in s.t[::step]]
        data["sv"] = [round(float(v), 1) for v in s.v[::step]]
    text = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return f'<script type="application/json" id="trip-data-{report.trip.id}">{text}</script>'


def _speed_legend(report: TripReport) -> str:
    lim = report.limits
    items = []
    if report.speed is not None:
        items.append(f'<span><i class="k-can"></i>car speed ({escape(report.speed.source)})</span>')
    items.append('<span><i class="k-gps"></i>GPS speed</span>')
    if np.isfinite(lim.posted_mph).any():
        items.append('<span><i class="k-posted"></i>posted limit of the road</span>')
    for s in lim.statutes:
        items.append(
            f'<span title="{escape(statutory_tooltip(s))}"><i class="k-statutory"></i>'
            "statutory limit of unposted "
            f"roads: {escape(by_statute(s.lowest_mph, s.mph))}, {escape(s.source_label)}, "
            f"{escape(s.confidence)} confidence</span>"
        )
    if np.isfinite(lim.class_max_posted_mph).any():
        top = _range_mph(lim.class_max_posted_mph)
        items.append(
            f'<span><i class="k-class-max"></i>highest posted limit the class may use ({top})'
            "</span>"
        )
    if np.isfinite(lim.vehicle_cap_mph).any():
        cap = _range_mph(lim.vehicle_cap_mph)
        items.append(f'<span><i class="k-cap"></i>class top-speed cap ({cap})</span>')
    line = report.speed if report.speed is not None else report.gps_speed
    over_cap, road_too_fast = broken_limits(report, line.t, line.v)
    if road_too_fast.any():
        statutory = (
            " (or, unposted, whose statutory limit is at least that)" if lim.statutes else ""
        )
        items.append(
            '<span><i class="k-breaks-class-max"></i>driving on a road posted above the '
            f"class's highest limit{statutory}</span>"
        )
    if over_cap.any():
        items.append('<span><i class="k-breaks-cap"></i>faster than the top-speed cap</span>')
    if report.check and report.check.violations:
        items.append('<span><i class="k-band"></i>violation</span>')
    items.append('<span><i class="k-dropband"></i>GPS dropout</span>')
    return '<div class="legend">' + "".join(items) + "</div>"


def _range_mph(values: npt.NDArray[np.float64]) -> str:
    finite = np.unique(values[np.isfinite(values)])
    return " / ".join(f"{v:g} mph" for v in finite)


def render_trip(report: TripReport) -> str:
    trip = report.trip
    tid = trip.id
    cls, text = _verdict(report)
    engine = engine_plot(report, f"engine-{tid}")
    sources = [f"GPS: {len(report.fixes)} fixes from gps_fixes"]
    if report.speed is not None:
        sources.append(f"car speed: {report.speed.source} ({len(report.speed.t)} samples)")
    sources += [f"{s.label.lower()}: {s.source} ({len(s.t)} samples)" for s in report.engine]
    notes = "".join(f"<li>{escape(n)}</li>" for n in [*report.notes, *sources])
    parts = [
        f'<section class="trip" id="trip-{tid}" data-trip="{tid}">',
        f'<h2>Trip {tid}<span class="verdict {cls}">{escape(text)}</span></h2>',
        f'<p class="note">Device {escape(trip.device_id)}, boot {trip.boot}: '
        f"{escape(clock(trip.start, report.zone))} – {escape(clock(trip.end, report.zone))}"
        f"{_zone_note(report)}</p>",
        _summary(report),
        "<h3>Map</h3>",
        _draw_map(report, f"map-{tid}"),
        legend(report),
        "<h3>Speed</h3>",
        _speed_legend(report),
        f'<div class="scroll-x">{speed_plot(report, f"speed-{tid}")}</div>',
        f'<div class="readout" id="readout-{tid}"></div>',
        "<h3>Violations</h3>",
        f'<div class="scroll-x">{_violations(report)}</div>',
        f'<div class="scroll-x">{_unverified(report)}</div>',
    ]
    if engine:
        parts += ["<h3>Engine</h3>", f'<div class="scroll-x">{engine}</div>']
    parts += [
        "<h3>Speedometer</h3>",
        _speedometer(report),
        "<h3>Notes and data sources</h3>",
        f'<ul class="notes">{notes}</ul>',
        _cursor_data(report),
        "</section>",
    ]
    return "\n".join(parts)


def render_page(
    reports: list[TripReport],
    db_name: str,
    tiles: str | None = None,
    attribution: str | None = None,
    max_zoom: int = 19,
) -> str:
    """The whole page for some trips of one database."""
    vehicle = reports[0].vehicle if reports else {}
    who = ", ".join(
        str(x)
        for x in (vehicle.get("name"), vehicle.get("registration_state"), vehicle.get("class"))
        if x
    )
    config = {"tiles": tiles, "attribution": attribution or "", "max_zoom": max_zoom}
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    title = f"keilog trip report: {db_name}"
    subtitle = (f"{who} · " if who else "") + (
        f"{len(reports)} trip(s) · made {generated} by keilog {__version__}"
    )
    config_json = json.dumps(config).replace("</", "<\\/")
    body = "\n".join(render_trip(r) for r in reports)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="keilog {escape(__version__)}">
<title>{escape(title)}</title>
<style>{CSS}</style></head>
<body>
<header class="page"><h1>{escape(title)}</h1>
<p>{escape(subtitle)}</p></header>
<main>
{body}
</main>
<footer><p>{DISCLAIMER}</p></footer>
<script type="application/json" id="keilog-config">{config_json}</script>
<script>{JS}</script>
</body></html>
"""
