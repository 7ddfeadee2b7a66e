"""Ingest: partitions by device and date, idempotent, atomic, every device registered."""

from __future__ import annotations

import shutil

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keilog.errors import ConfigError
from keilog.fleet.config import load_fleet
from keilog.fleet.lake import ingest, read_vehicles, trip_files
from keilog.fleet.segments import Anchor, Event, Fix, Frame, encode_segment, segment_name
from keilog.store import import_files

from tests.fleet.conftest import VEHICLES


def _snapshot(lake):
    return {p: p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()}


def test_one_partition_per_device_and_day(fleet):
    parts = [p.parent.relative_to(fleet.lake / "trips").as_posix() for p in trip_files(fleet.lake)]
    assert parts == [
        f"device=KEI{v:05d}/date=2026-06-0{d}" for v in range(1, VEHICLES + 1) for d in (1, 2)
    ]
    rows = [r for p in trip_files(fleet.lake) for r in pq.read_table(p).to_pylist()]
    assert len(rows) == fleet.sim.trips
    assert sum(len(r["t"]) for r in rows) == fleet.sim.fixes
    assert sum(len(r["can_t"]) for r in rows) == fleet.sim.frames  # the ABS speed, decoded
    assert {r["can_label"] for r in rows} == {"CAN VEHICLE_SPEED (ABS)"}


def test_the_vehicles_table_is_the_fleet_file(fleet):
    assert read_vehicles(fleet.lake) == load_fleet(fleet.sim.fleet_file)


def test_ingesting_again_adds_and_writes_nothing(fleet, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(fleet.lake / "trips", lake / "trips")
    shutil.copy(fleet.lake / "vehicles.parquet", lake)
    before = _snapshot(lake)
    result = ingest([fleet.sim.segments_dir], lake)
    assert (result.trips_added, result.trips_replaced) == (0, 0)
    assert result.trips_unchanged == fleet.sim.trips
    assert result.partitions_written == []
    assert _snapshot(lake) == before


def test_a_database_ingests_to_the_same_trips_as_its_segments(fleet, tmp_path):
    db = tmp_path / "fleet.db"
    from keilog import paths
    from keilog.decode.dbc import load_databases

    import_files(db, [*fleet.sim.segments_dir.rglob("*.KLG")], load_databases([paths.keicar_dbc()]))
    lake = tmp_path / "lake"
    result = ingest([db], lake, fleet.sim.fleet_file)
    assert result.trips_added == fleet.sim.trips

    def trips(root):
        return [
            {k: v for k, v in r.items() if k != "source"}
            for p in trip_files(root)
            for r in pq.read_table(p).to_pylist()
        ]

    assert trips(lake) == trips(fleet.lake)


def test_an_unregistered_device_is_refused_and_nothing_is_written(fleet, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(fleet.lake, lake)
    before = _snapshot(lake)
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    items = [Anchor(5_000_000, 1_780_329_067_000_000)]
    items += [
        Fix(
            5_000_000 + i * 1_000_000,
            1_780_329_067_000_000 + i * 1_000_000,
            29.65,
            -82.32 + i * 1e-4,
            9.0,
            90.0,
        )
        for i in range(30)
    ]
    (stranger / segment_name(1, 0)).write_bytes(encode_segment("NOT-IN-FLEET", 1, 0, 0, items))
    with pytest.raises(ConfigError, match="device NOT-IN-FLEET is not in the fleet file"):
        ingest([fleet.sim.segments_dir, stranger], lake)
    assert _snapshot(lake) == before


def test_a_trip_grown_by_a_later_segment_replaces_the_stored_one(tmp_path):
    (tmp_path / "fleet.toml").write_text(
        '[[vehicle]]\ndevice_id = "KEI00001"\nregistration_state = "FL"\nclass = "mini_truck"\n'
    )
    t0 = 1_780_329_067_000_000
    items = []
    for i in range(120):
        mono = 5_000_000 + i * 1_000_000
        items.append(Fix(mono, t0 + i * 1_000_000, 29.65, -82.32 + i * 1e-4, 9.0, 90.0))
        items.append(Frame(mono + 500_000, 0x1D0, bytes([0x84, 0x0C, 0, 0, 0, 0, 0, 0])))
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    (first / segment_name(1, 0)).write_bytes(
        encode_segment("KEI00001", 1, 0, 4_999_000, [Anchor(5_000_000, t0), *items[:120]])
    )
    (second / segment_name(1, 1)).write_bytes(
        encode_segment("KEI00001", 1, 1, 64_999_000, [*items[120:], Event(126_000_000, 6, 0)])
    )
    lake = tmp_path / "lake"
    assert ingest([first], lake, tmp_path / "fleet.toml").trips_added == 1
    grown = ingest([first, second], lake)
    assert (grown.trips_added, grown.trips_replaced) == (0, 1)
    (row,) = pq.read_table(trip_files(lake)[0]).to_pylist()
    assert len(row["t"]) == 120 and len(row["can_t"]) == 120


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("vehicle = 3", 'needs a list "vehicle"'),
        ('[[vehicle]]\ndevice_id = "A"\nclass = "kei"', 'needs "class"'),
        ('[[vehicle]]\ndevice_id = "A"\nclass = "lsv"\nregistration_state = "ZZ"', "not a US"),
        ('[[vehicle]]\ndevice_id = "A"\nclass = "lsv"\ncolour = "red"', "unknown key"),
        (
            '[[vehicle]]\ndevice_id = "A"\nclass = "lsv"\n[[vehicle]]\ndevice_id = "A"\n'
            'class = "lsv"',
            "listed twice",
        ),
        ("[[vehicle]\n", "invalid TOML"),
    ],
)
def test_a_bad_fleet_file_is_one_line_naming_it(tmp_path, text, message):
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        load_fleet(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_fleet_file_is_read_or_refused_in_one_line(tmp_path, data):
    for name in ("fleet.toml", "fleet.json"):
        path = tmp_path / name
        path.write_bytes(data)
        try:
            load_fleet(path)
        except ConfigError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc)


def test_a_failed_first_ingest_leaves_no_lake_behind(fleet, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    lake = tmp_path / "lake"
    with pytest.raises(ConfigError, match="no log segments"):
        ingest([empty], lake, fleet.sim.fleet_file)
    assert not lake.exists()
