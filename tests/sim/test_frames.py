"""Broadcast frames: at each message's DBC cycle time, and decoding back to the model."""

import itertools
from collections import defaultdict

import pytest
from keilog import paths
from keilog.errors import DbcError
from keilog.sim.frames import SIGNALS, load_dbc, schedule
from keilog.sim.run import CanFrame, Simulation
from keilog.sim.scenario import builtin

KEICAR = load_dbc()
CYCLE_S = {m.frame_id: m.cycle_time / 1000 for m in KEICAR.messages}


@pytest.fixture(scope="module")
def demo_frames():
    sim = Simulation(builtin("florida_rural"))
    return [ev for ev in sim.events(duration=60.0) if isinstance(ev, CanFrame)]


def test_every_message_keeps_its_dbc_cycle_time_within_10_percent(demo_frames):
    times = defaultdict(list)
    for ev in demo_frames:
        times[ev.message.arbitration_id].append(ev.message.timestamp)
    assert set(times) == set(CYCLE_S) == {0x0C8, 0x1D0, 0x3E0, 0x3F0, 0x420}
    for frame_id, stamps in times.items():
        cycle = CYCLE_S[frame_id]
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert min(gaps) >= 0.9 * cycle, hex(frame_id)
        assert max(gaps) <= 1.1 * cycle, hex(frame_id)
        # the count over the minute matches the rate (60 s / cycle, +- one frame)
        assert abs(len(stamps) - 60.0 / cycle) <= 1, hex(frame_id)


def test_frames_are_in_time_order_and_stamped_in_utc(demo_frames):
    start = builtin("florida_rural").start_epoch
    stamps = [ev.message.timestamp for ev in demo_frames]
    assert stamps == sorted(stamps)
    assert all(ev.message.timestamp == pytest.approx(start + ev.t) for ev in demo_frames)


def test_frames_decode_back_to_the_model_values():
    sim = Simulation(builtin("florida_rural"))
    checked = defaultdict(int)
    for n, ev in enumerate(sim.events(duration=120.0)):
        if not isinstance(ev, CanFrame) or n % 7:
            continue
        msg = KEICAR.get_message_by_frame_id(ev.message.arbitration_id)
        decoded = msg.decode(bytes(ev.message.data), decode_choices=False)
        for name, value_of in SIGNALS[msg.name].items():
            signal = msg.get_signal_by_name(name)
            expected = min(max(value_of(sim.state), signal.minimum), signal.maximum)
            # the frame carries the value of the moment, quantised to the signal's scale
            assert decoded[name] == pytest.approx(expected, abs=signal.scale / 2 + 1e-9), name
            checked[name] += 1
    assert set(checked) == {name for sigs in SIGNALS.values() for name in sigs}


def test_rolling_counters_count_modulo_16(demo_frames):
    counters = [
        KEICAR.decode_message(0x0C8, bytes(ev.message.data))["COUNTER"]
        for ev in demo_frames
        if ev.message.arbitration_id == 0x0C8
    ][:40]
    assert counters == [i % 16 for i in range(40)]


def test_speed_on_the_bus_is_km_h_with_the_cars_speedometer_error():
    sc = builtin("florida_rural")  # speedo_error_pct: 2.0
    sim = Simulation(sc)
    for ev in sim.events(duration=40.0):
        if isinstance(ev, CanFrame) and ev.message.arbitration_id == 0x1D0 and ev.t > 30:
            kmh = KEICAR.decode_message(0x1D0, bytes(ev.message.data))["VEHICLE_SPEED"]
            assert kmh == pytest.approx(sim.state.speed_mps * 3.6 * 1.02, abs=0.005)


def test_a_car_without_can_sends_no_frames():
    sim = Simulation(builtin("north_carolina_gps_only"))
    assert not any(isinstance(ev, CanFrame) for ev in sim.events(duration=20.0))


def test_the_bus_goes_quiet_when_the_key_is_turned_off():
    sim = Simulation(builtin("tennessee_speed_cap"))
    events = list(sim.events())
    last_frame = max(ev.t for ev in events if isinstance(ev, CanFrame))
    assert sim.finished
    assert last_frame <= sim.summary.duration_s
    # the last BODY_STATUS frames still say ON; nothing follows the key going OFF
    body = [ev for ev in events if isinstance(ev, CanFrame) and ev.message.arbitration_id == 0x3F0]
    assert KEICAR.decode_message(0x3F0, bytes(body[-1].message.data))["IGNITION"] == "ON"


def test_a_dbc_signal_the_simulator_cannot_fill_is_an_error_naming_it(tmp_path):
    text = paths.keicar_dbc().read_text()
    text = text.replace(
        ' SG_ COUNTER : 56|4@1+ (1,0) [0|15] "" LOGGER\n\nBO_ 464',
        ' SG_ COUNTER : 56|4@1+ (1,0) [0|15] "" LOGGER\n SG_ OIL_PRESSURE : 40|8@1+ (1,0) '
        '[0|255] "kPa" LOGGER\n\nBO_ 464',
    )
    bad = tmp_path / "extra.dbc"
    bad.write_text(text)
    with pytest.raises(DbcError, match=r"no value for signal OIL_PRESSURE of ENGINE_STATUS"):
        schedule(load_dbc(bad), str(bad))
