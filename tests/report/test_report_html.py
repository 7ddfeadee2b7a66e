"""keilog report: what the HTML page shows, read back from the file."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from keilog.cli import cli
from keilog.errors import StoreError
from keilog.report import write_report
from keilog.report.data import Series, speedometer
from keilog.report.svg import decimate
from keilog.report.svgmap import limit_colour
from keilog.store.fixes import Fixes

from tests.report.htmlquery import Page
from tests.report.synth import Drive, make_db

# Florida's rule for mini trucks (host/keilog/rules/data/FL.json): streets posted 35 mph
# or less, Fla. Stat. 316.2122; the source's own date is its 2009 text (the check gives it
# as the violation's source_date), not the day the data was compiled.
FL_SOURCE, FL_SOURCE_DATE = "Fla. Stat. 316.2122", "2009"


@pytest.fixture(scope="module")
def demo_page(florida, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = write_report(florida.db, out, check=florida.check, roads=florida.roads)
    return result, Page(out.read_text(encoding="utf-8")), out.read_text(encoding="utf-8")


def test_the_demo_report_shows_every_violation_of_the_check_with_its_source(florida, demo_page):
    result, page, _ = demo_page
    expected = florida.check["trips"][0]["violations"]
    assert result.trips == [1]
    assert result.violations == len(expected) >= 1
    rows = [e for e in page.find("tr") if e.attrs.get("id", "").startswith("violation-1-")]
    assert len(rows) == len(expected)
    for row, v in zip(rows, expected, strict=True):
        text = row.all_text()
        assert v["rule"] in text
        assert FL_SOURCE in text and f"source dated {FL_SOURCE_DATE}" in text
        assert "County Road 234" in text  # the road the check matched
        assert "+10.0 mph (+16.1 km/h)" in text  # posted 45 against the class's 35
    assert page.one("span", "verdict").all_text() == "violations"


def test_the_map_draws_the_track_the_roads_by_limit_and_the_violations(florida, demo_page):
    _, page, _ = demo_page
    svg = page.one("svg", "map")
    assert float(svg.attrs["data-scale"]) > 0
    strokes = {e.attrs["stroke"] for e in page.find("path", "road")}
    # florida_rural.osm: Cholokka Blvd posted 25 mph, County Road 234 posted 45 mph.
    assert {limit_colour(25), limit_colour(45)} <= strokes
    assert len(page.find("path", "track")) == 2  # split by the 8 s GPS dropout
    assert len(page.find("path", "dropout")) == 1
    n = len(florida.check["trips"][0]["violations"])
    assert len(page.find("a", "violation-marker")) == n
    assert len(page.find("circle", "start")) == len(page.find("circle", "end")) == 1
    labels = " ".join(e.all_text() for e in page.find("text", "road-label"))
    assert "County Road 234 · 45 mph" in labels


def test_the_speed_plot_shades_violations_and_draws_the_limits(florida, demo_page):
    _, page, _ = demo_page
    plot = page.one("svg", "speed-plot")
    assert plot.attrs["data-trip"] == "1"
    n = len(florida.check["trips"][0]["violations"])
    # Each violation is shaded on the speed plot and on each of the 3 engine panels.
    assert len(page.find("a", "violation-band")) == n * 4
    for cls in ("can-speed", "gps-speed", "posted"):
        assert page.find("path", cls), cls
    assert page.one("path", "posted").attrs["d"].startswith("M")
    legend = " ".join(e.all_text() for e in page.find("div", "legend"))
    assert "car speed (msg_VEHICLE_SPEED.VEHICLE_SPEED)" in legend
    assert "posted limit of the road" in legend


def test_engine_data_is_plotted_when_logged(demo_page):
    _, page, _ = demo_page
    labels = [e.all_text() for e in page.find("text", "panel-label")]
    assert labels == [
        "Engine speed (msg_ENGINE_STATUS.ENGINE_RPM)",
        "Throttle (msg_ENGINE_STATUS.THROTTLE_POS)",
        "Coolant (msg_ENGINE_TEMPS.COOLANT_TEMP)",
    ]


def test_the_summary_matches_the_simulated_drive(florida, demo_page):
    _, page, _ = demo_page
    cards = {
        e.text[0].strip(): e.all_text()[len(e.text[0]) :]
        for e in page.find("div", "card")
        if e.text
    }
    miles = float(re.match(r"([\d.]+) mi \(([\d.]+) km\)", cards["Distance"]).group(1))
    truth = florida.sim.summary.distance_m / 1609.344
    assert miles == pytest.approx(truth, rel=0.03)  # noisy GPS fixes vs the model's path
    assert cards["States"] == "FL"
    assert re.fullmatch(r"[\d.]+ mph \([\d.]+ km/h\)", cards["Max speed"])
    assert "Time on roads posted above the class's maximum" in cards


def test_the_speedometer_error_is_the_scenarios(demo_page):
    _, _, html = demo_page
    # florida_rural.json: vehicle.speedo_error_pct = 2.0 (the meter reads 2 % high).
    m = re.search(r"reads <b>([\d.]+) % high</b>", html)
    assert m is not None
    assert float(m.group(1)) == pytest.approx(2.0, abs=0.3)


def test_the_report_is_one_self_contained_file(demo_page):
    result, page, html = demo_page
    assert not page.find("link") and not page.find("img") and not page.find("iframe")
    assert all("src" not in e.attrs for e in page.elements)
    assert "url(" not in html and "@import" not in html
    external = [e.attrs["href"] for e in page.find("a") if e.attrs["href"].startswith("http")]
    assert external  # the sources' own pages, as plain links
    assert all(h.startswith("https://") or h.startswith("http://") for h in external)
    data = json.loads(page.one("script", id="trip-data-1").all_text())
    assert len(data["t"]) == len(data["x"]) == len(data["gps"])
    assert json.loads(page.one("script", id="keilog-config").all_text())["tiles"] is None
    assert 20_000 < result.size_bytes < 400_000


def test_without_a_check_the_report_says_how_to_get_one(tmp_path):
    db = make_db(tmp_path / "k.db", Drive())
    out = tmp_path / "r.html"
    result = write_report(db, out)
    page = Page(out.read_text(encoding="utf-8"))
    assert result.violations == 0
    assert page.one("span", "verdict").all_text() == "not checked"
    notes = " ".join(e.all_text() for e in page.find("ul", "notes"))
    assert "keilog check --json" in notes and "No road file" in notes


def test_trips_are_chosen_by_number_latest_or_all(tmp_path):
    db = make_db(tmp_path / "k.db", Drive(boot=1), Drive(boot=2, start=Drive().start + 3600))
    out = tmp_path / "r.html"
    assert write_report(db, out).trips == [2]
    assert write_report(db, out, trip=1).trips == [1]
    assert write_report(db, out, all_trips=True).trips == [1, 2]
    sections = Page(out.read_text(encoding="utf-8")).find("section", "trip")
    assert [s.attrs["data-trip"] for s in sections] == ["1", "2"]
    with pytest.raises(StoreError, match=r"no trip 3; the database has trips 1\.\.2"):
        write_report(db, out, trip=3)


def test_a_trip_without_gps_has_plots_but_no_map(tmp_path):
    db = make_db(tmp_path / "k.db", Drive(gps=False))
    out = tmp_path / "r.html"
    write_report(db, out)
    page = Page(out.read_text(encoding="utf-8"))
    assert not page.find("svg", "map")
    assert any("no map" in e.all_text() for e in page.find("p", "note"))
    assert page.find("path", "can-speed")


def _fixes(t, gps_mps):
    n = len(t)
    return Fixes(
        np.asarray(t, float), np.full(n, 29.65), np.full(n, -82.32), np.full(n, 30.0),
        np.asarray(gps_mps, float), np.zeros(n), np.ones(n),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("factor", "percent", "note"),
    [
        (1.05, 5.0, "off by more than 5 %"),  # worn-out or larger tyres
        (1.0, 0.0, None),
        (1.609344, 60.93, "km/h value is being read as mph"),  # 1 mi = 1.609344 km
    ],
)
def test_speedometer_error_is_the_median_ratio_of_car_to_gps_speed(factor, percent, note):
    t = np.arange(100.0)
    gps = np.full(100, 20.0)  # m/s = 44.7 mph, above the 12 mph floor
    car = Series("speed", "Vehicle speed", "mph", "x.y", t + 0.2, gps / 0.44704 * factor)
    sp = speedometer(car, _fixes(t, gps))
    assert sp.samples == 100
    assert sp.reads_high_percent == pytest.approx(percent, abs=0.01)
    assert sp.note == note or (note is not None and note in (sp.note or ""))


def test_speedometer_ignores_slow_moments_and_missing_speed():
    t = np.arange(10.0)
    slow = _fixes(t, np.full(10, 2.0))  # 4.5 mph: GPS speed too noisy to compare
    car = Series("speed", "Vehicle speed", "mph", "x.y", t, np.full(10, 5.0))
    assert speedometer(car, slow).samples == 0
    assert speedometer(None, slow).note == "needs both the car's own speed signal and GPS speed"


@pytest.mark.parametrize("n", [10, 1000, 100_000])
def test_decimation_keeps_peaks_and_bounds_the_size(n):
    rng = np.random.default_rng(n)
    t = np.sort(rng.uniform(0, 3600, n))
    v = rng.normal(40, 10, n)
    ts, vs = decimate(t, v, 500)
    assert len(ts) <= max(n, 1000)
    assert vs.max() == v.max() and vs.min() == v.min()
    assert np.all(np.diff(ts) >= 0)


def test_report_command_writes_the_file_and_prints_json(florida, tmp_path):
    check = tmp_path / "check.json"
    check.write_text(json.dumps(florida.check))
    out = tmp_path / "r.html"
    args = ["report", "--db", str(florida.db), "--check", str(check), "--roads"]
    r = CliRunner().invoke(cli, [*args, str(florida.roads), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["trips"] == [1] and info["size_bytes"] == out.stat().st_size
    assert "wrote" in r.stderr


def test_report_command_names_a_missing_database(tmp_path):
    r = CliRunner().invoke(cli, ["report", "--db", str(tmp_path / "x.db"), "--out", "r.html"])
    assert r.exit_code == 1
    assert (
        r.stderr == f"Error: {tmp_path / 'x.db'}: no such database; create it with keilog import\n"
    )


def test_roads_are_coloured_by_limit_and_their_names_escaped(tmp_path):
    from tests.roads.osm_testdata import GAINESVILLE, write_osm

    # The synthetic drive goes 600 m due north from Gainesville at 72 km/h (44.7 mph).
    osm = write_osm(
        tmp_path / "roads.osm",
        GAINESVILLE,
        [
            {
                "points": [(0, -50), (0, 700)],
                "tags": {"highway": "residential", "name": "Main & <Second>", "maxspeed": "30 mph"},
            },
            {
                "points": [(-300, 300), (300, 300)],
                "tags": {"highway": "residential", "name": "Unposted Rd"},
            },
        ],
    )
    db = make_db(tmp_path / "k.db", Drive(can_kmh=72.0))
    out = tmp_path / "r.html"
    write_report(db, out, roads=osm)
    html = out.read_text(encoding="utf-8")
    page = Page(html)
    roads = {e.attrs["class"]: e.attrs["stroke"] for e in page.find("path", "road")}
    assert roads == {"road": limit_colour(30), "road unknown": limit_colour(None)}
    assert "Main &amp; &lt;Second&gt; · 30 mph" in html
    labels = {e.all_text() for e in page.find("text", "road-label")}
    assert "Main & <Second> · 30 mph" in labels
    cards = {e.text[0].strip(): e.all_text()[len(e.text[0]) :] for e in page.find("div", "card")}
    # 601 CAN samples 0.1 s apart, all above 30 + 1 mph: 60 s above the posted limit.
    assert cards["Time above the road's posted limit"] == "1 min 00 s"


def test_report_command_can_run_the_check_itself(florida, tmp_path):
    out = tmp_path / "r.html"
    args = ["report", "--db", str(florida.db), "--state", "FL", "--class", "mini_truck"]
    r = CliRunner().invoke(cli, [*args, "--roads", str(florida.roads), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["violations"] == len(florida.check["trips"][0]["violations"])


def test_report_command_refuses_a_check_and_a_vehicle_together(florida, tmp_path):
    args = ["report", "--db", str(florida.db), "--check", "c.json", "--class", "lsv"]
    r = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "r.html")])
    assert r.exit_code == 2
    assert "give either --check or a vehicle to check, not both" in r.stderr


def test_the_speed_chart_draws_the_class_limit_the_demo_breaks(florida, demo_page):
    """The demo's Florida mini truck drives County Road 234, posted 45 mph, where the
    class may use only roads posted 35 mph or less (Fla. Stat. 316.2122): the chart draws
    that 35 mph line and colours the truck's speed where it is on the faster road."""
    _, page, _ = demo_page
    plot = page.one("svg", "speed-plot")
    paths = {cls for e in page.find("path") for cls in e.classes}
    assert {"posted", "class-max", "breaks-class-max"} <= paths
    assert "breaks-cap" not in paths  # mini trucks have no top-speed cap in Florida's rule
    legend = " ".join(e.all_text() for e in page.find("div", "legend"))
    assert "highest posted limit the class may use (35 mph)" in legend
    assert "driving on a road posted above the class's highest limit" in legend
    assert plot.attrs["data-trip"] == "1"


