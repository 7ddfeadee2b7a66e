"""The vehicle a check is about: its name and how it is registered."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keilog.errors import ConfigError
from keilog.rules.model import CLASSES


@dataclass(frozen=True)
class Vehicle:
    """The vehicle being checked and how it is registered."""

    name: str
    registration_state: str | None
    vehicle_class: str
    lights: bool = True  # head-, tail- and brake lights (all kei cars have them)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "registration_state": self.registration_state,
            "class": self.vehicle_class,
            "lights": self.lights,
        }


def load_vehicle(path: Path) -> Vehicle:
    """Read a vehicle file: ``{"name", "registration_state", "class", "lights"}``."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the vehicle file ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(doc, dict) or doc.get("class") not in CLASSES:
        raise ConfigError(f'{path}: needs "class", one of {", ".join(CLASSES)}')
    lights = doc.get("lights", True)
    if not isinstance(lights, bool):
        raise ConfigError(f'{path}: "lights" must be true or false')
    state = doc.get("registration_state")
    return Vehicle(str(doc.get("name", Path(path).stem)), state, doc["class"], lights)
