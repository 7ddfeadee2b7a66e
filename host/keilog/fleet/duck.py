"""The fleet check on one machine: DuckDB streams the lake, the rules check runs per trip.

DuckDB reads every partition's Parquet (``read_parquet``, no server) in record batches,
so memory is bounded by a batch, not the lake; each trip goes through
:func:`keilog.fleet.tripcheck.check_row`; DuckDB then makes the per-day and per-driver
summaries (the SQL Spark runs too) and writes every table as Parquet.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from keilog.errors import StoreError
from keilog.fleet.config import VehicleEntry
from keilog.fleet.lake import read_vehicles, trip_files, vehicles_schema
from keilog.fleet.results import ORDER, publish, staging
from keilog.fleet.tripcheck import (
    DAILY_SQL,
    DRIVER_DAY_SQL,
    EVENT_COLUMNS,
    RESULT_COLUMNS,
    arrow_schema,
    check_row,
    event_rows,
)

if TYPE_CHECKING:
    import pyarrow as pa

BATCH_ROWS = 256  # trips per record batch (a trip is ~1,000 samples per list column)


def batch_rows(batch: pa.RecordBatch) -> Iterator[dict[str, Any]]:
    """A batch's rows as dicts, list columns as numpy views (no Python float per sample)."""
    import pyarrow as pa

    cols: dict[str, list[Any]] = {}
    for name in batch.schema.names:
        col = batch.column(name)
        if pa.types.is_list(col.type):
            offsets = col.offsets.to_numpy()
            values = col.values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
            cols[name] = [values[offsets[i] : offsets[i + 1]] for i in range(len(col))]
        else:
            cols[name] = col.to_pylist()
    for i in range(batch.num_rows):
        yield {name: c[i] for name, c in cols.items()}


def check_lake_duckdb(
    lake: Path,
    roads_path: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Check every trip of the lake and write ``LAKE/results``; returns counts."""
    import duckdb

    vehicles = {v.device_id: v for v in read_vehicles(lake)}
    files = [str(p) for p in trip_files(lake)]
    con = duckdb.connect()
    try:
        return _check(con, lake, vehicles, files, roads_path, progress)
    except duckdb.Error as exc:
        raise StoreError(
            f"{lake}: DuckDB could not read the lake ({str(exc).splitlines()[0]}); remove the "
            "partition it names and ingest that device's logs again"
        ) from None
    finally:
        con.close()


def _check(
    con: Any,
    lake: Path,
    vehicles: dict[str, VehicleEntry],
    files: list[str],
    roads_path: Path | None,
    progress: Callable[[int, int], None] | None,
) -> dict[str, int]:
    import pyarrow as pa

    total = con.sql(
        "select count(*) from read_parquet($files, hive_partitioning = false)",
        params={"files": files},
    ).fetchall()
    n_trips = int(total[0][0])
    reader = con.sql(
        "select * from read_parquet($files, hive_partitioning = false) "
        "order by device_id, date, start",
        params={"files": files},
    ).to_arrow_reader(BATCH_ROWS)
    results: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    roads = str(roads_path) if roads_path else None
    for batch in reader:
        for row in batch_rows(batch):
            res = check_row(row, vehicles[row["device_id"]], roads)
            results.append(res)
            events.extend(event_rows(res))
            if progress is not None:
                progress(len(results), n_trips)
    trips_t = pa.Table.from_pylist(results, schema=arrow_schema(RESULT_COLUMNS))
    events_t = pa.Table.from_pylist(events, schema=arrow_schema(EVENT_COLUMNS))
    vehicles_t = pa.Table.from_pylist(
        [v.to_row() for v in vehicles.values()], schema=vehicles_schema()
    )
    con.register("trips", trips_t)
    con.register("events", events_t)
    con.register("vehicles", vehicles_t)
    con.execute(f"create table daily as {DAILY_SQL}")
    con.execute(f"create table driver_days as {DRIVER_DAY_SQL}")
    out = staging(lake)
    try:
        for name in ORDER:
            (out / name).mkdir()
            order = ", ".join(f'"{k}"' for k in ORDER[name])
            target = str(out / name / "part-0.parquet").replace("'", "''")
            con.execute(
                f"copy (select * from {name} order by {order}) to '{target}' "
                "(format parquet, compression zstd)"
            )
        publish(lake, out)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return {
        "trips": len(results),
        "events": len(events),
        "violations": sum(r["violations"] for r in results),
        "fixes": sum(r["fixes"] for r in results),
        "speed_frames": sum(r["speed_frames"] for r in results),
    }
