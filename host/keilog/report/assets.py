"""The report's inline stylesheet and script (the page loads nothing from anywhere).

The script is optional sugar: a cursor that follows the mouse over the plots and shows
where the car was on the map at that moment; violation rows, marks and bands that
highlight each other; and, when the report was made with a tile server, a tile
background under the map that removes itself (leaving the offline drawing) as soon as a
tile fails to load.
"""

from keilog.units import KMH_PER_MPH

CSS = """
:root { --ink:#1d232a; --muted:#5c6670; --line:#d5d9de; --bad:#d81b60; --ok:#2e7d32;
  --warn:#b26a00; --can:#1f5fbf; --gps:#e08a1e; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #f6f7f9; }
header.page { background: #1d3557; color: #fff; padding: 18px 28px; }
header.page h1 { margin: 0 0 4px; font-size: 22px; }
header.page p { margin: 0; opacity: .85; }
main { max-width: 1040px; margin: 0 auto; padding: 8px 20px 40px; }
section.trip { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 18px 22px; margin: 20px 0; }
h2 { margin: 0 0 10px; font-size: 20px; }
h3 { margin: 22px 0 8px; font-size: 16px; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 12px; font-size: 13px;
  font-weight: 600; vertical-align: middle; margin-left: 8px; color: #fff; }
.verdict.violations { background: var(--bad); } .verdict.clean { background: var(--ok); }
.verdict.unverified, .verdict.unchecked { background: var(--warn); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 8px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.card b { display: block; font-size: 12px; color: var(--muted); font-weight: 600;
  text-transform: uppercase; letter-spacing: .03em; }
.card span { font-size: 16px; }
svg { display: block; width: 100%; height: auto; font-size: 12px; }
.scroll-x { overflow-x: auto; max-width: 100%; }
td, th { overflow-wrap: anywhere; }
svg text { fill: var(--ink); }
.map { border: 1px solid var(--line); border-radius: 6px; background: #eef0e8; }
.map-bg { fill: #eef0e8; }
.map.with-tiles .map-bg { fill: none; }
.map.with-tiles .road { stroke-opacity: .55; }
.map.with-tiles .basemap { display: none; }
.water { fill: #aad3df; stroke: none; }
.waterway { fill: none; stroke: #7fb6cc; stroke-linecap: round; stroke-linejoin: round; }
.base-road { fill: none; stroke: #fff; stroke-linecap: round; stroke-linejoin: round; }
.base-road.hw-motorway { stroke: #e892a2; }
.base-road.hw-trunk { stroke: #f9b29c; }
.base-road.hw-primary { stroke: #fcd6a4; }
.base-road.hw-secondary { stroke: #f1ee9e; }
.base-road.hw-tertiary { stroke: #fdfdf0; }
.base-road.hw-service, .base-road.hw-pedestrian, .base-road.hw-busway { stroke: #f7f7f7; }
.base-road.hw-track { stroke: #a87b4f; stroke-dasharray: 4 3; }
.place { font-weight: 600; fill: #2f3a45; paint-order: stroke; stroke: #fff;
  stroke-width: 3px; stroke-linejoin: round; }
.place.place-city { font-size: 16px; font-weight: 700; }
.place.place-town { font-size: 14px; }
.place.place-village { font-size: 12.5px; }
.place.place-hamlet { font-size: 11px; font-style: italic; font-weight: 500; }
.map.with-tiles .places { display: none; }
.road { fill: none; stroke-linecap: round; stroke-linejoin: round; }
.road.unknown { stroke-dasharray: 6 4; }
.track-casing { fill: none; stroke: #fff; stroke-width: 7; stroke-linejoin: round; }
.track { fill: none; stroke: #173f8a; stroke-width: 3; stroke-linejoin: round; }
.track-violation { fill: none; stroke: var(--bad); stroke-width: 3.5; stroke-linejoin: round; }
.road-label { font-size: 11px; font-weight: 600; fill: #3b4249; paint-order: stroke;
  stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.dropout { fill: none; stroke: #173f8a; stroke-width: 2.5; stroke-dasharray: 3 5; }
.start { fill: #2e7d32; stroke: #fff; stroke-width: 2; }
.end { fill: #111; stroke: #fff; stroke-width: 2; }
.violation-marker circle { fill: var(--bad); stroke: #fff; stroke-width: 2; }
.violation-marker text { fill: #fff; font-weight: 700; font-size: 12px; }
.violation-marker.hl circle { r: 14; stroke: #ffeb3b; stroke-width: 3; }
.cursor { fill: #ffeb3b; stroke: #111; stroke-width: 2; }
.north { font-weight: 700; fill: var(--muted); }
.scale { fill: none; stroke: var(--ink); stroke-width: 2; }
.scale-label, .attribution { font-size: 11px; fill: var(--muted); }
.grid { stroke: #e6e8eb; stroke-width: 1; }
.tick, .axis { stroke: var(--muted); }
.axis-unit { fill: var(--muted); font-weight: 600; }
.posted { fill: none; stroke: #111; stroke-width: 2; }
.cap { fill: none; stroke: var(--bad); stroke-width: 2; stroke-dasharray: 7 4; }
.class-max { fill: none; stroke: #7b1fa2; stroke-width: 2; stroke-dasharray: 3 3; }
g.statutory > rect, g.statutory > path { fill: #111; fill-opacity: .08; stroke: #111;
  stroke-width: 1.5; stroke-dasharray: 6 4; }
.breaks-cap { fill: none; stroke: var(--bad); stroke-width: 3.2; }
.breaks-class-max { fill: none; stroke: #7b1fa2; stroke-width: 3.2; }
.can-speed { fill: none; stroke: var(--can); stroke-width: 1.8; }
.gps-speed { fill: none; stroke: var(--gps); stroke-width: 1.3; }
.engine { fill: none; stroke-width: 1.5; }
.engine.rpm { stroke: #6a1b9a; } .engine.throttle { stroke: #00838f; }
.engine.coolant { stroke: #c62828; }
.engine.battery { stroke: #ef6c00; } .engine.vss { stroke: #2e7d32; }
.panel-label { font-weight: 600; fill: var(--muted); }
.violation-band rect { fill: var(--bad); fill-opacity: .13; }
.violation-band text { fill: var(--bad); font-weight: 700; }
.violation-band.hl rect { fill-opacity: .35; }
.dropout-band { fill: #9e9e9e; fill-opacity: .15; }
.cursor-line { stroke: #111; stroke-width: 1; stroke-dasharray: 2 2; pointer-events: none; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 13px; color: var(--muted);
  margin: 6px 0; }
.legend i { display: inline-block; width: 22px; height: 5px; margin-right: 5px;
  vertical-align: middle; border-radius: 2px; }
.k-track { background: #173f8a; } .k-violation { background: var(--bad); }
.k-water { background: #aad3df; }
.k-dropout { border-top: 3px dashed #173f8a; height: 0 !important; }
.k-start { background: #2e7d32; width: 10px !important; height: 10px !important;
  border-radius: 50% !important; }
.k-end { background: #111; width: 10px !important; height: 10px !important;
  border-radius: 50% !important; }
.k-can { background: var(--can); } .k-gps { background: var(--gps); }
.k-posted { background: #111; } .k-cap { border-top: 3px dashed var(--bad); height: 0 !important; }
.k-class-max { border-top: 3px dotted #7b1fa2; height: 0 !important; }
.k-statutory { border-top: 3px dashed #111; height: 0 !important; }
.k-breaks-cap { background: var(--bad); } .k-breaks-class-max { background: #7b1fa2; }
.k-band { background: rgba(216,27,96,.25); height: 12px !important; }
.k-dropband { background: rgba(158,158,158,.35); height: 12px !important; }
.readout { font-size: 13px; color: var(--muted); min-height: 1.45em; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; }
tr.hl td { background: #fff3cd; }
tr:target td { background: #ffe0b2; }
td.num { white-space: nowrap; }
.note { color: var(--muted); }
ul.notes { color: var(--muted); padding-left: 20px; }
details summary { cursor: pointer; color: var(--muted); }
footer { color: var(--muted); font-size: 13px; max-width: 1040px; margin: 0 auto;
  padding: 0 20px 30px; }
@media (max-width: 640px) {
  header.page { padding: 14px 16px; } header.page h1 { font-size: 19px; }
  main { padding: 4px 8px 24px; } section.trip { padding: 12px 12px; }
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .scroll-x .plot { min-width: 600px; }
  table { font-size: 13px; } th, td { padding: 5px 4px; }
}
@media print { body { background: #fff; } section.trip { border: none; padding: 0; }
  .readout { display: none; } }
"""

