"""Trips as map files: GPX 1.1, GeoJSON (RFC 7946) and KML 2.2.

- GPX: one ``trk`` per trip, a new ``trkseg`` after each GPS dropout, ``trkpt`` with
  elevation, time, and speed (m/s) and course in Garmin's TrackPointExtension v2 (the
  extension Garmin, Strava and gpxpy read); violations as ``wpt`` waypoints.
- GeoJSON: per trip a LineString Feature (``coordTimes`` and ``speeds_mps`` properties,
  as togeojson writes them) and a Point Feature per violation with its properties.
- KML: a Folder per trip with the track as a LineString and a ``gx:Track`` (time and
  position of every fix, which Google Earth plays back), and violation Placemarks.

Only valid fixes (a position and a fix quality above 0) are written. Written with the
standard library's ElementTree and json: the formats are small, and a writer library
would add a dependency for a few dozen lines.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from keilog import __version__
from keilog.errors import ReportError
from keilog.rules import CheckInput, Violation, as_check
from keilog.rules.thresholds import DROPOUT_S  # a GPS dropout starts a new track segment
from keilog.store.fixes import Fixes, read_fixes
from keilog.store.trips import Trip, list_trips, select_trips
from keilog.units import iso

GPX_NS = "http://www.topografix.com/GPX/1/1"
TPX_NS = "http://www.garmin.com/xmlschemas/TrackPointExtension/v2"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
KML_NS = "http://www.opengis.net/kml/2.2"
GX_NS = "http://www.google.com/kml/ext/2.2"
FORMATS = (".gpx", ".geojson", ".kml")


@dataclass
class TripTrack:
    trip: Trip
    fixes: Fixes  # valid fixes only
    violations: list[Violation]


@dataclass
class MapExport:
    out: Path
    format: str
    trips: list[int]
    points: int
    violations: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "format": self.format,
            "trips": self.trips,
            "points": self.points,
            "violations": self.violations,
        }


def tracks(
    db_path: str | Path,
    trip: int | None = None,
    all_trips: bool = False,
    check: CheckInput = None,
) -> list[TripTrack]:
    """The chosen trips' valid fixes and (with a check result) violations."""
    from keilog import store

    db_path = Path(db_path)
    if not db_path.is_file():
        raise ReportError(f"{db_path}: no such database; create it with keilog import")
    db = store.open_db(db_path)
    result = as_check(check)
    out = []
    for t in select_trips(list_trips(db), trip, all_trips):
        f = read_fixes(db, t)
        ok = f.valid
        valid = Fixes(
            f.t[ok], f.lat[ok], f.lon[ok], f.alt_m[ok], f.speed_mps[ok], f.course_deg[ok],
            f.quality[ok],
        )  # fmt: skip
        ct = result.for_trip(t) if result is not None else None
        out.append(TripTrack(t, valid, ct.violations if ct else []))
    return out


def export_map(
    db_path: str | Path,
    out: str | Path,
    trip: int | None = None,
    all_trips: bool = False,
    check: CheckInput = None,
) -> MapExport:
    """Write the chosen trips to ``out`` in the format its extension names."""
    out = Path(out)
    writer = WRITERS.get(out.suffix.lower())
    if writer is None:
        raise ReportError(
            f"{out}: unknown map format {out.suffix!r}; use one of {', '.join(FORMATS)}"
        )
    chosen = tracks(db_path, trip, all_trips, check)
    try:
        writer(chosen, out)
    except OSError as exc:
        raise ReportError(f"{out}: cannot write: {exc.strerror}") from exc
    return MapExport(
        out,
        out.suffix.lower().lstrip("."),
        [t.trip.id for t in chosen],
        sum(len(t.fixes) for t in chosen),
        sum(len(t.violations) for t in chosen),
    )


def _finite(x: float) -> bool:
    return x is not None and math.isfinite(x)


def _time(t: float) -> str:
    """ISO 8601 UTC with milliseconds (GPX xsd:dateTime, KML, GeoJSON)."""
    text = iso(t) or ""
    ms = round((t - math.floor(t)) * 1000)
    return text[:-1] + f".{min(ms, 999):03d}Z" if text else text


