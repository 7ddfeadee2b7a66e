"""Build a logger's ``config.json`` for a board and the DBC files its owner chose.

The schema is not repeated here: :func:`firmware_schema` loads the firmware's own
``firmware/lib/logger/config.py`` under CPython (it only uses ``json``). So the
host checks exactly what the device checks at boot. The board file gives the
pins and buses, the DBC files give the CAN identifiers worth keeping, and
:func:`merge_filters` packs those identifiers into no more acceptance filters than
the board's controller has.

Filter merging, written by hand because no library covers it: every identifier starts
as an exact ``(id, mask)`` filter. While there are more filters than the controller
holds, the two filters whose merge lets through the fewest extra identifiers are
merged, until they fit. A merged filter keeps the bits on which all its identifiers
agree (its mask) and lets through every identifier that matches on those bits. So
the result always accepts every wanted frame and only as few unwanted ones as the
greedy choice allows.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import cantools

from keilog.errors import ConfigError, DbcError
from keilog.hardware.boards import Board
from keilog.paths import firmware_dir

_FULL_SEARCH = 64
_WINDOW = 12
STD_MASK = 0x7FF
EXT_MASK = 0x1FFFFFFF
# ISO 15765-4: responses to functional OBD-II requests come from 0x7E8-0x7EF.
OBD_RESPONSE_IDS = tuple(range(0x7E8, 0x7F0))
# Sense thresholds in mV (hardware/README.md, ignition / supply sense divider).
IGNITION_MV = {"obd": 13200, "ign": 9000}


def firmware_schema(path: Path | None = None) -> ModuleType:
    """The firmware's config module (``SCHEMA``, ``validate``), run under CPython."""
    path = path or firmware_dir() / "lib" / "logger" / "config.py"
    spec = importlib.util.spec_from_file_location("keilog_firmware_config", path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path}: cannot load the firmware config schema")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except (OSError, SyntaxError) as exc:
        raise ConfigError(f"{path}: cannot load the firmware config schema: {exc}") from exc
    return module


@dataclass(frozen=True)
class Filter:
    """One acceptance filter: a frame passes when ``frame_id & mask == can_id & mask``."""

    can_id: int
    mask: int
    extended: bool

    @property
    def width(self) -> int:
        return 29 if self.extended else 11

    @property
    def accepts(self) -> int:
        """How many identifiers of its kind this filter lets through."""
        full = EXT_MASK if self.extended else STD_MASK
        return 1 << bin(full & ~self.mask).count("1")

    def matches(self, frame_id: int) -> bool:
        return frame_id & self.mask == self.can_id & self.mask

    def as_config(self) -> list[int | bool]:
        if self.extended:
            return [self.can_id, self.mask, True]
        return [self.can_id, self.mask]


def _merge(a: Filter, b: Filter) -> Filter:
    mask = a.mask & b.mask & ~(a.can_id ^ b.can_id)
    return Filter(a.can_id & mask, mask, a.extended)


def _merge_group(ids: list[int], extended: bool, limit: int) -> list[Filter]:
    full = EXT_MASK if extended else STD_MASK
    filters = [Filter(i, full, extended) for i in sorted(set(ids))]
    members = [1] * len(filters)
    while len(filters) > limit:
        best: tuple[int, int, int] | None = None
        # Filters stay in the order of their lowest identifier; with many filters only
        # near neighbours are tried, which keeps large DBCs fast and rarely costs much.
        window = len(filters) if len(filters) <= _FULL_SEARCH else _WINDOW
        for i in range(len(filters)):
            for j in range(i + 1, min(len(filters), i + 1 + window)):
                merged = _merge(filters[i], filters[j])
                extra = merged.accepts - (members[i] + members[j])
                if best is None or extra < best[0]:
                    best = (extra, i, j)
        assert best is not None  # limit >= 1 and len(filters) > limit >= 1
        _, i, j = best
        filters[i] = _merge(filters[i], filters[j])
        members[i] += members[j]
        del filters[j], members[j]
    return filters


