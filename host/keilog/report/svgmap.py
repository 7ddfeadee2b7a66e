"""The trip map as SVG: the base map, the roads around the track by posted limit, the
track and the violations.

The projection is Web Mercator (EPSG:3857), the one slippy-map tiles use, so that the
report's optional tile background lines up with the offline drawing. The track is
simplified to half a pixel with shapely, which keeps a 10-hour trip's map small.

The offline base map (``keilog.roads.basemap``, from the road file) is clipped to the
map's own box and drawn under everything: water areas, waterways, every road by its class
(one ``path`` per class, CSS class ``hw-<class>``, so a town's streets cost a few
kilobytes) and, above the track, place names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely

from keilog.report.data import NearbyRoad, TripReport
from keilog.report.svg import F64, el, num, path_d, title, txt
from keilog.roads.basemap import PLACE_KINDS, BaseMapLayers, Bounds
from keilog.rules import Violation
from keilog.rules.thresholds import DROPOUT_S  # a GPS dropout, drawn dashed
from keilog.store.fixes import Fixes
from keilog.units import KMH_PER_MPH, iso

WIDTH, HEIGHT, PAD = 960, 560, 36
MIN_SPAN_M = 400.0  # a map never zooms closer than this across
EARTH_CIRCUMFERENCE_M = 40_075_016.686  # WGS84 equator, the Web Mercator world width

# Posted-limit colours (ColorBrewer RdYlGn, reversed: slow roads green, fast red).
LIMIT_BANDS: tuple[tuple[float, str, str], ...] = (
    (25, "#1a9850", "up to 25 mph"),
    (35, "#91cf60", "30–35 mph"),
    (45, "#fdae61", "40–45 mph"),
    (55, "#f46d43", "50–55 mph"),
    (math.inf, "#8c1a1a", "60 mph and over"),
)
UNKNOWN_COLOUR = "#8c8c8c"
ROAD_WIDTH = {  # wide enough to show as a coloured band on both sides of the track
    "motorway": 13,
    "trunk": 12,
    "primary": 11,
    "secondary": 10,
    "tertiary": 9,
}
MINOR_ROAD_WIDTH = 7
MAX_LABELS = 16

# The base map: road classes drawn minor first, with their width in pixels (colours are
# in the page's CSS, class "base-road hw-<class>"); waterway widths; place label order.
BASE_ROAD_WIDTH = {
    "track": 1.2,
    "pedestrian": 1.5,
    "busway": 1.5,
    "service": 1.2,
    "road": 1.5,
    "living_street": 2.0,
    "residential": 2.2,
    "unclassified": 2.2,
    "tertiary": 3.0,
    "secondary": 3.5,
    "primary": 4.0,
    "trunk": 4.5,
    "motorway": 5.0,
}
WATERWAY_WIDTH = {"ditch": 0.8, "stream": 1.2, "canal": 2.0, "river": 3.0, "coastline": 1.5}
MAX_PLACES = 12
PLACE_FONT_PX = {"city": 16, "town": 14, "village": 12.5, "hamlet": 11}


def limit_colour(mph: float | None) -> str:
    if mph is None or not math.isfinite(mph):
        return UNKNOWN_COLOUR
    for top, colour, _ in LIMIT_BANDS:
        if mph <= top:
            return colour
    return LIMIT_BANDS[-1][1]


def mercator(lat: F64, lon: F64) -> tuple[F64, F64]:
    """Web Mercator in world units: x, y in [0, 1], y down (as tiles count)."""
    y = np.radians(np.clip(np.asarray(lat, float), -85.0511, 85.0511))
    return (
        (np.asarray(lon, float) + 180.0) / 360.0,
        (1.0 - np.log(np.tan(y) + 1.0 / np.cos(y)) / math.pi) / 2.0,
    )


@dataclass(frozen=True)
class Frame:
    """World units -> pixels: px = (x - x0) * scale."""

    x0: float
    y0: float
    scale: float
    width: int = WIDTH
    height: int = HEIGHT

    def px(self, lat: F64, lon: F64) -> tuple[F64, F64]:
        x, y = mercator(lat, lon)
        return (x - self.x0) * self.scale, (y - self.y0) * self.scale

    def metres_per_px(self, lat: float) -> float:
        return EARTH_CIRCUMFERENCE_M * math.cos(math.radians(lat)) / self.scale


def frame_for(lat: F64, lon: F64, width: int = WIDTH, height: int = HEIGHT) -> Frame | None:
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return None
    x, y = mercator(lat[ok], lon[ok])
    mid_lat = float(np.mean(lat[ok]))
    min_span = MIN_SPAN_M / (EARTH_CIRCUMFERENCE_M * math.cos(math.radians(mid_lat)))
    sx = max(float(x.max() - x.min()), min_span)
    sy = max(float(y.max() - y.min()), min_span)
    scale = min((width - 2 * PAD) / sx, (height - 2 * PAD) / sy)
    cx, cy = float(x.max() + x.min()) / 2, float(y.max() + y.min()) / 2
    return Frame(cx - width / 2 / scale, cy - height / 2 / scale, scale, width, height)


def frame_bounds(frame: Frame, margin_px: float = 8.0) -> Bounds:
    """The lon/lat box a frame shows, a few pixels wider (strokes reach over the edge)."""
    x = np.array([-margin_px, frame.width + margin_px]) / frame.scale + frame.x0
    y = np.array([frame.height + margin_px, -margin_px]) / frame.scale + frame.y0
    lon = x * 360.0 - 180.0
    lat = np.degrees(np.arctan(np.sinh(math.pi * (1.0 - 2.0 * y))))
    return Bounds(float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1]))


def _geometry_d(frame: Frame, geometry: object, closed: bool = False) -> str:
    """Path data of a lon/lat shapely geometry (lines or polygons), half-pixel simplified."""
    out = []
    for part in shapely.get_parts(geometry):
        rings = [part]
        if closed:
            holes = range(shapely.get_num_interior_rings(part))
            rings = [shapely.get_exterior_ring(part)]
            rings += [shapely.get_interior_ring(part, k) for k in holes]
        for ring in rings:
            c = shapely.get_coordinates(ring)
            if len(c) < 2:
                continue
            px, py = frame.px(c[:, 1], c[:, 0])
            line = shapely.simplify(shapely.linestrings(np.stack([px, py], 1)), 0.5)
            q = shapely.get_coordinates(line)
            if len(q) >= 2 and np.ptp(q, axis=0).max() >= 1.0:  # under a pixel: not drawn
                out.append(path_d(q[:, 0], q[:, 1]) + ("Z" if closed else ""))
    return "".join(out)


def _basemap(frame: Frame, layers: BaseMapLayers) -> str:
    """Water, waterways and every road by class, under the limit layer and the track."""
    out = []
    water = "".join(_geometry_d(frame, a.geometry, closed=True) for a in layers.areas)
    if water:
        out.append(el("path", d=water, class_="water", fill_rule="evenodd"))
    by_kind: dict[str, list[str]] = {}
    for line in layers.lines:
        by_kind.setdefault(line.kind, []).append(_geometry_d(frame, line.geometry))
    for kind, width in WATERWAY_WIDTH.items():
        d = "".join(by_kind.get(kind, []))
        if d:
            out.append(el("path", d=d, class_=f"waterway ww-{kind}", stroke_width=width))
    by_class: dict[str, list[str]] = {}
    for road in layers.roads:
        by_class.setdefault(road.kind, []).append(_geometry_d(frame, road.geometry))
    for cls, width in BASE_ROAD_WIDTH.items():
        d = "".join(by_class.get(cls, []))
        if d:
            out.append(el("path", d=d, class_=f"base-road hw-{cls}", stroke_width=width))
    return el("g", "".join(out), class_="basemap")


def _places(frame: Frame, layers: BaseMapLayers) -> str:
    """Place names, the biggest places first, none over another (label boxes estimated)."""
    order = sorted(layers.places, key=lambda p: (PLACE_KINDS.index(p.kind), p.name))
    taken: list[tuple[float, float, float, float]] = []
    out = []
    for p in order:
        x, y = frame.px(np.array([p.lat]), np.array([p.lon]))
        cx, cy = float(x[0]), float(y[0])
        size = PLACE_FONT_PX[p.kind]
        half = 0.3 * size * len(p.name)  # a sans-serif letter is about 0.6 em wide
        box = (cx - half, cy - size, cx + half, cy + 2)
        inside = box[0] >= 0 and box[2] <= frame.width and box[1] >= 0 and box[3] <= frame.height
        clear = all(box[2] < t[0] or box[0] > t[2] or box[3] < t[1] or box[1] > t[3] for t in taken)
        if not (inside and clear):
            continue
        taken.append(box)
        out.append(
            txt(
                p.name,
                x=num(cx),
                y=num(cy),
                text_anchor="middle",
                class_=f"place place-{p.kind}",
                data_place=p.kind,
            )
        )
        if len(out) >= MAX_PLACES:
            break
    return el("g", "".join(out), class_="places")


def _line(frame: Frame, lat: F64, lon: F64, tolerance_px: float = 0.5) -> str:
    px, py = frame.px(lat, lon)
    if len(px) > 2:
        simple = shapely.simplify(shapely.linestrings(np.stack([px, py], 1)), tolerance_px)
        c = shapely.get_coordinates(simple)
        px, py = c[:, 0], c[:, 1]
    return path_d(px, py)


def _track_parts(fixes: Fixes) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Runs of valid fixes, and the dropouts between them (index pairs of their ends)."""
    idx = np.flatnonzero(fixes.valid)
    if not len(idx):
        return [], []
    cut = np.flatnonzero(np.diff(fixes.t[idx]) > DROPOUT_S) + 1
    parts = [(int(p[0]), int(p[-1])) for p in np.split(idx, cut)]
    gaps = [(parts[i][1], parts[i + 1][0]) for i in range(len(parts) - 1)]
    return parts, gaps


