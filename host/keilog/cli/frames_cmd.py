"""``keilog frames``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from keilog.cli.main import cli, handle_errors, status


def _ids(_ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[int]:
    from keilog.errors import StoreError
    from keilog.store.framequery import parse_id

    try:
        return [parse_id(v) for v in values]
    except StoreError as exc:
        raise click.BadParameter(str(exc), param=param) from None


def _time(_ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from keilog.errors import StoreError
    from keilog.store.framequery import parse_utc

    if value is None:
        return None
    try:
        return parse_utc(value)
    except StoreError as exc:
        raise click.BadParameter(str(exc), param=param) from None


@cli.command("frames")
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="keilog database (from keilog import).",
)
@click.option(
    "--id",
    "ids",
    multiple=True,
    metavar="ID",
    callback=_ids,
    help="CAN identifier, 0x1D0 (hex) or 464; repeat for several. Default: every one.",
)
@click.option(
    "--from",
    "start",
    metavar="TIME",
    callback=_time,
    help="From this time: ISO 8601 (UTC unless +09:00 or Z) or Unix seconds.",
)
@click.option("--until", "end", metavar="TIME", callback=_time, help="Up to this time.")
@click.option("--trip", type=int, help="Only trip N (see keilog trips).")
@click.option("--json", "fmt", flag_value="json", help="One JSON array of frames.")
@click.option("--nl", "fmt", flag_value="nl", help="One JSON object a line.")
@click.option("--csv", "fmt", flag_value="csv", help="CSV with a header line.")
@click.option("-q", "--quiet", is_flag=True, help="No status line on stderr.")
@handle_errors
def frames_command(db_path: Path, ids: list[int], start: float | None, end: float | None,
                   trip: int | None, fmt: str | None, quiet: bool) -> None:  # fmt: skip
    """Print the raw CAN frames of identifiers, a time window and/or a trip.

    One indexed query finds the frames of an identifier in a window (docs/database.md).
    Default output: candump -L lines (keilog import reads them back); --json, --nl and
    --csv give schema 2's frames columns (id is the frame's number, data in hex).

    Example:

        \b
        keilog frames --db trips.db --id 0x1D0 --from 2026-06-01T14:01 --until 2026-06-01T14:02
        keilog frames --db trips.db --trip 3 --id 0x1D0 --id 0x3E8 --csv > trip3.csv
        keilog frames --db trips.db --from 1780322460 --until 1780322470 --nl
    """
    from keilog.store.framequery import print_frames

    out: Any = click.get_text_stream("stdout")
    n = print_frames(
        db_path, out, fmt or "candump", ids=ids or None, start=start, end=end, trip=trip
    )
    status(f"{n:,} frame(s)", quiet)
