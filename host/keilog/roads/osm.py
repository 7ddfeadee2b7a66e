"""Read the roads of an OpenStreetMap extract into keilog's road file.

``build_roads`` reads a ``.osm`` / ``.osm.pbf`` / ``.osm.bz2`` extract with pyosmium, keeps
the ways a car may drive on (``highway=motorway`` ... ``residential``, ``service``,
``living_street``, the ``*_link`` roads and ``road``) with their class, ``ref``,
``maxspeed`` (parsed, see ``keilog.roads.maxspeed``), ``oneway`` and geometry, and writes
them as a compressed ``.npz`` (numpy arrays, no pickle) that ``RoadIndex`` loads. The
same pass collects the offline base map (minor roads, water, place names; see
``keilog.roads.basemap``), stored in the same file as ``base_*`` arrays.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import shapely

from keilog.roads.basemap import OSM_KEYS, BaseMapCollector
from keilog.roads.errors import RoadsError
from keilog.roads.maxspeed import road_limit

__all__ = ["CAR_HIGHWAYS", "FORMAT_VERSION", "BuildSummary", "RoadsError", "build_roads"]

FORMAT_VERSION = 1

CAR_HIGHWAYS = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "road",
)


@dataclass(frozen=True)
class BuildSummary:
    """What ``build_roads`` kept and skipped."""

    out: Path
    ways: int
    skipped_incomplete: int
    limits: dict[str, int]
    basemap: dict[str, int]
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "ways": self.ways,
            "skipped_incomplete": self.skipped_incomplete,
            "limits": self.limits,
            "basemap": self.basemap,
            "size_bytes": self.size_bytes,
        }


def _oneway(tags: Any) -> int:
    value = tags.get("oneway")
    if value in ("yes", "true", "1"):
        return 1
    if value in ("-1", "reverse"):
        return -1
    if value is None and tags.get("highway") in ("motorway", "motorway_link"):
        return 1  # OSM: motorways are one-way unless tagged otherwise
    if value is None and tags.get("junction") == "roundabout":
        return 1
    return 0


def build_roads(
    extract: Path,
    out: Path,
    progress: Callable[[int], None] | None = None,
) -> BuildSummary:
    """Read ``extract`` and write the road file ``out``; returns counts.

    Ways whose nodes are missing from the extract (cut at its edge) cannot be placed and
    are counted in ``skipped_incomplete``. The base map is read in the same pass (osmium
    reads the relations once more first, to assemble multipolygon water areas).
    """
    extract = Path(extract)
    if not extract.is_file():
        raise RoadsError(f"{extract}: no such file; download an OSM extract (.osm.pbf) first")
    factory = osmium.geom.WKBFactory()
    wkb: list[str] = []
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "way_id",
            "highway",
            "ref",
            "name",
            "maxspeed",
            "limit_mph",
            "limit_status",
            "oneway",
            "motorroad",
            "expressway",
            "dual",
        )
    }
    skipped = 0
    base = BaseMapCollector(factory)
    water = osmium.filter.TagFilter(
        ("natural", "water"), ("waterway", "riverbank"), ("landuse", "reservoir")
    )
    try:
        processor = (
            osmium.FileProcessor(
                str(extract), osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION
            )
            .with_locations()
            .with_areas(water)
            .with_filter(osmium.filter.KeyFilter(*OSM_KEYS))
        )
        for obj in processor:
            if isinstance(obj, osmium.osm.Node):
                base.node(obj)
                continue
            if isinstance(obj, osmium.osm.Area):
                base.area(obj)
                continue
            if not isinstance(obj, osmium.osm.Way):
                continue
            tags = obj.tags
            base.way(obj)
            highway = tags.get("highway")
            if highway not in CAR_HIGHWAYS:
                continue
            try:
                geometry = factory.create_linestring(obj)
            except (osmium.InvalidLocationError, RuntimeError):
                skipped += 1
                continue
            limit = road_limit(
                tags.get("maxspeed"), tags.get("maxspeed:forward"), tags.get("maxspeed:backward")
            )
            wkb.append(geometry)
            cols["way_id"].append(obj.id)
            cols["highway"].append(highway)
            cols["ref"].append(tags.get("ref", ""))
            cols["name"].append(tags.get("name", ""))
            cols["maxspeed"].append(limit.raw or "")
            cols["limit_mph"].append(math.nan if limit.mph is None else limit.mph)
            cols["limit_status"].append(limit.status)
            cols["oneway"].append(_oneway(tags))
            cols["motorroad"].append(tags.get("motorroad") == "yes")
            cols["expressway"].append(tags.get("expressway") == "yes")
            cols["dual"].append(tags.get("dual_carriageway") == "yes")
            if progress is not None and len(wkb) % 10000 == 0:
                progress(len(wkb))
    except RuntimeError as exc:
        raise RoadsError(f"{extract}: cannot read as OpenStreetMap data ({exc})") from None
    base_arrays = base.arrays()
    lines = shapely.from_wkb(np.array(wkb, dtype=object)) if wkb else np.array([], dtype=object)
    if len(lines):
        _, coords, (offsets,) = shapely.to_ragged_array(lines)
    else:
        coords, offsets = np.zeros((0, 2)), np.zeros(1, dtype=np.int64)
    limits = {s: cols["limit_status"].count(s) for s in sorted(set(cols["limit_status"]))}
    meta = {
        "format": FORMAT_VERSION,
        "extract": extract.name,
        "built": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "ways": len(wkb),
        "skipped_incomplete": skipped,
        "limits": limits,
        "basemap": base.meta(),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = dict(
        coords=np.asarray(coords, dtype=np.float64),
        offsets=np.asarray(offsets, dtype=np.int64),
        way_id=np.array(cols["way_id"], dtype=np.int64),
        highway=np.array(cols["highway"], dtype=str),
        ref=np.array(cols["ref"], dtype=str),
        name=np.array(cols["name"], dtype=str),
        maxspeed=np.array(cols["maxspeed"], dtype=str),
        limit_mph=np.array(cols["limit_mph"], dtype=np.float64),
        limit_status=np.array(cols["limit_status"], dtype=str),
        oneway=np.array(cols["oneway"], dtype=np.int8),
        motorroad=np.array(cols["motorroad"], dtype=bool),
        expressway=np.array(cols["expressway"], dtype=bool),
        dual=np.array(cols["dual"], dtype=bool),
        meta=np.array(json.dumps(meta)),
        **base_arrays,
    )
    with out.open("wb") as fh:
        np.savez_compressed(fh, **arrays)
    counts = {k: base.meta()[k] for k in ("lines", "areas", "places")}
    return BuildSummary(out, len(wkb), skipped, limits, counts, out.stat().st_size)