def violation_position(report: TripReport, v: Violation) -> tuple[float, float] | None:
    """Where to mark a violation: its own position, else the fix nearest its start."""
    if v.lat is not None and v.lon is not None:
        return v.lat, v.lon
    f = report.fixes
    ok = np.flatnonzero(f.valid)
    if v.start is None or not len(ok):
        return None
    k = ok[int(np.argmin(np.abs(f.t[ok] - v.start)))]
    return float(f.lat[k]), float(f.lon[k])


def draw_map(report: TripReport, map_id: str) -> str:
    """The SVG map of one trip (a short note when the trip has no GPS position)."""
    f = report.fixes
    violations = report.check.violations if report.check else []
    marks = [(v, p) for v in violations if (p := violation_position(report, v)) is not None]
    lat = np.concatenate([f.lat[f.valid], [p[0] for _, p in marks]])
    lon = np.concatenate([f.lon[f.valid], [p[1] for _, p in marks]])
    frame = frame_for(lat, lon)
    if frame is None:
        return el(
            "p", "No GPS position was logged on this trip, so there is no map.", class_="note"
        )
    body = [el("rect", width=frame.width, height=frame.height, class_="map-bg")]
    layers = report.basemap.within(frame_bounds(frame)) if report.basemap else None
    if layers:
        body.append(_basemap(frame, layers))
    body.append(el("g", "", class_="tiles"))
    body.append(_roads(frame, report.roads))
    body.append(_track(frame, report, violations))
    body.append(_markers(frame, report, marks))
    if layers:
        body.append(_places(frame, layers))
    body.append(_scale_bar(frame, float(np.nanmean(lat))))
    body.append(txt("N ↑", x=frame.width - 14, y=22, class_="north", text_anchor="end"))
    body.append(el("circle", "", r=6, cx=-20, cy=-20, class_="cursor", id=f"{map_id}-cursor"))
    body.append(txt("", x=8, y=frame.height - 8, class_="attribution"))
    return el(
        "svg",
        "".join(body),
        id=map_id,
        class_="map",
        viewBox=f"0 0 {frame.width} {frame.height}",
        role="img",
        aria_label=f"Map of trip {report.trip.id}",
        data_x0=repr(frame.x0),
        data_y0=repr(frame.y0),
        data_scale=repr(frame.scale),
    )


