"""``keilog demo``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from keilog.cli.main import cli, handle_errors, status

if TYPE_CHECKING:
    pass


@cli.command()
@click.option(
    "--scenario",
    default=None,
    metavar="NAME|FILE",
    help="Scenario file, or the name of a built-in one (keilog simulate --list). "
    "Default: the built-in demo drive.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("keilog-demo"),
    show_default=True,
    help="Folder for the database, check.json, report.html and the segments.",
)
@click.option("--speedup", type=float, default=20.0, show_default=True, help="Time compression.")
@click.option("--as-fast-as-possible", "afap", is_flag=True, help="No pacing at all.")
@click.option("--duration", type=float, default=None, help="Stop the drive after seconds.")
@click.option("-q", "--quiet", is_flag=True, help="No status lines on stderr.")
@handle_errors
def demo(
    scenario: str | None,
    out_dir: Path,
    speedup: float,
    afap: bool,
    duration: float | None,
    quiet: bool,
) -> None:
    """Run the whole pipeline on a scenario (built-in demo data by default).

    A simulated kei truck drives the scenario; its CAN frames go over a virtual bus
    and its GPS sentences over a FIFO to the real firmware on the MicroPython unix
    port, which writes log segments; keilog imports them into OUT/keilog.db, checks
    the trip against the state rules (OUT/check.json) and writes OUT/report.html.

    Example:

        \b
        keilog demo --out /tmp/keilog-demo
    """
    from keilog.demo import run_demo

    result = run_demo(
        out_dir,
        scenario=scenario,
        speedup=None if afap else speedup,
        duration=duration,
        status=lambda msg: status(msg, quiet),
    )
    click.echo(result.summary())
