"""The fleet file: which vehicles (loggers) a fleet has and how each is registered.

``fleet.toml`` (or the same as JSON)::

    [[vehicle]]
    device_id = "KEI00001"        # the id the logger writes into its segments
    name = "Truck 1"
    registration_state = "FL"
    class = "mini_truck"          # keilog rules CLASSES
    lights = true                 # head-, tail- and brake lights (default true)
    driver = "Ana"                # who drives it (optional; the per-driver-day summary)
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keilog.errors import ConfigError
from keilog.rules.model import CLASSES
from keilog.rules.vehicle import Vehicle

FIELDS = ("device_id", "name", "registration_state", "class", "lights", "driver")


@dataclass(frozen=True)
class VehicleEntry:
    """One vehicle of the fleet: its logger's device id and its registration."""

    device_id: str
    name: str
    registration_state: str | None
    vehicle_class: str
    lights: bool = True
    driver: str | None = None

    def vehicle(self) -> Vehicle:
        """The registration as the rules check takes it."""
        return Vehicle(self.name, self.registration_state, self.vehicle_class, self.lights)

    def to_row(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "name": self.name,
            "registration_state": self.registration_state,
            "class": self.vehicle_class,
            "lights": self.lights,
            "driver": self.driver,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> VehicleEntry:
        return cls(
            str(row["device_id"]),
            str(row["name"]),
            row["registration_state"],
            str(row["class"]),
            bool(row["lights"]),
            row["driver"],
        )


def _entry(doc: Any, where: str, known_states: set[str]) -> VehicleEntry:
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: a vehicle must be a table of {', '.join(FIELDS)}")
    unknown = set(doc) - set(FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    dev = doc.get("device_id")
    if not isinstance(dev, str) or not dev or len(dev.encode()) > 16:
        raise ConfigError(f'{where}: needs "device_id", the logger\'s id (1-16 characters)')
    if doc.get("class") not in CLASSES:
        raise ConfigError(f'{where} ({dev}): needs "class", one of {", ".join(CLASSES)}')
    state = doc.get("registration_state")
    if state is not None and (not isinstance(state, str) or state.upper() not in known_states):
        raise ConfigError(
            f'{where} ({dev}): "registration_state" {state!r} is not a US state or DC code'
        )
    lights = doc.get("lights", True)
    if not isinstance(lights, bool):
        raise ConfigError(f'{where} ({dev}): "lights" must be true or false')
    driver = doc.get("driver")
    if driver is not None and not isinstance(driver, str):
        raise ConfigError(f'{where} ({dev}): "driver" must be text')
    return VehicleEntry(
        dev,
        str(doc.get("name", dev)),
        state.upper() if state else None,
        doc["class"],
        lights,
        driver,
    )


def load_fleet(path: Path) -> list[VehicleEntry]:
    """Read a fleet file (TOML, or JSON when it ends in ``.json``)."""
    from keilog.rules import load_rules

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the fleet file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    try:
        doc = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    items = doc.get("vehicle") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise ConfigError(f'{path}: needs a list "vehicle" of vehicles ([[vehicle]] in TOML)')
    states = set(load_rules())
    out = [_entry(v, f"{path}: vehicle {i + 1}", states) for i, v in enumerate(items)]
    seen: set[str] = set()
    for v in out:
        if v.device_id in seen:
            raise ConfigError(f"{path}: device {v.device_id} is listed twice")
        seen.add(v.device_id)
    return out


def write_fleet_file(path: Path, vehicles: list[VehicleEntry]) -> None:
    """Write a fleet.toml (strings JSON-quoted: a subset of TOML's basic strings)."""
    lines = []
    for v in vehicles:
        lines.append("[[vehicle]]")
        for key, value in v.to_row().items():
            if value is None:
                continue
            text = ("true" if value else "false") if isinstance(value, bool) else json.dumps(value)
            lines.append(f"{key} = {text}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