def _roads(frame: Frame, roads: list[NearbyRoad]) -> str:
    if not roads:
        return ""
    order = sorted(
        roads, key=lambda r: ROAD_WIDTH.get(r.highway.removesuffix("_link"), MINOR_ROAD_WIDTH)
    )
    out = []
    for r in order:
        width = ROAD_WIDTH.get(r.highway.removesuffix("_link"), MINOR_ROAD_WIDTH)
        limit = "no posted limit in OpenStreetMap" if r.limit_mph is None else _mph(r.limit_mph)
        label = f"{r.name or r.highway} ({r.highway}): {limit}"
        out.append(
            el(
                "path",
                title(label),
                d=_line(frame, r.lat, r.lon),
                stroke=limit_colour(r.limit_mph),
                stroke_width=width,
                class_="road" + (" unknown" if r.limit_mph is None else ""),
            )
        )
    return el("g", "".join(out), class_="roads") + _road_labels(frame, order)


def _road_labels(frame: Frame, roads: list[NearbyRoad]) -> str:
    """Name and posted limit of the longest named roads, along each road's middle."""
    seen: dict[str, tuple[float, str]] = {}
    for r in roads:
        if not r.name:
            continue
        px, py = frame.px(r.lat, r.lon)
        if len(px) < 2:
            continue
        line = shapely.linestrings(np.stack([px, py], 1))
        inner = shapely.clip_by_rect(line, PAD, PAD, frame.width - PAD, frame.height - PAD)
        parts = shapely.get_parts(inner)
        if not len(parts):
            continue
        c = shapely.get_coordinates(parts[int(np.argmax(shapely.length(parts)))])
        if len(c) < 2:
            continue
        x, y = c[:, 0], c[:, 1]
        seg = np.hypot(np.diff(x), np.diff(y))
        if seg.sum() < 90:
            continue
        k = int(np.argmax(seg))
        cx, cy = (x[k] + x[k + 1]) / 2, (y[k] + y[k + 1]) / 2
        angle = math.degrees(math.atan2(y[k + 1] - y[k], x[k + 1] - x[k]))
        if angle > 90:
            angle -= 180
        elif angle < -90:
            angle += 180
        limit = "" if r.limit_mph is None else f" · {r.limit_mph:g} mph"
        label = txt(
            f"{r.name}{limit}",
            transform=f"translate({num(cx)},{num(cy)}) rotate({angle:.0f}) translate(0,-9)",
            text_anchor="middle",
            class_="road-label",
        )
        if r.name not in seen or seen[r.name][0] < seg.sum():
            seen[r.name] = (float(seg.sum()), label)
    best = sorted(seen.values(), key=lambda item: -item[0])[:MAX_LABELS]
    return el("g", "".join(label for _, label in best), class_="road-labels")


