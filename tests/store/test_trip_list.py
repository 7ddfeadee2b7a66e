"""What a trip is (keilog trips): one boot of one device, split at silences over 5 min,
as the store keeps them; everything that reads trips reads them here."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from keilog import store
from keilog.cli import cli
from keilog.cli.report_cmd import sparkline
from keilog.errors import StoreError
from keilog.store.trips import GAP_S, list_trips, select_trips
from keilog.units import haversine_m

from tests.report.synth import START, Drive, make_db


def test_each_boot_is_a_trip_in_order_of_start(tmp_path):
    db = store.open_db(make_db(tmp_path / "k.db", Drive(boot=9, start=START + 7200), Drive(boot=3)))
    trips = list_trips(db)
    # Listed by start; ids are given in import order and never change afterwards.
    assert [(t.id, t.boot) for t in trips] == [(2, 3), (1, 9)]
    # Drive(): 61 fixes at 1 Hz and 601 VEHICLE_SPEED frames at 10 Hz over 60 s.
    assert (trips[0].gps_fixes, trips[0].frames) == (61, 601)
    assert trips[0].duration_s == pytest.approx(60.0, abs=1e-3)


def test_a_silence_longer_than_five_minutes_splits_a_boot(tmp_path):
    later = START + 60 + GAP_S + 1  # the second drive starts 301 s after the first ends
    db = store.open_db(make_db(tmp_path / "k.db", Drive(), Drive(start=later)))
    assert len(list_trips(db)) == 2
    db2 = store.open_db(make_db(tmp_path / "k2.db", Drive(), Drive(start=START + 60 + GAP_S - 1)))
    assert len(list_trips(db2)) == 1


def test_a_stored_trips_table_is_used_as_it_stands(tmp_path):
    db = store.open_db(make_db(tmp_path / "k.db", Drive()))
    db["trips"].drop()  # a trips table made by another tool, without counts
    db["trips"].insert_all(
        [
            {"id": 7, "device_id": "KEI-0001", "boot": 1, "start": START, "end": START + 30},
            {"id": 8, "device_id": "KEI-0001", "boot": 1, "start": START + 30, "end": START + 60},
        ]
    )
    trips = list_trips(db)
    assert [(t.id, t.gps_fixes) for t in trips] == [(7, 31), (8, 31)]


@pytest.mark.parametrize(
    ("trip", "all_trips", "chosen"), [(None, False, [2]), (1, False, [1]), (None, True, [1, 2])]
)
def test_select_trips(tmp_path, trip, all_trips, chosen):
    db = store.open_db(make_db(tmp_path / "k.db", Drive(boot=1), Drive(boot=2, start=START + 99)))
    assert [t.id for t in select_trips(list_trips(db), trip, all_trips)] == chosen


def test_selecting_from_an_empty_database_says_to_import(tmp_path):
    db = store.open_db(tmp_path / "empty.db")
    with pytest.raises(StoreError, match=r"no trips .* import logs with keilog import"):
        select_trips(list_trips(db))


def test_haversine_matches_a_known_distance():
    # One degree of latitude on the IUGG mean sphere (R = 6371008.8 m): R * pi / 180.
    assert haversine_m(29.0, -82.0, 30.0, -82.0) == pytest.approx(111_195.08, abs=0.01)


def test_trips_command_prints_a_table_with_a_speed_sparkline(tmp_path):
    db = make_db(tmp_path / "k.db", Drive(boot=1), Drive(boot=2, start=START + 3600, can_kmh=72))
    r = CliRunner().invoke(cli, ["trips", "--db", str(db)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["trip", "start", "(UTC)", "duration", "miles", "max", "mph",
                                "device/boot", "speed"]  # fmt: skip
    # 36 km/h = 22.4 mph and 72 km/h = 44.7 mph; 10 m/s for 60 s = 0.37 mi.
    assert lines[1].split()[:6] == ["1", "2026-06-01", "14:00:00", "0:01:00", "0.37", "22.4"]
    assert lines[2].split()[5] == "44.7"
    assert lines[1].endswith("▄" * 24) and lines[2].endswith("█" * 24)


def test_trips_command_json(tmp_path):
    db = make_db(tmp_path / "k.db", Drive())
    r = CliRunner().invoke(cli, ["trips", "--db", str(db), "--json"])
    [row] = json.loads(r.stdout)
    assert row["id"] == 1 and row["start"] == "2026-06-01T14:00:00Z"
    assert row["speed_source"] == "msg_VEHICLE_SPEED.VEHICLE_SPEED"
    assert row["max_speed_mph"] == 22.4 and row["max_gps_mph"] == 22.4  # 36 km/h, 10 m/s
    assert row["distance_mi"] == pytest.approx(600 / 1609.344, abs=1e-3)


def test_sparkline_scales_to_the_top_speed_and_leaves_gaps_blank():
    assert sparkline([0.0, 35.0, 70.0, None], 70.0) == "▁▄█ "