def test_report_without_check_shows_the_check_stored_by_keilog_check(florida, tmp_path):
    db = florida.copy_db(tmp_path / "k.db")
    args = ["--state", "FL", "--class", "mini_truck", "--roads", str(florida.roads), "-q"]
    checked = CliRunner().invoke(cli, ["check", "--db", str(db), *args])
    assert checked.exit_code == 0, checked.output
    out = tmp_path / "r.html"
    result = CliRunner().invoke(cli, ["report", "--db", str(db), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    expected = len(florida.check["trips"][0]["violations"])
    assert json.loads(result.stdout)["violations"] == expected >= 1
    page = Page(out.read_text(encoding="utf-8"))
    # The stored check names its road file, so posted limits are drawn as well.
    assert any("posted" in e.classes for e in page.find("path"))


def test_check_no_store_leaves_the_database_unchanged(florida, tmp_path):
    db = florida.copy_db(tmp_path / "k.db")
    before = db.read_bytes()
    result = CliRunner().invoke(
        cli, ["check", "--db", str(db), "--state", "FL", "--class", "mini_truck", "--no-store"]
    )
    assert result.exit_code == 0, result.output
    assert db.read_bytes() == before


def test_times_are_local_to_the_trip_with_utc_beside_them(demo_page):
    """The demo drives near Gainesville, Florida (America/New_York): in June that is EDT,
    UTC-4, so a 14:00 UTC start reads 10:00 EDT, with the UTC time on hover."""
    _, page, html = demo_page
    start = next(e for e in page.find("div", "card") if "Start" in e.all_text())
    local = re.search(r"2026-06-01 (\d\d):(\d\d:\d\d) EDT", start.all_text())
    assert local is not None
    utc = f"2026-06-01 {int(local.group(1)) + 4:02d}:{local.group(2)} UTC"
    assert f'title="{utc}"' in html
    assert "local time, America/New_York" in html
    rows = [e for e in page.find("tr") if e.attrs.get("id", "").startswith("violation-1-")]
    assert "EDT" in rows[0].all_text() and "UTC" in rows[0].all_text()
    data = json.loads(re.search(r'id="trip-data-1">(.*?)</script>', html).group(1))
    assert (data["zone"], data["offset"]) == ("EDT", -4 * 3600)


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://example.org/statute", True),
        ("http://example.org/statute", True),
        ("javascript:alert(document.cookie)", False),
        (" JavaScript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//evil.example/x", False),
    ],
)
def test_only_http_urls_become_links(url, linked):
    from keilog.report.html import _source
    from keilog.rules import Violation

    v = Violation(1, "r", "FL", None, None, None, 55, 70, None, None, "FL statute", None, url)
    assert ("<a href=" in _source(v)) is linked
    assert "javascript" not in _source(v).lower() and "data:" not in _source(v)


