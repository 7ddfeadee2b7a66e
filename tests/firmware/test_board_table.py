"""The firmware's board table (firmware/lib/logger/boards.py) says what the hardware
guide's pin maps (hardware/boards/*.json, read by keilog.hardware.boards) say."""

from __future__ import annotations

import json

import pytest
from keilog.hardware.boards import board_names, load_board

from tests.conftest import TESTS, run_mp


@pytest.fixture(scope="module")
def table():
    return json.loads(run_mp(TESTS / "firmware" / "mp_boards.py").stdout)


def test_the_same_boards_everywhere(table):
    assert sorted(table["boards"]) == board_names()
    assert sorted(table["config"]) == sorted([*board_names(), "unix"])


@pytest.mark.parametrize("name", board_names())
def test_pins_and_peripherals_match_the_hardware_guide(table, name):
    fw = table["boards"][name]
    hw = load_board(name)
    d = hw.data
    assert fw["can_bus"] == hw.can_bus
    assert fw["can_drivers"] == hw.can_drivers
    assert fw["can_pins"] == [d["can"]["rx"]["pin"], d["can"]["tx"]["pin"]]
    assert fw["filters_max"] == hw.can_filters["machine_can_max"]
    assert (fw["gps_uart"], fw["gps_baud"]) == (hw.gps_uart, hw.gps_baud)
    kind, mount, args = fw["sd"]
    assert (kind, mount) == (d["sd"]["interface"], hw.sd_mount)
    if kind == "spi":
        assert args == [d["sd"]["spi"], d["sd"]["pins"]["cs"]["pin"]]
    leds = [
        [
            ("pyb" if name == "pyboard_v11" else "pin"),
            (i["id"] if name == "pyboard_v11" else i["pin"]),
            i["use"],
        ]
        for i in d["leds"]["items"]
    ]
    assert fw["leds"] == leds
    adc = d["ignition_adc"]
    assert fw["ignition"] == [
        hw.ignition_pin,
        adc["adc_bits"],
        round(adc["vref_v"] * 1000),
        adc["divider"]["r_top_ohm"],
        adc["divider"]["r_bottom_ohm"],
    ]
