"""Board pin maps: load and check ``hardware/boards/<name>.json``.

Each file says, for one board the firmware runs on, which pins carry CAN, the GNSS
UART, the SD card, the LEDs, the ignition sense and the vehicle-speed pulse input, how
many CAN acceptance filters its controller has, and which ``mpy-cross -march`` its
MicroPython uses. Every section names its sources. ``keilog config`` reads these
files to build a device config and ``keilog deploy`` reads them to compile for the
right architecture; the wiring diagrams in ``hardware/wiring/`` are drawn from them.

Files are validated twice: against ``board.schema.json`` (JSON Schema, checked by the
``jsonschema`` library) for shape, then by :func:`check_board` for the rules a schema
cannot say (no MCU pin used twice, filter counts that add up, a divider that keeps
the ADC pin below its reference at the highest battery voltage).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from keilog import paths
from keilog.errors import ConfigError

FORMAT = "keilog-board/1"
SCHEMA_FILE = "board.schema.json"

# The highest voltage the ignition sense may see in normal running: a 12 V system
# charging at up to 14.8 V, plus margin (ISO 16750-2 gives 16 V as the upper limit of
# the 12 V supply range). Above full scale the reading saturates.
SENSE_FULL_SCALE_MIN_V = 16.0


def boards_dir() -> Path:
    """The folder of board files: a wheel's ``keilog/data/hardware/boards`` or the
    checkout's ``hardware/boards``."""
    try:
        candidate = paths.hardware_dir() / "boards"
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    if not (candidate / SCHEMA_FILE).is_file():
        raise ConfigError(
            f"keilog cannot find its board files ({SCHEMA_FILE} is missing in {candidate}); "
            "reinstall keilog from a full checkout"
        )
    return candidate


@dataclass(frozen=True)
class Pin:
    """One connected signal: the MicroPython pin name, the MCU pad and the label on
    the board's header or silkscreen."""

    function: str
    pin: str
    mcu: str
    header: str


@dataclass(frozen=True)
class Board:
    """A validated board file. ``data`` is the parsed JSON; the properties are the
    values other modules use."""

    path: Path
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def title(self) -> str:
        return str(self.data["title"])

    @property
    def role(self) -> str:
        return str(self.data["role"])

    @property
    def mpy_cross_arch(self) -> str:
        return str(self.data["micropython"]["mpy_cross_arch"])

    @property
    def port(self) -> str:
        return str(self.data["micropython"]["port"])

    @property
    def can_drivers(self) -> list[str]:
        return list(self.data["micropython"]["can_drivers"])

    @property
    def machine_can_since(self) -> tuple[int, int, int]:
        major, minor, patch = self.data["micropython"]["machine_can_since"].split(".")
        return int(major), int(minor), int(patch)

    @property
    def missing_modules(self) -> list[str]:
        return list(self.data["micropython"]["missing_modules"])

    @property
    def can_bus(self) -> int:
        return int(self.data["can"]["bus"])

    @property
    def can_filters(self) -> dict[str, Any]:
        return dict(self.data["can"]["filters"])

    @property
    def gps_uart(self) -> int:
        return int(self.data["gps"]["uart"])

    @property
    def gps_baud(self) -> int:
        return int(self.data["gps"]["baud"])

    @property
    def ignition_pin(self) -> str:
        return str(self.data["ignition_adc"]["pin"])

    @property
    def divider_ratio(self) -> float:
        """V(ADC pin) / V(sense input) of the ignition divider."""
        div = self.data["ignition_adc"]["divider"]
        return float(div["r_bottom_ohm"]) / (float(div["r_top_ohm"]) + float(div["r_bottom_ohm"]))

    @property
    def sense_full_scale_v(self) -> float:
        """The sense-input voltage that reads as ADC full scale."""
        return float(self.data["ignition_adc"]["vref_v"]) / self.divider_ratio

    @property
    def vss_pin(self) -> str:
        return str(self.data["vss"]["pin"])

    def input_pins(self) -> dict[str, str]:
        """The pin of each input (config section name -> pin): ``vss``, ``tach``,
        ``battery`` (the sense pin), ``coolant``, ``fuel``, ``oil``, ``brake``, ``lights``."""
        pins = {"vss": self.vss_pin}
        pins.update(
            {role: str(p["pin"]) for role, p in self.data["inputs"].items() if role != "source"}
        )
        return pins

    @property
    def sd_mount(self) -> str:
        return str(self.data["sd"]["mount"])

    def signal_pins(self) -> list[Pin]:
        """Every MCU pin the logger uses, in wiring order."""
        d = self.data
        pins = [
            _pin("CAN RX", d["can"]["rx"]),
            _pin("CAN TX", d["can"]["tx"]),
            _pin("GNSS RX (from GNSS TX)", d["gps"]["rx"]),
            _pin("GNSS TX (to GNSS RX)", d["gps"]["tx"]),
            _pin("Ignition sense (ADC)", d["ignition_adc"]),
            _pin("VSS pulse in", d["vss"]),
        ]
        for role, function in INPUT_FUNCTIONS.items():
            pins.append(_pin(function, d["inputs"][role]))
        for led in d["leds"]["items"]:
            pins.append(_pin(f"LED {led['color']} ({led['use']})", led))
        for role, p in d["sd"]["pins"].items():
            pins.append(_pin(f"SD {role.upper()}", p))
        return pins

    def power_pins(self) -> list[tuple[str, str, str]]:
        """(function, pin name, header label) of the supply pins."""
        p = self.data["power"]
        return [
            (f"{p['supply_v']:g} V in", p["vin"]["pin"], p["vin"]["header"]),
            ("Ground", p["gnd"]["pin"], p["gnd"]["header"]),
            ("3.3 V out", p["v3v3"]["pin"], p["v3v3"]["header"]),
        ]


