"""The click group and the error handling every command shares."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from keilog import __version__
from keilog.errors import KeilogError

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
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
