"""``keilog roads``: build the road file ``keilog check --roads`` uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from keilog.cli.main import cli, handle_errors, status

if TYPE_CHECKING:
    pass


@cli.group("roads")
def roads_group() -> None:
    """OpenStreetMap roads for the rule check and the report's offline base map.

    Example:

        \b
        keilog roads build florida-latest.osm.pbf --out florida.roads.npz
    """


@roads_group.command("build")
@click.argument("extract", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Road file to write (default: EXTRACT with .roads.npz).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress on stderr.")
@handle_errors
def roads_build(extract: Path, out: Path | None, quiet: bool) -> None:
    """Read the car roads of an OSM EXTRACT (.osm.pbf or .osm) into a road file.

    Keeps each way's class, ref, maxspeed (parsed: "35 mph", km/h, bare numbers read the
    stricter way), oneway flag and geometry, and the offline base map keilog report draws
    around a trip: tracks, water (lakes, rivers, streams, coastline) and the names of
    cities, towns, villages and hamlets. Prints a JSON summary on stdout (counts and the
    file's size). Reading takes time and RAM that grow with the extract: about a second
    for Monaco's 0.6 MB extract; expect minutes for a state's.

    Where to get an extract: Geofabrik's download server has one per US state, updated
    daily, at https://download.geofabrik.de/north-america/us/STATE-latest.osm.pbf (STATE
    in lower case with hyphens: florida, north-carolina); the page
    https://download.geofabrik.de/north-america/us.html lists each file's size (tens of MB
    for small states, over 1 GB for California). Build the road file once per extract;
    rebuild it when you download a newer one. See docs/rules.md.

    Example:

        \b
        curl -O https://download.geofabrik.de/north-america/us/florida-latest.osm.pbf
        keilog roads build florida-latest.osm.pbf --out florida.roads.npz
        keilog check --db trips.db --state FL --class mini_truck --roads florida.roads.npz
        keilog report --db trips.db --roads florida.roads.npz --out trip.html
    """
    from keilog.roads import build_roads

    if out is None:
        name = extract.name
        for suffix in (".osm.pbf", ".osm.bz2", ".osm", ".pbf"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        out = extract.with_name(name + ".roads.npz")
    summary = build_roads(
        extract, out, progress=None if quiet else lambda n: status(f"{n} ways read", quiet)
    )
    status(f"wrote {summary.ways} roads to {out}", quiet)
    click.echo(json.dumps(summary.to_dict()))