def test_the_demo_map_has_a_base_map_of_roads_water_and_places(demo_page):
    """florida_rural.osm around the route: Micanopy, its streets, a farm track off CR 234,
    Tuscawilla Lake and a stream, all drawn from the road file with nothing fetched."""
    _, page, html = demo_page
    svg = re.search(r'<svg id="map-1".*?</svg>', html, re.S)
    assert svg is not None and "http" not in svg.group(0)
    assert len(page.find("path", "water")) == 1
    assert len(page.find("path", "ww-stream")) == 1
    classes = {c for e in page.find("path", "base-road") for c in e.classes}
    assert {"hw-track", "hw-residential", "hw-tertiary", "hw-secondary"} <= classes
    (town,) = page.find("text", "place")
    assert town.all_text() == "Micanopy" and "place-town" in town.classes
    # under the track: the base map comes first in the drawing order
    assert svg.group(0).index('class="basemap"') < svg.group(0).index('class="track-layer"')
    legend = " ".join(e.all_text() for e in page.find("div", "legend"))
    assert "water" in legend


def test_a_road_file_without_a_base_map_says_to_rebuild_it(tmp_path):
    from keilog.roads import build_roads

    from tests.roads.osm_testdata import GAINESVILLE, write_osm

    osm = write_osm(
        tmp_path / "roads.osm",
        GAINESVILLE,
        [{"points": [(0, -50), (0, 700)], "tags": {"highway": "residential", "name": "Main"}}],
    )
    built = build_roads(osm, tmp_path / "new.roads.npz").out
    with np.load(built, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if not k.startswith("base_")}
    meta = json.loads(str(arrays.pop("meta")))
    del meta["basemap"]  # as keilog wrote road files before the base map
    old = tmp_path / "old.roads.npz"
    np.savez_compressed(old, meta=np.array(json.dumps(meta)), **arrays)
    db = make_db(tmp_path / "k.db", Drive())
    out = tmp_path / "r.html"
    result = write_report(db, out, roads=old)
    assert any("rebuild it with keilog roads build" in n for n in result.notes)
    page = Page(out.read_text(encoding="utf-8"))
    # the car roads are still drawn by class on the map; there is no water or place
    assert {c for e in page.find("path", "base-road") for c in e.classes} >= {"hw-residential"}
    assert not page.find("path", "water") and not page.find("text", "place")
