"""The pins of the inputs for cars without CAN (hardware/boards/*.json, "vss" and
"inputs"): free, interrupt-capable where they count pulses, and what keilog config
writes."""

from __future__ import annotations

import re

import pytest
from keilog.errors import ConfigError
from keilog.hardware import boards, devconfig

NAMES = boards.board_names()


@pytest.mark.parametrize("name", NAMES)
def test_every_input_has_a_pin_of_its_own(name):
    board = boards.load_board(name)
    pins = board.input_pins()
    assert set(pins) == {"vss", "tach", "battery", "coolant", "fuel", "oil", "brake", "lights"}
    # the battery shares the sense divider; every other input has a pin no one else uses
    assert pins["battery"] == board.ignition_pin
    used = [p.mcu for p in board.signal_pins()]
    assert len(used) == len(set(used)), used


@pytest.mark.parametrize("name", [n for n in NAMES if n != "teensy41"])
def test_pulse_pins_have_their_own_exti_line_on_stm32(name):
    # STM32 pin interrupts share EXTI line n among PAn, PBn, PCn...: two pulse inputs on
    # the same pin number could not both have an interrupt
    data = boards.load_board(name).data
    lines = {int(re.sub(r"\D", "", data[k]["mcu"] if k == "vss" else data["inputs"][k]["mcu"]))
             for k in ("vss", "tach")}  # fmt: skip
    assert len(lines) == 2


@pytest.mark.parametrize("name", NAMES)
def test_config_wires_all_inputs_on_the_boards_pins(name):
    board = boards.load_board(name)
    cfg = devconfig.build_config(board, inputs=["all"], can=False).config
    assert cfg["can"]["enabled"] is False
    assert {k: cfg[k]["pin"] for k in board.input_pins()} == board.input_pins()


def test_an_unknown_input_names_the_board_file():
    with pytest.raises(ConfigError, match=r"'speed' is not one of vss.*pyboard_v11.json"):
        devconfig.build_config(boards.load_board("pyboard_v11"), inputs=["speed"])
