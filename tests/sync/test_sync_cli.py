"""`keilog sync` on the command line, against the real firmware on a pty."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner
from keilog.cli import cli

from tests.sync.helpers import db_frames
from tests.sync.ptyfw import FirmwareOnPty, wait_for
from tests.sync.test_sync_firmware import logged_frames, write_frames


def test_sync_prints_one_line_per_segment_and_imports_them(tmp_path: Path) -> None:
    sent = write_frames(tmp_path / "can.bin", 0, 500)
    with FirmwareOnPty(tmp_path, tmp_path / "can.bin") as fw:
        wait_for(lambda: logged_frames(fw.port) == len(sent), 20, "the firmware to log")
        args = ["sync", "--port", fw.port, "--into", str(tmp_path / "logs")]
        args += ["--db", str(tmp_path / "k.db")]
        text = CliRunner().invoke(cli, args)
        as_json = CliRunner().invoke(cli, [*args, "--json", "--no-seal", "--no-clock"])
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines() == [
        "00010000.KLG: imported, 500 frames, acknowledged",
        "00010001.KLG: still being written, 512 bytes fetched so far",
    ]
    assert "device test-unit (unix, firmware" in text.stderr
    assert "clock set from this computer" in text.stderr
    # Synced without a DBC: the frames no DBC decodes are counted, commonest ids first.
    assert (
        "warning: 500 of 500 frames were not decoded (no DBC was given; 7 identifiers): "
        "0x100 (72), 0x101 (72), 0x102 (72), 0x103 (71), 0x104 (71), and 2 more (142 frames); "
        f"keilog redecode --db {tmp_path / 'k.db'} --dbc CAR.dbc decodes the stored frames again"
    ) in text.stderr.splitlines()
    assert as_json.exit_code == 0, as_json.output
    result = json.loads(as_json.stdout)
    assert result["sealed"] is None and result["clock"] is None
    assert [s["status"] for s in result["segments"]] == ["in progress"]
    assert db_frames(tmp_path / "k.db") == sent


def test_sync_with_no_answer_is_an_error_that_says_what_to_check(tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        args = ["sync", "--port", os.ttyname(slave), "--timeout", "0.1"]
        args += ["--into", str(tmp_path / "logs"), "--db", str(tmp_path / "k.db")]
        result = CliRunner().invoke(cli, args)
    finally:
        os.close(master)
        os.close(slave)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "no answer to HELLO after 5 tries of 0.1 s" in result.stderr


def test_sync_list_without_boards_says_so_on_stderr() -> None:
    result = CliRunner().invoke(cli, ["sync", "--list"])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no MicroPython board found" in result.stderr


def test_auto_without_a_board_says_how_to_name_the_port(tmp_path: Path) -> None:
    args = ["sync", "--into", str(tmp_path / "logs"), "--db", str(tmp_path / "k.db")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "no MicroPython board found (USB vendor id 0xF055)" in result.stderr
    assert "--port" in result.stderr
