"""An OBD-II responder: answers service 01 requests with the car's values of the moment.

Requests come as ISO-TP single frames on 0x7DF (functional, to every ECU) or 0x7E0
(physical, to ECU #1): ``02 01 PID`` plus padding (ISO 15765-4). The engine ECU answers
from 0x7E8 with a single frame ``len 41 PID A [B C D]`` padded to 8 bytes, encoded by
cantools from ``dbc/obd2.dbc``, so the DBC that decodes responses on the host is the same
one that builds them here. The responder answers every PID that DBC defines, and the
"PIDs supported" bitmaps (0x00, 0x20, 0x40) list exactly those.

What it does not answer, as J1979 ECUs do not: PIDs it does not support, other
services, requests carrying several PIDs, and anything while the ignition is off.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import can

from keilog.decode.dbc import load_database
from keilog.errors import DbcError
from keilog.paths import dbc_dir
from keilog.sim.model import IGNITION_OFF, CarState

REQUEST_IDS = (0x7DF, 0x7E0)
RESPONSE_ID = 0x7E8
SERVICE_01 = 0x01
RESPONSE_01 = 0x41
# Padding byte after the response's data. ISO 15765-2 leaves its value to the ECU;
# 0x55 and 0xAA are common choices (alternating bits keep the bus stuffing low).
PADDING = 0x55
BITMAP_PIDS = (0x00, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0)

# Value of each signal of obd2.dbc, from the car's state, in the DBC's physical units.
SIGNAL_VALUES: dict[str, Callable[[CarState], float]] = {
    "ENGINE_LOAD": lambda s: 100.0 * s.load,
    "COOLANT_TEMP": lambda s: s.coolant_c,
    "INTAKE_MAP": lambda s: s.map_kpa,
    "ENGINE_RPM": lambda s: s.engine_rpm,
    "VEHICLE_SPEED": lambda s: s.speedo_kmh,
    "INTAKE_AIR_TEMP": lambda s: s.intake_c,
    "MAF_RATE": lambda s: s.maf_gps,
    # An absolute throttle sensor reads about 12 % with the plate shut and short of
    # 100 % wide open (J1979 reports the sensor, not the pedal).
    "THROTTLE_POS": lambda s: 12.0 + 82.0 * s.throttle if s.engine_running else 0.0,
    "RUN_TIME": lambda s: s.run_time_s,
    "FUEL_LEVEL": lambda s: s.fuel_pct,
    # Codes were last cleared when the simulation started.
    "DIST_SINCE_CLEARED": lambda s: s.distance_m / 1000.0,
    "BARO_PRESSURE": lambda s: s.baro_kpa,
    "CONTROL_MODULE_VOLTAGE": lambda s: s.battery_v,
    "AMBIENT_AIR_TEMP": lambda s: s.ambient_c,
}


def obd2_dbc() -> Path:
    return dbc_dir() / "obd2.dbc"


def supported_bitmap(base: int, pids: set[int]) -> int:
    """The 32-bit "PIDs supported [base+1 .. base+0x20]" value (SAE J1979: bit 31 is
    PID base+1, bit 0 is PID base+0x20, which is itself set when any higher PID is
    supported)."""
    value = 0
    for pid in pids:
        if base < pid <= base + 0x20:
            value |= 1 << (32 - (pid - base))
    if any(p > base + 0x20 for p in pids):
        value |= 1
    return value


class ObdResponder:
    """Builds service 01 responses from ``dbc/obd2.dbc`` (or another DBC with the same
    layout)."""

    def __init__(self, dbc: str | Path | None = None) -> None:
        path = Path(dbc) if dbc is not None else obd2_dbc()
        db = load_database(path)  # refuses anything but a CAN database
        try:
            self.message = db.get_message_by_frame_id(RESPONSE_ID)
        except KeyError:
            raise DbcError(f"{path}: no message with id 0x{RESPONSE_ID:X}") from None
        # signal tree: [..., {"SERVICE": {0x41: [{"PID": {pid: [signal, ...]}}], ...}}]
        self.signal_of: dict[int, str] = {}
        for node in self.message.signal_tree:
            if isinstance(node, dict) and "SERVICE" in node:
                for sub in node["SERVICE"].get(RESPONSE_01, []):
                    if isinstance(sub, dict) and "PID" in sub:
                        for pid, names in sub["PID"].items():
                            if len(names) != 1 or not isinstance(names[0], str):
                                raise DbcError(
                                    f"{path}: PID 0x{pid:02X} must carry exactly one signal"
                                )
                            self.signal_of[pid] = names[0]
        if not self.signal_of:
            raise DbcError(f"{path}: message 0x7E8 has no service 0x41 PIDs multiplexed")
        self.pids = set(self.signal_of)
        self.value_pids = {p for p in self.pids if p not in BITMAP_PIDS}
        for pid in sorted(self.value_pids):
            name = self.signal_of[pid]
            if name not in SIGNAL_VALUES:
                raise DbcError(
                    f"{path}: the simulator has no value for PID 0x{pid:02X} ({name}); "
                    "add it to keilog.sim.obd.SIGNAL_VALUES or remove it from the DBC"
                )
        self.data_bytes = {
            pid: self.message.get_signal_by_name(name).length // 8
            for pid, name in self.signal_of.items()
        }

    def value(self, pid: int, state: CarState) -> float:
        """The physical value this ECU reports for ``pid`` now."""
        if pid in BITMAP_PIDS:
            return float(supported_bitmap(pid, self.pids))
        signal = self.message.get_signal_by_name(self.signal_of[pid])
        x = SIGNAL_VALUES[self.signal_of[pid]](state)
        lo = signal.minimum if signal.minimum is not None else x
        hi = signal.maximum if signal.maximum is not None else x
        return min(max(x, lo), hi)

    def response_data(self, pid: int, state: CarState) -> bytes | None:
        """The 8 data bytes of the response to ``01 pid``, or None if unsupported."""
        if pid not in self.pids:
            return None
        n = self.data_bytes[pid]
        data = bytearray(
            self.message.encode(
                {
                    "SF_LENGTH": 2 + n,
                    "FRAME_TYPE": 0,
                    "SERVICE": RESPONSE_01,
                    "PID": pid,
                    self.signal_of[pid]: self.value(pid, state),
                },
                strict=True,
            )
        )
        for i in range(3 + n, len(data)):
            data[i] = PADDING
        return bytes(data)

    def respond(self, request: can.Message, state: CarState) -> can.Message | None:
        """The response frame to ``request``, or None when an ECU would stay silent."""
        if state.ignition == IGNITION_OFF:
            return None
        if request.arbitration_id not in REQUEST_IDS or request.is_extended_id:
            return None
        if request.is_remote_frame or request.is_error_frame or request.dlc < 3:
            return None
        d = request.data
        frame_type, length = d[0] >> 4, d[0] & 0x0F
        if frame_type != 0 or length != 2 or d[1] != SERVICE_01:
            return None
        data = self.response_data(d[2], state)
        if data is None:
            return None
        return can.Message(arbitration_id=RESPONSE_ID, is_extended_id=False, dlc=8, data=data)


def request(pid: int, functional: bool = True) -> can.Message:
    """A service 01 request for ``pid``, as a scan tool (or the logger) sends it."""
    return can.Message(
        arbitration_id=REQUEST_IDS[0] if functional else REQUEST_IDS[1],
        is_extended_id=False,
        dlc=8,
        data=bytes([0x02, SERVICE_01, pid, PADDING, PADDING, PADDING, PADDING, PADDING]),
    )
