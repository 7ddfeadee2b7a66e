"""``keilog decode`` on every log format, checked against python-can's readers and cantools."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import can
import cantools
import pytest
from click.testing import CliRunner
from keilog.cli import cli
from keilog.decode import open_log
from keilog.logformat.reader import iter_frames, read_segment
from keilog.paths import keicar_dbc

from tests.decode.decode_helpers import keicar_drive

KEICAR = str(keicar_dbc())
DB = cantools.database.load_file(KEICAR)
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SEGMENT = Path(__file__).resolve().parents[1] / "data" / "logformat" / "worked_example.klg"
FORMATS = ["asc", "blf", "trc", "csv", "log", "mf4", "db", "asc.gz"]


@pytest.fixture(scope="module")
def drive() -> list[can.Message]:
    """Three seconds of the kei car's messages plus a frame of an id the DBC lacks."""
    messages = keicar_drive(DB, 3.0)
    messages.append(
        can.Message(
            timestamp=messages[-1].timestamp + 0.001,
            arbitration_id=0x7DF,
            is_extended_id=False,
            data=b"\x02\x01\x0d",
            channel=0,
        )
    )
    return messages


def write_log(path: Path, messages: list[can.Message]) -> None:
    with can.Logger(str(path)) as writer:
        for m in messages:
            writer.on_message_received(m)


def reference(path: Path) -> list[dict[str, Any]]:
    """What keilog decode should print: python-can reads, cantools decodes."""
    name = path.name
    if name.endswith(".asc"):
        reader: Any = can.ASCReader(str(path), relative_timestamp=False)
    else:
        reader = can.LogReader(str(path))
    out = []
    with reader:
        for m in reader:
            if m.is_remote_frame or m.is_error_frame:
                continue
            try:
                message = DB.get_message_by_frame_id(m.arbitration_id)
            except KeyError:
                continue
            out.append(
                {
                    "timestamp": m.timestamp,
                    "arbitration_id": m.arbitration_id,
                    "is_extended_id": m.is_extended_id,
                    "message": message.name,
                    "signals": message.decode(bytes(m.data), decode_choices=False),
                }
            )
    return out


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["decode", *args], catch_exceptions=False)


@pytest.mark.parametrize("suffix", FORMATS)
def test_every_python_can_format_decodes_like_cantools(
    tmp_path: Path, drive: list[can.Message], suffix: str
) -> None:
    path = tmp_path / f"drive.{suffix}"
    write_log(path, drive)

    result = run(str(path), "--dbc", KEICAR, "--nl")

    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    expected = reference(path) if suffix != "asc.gz" else reference(tmp_path / "unzipped.asc")
    for got, want in zip(printed, expected, strict=True):
        assert got["signals"] == pytest.approx(want["signals"], rel=1e-9)
        assert {k: got[k] for k in ("arbitration_id", "is_extended_id", "message")} == {
            k: want[k] for k in ("arbitration_id", "is_extended_id", "message")
        }
        assert got["timestamp"] == pytest.approx(want["timestamp"], abs=1e-6)
    if suffix == "db":
        # python-can's SqliteWriter (4.6) drops the tail of its last write batch: keilog
        # decodes what the file holds, as python-can reads it.
        return
    assert len(printed) == len(drive) - 1  # all but the 0x7DF frame
    assert "decoded 513 of 514 frames: 1 with ids no DBC defines, e.g. 0x7df (1)" in result.stderr


@pytest.fixture(autouse=True)
def _unzipped_for_gz(tmp_path: Path, drive: list[can.Message]) -> None:
    write_log(tmp_path / "unzipped.asc", drive)


def test_keilog_segment_decodes_like_cantools() -> None:
    # The worked example is block 1 of a segment on its own (docs/log-format.md): to the
    # reader that is damage (sequence 1, no header), so it takes --allow-damage.
    result = run(str(SEGMENT), "--dbc", KEICAR, "--nl", "--allow-damage")
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    frames = [
        f for f in iter_frames(read_segment(SEGMENT)) if not (f.is_remote_frame or f.is_error_frame)
    ]
    expected = []
    for f in frames:
        try:
            message = DB.get_message_by_frame_id(f.arbitration_id)
        except KeyError:
            continue
        expected.append(
            (message.name, message.decode(f.data, decode_choices=False, allow_truncated=True))
        )
    assert expected, "the worked example holds kei car frames"
    assert [(p["message"], p["signals"]) for p in printed] == expected


