"""``keilog where``: which state a position is in, offline; one point or a file of them."""

from __future__ import annotations

import json
from typing import BinaryIO

import click

from keilog.cli.main import cli, handle_errors


@cli.command("where", context_settings={"ignore_unknown_options": True})
@click.argument("lat", type=float, required=False)
@click.argument("lon", type=float, required=False)
@click.option(
    "--file",
    "points_file",
    type=click.File("rb"),
    help="A CSV file of points: LAT,LON first or a lat,lon header; '-' reads standard input.",
)
@click.option("--json", "as_json", is_flag=True, help="One point: output JSON.")
@click.option("--nl", is_flag=True, help="With --file: output JSON lines instead of CSV.")
@handle_errors
def where_command(
    lat: float | None,
    lon: float | None,
    points_file: BinaryIO | None,
    as_json: bool,
    nl: bool,
) -> None:
    """Print the two-letter state (or DC) that LAT LON (degrees, WGS84) is in.

    Works offline. The country comes first: points in Canada, Mexico or another
    neighbour (land or its territorial water) print "none (outside the US: ...)", and
    points in Puerto Rico, the US Virgin Islands, Guam, the Northern Mariana Islands or
    American Samoa are named as US territories keilog has no rules for. Points over US
    water (bridges, lakes, GPS drift) take the nearest state within 25 km and are marked
    low confidence; points within the boundary error budget of another state or country
    are marked near border.

    With --file, every row of a CSV file (or standard input, '-') is looked up at once,
    with the same answers, hundreds of thousands of points a second. The file has LAT,LON as
    its first two columns, or a header naming them (lat/latitude, lon/lng/longitude, in
    any position); other columns are kept. Output on standard output: CSV (each input
    row plus state, country, territory, covered, confidence, method, near_border,
    distance_m) or, with --nl, JSON lines (lat, lon and the fields of --json).

    Example:

        \b
        keilog where 29.6516 -82.3248
        keilog where 33.4250 -94.0395 --json
        keilog where --file trip.csv > trip-states.csv
        cat trip.csv | keilog where --file - --nl
    """
    from keilog.geo import NEAR_BORDER_M, GeoError, load_states, where

    if points_file is not None:
        if lat is not None:
            raise click.UsageError("give either LAT LON or --file, not both")
        from keilog.geo.batch import where_file
        from keilog.geo.grid import WhereGrid

        name = str(getattr(points_file, "name", "<stdin>"))
        fmt = "jsonl" if nl else "csv"
        out = where_file(points_file.read(), name, load_states(), fmt, WhereGrid.load())
        stdout = click.get_binary_stream("stdout")
        stdout.write(out)
        stdout.flush()
        return
    if lat is None or lon is None:
        raise click.UsageError("give LAT LON (degrees) or --file FILE")
    w = where(lat, lon)
    if w.state is None and w.country is None:
        try:
            swapped = where(lon, lat)
        except GeoError:
            swapped = None
        if swapped is not None and swapped.state is not None:
            click.echo(f"hint: LAT LON swapped? {lon} {lat} is in {swapped.state}", err=True)
    if as_json:
        click.echo(json.dumps({"lat": lat, "lon": lon, **w.to_dict()}))
        return
    if w.state is None:
        click.echo("none" if w.method == "none" else f"none ({w.place})")
        return
    notes = [f"{w.confidence} confidence"]
    if w.method == "nearest":
        notes.append(f"over water: nearest state, {w.distance_m:.0f} m away")
    if w.near_border:
        notes.append(f"near border: another state or country is within {NEAR_BORDER_M:.0f} m")
    click.echo(f"{w.state} ({'; '.join(notes)})")
