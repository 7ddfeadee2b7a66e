"""Finding the logger's USB serial port and opening it with pyserial."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import serial
import serial.tools.list_ports

from keilog.sync.errors import LinkLostError, SyncError

# MicroPython boards enumerate with this USB vendor id (pid.codes: MicroPython).
MICROPYTHON_VID = 0xF055


@dataclass(frozen=True)
class PortInfo:
    """One serial port that may be a keilog logger."""

    device: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    manufacturer: str | None
    product: str | None
    description: str


def candidates() -> list[PortInfo]:
    """Serial ports of MicroPython boards (USB vendor id 0xF055), by device name."""
    out = []
    for p in serial.tools.list_ports.comports():
        if p.vid != MICROPYTHON_VID:
            continue
        out.append(
            PortInfo(
                device=p.device,
                vid=p.vid,
                pid=p.pid,
                serial_number=p.serial_number,
                manufacturer=p.manufacturer,
                product=p.product,
                description=p.description,
            )
        )
    return sorted(out, key=lambda p: p.device)


def resolve(port: str) -> str:
    """The device path for ``--port``: itself, or for ``auto`` the one board found."""
    if port != "auto":
        return port
    found = candidates()
    if not found:
        raise SyncError(
            "no MicroPython board found (USB vendor id 0xF055): plug the logger in, or "
            "name its port with --port (e.g. /dev/ttyACM0, COM3)"
        )
    if len(found) > 1:
        names = ", ".join(f"{p.device} ({p.description})" for p in found)
        raise SyncError(f"{len(found)} MicroPython boards found ({names}): choose one with --port")
    return found[0].device


def open_port(path: str, read_timeout: float = 0.05) -> serial.Serial:
    """Open the logger's port for sync: raw bytes, short reads, input flushed."""
    try:
        port = serial.Serial(path, baudrate=115200, timeout=read_timeout, write_timeout=5)
    except (serial.SerialException, OSError) as exc:
        errno = getattr(exc, "errno", None)
        if errno == 2 or not Path(path).exists():
            why = "no such port; plug the logger in, or list ports with keilog sync --list"
        elif errno in (13, 16):  # EACCES, EBUSY
            why = (
                "the port is busy or not yours; close other programs using it, or add "
                "yourself to the port's group (e.g. dialout)"
            )
        else:
            why = f"{exc}; check the cable, or list ports with keilog sync --list"
        raise LinkLostError(f"{path}: cannot open the port: {why}") from exc
    port.reset_input_buffer()
    return port
