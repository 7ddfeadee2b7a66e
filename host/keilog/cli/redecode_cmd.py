"""``keilog redecode``."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import click

from keilog.cli.main import cli, handle_errors, status
from keilog.cli.progress import TerminalProgress


@cli.command("redecode")
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(path_type=Path),
    help="keilog database whose stored raw frames are decoded again.",
)
@click.option(
    "--dbc",
    "dbc_paths",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="DBC file to decode with; repeat for several (all of the bus's DBCs).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or status lines on stderr.")
@handle_errors
def redecode_(db_path: Path, dbc_paths: tuple[Path, ...], as_json: bool, quiet: bool) -> None:
    """Decode a database's stored raw frames again with new DBC files.

    Rebuilds every decoded table (msg_<MESSAGE> views, their sig_ tables and the
    signals table) from the raw frames, in one transaction: an error or Ctrl-C leaves
    the old decoded tables as they were. Use it after importing with no DBC or the
    wrong one ("0 decoded"), or to change a signal's scale. Trips, GPS fixes and events
    stay; stored checks were made from the old values: run keilog check again.

    Example:

        \b
        keilog redecode --db trips.db --dbc dbc/keicar.dbc --dbc dbc/obd2.dbc
    """
    from keilog.decode import dbc
    from keilog.decode.logs import Progress
    from keilog.store.coverage import Coverage, by_file, coverage_warnings
    from keilog.store.redecode import redecode

    can_db = dbc.load_databases(dbc_paths)
    progress = TerminalProgress(quiet)
    started = time.perf_counter()

    def on_frames(done: int, total: int) -> None:
        progress(Progress(db_path, done, done, total, time.perf_counter() - started))

    try:
        result = redecode(db_path, can_db, on_frames)
    finally:
        progress.done()
    if as_json:
        click.echo(json.dumps(asdict(result)))
    else:
        for view, count in result.tables.items():
            click.echo(f"{view}: {count} rows")
    status(f"{result.db}: {result.frames} raw frames read, {result.decoded} decoded", quiet)
    for note in result.renamed:
        status(f"{result.db}: {note}", quiet)
    if result.removed:
        gone = ", ".join(result.removed)
        status(f"{result.db}: removed {gone} (no message of the new DBCs)", quiet)
    found = Coverage(result.frames, result.message_frames, result.unknown_ids)
    for line in coverage_warnings(found, by_file(dbc_paths, can_db), str(db_path)):
        status(line, quiet)
    if result.checks:
        status(
            f"note: {result.checks} stored check(s) were made from the old decoded values "
            f"and may be stale; run keilog check --db {db_path} again",
            quiet,
        )
