"""Build keilog's offline boundary file of the land and water next to the US that is not
a US state: neighbouring countries and the US territories (host/keilog/geo/data/countries.npz).

Source: the time-zone polygons of timezone-boundary-builder (built from OpenStreetMap,
ODbL 1.0), as shipped offline by the PyPI packages ``timezonefinder`` and
``timezonefinder-data``. Their polygons follow national borders and include each
country's territorial water, so they know where Canada and Mexico start on land, in the
Great Lakes and in the rivers. A zone's country is its ISO 3166 code in the tz
database's ``zone.tab``.

Kept: every zone of Canada, Mexico, Russia, the Bahamas, Cuba and the British Virgin
Islands, clipped to the US states' bounding boxes grown by ``--margin`` degrees (no US
point can take a state through the water fallback beyond 25 km, so nothing further away
matters), and the whole zones of the US territories (PR, VI, GU, MP, AS, UM). The
polygons are simplified with topology kept at ``--tolerance`` degrees (default 0.0001,
about 11 m), quantised to 1e-5 degrees and delta-encoded like ``states.npz``.

Usage (from the repository root)::

    pip install timezonefinder
    python scripts/build_countries.py [--margin 0.5] [--tolerance 0.0001]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np
import shapely
from keilog.geo.states import StateIndex
from timezonefinder import TimezoneFinder

FOREIGN = ("CA", "MX", "RU", "BS", "CU", "VG")
TERRITORIES = ("PR", "VI", "GU", "MP", "AS", "UM")
QUANTUM = 1e-5
ZONE_TAB = Path("/usr/share/zoneinfo/zone.tab")


def zone_countries(path: Path = ZONE_TAB) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        cols = line.split("\t")
        out[cols[2].strip()] = cols[0].strip()
    return out


def zone_geometry(tf: TimezoneFinder, name: str) -> shapely.Geometry:
    polys = []
    for poly in tf.get_geometry(tz_name=name, coords_as_pairs=False):
        shell, *holes = (np.column_stack(ring) for ring in poly)
        polys.append(shapely.Polygon(shell, holes))
    return shapely.make_valid(shapely.union_all(polys))


def build(margin: float, tolerance: float, out: Path) -> dict[str, object]:
    tf = TimezoneFinder()
    country_of = zone_countries()
    states = StateIndex.load()
    region = shapely.union_all(
        [
            shapely.box(x0 - margin, y0 - margin, x1 + margin, y1 + margin)
            for x0, y0, x1, y1 in states.bounds
        ]
    )
    by_code: dict[str, list[shapely.Geometry]] = {}
    zones: dict[str, list[str]] = {}
    for name in tf.timezone_names:
        code = country_of.get(name)
        if code not in FOREIGN + TERRITORIES:
            continue
        geom = zone_geometry(tf, name)
        if code in FOREIGN:
            geom = shapely.intersection(geom, region)
        if geom.is_empty:
            continue
        by_code.setdefault(code, []).append(geom)
        zones.setdefault(code, []).append(name)
    codes = sorted(by_code)
    geoms = []
    for code in codes:
        g = shapely.union_all(by_code[code])
        g = shapely.simplify(g, tolerance, preserve_topology=True)
        g = shapely.set_precision(g, QUANTUM)
        g = shapely.make_valid(g) if not g.is_valid else g
        parts = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon"]
        geoms.append(shapely.multipolygons(parts))
    kind, coords, offsets = shapely.to_ragged_array(np.array(geoms))
    if kind != shapely.GeometryType.MULTIPOLYGON:
        raise SystemExit(f"unexpected geometry type {kind}")
    q = np.rint(coords / QUANTUM).astype(np.int64)
    delta = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).astype(np.int32)
    meta = {
        "source": "timezone-boundary-builder time-zone polygons (from OpenStreetMap, ODbL 1.0)",
        "via": f"PyPI timezonefinder with data release {tf.data_version}",
        "zones": zones,
        "territories": [c for c in codes if c in TERRITORIES],
        "margin_deg": margin,
        "simplification": f"shapely.simplify (topology kept), tolerance {tolerance} degrees",
        "tolerance_deg": tolerance,
        "quantum_deg": QUANTUM,
        "vertices_out": len(coords),
        "built": dt.date.today().isoformat(),
        "shapely": shapely.__version__,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        codes=np.array(codes),
        delta=delta,
        ring_offsets=offsets[0].astype(np.int32),
        polygon_offsets=offsets[1].astype(np.int32),
        part_offsets=offsets[2].astype(np.int32),
        meta=np.array(json.dumps(meta)),
    )
    meta["bytes"] = out.stat().st_size
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--margin", type=float, default=0.5)
    parser.add_argument("--tolerance", type=float, default=0.0001)
    parser.add_argument(
        "--out", type=Path, default=Path("host/keilog/geo/data/countries.npz"), help="output file"
    )
    args = parser.parse_args()
    print(json.dumps(build(args.margin, args.tolerance, args.out), indent=2))


if __name__ == "__main__":
    main()
