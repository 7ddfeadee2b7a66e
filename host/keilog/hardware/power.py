"""Power arithmetic for the hardware guide: the ignition-sense divider and the hold-up
capacitor that keeps the logger alive long enough to flush and close its segment when
the supply disappears.

``hardware/README.md`` prints the numbers these functions compute, and a test checks
that the two agree. When the firmware bench has measured the worst flush time
(``firmware_flush_ms_max`` in ``python -m bench --json``), :func:`flush_ms_from_bench`
reads it so that ``keilog hardware holdup --bench FILE`` sizes the capacitor for it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from keilog.errors import ConfigError

# E6 preferred values (IEC 60063), the series aluminium electrolytics are sold in.
E6 = (1.0, 1.5, 2.2, 3.3, 4.7, 6.8)


@dataclass(frozen=True)
class Divider:
    """A two-resistor divider from the sense input to an ADC pin."""

    r_top_ohm: float
    r_bottom_ohm: float

    @property
    def ratio(self) -> float:
        return self.r_bottom_ohm / (self.r_top_ohm + self.r_bottom_ohm)

    @property
    def source_ohm(self) -> float:
        """The impedance the ADC pin sees (the two resistors in parallel)."""
        return self.r_top_ohm * self.r_bottom_ohm / (self.r_top_ohm + self.r_bottom_ohm)

    def pin_v(self, input_v: float) -> float:
        return input_v * self.ratio

    def full_scale_v(self, vref_v: float) -> float:
        """The input voltage that reads as the ADC reference."""
        return vref_v / self.ratio

    def counts(self, input_v: float, vref_v: float, bits: int) -> int:
        """The ADC reading for ``input_v`` (rounded, clipped to full scale)."""
        full = (1 << bits) - 1
        return min(full, max(0, round(self.pin_v(input_v) / vref_v * full)))

    def input_v(self, counts: int, vref_v: float, bits: int) -> float:
        """The inverse of :meth:`counts`."""
        return counts / ((1 << bits) - 1) * vref_v / self.ratio

    def clamp_current_ma(self, input_v: float, clamp_v: float) -> float:
        """Current pushed into the pin's clamp when ``input_v`` drives the pin above
        ``clamp_v`` (0 when it does not)."""
        i = (input_v - clamp_v) / self.r_top_ohm - clamp_v / self.r_bottom_ohm
        return max(0.0, i * 1000.0)

    def filter_ms(self, c_farad: float) -> float:
        """Time constant of the divider with ``c_farad`` from the pin to ground."""
        return self.source_ohm * c_farad * 1000.0


@dataclass(frozen=True)
class Load:
    """One consumer on the 5 V rail, with where its figure comes from."""

    name: str
    amps: float
    basis: str


# A budget, not a measurement: replace it with a USB power meter reading of your build.
DEFAULT_LOADS = (
    Load(
        "MCU board, SD card writing",
        0.20,
        "estimate: about 0.1 A for an STM32F405 at 168 MHz with peripherals on, plus "
        "up to 0.1 A for a microSD card while it writes",
    ),
    Load(
        "GNSS module + active antenna",
        0.05,
        "estimate: u-blox M8 class modules draw a few tens of mA tracking, plus the "
        "breakout's LDO and an active antenna",
    ),
    Load(
        "CAN transceiver, silent mode",
        0.01,
        "estimate: TJA1051 recessive-state supply current is at most 10 mA",
    ),
)


@dataclass(frozen=True)
class HoldUp:
    """A hold-up capacitor between the reverse-polarity diode and the buck converter.

    When the supply disappears the capacitor discharges from ``start_v`` (the supply
    less the diode drop) to ``min_v`` (the lowest input at which the buck still makes
    5 V). The buck takes constant power, so the energy drawn is
    ``E = P_in * t`` with ``P_in = P_out / efficiency``, and the capacitor must hold
    ``C = 2 E / (start_v^2 - min_v^2)``, divided by ``1 - tolerance`` for the
    capacitor's tolerance and ageing.
    """

    load_w: float
    efficiency: float = 0.85
    start_v: float = 11.0
    min_v: float = 6.0
    detect_ms: float = 10.0
    tolerance: float = 0.20

    @property
    def input_w(self) -> float:
        return self.load_w / self.efficiency

    def hold_s(self, flush_ms: float) -> float:
        return (self.detect_ms + flush_ms) / 1000.0

    def energy_j(self, flush_ms: float) -> float:
        return self.input_w * self.hold_s(flush_ms)

    def capacitance_f(self, flush_ms: float) -> float:
        usable = self.start_v**2 - self.min_v**2
        return 2.0 * self.energy_j(flush_ms) / usable / (1.0 - self.tolerance)

    def ride_through_ms(self, c_farad: float) -> float:
        """How long a capacitor of ``c_farad`` (derated) keeps the buck running."""
        usable = self.start_v**2 - self.min_v**2
        return c_farad * (1.0 - self.tolerance) * usable / (2.0 * self.input_w) * 1000.0


def rail_load_w(loads: tuple[Load, ...] = DEFAULT_LOADS, rail_v: float = 5.0) -> float:
    return rail_v * sum(load.amps for load in loads)


def next_e6(value: float) -> float:
    """The smallest E6 value >= ``value`` (any decade)."""
    if value <= 0:
        raise ValueError("value must be positive")
    decade = 10.0 ** math.floor(math.log10(value))
    for step in (*E6, 10.0):
        candidate = step * decade
        if candidate >= value * (1 - 1e-9):
            return candidate
    raise AssertionError("unreachable: 10 x decade is always >= value")


@dataclass(frozen=True)
class HoldUpRow:
    flush_ms: float
    hold_ms: float
    energy_j: float
    capacitance_uf: float
    chosen_uf: float
    ride_through_ms: float

    def as_dict(self) -> dict[str, float]:
        return {
            "flush_ms": self.flush_ms,
            "hold_ms": round(self.hold_ms, 1),
            "energy_mj": round(self.energy_j * 1000.0, 1),
            "capacitance_uf": round(self.capacitance_uf),
            "chosen_uf": round(self.chosen_uf),
            "ride_through_ms": round(self.ride_through_ms),
        }


def holdup_table(flush_ms: list[float], holdup: HoldUp | None = None) -> list[HoldUpRow]:
    """One row per worst flush time: energy, capacitance, the E6 value to buy and how
    long that value actually holds."""
    holdup = holdup or HoldUp(load_w=rail_load_w())
    rows = []
    for ms in flush_ms:
        c = holdup.capacitance_f(ms)
        chosen = next_e6(c * 1e6) / 1e6
        rows.append(
            HoldUpRow(
                flush_ms=ms,
                hold_ms=holdup.hold_s(ms) * 1000.0,
                energy_j=holdup.energy_j(ms),
                capacitance_uf=c * 1e6,
                chosen_uf=chosen * 1e6,
                ride_through_ms=holdup.ride_through_ms(chosen),
            )
        )
    return rows


def flush_ms_from_bench(path: Path) -> float:
    """Read ``firmware_flush_ms_max`` from a ``python -m bench --json`` file."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read bench results: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: bench results are not JSON: {exc.msg}") from exc
    entries = data.get("entries", data) if isinstance(data, dict) else None
    entry = entries.get("firmware_flush_ms_max") if isinstance(entries, dict) else None
    value = entry.get("keilog") if isinstance(entry, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(
            f"{path}: no positive firmware_flush_ms_max.keilog figure; run "
            "`python -m bench --json > FILE` with the firmware bench first"
        )
    return float(value)
