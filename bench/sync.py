"""USB sync over a pty, with the real firmware on the MicroPython unix port.

- sync_link_efficiency: payload bytes / bytes on the wire (both directions) while
  keilog's sync protocol fetches the segments the firmware logged, vs mpremote's
  ``fs_readfile`` (what ``mpremote cp :file .`` does: raw-REPL ``eval`` of 256-byte
  chunks, sent back as their Python repr) fetching the same files from the MicroPython
  unix REPL over a pty.
- sync_payload_mb_per_s: payload MB/s of that fetch, vs the raw pty throughput: the
  same bytes written by MicroPython straight to the pty in 4 KiB writes and read by
  pyserial.

All three transfers run in this run, on the same pty kind, interpreter and bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tempfile
import time
import tty
from pathlib import Path
from typing import Any

import serial
from keilog.paths import firmware_dir
from keilog.sync import DeviceClient, LinkStats, open_port

from bench import entry

_RAW_WRITER = """
import sys
paths = sys.argv[1:]
out = sys.stdout.buffer
buf = bytearray(4096)
out.write(b"r")  # ready
sys.stdin.buffer.read(1)  # go
for p in paths:
    with open(p, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            out.write(buf, n)
"""


def _pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


def _micropython() -> str:
    found = os.environ.get("KEILOG_MICROPYTHON") or shutil.which("micropython")
    if not found:
        raise RuntimeError("the sync bench needs the `micropython` unix-port binary")
    return found


def _log_segments(work: Path, frames: int) -> tuple[subprocess.Popen[bytes], int, str]:
    """Start the firmware logging `frames` frames, its sync link on a pty."""
    can = work / "can.bin"
    with open(can, "wb") as f:
        for i in range(frames):
            f.write(struct.pack("<IB3x8s", 0x100 + i % 7, 8, struct.pack("<Q", i * 2654435761)))
    cfg = {
        "board": "unix",
        "can": {"source": str(can), "eof": "wait"},
        "gps": {"enabled": False},
        "storage": {"path": str(work / "storage")},
        "usb": {"path": "stdio"},
    }
    (work / "cfg.json").write_text(json.dumps(cfg))
    master, slave, path = _pty()
    env = dict(os.environ, KEILOG_CONFIG=str(work / "cfg.json"), KEILOG_DEVICE_ID="bench")
    proc = subprocess.Popen(
        [_micropython(), str(firmware_dir() / "main.py")],
        stdin=master,
        stdout=master,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(master)
    return proc, slave, path


def _keilog_fetch(path: str, frames: int) -> tuple[list[Path], int, float, LinkStats]:
    ser = open_port(path)
    try:
        client = DeviceClient(ser, path)
        deadline = time.monotonic() + 120
        client.hello()
        while client.counters()["frames"] < frames:
            if time.monotonic() > deadline:
                raise RuntimeError("the firmware did not log the bench frames in 120 s")
            time.sleep(0.1)
        client.rotate()
        client.stats = LinkStats()
        t0 = time.perf_counter()
        entries = [e for e in client.list_segments() if e.sealed]
        chunks: list[bytes] = []
        for e in entries:
            client.read(e.name, 0, e.size, lambda _off, d: chunks.append(d))
        payload = sum(len(c) for c in chunks)
        seconds = time.perf_counter() - t0
        stats = client.stats
        client.bye()
    finally:
        ser.close()
    return [Path(e.name) for e in entries], payload, seconds, stats


def _raw_pty(files: list[Path]) -> float:
    total = sum(p.stat().st_size for p in files)
    master, slave, path = _pty()
    proc = subprocess.Popen(
        [_micropython(), "-c", _RAW_WRITER, *map(str, files)],
        stdin=master,
        stdout=master,
        stderr=subprocess.DEVNULL,
    )
    os.close(master)
    try:
        ser = serial.Serial(path, timeout=30)
        if ser.read(1) != b"r":
            raise RuntimeError("the raw pty writer did not start")
        ser.timeout = 0.5
        got = 0
        ser.write(b"g")
        t0 = time.perf_counter()
        while got < total:
            data = ser.read(max(1, ser.in_waiting))
            if not data and proc.poll() is not None:
                raise RuntimeError("the raw pty writer stopped early")
            got += len(data)
        seconds = time.perf_counter() - t0
        ser.close()
    finally:
        proc.kill()
        proc.wait()
        os.close(slave)
    return total / seconds


class _Counting:
    """pyserial port wrapper counting the bytes mpremote moves."""

    def __init__(self, ser: Any) -> None:
        self.ser = ser
        self.rx = 0
        self.tx = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ser, name)

    def read(self, n: int = 1) -> bytes:
        data: bytes = self.ser.read(n)
        self.rx += len(data)
        return data

    def write(self, data: bytes) -> int:
        self.tx += len(data)
        return int(self.ser.write(data))


def _mpremote(files: list[Path]) -> tuple[float, float]:
    from mpremote.transport_serial import SerialTransport

    master, slave, path = _pty()
    proc = subprocess.Popen(
        [_micropython()], stdin=master, stdout=master, stderr=subprocess.DEVNULL
    )
    os.close(master)
    try:
        transport = SerialTransport(path, baudrate=115200)
        counting = _Counting(transport.serial)
        transport.serial = counting
        transport.enter_raw_repl(soft_reset=False)
        counting.rx = counting.tx = 0
        t0 = time.perf_counter()
        payload = 0
        for p in files:
            data = transport.fs_readfile(str(p))
            if data != p.read_bytes():
                raise RuntimeError(f"mpremote fetched {p} wrongly")
            payload += len(data)
        seconds = time.perf_counter() - t0
        transport.exit_raw_repl()
        transport.close()
    finally:
        proc.kill()
        proc.wait()
        os.close(slave)
    return payload / (counting.rx + counting.tx), payload / seconds


def run(quick: bool = False) -> dict[str, Any]:
    frames = 20_000 if quick else 150_000
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        proc, slave, path = _log_segments(work, frames)
        try:
            names, payload, seconds, stats = _keilog_fetch(path, frames)
        finally:
            proc.terminate()
            proc.wait()
            os.close(slave)
        files = [work / "storage" / n for n in names]
        wire = stats.bytes_in + stats.bytes_out
        raw_bps = _raw_pty(files)
        mpremote_eff, mpremote_bps = _mpremote(files)
    return {
        "sync_link_efficiency": entry(
            payload / wire,
            mpremote_eff,
            "mpremote fs_readfile (mpremote cp: raw-REPL eval of repr'd 256-byte chunks)",
            "payload bytes / wire bytes",
            True,
            payload_bytes=payload,
            wire_bytes=wire,
            mpremote_mb_per_s=round(mpremote_bps / 1e6, 4),
        ),
        "sync_payload_mb_per_s": entry(
            payload / seconds / 1e6,
            raw_bps / 1e6,
            "raw pty throughput (MicroPython writing the same bytes, pyserial reading)",
            "MB/s",
            True,
            payload_bytes=payload,
            link="pty, firmware on the MicroPython unix port",
        ),
    }
