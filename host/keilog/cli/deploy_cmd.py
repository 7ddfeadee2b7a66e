"""``keilog deploy``: compile the firmware, copy it and the config onto a board."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from keilog.cli.main import cli, handle_errors, status
from keilog.errors import ConfigError

if TYPE_CHECKING:
    pass


@cli.command("deploy")
@click.option("--port", default="auto", show_default=True, help="Serial port, or auto.")
@click.option("--board", "board_name", default=None, help="Board name; default: from the config.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="config.json from `keilog config`; default: log everything with the board's pins.",
)
@click.option(
    "--dry-run",
    "dry_run",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the exact install set into this directory instead of a board.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@handle_errors
def deploy_cmd(
    port: str,
    board_name: str | None,
    config_path: Path | None,
    dry_run: Path | None,
    quiet: bool,
) -> None:
    """Compile the firmware with mpy-cross for the board, copy it and config.json with
    mpremote, verify every file's hash on the board and print a JSON report.

    Refuses a board whose MicroPython has neither the machine.CAN nor the pyb.CAN the
    board needs, or lacks a module the logger imports.

    Example:

        \b
        keilog deploy --board pyboard_v11 --config config.json --port /dev/ttyACM0
    """
    from keilog.hardware import boards, deploy, devconfig

    config = devconfig.load_config(config_path) if config_path else None
    if board_name is None:
        if config is None:
            raise ConfigError("give --board or a --config that names its board")
        board_name = str(config.get("board"))
    board = boards.load_board(board_name)
    if config is None:
        config = devconfig.build_config(board).config
    if dry_run is not None:
        install = deploy.build_install_set(board, config, dry_run)
        status(f"wrote {len(install.files)} files to {dry_run} (firmware {install.version})", quiet)
        click.echo(json.dumps(install.manifest(), indent=2))
        return
    with tempfile.TemporaryDirectory(prefix="keilog-deploy-") as tmp:
        install = deploy.build_install_set(board, config, Path(tmp) / "install")
        report = deploy.deploy(
            board,
            install,
            deploy.MpremoteTransport(port),
            progress=None if quiet else lambda msg: status(msg),
        )
    for warning in report.warnings:
        status(f"warning: {warning}", quiet)
    click.echo(json.dumps(report.as_dict(), indent=2))
