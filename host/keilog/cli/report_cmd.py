"""``keilog report``, ``keilog trips`` and ``keilog serve``."""

from __future__ import annotations

import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from keilog.cli.main import cli, handle_errors, status
from keilog.rules import CLASSES

DB = click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="keilog database (from keilog import).",
)
CHECK = click.option(
    "--check",
    "check_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Result of keilog check --json, for violations and limits.",
)


@cli.command("report")
@DB
@click.option("--trip", type=int, help="Trip id (keilog trips); default: the latest.")
@click.option("--all", "all_trips", is_flag=True, help="Every trip of the database.")
@CHECK
@click.option(
    "--vehicle",
    "vehicle_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Instead of --check: run the rules check for this vehicle file.",
)
@click.option("--state", help="Instead of --check: registration state (with --class).")
@click.option(
    "--class", "vehicle_class", type=click.Choice(CLASSES), help="Instead of --check: class."
)
@click.option(
    "--roads",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Road file (keilog roads build) or OSM extract; default: the check's.",
)
@click.option(
    "--tiles",
    metavar="URL",
    help="Tile URL template ({z}/{x}/{y}) for a map background; needs network to view.",
)
@click.option("--tiles-attribution", metavar="TEXT", help="Credit line shown with the tiles.")
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="HTML file."
)
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No status lines on stderr.")
@handle_errors
def report_command(
    db_path: Path,
    trip: int | None,
    all_trips: bool,
    check_path: Path | None,
    vehicle_file: Path | None,
    state: str | None,
    vehicle_class: str | None,
    roads: Path | None,
    tiles: str | None,
    tiles_attribution: str | None,
    out: Path,
    as_json: bool,
    quiet: bool,
) -> None:
    """Write a trip report: one self-contained HTML file.

    The map of the route (with the roads around it coloured by posted limit, and an
    offline base map of roads by class, water and place names, when a road file is
    used), speed over time against the limits, engine data, the violations of
    a rules check with their sources, a trip summary and the speedometer error. Opens
    in any browser without a network.

    Example:

    \b
        keilog check --db trips.db --state FL --class mini_truck --json > check.json
        keilog report --db trips.db --check check.json --out report.html
        keilog report --db trips.db --state FL --class mini_truck --out report.html
        keilog report --db trips.db --all --out all-trips.html
    """
    from keilog.report import write_report
    from keilog.rules.vehicle import Vehicle, load_vehicle

    vehicle = None
    if vehicle_file is not None or vehicle_class or state:
        if check_path is not None:
            raise click.UsageError("give either --check or a vehicle to check, not both")
        if vehicle_file is not None:
            if state or vehicle_class:
                raise click.UsageError("give either --vehicle or --state/--class, not both")
            vehicle = load_vehicle(vehicle_file)
        elif vehicle_class:
            vehicle = Vehicle(name="vehicle", registration_state=state, vehicle_class=vehicle_class)
        else:
            raise click.UsageError("--state needs --class")

    result = write_report(
        db_path,
        out,
        trip=trip,
        all_trips=all_trips,
        check=check_path,
        roads=roads,
        tiles=tiles,
        tiles_attribution=tiles_attribution,
        vehicle=vehicle,
    )
    for note in dict.fromkeys(result.notes):
        status(f"note: {note}", quiet)
    status(
        f"wrote {out} ({result.size_bytes / 1024:.0f} KiB): trip(s) "
        f"{', '.join(map(str, result.trips))}, {result.violations} violation(s)",
        quiet,
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "out": str(result.out),
                    "trips": result.trips,
                    "size_bytes": result.size_bytes,
                    "violations": result.violations,
                }
            )
        )


SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], top: float) -> str:
    """Speeds as block characters (a blank where nothing was logged)."""
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        else:
            out.append(SPARKS[min(len(SPARKS) - 1, int(v / max(top, 1e-9) * (len(SPARKS) - 1)))])
    return "".join(out)


