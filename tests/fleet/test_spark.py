"""The Spark engine (local mode) gives the DuckDB engine's results, row for row."""

from __future__ import annotations

import os
import shutil

import pytest
from keilog.fleet.results import read_results


def _need_spark() -> None:
    missing = []
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing.append("pyspark (pip install -e '.[test]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing.append("a Java runtime (apt-get install default-jre-headless; .ci/run does)")
    if missing:
        reason = "Spark's local mode needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason + ": CI must run the Spark engine, not skip it")
        pytest.skip(reason)


def test_spark_and_duckdb_give_identical_results(fleet, tmp_path):
    _need_spark()
    from keilog.fleet import check

    lake = tmp_path / "lake"
    shutil.copytree(fleet.lake / "trips", lake / "trips")
    shutil.copy(fleet.lake / "vehicles.parquet", lake)
    counts = check(lake, engine="spark", master="local[1]")
    assert counts["trips"] == fleet.sim.trips
    duck = read_results(fleet.lake)
    spark = read_results(lake)
    for name, table in duck.items():
        assert spark[name].column_names == table.column_names, name
        assert spark[name].to_pylist() == table.to_pylist(), name
    assert sorted(p.name for p in lake.iterdir()) == ["results", "trips", "vehicles.parquet"]
