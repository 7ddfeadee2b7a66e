"""``keilog import`` of other loggers' logs and of segments, decoded with the fast decoder."""

from __future__ import annotations

from pathlib import Path

import can
import cantools
import pytest
from click.testing import CliRunner
from keilog import store
from keilog.cli import cli
from keilog.errors import StoreError
from keilog.logformat.reader import iter_frames, read_segment
from keilog.paths import keicar_dbc
from keilog.store.frames import frame_count, temp_frames

from tests.decode.decode_helpers import keicar_drive

DB = cantools.database.load_file(str(keicar_dbc()))
SEGMENT = Path(__file__).resolve().parents[1] / "data" / "logformat" / "worked_example.klg"


@pytest.fixture
def drive(tmp_path: Path) -> list[can.Message]:
    return keicar_drive(DB, 2.0)


def write_log(path: Path, messages: list[can.Message]) -> Path:
    with can.Logger(str(path)) as writer:
        for m in messages:
            writer.on_message_received(m)
    return path


@pytest.mark.parametrize("suffix", ["log", "asc", "blf", "trc", "mf4"])
def test_other_loggers_logs_import_with_raw_frames_and_decoded_tables(
    tmp_path: Path, drive: list[can.Message], suffix: str
) -> None:
    log = write_log(tmp_path / f"drive.{suffix}", drive)

    [result] = store.import_files(tmp_path / "k.db", [log], DB)

    assert (result.status, result.frames, result.decoded) == ("imported", len(drive), len(drive))
    db = store.open_db(tmp_path / "k.db")
    [device] = db.execute(
        "select d.device_id from segments s join devices d on d.id = s.device where sha256 = ?",
        [result.sha256],
    ).fetchone()
    assert device == f"{suffix} log"
    temp_frames(db.conn)
    frames = list(db.query("select arbitration_id, data from frames order by id"))
    assert [(f["arbitration_id"], f["data"]) for f in frames] == [
        (m.arbitration_id, bytes(m.data)) for m in drive
    ]
    speeds = [m for m in drive if m.arbitration_id == 464]
    rows = list(db.query("select * from msg_VEHICLE_SPEED order by frame_id"))
    assert len(rows) == len(speeds)
    for row, m in zip(rows, speeds, strict=True):
        expected = DB.decode_message(464, bytes(m.data), decode_choices=False)
        assert {k: row[k] for k in expected} == pytest.approx(expected, rel=1e-9)
        assert row["timestamp"] == pytest.approx(m.timestamp, abs=1e-6)


def test_importing_the_same_log_again_changes_nothing(
    tmp_path: Path, drive: list[can.Message]
) -> None:
    log = write_log(tmp_path / "drive.log", drive)
    store.import_files(tmp_path / "k.db", [log], DB)
    [again] = store.import_files(tmp_path / "k.db", [log], DB)
    assert again.status == "already imported"
    assert frame_count(store.open_db(tmp_path / "k.db").conn) == len(drive)


def test_a_failed_log_import_leaves_nothing_behind(
    tmp_path: Path, drive: list[can.Message]
) -> None:
    log = write_log(tmp_path / "drive.log", drive)
    db = store.open_db(tmp_path / "k.db")
    db.execute(
        "create trigger refuse before insert on segments begin "
        "select raise(abort, 'disk full'); end"
    )
    with pytest.raises(StoreError, match=r"drive\.log: import failed and nothing of this log"):
        store.import_files(tmp_path / "k.db", [log], DB)
    assert frame_count(db.conn) == 0
    assert not db["msg_VEHICLE_SPEED"].exists() or db["msg_VEHICLE_SPEED"].count == 0


def test_segment_import_decodes_like_cantools(tmp_path: Path) -> None:
    [result] = store.import_files(tmp_path / "k.db", [SEGMENT], DB)
    db = store.open_db(tmp_path / "k.db")
    expected = []
    for f in iter_frames(read_segment(SEGMENT)):
        if f.is_remote_frame or f.is_error_frame:
            continue
        try:
            message = DB.get_message_by_frame_id(f.arbitration_id)
        except KeyError:
            continue
        values = message.decode(f.data, decode_choices=False, allow_truncated=True)
        expected.append((message.name, f.mono_us, values))
    assert result.decoded == len(expected) > 0
    for name, mono_us, values in expected:
        row = next(db.query(f"select * from msg_{name} where mono_us = ?", [mono_us]))
        assert {k: row[k] for k in values} == pytest.approx(values, rel=1e-9)


def test_integer_signals_get_integer_columns(tmp_path: Path) -> None:
    store.import_files(tmp_path / "k.db", [SEGMENT], DB)
    db = store.open_db(tmp_path / "k.db")
    # Stored: integers, VEHICLE_SPEED (scale 0.01) as its raw number; read through the
    # view msg_VEHICLE_SPEED: the integer counter and the physical float.
    columns = db["sig_VEHICLE_SPEED"].columns_dict
    assert (columns["COUNTER"], columns["VEHICLE_SPEED"]) == (int, int)
    [speed] = db.execute("select VEHICLE_SPEED from msg_VEHICLE_SPEED").fetchone()
    assert speed == 8721 * 0.01  # raw * scale, in float64 as cantools computes it


def test_cli_import_accepts_a_candump_log(tmp_path: Path, drive: list[can.Message]) -> None:
    log = write_log(tmp_path / "drive.log", drive)
    result = CliRunner().invoke(
        cli, ["import", str(log), "--db", str(tmp_path / "k.db"), "--dbc", str(keicar_dbc())]
    )
    assert result.exit_code == 0, result.output
    assert f"drive.log: imported, {len(drive)} frames, {len(drive)} decoded" in result.stdout


def test_decoded_rows_have_their_raw_frames_time_across_files(
    tmp_path: Path, drive: list[can.Message]
) -> None:
    # sig_ tables store a row's time after its frame's mark (64 frame numbers share
    # one); marks straddle files, so a log after a segment after a log must still
    # give every row the very mono_us and timestamp of its raw frame.
    logs = [write_log(tmp_path / "a.log", drive), SEGMENT, write_log(tmp_path / "b.asc", drive)]
    store.import_files(tmp_path / "k.db", logs, DB)
    db = store.open_db(tmp_path / "k.db")
    n = temp_frames(db.conn)
    assert n == frame_count(db.conn) > 64
    views = [r[0] for r in db.execute("select name from sqlite_master where type = 'view'")]
    checked = 0
    for view in views:
        rows = db.execute(
            f"select m.mono_us, f.mono_us, m.timestamp, f.timestamp from {view} m "
            "join temp.frames f on f.id = m.frame_id"
        ).fetchall()
        assert all(a == b and c == d for a, b, c, d in rows), view
        checked += len(rows)
    assert checked == 2 * len(drive) + 1  # the worked example decodes one VEHICLE_SPEED
