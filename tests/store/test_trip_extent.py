"""A trip's decoded rows are read by the trip's frame numbers: the report's series and
``export --signals`` search each ``sig_`` table's primary key for the trip's frames
(the ``msg_`` views compute ``timestamp``, so a time condition alone reads every row of
the device and boot), and return the very rows the time window alone returns."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
import sqlite_utils
from keilog.export.signals import Window, read_signals, resolve, window
from keilog.report.data import ENGINE, SPEED, find_series
from keilog.store.fixes import trip_window
from keilog.store.trips import list_trips, trip_extent

from tests import scenario_db

DRIVES = 3


@pytest.fixture(scope="module")
def drives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo drive three times an hour apart by one logger in one boot: three trips,
    three segments, one device and boot."""
    db = tmp_path_factory.mktemp("drives") / "drives.db"
    scenario_db.build_repeated(db, "florida_rural", DRIVES)
    return db


def test_a_trip_is_the_frame_numbers_of_its_own_segments(drives):
    db = sqlite_utils.Database(drives)
    segments = db.execute("select id, first_frame, frames from segments order by id").fetchall()
    trips = list_trips(db)
    assert len(trips) == DRIVES
    for trip, (segment, first, n) in zip(trips, segments, strict=True):
        extent = trip_extent(db, trip.id)
        assert extent.segments == [segment]
        assert extent.frames == [(first, first + n - 1)]
        assert (extent.device_id, extent.boot) == (trip.device_id, trip.boot)


def _plans(db: sqlite_utils.Database, read) -> list[str]:
    """The query plans of the SELECTs a reader runs on the msg_ views."""
    seen: list[str] = []
    db.conn.set_trace_callback(seen.append)
    try:
        read()
    finally:
        db.conn.set_trace_callback(None)
    reads = [sql for sql in seen if sql.lstrip().lower().startswith("select") and "msg_" in sql]
    assert reads
    return [
        "\n".join(row[3] for row in db.execute(f"explain query plan {sql}").fetchall())
        for sql in reads
    ]


def _searches_by_frame_number(plan: str) -> bool:
    """The sig_ table (the view's ``m``) is searched by a rowid range before any segment
    is looked at: the range is the query's own frame numbers, not a segment's."""
    lines = plan.splitlines()
    sig = [
        i for i, line in enumerate(lines) if line.startswith("SEARCH m USING INTEGER PRIMARY KEY")
    ]
    segments = [i for i, line in enumerate(lines) if line.startswith(("SEARCH s ", "SCAN s"))]
    return bool(sig) and bool(segments) and sig[0] < segments[0]


def test_report_series_search_the_trips_frame_numbers(drives):
    db = sqlite_utils.Database(drives)
    trip = list_trips(db)[1]
    plans = _plans(db, lambda: [find_series(db, trip, q) for q in (SPEED, *ENGINE)])
    assert all(_searches_by_frame_number(p) for p in plans), plans
    assert not any("SCAN m" in p for p in plans)


def test_export_signals_search_the_trips_frame_numbers(drives):
    db = sqlite_utils.Database(drives)
    plans = _plans(db, lambda: read_signals(db, resolve(db, ()), window(db, trip=2)))
    assert len(plans) >= 5  # a query per decoded message
    assert all(_searches_by_frame_number(p) for p in plans), plans
    assert not any("SCAN m" in p for p in plans)


def _by_time_alone(db: sqlite_utils.Database, table: str, column: str, trip) -> np.ndarray:
    where, args = trip_window(trip)
    rows = db.execute(
        f'select timestamp, "{column}" from {table} where {where} and "{column}" is not null '
        "order by timestamp",
        args,
    ).fetchall()
    return np.array(rows, np.float64).reshape(-1, 2)


@pytest.mark.parametrize("which", ["florida", "drives"])
def test_report_series_are_the_rows_of_the_time_window(which, request, drives):
    path = drives if which == "drives" else request.getfixturevalue("florida").db
    db = sqlite_utils.Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))
    for trip in list_trips(db):
        found = [s for q in (SPEED, *ENGINE) if (s := find_series(db, trip, q)) is not None]
        assert len(found) >= 3  # speed, rpm, throttle, coolant from the kei car's DBC
        for s in found:
            table, column = s.source.split(".")
            expected = _by_time_alone(db, table, column, trip)
            assert len(expected) > 100
            np.testing.assert_array_equal(np.c_[s.t, s.v], expected)


@pytest.mark.parametrize("which", ["florida", "drives"])
def test_export_signals_are_the_rows_of_the_time_window(which, request, drives):
    path = drives if which == "drives" else request.getfixturevalue("florida").db
    db = sqlite_utils.Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))
    chosen = resolve(db, ())
    for trip in list_trips(db):
        where, args = trip_window(trip)
        by_time = read_signals(db, chosen, Window(where, tuple(args)))
        by_frames = read_signals(db, chosen, window(db, trip=trip.id))
        assert [s.name for s in by_frames] == [s.name for s in by_time]
        assert sum(len(s.t) for s in by_time) > 1000
        for a, b in zip(by_frames, by_time, strict=True):
            np.testing.assert_array_equal(a.t, b.t)
            np.testing.assert_array_equal(a.v, b.v)


def test_input_records_have_no_frame_numbers_so_only_raw_frame_tables_get_them(tmp_path):
    # The logger's input records (VSS, tach, ...) are rows of their own, not raw frames:
    # a trip's frame numbers would select none of them (the kei_truck_1995 report lost
    # its speed-sensor series that way).
    import shutil

    from keilog import store
    from keilog.store.schema import has_raw_frames

    from tests.store.test_redecode import DATA

    log = Path(shutil.copy(DATA / "logformat" / "inputs.klg", tmp_path / "inputs.klg"))
    store.import_files(tmp_path / "k.db", [log], None)
    db = sqlite_utils.Database(tmp_path / "k.db")
    assert not has_raw_frames(db.conn, "msg_INPUT_BATTERY")
    w = Window("device_id = ?", ("KEI-1995",), "trip 1", "(frame_id between ? and ?)", (5, 9))
    assert w.of(db.conn, "msg_INPUT_BATTERY") == (" where device_id = ?", ("KEI-1995",))
    rows = db.execute("select count(*) from msg_INPUT_BATTERY where device_id = ?", ["KEI-1995"])
    assert rows.fetchone()[0] > 0
