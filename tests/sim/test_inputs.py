"""The signals the simulator gives the logger's own inputs (keilog.sim.inputs)."""

from __future__ import annotations

import itertools

import pytest
from keilog.sim import run as sim_run
from keilog.sim import scenario as sim_scenario
from keilog.sim.inputs import InputSignals, sender_ohm
from keilog.sim.model import CarState
from keilog.unixport import inputstream as ins


def decode(data: bytes) -> list[tuple[int, int, int, float]]:
    return [
        (k, ch, v, t / 1e6)
        for k, ch, v, t in (ins.RECORD.unpack_from(data, i) for i in range(0, len(data), 8))
    ]


def test_vss_edges_count_the_distance_at_the_sensor_pulses_per_km():
    # 60 km/h for 10 s is 166.67 m; a sensor reading 4 % high gives 2548 * 1.04 pulses
    # per true km: 441.6 edges
    sig = InputSignals(speedo_error_pct=4.0, seed=1)
    state = CarState(speed_mps=60 / 3.6, engine_rpm=3000.0, engine_running=True, ignition=2)
    for k in range(1000):
        sig.step(k * 0.01, 0.01, state, 0.0)
    recs = decode(sig.take(10.0))
    vss = [r for r in recs if r[0] == ins.KIND_EDGE and r[1] == ins.VSS]
    tach = [r for r in recs if r[0] == ins.KIND_EDGE and r[1] == ins.TACH]
    assert len(vss) == int(166.6667 * 2548 * 1.04 / 1000)
    assert len(tach) == int(10 * 3000 / 60 * 1.5)  # 1.5 pulses per revolution
    gaps = [b[3] - a[3] for a, b in itertools.pairwise(vss)]
    assert sum(gaps) / len(gaps) == pytest.approx(1 / (60 / 3.6 * 2.64992), rel=1e-3)
    assert recs == sorted(recs, key=lambda r: r[3]) and recs[-1][0] == ins.KIND_CLOCK


def test_levels_are_what_the_firmware_reads_through_its_dividers():
    sig = InputSignals(seed=2)
    state = CarState(coolant_c=80.0, fuel_pct=50.0, battery_v=14.0, ignition=2)
    state.engine_running = True
    sig.step(0.0, 0.01, state, brake_pedal=0.5)
    levels = {ch: v for k, ch, v, _t in decode(sig.take(0.1)) if k == ins.KIND_LEVEL}
    assert levels[ins.COOLANT] == pytest.approx(ins.sender_u16(100.0, 1000), abs=60)
    assert levels[ins.FUEL] == pytest.approx(ins.sender_u16(50.0, 1000), abs=60)
    assert levels[ins.BATTERY] == pytest.approx(ins.divider_u16(14.0, 100_000, 22_000), abs=300)
    assert (levels[ins.OIL], levels[ins.BRAKE], levels[ins.LIGHTS]) == (1, 0, 1)


def test_sender_curve_inverts_the_config_table():
    assert sender_ohm(((30, 120.0), (100, 80.0), (1500, 0.0)), 80.0) == 100.0
    assert sender_ohm(((30, 120.0), (100, 80.0), (1500, 0.0)), 100.0) == 65.0


def test_the_pre_can_scenario_sends_inputs_and_no_frames():
    sc = sim_scenario.builtin("kei_truck_1995")
    assert sc.vehicle.inputs and not sc.vehicle.can
    kinds = {type(ev).__name__ for ev in sim_run.simulate(sc, duration=5.0)}
    assert kinds == {"NmeaSentence", "InputChunk"}


def test_scenarios_without_inputs_send_none():
    kinds = {type(ev).__name__ for ev in sim_run.simulate("florida_rural", duration=2.0)}
    assert "InputChunk" not in kinds


def test_run_writes_the_input_stream_for_the_firmware(tmp_path):
    out = tmp_path / "inputs.bin"
    summary = sim_run.run(
        "kei_truck_1995", interface=None, speedup=None, duration=10.0, inputs_out=out
    )
    recs = decode(out.read_bytes())
    assert summary["inputs_records"] == len(recs) > 100
    tach = [r for r in recs if r[0] == ins.KIND_EDGE and r[1] == ins.TACH]
    # the engine runs from 1.3 s: idle about 850 rpm, 1.5 pulses per revolution
    assert len(tach) > 8 * 850 / 60 * 1.5


def test_run_refuses_an_input_stream_for_a_car_without_inputs(tmp_path):
    from keilog.errors import ConfigError

    with pytest.raises(ConfigError, match=r"vehicle\.inputs"):
        sim_run.run("florida_rural", interface=None, speedup=None, inputs_out=tmp_path / "x")
    assert not (tmp_path / "x").exists()
