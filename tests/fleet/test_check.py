"""The fleet check is keilog check, per trip, and its summaries add up."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
from keilog import paths
from keilog.decode.dbc import load_databases
from keilog.fleet.config import load_fleet
from keilog.fleet.lake import trip_files
from keilog.fleet.results import read_results
from keilog.rules.check import check_database
from keilog.store import import_files


def test_every_trip_gets_the_verdict_keilog_check_gives(fleet, tmp_path):
    # Import one vehicle's segments into a database and run keilog check's own function:
    # the fleet check must give the same trip objects (ids aside: the lake keys trips by
    # device, boot and start instead of a database's numbering).
    results = read_results(fleet.lake)["trips"].to_pylist()
    for vehicle in load_fleet(fleet.sim.fleet_file):
        db = tmp_path / f"{vehicle.device_id}.db"
        segments = sorted((fleet.sim.segments_dir / vehicle.device_id).glob("*.KLG"))
        import_files(db, segments, load_databases([paths.keicar_dbc()]))
        expected = check_database(db, vehicle.vehicle())["trips"]
        ours = [json.loads(r["detail"]) for r in results if r["device_id"] == vehicle.device_id]
        assert len(ours) == len(expected) == len(segments)
        for a, b in zip(ours, expected, strict=True):
            assert {**a, "id": None, "boot": None} == {**b, "id": None, "boot": None}


def test_the_fleet_meets_violations_unverified_stretches_and_rule_sources(fleet):
    res = read_results(fleet.lake)
    trips = res["trips"].to_pylist()
    by_vehicle = {r["device_id"]: r["verdict"] for r in trips}
    # KEI00003 is the NC LSV cruising at ~30 mph: over the federal LSV cap of 25 mph
    # (49 CFR 571.3) on every trip; the others have no road file, so stay unverified.
    assert {r["verdict"] for r in trips if r["device_id"] == "KEI00003"} == {"violations"}
    assert by_vehicle["KEI00001"] == "unverified"
    violations = [e for e in res["events"].to_pylist() if e["kind"] == "violation"]
    assert {e["rule"] for e in violations} == {"vehicle_max_speed"}
    assert all(e["source"] and e["state"] == "NC" for e in violations)
    assert sum(r["violations"] for r in trips) == len(violations)


def test_the_daily_summary_adds_up_the_trips(fleet):
    res = read_results(fleet.lake)
    trips = res["trips"].to_pylist()
    daily = res["daily"].to_pylist()
    assert len(daily) == 6  # 3 vehicles x 2 days
    lake_rows = [r for p in trip_files(fleet.lake) for r in pq.read_table(p).to_pylist()]
    for d in daily:
        mine = [t for t in trips if (t["device_id"], t["date"]) == (d["device_id"], d["date"])]
        assert d["trips"] == len(mine) >= 2
        assert d["distance_mi"] == round(sum(t["distance_mi"] for t in mine), 3)
        assert d["fixes"] == sum(
            len(r["t"])
            for r in lake_rows
            if (r["device_id"], r["date"]) == (d["device_id"], d["date"])
        )
        assert 0.0 <= d["judged_share"] <= 1.0
        worst = {t["verdict"] for t in mine}
        assert d["verdict"] == next(v for v in ("violations", "unverified", "clean") if v in worst)
    drivers = {d["driver"] for d in res["driver_days"].to_pylist()}
    assert drivers == {"Ana", "Ben", "Chen"}


def test_without_road_data_no_distance_counts_as_judged(fleet):
    # The road rules need --roads; without it every moving stretch is "road_rules
    # unverified", so the judged share is (almost) nil: starting and stopping below
    # 3 mph is not judged either way.
    res = read_results(fleet.lake)
    assert all(r["judged_mi"] < 0.05 * r["distance_mi"] for r in res["trips"].to_pylist())


def test_checking_again_replaces_the_results_whole(fleet):
    from keilog.fleet import check

    before = {k: t.to_pylist() for k, t in read_results(fleet.lake).items()}
    check(fleet.lake)
    assert {k: t.to_pylist() for k, t in read_results(fleet.lake).items()} == before
    assert sorted(p.name for p in fleet.lake.iterdir()) == ["results", "trips", "vehicles.parquet"]


def test_a_damaged_partition_is_one_line_naming_the_lake(fleet, tmp_path):
    import shutil

    import pytest
    from keilog.errors import StoreError
    from keilog.fleet import check

    lake = tmp_path / "lake"
    shutil.copytree(fleet.lake, lake)
    trip_files(lake)[0].write_bytes(b"PAR1 torn write")
    with pytest.raises(StoreError, match="DuckDB could not read the lake") as err:
        check(lake)
    assert "\n" not in str(err.value)
    assert read_results(lake)["trips"].num_rows == fleet.sim.trips  # old results kept
