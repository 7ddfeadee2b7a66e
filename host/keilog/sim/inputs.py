"""The signals a car without CAN gives the logger's own inputs, as the unix port's input
stream (:mod:`keilog.unixport.inputstream`): edges of the vehicle speed sensor and the
tach, and the levels of the battery divider, the coolant and fuel senders and the oil
pressure, brake and headlight switches.

The truck's speed sensor turns with the speedometer drive (JIS D 5601: 637
revolutions per km) and is taken to give 4 pulses per revolution, the logger config's
default; a speedometer reading ``speedo_error_pct`` high means the sensor gives that
many percent more pulses per true km (tyres worn or a different size), so the VSS
reads high by the same amount until ``keilog calibrate`` fits it to GPS. Sensor
noise: edge times jitter by a few microseconds (a Hall sender's switching jitter and
the input network's slope, not measured: an assumption), the ADC levels by a few
counts, the battery by the alternator's ripple.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from keilog.sim.model import CarState
from keilog.unixport import inputstream as ins

NOMINAL_PULSES_PER_KM = 2548
"""4 pulses per revolution x 637 revolutions per km: the firmware's vss.pulses_per_km."""
TACH_PULSES_PER_REV = 1.5  # 3-cylinder 4-stroke: 3 sparks per 2 revolutions
DIVIDER_OHM = (100_000, 22_000)  # the board's sense divider (hardware/README.md)
SENDER_PULLUP_OHM = 1000  # the config's coolant.pullup_ohm and fuel.pullup_ohm defaults
# The simulated senders follow the config's example tables (firmware config.py): the
# point is the path, not a maker's curve.
COOLANT_CURVE = ((30, 120.0), (60, 95.0), (100, 80.0), (200, 55.0), (500, 30.0), (1500, 0.0))
FUEL_CURVE = ((10, 100.0), (50, 50.0), (110, 0.0))
EDGE_JITTER_US = 5.0
ADC_NOISE = 12  # counts of read_u16 (about 0.6 mV)
BATTERY_RIPPLE_V = 0.03
LEVEL_PERIOD_S = 0.1


def sender_ohm(curve: tuple[tuple[int, float], ...], value: float) -> float:
    """The resistance a sender shows at ``value`` (its curve, linear between points)."""
    pts = sorted(curve, key=lambda p: p[1])  # by value
    if value <= pts[0][1]:
        return float(pts[0][0])
    for (r0, v0), (r1, v1) in itertools.pairwise(pts):
        if value <= v1:
            return r0 + (r1 - r0) * (value - v0) / (v1 - v0)
    return float(pts[-1][0])


@dataclass
class InputSignals:
    """Call :meth:`step` after each physics step; :meth:`take` returns the stream
    records due so far (bytes, in time order)."""

    speedo_error_pct: float = 0.0
    seed: int = 0
    pulses_per_km: float = field(init=False)
    _phase: list[float] = field(default_factory=lambda: [0.0, 0.0])
    _events: list[tuple[float, int, int, int]] = field(default_factory=list)
    _next_level: float = 0.0

    def __post_init__(self) -> None:
        self.pulses_per_km = NOMINAL_PULSES_PER_KM * (1.0 + self.speedo_error_pct / 100.0)
        self._rng = random.Random(self.seed ^ 0x5EED)

    def step(self, t: float, dt: float, s: CarState, brake_pedal: float) -> None:
        """The edges of [t, t + dt) and, every 0.1 s, the levels, from the state at t."""
        self._edges(ins.VSS, t, dt, s.speed_mps * self.pulses_per_km / 1000.0)
        self._edges(ins.TACH, t, dt, s.engine_rpm / 60.0 * TACH_PULSES_PER_REV)
        if t >= self._next_level:
            self._levels(t, s, brake_pedal)
            self._next_level = t + LEVEL_PERIOD_S

    def take(self, until: float) -> bytes:
        """Records up to ``until`` (with a clock record at ``until``), then forget them."""
        due = sorted(e for e in self._events if e[0] < until)
        self._events = [e for e in self._events if e[0] >= until]
        due.append((until, ins.KIND_CLOCK, 0, 0))
        return ins.pack(due)

    def _edges(self, ch: int, t: float, dt: float, hz: float) -> None:
        if hz <= 0.0:
            return
        p0 = self._phase[ch]  # cycles since the last edge, 0 .. 1
        p1 = p0 + hz * dt
        whole = int(p1)
        for k in range(1, whole + 1):  # an edge at each whole cycle completed in the step
            jitter = self._rng.gauss(0.0, EDGE_JITTER_US) * 1e-6
            self._events.append((t + (k - p0) / hz + jitter, ins.KIND_EDGE, ch, 0))
        self._phase[ch] = p1 - whole

    def _adc(self, value: int) -> int:
        return max(0, min(ins.ADC_FULL, value + round(self._rng.gauss(0.0, ADC_NOISE))))

    def _levels(self, t: float, s: CarState, brake_pedal: float) -> None:
        volts = s.battery_v + self._rng.gauss(0.0, BATTERY_RIPPLE_V) if s.ignition else 0.0
        coolant = sender_ohm(COOLANT_CURVE, s.coolant_c)
        fuel = sender_ohm(FUEL_CURVE, s.fuel_pct)
        ev = self._events
        ev.append((t, ins.KIND_LEVEL, ins.BATTERY, self._adc(ins.divider_u16(volts, *DIVIDER_OHM))))
        ev.append(
            (t, ins.KIND_LEVEL, ins.COOLANT, self._adc(ins.sender_u16(coolant, SENDER_PULLUP_OHM)))
        )
        ev.append((t, ins.KIND_LEVEL, ins.FUEL, self._adc(ins.sender_u16(fuel, SENDER_PULLUP_OHM))))
        # switches, active low: the oil pressure switch closes without oil pressure
        # (engine stopped), the brake-light and headlight feeds pull their opto low
        ev.append((t, ins.KIND_LEVEL, ins.OIL, 1 if s.engine_running else 0))
        ev.append((t, ins.KIND_LEVEL, ins.BRAKE, 0 if brake_pedal > 0.02 else 1))
        ev.append((t, ins.KIND_LEVEL, ins.LIGHTS, 0 if s.headlights else 1))
