"""The report on unposted roads: a limit taken from a state's statute is shown as such.

Where OpenStreetMap gives a road no maxspeed, the check judges it by the state's statutory
limit for its road type, at low confidence (docs/rules.md, "Statutory limits of unposted
roads"). The report shows that limit as the statute's range with its bottom, the one the
class is judged by, says it is a statutory default, and labels it "statutory" on the
speed chart; each trip's summary says how much of it was judged on what.

An LSV (roads posted 35 mph or less, Fla. Stat. 316.2122 / La. R.S. 32:300.1) drives 2.8
km at 20 mph along one untagged road near Opelousas, Louisiana. La. R.S. 32:61: 55 mph on
any highway unless posted lower, 65 on a multi-lane divided highway (which a secondary
road may be), so the statute's limit for it is 55-65 mph, and even its bottom is above 35.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from keilog.report import write_report
from keilog.roads import build_roads
from keilog.rules.check import check_database
from keilog.rules.vehicle import Vehicle

from tests.report.browser import needs_chromium, render
from tests.report.htmlquery import Page
from tests.roads.osm_testdata import write_osm
from tests.rules.check_testdata import drive, make_db, utc

OPELOUSAS_LA = (30.5335, -92.0815)
SILER_CITY_NC = (35.7235, -79.4622)
MIDDAY = "2026-06-01T17:00:00"  # 12:00 CDT


def _report(tmp: Path, origin, state, highway, vehicle_class="lsv", check_edit=None, ways=None):
    if ways is None:
        ways = [{"points": [(-1500, 0), (1500, 0)], "tags": {"highway": highway, "name": "Rd 1"}}]
    osm = write_osm(tmp / "roads.osm", origin, ways)
    roads = tmp / "roads.npz"
    build_roads(osm, roads)
    db = make_db(tmp / "k.db", drive(origin, [((-1400, 3), (1400, 3), 20)], utc(MIDDAY)))
    check = check_database(db, Vehicle("t", state, vehicle_class), roads_path=roads)
    if check_edit is not None:
        check_edit(check)
    out = tmp / "r.html"
    write_report(db, out, check=check, roads=roads)
    return check["trips"][0], out, Page(out.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def louisiana(tmp_path_factory):
    return _report(tmp_path_factory.mktemp("la"), OPELOUSAS_LA, "LA", "secondary")


def _cards(page: Page) -> dict[str, str]:
    return {e.text[0].strip(): e.all_text()[len(e.text[0]) :] for e in page.find("div", "card")}


def _legend(page: Page) -> str:
    return " ".join(e.all_text() for e in page.find("div", "legend"))


def test_a_violation_on_an_unposted_road_shows_the_statutes_range_as_a_statutory_default(
    louisiana,
):
    trip, _, page = louisiana
    [v] = [v for v in trip["violations"] if v["rule"] == "road_max_posted"]
    assert v["road_limit_source"]["range_mph"] == [55.0, 65.0]
    [row] = [e for e in page.find("tr") if e.attrs.get("id", "").startswith("violation-1-")]
    text = row.all_text()
    # 55 mph = 89 km/h (x 1.609344); the class is judged by the bottom of the range.
    assert (
        "no posted limit; statutory default: 55–65 mph by statute, at least 55 mph (89 km/h)"
        in text
    )
    assert "(La. R.S. 32:61, " in text and "; low confidence)" in text
    assert "class maximum 35 mph (56 km/h)" in text
    # 55 - 35 = 20 mph over the bottom, so at least that much.
    assert "at least +20.0 mph (+32.2 km/h)" in text


def test_the_speed_chart_labels_the_statutory_limit_as_statutory_with_its_range(louisiana):
    _, _, page = louisiana
    [group] = page.find("g", "statutory")
    [band] = [e for e in page.find("rect") if e.attrs.get("data-range-mph") == "55-65"]
    tip = band.all_text()
    assert tip.startswith("statutory limit of an unposted road (no maxspeed in OpenStreetMap): ")
    assert "55–65 mph by statute, at least 55 mph (89 km/h)" in tip
    assert "La. R.S. 32:61 (enacted 2010)" in tip and tip.endswith("low confidence")
    assert group.attrs == {"class": "statutory"}
    legend = _legend(page)
    assert (
        "statutory limit of unposted roads: 55–65 mph by statute, at least 55 mph (89 km/h), "
        "La. R.S. 32:61, low confidence"
    ) in legend
    assert "for road types primary, primary_link, secondary, secondary_link, tertiary" in tip
    # The road posts nothing, so no posted line; the truck's line is coloured where the
    # statute's bottom is above the class's 35 mph, as the check's violation says.
    assert "posted limit of the road" not in legend
    assert not [e for e in page.find("path") if e.classes == {"posted"}]
    assert page.find("path", "breaks-class-max")
    assert "(or, unposted, whose statutory limit is at least that)" in legend


def test_a_statute_with_one_value_is_a_statutory_line_not_a_range(tmp_path):
    # La. R.S. 32:61: 55 mph on an unclassified road (not a divided highway).
    _, _, page = _report(tmp_path, OPELOUSAS_LA, "LA", "unclassified")
    [line] = [e for e in page.find("path") if e.attrs.get("data-range-mph") == "55-55"]
    assert "statutory limit of an unposted road" in line.all_text()
    assert "55 mph (89 km/h) by statute (" in line.all_text()
    assert "55 mph (89 km/h) by statute, La. R.S. 32:61, low confidence" in _legend(page)
    [row] = [e for e in page.find("tr") if e.attrs.get("id", "").startswith("violation-1-")]
    assert "statutory default: 55 mph (89 km/h) by statute (La. R.S. 32:61" in row.all_text()
    assert "+20.0 mph" in row.all_text() and "at least" not in row.all_text()


def test_the_trip_summary_says_how_much_was_judged_on_what(louisiana, tmp_path):
    trip, _, page = louisiana
    miles = trip["road_judged"]["distance_mi"]
    [card] = [e for e in page.find("div", "card") if e.text[0].strip() == "Roads judged"]
    assert (
        _cards(page)["Roads judged"]
        == f"0 % posted, 100 % statutory, 0 % not judged ({miles:g} mi)"
    )
    [value] = [e for e in page.find("span") if e.all_text() == card.all_text()[len(card.text[0]) :]]
    assert value.attrs["title"].startswith(
        "0 % on posted limits, 100 % on statutory limits of unposted roads (low confidence), "
        f"0 % not judged, of {miles:g} mi. Share of the distance where a road rule applies"
    )
    # N.C.G.S. 20-141(b): 35 mph inside municipal limits, 55 outside, and a road type does
    # not say which; an LSV (35 mph roads) may or may not keep to it: not judged, and the
    # chart still shows the statute's range.
    nc, _, nc_page = _report(tmp_path, SILER_CITY_NC, "NC", "tertiary")
    assert nc["road_judged"]["unjudged_share"] == 1.0
    assert _cards(nc_page)["Roads judged"] == (
        f"0 % posted, 0 % statutory, 100 % not judged ({nc['road_judged']['distance_mi']:g} mi)"
    )
    assert [
        e.attrs["data-range-mph"] for e in nc_page.find("rect") if "data-range-mph" in e.attrs
    ] == ["35-55"]


def test_a_check_written_before_road_judged_existed_gets_no_judged_card(tmp_path):
    def older(check):
        for t in check["trips"]:
            del t["road_judged"]

    _, _, page = _report(tmp_path, OPELOUSAS_LA, "LA", "secondary", check_edit=older)
    assert "Roads judged" not in _cards(page)
    assert page.find("g", "statutory")  # the chart comes from the rule data, not the check


@needs_chromium
def test_the_statutory_report_renders_in_a_browser_with_its_tooltip(louisiana, tmp_path):
    _, out, _ = louisiana
    shown = render(out.as_uri(), tmp_path)
    assert shown.console == []
    assert 'data-ready="1"' in shown.html  # the page's script ran to its end
    [band] = [e for e in shown.dom.find("rect") if e.attrs.get("data-range-mph") == "55-65"]
    assert "statutory limit of an unposted road" in band.all_text()


def _seconds(text: str) -> int:
    """``2 min 37 s`` as seconds (report.html.duration, under an hour)."""
    m = re.fullmatch(r"(\d+) min (\d+) s", text)
    assert m is not None, text
    return int(m.group(1)) * 60 + int(m.group(2))


def test_the_summary_counts_time_on_roads_above_the_class_maximum_posted_and_by_statute(
    tmp_path,
):
    # The LSV (35 mph roads, La. R.S. 32:300.1) drives west to east along one secondary
    # road: its western half posted 45 mph, its eastern half unposted (La. R.S. 32:61:
    # 55-65 mph). Both are above 35: the card gives the whole, split posted / statutory,
    # and each part is the time of the check's violation on that part.
    ways = [
        {
            "points": [(-1500, 0), (0, 0)],
            "tags": {"highway": "secondary", "name": "Rd 1", "maxspeed": "45 mph"},
        },
        {"points": [(0, 0), (1500, 0)], "tags": {"highway": "secondary", "name": "Rd 1"}},
    ]
    trip, _, page = _report(tmp_path, OPELOUSAS_LA, "LA", None, ways=ways)
    found = {
        v.get("road_limit_basis", "posted"): v["duration_s"]
        for v in trip["violations"]
        if v["rule"] == "road_max_posted"
    }
    assert set(found) == {"posted", "statutory_default"}
    cards = _cards(page)
    assert "Time on roads posted above the class's maximum" not in cards
    value = cards["Time on roads whose limit is above the class's maximum"]
    m = re.fullmatch(r"(.+): (.+) posted, (.+) statutory", value)
    assert m is not None, value
    total, posted, statutory = (_seconds(x) for x in m.groups())
    assert abs(total - (posted + statutory)) <= 1  # each part rounded to the second
    # 1.4 km at 20 mph each side: about 157 s; the check's events start and end at fixes.
    assert posted == pytest.approx(found["posted"], abs=3)
    assert statutory == pytest.approx(found["statutory_default"], abs=3)
    [card] = [e for e in page.find("span") if e.all_text() == value]
    assert card.attrs["title"].endswith(
        " on unposted roads whose statutory limit, even at its lowest, is above it (the "
        "state's statute for the road type: lower confidence)"
    )


def test_a_trip_on_posted_roads_only_keeps_the_posted_card(tmp_path):
    ways = [
        {
            "points": [(-1500, 0), (1500, 0)],
            "tags": {"highway": "secondary", "name": "Rd 1", "maxspeed": "45 mph"},
        }
    ]
    _, _, page = _report(tmp_path, OPELOUSAS_LA, "LA", None, ways=ways)
    cards = _cards(page)
    assert cards["Time on roads posted above the class's maximum"] == cards["Moving time"]
    assert "Time on roads whose limit is above the class's maximum" not in cards


def test_the_statutory_limit_is_styled_by_the_stylesheet_and_in_the_cursor_data(louisiana):
    _, out, page = louisiana
    html = out.read_text(encoding="utf-8")
    [band] = [e for e in page.find("rect") if e.attrs.get("data-range-mph") == "55-65"]
    assert not {"style", "fill", "stroke", "stroke-dasharray", "fill-opacity"} & set(band.attrs)
    [key] = page.find("i", "k-statutory")
    assert "style" not in key.attrs
    assert ".k-statutory {" in html and "g.statutory > rect" in html
    [data] = [e for e in page.find("script") if e.attrs.get("id") == "trip-data-1"]
    cursor = json.loads(data.all_text())
    assert cursor["statutes"] == ["55–65 mph"]
    assert set(cursor["statutory"]) == {0}  # every fix is on the unposted road
    assert set(cursor["posted"]) == {None}


@needs_chromium
def test_hovering_the_speed_chart_reads_out_the_statutory_limit(louisiana, tmp_path):
    """The report is opened in a frame; the page around it moves the mouse over the
    middle of the speed chart and keeps what the readout then says, and how the
    stylesheet draws the statutory band and its legend key."""
    _, out, _ = louisiana
    host = tmp_path / "hover.html"
    host.write_text(
        '<!DOCTYPE html><html><body style="margin:0">'
        f'<iframe id="r" src="{out.as_uri()}" style="width:1000px;height:1400px;border:0">'
        "</iframe><script>"
        'document.getElementById("r").addEventListener("load", function () {'
        "  var w = this.contentWindow, doc = this.contentDocument, b = document.body.dataset;"
        '  var svg = doc.querySelector("svg.speed-plot"), box = svg.getBoundingClientRect();'
        "  var x = (parseFloat(svg.dataset.left) + parseFloat(svg.dataset.right)) / 2;"
        "  svg.dispatchEvent(new w.MouseEvent('mousemove', {bubbles: true,"
        "    clientX: box.left + x / svg.viewBox.baseVal.width * box.width,"
        "    clientY: box.top + box.height / 2}));"
        '  b.readout = doc.querySelector(".readout").textContent;'
        "  var band = w.getComputedStyle(doc.querySelector('g.statutory > rect'));"
        "  b.band = [band.strokeDasharray, band.fillOpacity, band.stroke].join(' | ');"
        "  var key = w.getComputedStyle(doc.querySelector('i.k-statutory'));"
        "  b.key = [key.borderTopStyle, key.borderTopWidth, key.borderTopColor].join(' | ');"
        "});</script></body></html>",
        encoding="utf-8",
    )
    shown = render(host.as_uri(), tmp_path, width=1100, height=1500)
    assert shown.console == []
    [body] = shown.dom.find("body")
    readout = body.attrs["data-readout"]
    # Mid-trip the LSV is on the unposted secondary road at 20 mph (GPS and the car).
    assert " · statutory 55–65 mph (unposted road)" in readout
    assert "posted" not in readout.replace("(unposted road)", "")
    assert re.search(r"GPS (19|20)\.\d mph", readout), readout
    assert body.attrs["data-band"] == "6px, 4px | 0.08 | rgb(17, 17, 17)"
    assert body.attrs["data-key"] == "dashed | 3px | rgb(17, 17, 17)"