INPUT_FUNCTIONS = {
    "tach": "Tach pulse in",
    "coolant": "Coolant sender (ADC)",
    "fuel": "Fuel sender (ADC)",
    "oil": "Oil pressure switch in",
    "brake": "Brake lights in",
    "lights": "Headlights in",
}
"""The inputs' functions as the pin list and the wiring name them (battery: the sense pin)."""


def _pin(function: str, p: dict[str, Any]) -> Pin:
    return Pin(function, str(p["pin"]), str(p["mcu"]), str(p["header"]))


def _schema(directory: Path) -> dict[str, Any]:
    with open(directory / SCHEMA_FILE, encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)
    return schema


def check_board(data: dict[str, Any], path: Path) -> list[str]:
    """Rules beyond the schema. Returns problems as sentences naming ``path``."""
    problems = []
    if data["name"] != path.stem:
        problems.append(f"{path}: name {data['name']!r} must match the file name {path.stem!r}")
    board = Board(path, data)
    seen: dict[str, str] = {}
    for pin in board.signal_pins():
        if pin.mcu in seen:
            problems.append(
                f"{path}: MCU pin {pin.mcu} is used for both {seen[pin.mcu]!r} and "
                f"{pin.function!r}; give one of them another pin"
            )
        seen[pin.mcu] = pin.function
    filters = data["can"]["filters"]
    if filters["std_ext_separate"]:
        std, ext = filters.get("machine_can_max_std"), filters.get("machine_can_max_ext")
        if std is None or ext is None or std + ext != filters["machine_can_max"]:
            problems.append(
                f"{path}: can.filters counts standard and extended filters separately, so "
                "machine_can_max_std + machine_can_max_ext must equal machine_can_max"
            )
    bxcan = data["micropython"]["port"] == "stm32" and data["mcu"]["part"].startswith("STM32F")
    if bxcan and "pyb.CAN" in data["micropython"]["can_drivers"] and "pyb_can_banks" not in filters:
        problems.append(f"{path}: a bxCAN board with pyb.CAN must give can.filters.pyb_can_banks")
    if board.sense_full_scale_v < SENSE_FULL_SCALE_MIN_V:
        problems.append(
            f"{path}: the ignition divider reads full scale at {board.sense_full_scale_v:.1f} V; "
            f"it must reach at least {SENSE_FULL_SCALE_MIN_V:g} V (raise r_top_ohm)"
        )
    expected_arch = "armv7emdp" if data["mcu"]["fpu"] == "double" else "armv7emsp"
    if data["micropython"]["float"] == data["mcu"]["fpu"] and board.mpy_cross_arch != expected_arch:
        problems.append(
            f"{path}: a {data['mcu']['core']} with a {data['mcu']['fpu']}-precision FPU "
            f"compiles with -march={expected_arch}, not {board.mpy_cross_arch}"
        )
    return problems


def load_board_file(path: Path, schema: dict[str, Any] | None = None) -> Board:
    """Load and validate one board file; raise :class:`ConfigError` naming the file
    and the first problem."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read board file: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: byte {exc.start} is not UTF-8; save the board file as UTF-8 JSON"
        ) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}; fix the file"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a board file must be a JSON object, not {type(data).__name__}")
    if schema is None:
        schema = _schema(path.parent if (path.parent / SCHEMA_FILE).is_file() else boards_dir())
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path)
    )
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        raise ConfigError(
            f"{path}: {where}: {first.message} (see {SCHEMA_FILE} for the board file format)"
        )
    problems = check_board(data, path)
    if problems:
        raise ConfigError(problems[0])
    return Board(path, data)


def board_names(directory: Path | None = None) -> list[str]:
    """Names of the boards that have a file, sorted."""
    directory = directory or boards_dir()
    return sorted(p.stem for p in directory.glob("*.json") if p.name != SCHEMA_FILE)


def iter_boards(directory: Path | None = None) -> Iterator[Board]:
    """Every board file in ``directory``, validated."""
    directory = directory or boards_dir()
    schema = _schema(directory)
    for name in board_names(directory):
        yield load_board_file(directory / f"{name}.json", schema)


def load_board(name: str, directory: Path | None = None) -> Board:
    """The board called ``name``; the error lists the known names."""
    directory = directory or boards_dir()
    path = directory / f"{name}.json"
    if not path.is_file():
        known = ", ".join(board_names(directory))
        raise ConfigError(f"unknown board {name!r}; known boards: {known}")
    return load_board_file(path, _schema(directory))
