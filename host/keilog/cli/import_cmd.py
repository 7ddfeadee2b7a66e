"""``keilog import``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass
from keilog.cli.main import cli, handle_errors, status
from keilog.cli.progress import TerminalProgress


@cli.command("import")
@click.argument("segments", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(path_type=Path),
    help="SQLite database to import into (created if missing).",
)
@click.option(
    "--dbc",
    "dbc_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="DBC file to decode frames with; repeat for several.",
)
@click.option(
    "--allow-damage",
    is_flag=True,
    help="Import the readable part of damaged files (truncated, bit-flipped, bad lines "
    "skipped) and record the damage; without it a damaged file is refused.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per segment.")
@click.option("-q", "--quiet", is_flag=True, help="No status lines on stderr.")
@handle_errors
def import_(
    segments: tuple[Path, ...],
    db_path: Path,
    dbc_paths: tuple[Path, ...],
    allow_damage: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Import log segments (files or folders of *.KLG) into a SQLite database.

    Frames whose id is in a DBC are decoded into one table per message; every raw
    frame is stored, so keilog redecode can decode them again with another DBC (a
    warning says when a DBC decodes nothing or ids have no message). Importing
    the same segment again changes nothing. A damaged file (truncated, bit-flipped, a
    bad line) is refused unless --allow-damage.

    Example:

        \b
        keilog import logs/*.KLG --db trips.db --dbc dbc/keicar.dbc
    """
    from keilog import store
    from keilog.decode import dbc
    from keilog.store.coverage import Coverage, by_file, coverage_warnings

    can_db = dbc.load_databases(dbc_paths) if dbc_paths else None
    progress = TerminalProgress(quiet)
    try:
        results = store.import_files(
            db_path, segments, can_db, frame_progress=progress, allow_damage=allow_damage
        )
    finally:
        progress.done()
    for r in results:
        if as_json:
            click.echo(json.dumps(asdict(r)))
        else:
            click.echo(
                f"{r.path}: {r.status}"
                + (
                    f", {r.frames} frames, {r.decoded} decoded, {r.gps_fixes} GPS fixes,"
                    f" {r.events} events"
                    if r.status == "imported"
                    else ""
                )
            )
        for d in r.damage:
            status(f"{r.path}: damaged {d}", quiet)
        for note in r.renamed:
            status(f"{r.path}: {note}", quiet)
        if r.continues:
            status(
                f"{r.path}: continues {', '.join(r.continues)} (stored already): "
                f"{r.already_stored} frames there were not stored again",
                quiet,
            )
    found = Coverage()
    for r in results:
        found.add(r.frames, r.message_frames, r.unknown_ids)
    dbcs = by_file(dbc_paths, can_db) if can_db is not None else []
    for line in coverage_warnings(found, dbcs, str(db_path)):
        status(line, quiet)
