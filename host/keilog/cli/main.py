"""The click group and the error handling every command shares."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from keilog import __version__
from keilog.errors import KeilogError

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Each top-level command and the module that registers it (one line per command). A
# module is imported when its command runs or a help page lists it, so a run pays only
# for its own command's imports (``keilog where --file``: about 40 ms less of start-up).
COMMAND_MODULES = {
    "demo": "keilog.cli.demo_cmd",
    "import": "keilog.cli.import_cmd",
    "redecode": "keilog.cli.redecode_cmd",
    "firmware": "keilog.cli.firmware_cmd",
    "rules": "keilog.cli.rules_cmd",
    "where": "keilog.cli.geo_cmd",
    "roads": "keilog.cli.roads_cmd",
    "check": "keilog.cli.check_cmd",
    "hardware": "keilog.cli.hardware_cmd",
    "config": "keilog.cli.config_cmd",
    "deploy": "keilog.cli.deploy_cmd",
    "simulate": "keilog.cli.sim_cmd",
    "decode": "keilog.cli.decode_cmd",
    "dbc": "keilog.cli.decode_cmd",
    "report": "keilog.cli.report_cmd",
    "trips": "keilog.cli.report_cmd",
    "serve": "keilog.cli.report_cmd",
    "sync": "keilog.cli.sync_cmd",
    "export": "keilog.cli.export_cmd",
    "plot": "keilog.cli.export_cmd",
    "log": "keilog.cli.bus_cmd",
    "play": "keilog.cli.bus_cmd",
    "monitor": "keilog.cli.bus_cmd",
    "fleet": "keilog.cli.fleet_cmd",
    "calibrate": "keilog.cli.calibrate_cmd",
    "frames": "keilog.cli.frames_cmd",
}


class LazyGroup(click.Group):
    """A click group whose commands are registered by importing their module (see
    ``COMMAND_MODULES``) the first time they are asked for."""

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(COMMAND_MODULES[cmd_name])
        return super().get_command(ctx, cmd_name)  # type: ignore[arg-type]

    def list_commands(self, ctx: click.Context | None) -> list[str]:
        return sorted(set(COMMAND_MODULES) | set(self.commands))


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="keilog")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """keilog: telemetry logger for imported kei cars and kei trucks.

    Log CAN and GPS with the firmware, sync and import the logs, decode them with DBC
    files into SQLite, and check trips against US state low-speed rules.

    Example:

        \b
        keilog demo
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def handle_errors(fn: F) -> F:
    """Turn a KeilogError into ``Error: ...`` on stderr and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeilogError as exc:
            ctx = click.get_current_context(silent=True)
            if ctx is not None and ctx.find_root().obj and ctx.find_root().obj.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def status(message: str, quiet: bool = False) -> None:
    """Status lines go to stderr so that stdout stays data."""
    if not quiet:
        click.echo(message, err=True)
