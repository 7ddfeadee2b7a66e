"""``keilog check``: did logged trips keep to the rules of the states they went through?"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from keilog.cli.main import cli, handle_errors, status
from keilog.rules import CLASSES, RoadJudged

# Exit status of --fail-on-violation when a trip broke a rule: 1 is an error, 2 a usage
# error (click), so a script can tell "the check ran and found violations" apart.
EXIT_VIOLATION = 3

if TYPE_CHECKING:
    pass


def _text(report: dict[str, Any]) -> str:
    v = report["vehicle"]
    lines = [f"{v['name']}: class {v['class']} (not legal advice; see docs/rules.md)"]
    for trip in report["trips"]:
        lines.append(
            f"trip {trip['id']}: {trip['start'] or 'time unknown'} .. {trip['end'] or ''} "
            f"{'/'.join(trip['states']) or 'no state'} {trip['distance_mi']} mi: "
            f"{trip['verdict'].upper()} (speed from {trip['speed_source']['source']})"
        )
        judged = RoadJudged.from_json(trip.get("road_judged"))
        if judged is not None:
            lines.append(f"  roads judged: {judged.text}")
        for e in trip["violations"]:
            detail = ""
            if e["rule"] == "road_max_posted":
                detail = (
                    f" on a road posted {e['observed_mph']:g} mph (class max {e['limit_mph']:g})"
                )
                statute = e.get("road_limit_source")
                if e.get("road_limit_basis") == "statutory_default" and statute:
                    low, high = statute.get("range_mph") or (e["observed_mph"],) * 2
                    limit = (
                        f"{low:g} mph"
                        if low == high
                        else f"at least {low:g} mph ({low:g}-{high:g})"
                    )
                    detail = (
                        f" on an unposted road whose limit by statute is {limit} "
                        f"(class max {e['limit_mph']:g}; {statute['cite']}; "
                        f"{e.get('confidence', 'low')} confidence)"
                    )
            elif "limit_mph" in e:
                detail = f" at {e['observed_mph']} mph (cap {e['limit_mph']:g} mph)"
            elif "road_class" in e:
                detail = f" on {', '.join(e['road_class'])}"
            flags = " [near border]" if e["near_border"] else ""
            lines.append(
                f"  VIOLATION {e['rule']} in {e['state']} {e['start'] or ''} for "
                f"{e['duration_s']} s{detail}{flags} ({e['source']})"
            )
        for e in trip["unverified"]:
            lines.append(
                f"  unverified {e['rule']} in {e['state']} for {e['duration_s']} s: {e['reason']}"
            )
    return "\n".join(lines)


@cli.command("check")
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="keilog database (from keilog import).",
)
@click.option(
    "--vehicle",
    "vehicle_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help='Vehicle file: {"name", "registration_state", "class", "lights"}.',
)
@click.option("--state", help="Registration state (with --class, instead of --vehicle).")
@click.option("--class", "vehicle_class", type=click.Choice(CLASSES), help="Registration class.")
@click.option(
    "--roads",
    "roads_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Road file from keilog roads build (without it road rules are unverified).",
)
@click.option("--trip", type=int, help="Check only this trip number.")
@click.option("--json", "as_json", is_flag=True, help="Output the JSON report.")
@click.option(
    "--store/--no-store",
    "keep",
    default=True,
    show_default=True,
    help="Keep the result in the database (keilog report and serve show the latest).",
)
@click.option(
    "--fail-on-violation",
    is_flag=True,
    help=f"Exit {EXIT_VIOLATION} when any checked trip has a violation (for scripts).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@handle_errors
def check_command(
    db_path: Path,
    vehicle_file: Path | None,
    state: str | None,
    vehicle_class: str | None,
    roads_path: Path | None,
    trip: int | None,
    as_json: bool,
    keep: bool,
    fail_on_violation: bool,
    quiet: bool,
) -> None:
    """Check logged trips against the rules for the vehicle's registration class.

    For every GPS fix: which state, which road (with --roads), which rule was in force
    there on that date; violations come out as debounced events with the rule's source,
    and what keilog could not verify (unknown rules, unposted roads, GPS dropouts, local
    ordinances) is listed as unverified. Not legal advice: see docs/rules.md.

    Example:

        \b
        keilog check --db trips.db --state FL --class mini_truck --roads fl.roads.npz
        keilog check --db trips.db --vehicle my-hijet.json --trip 3 --json
        keilog check --db trips.db --state TN --class mini_truck --fail-on-violation -q
    """
    from keilog.rules.check import check_database
    from keilog.rules.vehicle import Vehicle, load_vehicle

    if vehicle_file is not None:
        if state or vehicle_class:
            raise click.UsageError("give either --vehicle or --state/--class, not both")
        vehicle = load_vehicle(vehicle_file)
    elif vehicle_class:
        vehicle = Vehicle(name="vehicle", registration_state=state, vehicle_class=vehicle_class)
    else:
        raise click.UsageError("give --vehicle FILE, or --class CLASS (and --state XX)")
    report = check_database(
        db_path,
        vehicle,
        roads_path=roads_path,
        trip=trip,
        progress=None if quiet else lambda n, total: status(f"checked trip {n}/{total}", quiet),
    )
    if keep:
        from keilog.store.checks import save_check

        n = save_check(db_path, report)
        status(f"stored as check {n} in {db_path}", quiet)
    click.echo(json.dumps(report, indent=2) if as_json else _text(report))
    if fail_on_violation and any(t["verdict"] == "violations" for t in report["trips"]):
        sys.exit(EXIT_VIOLATION)
