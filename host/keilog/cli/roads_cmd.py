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
    """OpenStreetMap roads for the rule check.

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
    stricter way), oneway flag and geometry. Prints a JSON summary on stdout. Big state
    extracts take a while and need RAM for every node location.

    Where to get an extract: a per-state OpenStreetMap extract from a public mirror such
    as Geofabrik's download server (download.geofabrik.de, North America, United States:
    e.g. florida-latest.osm.pbf), which lists each file's size before you download it.
    Build the road file once per extract; rebuild when you download a newer one.

    Example:

        \b
        keilog roads build florida-latest.osm.pbf --out florida.roads.npz
        keilog check --db trips.db --state FL --class mini_truck --roads florida.roads.npz
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
