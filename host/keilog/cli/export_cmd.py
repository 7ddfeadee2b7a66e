"""``keilog export``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from keilog.cli.main import cli, handle_errors, status
from keilog.cli.progress import TerminalProgress

if TYPE_CHECKING:
    pass


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
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or status on stderr.")
@handle_errors
def export_command(
    db_path: Path, to: Path, trip: int | None, check_path: Path | None, as_json: bool, quiet: bool
) -> None:
    """Export a database (or one trip) in the format the extension of --to names.

    Raw CAN frames: .log (candump), .asc and .blf (Vector), .trc (PEAK) and .csv through
    python-can's writers, .mf4 (ASAM MDF 4 bus logging, as CANedge writes it). Every
    table: .parquet (a folder with one file per table; needs pip install
    'keilog[parquet]'). Trips as maps: .gpx, .geojson, .kml.

    Example:

        \b
        keilog export --db trips.db --to trip3.blf --trip 3
    """
    from keilog.export import export

    progress = TerminalProgress(quiet)
    try:
        result = export(db_path, to, trip=trip, progress=progress, check=check_path)
    finally:
        progress.done()
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    elif result.map is not None:
        status(
            f"{to}: {len(result.map['trips'])} trip(s), {result.map['points']} points, "
            f"{result.map['violations']} violations",
            quiet,
        )
    else:
        tables = f" ({len(result.tables)} tables)" if result.tables else ""
        status(f"{to}: {result.frames} frames{tables}", quiet)
