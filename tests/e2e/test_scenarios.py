"""Every built-in scenario, end to end through the real firmware, gives what it expects.

simulator -> virtual CAN bus + NMEA FIFO -> firmware on the MicroPython unix port ->
segments -> import -> rules check -> report. Each scenario file names the states and
the violation rules its drive must produce (its "expect" field); the check must find
exactly those, every frame sent must be logged, and the report must be written.
"""

from __future__ import annotations

import pytest
from keilog.demo import run_demo
from keilog.sim import scenario as sim_scenario

NAMES = sim_scenario.builtin_names()


def test_there_is_a_scenario_for_each_kind_of_rule():
    assert {
        "florida_rural",  # road posted above the class maximum
        "tennessee_speed_cap",  # vehicle speed cap
        "indiana_interstate",  # banned road class
        "florida_alabama_line",  # state line into other rules
        "north_carolina_gps_only",  # a car with no CAN
    } <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_scenario_end_to_end(tmp_path, name):
    sc = sim_scenario.builtin(name)
    result = run_demo(tmp_path / name, scenario=name, speedup=None)
    assert result.damage == []
    assert result.frames_logged == result.frames_sent
    if not sc.vehicle.can:
        assert result.frames_sent == 0
    # 1 Hz GPS: about one fix per second of driving (the first comes with the key on).
    assert result.gps_fixes_logged >= result.sentences_sent // 2 - 2
    assert result.check is not None
    [trip] = result.check["trips"]
    assert trip["states"] == sc.expect["states"]
    assert sorted({v["rule"] for v in trip["violations"]}) == sorted(sc.expect["violations"])
    for v in trip["violations"]:
        assert v["source"], v  # every verdict names its statute or DMV page
    assert result.report_path is not None and result.report_bytes > 10_000


def test_a_kei_truck_without_can_is_judged_by_its_speed_sensor(tmp_path):
    # kei_truck_1995: no CAN; VSS, tach, battery and coolant fed to the firmware as edge
    # times and ADC readings; its speedometer (and so its VSS) reads 4 % high.
    import sqlite3

    from keilog.store.calibrate import calibrate_vss

    result = run_demo(tmp_path / "kei", scenario="kei_truck_1995", speedup=None)
    assert result.frames_sent == 0 and result.input_records_logged > 200
    db = sqlite3.connect(result.db_path)

    def column(table: str, signal: str) -> list[float]:
        return [r[0] for r in db.execute(f"select {signal} from {table} where {signal} > 0")]

    kph = column("msg_INPUT_VSS", "VSS_SPEED_KPH")
    rpm = column("msg_INPUT_TACH", "TACH_RPM")
    coolant = column("msg_INPUT_COOLANT", "COOLANT_C")
    volts = column("msg_INPUT_BATTERY", "BATTERY_V")
    # 42 mph legs read 4 % high: about 70 km/h; a 660 cc engine between idle and redline;
    # a warm-up from 14 degC ambient; a charging 12 V system
    assert 67 < max(kph) < 74
    # (cranking and the engine stopping read lower: the tach's reading decays to 0)
    assert max(rpm) < 7200 and sum(r >= 800 for r in rpm) > 0.9 * len(rpm)
    assert 10 < min(coolant) < max(coolant) < 110
    assert all(11.5 < v < 15.0 for v in volts)
    [trip] = result.check["trips"]
    assert trip["speed_source"] == {
        "source": "vss",
        "signal": "VSS pulse input (VSS_SPEED_KPH)",
    }
    # one stretch over the cap (split where an unpaced run left gaps between samples)
    assert {(v["rule"], v["speed_source"]) for v in trip["violations"]} == {
        ("vehicle_max_speed", "vss")
    }
    assert trip["speedometer"]["can_reads_high_percent"] == pytest.approx(4.0, abs=0.5)
    html = result.report_path.read_text()
    assert "msg_INPUT_VSS.VSS_SPEED_KPH" in html and "msg_INPUT_TACH.TACH_RPM" in html
    assert "speed from the speed sensor (VSS)" in html
    cal = calibrate_vss(result.db_path)
    assert cal.configured_pulses_per_km == 2548
    assert cal.pulses_per_km == pytest.approx(2548 * 1.04, rel=0.005)
    assert cal.speedometer_reads_high_percent == pytest.approx(4.0, abs=0.5)