def merge_filters(std_ids: list[int], ext_ids: list[int], board: Board) -> tuple[list[Filter], int]:
    """Pack identifiers into the board's filters. Returns the filters and how many
    unwanted identifiers they let through. No identifiers means no filters (log all)."""
    if not std_ids and not ext_ids:
        return [], 0
    spec = board.can_filters
    if spec["std_ext_separate"]:
        std_limit, ext_limit = spec["machine_can_max_std"], spec["machine_can_max_ext"]
    else:
        total = spec["machine_can_max"]
        # Share the filters in proportion to the identifiers of each kind, at least one.
        if std_ids and ext_ids:
            std_limit = max(
                1, min(total - 1, round(total * len(std_ids) / (len(std_ids) + len(ext_ids))))
            )
            ext_limit = total - std_limit
        else:
            std_limit = ext_limit = total
    filters = _merge_group(std_ids, False, std_limit) if std_ids else []
    filters += _merge_group(ext_ids, True, ext_limit) if ext_ids else []
    wanted = len(set(std_ids)) + len(set(ext_ids))
    extra = sum(f.accepts for f in filters) - wanted
    return filters, extra


def dbc_frame_ids(paths: list[Path]) -> tuple[list[int], list[int]]:
    """Standard and extended frame identifiers defined by the DBC files."""
    std: set[int] = set()
    ext: set[int] = set()
    for path in paths:
        try:
            db = cantools.database.load_file(str(path), strict=False)
        except FileNotFoundError as exc:
            raise DbcError(f"{path}: no such DBC file") from exc
        except Exception as exc:  # cantools raises many parser types; all mean "bad file"
            raise DbcError(
                f"{path}: cannot load DBC: {exc}; check the file with `cantools dump`"
            ) from exc
        for message in getattr(db, "messages", []):
            (ext if message.is_extended_frame else std).add(message.frame_id)
    return sorted(std), sorted(ext)


@dataclass
class DeviceConfig:
    """A validated config (nested, as written to ``config.json``) and how its filters
    were made."""

    config: dict[str, Any]
    filters: list[Filter] = field(default_factory=list)
    wanted_ids: int = 0
    extra_ids: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(self.config, indent=2, sort_keys=True) + "\n"


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def build_config(
    board: Board,
    dbc_paths: list[Path] | None = None,
    *,
    bitrate: int = 500_000,
    autobaud: bool = False,
    gps_rate_hz: int = 1,
    obd: bool = False,
    flush_ms: int = 1000,
    overwrite_unsynced: bool = False,
    min_free_bytes: int = 1024 * 1024,
    sense: str = "obd",
    device_id: str | None = None,
    inputs: list[str] | None = None,
    can: bool = True,
) -> DeviceConfig:
    """The device config for ``board``. Raises :class:`ConfigError` listing every value
    the firmware's schema rejects.

    ``inputs``: the inputs wired (``vss``, ``tach``, ``battery``, ``coolant``, ``fuel``,
    ``oil``, ``brake``, ``lights``, or ``all``), each on the board's pin for it;
    ``can``: False for a car without CAN (the logger then loads no CAN code)."""
    if sense not in IGNITION_MV:
        raise ConfigError(f"sense must be one of {', '.join(IGNITION_MV)}, got {sense!r}")
    std, ext = dbc_frame_ids(list(dbc_paths or []))
    notes = []
    if obd and (std or ext):
        std = sorted(set(std) | set(OBD_RESPONSE_IDS))
    filters, extra = merge_filters(std, ext, board)
    if obd:
        notes.append(
            "OBD-II polling puts the CAN controller in normal mode: move the transceiver's "
            "S jumper to GND (hardware/README.md, CAN transceiver)"
        )
    if "json" in board.missing_modules:
        notes.append(
            f"{board.name}: the stock MicroPython build has no json module; flash a build "
            "with MICROPY_PY_JSON=1 before deploying"
        )
    flat: dict[str, Any] = {
        "board": board.name,
        "device.id": device_id,
        "can.bus": board.can_bus,
        "can.bitrate": bitrate,
        "can.autobaud": autobaud,
        "can.mode": "normal" if obd else "silent",
        "can.filters": [f.as_config() for f in filters],
        "gps.uart": board.gps_uart,
        "gps.baud": board.gps_baud,
        "gps.rate_hz": gps_rate_hz,
        "obd.enabled": obd,
        "storage.path": f"{board.sd_mount}/log",
        "storage.fs": "fat",
        "storage.overwrite_unsynced": overwrite_unsynced,
        "storage.min_free_bytes": min_free_bytes,
        "flush_ms": flush_ms,
        "power.ignition_pin": board.ignition_pin,
        "power.ignition_mv": IGNITION_MV[sense],
        "can.enabled": can,
    }
    pins = board.input_pins()
    wanted = list(pins) if inputs and "all" in inputs else list(inputs or [])
    for name in wanted:
        if name not in pins:
            raise ConfigError(
                f"input {name!r} is not one of {', '.join(pins)} (or all); "
                f"{board.name}'s pins are in hardware/boards/{board.name}.json"
            )
        flat[f"{name}.pin"] = pins[name]
    if wanted and can:
        notes.append(
            "inputs wired on a CAN car: both are logged (add --no-can for a car without "
            "CAN, so the logger loads no CAN code)"
        )
    nested = _nest(flat)
    check_config(nested)
    return DeviceConfig(nested, filters, len(std) + len(ext), extra, notes)


