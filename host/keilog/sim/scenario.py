"""Scenario files: where the simulated kei car drives, when, and what it is.

The format is JSON, documented in ``docs/scenarios.md`` (keep both in step: tools outside
the test suite read these files). :func:`load` reads a file, :func:`builtin` one of the
scenarios shipped in ``keilog/data/scenarios/``. Every mistake raises
:class:`keilog.errors.ConfigError` with the file and the key path (``route[2].lat``) in
the message; unknown keys are mistakes too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keilog.errors import ConfigError

# Registration classes of the rules engine (issue 7): ordinary registration,
# statutory mini truck, low-speed vehicle, medium-speed vehicle, special plates
# (special-purpose / multipurpose / collector), off-road title.
VEHICLE_CLASSES = ("normal", "mini_truck", "lsv", "msv", "special", "off_road")

# USPS codes of the 50 states and DC.
_STATE_CODES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE "
    "NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
)
STATES = frozenset(_STATE_CODES.split())

MAX_LEG_SPEED_MPH = 100.0

_TOP_KEYS = {
    "name",
    "description",
    "start_utc",
    "vehicle",
    "route",
    "roads",
    "gps_dropouts",
    "ambient_c",
    "seed",
    "expect",
}
_VEHICLE_KEYS = {
    "registered_state",
    "class",
    "can",
    "obd",
    "speedo_error_pct",
    "governor_mph",
    "odometer_km",
    "fuel_pct",
    "engine_warm",
    "inputs",
}
_POINT_KEYS = {"lat", "lon", "speed_mph", "stop_s", "alt_m", "note"}
_DROPOUT_KEYS = {"after_s", "for_s"}


@dataclass(frozen=True)
class Waypoint:
    lat: float
    lon: float
    speed_mph: float | None = None  # speed on the leg that starts here; None on the last
    stop_s: float = 0.0  # halt here for this long (a stop sign, a gate)
    alt_m: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Vehicle:
    registered_state: str
    vehicle_class: str
    can: bool = True  # False: a car without CAN, only GPS is logged
    obd: bool = True  # answers OBD-II service 01 requests
    speedo_error_pct: float = 0.0  # the car's own speed reads this much high (+) / low (-)
    governor_mph: float | None = None
    odometer_km: float = 48_000.0
    fuel_pct: float = 60.0
    engine_warm: bool = False
    # the logger's pulse, analog and switch inputs are wired (VSS, tach, battery,
    # coolant, fuel, oil, brake, headlights): the simulator feeds them edges and levels
    inputs: bool = False


@dataclass(frozen=True)
class Dropout:
    after_s: float
    for_s: float

    def covers(self, t: float) -> bool:
        return self.after_s <= t < self.after_s + self.for_s


@dataclass(frozen=True)
class Scenario:
    name: str
    start_utc: datetime
    vehicle: Vehicle
    route: tuple[Waypoint, ...]
    roads: Path | None = None
    gps_dropouts: tuple[Dropout, ...] = ()
    ambient_c: float = 25.0
    seed: int = 0
    description: str = ""
    expect: dict[str, Any] = field(default_factory=dict)
    source: str = "<scenario>"  # file name for messages

    @property
    def start_epoch(self) -> float:
        return self.start_utc.timestamp()


# -- validation helpers ---------------------------------------------------------------


class _Checker:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> ConfigError:
        where = f"{self.source}: {key}" if key else self.source
        return ConfigError(f"{where}: {problem}")

    def obj(self, value: Any, key: str, allowed: set[str], required: set[str]) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a JSON object, not {_kind(value)}")
        for k in value:
            if k not in allowed:
                where = f"{key}.{k}" if key else k
                raise self.fail(
                    where,
                    f"unknown key {k!r}; allowed keys here are {', '.join(sorted(allowed))} "
                    "(see docs/scenarios.md)",
                )
        for k in sorted(required):
            if k not in value:
                where = f"{key}.{k}" if key else k
                raise self.fail(where, "is missing (see docs/scenarios.md)")
        return value

    def number(
        self,
        value: Any,
        key: str,
        lo: float = -math.inf,
        hi: float = math.inf,
        lo_open: bool = False,
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, not {_kind(value)}")
        x = float(value)
        if not math.isfinite(x) or x < lo or x > hi or (lo_open and x == lo):
            low = f"above {lo:g}" if lo_open else f"at least {lo:g}"
            raise self.fail(key, f"{value!r} is out of range (must be {low} and at most {hi:g})")
        return x

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {_kind(value)}")
        return value

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {_kind(value)}")
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    return "an object"


# -- parsing --------------------------------------------------------------------------


def parse(data: Any, *, source: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate a decoded JSON document and build a :class:`Scenario`."""
    c = _Checker(source)
    top = c.obj(data, "", _TOP_KEYS, {"name", "start_utc", "vehicle", "route"})

    name = c.string(top["name"], "name")
    description = c.string(top.get("description", ""), "description")
    start_text = c.string(top["start_utc"], "start_utc")
    try:
        start = datetime.fromisoformat(start_text)
    except ValueError:
        raise c.fail(
            "start_utc", f"{start_text!r} is not an ISO 8601 time like 2026-06-01T14:00:00Z"
        ) from None
    if start.tzinfo is None:
        raise c.fail("start_utc", f"{start_text!r} has no time zone; end it with Z for UTC")
    start = start.astimezone(UTC)

    vehicle = _vehicle(c, top["vehicle"])
    route = _route(c, top["route"])

    roads: Path | None = None
    if "roads" in top:
        roads_text = c.string(top["roads"], "roads")
        roads = Path(roads_text)
        if not roads.is_absolute() and base_dir is not None:
            roads = base_dir / roads
        if base_dir is not None and not roads.is_file():
            raise c.fail("roads", f"file not found: {roads} (paths are relative to the scenario)")

    dropouts_raw = top.get("gps_dropouts", [])
    if not isinstance(dropouts_raw, list):
        raise c.fail("gps_dropouts", f"must be a list, not {_kind(dropouts_raw)}")
    dropouts = []
    for i, d in enumerate(dropouts_raw):
        key = f"gps_dropouts[{i}]"
        c.obj(d, key, _DROPOUT_KEYS, _DROPOUT_KEYS)
        dropouts.append(
            Dropout(
                c.number(d["after_s"], f"{key}.after_s", lo=0.0),
                c.number(d["for_s"], f"{key}.for_s", lo=0.0, lo_open=True),
            )
        )

    ambient = c.number(top.get("ambient_c", 25.0), "ambient_c", lo=-40.0, hi=55.0)
    seed_raw = top.get("seed", 0)
    if isinstance(seed_raw, bool) or not isinstance(seed_raw, int) or seed_raw < 0:
        raise c.fail("seed", f"must be a whole number of 0 or more, not {_kind(seed_raw)}")
    expect = top.get("expect", {})
    if not isinstance(expect, dict):
        raise c.fail("expect", f"must be a JSON object, not {_kind(expect)}")

    return Scenario(
        name=name,
        start_utc=start,
        vehicle=vehicle,
        route=route,
        roads=roads,
        gps_dropouts=tuple(dropouts),
        ambient_c=ambient,
        seed=seed_raw,
        description=description,
        expect=dict(expect),
        source=source,
    )