def _mph(mph: float) -> str:
    return f"{mph:g} mph ({mph * KMH_PER_MPH:.0f} km/h)"


def _track(frame: Frame, report: TripReport, violations: list[Violation]) -> str:
    f = report.fixes
    parts, gaps = _track_parts(f)
    out = []
    for a, b in gaps:
        dur = f.t[b] - f.t[a]
        d = path_d(*frame.px(f.lat[[a, b]], f.lon[[a, b]]))
        out.append(el("path", title(f"GPS dropout, {dur:.0f} s"), d=d, class_="dropout"))
    for a, b in parts:
        m = np.arange(a, b + 1)
        m = m[f.valid[m]]
        d = _line(frame, f.lat[m], f.lon[m])
        out.append(el("path", "", d=d, class_="track"))
    for v in violations:
        if v.start is None or v.end is None:
            continue
        m = np.flatnonzero(f.valid & (f.t >= v.start) & (f.t <= v.end))
        if len(m) >= 2:
            out.append(
                el(
                    "path",
                    title(f"Violation {v.number}: {v.rule}"),
                    d=_line(frame, f.lat[m], f.lon[m]),
                    class_="track-violation",
                )
            )
    ok = np.flatnonzero(f.valid)
    if len(ok):
        for k, cls, label in ((ok[0], "start", "Start"), (ok[-1], "end", "End")):
            x, y = frame.px(f.lat[[k]], f.lon[[k]])
            out.append(
                el(
                    "circle",
                    title(f"{label}: {iso(float(f.t[k]))}"),
                    cx=num(float(x[0])),
                    cy=num(float(y[0])),
                    r=6,
                    class_=cls,
                )
            )
    return el("g", "".join(out), class_="track-layer")


