"""Build the grid that settles most points of a big ``keilog where`` lookup
(host/keilog/geo/data/where_grid.npz) from the shipped boundary files.

Run it after ``scripts/build_states.py`` or ``scripts/build_countries.py``: the grid
records the SHA-256 of both files and is ignored (lookups stay exact, only slower) when
they change. See ``keilog.geo.grid`` for what a settled cell means.

Usage (from the repository root)::

    python scripts/build_where_grid.py [--out host/keilog/geo/data/where_grid.npz]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from keilog.geo.grid import EXACT, GRID_FILE, build_grid, source_digest
from keilog.geo.states import StateIndex


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=GRID_FILE, help="output file")
    args = parser.parse_args()
    t0 = time.perf_counter()
    arrays = build_grid(StateIndex.load(), source_digest())
    np.savez_compressed(args.out, **arrays)
    blocks = arrays["blocks"]
    exact = float(np.mean(blocks == EXACT)) if blocks.size else 0.0
    print(
        f"{args.out}: {len(blocks)} split cells, {exact:.1%} of their fine cells exact, "
        f"{args.out.stat().st_size:,} bytes, {time.perf_counter() - t0:.1f} s"
    )


if __name__ == "__main__":
    main()
