"""``keilog demo``."""

from __future__ import annotations

from pathlib import Path

import click

from keilog.cli.main import cli, handle_errors, status
from keilog.demo import run_demo


@cli.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("keilog-demo"),
    show_default=True,
    help="Folder for the database and the firmware's segments.",
)
@click.option("--duration", type=float, default=60.0, show_default=True, help="Seconds driven.")
@click.option("--speedup", type=float, default=20.0, show_default=True, help="Time compression.")
@handle_errors
def demo(out_dir: Path, duration: float, speedup: float) -> None:
    """Run the whole pipeline on built-in demo data.

    A simulated kei truck drives; its CAN frames go over a virtual bus to the real
    firmware on the MicroPython unix port, which writes log segments; keilog imports
    them into OUT/keilog.db and prints what happened.

    Example:

        keilog demo --out /tmp/keilog-demo
    """
    status(f"running the demo into {out_dir} ...")
    result = run_demo(out_dir, duration=duration, speedup=speedup)
    click.echo(result.summary())