def check_config(config: dict[str, Any], schema: ModuleType | None = None) -> dict[str, Any]:
    """Validate with the firmware's own rules; returns the firmware's flat view."""
    schema = schema or firmware_schema()
    flat, errors = schema.validate(config)
    if errors:
        raise ConfigError(
            "the firmware would reject this config: " + "; ".join(errors) + " (see "
            "firmware/lib/logger/config.py for the allowed values)"
        )
    result: dict[str, Any] = flat
    return result


MAX_NESTING = 8  # a config is objects of objects two deep; 8 leaves room, 100,000 does not


def _nesting(text: str) -> tuple[int, int]:
    """The deepest nesting of [ and { outside strings, and the offset where it is
    first reached (json.loads itself recurses, and fails with RecursionError)."""
    depth = deepest = where = 0
    in_string = escaped = False
    for i, c in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > deepest:
                deepest, where = depth, i
                if deepest > MAX_NESTING:
                    break
        elif c in "]}":
            depth -= 1
    return deepest, where


def parse_config(text: str, where: str) -> dict[str, Any]:
    """A config's JSON text as a dict (not yet checked against the SCHEMA); where names
    it in errors (a path, or the device)."""
    deepest, at = _nesting(text)
    if deepest > MAX_NESTING:
        raise ConfigError(
            f"{where}: nested more than {MAX_NESTING} deep (at character {at}); a config "
            "is an object of objects (see firmware/lib/logger/config.py)"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    except ValueError as exc:  # an integer of more than 4300 digits (int_max_str_digits)
        raise ConfigError(f"{where}: not a usable config: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a config must be a JSON object")
    return data


def load_config(path: Path) -> dict[str, Any]:
    """Read and validate a ``config.json``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: byte {exc.start} is not UTF-8") from exc
    data = parse_config(text, str(path))
    try:
        check_config(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return data


def with_value(config: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of a nested config with ``key`` (dotted, e.g. ``vss.pulses_per_km``) set,
    validated by the firmware's schema."""
    out = json.loads(json.dumps(config))
    node = out
    *parents, leaf = key.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value
    check_config(out)
    return out


def write_config(path: Path, config: dict[str, Any]) -> None:
    """Write a config.json whole (a temporary file renamed over it: never half-written)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
