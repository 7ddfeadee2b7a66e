"""The board CAN sources (machine.CAN and pyb.CAN) on in-memory controllers.

tests/firmware/fakecan.py plays the controllers by their documented MicroPython APIs
and calls the receive interrupts with the heap locked, as hard IRQs run: any allocation
in the interrupt path fails the run. Frames go through the real ring, Logger and segment
store and are read back by the host reader.
"""

from __future__ import annotations

import json

import pytest
from keilog.logformat.reader import CanFrame, Event, read_segment

from tests.conftest import TESTS, run_mp

DRIVERS = ["machine", "pyb"]
EV_OVERRUN, EV_BUS_STATE = 3, 4


def scenario(name: str, driver: str, tmp_path) -> tuple[dict, list]:
    out = run_mp(TESTS / "firmware" / "mp_can.py", name, driver, str(tmp_path / "log"))
    records = []
    for seg in sorted((tmp_path / "log").glob("*.KLG")):
        parsed = read_segment(seg)
        assert parsed.damage == []
        records += parsed.records
    return json.loads(out.stdout), records


@pytest.mark.parametrize("driver", DRIVERS)
def test_listen_only_with_filters_and_every_frame_kind(tmp_path, driver):
    result, records = scenario("rx", driver, tmp_path)
    assert result["silent"] is True  # MODE_SILENT / SILENT: never ACKs, never transmits
    assert result["send_silent"] is False
    if driver == "machine":
        assert result["filters"] == [[0x100, 0x700, 0], [0x18DAF100, 0x1FFFFF00, 2]]
        assert result["trigger"] == 2 | 8  # IRQ_RX | IRQ_STATE
        assert result["hard"] is True
    else:
        # An 11-bit filter: a 16-bit mask bank (pair repeated); 29-bit: 32-bit mask bank.
        assert result["banks"] == [
            [0, 0, 0, [0x100, 0x700, 0x100, 0x700], False],
            [1, 2, 1, [0x18DAF100, 0x1FFFFF00], True],
        ]
        assert result["callbacks"] == [True, True]
    frames = [r for r in records if isinstance(r, CanFrame)]
    got = [(f.arbitration_id, f.is_extended_id, f.is_remote_frame, f.dlc, f.data) for f in frames]
    assert got[:4] == [
        (0x123, False, False, 2, b"\x01\x02"),
        (0x18DAF110, True, False, 8, b"\x02\x01\x0d\x00\x00\x00\x00\x00"),
        (0x1FF, False, True, 4, b""),
        (0x101, False, False, 0, b""),
    ]
    assert got[4:] == [
        (0x100 + (i & 0xFF), False, False, 8, bytes([i & 0xFF, 1, 2, 3, 4, 5, 6, 7]))
        for i in range(300)
    ]
    assert result["frames"] == 304  # 0x200 and 0x18DAF210 did not pass the filters


@pytest.mark.parametrize(("driver", "lost"), [("machine", 4), ("pyb", 1)])
def test_fifo_overrun_is_counted_and_logged(tmp_path, driver, lost):
    # 7 frames into a 3-deep FIFO while interrupts are masked: 4 lost. machine.CAN
    # counts each (get_counters()[7]); bxCAN's pyb.CAN says only that it overflowed.
    result, records = scenario("overrun", driver, tmp_path)
    assert result == {"frames": 4, "overruns": lost}
    assert [r.value for r in records if isinstance(r, Event) and r.code == EV_OVERRUN] == [lost]


@pytest.mark.parametrize("driver", DRIVERS)
def test_bus_state_changes_are_logged_and_bus_off_restarts(tmp_path, driver):
    result, records = scenario("state", driver, tmp_path)
    # warning, passive, active, bus-off, then active again after the restart (1 s).
    assert result["states"] == [1, 2, 0, 3, 0]
    states = [r.value for r in records if isinstance(r, Event) and r.code == EV_BUS_STATE]
    assert states == [1, 2, 0, 3, 0]


@pytest.mark.parametrize("driver", DRIVERS)
def test_autobaud_finds_the_bus_bitrate_listening_silently(tmp_path, driver):
    result, _ = scenario("autobaud", driver, tmp_path)
    # The configured 500k first: receive errors, next; 250k: frames and no errors.
    assert result["tried"] == [500000, 250000]
    assert result["found"] == 250000
    assert set(result["silent"]) == {True}  # auto-detect never leaves silent mode
    # A quiet bus: every bitrate tried, none found (the configured one stays).
    assert result["quiet"] == 0 and result["quiet_tried"] == 4


@pytest.mark.parametrize("driver", DRIVERS)
def test_obd_polling_switches_to_normal_mode_and_logs_requests_and_answers(tmp_path, driver):
    result, records = scenario("obd", driver, tmp_path)
    assert result["silent"] is False and result["mode"] == 0  # MODE_NORMAL / NORMAL
    # Requests on 0x7DF, single frame "02 01 PID" padded to 8 bytes, PIDs round-robin,
    # 200 ms / 2 PIDs = one every 100 ms: 5 in the 450 ms run.
    assert result["gap_ms"] == 100
    assert result["sent"] == [
        [0x7DF, "02010d0000000000", False],
        [0x7DF, "02010c0000000000", False],
        [0x7DF, "02010d0000000000", False],
        [0x7DF, "02010c0000000000", False],
        [0x7DF, "02010d0000000000", False],
    ]
    frames = [(f.arbitration_id, f.data.hex()) for f in records if isinstance(f, CanFrame)]
    answers = [d for i, d in frames if i == 0x7E8]
    requests = [d for i, d in frames if i == 0x7DF]
    assert requests == [s[1] for s in result["sent"]]
    assert answers == ["03410d3c00000000", "04410c1af8000000"] * 2 + ["03410d3c00000000"]
    # With filters configured, the responses 0x7E8..0x7EF are let through as well.
    if driver == "machine":
        assert [0x7E8, 0x7F8, 0] in result["filters"]
    else:
        assert [1, 0, 1, [0x7E8, 0x7F8, 0x7E8, 0x7F8], False] in result["banks"]
