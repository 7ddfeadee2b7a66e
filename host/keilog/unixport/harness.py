"""The vertical slice: a car's bus and GPS -> firmware (unix port) -> log segments.

Used by ``keilog demo``, the benchmarks and the end-to-end tests. The firmware is the
real MicroPython interpreter running ``firmware/main.py`` (or, for the demo only where
no MicroPython wheel exists, CPython with :mod:`keilog.unixport.cpython_shim`). CAN frames
travel on a python-can ``virtual`` bus (in-process: no network) and a bridge thread forwards them
into the firmware's CAN FIFO; NMEA sentences go into its GPS FIFO.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import termios
import time
import tty
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import can

from keilog.errors import FirmwareError
from keilog.unixport import firmware
from keilog.unixport.bus_bridge import BusToStream


@dataclass
class FirmwareRun:
    """What one firmware run produced."""

    segments: list[Path]
    frames_sent: int
    seconds: float
    log: str
    interpreter: str = "MicroPython unix port"
    sentences_sent: int = 0
    storage: Path | None = None
    sync: Any = None  # keilog.sync.run.SyncResult when the segments came over USB sync


# Called with the path of the firmware's USB port (a pty) once all input was logged;
# what it returns is kept in FirmwareRun.sync.
SyncFn = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class Nmea:
    """One NMEA sentence (without CR LF) for the firmware's GPS input, at time t."""

    t: float
    text: str


@dataclass(frozen=True, slots=True)
class Inputs:
    """Records of the unix port's input stream (keilog.unixport.inputstream: edges and
    levels of the logger's pulse, analog and switch inputs) for the time up to t."""

    t: float
    data: bytes


UNPACED_SAMPLE_S = 0.5
"""Unpaced runs with inputs let the firmware sample at least this often (drive time)."""

INPUT_PINS = ("vss", "tach", "battery", "coolant", "fuel", "oil", "brake", "lights")
"""The inputs wired when a run feeds them (each section's ``pin``)."""


def inputs_config(source: Path, pulses_per_km: int | None = None) -> dict[str, Any]:
    """Config sections wiring every input to the stream at ``source``, sampled at the
    highest rates (a paced run compresses time: at 20x, 50 samples/s of the logger's
    clock are 2.5 per second of the drive)."""
    cfg: dict[str, Any] = {"inputs": {"source": str(source), "pulse_hz": 50, "analog_hz": 20}}
    for name in INPUT_PINS:
        cfg[name] = {"pin": name}
    if pulses_per_km is not None:
        cfg["vss"]["pulses_per_km"] = pulses_per_km
    return cfg


def firmware_config(
    can_source: Path | None, storage: Path, gps_source: Path | None = None, **extra: Any
) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "board": "unix",
        "can": {"source": str(can_source) if can_source else None, "eof": "exit",
                "enabled": can_source is not None},
        "gps": {"enabled": gps_source is not None,
                "source": str(gps_source) if gps_source else None},
        "usb": {"enabled": False},
        "storage": {"path": str(storage)},
        "flush_ms": 200,
    }  # fmt: skip
    for key, value in extra.items():
        cfg[key] = value
    return cfg


def _fifo(path: Path) -> Path:
    if path.exists():
        path.unlink()
    os.mkfifo(path)
    return path


def log_messages(
    messages: Iterable[can.Message],
    workdir: str | Path,
    speedup: float | None = None,
    channel: str | None = None,
    timeout: float = 120.0,
    config: dict[str, Any] | None = None,
    allow_shim: bool = False,
) -> FirmwareRun:
    """Send CAN messages on a virtual bus, let the firmware log them; see log_events."""
    return log_events(messages, workdir, speedup, channel, timeout, config, allow_shim, gps=False)


