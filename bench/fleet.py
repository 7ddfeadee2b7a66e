"""The fleet check: DuckDB over the Parquet lake, how it scales, and Spark's local mode.

A simulated fleet (``keilog.fleet.simulate``: 10-minute trips, a GPS fix and an ABS
speed frame per second, two or three trips per vehicle-day, in eight states) is ingested
into a lake; then:

- fleet_check_duckdb_trips_per_s: ``keilog fleet check`` (DuckDB) over the whole fleet,
  100 vehicles x 30 days (``--quick``: 10 x 3), vs the status quo, ``keilog check``
  (``check_database``) on one SQLite database per vehicle, on the first 10 vehicles (the
  databases are imported before the clock starts).
- fleet_check_duckdb_samples_per_s: the same run in GPS fixes + CAN speed frames per
  second (the samples the check reads), vs the same reference.
- fleet_check_s_per_vehicle_scaling: seconds per vehicle checking 100 vehicles (``--quick``:
  10) vs checking 10 (``--quick``: 2) with the same days; ratio 1.0 is flat cost per vehicle.
- fleet_check_spark_local_trips_per_s: the Spark engine in local mode (``local[2]`` on this
  machine: no cluster, the JVM already started) on the 10-vehicle lake, vs DuckDB on the
  same lake. Labelled local mode: on one machine Spark pays for serialising every trip to
  its Python workers; its point is running the same job on many machines (docs/fleet.md).

``--quick`` (65 trips) is a smoke run: there the fixed cost of a run (DuckDB, writing the
four result tables, the swap) outweighs the trips, and the ratios say little.

Printed beside (``floor_*``): the rules check alone (``check_trip`` on trips already in
memory), which bounds every engine from above.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from keilog import paths
from keilog.decode.dbc import load_databases
from keilog.fleet import check
from keilog.fleet.config import load_fleet
from keilog.fleet.lake import ingest
from keilog.fleet.simulate import simulate_fleet
from keilog.rules.check import check_database
from keilog.store import import_files

from bench import entry


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _lake(sim_dir: Path, devices: list[str], fleet_file: Path, lake: Path) -> None:
    ingest([sim_dir / "segments" / d for d in devices], lake, fleet_file)


def _spark(lake: Path) -> tuple[float, float] | None:
    """(seconds to check, seconds to start the session), or None without Spark/Java."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        print("bench fleet: pyspark is not installed; no Spark figure", file=sys.stderr)
        return None
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        print("bench fleet: no Java runtime; no Spark figure", file=sys.stderr)
        return None
    from keilog.fleet.results import publish, staging
    from keilog.fleet.spark import check_lake_spark, session

    start, spark = _timed(lambda: session("local[2]", "keilog-fleet-bench"))
    try:
        out = staging(lake)
        t, _ = _timed(lambda: check_lake_spark(str(lake.resolve()), spark, str(out)))
        publish(lake, out)
    finally:
        spark.stop()
    return t, start


def run(quick: bool = False) -> dict[str, Any]:
    big, small, days = (10, 2, 3) if quick else (100, 10, 30)
    ref_vehicles = min(10, big)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="keilog-bench-fleet-") as tmp:
        root = Path(tmp)
        sim = simulate_fleet(root / "sim", big, days)
        vehicles = load_fleet(sim.fleet_file)
        devices = [v.device_id for v in vehicles]
        ingest_s, _ = _timed(lambda: _lake(root / "sim", devices, sim.fleet_file, root / "big"))
        _lake(root / "sim", devices[:small], sim.fleet_file, root / "small")

        check(root / "small")  # warm-up: rule data, state polygons, DuckDB loaded once
        t_big, counts = _timed(lambda: check(root / "big"))
        t_small, _ = _timed(lambda: check(root / "small"))
        trips_per_s = counts["trips"] / t_big
        samples = counts["fixes"] + counts["speed_frames"]

        # The status quo: one SQLite database per vehicle, keilog check on each.
        can_db = load_databases([paths.keicar_dbc()])
        dbs = []
        for v in vehicles[:ref_vehicles]:
            db = root / f"{v.device_id}.db"
            import_files(db, sorted((sim.segments_dir / v.device_id).glob("*.KLG")), can_db)
            dbs.append((db, v.vehicle()))
        t_ref, reports = _timed(lambda: [check_database(db, veh) for db, veh in dbs])
        ref_trips = sum(len(r["trips"]) for r in reports)
        ref_samples = samples * ref_trips / counts["trips"]  # same trips, same sizes

        # The floor: check_trip alone on trips already in memory (no engine around it).
        import pyarrow.parquet as pq
        from keilog.fleet.duck import batch_rows
        from keilog.fleet.lake import trip_files
        from keilog.fleet.tripcheck import check_row

        fleet = {v.device_id: v for v in vehicles}
        rows = [
            r
            for p in trip_files(root / "small")
            for b in pq.read_table(p).to_batches()
            for r in batch_rows(b)
        ]
        t_floor, _ = _timed(lambda: [check_row(r, fleet[r["device_id"]]) for r in rows])
        floor = len(rows) / t_floor

        size = f"{big} vehicles x {days} days, {counts['trips']} trips"
        out["fleet_check_duckdb_trips_per_s"] = entry(
            trips_per_s,
            ref_trips / t_ref,
            f"keilog check on one SQLite database per vehicle ({ref_vehicles} vehicles)",
            "trips/s",
            True,
            fleet=size,
            floor_check_trip_only=round(floor, 1),
            ingest_s=round(ingest_s, 1),
        )
        out["fleet_check_duckdb_samples_per_s"] = entry(
            samples / t_big,
            ref_samples / t_ref,
            f"keilog check on one SQLite database per vehicle ({ref_vehicles} vehicles)",
            "GPS fixes + CAN speed frames/s",
            True,
            fleet=size,
        )
        out["fleet_check_s_per_vehicle_scaling"] = entry(
            t_big / big,
            t_small / small,
            f"the same check on {small} vehicles x {days} days",
            f"s per vehicle at {big} vehicles",
            False,
        )
        spark = _spark(root / "small")
        if spark is not None:
            t_spark, t_start = spark
            small_trips = len(rows)
            out["fleet_check_spark_local_trips_per_s"] = entry(
                small_trips / t_spark,
                small_trips / t_small,
                f"DuckDB engine on the same lake ({small} vehicles x {days} days)",
                "trips/s (Spark local[2], one machine, JVM started)",
                True,
                session_start_s=round(t_start, 1),
            )
    return out
