"""``keilog firmware run``: the firmware on the MicroPython unix port."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from keilog.cli.main import cli, handle_errors

if TYPE_CHECKING:
    pass


@cli.group("firmware")
def firmware_group() -> None:
    """Run the logger firmware on this computer (MicroPython unix port).

    Example:

        \b
        keilog config --board pyboard_v11 --dbc dbc/keicar.dbc -o cfg.json
        keilog firmware run cfg.json --timeout 10
    """


@firmware_group.command("run")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--device-id", default="unix", show_default=True, help="Device id in segments.")
@click.option("--timeout", type=float, default=None, help="Kill the firmware after seconds.")
@handle_errors
def run(config: Path, device_id: str, timeout: float | None) -> None:
    """Run firmware/main.py under `micropython` with CONFIG (docs/firmware-unix.md).

    The same as `KEILOG_CONFIG=CONFIG micropython firmware/main.py`.

    Example:

        \b
        keilog firmware run cfg.json
    """
    from keilog.unixport import firmware

    proc = firmware.start(config, device_id=device_id, stderr=None)
    firmware.wait(proc, timeout=timeout if timeout else 10**9)
