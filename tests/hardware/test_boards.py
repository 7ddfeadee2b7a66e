"""Board pin maps (hardware/boards/*.json): shape, facts, and agreement with the firmware."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from keilog.errors import ConfigError
from keilog.hardware import boards

REPO = Path(__file__).resolve().parents[2]
BOARDS = REPO / "hardware" / "boards"
NAMES = ["nucleo_g474re", "pyboard_v11", "teensy41"]


def _firmware_config():
    spec = importlib.util.spec_from_file_location(
        "keilog_fw_config", REPO / "firmware" / "lib" / "logger" / "config.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _raw(name: str) -> dict:
    return json.loads((BOARDS / f"{name}.json").read_text())


def test_every_board_file_is_listed():
    assert boards.board_names() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_board_file_validates(name):
    board = boards.load_board(name)
    assert board.name == name
    assert board.path == BOARDS / f"{name}.json"


def test_firmware_knows_exactly_the_boards_that_have_pin_maps():
    # The firmware's config schema (one place for defaults and validation) lists the
    # boards it accepts; every non-unix one must have a pin map and vice versa.
    allowed = set(_firmware_config().SCHEMA["board"][2])
    assert allowed - {"unix"} == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_pin_map_values_fit_the_firmware_config_schema(name):
    # keilog config copies these into config.json, so they must pass the firmware's checks.
    board = boards.load_board(name)
    config = _firmware_config()
    cfg, errors = config.validate(
        {
            "board": name,
            "can": {"bus": board.can_bus},
            "gps": {"uart": board.gps_uart, "baud": board.gps_baud},
            "power": {"ignition_pin": board.ignition_pin},
        }
    )
    assert errors == []
    assert cfg["can.bus"] == board.can_bus


# Expected pins, each from MicroPython's board files (see the source lists in the JSON).
PIN_FACTS = [
    # PYBV11/mpconfigboard.h: "CAN1 on RX,TX = Y3,Y4 = PB8,PB9"
    ("pyboard_v11", ("can", "rx"), "Y3", "PB8"),
    ("pyboard_v11", ("can", "tx"), "Y4", "PB9"),
    # PYBV11/mpconfigboard.h: UART6 "YA" TX pin_C6, RX pin_C7; pins.csv Y1,PC6 / Y2,PC7
    ("pyboard_v11", ("gps", "tx"), "Y1", "PC6"),
    ("pyboard_v11", ("gps", "rx"), "Y2", "PC7"),
    # NUCLEO_G474RE/mpconfigboard.h: FDCAN1 TX pin_A12, RX pin_A11
    ("nucleo_g474re", ("can", "tx"), "PA12", "PA12"),
    ("nucleo_g474re", ("can", "rx"), "PA11", "PA11"),
    # NUCLEO_G474RE/mpconfigboard.h: UART1 TX pin_C4, RX pin_C5; pins.csv D1,PC4 / D0,PC5
    ("nucleo_g474re", ("gps", "tx"), "D1", "PC4"),
    ("nucleo_g474re", ("gps", "rx"), "D0", "PC5"),
    # TEENSY41/mpconfigboard.h: FLEXCAN1_TX GPIO_AD_B1_08, RX GPIO_AD_B1_09; pins.csv D22/D23
    ("teensy41", ("can", "tx"), "D22", "GPIO_AD_B1_08"),
    ("teensy41", ("can", "rx"), "D23", "GPIO_AD_B1_09"),
    # TEENSY41/mpconfigboard.h: UART index {0, 6, 4, ...}: UART(2) = LPUART4 B1_00/B1_01
    ("teensy41", ("gps", "tx"), "D8", "GPIO_B1_00"),
    ("teensy41", ("gps", "rx"), "D7", "GPIO_B1_01"),
]


@pytest.mark.parametrize(("name", "where", "pin", "mcu"), PIN_FACTS)
def test_pin_facts(name, where, pin, mcu):
    entry = _raw(name)[where[0]][where[1]]
    assert (entry["pin"], entry["mcu"]) == (pin, mcu)


@pytest.mark.parametrize(
    ("name", "arch", "drivers", "filters"),
    [
        # Cortex-M4F single-precision FPU; bxCAN 14 filters per controller (stm32/can.h)
        ("pyboard_v11", "armv7emsp", ["machine.CAN", "pyb.CAN"], 14),
        # Cortex-M4F; FDCAN 28 standard + 8 extended filters (stm32/can.h, STM32G4)
        ("nucleo_g474re", "armv7emsp", ["machine.CAN", "pyb.CAN"], 36),
        # Cortex-M7 double-precision FPU; FlexCAN Rx FIFO (RFFN 15 + 1) * 8 = 128 filters
        ("teensy41", "armv7emdp", ["machine.CAN"], 128),
    ],
)
def test_arch_drivers_and_filters(name, arch, drivers, filters):
    board = boards.load_board(name)
    assert board.mpy_cross_arch == arch
    assert board.can_drivers == drivers
    assert board.can_filters["machine_can_max"] == filters


def test_machine_can_versions():
    # v1.28.0: machine.CAN for stm32; v1.29.0: for mimxrt (release discussion #19648)
    assert boards.load_board("pyboard_v11").machine_can_since == (1, 28, 0)
    assert boards.load_board("teensy41").machine_can_since == (1, 29, 0)


def test_nucleo_stock_build_lacks_json():
    # NUCLEO_G474RE/mpconfigboard.h: MICROPY_PY_JSON (0), MICROPY_PY_HASHLIB (0)
    missing = boards.load_board("nucleo_g474re").missing_modules
    assert "json" in missing and "hashlib" in missing


@pytest.mark.parametrize("name", NAMES)
def test_every_section_names_its_sources(name):
    data = _raw(name)
    for key, value in data.items():
        if isinstance(value, dict):
            assert value["source"], f"{name}.{key} has no source"


@pytest.mark.parametrize("name", NAMES)
def test_divider_full_scale_is_18_3_volts(name):
    # 100 kohm over 22 kohm: 3.3 V * 122 / 22 = 18.3 V
    assert boards.load_board(name).sense_full_scale_v == pytest.approx(18.3)


def _write(tmp_path: Path, data: dict) -> Path:
    (tmp_path / boards.SCHEMA_FILE).write_text((BOARDS / boards.SCHEMA_FILE).read_text())
    path = tmp_path / f"{data.get('name', 'board')}.json"
    path.write_text(json.dumps(data))
    return path


def test_missing_source_is_rejected_with_its_location(tmp_path):
    data = _raw("pyboard_v11")
    del data["can"]["source"]
    with pytest.raises(ConfigError, match=r"pyboard_v11\.json: can: 'source' is a required"):
        boards.load_board_file(_write(tmp_path, data))


def test_pin_used_twice_is_rejected(tmp_path):
    data = _raw("pyboard_v11")
    data["vss"] = copy.deepcopy(data["vss"]) | {"pin": "Y3", "mcu": "PB8", "header": "Y3"}
    with pytest.raises(
        ConfigError, match="MCU pin PB8 is used for both 'CAN RX' and 'VSS pulse in'"
    ):
        boards.load_board_file(_write(tmp_path, data))


def test_wrong_arch_for_fpu_is_rejected(tmp_path):
    data = _raw("teensy41")
    data["micropython"]["mpy_cross_arch"] = "armv7emsp"
    with pytest.raises(ConfigError, match="compiles with -march=armv7emdp, not armv7emsp"):
        boards.load_board_file(_write(tmp_path, data))


def test_separate_filter_counts_must_add_up(tmp_path):
    data = _raw("nucleo_g474re")
    data["can"]["filters"]["machine_can_max_ext"] = 9
    with pytest.raises(ConfigError, match="must equal machine_can_max"):
        boards.load_board_file(_write(tmp_path, data))


def test_divider_must_reach_16_volts(tmp_path):
    data = _raw("pyboard_v11")
    data["ignition_adc"]["divider"] = {"r_top_ohm": 47000, "r_bottom_ohm": 22000}
    with pytest.raises(ConfigError, match=r"full scale at 10\.3 V; it must reach at least 16 V"):
        boards.load_board_file(_write(tmp_path, data))


def test_name_must_match_file(tmp_path):
    data = _raw("pyboard_v11")
    path = _write(tmp_path, data).rename(tmp_path / "other.json")
    with pytest.raises(ConfigError, match="must match the file name 'other'"):
        boards.load_board_file(path)


def test_bad_json_names_line_and_column(tmp_path):
    path = _write(tmp_path, {"name": "bad"})
    path.write_text('{\n  "name": "bad",\n  oops\n}\n')
    with pytest.raises(ConfigError, match=r"bad\.json:3:3: not valid JSON"):
        boards.load_board_file(path)


def test_unknown_board_lists_known_ones():
    with pytest.raises(
        ConfigError,
        match="unknown board 'esp32'; known boards: nucleo_g474re, pyboard_v11, teensy41",
    ):
        boards.load_board("esp32")


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_untrusted_bytes_raise_only_config_error(tmp_path_factory, blob):
    directory = tmp_path_factory.mktemp("fuzz")
    (directory / boards.SCHEMA_FILE).write_text((BOARDS / boards.SCHEMA_FILE).read_text())
    path = directory / "fuzz.json"
    path.write_bytes(blob)
    with pytest.raises(ConfigError, match=r"fuzz\.json"):
        boards.load_board_file(path)


@settings(max_examples=60, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=12,
    )
)
def test_untrusted_json_raises_only_config_error(tmp_path_factory, value):
    directory = tmp_path_factory.mktemp("fuzzjson")
    (directory / boards.SCHEMA_FILE).write_text((BOARDS / boards.SCHEMA_FILE).read_text())
    path = directory / "fuzz.json"
    path.write_text(json.dumps(value))
    with pytest.raises(ConfigError, match=r"fuzz\.json"):
        boards.load_board_file(path)
