"""The vertical slice: frames on a python-can bus -> firmware (unix port) -> segments.

Used by ``keilog demo`` and the end-to-end tests. The firmware is the real MicroPython
interpreter running ``firmware/main.py``; a bridge thread forwards what it receives
on the bus into the firmware's CAN FIFO.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import can

from keilog import firmware
from keilog.bridge import BusToStream
from keilog.errors import FirmwareError


@dataclass
class FirmwareRun:
    """What one firmware run produced."""

    segments: list[Path]
    frames_sent: int
    seconds: float
    log: str
    interpreter: str = "MicroPython unix port"


def firmware_config(can_source: Path, storage: Path, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "board": "unix",
        "can": {"source": str(can_source), "eof": "exit"},
        "gps": {"enabled": False},
        "storage": {"path": str(storage)},
        "flush_ms": 200,
    }
    for key, value in extra.items():
        cfg[key] = value
    return cfg


def log_messages(
    messages: Iterable[can.Message],
    workdir: str | Path,
    speedup: float | None = None,
    channel: str | None = None,
    timeout: float = 120.0,
    config: dict[str, Any] | None = None,
    allow_shim: bool = False,
) -> FirmwareRun:
    """Send messages on a virtual bus, let the firmware log them, return its segments.

    Messages are sent in order; with speedup, paced by their timestamps divided by
    speedup, otherwise as fast as the bus takes them.
    """
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    fifo = work / "can.fifo"
    if fifo.exists():
        fifo.unlink()
    os.mkfifo(fifo)
    storage = work / "storage"
    cfg = config or firmware_config(fifo, storage)
    cfg_path = firmware.write_config(work / "config.json", cfg)
    channel = channel or f"keilog-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    proc = firmware.start(cfg_path, device_id="demo-unix", allow_shim=allow_shim)
    _argv, interpreter = firmware.interpreter(allow_shim)
    rx = can.Bus(interface="virtual", channel=channel)
    tx = can.Bus(interface="virtual", channel=channel)
    bridge = BusToStream(rx, fifo)
    bridge.start()
    sent = 0
    try:
        t0: float | None = None
        wall0 = time.monotonic()
        for msg in messages:
            if speedup:
                if t0 is None:
                    t0 = msg.timestamp
                due = wall0 + (msg.timestamp - t0) / speedup
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            tx.send(msg)
            sent += 1
        deadline = time.monotonic() + timeout
        while bridge.forwarded < sent and bridge.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        bridge.stop()
        bridge.join_checked(timeout=10)
        if bridge.forwarded != sent:
            raise FirmwareError(f"the bridge forwarded {bridge.forwarded} of {sent} frames")
        log = firmware.wait(proc, timeout=timeout)
    finally:
        bridge.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        rx.shutdown()
        tx.shutdown()
    segments = sorted(storage.glob("*.KLG"))
    return FirmwareRun(segments, sent, time.monotonic() - started, log, interpreter)