def log_events(
    events: Iterable[can.Message | Nmea | Inputs],
    workdir: str | Path,
    speedup: float | None = None,
    channel: str | None = None,
    timeout: float = 120.0,
    config: dict[str, Any] | None = None,
    allow_shim: bool = False,
    can_bus: bool = True,
    gps: bool = True,
    sync: SyncFn | None = None,
    inputs: bool = False,
) -> FirmwareRun:
    """Feed CAN messages and NMEA sentences to the firmware; return its segments.

    Events are sent in order; with speedup, paced by their times divided by speedup
    (``can.Message.timestamp`` or ``Nmea.t``, on one time base), otherwise as fast as
    the firmware takes them. When the events end, the inputs close and the firmware
    flushes and exits (``can.eof = exit``). With ``inputs``, every input is wired and
    fed from the :class:`Inputs` events (a car without CAN: VSS, tach, analog, switches).

    With sync, the firmware's USB link is a pty and it keeps running when its inputs
    end (``can.eof = wait``); once it has logged every frame, sync(port) fetches the
    segments the way an owner would (``keilog sync``), then the firmware is stopped.
    """
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    can_fifo = _fifo(work / "can.fifo") if can_bus else None
    gps_fifo = _fifo(work / "gps.fifo") if gps else None
    in_fifo = _fifo(work / "inputs.fifo") if inputs else None
    storage = work / "storage"
    cfg = config or firmware_config(can_fifo, storage, gps_fifo)
    if in_fifo is not None:
        cfg.update(inputs_config(in_fifo))
    port = None
    master = slave = -1
    ignition = work / "ignition_mv"
    if sync is not None:
        cfg["can"]["eof"] = "wait"
        cfg["usb"] = {"enabled": True, "path": "stdio"}
        # The key is on while the car drives; it goes off before the owner syncs, so the
        # logger seals its last segment and parks (nothing is left half-fetched).
        ignition.write_text("12500\n")
        cfg.setdefault("power", {}).update({"ignition_pin": str(ignition), "ignition_mv": 9000})
        master, slave = os.openpty()
        tty.setraw(slave)
        port = os.ttyname(slave)
    cfg_path = firmware.write_config(work / "config.json", cfg)
    channel = channel or f"keilog-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    # The GPS FIFO is opened read-write so that opening it never waits for the firmware
    # (which opens its inputs one after the other); closing it is the end of input.
    gps_fd = os.open(gps_fifo, os.O_RDWR) if gps_fifo else None
    in_fd = os.open(in_fifo, os.O_RDWR) if in_fifo else None
    if sync is not None:
        proc = firmware.start(
            cfg_path, device_id="demo-unix", allow_shim=allow_shim, stdin=master, stdout=master
        )
        os.close(master)
    else:
        proc = firmware.start(cfg_path, device_id="demo-unix", allow_shim=allow_shim)
    _argv, interpreter = firmware.interpreter(allow_shim)
    rx = can.Bus(interface="virtual", channel=channel)
    tx = can.Bus(interface="virtual", channel=channel)
    bridge = BusToStream(rx, can_fifo) if can_fifo else None
    if bridge:
        bridge.start()
    sent = sentences = 0
    sampled_t = float("-inf")
    try:
        t0: float | None = None
        wall0 = time.monotonic()
        for ev in events:
            t = ev.timestamp if isinstance(ev, can.Message) else ev.t
            if speedup:
                if t0 is None:
                    t0 = t
                delay = wall0 + (t - t0) / speedup - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if isinstance(ev, Inputs):
                if in_fd is not None:
                    _write_all(in_fd, ev.data)
                    if not speedup and ev.t - sampled_t >= UNPACED_SAMPLE_S:
                        # Unpaced, the drive would outrun the firmware's sampling clock:
                        # let it read this much and take a sample (50 Hz) every 0.5 s
                        # of the drive.
                        _wait_fifo_empty(in_fd, timeout)
                        time.sleep(0.022)
                        sampled_t = ev.t
            elif isinstance(ev, Nmea):
                if not speedup and in_fd is not None:
                    # Unpaced, likewise: every edge and level before this sentence first.
                    _wait_fifo_empty(in_fd, timeout)
                if not speedup and bridge:
                    # Unpaced, CAN frames would queue far ahead of the NMEA sentences
                    # that the firmware reads at once; let it read every earlier frame
                    # first so that both are stamped in their real order.
                    _wait_drained(bridge, sent, timeout)
                if gps_fd is not None:
                    os.write(gps_fd, ev.text.encode("ascii") + b"\r\n")
                    sentences += 1
            elif bridge:
                tx.send(ev)
                sent += 1
            if proc.poll() is not None:
                break
        if bridge:
            deadline = time.monotonic() + timeout
            while bridge.forwarded < sent and bridge.is_alive() and time.monotonic() < deadline:
                time.sleep(0.01)
            bridge.stop()
            bridge.join_checked(timeout=10)
        if in_fd is not None:
            _wait_fifo_empty(in_fd, timeout)  # the firmware read every edge and level
            os.close(in_fd)
            in_fd = None
        if gps_fd is not None:
            _wait_fifo_empty(gps_fd, timeout)
            os.close(gps_fd)  # after the CAN stream ended: both inputs end together
            gps_fd = None
        synced = None
        if sync is not None and port is not None:
            _wait_logged(port, sent, timeout)
            ignition.write_text("0\n")  # key off
            _wait_parked(port, timeout)
            synced = sync(port)
            proc.terminate()  # a power cut: everything was synced first
            log = _stderr(proc, timeout)
        else:
            log = firmware.wait(proc, timeout=timeout)
        if bridge and bridge.forwarded != sent:
            raise FirmwareError(f"the bridge forwarded {bridge.forwarded} of {sent} frames")
    finally:
        if bridge:
            bridge.stop()
        if gps_fd is not None:
            os.close(gps_fd)
        if in_fd is not None:
            os.close(in_fd)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        rx.shutdown()
        tx.shutdown()
        if slave >= 0:
            os.close(slave)
    segments = sorted(storage.glob("*.KLG"))
    return FirmwareRun(
        segments, sent, time.monotonic() - started, log, interpreter, sentences, storage, synced
    )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _wait_fifo_empty(fd: int, timeout: float) -> None:
    """Until the reader has taken every byte written to the FIFO (FIONREAD)."""
    deadline = time.monotonic() + timeout
    buf = bytearray(4)
    while time.monotonic() < deadline:
        fcntl.ioctl(fd, termios.FIONREAD, buf)
        if not int.from_bytes(buf, "little"):
            return
        time.sleep(0.005)