def _vehicle(c: _Checker, raw: Any) -> Vehicle:
    v = c.obj(raw, "vehicle", _VEHICLE_KEYS, {"registered_state", "class"})
    state = c.string(v["registered_state"], "vehicle.registered_state")
    if state not in STATES:
        raise c.fail(
            "vehicle.registered_state",
            f"{state!r} is not a US state or DC code (two capital letters, e.g. FL)",
        )
    klass = c.string(v["class"], "vehicle.class")
    if klass not in VEHICLE_CLASSES:
        raise c.fail("vehicle.class", f"{klass!r} is not one of {', '.join(VEHICLE_CLASSES)}")
    governor = v.get("governor_mph")
    return Vehicle(
        registered_state=state,
        vehicle_class=klass,
        can=c.boolean(v.get("can", True), "vehicle.can"),
        obd=c.boolean(v.get("obd", True), "vehicle.obd"),
        speedo_error_pct=c.number(
            v.get("speedo_error_pct", 0.0), "vehicle.speedo_error_pct", lo=-20.0, hi=20.0
        ),
        governor_mph=None
        if governor is None
        else c.number(governor, "vehicle.governor_mph", lo=5.0, hi=MAX_LEG_SPEED_MPH),
        odometer_km=c.number(
            v.get("odometer_km", 48_000.0), "vehicle.odometer_km", lo=0.0, hi=1_600_000.0
        ),
        fuel_pct=c.number(v.get("fuel_pct", 60.0), "vehicle.fuel_pct", lo=0.0, hi=100.0),
        engine_warm=c.boolean(v.get("engine_warm", False), "vehicle.engine_warm"),
        inputs=c.boolean(v.get("inputs", False), "vehicle.inputs"),
    )


