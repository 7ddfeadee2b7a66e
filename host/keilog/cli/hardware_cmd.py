"""``keilog hardware``: board pin maps, hold-up capacitor sizing, wiring diagrams."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from keilog.cli.main import cli, handle_errors, status

if TYPE_CHECKING:
    pass


@cli.group("hardware")
def hardware_group() -> None:
    """Boards, pin maps and the power arithmetic of hardware/README.md.

    Example:

        \b
        keilog hardware boards
        keilog hardware holdup --flush-ms 200
        keilog hardware wiring
    """


@hardware_group.command("boards")
@click.option("--json", "as_json", is_flag=True, help="Print the full pin maps as JSON.")
@handle_errors
def boards_cmd(as_json: bool) -> None:
    """List the boards keilog supports, with their CAN driver and mpy-cross arch.

    Example:

        \b
        keilog hardware boards --json
    """
    from keilog.hardware import boards

    all_boards = list(boards.iter_boards())
    if as_json:
        click.echo(json.dumps({b.name: b.data for b in all_boards}, indent=2))
        return
    for b in all_boards:
        click.echo(
            f"{b.name}\t{b.role}\t{'/'.join(b.can_drivers)}\t-march={b.mpy_cross_arch}\t{b.title}"
        )


@hardware_group.command("holdup")
@click.option(
    "--flush-ms",
    type=float,
    multiple=True,
    help="Worst flush time in ms (repeatable). Default: the 50 and 200 ms placeholders.",
)
@click.option(
    "--bench",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Take the worst flush time from `python -m bench --json` output.",
)
@click.option("--load-w", type=float, help="Measured 5 V rail power in W (default: budget).")
@click.option("--start-v", type=float, default=11.0, show_default=True, help="Supply less diode.")
@click.option("--min-v", type=float, default=6.0, show_default=True, help="Buck minimum input.")
@handle_errors
def holdup_cmd(
    flush_ms: tuple[float, ...],
    bench: Path | None,
    load_w: float | None,
    start_v: float,
    min_v: float,
) -> None:
    """Size the hold-up capacitor for a worst-case flush time (JSON to stdout).

    Example:

        \b
        keilog hardware holdup --bench bench.json --load-w 1.1
    """
    from keilog.hardware import power

    times = list(flush_ms)
    if bench is not None:
        times.append(power.flush_ms_from_bench(bench))
        status(f"firmware_flush_ms_max from {bench}: {times[-1]:g} ms")
    if not times:
        times = [50.0, 200.0]
        status("no --flush-ms or --bench: using the 50 and 200 ms placeholders")
    holdup = power.HoldUp(
        load_w=load_w if load_w is not None else power.rail_load_w(), start_v=start_v, min_v=min_v
    )
    rows = power.holdup_table(times, holdup)
    click.echo(json.dumps([row.as_dict() for row in rows], indent=2))


@hardware_group.command("wiring")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@handle_errors
def wiring_cmd(directory: Path | None) -> None:
    """Draw hardware/wiring/<board>.svg from every board's pin map.

    Example:

        \b
        keilog hardware wiring /tmp/wiring
    """
    from keilog.hardware import wiring

    for path in wiring.write_all(directory):
        click.echo(str(path))