def _markers(
    frame: Frame, report: TripReport, marks: list[tuple[Violation, tuple[float, float]]]
) -> str:
    out = []
    for v, (lat, lon) in marks:
        x, y = frame.px(np.array([lat]), np.array([lon]))
        cx, cy = num(float(x[0])), num(float(y[0]))
        text = f"Violation {v.number}: {v.rule}" + (f" in {v.state}" if v.state else "")
        if v.start is not None:
            text += f" at {iso(v.start)}"
        out.append(
            el(
                "a",
                el("circle", title(text), cx=cx, cy=cy, r=10)
                + txt(str(v.number), x=cx, y=cy, dy="0.35em", text_anchor="middle"),
                href=f"#violation-{report.trip.id}-{v.number}",
                class_="violation-marker",
                data_violation=str(v.number),
            )
        )
    return el("g", "".join(out), class_="markers")


def _scale_bar(frame: Frame, lat: float) -> str:
    m_per_px = frame.metres_per_px(lat)
    target_m = 140 * m_per_px
    miles = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200]
    mi = max((x for x in miles if x * 1609.344 <= target_m), default=miles[0])
    length = mi * 1609.344 / m_per_px
    km = mi * KMH_PER_MPH
    x0, y0 = frame.width - 16.0 - length, frame.height - 12.0
    bar = el(
        "path",
        "",
        d=f"M{num(x0)},{num(y0 - 5)}V{num(y0)}H{num(x0 + length)}V{num(y0 - 5)}",
        class_="scale",
    )
    label = txt(f"{mi:g} mi ({km:.2g} km)", x=num(x0), y=num(y0 - 8), class_="scale-label")
    return el("g", bar + label)


def legend(report: TripReport) -> str:
    """An HTML legend for the map: limit colours (when roads are drawn) and markers."""
    items = []
    if report.basemap is not None and report.basemap.has_layers:
        items.append('<span><i class="k-water"></i>water</span>')
    if report.roads:
        for _, colour, text in LIMIT_BANDS:
            items.append(f'<span><i style="background:{colour}"></i>{text}</span>')
        items.append(f'<span><i style="background:{UNKNOWN_COLOUR}"></i>no posted limit</span>')
    items.append('<span><i class="k-track"></i>track</span>')
    items.append('<span><i class="k-dropout"></i>GPS dropout</span>')
    if report.check and report.check.violations:
        items.append('<span><i class="k-violation"></i>violation</span>')
    items.append('<span><i class="k-start"></i>start</span><span><i class="k-end"></i>end</span>')
    return '<div class="legend">' + "".join(items) + "</div>"
