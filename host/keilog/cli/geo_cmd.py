"""``keilog where``: which state a position is in, offline."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from keilog.cli.main import cli, handle_errors

if TYPE_CHECKING:
    pass


@cli.command("where", context_settings={"ignore_unknown_options": True})
@click.argument("lat", type=float)
@click.argument("lon", type=float)
@click.option("--json", "as_json", is_flag=True, help="Output JSON.")
@handle_errors
def where_command(lat: float, lon: float, as_json: bool) -> None:
    """Print the two-letter state (or DC) that LAT LON (degrees, WGS84) is in.

    Works offline from the Census boundaries keilog ships. Points over water (bridges,
    GPS drift) take the nearest state within 25 km and are marked low confidence; points
    within the boundary error budget of another state are marked near border. Prints
    "none" outside the US.

    Example:

        \b
        keilog where 29.6516 -82.3248
        keilog where 33.4250 -94.0395 --json
    """
    from keilog.geo import NEAR_BORDER_M, where

    w = where(lat, lon)
    if as_json:
        click.echo(json.dumps({"lat": lat, "lon": lon, **w.to_dict()}))
        return
    if w.state is None:
        click.echo("none")
        return
    notes = [f"{w.confidence} confidence"]
    if w.method == "nearest":
        notes.append(f"over water: nearest state, {w.distance_m:.0f} m away")
    if w.near_border:
        notes.append(f"near border: another state is within {NEAR_BORDER_M:.0f} m")
    click.echo(f"{w.state} ({'; '.join(notes)})")
