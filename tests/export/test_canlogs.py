"""keilog export: every format round-trips through keilog import (export, then import
gives the same frames, up to what each format keeps: keilog.export.canlogs)."""

from __future__ import annotations

import json
from pathlib import Path

import can
import pytest
from click.testing import CliRunner
from keilog import store
from keilog.cli import cli
from keilog.export import ExportError, ExportProgress, export
from keilog.paths import keicar_dbc
from keilog.store.frames import temp_frames

from tests.conftest import DATA

PEER_LOGS = Path(__file__).resolve().parents[2] / ".." / "shared" / "peer" / "python-can-logs"
FRAME_LOGS = (".log", ".asc", ".blf", ".trc", ".csv", ".mf4")
COLUMNS = (
    "arbitration_id, is_extended, is_remote, is_error, is_fd, bitrate_switch, "
    "error_state_indicator, dlc, data"
)
# Time resolution of each format as python-can writes it (seconds).
TOLERANCE = {".log": 1e-6, ".asc": 1e-3, ".blf": 1e-6, ".trc": 1e-3, ".csv": 1e-6, ".mf4": 1e-6}
T0 = 1_780_322_400.0  # 2026-06-01T14:00:00Z


def frames(db_path: Path) -> list[tuple]:
    db = store.open_db(db_path)
    temp_frames(db.conn)
    return db.execute(f"select timestamp, {COLUMNS} from frames order by id").fetchall()


def kept(suffix: str, row: tuple) -> tuple:
    """A frame as ``suffix`` keeps it (the module docstring of keilog.export.canlogs)."""
    _t, i, ext, rtr, err, fd, brs, esi, dlc, data = row
    if err and suffix in (".log", ".asc"):
        i, dlc, data = 0, 0, b""
    if err and suffix in (".log", ".asc", ".blf"):
        fd = brs = esi = 0
    if rtr and suffix in (".log", ".mf4"):
        fd = brs = esi = 0
    if rtr and suffix == ".log":
        dlc = 0
    if rtr and fd and suffix == ".asc":
        dlc = can.util.len2dlc(dlc)  # a CAN FD "remote frame": .asc writes the DLC code
    if suffix in (".log", ".trc") and i > 0x7FF:
        ext = 1
    return (i, ext, rtr, err, fd, brs, esi, dlc, bytes(data))


def round_trip(source_db: Path, suffix: str, tmp: Path) -> tuple[list[tuple], list[tuple]]:
    out = tmp / f"export{suffix}"
    export(source_db, out)
    store.import_files(tmp / f"back{suffix}.db", [out])
    return frames(source_db), frames(tmp / f"back{suffix}.db")


def assert_same(suffix: str, before: list[tuple], after: list[tuple], times: bool = True) -> None:
    assert [(*r[1:-1], bytes(r[-1])) for r in after] == [kept(suffix, r) for r in before]
    if times:
        tol = TOLERANCE[suffix]
        assert [r[0] for r in after] == pytest.approx([r[0] for r in before], abs=tol)


def mixed_messages() -> list[can.Message]:
    """Standard, extended, remote, error and CAN FD frames, 1 ms apart."""
    return [
        can.Message(timestamp=T0 + k / 1000, **kw)
        for k, kw in enumerate(
            [
                {"arbitration_id": 0x1D0, "data": bytes(range(8)), "is_extended_id": False},
                {"arbitration_id": 0x18DAF110, "data": b"\x02\x01\x0d", "is_extended_id": True},
                {
                    "arbitration_id": 0x7DF,
                    "is_remote_frame": True,
                    "dlc": 8,
                    "is_extended_id": False,
                },
                {"arbitration_id": 0x123, "data": b"", "is_extended_id": False},
                {"arbitration_id": 0x1D0, "data": b"\xff" * 8, "is_extended_id": False},
            ]
        )
    ]


FD = can.Message(
    timestamp=T0 + 0.01, arbitration_id=0x456, data=bytes(range(64)), is_fd=True,
    bitrate_switch=True, is_extended_id=False,
)  # fmt: skip
ERROR = can.Message(timestamp=T0 + 0.02, is_error_frame=True, arbitration_id=0, dlc=0)


def db_of(tmp: Path, messages: list[can.Message], name: str = "in.log") -> Path:
    log = tmp / name
    with can.Logger(str(log)) as writer:
        for m in messages:
            writer.on_message_received(m)
    store.import_files(tmp / "in.db", [log])
    return tmp / "in.db"


@pytest.mark.parametrize("suffix", FRAME_LOGS)
def test_frames_round_trip(tmp_path, suffix):
    messages = mixed_messages()
    if suffix == ".trc":  # python-can's TRC writer writes data frames only
        messages = [m for m in messages if not m.is_remote_frame]
    before, after = round_trip(db_of(tmp_path, messages), suffix, tmp_path)
    assert len(after) == len(messages)
    assert_same(suffix, before, after)


@pytest.mark.parametrize("suffix", [".log", ".asc", ".blf", ".mf4"])
def test_can_fd_and_error_frames_round_trip(tmp_path, suffix):
    before, after = round_trip(db_of(tmp_path, [*mixed_messages(), FD, ERROR]), suffix, tmp_path)
    assert_same(suffix, before, after)
    fd = [r for r in after if r[5]]
    assert [(r[6], r[8], len(r[9])) for r in fd] == [(1, 64, 64)]  # BRS, 64 bytes