JS = r"""
(function () {
  "use strict";
  var KMH_PER_MPH = __KMH_PER_MPH__;
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function nearest(ts, t) {
    var lo = 0, hi = ts.length - 1;
    if (hi < 0) { return -1; }
    while (hi - lo > 1) {
      var mid = (lo + hi) >> 1;
      if (ts[mid] < t) { lo = mid; } else { hi = mid; }
    }
    return Math.abs(ts[lo] - t) <= Math.abs(ts[hi] - t) ? lo : hi;
  }
  function fmtTime(t, d) {
    var utc = new Date(t * 1000).toISOString().substring(11, 19) + " UTC";
    if (!d || !d.zone) { return utc; }
    var local = new Date((t + d.offset) * 1000).toISOString().substring(11, 19);
    return local + " " + d.zone + " (" + utc + ")";
  }
  function fmtSpeed(mph) {
    return mph.toFixed(1) + " mph (" + (mph * KMH_PER_MPH).toFixed(1) + " km/h)";
  }
  function setupTrip(trip) {
    var d = data("trip-data-" + trip);
    if (!d) { return; }
    var cursor = document.getElementById("map-" + trip + "-cursor");
    var readout = document.getElementById("readout-" + trip);
    var plots = document.querySelectorAll("svg.plot[data-trip='" + trip + "']");
    function show(t) {
      var parts = [fmtTime(t, d)];
      var i = nearest(d.t, t);
      if (i >= 0 && Math.abs(d.t[i] - t) <= 5) {
        if (cursor && d.x[i] !== null) {
          cursor.setAttribute("cx", d.x[i]);
          cursor.setAttribute("cy", d.y[i]);
        }
        if (d.gps[i] !== null) { parts.push("GPS " + fmtSpeed(d.gps[i])); }
        if (d.posted[i] !== null) { parts.push("posted " + d.posted[i] + " mph"); }
        else if (d.statutory[i] !== null) {
          parts.push("statutory " + d.statutes[d.statutory[i]] + " (unposted road)");
        }
      }
      var j = nearest(d.st, t);
      if (j >= 0 && Math.abs(d.st[j] - t) <= 2) { parts.push("car " + fmtSpeed(d.sv[j])); }
      if (readout) { readout.textContent = parts.join(" · "); }
    }
    Array.prototype.forEach.call(plots, function (svg) {
      var t0 = parseFloat(svg.dataset.t0), t1 = parseFloat(svg.dataset.t1);
      var left = parseFloat(svg.dataset.left), right = parseFloat(svg.dataset.right);
      svg.addEventListener("mousemove", function (ev) {
        var box = svg.getBoundingClientRect();
        var vb = svg.viewBox.baseVal;
        var x = (ev.clientX - box.left) / box.width * vb.width;
        if (x < left || x > right) { return; }
        var t = t0 + (x - left) / (right - left) * (t1 - t0);
        Array.prototype.forEach.call(plots, function (p) {
          var line = p.querySelector(".cursor-line");
          if (line) { line.setAttribute("transform", "translate(" + (x + 10) + ",0)"); }
        });
        show(t);
      });
    });
  }
  function highlight(trip, number, on) {
    var sel = "#trip-" + trip + " [data-violation='" + number + "']";
    Array.prototype.forEach.call(document.querySelectorAll(sel), function (el) {
      el.classList.toggle("hl", on);
    });
  }
  function setupViolations(section) {
    var trip = section.dataset.trip;
    Array.prototype.forEach.call(section.querySelectorAll("[data-violation]"), function (el) {
      var n = el.dataset.violation;
      el.addEventListener("mouseenter", function () { highlight(trip, n, true); });
      el.addEventListener("mouseleave", function () { highlight(trip, n, false); });
    });
  }
  function setupTiles(svg, cfg) {
    var ns = "http://www.w3.org/2000/svg";
    var x0 = parseFloat(svg.dataset.x0), y0 = parseFloat(svg.dataset.y0);
    var scale = parseFloat(svg.dataset.scale);
    var vb = svg.viewBox.baseVal;
    var z = Math.max(0, Math.min(cfg.max_zoom, Math.round(Math.log2(scale / 256))));
    var n = Math.pow(2, z), size = scale / n;
    var layer = svg.querySelector(".tiles"), note = svg.querySelector(".attribution");
    var i0 = Math.floor(x0 * n), i1 = Math.floor((x0 + vb.width / scale) * n);
    var j0 = Math.floor(y0 * n), j1 = Math.floor((y0 + vb.height / scale) * n);
    var pending = 0, failed = false;
    function fail() {
      if (failed) { return; }
      failed = true;
      while (layer.firstChild) { layer.removeChild(layer.firstChild); }
      svg.classList.remove("with-tiles");
      note.textContent = "Map tiles unavailable: offline drawing";
    }
    for (var i = i0; i <= i1; i++) {
      for (var j = j0; j <= j1; j++) {
        if (j < 0 || j >= n) { continue; }
        var img = document.createElementNS(ns, "image");
        var url = cfg.tiles.replace("{z}", z).replace("{x}", ((i % n) + n) % n).replace("{y}", j);
        img.setAttribute("href", url);
        img.setAttribute("x", (i / n - x0) * scale);
        img.setAttribute("y", (j / n - y0) * scale);
        img.setAttribute("width", size + 0.5);
        img.setAttribute("height", size + 0.5);
        img.setAttribute("preserveAspectRatio", "none");
        pending++;
        img.addEventListener("error", fail);
        img.addEventListener("load", function () {
          pending--;
          if (pending === 0 && !failed) { note.textContent = cfg.attribution; }
        });
        layer.appendChild(img);
      }
    }
    svg.classList.add("with-tiles");
  }
  var cfg = data("keilog-config") || {};
  Array.prototype.forEach.call(document.querySelectorAll("section.trip"), function (s) {
    setupTrip(s.dataset.trip);
    setupViolations(s);
  });
  if (cfg.tiles) {
    Array.prototype.forEach.call(document.querySelectorAll("svg.map"), function (svg) {
      setupTiles(svg, cfg);
    });
  }
  document.documentElement.setAttribute("data-ready", "1");
})();
"""
JS = JS.replace("__KMH_PER_MPH__", repr(KMH_PER_MPH))  # keilog.units, the one definition