def _route(c: _Checker, raw: Any) -> tuple[Waypoint, ...]:
    if not isinstance(raw, list):
        raise c.fail("route", f"must be a list of points, not {_kind(raw)}")
    if len(raw) < 2:
        raise c.fail("route", f"needs at least 2 points, has {len(raw)}")
    points: list[Waypoint] = []
    last = len(raw) - 1
    for i, p in enumerate(raw):
        key = f"route[{i}]"
        c.obj(p, key, _POINT_KEYS, {"lat", "lon"})
        lat = c.number(p["lat"], f"{key}.lat", lo=-90.0, hi=90.0)
        lon = c.number(p["lon"], f"{key}.lon", lo=-180.0, hi=180.0)
        speed: float | None = None
        if i < last:
            if "speed_mph" not in p:
                raise c.fail(
                    f"{key}.speed_mph", "is missing: every point but the last starts a leg"
                )
            speed = c.number(
                p["speed_mph"], f"{key}.speed_mph", lo=0.0, hi=MAX_LEG_SPEED_MPH, lo_open=True
            )
        elif "speed_mph" in p:
            raise c.fail(
                f"{key}.speed_mph",
                "the last point ends the route (the car stops there); remove its speed_mph",
            )
        stop_s = 0.0
        if "stop_s" in p:
            if i in (0, last):
                raise c.fail(f"{key}.stop_s", "only points between the first and last can stop")
            stop_s = c.number(p["stop_s"], f"{key}.stop_s", lo=0.0, hi=3600.0)
        alt = p.get("alt_m")
        alt_m = None if alt is None else c.number(alt, f"{key}.alt_m", lo=-500.0, hi=9000.0)
        note = c.string(p.get("note", ""), f"{key}.note")
        if points and (points[-1].lat, points[-1].lon) == (lat, lon):
            raise c.fail(key, f"is the same place as route[{i - 1}]; a leg needs two places")
        points.append(Waypoint(lat, lon, speed, stop_s, alt_m, note))
    return tuple(points)


def loads(text: str, *, source: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Parse scenario JSON text; ``source`` names it in error messages."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{source}: line {exc.lineno} column {exc.colno}: not valid JSON ({exc.msg})"
        ) from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise ConfigError(f"{source}: not a usable scenario ({exc})") from None
    except RecursionError:
        # json's own limit on nesting (it recurses); a scenario is a few levels deep.
        raise ConfigError(
            f"{source}: nested too deep to be a scenario (docs/scenarios.md)"
        ) from None
    return parse(data, source=source, base_dir=base_dir)


def load(path: str | Path) -> Scenario:
    """Read a scenario file. ``roads`` is resolved relative to the file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{p}: scenario file not found; give a path or one of the built-in scenarios "
            f"({', '.join(builtin_names())})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read the scenario ({exc})") from None
    return loads(text, source=str(p), base_dir=p.resolve().parent)


def builtin_dir() -> Path:
    """The folder of scenarios shipped with keilog."""
    return Path(__file__).resolve().parent.parent / "data" / "scenarios"


def builtin_names() -> list[str]:
    """Names of the built-in scenarios (file names without ``.json``)."""
    return sorted(p.stem for p in builtin_dir().glob("*.json"))


DEMO = "florida_rural"


def builtin(name: str = DEMO) -> Scenario:
    """A built-in scenario by name (``florida_rural``, ``.json`` optional)."""
    stem = name.removesuffix(".json")
    path = builtin_dir() / f"{stem}.json"
    if not path.is_file():
        raise ConfigError(
            f"no built-in scenario named {name!r}; choose one of {', '.join(builtin_names())}"
        )
    return load(path)


def resolve(name_or_path: str | Path) -> Scenario:
    """A scenario file if the path exists, else a built-in scenario of that name."""
    p = Path(name_or_path)
    if not p.exists() and str(name_or_path).removesuffix(".json") in builtin_names():
        return builtin(str(name_or_path))
    return load(p)