@pytest.mark.parametrize(
    ("suffix", "message", "what"),
    [(".trc", FD, "CAN FD frames"), (".csv", FD, "CAN FD frames"), (".trc", ERROR, "error frames")],
)
def test_a_frame_a_format_cannot_hold_is_refused_not_dropped(tmp_path, suffix, message, what):
    db = db_of(tmp_path, [*mixed_messages()[:2], message])
    with pytest.raises(ExportError, match=rf"cannot write {what}, and frame 3 of the export"):
        export(db, tmp_path / f"out{suffix}")


def test_keilog_segments_round_trip_with_utc_times(tmp_path):
    store.import_files(tmp_path / "in.db", [DATA / "logformat" / "segment_mixed.klg"])
    before, after = round_trip(tmp_path / "in.db", ".blf", tmp_path)
    assert_same(".blf", before, after)


def test_a_trip_exports_only_its_frames(tmp_path):
    from tests.store.test_trips import START, drive, imported, segment

    imported(tmp_path, segment([*drive(0, 10), *drive(400, 10)]))  # two trips
    db = tmp_path / "k.db"
    first = export(db, tmp_path / "t1.log", trip=1)
    second = export(db, tmp_path / "t2.log", trip=2)
    assert (first.frames, second.frames) == (100, 100)  # 10 s of 10 Hz frames each
    times = [m.timestamp for m in can.LogReader(str(tmp_path / "t2.log"))]
    assert min(times) == pytest.approx(START + 400)
    with pytest.raises(ExportError, match=r"no trip 3; the database has trips 1\.\.2"):
        export(db, tmp_path / "t3.log", trip=3)


def test_parquet_writes_the_archive_with_units(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (keilog[parquet]) is missing")
    log = tmp_path / "in.log"
    with can.Logger(str(log)) as writer:
        for m in mixed_messages():
            writer.on_message_received(m)
    from keilog.decode import load_database

    store.import_files(tmp_path / "in.db", [log], load_database(keicar_dbc()))
    result = export(tmp_path / "in.db", tmp_path / "out.parquet")
    assert result.tables["frames"] == 5 and result.tables["msg_VEHICLE_SPEED"] == 2
    table = pq.read_table(tmp_path / "out.parquet" / "msg_VEHICLE_SPEED")  # every partition
    # 0x0100 * 0.01 km/h (dbc/keicar.dbc: VEHICLE_SPEED is bytes 0-1, little-endian).
    assert table.column("VEHICLE_SPEED").to_pylist() == [pytest.approx(2.56), 655.35]
    assert table.schema.field("VEHICLE_SPEED").metadata[b"unit"] == b"km/h"
    raw = pq.read_table(tmp_path / "out.parquet" / "frames").sort_by("time")
    assert raw.column("data").to_pylist() == [bytes(m.data) for m in mixed_messages()]


def test_progress_reports_frames_and_fraction(tmp_path):
    seen: list[ExportProgress] = []
    export(db_of(tmp_path, mixed_messages()), tmp_path / "out.blf", progress=seen.append)
    assert (seen[-1].frames, seen[-1].total, seen[-1].fraction) == (5, 5, 1.0)


def test_cli_exports_and_prints_json(tmp_path):
    db = db_of(tmp_path, mixed_messages())
    r = CliRunner().invoke(
        cli, ["export", "--db", str(db), "--to", str(tmp_path / "o.asc"), "--json"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["frames"] == 5
    bad = CliRunner().invoke(cli, ["export", "--db", str(db), "--to", str(tmp_path / "o.txt")])
    assert bad.exit_code == 1 and "unknown export format .txt" in bad.output


PEER = sorted(p for p in PEER_LOGS.glob("*") if p.name != "LICENSE") if PEER_LOGS.is_dir() else []


@pytest.mark.skipif(not PEER, reason="../shared/peer/python-can-logs (peer test data) is absent")
@pytest.mark.parametrize("suffix", FRAME_LOGS)
def test_python_can_sample_logs_round_trip(tmp_path, suffix):
    for sample in PEER:
        work = tmp_path / sample.name.replace(".", "_")
        work.mkdir()
        store.import_files(work / "in.db", [sample])
        try:
            before, after = round_trip(work / "in.db", suffix, work)
        except ExportError:
            kinds = {(r[5], r[3], r[4]) for r in frames(work / "in.db")}
            assert any(fd or rtr or err for fd, rtr, err in kinds), sample.name
            continue
        stamps = [r[0] for r in before]
        # .blf stores a calendar start time (after 1980); .asc writes frames earlier than
        # the first as absolute times: python-can's writers, documented in canlogs.
        times = not (suffix == ".blf" and min(stamps, default=T0) < 315_532_800) and not (
            suffix == ".asc" and stamps != sorted(stamps)
        )
        assert_same(suffix, before, after, times=times)


def test_map_formats_go_to_the_map_export(tmp_path):
    from tests.report.synth import Drive, make_db

    db = make_db(tmp_path / "k.db", Drive())
    result = export(db, tmp_path / "trips.gpx")
    assert result.map is not None and result.map["trips"] == [1]
    # Drive(): 61 fixes at 1 Hz over 60 s (tests/report/synth.py).
    assert result.map["points"] == 61
