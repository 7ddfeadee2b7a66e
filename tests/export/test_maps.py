"""Map exports (GPX, GeoJSON, KML), each read back and checked against the database."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

import gpxpy
import numpy as np
import pytest
from keilog import store
from keilog.export.maps import GX_NS, KML_NS, TPX_NS, export_map
from keilog.report import ReportError, list_trips
from keilog.store.fixes import read_fixes


@pytest.fixture(scope="module")
def valid_fixes(florida):
    db = store.open_db(florida.db)
    f = read_fixes(db, list_trips(db)[0])
    ok = f.valid
    return f.t[ok], f.lat[ok], f.lon[ok], f.speed_mps[ok]


def test_gpx_reads_back_with_gpxpy_with_times_speeds_and_violations(florida, valid_fixes, tmp_path):
    t, lat, lon, speed = valid_fixes
    result = export_map(florida.db, tmp_path / "trip.gpx", check=florida.check)
    gpx = gpxpy.parse((tmp_path / "trip.gpx").read_text(encoding="utf-8"))
    assert gpx.version == "1.1" and gpx.creator.startswith("keilog")
    [trk] = gpx.tracks
    assert trk.name == "Trip 1"
    # The scenario's 8 s GPS dropout (florida_rural.json) splits the track in two.
    assert len(trk.segments) == 2
    points = [p for s in trk.segments for p in s.points]
    assert len(points) == result.points == len(t)
    assert [p.latitude for p in points] == pytest.approx(lat, abs=1e-7)
    assert [p.longitude for p in points] == pytest.approx(lon, abs=1e-7)
    assert [p.time.timestamp() for p in points] == pytest.approx(t, abs=1e-3)
    assert all(p.time.tzinfo is not None for p in points)
    speeds = [
        float(p.extensions[0].find(f"{{{TPX_NS}}}speed").text) for p in points
    ]  # Garmin TrackPointExtension v2, m/s
    assert speeds == pytest.approx(speed, abs=0.005)
    violations = florida.check["trips"][0]["violations"]
    assert [w.name for w in gpx.waypoints] == [
        f"Trip 1 violation {i}: {v['rule']}" for i, v in enumerate(violations, start=1)
    ]
    assert gpx.waypoints[0].latitude == violations[0]["lat"]


def test_geojson_has_the_track_as_a_linestring_and_violations_as_points(
    florida, valid_fixes, tmp_path
):
    t, lat, lon, _ = valid_fixes
    export_map(florida.db, tmp_path / "trip.geojson", check=florida.check)
    doc = json.loads((tmp_path / "trip.geojson").read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    tracks = [f for f in doc["features"] if f["geometry"]["type"] == "LineString"]
    points = [f for f in doc["features"] if f["geometry"]["type"] == "Point"]
    [track] = tracks
    coords = np.array(track["geometry"]["coordinates"])
    assert coords.shape == (len(t), 3)  # lon, lat, altitude (RFC 7946 section 3.1.1)
    assert coords[:, 0] == pytest.approx(lon, abs=1e-7)
    assert coords[:, 1] == pytest.approx(lat, abs=1e-7)
    times = track["properties"]["coordTimes"]
    assert len(times) == len(t)
    assert dt.datetime.fromisoformat(times[0]).timestamp() == pytest.approx(t[0], abs=1e-3)
    assert track["properties"]["trip"] == 1
    violations = florida.check["trips"][0]["violations"]
    assert len(points) == len(violations)
    for f, v in zip(points, violations, strict=True):
        assert f["geometry"]["coordinates"] == [v["lon"], v["lat"]]
        props = f["properties"]
        assert (props["rule"], props["state"], props["source"]) == (v["rule"], "FL", v["source"])
        assert props["source_date"] == "2009"  # Fla. Stat. 316.2122: the 2009 text (FL.json)


def test_kml_has_a_timed_track_and_violation_placemarks(florida, valid_fixes, tmp_path):
    t, lat, lon, _ = valid_fixes
    export_map(florida.db, tmp_path / "trip.kml", check=florida.check)
    root = ET.parse(tmp_path / "trip.kml").getroot()
    k, gx = f"{{{KML_NS}}}", f"{{{GX_NS}}}"
    assert root.tag == k + "kml"
    [folder] = root.iter(k + "Folder")
    [line] = folder.iter(k + "LineString")
    coords = np.array(
        [[float(x) for x in c.split(",")] for c in line.find(k + "coordinates").text.split()]
    )
    assert coords[:, 0] == pytest.approx(lon, abs=1e-7)
    assert coords[:, 1] == pytest.approx(lat, abs=1e-7)
    [track] = folder.iter(gx + "Track")
    whens = [w.text for w in track.findall(k + "when")]
    assert len(whens) == len(track.findall(gx + "coord")) == len(t)
    placemarks = [p for p in folder.findall(k + "Placemark") if p.find(k + "Point") is not None]
    assert len(placemarks) == len(florida.check["trips"][0]["violations"])
    data = {d.get("name"): d.find(k + "value").text for d in placemarks[0].iter(k + "Data")}
    assert data["rule"] == "road_max_posted" and data["source"] == "Fla. Stat. 316.2122"


def test_export_without_a_check_writes_only_the_track(florida, tmp_path):
    result = export_map(florida.db, tmp_path / "trip.gpx")
    assert result.violations == 0
    assert gpxpy.parse((tmp_path / "trip.gpx").read_text()).waypoints == []


def test_an_unknown_map_format_is_an_error_naming_the_formats(florida, tmp_path):
    with pytest.raises(ReportError, match=r"unknown map format '\.shp'; use one of \.gpx"):
        export_map(florida.db, tmp_path / "trip.shp")
