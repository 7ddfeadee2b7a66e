"""Import into SQLite: idempotent, atomic per segment, decoded tables with metadata."""

from __future__ import annotations

import math

import numpy as np
import pytest
from keilog import paths, store
from keilog.decode import dbc
from keilog.errors import StoreError
from keilog.store.decoded import NAN_TEXT, _column
from keilog.store.frames import temp_frames
from keilog.store.schema import ensure_message_table

from tests.conftest import DATA

MIXED = DATA / "logformat" / "segment_mixed.klg"


def test_import_stores_every_record_kind(tmp_path):
    [result] = store.import_files(tmp_path / "k.db", [MIXED])
    assert (result.status, result.frames, result.gps_fixes, result.events) == ("imported", 6, 2, 4)
    db = store.open_db(tmp_path / "k.db")
    [seg] = db.query(
        "select d.device_id, boot, seq from segments s join devices d on d.id = s.device "
        "where sha256 = ?",
        [result.sha256],
    )
    assert (seg["device_id"], seg["boot"], seg["seq"]) == ("KEI-0001", 42, 3)
    fix = next(db.query("select * from gps_fixes order by mono_us limit 1"))
    # Gainesville, FL (29.6516 N, 82.3248 W) from the golden vector.
    assert (fix["lat"], fix["lon"], fix["speed_mps"]) == (29.6516, -82.3248, 13.41)
    kinds = [r["kind"] for r in db.query("select kind from events order by mono_us")]
    assert kinds == ["boot", "overrun", "bus_state", "event_250"]


def test_timestamps_come_from_gps_time(tmp_path):
    store.import_files(tmp_path / "k.db", [MIXED])
    db = store.open_db(tmp_path / "k.db")
    temp_frames(db.conn)
    first = next(db.query("select timestamp, mono_us from frames order by mono_us limit 1"))
    # The vector's timed GPS fix: mono 3221348290 us = 2026-06-01T14:01:00Z (1780322460).
    assert first["timestamp"] == pytest.approx(1780322460 + (2000000 - 3221348290) / 1e6)


def test_import_is_atomic_per_segment(tmp_path):
    db = store.open_db(tmp_path / "k.db")
    # Make the last statement of the import fail, as a crash or full disk would.
    db.execute(
        "create trigger refuse before insert on segments begin "
        "select raise(abort, 'disk full'); end"
    )
    with pytest.raises(StoreError, match=r"segment_mixed\.klg: import failed and nothing"):
        store.import_files(tmp_path / "k.db", [MIXED])
    for table in ("frame_blocks", "gps_fixes", "events", "clock_anchors", "segments"):
        assert db[table].count == 0, table


def test_decoded_tables_keep_units_and_comments(tmp_path):
    # A one-frame segment of VEHICLE_SPEED built from the worked example's layout is
    # not needed: the e2e slice covers decoding; here the signals table is checked.
    keicar = dbc.load_databases([paths.keicar_dbc()])
    db = store.open_db(tmp_path / "k.db")
    msg = keicar.get_message_by_name("VEHICLE_SPEED")
    ensure_message_table(db, msg)
    row = db["signals"].get(("VEHICLE_SPEED", "VEHICLE_SPEED"))
    assert (row["unit"], row["comment"]) == ("km/h", "Vehicle speed (km/h).")


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "notes.db"
    bad.write_text("this is not sqlite " * 100)
    with pytest.raises(StoreError, match=r"notes\.db: not a usable SQLite database"):
        store.open_db(bad)


def test_import_reports_progress_over_all_files(tmp_path):
    seen = []
    store.import_files(tmp_path / "k.db", [MIXED, MIXED], frame_progress=seen.append)
    # segment_mixed.klg holds 6 frames; the second copy is already imported.
    assert seen[-1].frames == 6
    assert seen[-1].bytes_read == seen[-1].bytes_total == 2 * MIXED.stat().st_size
    assert seen[-1].fraction == 1.0


def test_nan_signal_values_are_kept_apart_from_absent_ones(tmp_path):
    # docs/database.md: absent is NULL, a NaN value is the text 'NaN'.
    values = np.array([1.5, np.nan, np.nan])
    present = np.array([True, True, False])
    column = _column(values, present)
    assert column == [1.5, NAN_TEXT, None]
    db = store.open_db(tmp_path / "k.db")
    db.execute("create table t (v real)")
    db.conn.executemany("insert into t values (?)", [(v,) for v in column])
    back = [r[0] for r in db.execute("select v from t order by rowid")]
    assert back[0] == 1.5 and math.isnan(float(back[1])) and back[2] is None
