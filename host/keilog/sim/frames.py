"""The car's broadcast frames: what each message of the kei car DBC carries, and when.

Every message with a cycle time in the DBC (``GenMsgCycleTime``, which cantools exposes as
``message.cycle_time`` in ms) is sent periodically, each at its own phase, encoded by
cantools from the car's state. A signal the simulator has no value for is an error that
names it, so the DBC and the simulator cannot drift apart silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import can
import cantools
from cantools.database.can import Message

from keilog.decode.dbc import load_database
from keilog.errors import DbcError
from keilog.paths import keicar_dbc
from keilog.sim.model import IGNITION_OFF, CarState

# SHIFT_LEVER codes of keicar.dbc: 0 P, 1 R, 2 N, 3 D, 4 "2", 5 L. The simulated truck
# has a manual gearbox, so the lever reads N with no gear engaged and D in any forward
# gear; P stands for "parked" (engine off, parking brake on).
LEVER_P, LEVER_N, LEVER_D = 0, 2, 3


def _lever(s: CarState) -> int:
    if not s.engine_running and s.parking_brake:
        return LEVER_P
    return LEVER_D if s.gear > 0 else LEVER_N


# Physical value of each signal, by message and signal name, from the car's state.
SIGNALS: dict[str, dict[str, Callable[[CarState], float]]] = {
    "ENGINE_STATUS": {
        "ENGINE_RPM": lambda s: s.engine_rpm,
        "THROTTLE_POS": lambda s: 100.0 * s.throttle,
        "ENGINE_LOAD": lambda s: 100.0 * s.load,
        "ENGINE_RUNNING": lambda s: 1.0 if s.engine_running else 0.0,
    },
    "VEHICLE_SPEED": {
        # The meter's speed and the wheel-speed sensors share the car's calibration
        # (speedometer error); front wheels are not driven, so they roll at road speed.
        "VEHICLE_SPEED": lambda s: s.speedo_kmh,
        "WHEEL_SPEED_FL": lambda s: s.speedo_kmh,
        "WHEEL_SPEED_FR": lambda s: s.speedo_kmh,
        "ACCEL_LONG": lambda s: s.accel_mps2,
    },
    "TRANSMISSION": {
        "GEAR": lambda s: float(s.gear),
        "SHIFT_LEVER": lambda s: float(_lever(s)),
        "ATF_TEMP": lambda s: s.gearbox_oil_c,
    },
    "ENGINE_TEMPS": {
        "COOLANT_TEMP": lambda s: s.coolant_c,
        "INTAKE_TEMP": lambda s: s.intake_c,
        "FUEL_LEVEL": lambda s: s.fuel_pct,
        "BATTERY_VOLTAGE": lambda s: s.battery_v,
        "ODOMETER": lambda s: s.odometer_km,
    },
    "BODY_STATUS": {
        "IGNITION": lambda s: float(s.ignition),
        "HEADLIGHTS": lambda s: 1.0 if s.headlights else 0.0,
        "PARKING_BRAKE": lambda s: 1.0 if s.parking_brake else 0.0,
    },
}
COUNTER = "COUNTER"  # rolling counter signal, incremented by each transmission


@dataclass
class Periodic:
    """One cyclic message: its encoder and its schedule."""

    message: Message
    period_s: float
    phase_s: float
    getters: list[tuple[str, Callable[[CarState], float], float, float]]
    counter_max: int | None
    counter: int = 0
    next_t: float = 0.0

    def values(self, state: CarState) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, get, lo, hi in self.getters:
            x = get(state)
            out[name] = lo if x < lo else hi if x > hi else x
        if self.counter_max is not None:
            out[COUNTER] = self.counter
            self.counter = (self.counter + 1) % (self.counter_max + 1)
        return out

    def frame(self, state: CarState, timestamp: float) -> can.Message:
        data = self.message.encode(self.values(state), scaling=True, strict=False)
        return can.Message(
            timestamp=timestamp,
            arbitration_id=self.message.frame_id,
            is_extended_id=self.message.is_extended_frame,
            dlc=self.message.length,
            data=data,
        )


def load_dbc(path: str | Path | None = None) -> cantools.database.can.Database:
    """The simulated car's DBC (``dbc/keicar.dbc`` unless told otherwise)."""
    return load_database(path or keicar_dbc())  # refuses anything but a CAN database


def schedule(db: cantools.database.can.Database, source: str = "DBC") -> list[Periodic]:
    """The cyclic messages of ``db``, phased a little apart as real ECUs are."""
    out: list[Periodic] = []
    cyclic = sorted(
        (m for m in db.messages if m.cycle_time), key=lambda m: (m.cycle_time, m.frame_id)
    )
    if not cyclic:
        raise DbcError(f"{source}: no message has a cycle time (GenMsgCycleTime)")
    for i, m in enumerate(cyclic):
        cycle_ms = m.cycle_time or 0
        known = SIGNALS.get(m.name)
        if known is None:
            raise DbcError(
                f"{source}: the simulator has no values for message {m.name} "
                f"(0x{m.frame_id:X}); add it to keilog.sim.frames.SIGNALS"
            )
        getters = []
        counter_max = None
        for sig in m.signals:
            if sig.name == COUNTER:
                counter_max = (1 << sig.length) - 1
                continue
            if sig.name not in known:
                raise DbcError(
                    f"{source}: the simulator has no value for signal {sig.name} of "
                    f"{m.name} (0x{m.frame_id:X}); add it to keilog.sim.frames.SIGNALS"
                )
            lo = sig.minimum if sig.minimum is not None else float("-inf")
            hi = sig.maximum if sig.maximum is not None else float("inf")
            getters.append((sig.name, known[sig.name], lo, hi))
        period = cycle_ms / 1000.0
        phase = (0.0013 * (i + 1)) % period
        out.append(Periodic(m, period, phase, getters, counter_max, next_t=phase))
    return out


def bus_silent(state: CarState) -> bool:
    """With the key off the car's ECUs sleep and the bus goes quiet."""
    return state.ignition == IGNITION_OFF
