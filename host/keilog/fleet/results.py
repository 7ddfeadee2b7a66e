"""The check's results in the lake: written beside it, then swapped in whole.

``LAKE/results/`` holds ``trips`` (one row per checked trip), ``events`` (violations,
unverified stretches and crossings), ``daily`` (per vehicle and day) and ``driver_days``
as folders of Parquet files. An engine writes them into a hidden folder of the lake and
:func:`publish` renames it to ``results``, so a reader sees the old results or the new
ones, never a mix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keilog.errors import StoreError

if TYPE_CHECKING:
    import pyarrow as pa

TABLES = ("trips", "events", "daily", "driver_days")
# Rows of each table in a fixed order, so files compare equal across engines.
ORDER = {
    "trips": ("device_id", "date", "start", "trip_key"),
    "events": ("device_id", "date", "trip_key", "start", "kind", "rule", "duration_s"),
    "daily": ("device_id", "date"),
    "driver_days": ("driver", "date"),
}


def staging(lake: Path) -> Path:
    """A new hidden folder in the lake for an engine to write its results into."""
    return Path(tempfile.mkdtemp(prefix=".results-", dir=lake))


def publish(lake: Path, staged: Path) -> Path:
    """Replace ``LAKE/results`` by the staged folder (two renames; the old one is removed)."""
    final = lake / "results"
    old = lake / f".results-old-{os.getpid()}"
    if final.exists():
        os.rename(final, old)
    os.rename(staged, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def read_results(lake: Path) -> dict[str, pa.Table]:
    """Every results table, rows in ORDER (for the report, the tests and scripts)."""
    import pyarrow.dataset as ds

    out: dict[str, Any] = {}
    for name in TABLES:
        folder = lake / "results" / name
        if not folder.is_dir():
            raise StoreError(f"{lake}: no results/{name}; run keilog fleet check --lake {lake}")
        table = ds.dataset(folder, format="parquet").to_table()
        out[name] = table.sort_by([(k, "ascending") for k in ORDER[name]])
    return out
