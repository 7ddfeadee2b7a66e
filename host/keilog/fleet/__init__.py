"""Many vehicles: a fleet's logs in one Parquet lake, checked on DuckDB or on Spark.

- :mod:`keilog.fleet.config`: the fleet file (which logger is which vehicle, registered how).
- :mod:`keilog.fleet.lake`: ingest segments or databases into the lake (device/date partitions).
- :mod:`keilog.fleet.tripcheck`: a lake trip through ``keilog.rules.check.check_trip``.
- :mod:`keilog.fleet.duck`, :mod:`keilog.fleet.spark`: the check over the whole lake.
- :mod:`keilog.fleet.page`: the fleet report. :mod:`keilog.fleet.simulate`: a test fleet.

Heavy libraries (duckdb, pyarrow, pandas, pyspark) are imported inside the functions
that use them. docs/fleet.md describes the lake and how to run the check on a cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from keilog.errors import ConfigError
from keilog.fleet.lake import check_lake
from keilog.fleet.needs import need

ENGINES = ("duckdb", "spark")


def check(
    lake: Path,
    engine: str = "duckdb",
    roads_path: Path | None = None,
    master: str = "local[2]",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Run the rules check on every trip of the lake with ``engine``; write LAKE/results."""
    need("duckdb", "pyarrow")
    check_lake(lake)
    if engine == "duckdb":
        from keilog.fleet.duck import check_lake_duckdb

        return check_lake_duckdb(lake, roads_path, progress)
    if engine == "spark":
        from keilog.fleet.spark import check_lake_local

        return check_lake_local(lake, roads_path, master)
    raise ConfigError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")


__all__ = ["ENGINES", "check"]