def _table(rows: list[dict[str, Any]]) -> str:
    top = max((v for r in rows for v in r["speed_profile_mph"] if v is not None), default=1.0)
    head = ("trip", "start (UTC)", "duration", "miles", "max mph", "device/boot", "speed")
    lines = []
    for r in rows:
        mins, secs = divmod(round(r["duration_s"]), 60)
        hours, mins = divmod(mins, 60)
        dur = f"{hours}:{mins:02d}:{secs:02d}"
        best = r["max_speed_mph"] if r["max_speed_mph"] is not None else r["max_gps_mph"]
        lines.append(
            (
                str(r["id"]),
                (r["start"] or "").replace("T", " ").rstrip("Z"),
                dur,
                f"{r['distance_mi']:.2f}",
                "–" if best is None else f"{best:.1f}",
                f"{r['device_id']}/{r['boot']}",
                sparkline(r["speed_profile_mph"], top),
            )
        )
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:{'>' if i in (0, 2, 3, 4) else '<'}{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*head), *(fmt.format(*x) for x in lines)])


@cli.command("trips")
@DB
@click.option("--json", "as_json", is_flag=True, help="Output JSON (one array).")
@handle_errors
def trips_command(db_path: Path, as_json: bool) -> None:
    """List the trips of a database: when, how long, how far, how fast.

    A trip is one boot of one logger, split where nothing was logged for more than 5
    minutes. The speed column plots each trip's speed over its duration.

    Example:

    \b
        keilog trips --db trips.db
        keilog trips --db trips.db --json
    """
    from keilog import store
    from keilog.report import ReportError, list_trips
    from keilog.report.data import trip_rows

    if not db_path.is_file():
        raise ReportError(f"{db_path}: no such database; create it with keilog import")
    db = store.open_db(db_path)
    rows = trip_rows(db, list_trips(db))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    elif not rows:
        status("no trips: import logs with keilog import")
    else:
        click.echo(_table(rows))


@cli.command("serve")
@DB
@CHECK
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--metadata",
    "metadata_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Only write Datasette's metadata JSON here (and exit).",
)
@handle_errors
def serve_command(
    db_path: Path, check_path: Path | None, host: str, port: int, metadata_out: Path | None
) -> None:
    """Browse the database in Datasette, with titles, units and canned queries.

    Datasette is optional: pip install 'keilog[serve]'. With --check, the check's
    violations are served too, as a second database named check.

    Example:

    \b
        keilog serve --db trips.db --check check.json
        keilog serve --db trips.db --metadata metadata.json
    """
    from keilog.report import ReportError, load_check
    from keilog.report import serve as srv

    if not db_path.is_file():
        raise ReportError(f"{db_path}: no such database; create it with keilog import")
    check = load_check(check_path) if check_path else _stored_check(db_path)
    if metadata_out is not None:
        with tempfile.TemporaryDirectory(prefix="keilog-serve-") as tmp:
            _, meta = srv.prepare(db_path, Path(tmp), check)
            metadata_out.write_text(meta.read_text(encoding="utf-8"), encoding="utf-8")
        status(f"wrote {metadata_out}")
        return
    if not srv.datasette_available():
        raise ReportError(srv.INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="keilog-serve-") as tmp:
        status(f"serving {db_path} on http://{host}:{port}/ (Ctrl-C stops)")
        code = srv.serve(db_path, Path(tmp), check, host, port)
    stopped = (0, -signal.SIGINT, -signal.SIGTERM, -signal.SIGHUP, 130, 143)
    if code not in stopped:  # stopped by Ctrl-C or SIGTERM is a normal end of serving
        sys.exit(code)


def _stored_check(db_path: Path) -> Any:
    """The latest check kept in the database (keilog check stores it), or None."""
    import sqlite_utils

    from keilog.report import as_check
    from keilog.store.checks import last_check

    if not db_path.is_file():
        return None
    return as_check(last_check(sqlite_utils.Database(str(db_path))))
