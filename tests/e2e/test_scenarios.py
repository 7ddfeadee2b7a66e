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