def _describe(v: Violation) -> str:
    parts = [v.rule]
    if v.state:
        parts.append(f"in {v.state}")
    if v.limit_mph is not None and v.observed_mph is not None:
        parts.append(f"limit {v.limit_mph:g} mph, observed {v.observed_mph:g} mph")
    if v.duration_s is not None:
        parts.append(f"for {v.duration_s:g} s")
    if v.source:
        parts.append(f"source: {v.source}" + (f" (as of {v.source_date})" if v.source_date else ""))
    return "; ".join(parts)


def _segments(f: Fixes) -> list[np.ndarray]:
    if not len(f):
        return []
    return np.split(np.arange(len(f)), np.flatnonzero(np.diff(f.t) > DROPOUT_S) + 1)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    e = ET.SubElement(parent, tag, attrib)
    if text is not None:
        e.text = text
    return e


def write_gpx(chosen: list[TripTrack], out: Path) -> None:
    ET.register_namespace("", GPX_NS)
    ET.register_namespace("gpxtpx", TPX_NS)
    ET.register_namespace("xsi", XSI_NS)
    g, x = f"{{{GPX_NS}}}", f"{{{TPX_NS}}}"
    root = ET.Element(
        g + "gpx",
        {
            "version": "1.1",
            "creator": f"keilog {__version__}",
            f"{{{XSI_NS}}}schemaLocation": f"{GPX_NS} http://www.topografix.com/GPX/1/1/gpx.xsd "
            f"{TPX_NS} https://www8.garmin.com/xmlschemas/TrackPointExtensionv2.xsd",
        },
    )
    meta = _sub(root, g + "metadata")
    _sub(meta, g + "name", "keilog trips " + ", ".join(str(t.trip.id) for t in chosen))
    if chosen:
        _sub(meta, g + "time", _time(chosen[0].trip.start))
    for tt in chosen:  # waypoints come before tracks in GPX 1.1
        for v in tt.violations:
            if v.lat is None or v.lon is None:
                continue
            w = _sub(root, g + "wpt", lat=f"{v.lat:.7f}", lon=f"{v.lon:.7f}")
            if v.start is not None:
                _sub(w, g + "time", _time(v.start))
            _sub(w, g + "name", f"Trip {tt.trip.id} violation {v.number}: {v.rule}")
            _sub(w, g + "desc", _describe(v))
            _sub(w, g + "type", "violation")
    for tt in chosen:
        f = tt.fixes
        trk = _sub(root, g + "trk")
        _sub(trk, g + "name", f"Trip {tt.trip.id}")
        _sub(trk, g + "desc", f"device {tt.trip.device_id}, boot {tt.trip.boot}")
        for seg in _segments(f):
            s = _sub(trk, g + "trkseg")
            for i in seg:
                p = _sub(s, g + "trkpt", lat=f"{f.lat[i]:.7f}", lon=f"{f.lon[i]:.7f}")
                if _finite(f.alt_m[i]):
                    _sub(p, g + "ele", f"{f.alt_m[i]:.1f}")
                _sub(p, g + "time", _time(float(f.t[i])))
                if _finite(f.speed_mps[i]) or _finite(f.course_deg[i]):
                    ext = _sub(_sub(p, g + "extensions"), x + "TrackPointExtension")
                    if _finite(f.speed_mps[i]):
                        _sub(ext, x + "speed", f"{f.speed_mps[i]:.2f}")
                    if _finite(f.course_deg[i]):
                        _sub(ext, x + "course", f"{f.course_deg[i] % 360:.1f}")
    ET.indent(root, space=" ")
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)


def _position(f: Fixes, i: int) -> list[float]:
    pos = [round(float(f.lon[i]), 7), round(float(f.lat[i]), 7)]
    if _finite(f.alt_m[i]):
        pos.append(round(float(f.alt_m[i]), 1))
    return pos


def _violation_properties(tt: TripTrack, v: Violation) -> dict[str, Any]:
    return {
        "kind": "violation",
        "trip": tt.trip.id,
        "number": v.number,
        "rule": v.rule,
        "state": v.state,
        "start": iso(v.start),
        "end": iso(v.end),
        "duration_s": v.duration_s,
        "limit_mph": v.limit_mph,
        "observed_mph": v.observed_mph,
        "source": v.source,
        "source_date": v.source_date,
        "source_url": v.source_url,
        "description": _describe(v),
    }