def _wait_drained(bridge: BusToStream, sent: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while bridge.forwarded < sent or bridge.pending_bytes():
        if not bridge.is_alive() or time.monotonic() > deadline:
            return  # the caller's checks report what went wrong
        time.sleep(0.0002)


def _wait_parked(port: str, timeout: float) -> None:
    """Ask the firmware over its link until every segment is sealed (key off: parked)."""
    from keilog.sync.client import DeviceClient
    from keilog.sync.ports import open_port

    deadline = time.monotonic() + timeout
    while True:
        ser = open_port(port)
        try:
            client = DeviceClient(ser, port)
            client.hello()
            sealed = all(e.sealed for e in client.list_segments())
            client.bye()
        finally:
            ser.close()
        if sealed:
            return
        if time.monotonic() > deadline:
            raise FirmwareError("the firmware did not park (seal its segment) after key off")
        time.sleep(0.1)


def _wait_logged(port: str, frames: int, timeout: float) -> None:
    """Ask the running firmware over its link until it has logged every frame sent."""
    from keilog.sync.client import DeviceClient
    from keilog.sync.ports import open_port

    deadline = time.monotonic() + timeout
    while True:
        ser = open_port(port)
        try:
            client = DeviceClient(ser, port)
            client.hello()
            logged = int(client.counters().get("frames", 0))
            client.bye()
        finally:
            ser.close()
        if logged >= frames:
            time.sleep(0.3)  # the last NMEA bytes: the GPS input is read within a loop pass
            return
        if time.monotonic() > deadline:
            raise FirmwareError(f"the firmware logged {logged} of {frames} frames in time")
        time.sleep(0.05)


def _stderr(proc: subprocess.Popen[bytes], timeout: float) -> str:
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
    return (err or b"").decode(errors="replace")