def test_default_output_is_one_json_array_and_csv_is_one_row_per_value(
    tmp_path: Path, drive: list[can.Message]
) -> None:
    path = tmp_path / "drive.log"
    write_log(path, drive[:3])
    array = json.loads(run(str(path), "--dbc", KEICAR).stdout)
    assert [f["message"] for f in array] == [
        DB.get_message_by_frame_id(m.arbitration_id).name for m in drive[:3]
    ]
    rows = list(csv.DictReader(io.StringIO(run(str(path), "--dbc", KEICAR, "--csv").stdout)))
    assert len(rows) == sum(len(f["signals"]) for f in array)
    assert list(rows[0]) == [
        "timestamp",
        "arbitration_id",
        "is_extended_id",
        "message",
        "signal",
        "value",
    ]
    first = array[0]
    name, value = next(iter(first["signals"].items()))
    assert (rows[0]["message"], rows[0]["signal"], float(rows[0]["value"])) == (
        first["message"],
        name,
        value,
    )


def test_choices_print_labels(tmp_path: Path) -> None:
    path = tmp_path / "gear.log"
    # TRANSMISSION (992): GEAR 0|4 = 3 -> "3"; SHIFT_LEVER 4|4 = 3 -> "D" (VAL_ in keicar.dbc).
    write_log(
        path,
        [
            can.Message(
                timestamp=1.0,
                arbitration_id=992,
                is_extended_id=False,
                data=bytes([0x33, 80, 0, 0]),
            )
        ],
    )
    plain = json.loads(run(str(path), "--dbc", KEICAR, "--nl").stdout)
    labelled = json.loads(run(str(path), "--dbc", KEICAR, "--nl", "--choices").stdout)
    assert plain["signals"] == {"GEAR": 3, "SHIFT_LEVER": 3, "ATF_TEMP": 40}
    assert labelled["signals"] == {"GEAR": "3", "SHIFT_LEVER": "D", "ATF_TEMP": 40}


def test_nan_prints_as_null(tmp_path: Path) -> None:
    dbc = tmp_path / "float.dbc"
    dbc.write_text(
        'VERSION ""\nBS_:\nBU_: ECU\nBO_ 1 F: 4 ECU\n SG_ X : 0|32@1- (1,0) [0|0] "" ECU\n'
        "SIG_VALTYPE_ 1 X : 1;\n"
    )
    path = tmp_path / "nan.log"
    write_log(
        path,
        [
            can.Message(
                timestamp=1.0, arbitration_id=1, is_extended_id=False, data=b"\x00\x00\xc0\x7f"
            )
        ],
    )
    assert json.loads(run(str(path), "--dbc", str(dbc), "--nl").stdout)["signals"] == {"X": None}
    assert math.isnan(
        cantools.database.load_file(str(dbc)).decode_message(1, b"\x00\x00\xc0\x7f")["X"]
    )


def test_nl_and_csv_together_are_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["decode", "x.log", "--dbc", KEICAR, "--nl", "--csv"])
    assert result.exit_code == 2
    assert "choose one of --nl and --csv" in result.output


def test_unknown_log_format_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "drive.xyz"
    path.write_text("")
    result = CliRunner().invoke(cli, ["decode", str(path), "--dbc", KEICAR])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}: unknown log format .xyz; keilog reads ")


def test_rejected_dbc_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    dbc = tmp_path / "bad.dbc"
    dbc.write_text('VERSION ""\nBS_:\nBU_: ECU\nBO_ 4096 TooWide: 8 ECU\n')
    result = CliRunner().invoke(cli, ["decode", str(SEGMENT), "--dbc", str(dbc)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {dbc}:4: cantools cannot load this database")


def test_progress_reports_frames_and_bytes_up_to_the_whole_file(
    tmp_path: Path, drive: list[can.Message]
) -> None:
    path = tmp_path / "drive.asc"
    write_log(path, drive)
    seen = []
    batches = list(open_log(path).batches(chunk_frames=100, progress=seen.append))
    assert [len(b) for b in batches] == [100] * 5 + [14]
    assert [p.frames for p in seen] == [100, 200, 300, 400, 500, 514]
    assert seen[-1].bytes_read == seen[-1].bytes_total == path.stat().st_size
    assert all(p.rate > 0 for p in seen)


def _peer_logs() -> list[Any]:
    folder = SHARED / "peer" / "python-can-logs"
    logs = sorted(p for p in folder.glob("*") if p.name != "LICENSE")
    if not logs:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no peer logs at {folder}"))]
    return [pytest.param(p, id=p.name) for p in logs]


@pytest.mark.parametrize("path", _peer_logs())
def test_python_can_sample_logs_read_frame_for_frame(path: Path) -> None:
    batches = list(open_log(path).batches())
    with can.LogReader(str(path)) as reader:
        messages = list(reader)
    assert sum(len(b) for b in batches) == len(messages)
    got = [
        (int(i), bool(e), b.payload(r))
        for b in batches
        for r, (i, e) in enumerate(zip(b.arbitration_id, b.is_extended, strict=True))
    ]
    assert got == [(m.arbitration_id, m.is_extended_id, bytes(m.data)) for m in messages]
    result = run(str(path), "--dbc", KEICAR, "--nl")
    assert result.exit_code == 0, result.output