def write_geojson(chosen: list[TripTrack], out: Path) -> None:
    features: list[dict[str, Any]] = []
    for tt in chosen:
        f = tt.fixes
        if len(f) >= 2:
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [_position(f, i) for i in range(len(f))],
                    },
                    "properties": {
                        "kind": "track",
                        **tt.trip.to_dict(),
                        "trip": tt.trip.id,
                        "coordTimes": [_time(float(t)) for t in f.t],
                        "speeds_mps": [
                            round(float(s), 2) if _finite(s) else None for s in f.speed_mps
                        ],
                    },
                }
            )
        for v in tt.violations:
            if v.lat is None or v.lon is None:
                continue
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [v.lon, v.lat]},
                    "properties": _violation_properties(tt, v),
                }
            )
    doc = {"type": "FeatureCollection", "features": features}
    out.write_text(json.dumps(doc, allow_nan=False) + "\n", encoding="utf-8")


def write_kml(chosen: list[TripTrack], out: Path) -> None:
    ET.register_namespace("", KML_NS)
    ET.register_namespace("gx", GX_NS)
    k, gx = f"{{{KML_NS}}}", f"{{{GX_NS}}}"
    root = ET.Element(k + "kml")
    doc = _sub(root, k + "Document")
    _sub(doc, k + "name", "keilog trips")
    style = _sub(doc, k + "Style", id="track")
    line = _sub(style, k + "LineStyle")
    _sub(line, k + "color", "ff8a3f17")  # aabbggrr: the report's track blue
    _sub(line, k + "width", "4")
    style = _sub(doc, k + "Style", id="violation")
    icon = _sub(style, k + "IconStyle")
    _sub(icon, k + "color", "ff601bd8")  # the report's violation magenta
    for tt in chosen:
        f = tt.fixes
        folder = _sub(doc, k + "Folder")
        _sub(folder, k + "name", f"Trip {tt.trip.id}")
        if len(f) >= 2:
            pm = _sub(folder, k + "Placemark")
            _sub(pm, k + "name", f"Trip {tt.trip.id} track")
            span = _sub(pm, k + "TimeSpan")
            _sub(span, k + "begin", _time(float(f.t[0])))
            _sub(span, k + "end", _time(float(f.t[-1])))
            _sub(pm, k + "styleUrl", "#track")
            multi = _sub(pm, k + "MultiGeometry")
            ls = _sub(multi, k + "LineString")
            _sub(ls, k + "tessellate", "1")
            _sub(
                ls,
                k + "coordinates",
                " ".join(",".join(str(c) for c in _position(f, i)) for i in range(len(f))),
            )
            track = _sub(multi, gx + "Track")
            for t in f.t:
                _sub(track, k + "when", _time(float(t)))
            for i in range(len(f)):
                _sub(track, gx + "coord", " ".join(str(c) for c in _position(f, i)))
        for v in tt.violations:
            if v.lat is None or v.lon is None:
                continue
            pm = _sub(folder, k + "Placemark")
            _sub(pm, k + "name", f"Violation {v.number}: {v.rule}")
            _sub(pm, k + "description", _describe(v))
            if v.start is not None:
                span = _sub(pm, k + "TimeSpan")
                _sub(span, k + "begin", _time(v.start))
                if v.end is not None:
                    _sub(span, k + "end", _time(v.end))
            _sub(pm, k + "styleUrl", "#violation")
            data = _sub(pm, k + "ExtendedData")
            for key, value in _violation_properties(tt, v).items():
                if value is not None:
                    _sub(_sub(data, k + "Data", name=key), k + "value", str(value))
            point = _sub(pm, k + "Point")
            _sub(point, k + "coordinates", f"{v.lon!r},{v.lat!r}")
    ET.indent(root, space=" ")
    ET.ElementTree(root).write(out, encoding="utf-8", xml_declaration=True)


WRITERS: dict[str, Callable[[list[TripTrack], Path], None]] = {
    ".gpx": write_gpx,
    ".geojson": write_geojson,
    ".kml": write_kml,
}
