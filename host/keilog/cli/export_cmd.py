"""``keilog export``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from keilog.cli.main import cli, handle_errors, status
from keilog.cli.progress import TerminalProgress


def utc_seconds(text: str | None, option: str) -> float | None:
    """ISO 8601 (UTC unless it says otherwise) or Unix seconds, as Unix seconds."""
    import datetime as dt

    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a time; give ISO 8601 (2026-06-01T14:00:00) or Unix seconds",
            param_hint=option,
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


@cli.command("export")
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(path_type=Path),
    help="keilog database to export from.",
)
@click.option(
    "--to", "to", required=True, type=click.Path(path_type=Path), help="Output file (by extension)."
)
@click.option("--trip", type=int, help="Only trip N (see keilog trips); default: everything.")
@click.option(
    "--check",
    "check_path",
    type=click.Path(exists=True, path_type=Path),
    help="Maps only: a keilog check --json result whose violations to mark.",
)
@click.option(
    "--signals",
    "signal_names",
    metavar="NAMES",
    help="Decoded signals instead of frames, to .csv or .mf4: comma-separated SIGNAL or "
    "MESSAGE.SIGNAL names, or 'all'.",
)
@click.option(
    "--from", "start", metavar="TIME", help="Signals from this UTC time (ISO 8601 or Unix s)."
)
@click.option("--until", "end", metavar="TIME", help="Signals up to this UTC time.")
@click.option("--force", is_flag=True, help="Replace an existing .parquet archive at --to.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or status on stderr.")
@handle_errors
def export_command(
    db_path: Path,
    to: Path,
    trip: int | None,
    check_path: Path | None,
    signal_names: str | None,
    start: str | None,
    end: str | None,
    force: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Export a database (or one trip) in the format the extension of --to names.

    Raw CAN frames: .log (candump), .asc and .blf (Vector), .trc (PEAK) and .csv through
    python-can's writers, .mf4 (ASAM MDF 4 bus logging, as CANedge writes it). The
    analytics archive: .parquet, a folder of zstd Parquet partitioned by device and date
    (raw frames, one table per decoded message with typed signal columns, GPS fixes,
    trips) for DuckDB and Spark (docs/archive.md; needs pip install 'keilog[parquet]';
    --force replaces an existing archive). Trips as maps: .gpx, .geojson, .kml.

    With --signals: decoded signals, physical values with units, of the trip and/or the
    --from/--until window: .csv (timestamp,message,signal,value,unit, one row per
    sample) or .mf4 (one channel group per message, channels with their units, as
    asammdf and MDF viewers read them).

    Example:

        \b
        keilog export --db trips.db --to trip3.blf --trip 3
        keilog export --db trips.db --to archive.parquet --force
        keilog export --db trips.db --trip 3 --signals VEHICLE_SPEED,ENGINE_RPM --to t3.mf4
        keilog export --db trips.db --signals all --from 2026-06-01T14:00 --to june1.csv
    """
    from keilog.export import export

    names = None
    if signal_names is not None:
        names = [] if signal_names == "all" else [n.strip() for n in signal_names.split(",")]
    progress = TerminalProgress(quiet)
    try:
        result = export(
            db_path, to, trip=trip, progress=progress, check=check_path, signals=names,
            start=utc_seconds(start, "--from"), end=utc_seconds(end, "--until"), force=force,
        )  # fmt: skip
    finally:
        progress.done()
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    elif names is not None:
        status(f"{to}: {len(result.signals)} signal(s), {result.samples:,} samples", quiet)
    elif result.map is not None:
        status(
            f"{to}: {len(result.map['trips'])} trip(s), {result.map['points']} points, "
            f"{result.map['violations']} violations",
            quiet,
        )
    else:
        tables = (
            f" ({len(result.tables)} tables, {result.files} files, {result.bytes:,} bytes)"
            if result.tables
            else ""
        )
        status(f"{to}: {result.frames} frames{tables}", quiet)


@cli.command("plot")
@click.argument("signals", nargs=-1, required=True, metavar="SIGNAL...")
@click.option("--db", "db_path", required=True, type=click.Path(path_type=Path),
              help="keilog database to plot from.")  # fmt: skip
@click.option("--to", "to", required=True, type=click.Path(path_type=Path),
              help="Output file: .png or .svg.")  # fmt: skip
@click.option("--trip", type=int, help="Only trip N (see keilog trips).")
@click.option("--from", "start", metavar="TIME", help="From this UTC time (ISO 8601 or Unix s).")
@click.option("--until", "end", metavar="TIME", help="Up to this UTC time.")
@click.option("--title", help="Chart title (default: the trip and its start time).")
@click.option("--json", "as_json", is_flag=True, help="Print what was plotted as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No status on stderr.")
@handle_errors
def plot_command(
    signals: tuple[str, ...],
    db_path: Path,
    to: Path,
    trip: int | None,
    start: str | None,
    end: str | None,
    title: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Plot decoded signals of a trip to a PNG or SVG chart, one panel per signal.

    SIGNAL is a signal name (VEHICLE_SPEED) or MESSAGE.SIGNAL; each panel shows its
    physical values over time with its unit. Needs matplotlib: pip install
    'keilog[plot]'.

    Example:

        \b
        keilog plot VEHICLE_SPEED ENGINE_RPM --db trips.db --trip 3 --to trip3.png
    """
    from keilog import store
    from keilog.export import ExportError
    from keilog.export.plot import plot_signals
    from keilog.outputs import undo_on_failure

    if not db_path.is_file():
        raise ExportError(f"{db_path}: no such database; create it with keilog import")
    db = store.open_db(db_path)
    with undo_on_failure(to):
        result = plot_signals(
            db, to, list(signals), trip=trip, start=utc_seconds(start, "--from"),
            end=utc_seconds(end, "--until"), title=title,
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    status(f"{to}: {len(result.series)} signal(s)", quiet)
