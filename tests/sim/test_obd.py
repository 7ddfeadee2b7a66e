"""The simulator's OBD-II responder: service 01 answers as an engine ECU gives them.

Expected bytes are hand-computed with the SAE J1979 formulas (see dbc/README.md).
"""

import functools

import can
import pytest
from hypothesis import given
from hypothesis import strategies as st
from keilog.sim.model import IGNITION_OFF, IGNITION_ON, CarState
from keilog.sim.obd import ObdResponder, request, supported_bitmap


@functools.cache
def responder() -> ObdResponder:
    return ObdResponder()


@pytest.fixture
def ecu():
    return responder()


def running(**values) -> CarState:
    s = CarState(ignition=IGNITION_ON, engine_running=True)
    for k, v in values.items():
        setattr(s, k, v)
    return s


@pytest.mark.parametrize(
    ("pid", "state", "expected"),
    [
        # 1726 rpm * 4 = 6904 = 0x1AF8
        (0x0C, running(engine_rpm=1726.0), "04410C1AF8555555"),
        # 27.78 m/s = 100.0 km/h = 0x64 (no speedometer error)
        (0x0D, running(speed_mps=100 / 3.6), "03410D6455555555"),
        # the car's own speed reads 5 % high: 80 km/h true -> 84 km/h = 0x54
        (0x0D, running(speed_mps=80 / 3.6, speedo_error_pct=5.0), "03410D5455555555"),
        # 83 degC + 40 = 123 = 0x7B
        (0x05, running(coolant_c=83.0), "0341057B55555555"),
        # 25 degC + 40 = 65 = 0x41
        (0x0F, running(intake_c=25.0), "03410F4155555555"),
        # throttle plate shut: the sensor reads 12 %; 12 * 255 / 100 = 30.6 -> 31 = 0x1F
        (0x11, running(throttle=0.0), "0341111F55555555"),
        # full tank: 100 % -> 0xFF; half: 50 * 255 / 100 = 127.5 -> 128 = 0x80
        (0x2F, running(fuel_pct=100.0), "03412FFF55555555"),
        (0x2F, running(fuel_pct=50.0), "03412F8055555555"),
        # 14.2 V * 1000 = 14200 = 0x3778
        (0x42, running(battery_v=14.2), "0441423778555555"),
        # 600 s since start = 0x0258
        (0x1F, running(run_time_s=600.0), "04411F0258555555"),
    ],
)
def test_answers_match_hand_computed_j1979_frames(ecu, pid, state, expected):
    answer = ecu.respond(request(pid), state)
    assert answer.arbitration_id == 0x7E8
    assert not answer.is_extended_id
    assert answer.dlc == 8
    assert bytes(answer.data) == bytes.fromhex(expected)


def test_supported_pid_bitmaps_list_exactly_the_pids_of_the_dbc(ecu):
    pids = ecu.pids
    assert {0x00, 0x05, 0x0C, 0x0D, 0x0F, 0x11, 0x2F} <= pids
    answer = ecu.respond(request(0x00), running())
    bitmap = int.from_bytes(bytes(answer.data[3:7]), "big")
    # SAE J1979: bit 31 is PID 0x01 ... bit 0 is PID 0x20
    listed = {0x20 - bit for bit in range(32) if bitmap >> bit & 1}
    assert listed == {p for p in pids if 0x01 <= p <= 0x20}
    assert bitmap & 1  # 0x20 is supported, so PIDs above 0x20 exist
    answer = ecu.respond(request(0x20), running())
    bitmap = int.from_bytes(bytes(answer.data[3:7]), "big")
    assert {0x40 - bit for bit in range(32) if bitmap >> bit & 1} == {
        p for p in pids if 0x21 <= p <= 0x40
    }


def test_bitmap_of_the_wikipedia_example():
    # J1979 example "41 00 BE 1F A8 13": PIDs 01 03 04 05 06 07 0C 0D 0E 0F 10 11 13 15 1C 1F 20
    pids = {
        0x01,
        0x03,
        0x04,
        0x05,
        0x06,
        0x07,
        0x0C,
        0x0D,
        0x0E,
        0x0F,
        0x10,
        0x11,
        0x13,
        0x15,
        0x1C,
        0x1F,
        0x21,
    }
    assert supported_bitmap(0x00, pids) == 0xBE1FA813


def test_physical_request_on_7e0_is_answered_too(ecu):
    answer = ecu.respond(request(0x0D, functional=False), running(speed_mps=10.0))
    assert bytes(answer.data[:4]) == bytes.fromhex("03410D24")  # 36 km/h


@pytest.mark.parametrize(
    "data",
    [
        "02010E5555555555",  # PID 0x0E (timing advance): not supported, ECU stays silent
        "0209025555555555",  # service 09 (VIN): not this responder's job
        "03010C0D55555555",  # two PIDs in one request: not answered
        "10140102030405FF",  # a first frame, not a single frame
    ],
)
def test_stays_silent_where_an_ecu_would(ecu, data):
    msg = can.Message(arbitration_id=0x7DF, is_extended_id=False, data=bytes.fromhex(data))
    assert ecu.respond(msg, running()) is None


def test_says_nothing_with_the_key_off(ecu):
    assert ecu.respond(request(0x0C), CarState(ignition=IGNITION_OFF)) is None


def test_ignores_other_ids(ecu):
    msg = can.Message(arbitration_id=0x7E8, is_extended_id=False, data=bytes.fromhex("02010C"))
    assert ecu.respond(msg, running()) is None
    msg = can.Message(arbitration_id=0x7DF, is_extended_id=True, data=bytes.fromhex("02010C"))
    assert ecu.respond(msg, running()) is None


def test_out_of_range_values_are_clamped_to_the_signal_range(ecu):
    # coolant below -40 degC cannot be expressed: A = 0 is the floor
    answer = ecu.respond(request(0x05), running(coolant_c=-60.0))
    assert answer.data[3] == 0


@given(
    arbitration_id=st.sampled_from([0x7DF, 0x7E0, 0x7E8, 0x123]),
    data=st.binary(min_size=0, max_size=8),
)
def test_any_request_bytes_get_a_valid_answer_or_none(arbitration_id, data):
    ecu = responder()
    msg = can.Message(arbitration_id=arbitration_id, is_extended_id=False, data=data)
    answer = ecu.respond(msg, running(engine_rpm=2000.0, speed_mps=12.0))
    if answer is None:
        return
    assert data[0] == 0x02 and data[1] == 0x01
    assert answer.data[1] == 0x41 and answer.data[2] == data[2]
    assert 3 <= answer.data[0] <= 6
