"""keilog monitor: the latest decoded value of every signal on a live bus."""

from __future__ import annotations

import json

import can
import cantools
from click.testing import CliRunner
from keilog.bus import Monitor, watch
from keilog.cli import cli

from tests.bus.conftest import KEICAR, SPEED_VALUES, send_when_listening

DB = cantools.database.load_file(str(KEICAR))


def _frame(name: str, values: dict, t: float = 0.0) -> can.Message:
    message = DB.get_message_by_name(name)
    return can.Message(
        timestamp=t, arbitration_id=message.frame_id, is_extended_id=False,
        data=message.encode(values),
    )  # fmt: skip


GEAR = {"GEAR": 3, "SHIFT_LEVER": 3, "ATF_TEMP": 80}


def test_the_table_keeps_the_latest_value_of_each_signal_with_its_unit():
    monitor = Monitor(DB)
    monitor.feed(_frame("VEHICLE_SPEED", {**SPEED_VALUES, "VEHICLE_SPEED": 10.0}, 1.0))
    monitor.feed(_frame("VEHICLE_SPEED", SPEED_VALUES, 2.0))
    monitor.feed(_frame("TRANSMISSION", GEAR, 2.5))
    monitor.feed(can.Message(arbitration_id=0x7FF, is_extended_id=False, data=b"\x00"))
    rows = {(r.message, r.signal): r for r in monitor.rows()}
    speed = rows[("VEHICLE_SPEED", "VEHICLE_SPEED")]
    assert (speed.value, speed.unit, speed.frames, speed.timestamp) == (42.5, "km/h", 2, 2.0)
    assert str(rows[("TRANSMISSION", "SHIFT_LEVER")].value) == "D"  # choice 3 in keicar.dbc
    assert rows[("TRANSMISSION", "ATF_TEMP")].unit == "degC"
    assert monitor.unknown == {0x7FF: 1}
    assert monitor.frames == 4


def test_raw_numbers_without_choices():
    monitor = Monitor(DB, choices=False)
    monitor.feed(_frame("TRANSMISSION", GEAR))
    assert {r.signal: r.value for r in monitor.rows()}["SHIFT_LEVER"] == 3


def test_watch_feeds_the_monitor_from_a_virtual_bus(channel):
    monitor = Monitor(DB)
    updates = []
    with can.Bus(interface="virtual", channel=channel) as bus:
        with can.Bus(interface="virtual", channel=channel) as tx:
            tx.send(_frame("VEHICLE_SPEED", SPEED_VALUES))
            tx.send(_frame("TRANSMISSION", GEAR))
        stopped = watch(bus, monitor, duration=0.3, on_update=updates.append)
    assert stopped == "duration"
    assert [u.message for u in updates] == ["VEHICLE_SPEED", "TRANSMISSION"]


def test_keilog_monitor_prints_one_line_per_frame_when_not_on_a_terminal(channel):
    sender = send_when_listening(
        channel, [_frame("VEHICLE_SPEED", SPEED_VALUES), _frame("TRANSMISSION", GEAR)]
    )
    out = CliRunner().invoke(
        cli,
        ["monitor", "-i", "virtual", "-c", channel, "--dbc", str(KEICAR), "--duration", "1"],
    )
    sender.join(timeout=30)
    assert out.exit_code == 0, out.output
    lines = [line.split(" ", 1)[1] for line in out.stdout.splitlines()]
    assert lines == [
        "VEHICLE_SPEED VEHICLE_SPEED=42.5 km/h WHEEL_SPEED_FL=42 km/h WHEEL_SPEED_FR=43 km/h "
        "ACCEL_LONG=-1.5 m/s^2 COUNTER=3",
        "TRANSMISSION GEAR=3 SHIFT_LEVER=D ATF_TEMP=80 degC",
    ]
    assert out.stderr == "2 frames, 0 with ids no DBC defines (stopped by duration)\n"


def test_keilog_monitor_nl(channel):
    sender = send_when_listening(channel, [_frame("TRANSMISSION", GEAR, 5.0)])
    out = CliRunner().invoke(
        cli,
        ["monitor", "-i", "virtual", "-c", channel, "--dbc", str(KEICAR), "--duration", "1",
         "--nl", "--raw"],
    )  # fmt: skip
    sender.join(timeout=30)
    assert out.exit_code == 0, out.output
    (line,) = out.stdout.splitlines()
    got = json.loads(line)
    assert (got["message"], got["signals"], got["units"]) == (
        "TRANSMISSION", {"GEAR": 3, "SHIFT_LEVER": 3, "ATF_TEMP": 80}, {"ATF_TEMP": "degC"},
    )  # fmt: skip


_ON_A_TERMINAL = """
import sys, threading
from tests.bus.conftest import send_when_listening
from tests.bus.test_monitor import GEAR, _frame
from keilog.cli import main
send_when_listening(sys.argv[1], [_frame("TRANSMISSION", GEAR)])
sys.argv = ["keilog", "monitor", "-i", "virtual", "-c", sys.argv[1], "--dbc", sys.argv[2],
            "--duration", "1"]
main()
"""


def test_keilog_monitor_draws_a_table_on_a_terminal(channel):
    import os
    import pty
    import subprocess
    import sys

    from tests.conftest import ROOT

    main_fd, child_fd = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-c", _ON_A_TERMINAL, channel, str(KEICAR)],
        stdout=child_fd, stderr=subprocess.DEVNULL, cwd=ROOT,
    )  # fmt: skip
    os.close(child_fd)
    out = b""
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=60) == 0
    os.close(main_fd)
    screen = out.decode().split("\x1b[H\x1b[2J")[-1].splitlines()  # the last redraw
    assert [line.split() for line in screen[:4]] == [
        ["MESSAGE", "SIGNAL", "VALUE", "UNIT", "FRAMES"],
        ["TRANSMISSION", "ATF_TEMP", "80", "degC", "1"],
        ["TRANSMISSION", "GEAR", "3", "1"],
        ["TRANSMISSION", "SHIFT_LEVER", "D", "1"],
    ]
