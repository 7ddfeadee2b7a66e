"""The fleet check beyond one machine: the same job on Apache Spark.

The lake's trips are read as one DataFrame, grouped by partition (device, date) and
checked with ``applyInPandas``: every group is a pandas frame of that vehicle-day's trips
on a worker, where :func:`keilog.fleet.tripcheck.check_row` runs the rules check per trip,
exactly as the DuckDB engine does. Events come from the results with ``mapInPandas``; the
per-day and per-driver summaries are the same SQL as DuckDB's, in Spark SQL.

Submit it to a cluster (docs/fleet.md)::

    spark-submit --py-files keilog.zip host/keilog/fleet/spark.py --lake s3a://fleet/lake

Locally, ``keilog fleet check --engine spark`` runs it in Spark's local mode.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

# As a spark-submit script this file runs outside the package: make it importable.
if __name__ == "__main__" and __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from keilog.errors import ConfigError
from keilog.fleet.config import VehicleEntry
from keilog.fleet.needs import need
from keilog.fleet.tripcheck import (
    DAILY_SQL,
    DRIVER_DAY_SQL,
    EVENT_COLUMNS,
    RESULT_COLUMNS,
    check_row,
    event_rows,
    spark_ddl,
)


def session(master: str = "local[2]", app: str = "keilog-fleet-check") -> SparkSession:
    """A Spark session; ``master`` as spark-submit's (``local[N]`` runs in this process)."""
    need("pyspark", "pandas", extra="spark")
    from pyspark.sql import SparkSession

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise ConfigError(
            "--engine spark needs a Java runtime (Debian: apt-get install default-jre-headless)"
        )
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app)
    if master:
        builder = builder.master(master)
    return (
        builder.config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


def _checker(
    vehicles: dict[str, VehicleEntry], roads: str | None
) -> Any:  # a function pandas -> pandas
    import pandas as pd

    names = [c[0] for c in RESULT_COLUMNS]

    def check_group(pdf: pd.DataFrame) -> pd.DataFrame:
        rows = [
            check_row(row, vehicles[row["device_id"]], roads)
            for row in pdf.sort_values(["start", "trip_key"]).to_dict("records")
        ]
        return pd.DataFrame(rows, columns=names)

    return check_group


def _events(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    import pandas as pd

    names = [c[0] for c in EVENT_COLUMNS]
    for pdf in batches:
        rows = [e for r in pdf.to_dict("records") for e in event_rows(r)]
        yield pd.DataFrame(rows, columns=names)


def check_lake_spark(
    lake: str,
    spark: SparkSession,
    out: str,
    roads_path: str | None = None,
) -> dict[str, int]:
    """Check every trip of the lake at ``lake`` (a path or URI) into folder ``out``."""
    from pyspark.sql import functions as F

    base = lake.rstrip("/")
    vehicles_df = spark.read.parquet(f"{base}/vehicles.parquet")
    vehicles = {r["device_id"]: VehicleEntry.from_row(r.asDict()) for r in vehicles_df.collect()}
    # recursiveFileLookup: the device=/date= folders are for people and other tools; the
    # columns inside the files are what counts (device ids are kept exactly).
    trips = spark.read.option("recursiveFileLookup", "true").parquet(f"{base}/trips")
    results = (
        trips.groupBy("device_id", "date")
        .applyInPandas(_checker(vehicles, roads_path), schema=spark_ddl(RESULT_COLUMNS))
        .cache()
    )
    events = results.mapInPandas(_events, schema=spark_ddl(EVENT_COLUMNS))
    results.createOrReplaceTempView("trips")
    vehicles_df.createOrReplaceTempView("vehicles")
    daily = spark.sql(DAILY_SQL).cache()
    daily.createOrReplaceTempView("daily")
    driver_days = spark.sql(DRIVER_DAY_SQL)
    for name, df in (
        ("trips", results),
        ("events", events),
        ("daily", daily),
        ("driver_days", driver_days),
    ):
        df.coalesce(1).write.mode("overwrite").parquet(f"{out.rstrip('/')}/{name}")
    counts = results.agg(
        F.count("*").alias("trips"),
        F.sum("violations").alias("violations"),
        F.sum("fixes").alias("fixes"),
        F.sum("speed_frames").alias("speed_frames"),
    ).collect()[0]
    n_events = events.count()
    results.unpersist()
    daily.unpersist()
    return {
        "trips": int(counts["trips"]),
        "events": int(n_events),
        "violations": int(counts["violations"] or 0),
        "fixes": int(counts["fixes"] or 0),
        "speed_frames": int(counts["speed_frames"] or 0),
    }


def check_lake_local(
    lake: Path, roads_path: Path | None = None, master: str = "local[2]"
) -> dict[str, int]:
    """``keilog fleet check --engine spark``: Spark (local mode by default) on a local lake,
    results staged and swapped in as the DuckDB engine does."""
    from keilog.fleet.results import publish, staging

    spark = session(master)
    out = staging(lake)
    try:
        counts = check_lake_spark(
            str(lake.resolve()), spark, str(out), str(roads_path) if roads_path else None
        )
        publish(lake, out)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        spark.stop()
    return counts


def main(argv: list[str] | None = None) -> None:
    """spark-submit entry: ``spark.py --lake URI [--out URI] [--roads FILE]``."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="keilog-fleet-spark", description=main.__doc__)
    parser.add_argument("--lake", required=True, help="the lake (path, s3a://, abfss://, gs://)")
    parser.add_argument("--out", help="where the results go (default: LAKE/results)")
    parser.add_argument("--roads", help="a road file (keilog roads build) every worker can read")
    parser.add_argument("--master", help="only outside spark-submit, e.g. local[2]")
    args = parser.parse_args(argv)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("keilog-fleet-check")
    spark = (builder.master(args.master) if args.master else builder).getOrCreate()
    out = args.out or f"{args.lake.rstrip('/')}/results"
    counts = check_lake_spark(args.lake, spark, out, args.roads)
    print(json.dumps(counts))
    spark.stop()


if __name__ == "__main__":
    main()
