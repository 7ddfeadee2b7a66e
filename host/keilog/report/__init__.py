"""Trip reports: one self-contained HTML page per database, trips, and their data.

- :func:`list_trips` / :func:`select_trips`: what a trip is (``keilog trips``).
- :func:`write_report`: the HTML report (``keilog report``), from the database and,
  optionally, a check result (``keilog check --json``) and a road file.
- :func:`load_check`: read a check result.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from keilog.errors import ReportError
from keilog.roads import RoadIndex
from keilog.roads.basemap import BaseMap
from keilog.rules import (
    CheckInput,
    CheckResult,
    Violation,
    as_check,
    check_from_dict,
    load_check,
)
from keilog.rules.vehicle import Vehicle
from keilog.store.trips import Trip, db_file, list_trips, select_trips

__all__ = [
    "CheckInput",
    "CheckResult",
    "ReportError",
    "ReportResult",
    "Trip",
    "Violation",
    "as_check",
    "check_from_dict",
    "db_file",
    "list_trips",
    "load_check",
    "road_file",
    "select_trips",
    "write_report",
]


@dataclass
class ReportResult:
    """What ``write_report`` wrote."""

    out: Path
    trips: list[int]
    size_bytes: int
    violations: int
    notes: list[str] = field(default_factory=list)


def road_file(path: str | Path, workdir: Path) -> Path:
    """A road file as is (``.npz``), or an OSM extract built into one under workdir."""
    from keilog.roads import build_roads

    p = Path(path)
    if not p.is_file():
        raise ReportError(f"{p}: no such road file; build one with keilog roads build")
    if p.suffix == ".npz":
        return p
    out = workdir / (p.name + ".roads.npz")
    build_roads(p, out)
    return out


def write_report(
    db_path: str | Path,
    out: str | Path,
    trip: int | None = None,
    all_trips: bool = False,
    check: CheckInput = None,
    roads: str | Path | None = None,
    tiles: str | None = None,
    tiles_attribution: str | None = None,
    vehicle: Vehicle | None = None,
) -> ReportResult:
    """Write the HTML report of one trip (default: the latest) or all trips.

    ``check`` is a check result, its JSON object (``check_database``) or file; without
    one, ``vehicle`` runs the rules check here. ``roads`` is a road file or OSM extract
    (default: the one the check names, if it exists). ``tiles`` is an optional tile URL
    template (``https://.../{z}/{x}/{y}.png``) for a map background; the report works
    without it and falls back to its own drawing when tiles fail to load.
    """
    from keilog import store
    from keilog.geo import load_states
    from keilog.outputs import check_parent
    from keilog.report.data import gather
    from keilog.report.html import render_page
    from keilog.rules import load_rules
    from keilog.store.checks import last_check

    db_path = Path(db_path)
    if not db_path.is_file():
        raise ReportError(f"{db_path}: no such database; create it with keilog import")
    check_parent(out, "--out")
    if check is not None and vehicle is not None:
        raise ReportError("give either a check result or a vehicle to check, not both")
    db = store.open_db(db_path)
    chosen = select_trips(list_trips(db), trip, all_trips)
    book = load_rules()
    notes: list[str] = []
    if check is None and vehicle is None:
        check = last_check(db)  # the latest keilog check of this database, if any
        if check is not None:
            notes.append("showing the latest check stored in the database (keilog check)")
    result = as_check(check, book)
    road_path = Path(roads) if roads else None
    if road_path is None and result is not None and result.roads:
        candidate = Path(result.roads)
        if candidate.is_file():
            road_path = candidate
        else:
            notes.append(f"the check used road file {candidate}, which is not here")
    with tempfile.TemporaryDirectory(prefix="keilog-report-") as tmp:
        roads_npz = road_file(road_path, Path(tmp)) if road_path else None
        road_index = RoadIndex.load(roads_npz) if roads_npz else None
        base = BaseMap.of(road_index) if road_index is not None else None
        if vehicle is not None:
            from keilog.rules.check import check_database

            result = as_check(check_database(db_path, vehicle, roads_npz), book)
    states = load_states()
    reports = [gather(db, t, result, road_index, states, book, base) for t in chosen]
    for r in reports:
        r.notes.extend(notes)
    html = render_page(reports, db_path.name, tiles, tiles_attribution)
    out = Path(out)
    try:
        out.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{out}: cannot write the report: {exc.strerror}") from exc
    return ReportResult(
        out=out,
        trips=[t.id for t in chosen],
        size_bytes=out.stat().st_size,
        violations=sum(len(r.check.violations) for r in reports if r.check),
        notes=[n for r in reports for n in r.notes],
    )
