"""The fleet report: one self-contained HTML page from the lake's check results.

Totals, then a table per vehicle (trips, distance, verdict, share of distance judged),
per vehicle-day and per driver-day, and the violations with their rule sources. Styles
are the trip report's (``keilog.report.assets``); the page loads nothing from anywhere.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

from keilog.fleet.needs import need
from keilog.fleet.results import read_results
from keilog.outputs import check_parent
from keilog.report.assets import CSS

DISCLAIMER = (
    "Not legal advice: a clean trip means keilog found nothing against the rules it knows "
    "(docs/rules.md)."
)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _verdict(v: str) -> str:
    return f'<span class="verdict {_e(v)}">{_e(v)}</span>'


def _share(judged: float, total: float) -> str:
    return f"{100 * judged / total:.0f} %" if total > 0 else "-"


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _worst(verdicts: list[str]) -> str:
    for v in ("violations", "unverified"):
        if v in verdicts:
            return v
    return "clean"


def render(lake: Path) -> str:
    res = {k: t.to_pylist() for k, t in read_results(lake).items()}
    daily, trips, events = res["daily"], res["trips"], res["events"]
    per_vehicle: dict[str, dict[str, Any]] = {}
    for d in daily:
        v = per_vehicle.setdefault(
            d["device_id"],
            {"row": d, "days": 0, "trips": 0, "mi": 0.0, "judged": 0.0, "viol": 0, "v": []},
        )
        v["days"] += 1
        v["trips"] += d["trips"]
        v["mi"] += d["distance_mi"]
        v["judged"] += d["judged_mi"]
        v["viol"] += d["violations"]
        v["v"].append(d["verdict"])
    total_mi = sum(t["distance_mi"] for t in trips)
    judged_mi = sum(t["judged_mi"] for t in trips)
    verdicts = [t["verdict"] for t in trips]
    cards = [
        ("vehicles", str(len(per_vehicle))),
        ("vehicle-days", str(len(daily))),
        ("trips", str(len(trips))),
        ("distance", f"{total_mi:,.1f} mi"),
        ("distance judged", _share(judged_mi, total_mi)),
        ("trips with violations", str(verdicts.count("violations"))),
        ("trips unverified", str(verdicts.count("unverified"))),
        ("trips clean", str(verdicts.count("clean"))),
    ]
    card_html = "".join(f'<div class="card"><b>{_e(k)}</b>{_e(v)}</div>' for k, v in cards)
    vehicles = _table(
        [
            "device",
            "vehicle",
            "driver",
            "registered",
            "days",
            "trips",
            "miles",
            "judged",
            "violations",
            "verdict",
        ],
        [
            [
                _e(dev),
                _e(v["row"]["name"]),
                _e(v["row"]["driver"]),
                _e(f"{v['row']['registration_state']} {v['row']['class']}"),
                str(v["days"]),
                str(v["trips"]),
                f"{v['mi']:.1f}",
                _share(v["judged"], v["mi"]),
                str(v["viol"]),
                _verdict(_worst(v["v"])),
            ]
            for dev, v in sorted(per_vehicle.items())
        ],
    )
    days = _table(
        [
            "device",
            "date",
            "driver",
            "trips",
            "miles",
            "time",
            "judged",
            "violations",
            "unverified",
            "verdict",
        ],
        [
            [
                _e(d["device_id"]),
                _e(d["date"]),
                _e(d["driver"]),
                str(d["trips"]),
                f"{d['distance_mi']:.1f}",
                f"{d['duration_s'] / 60:.0f} min",
                _share(d["judged_mi"], d["distance_mi"]),
                str(d["violations"]),
                str(d["unverified"]),
                _verdict(d["verdict"]),
            ]
            for d in daily
        ],
    )
    drivers = _table(
        ["driver", "date", "vehicles", "trips", "miles", "violations", "verdict"],
        [
            [
                _e(d["driver"]),
                _e(d["date"]),
                str(d["vehicles"]),
                str(d["trips"]),
                f"{d['distance_mi']:.1f}",
                str(d["violations"]),
                _verdict(d["verdict"]),
            ]
            for d in res["driver_days"]
        ],
    )
    violations = [e for e in events if e["kind"] == "violation"]
    viol_html = (
        _table(
            ["device", "trip", "rule", "state", "start", "for", "source"],
            [
                [
                    _e(e["device_id"]),
                    _e(e["trip_key"]),
                    _e(e["rule"]),
                    _e(e["state"]),
                    _e(e["start"]),
                    f"{e['duration_s']:.0f} s",
                    _e(e["source"]),
                ]
                for e in violations
            ],
        )
        if violations
        else "<p>None found.</p>"
    )
    made = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>keilog fleet report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{CSS}
table {{ border-collapse: collapse; width: 100%; font-size: 14px; }}
th, td {{ text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); }}
</style></head><body>
<header class="page"><h1>keilog fleet report</h1>
<p>{_e(lake)} &middot; made {_e(made)} &middot; {_e(DISCLAIMER)}</p></header>
<main>
<section class="trip"><h2>Fleet</h2><div class="cards">{card_html}</div></section>
<section class="trip"><h2>Vehicles</h2>{vehicles}</section>
<section class="trip"><h2>Violations</h2>{viol_html}</section>
<section class="trip"><h2>Vehicle-days</h2>{days}</section>
<section class="trip"><h2>Driver-days</h2>{drivers}</section>
</main></body></html>
"""


def write_report(lake: Path, out: Path) -> Path:
    """Write the fleet report of ``lake`` (after keilog fleet check) to ``out``."""
    need("pyarrow")
    check_parent(out, "--out")
    page = render(lake)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
