"""Frames on python-can's in-process ``virtual`` bus: every bus opened on a channel
receives what the others send on it (no network)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import can
import can.interfaces.virtual
import cantools
import pytest

from tests.conftest import ROOT

KEICAR = ROOT / "dbc" / "keicar.dbc"
_names = itertools.count()
SPEED_VALUES = {
    "VEHICLE_SPEED": 42.5,
    "WHEEL_SPEED_FL": 42.0,
    "WHEEL_SPEED_FR": 43.0,
    "ACCEL_LONG": -1.5,
    "COUNTER": 3,
}
SPEED_VALUES = {
    "VEHICLE_SPEED": 42.5,
    "WHEEL_SPEED_FL": 42.0,
    "WHEEL_SPEED_FR": 43.0,
    "ACCEL_LONG": -1.5,
    "COUNTER": 3,
}


@pytest.fixture
def channel() -> str:
    """A virtual channel no other test uses."""
    return f"keilog-test-{next(_names)}"


@pytest.fixture
def listener(channel: str) -> Iterator[can.BusABC]:
    """A bus on the channel, opened before anything is sent, so it receives all."""
    with can.Bus(interface="virtual", channel=channel) as bus:
        yield bus


def sample_frames() -> list[can.Message]:
    """A mix: 11- and 29-bit ids, every DLC 0..8, a remote frame, keicar.dbc messages."""
    db = cantools.database.load_file(str(KEICAR))
    speed = db.get_message_by_name("VEHICLE_SPEED")
    frames = []
    for i in range(60):
        frames.append(
            can.Message(
                timestamp=1_700_000_000.0 + i * 0.001,
                arbitration_id=(0x18DAF110 + i) if i % 4 == 0 else 0x100 + i,
                is_extended_id=i % 4 == 0,
                data=bytes((i * 7 + k) & 0xFF for k in range(i % 9)),
            )
        )
    frames.append(
        can.Message(
            timestamp=1_700_000_000.1,
            arbitration_id=0x7DF,
            is_extended_id=False,
            is_remote_frame=True,
            dlc=3,
        )
    )
    frames.append(
        can.Message(
            timestamp=1_700_000_000.2,
            arbitration_id=speed.frame_id,
            is_extended_id=False,
            data=speed.encode(SPEED_VALUES),
        )
    )
    return frames


def key(msg: can.Message) -> tuple[int, bool, bool, int, bytes]:
    """What a frame is, leaving out when it was seen."""
    data = b"" if msg.is_remote_frame else bytes(msg.data)
    return (msg.arbitration_id, msg.is_extended_id, msg.is_remote_frame, msg.dlc, data)


def received(bus: can.BusABC, timeout: float = 0.2) -> list[can.Message]:
    """Everything the bus has received, until nothing comes for ``timeout`` seconds."""
    out = []
    while (msg := bus.recv(timeout=timeout)) is not None:
        out.append(msg)
    return out


def send_when_listening(
    channel: str, frames: list[can.Message], listeners: int = 1
) -> threading.Thread:
    """Send ``frames`` from a thread once ``listeners`` buses besides the sender are open
    on the channel (e.g. the one a CLI command opens), within 30 s."""

    def run() -> None:
        with can.Bus(interface="virtual", channel=channel) as tx:
            deadline = time.monotonic() + 30
            while len(can.interfaces.virtual.channels.get(channel, [])) < listeners + 1:
                if time.monotonic() > deadline:
                    return
                time.sleep(0.01)
            for msg in frames:
                tx.send(msg)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
