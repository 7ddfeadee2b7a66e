"""``keilog fleet``: many loggers in one Parquet lake, checked on DuckDB or Spark."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click

from keilog.cli.main import cli, handle_errors, status

ENGINES = ("duckdb", "spark")  # keilog.fleet.ENGINES, without importing the package here


def _every(quiet: bool, what: str) -> Callable[[int, int], None] | None:
    if quiet or not sys.stderr.isatty():
        return None
    return lambda n, total: status(f"{what} {n}/{total}", quiet)


@cli.group("fleet")
def fleet_group() -> None:
    """Many vehicles: ingest their logs into a Parquet lake, check and report the fleet.

    Example:

        \b
        keilog fleet simulate --vehicles 5 --days 2 --out demo-fleet
        keilog fleet ingest demo-fleet/segments --fleet demo-fleet/fleet.toml --lake lake
        keilog fleet check --lake lake
        keilog fleet report --lake lake --out fleet.html
    """


@fleet_group.command("simulate")
@click.option("--vehicles", default=10, show_default=True, help="Vehicles (loggers).")
@click.option("--days", default=2, show_default=True, help="Days of driving per vehicle.")
@click.option(
    "--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Folder."
)
@click.option("--seed", default=1, show_default=True, help="Random seed (same seed, same fleet).")
@click.option("--json", "as_json", is_flag=True, help="Print what was made as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No status lines on stderr.")
@handle_errors
def simulate_command(
    vehicles: int, days: int, out: Path, seed: int, as_json: bool, quiet: bool
) -> None:
    """Make a simulated fleet: segments per vehicle and its fleet.toml.

    Vehicles are based in several states (FL, TN, NC, TX, CO, ME, GA, OH) and classes;
    each drives two or three short trips a day, one logger boot and segment each.

    Example:

        \b
        keilog fleet simulate --vehicles 20 --days 7 --out fleet-sim
    """
    from keilog.fleet.simulate import simulate_fleet

    s = simulate_fleet(out, vehicles, days, seed=seed, progress=_every(quiet, "vehicle"))
    doc = {
        "vehicles": s.vehicles,
        "days": s.days,
        "trips": s.trips,
        "gps_fixes": s.fixes,
        "frames": s.frames,
        "bytes": s.bytes,
        "fleet_file": str(s.fleet_file),
        "segments": str(s.segments_dir),
    }
    if as_json:
        click.echo(json.dumps(doc))
    else:
        click.echo(
            f"{s.vehicles} vehicles x {s.days} days: {s.trips} trips in {s.segments_dir}, "
            f"fleet file {s.fleet_file}"
        )


@fleet_group.command("ingest")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--lake", required=True, type=click.Path(file_okay=False, path_type=Path), help="Lake folder."
)
@click.option(
    "--fleet",
    "fleet_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="fleet.toml (or .json) listing the vehicles; needed the first time.",
)
@click.option(
    "--dbc",
    "dbc_paths",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="DBC to decode segments with (default: the kei car DBC); repeat for several.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No status lines on stderr.")
@handle_errors
def ingest_command(
    inputs: tuple[Path, ...],
    lake: Path,
    fleet_file: Path | None,
    dbc_paths: tuple[Path, ...],
    as_json: bool,
    quiet: bool,
) -> None:
    """Bring segments (files, folders) or keilog databases into the fleet lake.

    Trips are partitioned by device and date; a partition is replaced atomically, and
    ingesting the same logs again writes nothing.

    Example:

        \b
        keilog fleet ingest archive/ --fleet fleet.toml --lake lake
        keilog fleet ingest truck7.db --lake lake -q
    """
    from keilog.fleet.lake import ingest

    result = ingest(
        list(inputs),
        lake,
        fleet_file,
        list(dbc_paths) or None,
        progress=_every(quiet, "trip"),
    )
    doc = result.to_dict()
    if as_json:
        click.echo(json.dumps(doc))
    else:
        click.echo(
            f"{lake}: {doc['trips_added']} trips added, {doc['trips_replaced']} replaced, "
            f"{doc['trips_unchanged']} already there; {doc['partitions_written']} partitions "
            "written"
        )


@fleet_group.command("check")
@click.option(
    "--lake",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Lake folder (from keilog fleet ingest).",
)
@click.option(
    "--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True, help="Engine."
)
@click.option(
    "--master",
    default="local[2]",
    show_default=True,
    help="Spark master for --engine spark (local[N] runs Spark on this machine).",
)
@click.option(
    "--roads",
    "roads_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Road file (keilog roads build) covering the fleet's area.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No status lines on stderr.")
@handle_errors
def check_command(
    lake: Path,
    engine: str,
    master: str,
    roads_path: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Check every trip of the lake against its state's rules (as keilog check does).

    Writes LAKE/results: trips, events (violations, unverified, crossings), daily (per
    vehicle and day) and driver_days, as Parquet. Not legal advice: see docs/rules.md.

    Example:

        \b
        keilog fleet check --lake lake
        keilog fleet check --lake lake --engine spark --master 'local[2]' --json
    """
    from keilog.fleet import check

    counts = check(lake, engine, roads_path, master, progress=_every(quiet, "trip"))
    if as_json:
        click.echo(json.dumps(counts))
    else:
        click.echo(
            f"{lake}: {counts['trips']} trips checked ({engine}), {counts['violations']} "
            f"violations; results in {lake / 'results'}"
        )


@fleet_group.command("report")
@click.option(
    "--lake",
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Lake folder, after keilog fleet check.",
)
@click.option(
    "--out",
    default="fleet-report.html",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to write.",
)
@click.option("-q", "--quiet", is_flag=True, help="No status lines on stderr.")
@handle_errors
def report_command(lake: Path, out: Path, quiet: bool) -> None:
    """Write the fleet report: per vehicle, per vehicle-day and driver-day, violations.

    Example:

        \b
        keilog fleet report --lake lake --out fleet.html
    """
    from keilog.fleet.page import write_report

    write_report(lake, out)
    status(f"wrote {out}", quiet)
