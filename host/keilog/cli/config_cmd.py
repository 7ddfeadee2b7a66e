"""``keilog config``: build a logger's config.json from a board and DBC files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from keilog.cli.main import cli, handle_errors, status
from keilog.outputs import check_parent

if TYPE_CHECKING:
    pass


@cli.command("config")
@click.option("--board", "board_name", required=True, help="Board name (keilog hardware boards).")
@click.option(
    "--dbc",
    "dbc_paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="DBC whose messages to keep (repeatable). None: log every frame.",
)
@click.option(
    "--bitrate",
    type=click.Choice(["125000", "250000", "500000", "1000000"]),
    default="500000",
    show_default=True,
)
@click.option("--autobaud", is_flag=True, help="Try each bitrate in silent mode at boot.")
@click.option("--gps-rate", type=click.IntRange(1, 10), default=1, show_default=True, help="Hz.")
@click.option("--obd/--no-obd", default=False, show_default=True, help="Poll OBD-II PIDs.")
@click.option("--flush-ms", type=click.IntRange(50, 60000), default=1000, show_default=True)
@click.option(
    "--overwrite-unsynced", is_flag=True, help="When full, delete segments not yet synced."
)
@click.option("--min-free-mb", type=click.IntRange(0, 1024), default=1, show_default=True)
@click.option(
    "--sense",
    type=click.Choice(["obd", "ign"]),
    default="obd",
    show_default=True,
    help="Sense wired to OBD-II pin 16 (key = charging voltage) or to an IGN/ACC fuse.",
)
@click.option("--device-id", default=None, help="Name stored in every segment.")
@click.option(
    "--inputs",
    default="",
    metavar="LIST",
    help="Inputs wired, comma-separated: vss, tach, battery, coolant, fuel, oil, brake, "
    "lights, or all (each on the board's pin for it; hardware/README.md).",
)
@click.option("--can/--no-can", default=True, show_default=True, help="The car has a CAN bus.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--push",
    "push_port",
    default=None,
    metavar="PORT|auto",
    help="Also store the config on the installed logger over the sync link (it takes "
    "effect at the logger's next boot).",
)
@handle_errors
def config_cmd(
    board_name: str,
    dbc_paths: tuple[Path, ...],
    bitrate: str,
    autobaud: bool,
    gps_rate: int,
    obd: bool,
    flush_ms: int,
    overwrite_unsynced: bool,
    min_free_mb: int,
    sense: str,
    device_id: str | None,
    inputs: str,
    can: bool,
    output: Path | None,
    push_port: str | None,
) -> None:
    """Build config.json for BOARD, validated by the firmware's own schema.

    Hardware acceptance filters come from the message ids the DBC files define,
    merged into no more filters than the board's CAN controller has. The JSON goes to
    stdout, or to --output.

    With --push, the config also goes onto an installed logger over USB (the sync
    protocol), which checks it against its own schema before it keeps it.

    Example:

        \b
        keilog config --board pyboard_v11 --dbc dbc/keicar.dbc -o config.json

        \b
        keilog config --board pyboard_v11 --dbc dbc/keicar.dbc --push auto

        \b
        keilog config --board pyboard_v11 --no-can --inputs all -o config.json
    """
    from keilog.hardware import boards, devconfig

    if output is not None:
        check_parent(output, "--output")

    board = boards.load_board(board_name)
    result = devconfig.build_config(
        board,
        list(dbc_paths),
        bitrate=int(bitrate),
        autobaud=autobaud,
        gps_rate_hz=gps_rate,
        obd=obd,
        flush_ms=flush_ms,
        overwrite_unsynced=overwrite_unsynced,
        min_free_bytes=min_free_mb * 1024 * 1024,
        sense=sense,
        device_id=device_id,
        inputs=[name.strip() for name in inputs.split(",") if name.strip()],
        can=can,
    )
    if not can:
        status("no CAN: the logger logs GPS and its inputs")
    elif result.filters:
        status(
            f"{result.wanted_ids} CAN ids in {len(result.filters)} filters "
            f"(board has {board.can_filters['machine_can_max']}); "
            f"{result.extra_ids} other ids also pass"
        )
    else:
        status("no DBC ids: the logger keeps every frame")
    for note in result.notes:
        status(f"note: {note}")
    if output is None:
        click.echo(result.to_json(), nl=False)
    else:
        output.write_text(result.to_json(), encoding="utf-8")
        status(f"wrote {output}")
    if push_port is not None:
        from keilog.sync.devconf import push_config

        used = push_config(push_port, result.config)
        status(f"stored on the logger at {used}; it takes effect at the next boot")
