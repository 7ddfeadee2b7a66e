"""Power and health: ignition off parks the logger and wakes it again, the status LED
patterns, the watchdog, the counters written as events."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from tests.conftest import TESTS, run_mp
from tests.firmware.fwrun import events, frame_number, frames, run, segments, seq_frame

# Status patterns, 8 slots of 125 ms (power.py): 1 = lit
LOGGING = "01111111"  # lit, with a short blink each second
NO_FIX = "11110000"
ERROR = "10101010"
PARKED = "10000000"


@pytest.fixture(scope="module")
def status():
    return json.loads(run_mp(TESTS / "firmware" / "mp_status.py").stdout)


@pytest.mark.parametrize(
    ("state", "pattern"),
    [
        ("logging", LOGGING),
        ("no_fix", NO_FIX),
        ("config_error", ERROR),
        ("storage_full", ERROR),
        ("bus_off", ERROR),
        ("parked", PARKED),
    ],
)
def test_one_status_led_shows_the_most_urgent_state(status, state, pattern):
    assert "".join(s for s in status[state]["one"]) == pattern


def test_the_pyboard_lights_each_led_for_its_own_condition(status):
    # LED 1 red: error, LED 2 green: logging, LED 3 yellow: no GPS fix, LED 4: USB sync's
    def led(state, k):
        return "".join(s[k] for s in status[state]["pyboard"])

    assert led("logging", 1) == "11111111" and led("logging", 0) == "00000000"
    assert led("no_fix", 2) == NO_FIX and led("no_fix", 1) == "11111111"
    assert led("config_error", 0) == ERROR and led("config_error", 1) == "00000000"
    assert {led(s, 3) for s in status if s != "watchdog_stalls"} == {"00000000"}


def test_the_unix_watchdog_reports_a_stalled_loop(status):
    assert status["watchdog_stalls"] == 1


class Timeline(threading.Thread):
    """Plays (delay, action) steps: write the ignition voltage or CAN frames."""

    def __init__(self, fifo, sense, steps):
        super().__init__(daemon=True)
        self.fifo, self.sense, self.steps = fifo, sense, steps

    def run(self) -> None:
        with open(self.fifo, "wb", buffering=0) as f:
            for delay, what, value in self.steps:
                time.sleep(delay)
                if what == "mv":
                    tmp = self.sense.with_suffix(".tmp")
                    tmp.write_text(f"{value}\n")
                    tmp.replace(self.sense)
                else:
                    f.write(b"".join(seq_frame(i) for i in value))


def drive(tmp_path, steps, run_s):
    fifo, sense = tmp_path / "can.fifo", tmp_path / "ignition_mv"
    os.mkfifo(fifo)
    sense.write_text("12600\n")  # a charged 12 V battery with the key on
    timeline = Timeline(fifo, sense, steps)
    timeline.start()
    cfg = {
        "can": {"source": str(fifo), "eof": "wait"},
        "power": {"ignition_pin": str(sense), "ignition_mv": 9000, "idle_s": 1},
        "storage": {"path": str(tmp_path / "log")},
        "run_s": run_s,
    }
    proc = run(tmp_path, cfg)
    timeline.join(5)
    return proc, segments(tmp_path / "log")


def test_ignition_off_closes_the_segment_and_on_opens_the_next(tmp_path):
    steps = [
        (0.2, "can", range(0, 50)),
        (0.2, "mv", 8000),  # key off: below 9000 mV, 500 mV hysteresis
        (0.6, "mv", 14200),  # key on, engine running
        (0.2, "can", range(50, 100)),
    ]
    _, segs = drive(tmp_path, steps, 2)
    assert len(segs) == 2 and all(s.damage == [] for s in segs)
    first, second = segs
    assert events([first], "ignition_off") == [8000]
    assert events([first], "shutdown") == [1]  # 1: ignition off
    assert events([second], "ignition_on") == [14200]
    assert [frame_number(f) for f in frames([first])] == list(range(50))
    assert [frame_number(f) for f in frames([second])] == list(range(50, 100))


def test_can_activity_wakes_a_parked_logger_and_idle_parks_it_again(tmp_path):
    steps = [
        (0.2, "mv", 8000),  # key off: park
        (0.5, "can", range(0, 20)),  # the body computer still talks: wake, log
        (0.1, "can", range(20, 40)),
    ]
    _, segs = drive(tmp_path, steps, 3)
    assert len(segs) == 2
    assert events([segs[0]], "shutdown") == [1]
    assert [frame_number(f) for f in frames([segs[1]])] == list(range(40))
    # no frames for power.idle_s (1 s) with the key still off: parked again
    assert events([segs[1]], "shutdown") == [1]
    assert events(segs, "ignition_on") == []


def test_counters_are_written_as_events(tmp_path):
    src = tmp_path / "f.bin"
    src.write_bytes(b"".join(seq_frame(i) for i in range(300)))
    cfg = {"can": {"source": str(src)}, "storage": {"path": str(tmp_path / "log")}}
    run(tmp_path, cfg)
    segs = segments(tmp_path / "log")
    assert events(segs, "boot") == [1]
    assert events(segs, "frames") == [300]
    assert events(segs, "dropped") == [0]
    assert events(segs, "bytes_written")[-1] > 300 * 15
    assert len(events(segs, "flush_ms_max")) == 1
    assert events(segs, "shutdown") == [0]
