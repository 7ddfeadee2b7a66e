"""The real firmware (``micropython firmware/main.py``) with its sync link on a pty.

The firmware's stdin/stdout are the pty's master side (config ``usb.path: "stdio"``);
the host opens the slave side by its path with pyserial, as it would open
/dev/ttyACM0. The test keeps its own handle on the slave open, so that closing the
host's port (a pulled cable) never hangs the pty up under the firmware.

``Relay`` puts a second pty in between, for a cable that damages bytes.
"""

from __future__ import annotations

import json
import os
import random
import select
import subprocess
import threading
import time
import tty
from pathlib import Path
from typing import Any

from tests.conftest import FIRMWARE, micropython_path
from tests.sync.conftest import firmware_env


class FirmwareOnPty:
    def __init__(self, work: Path, can_source: Path, **cfg: Any) -> None:
        self.work = work
        self.storage = work / "storage"
        config: dict[str, Any] = {
            "board": "unix",
            "can": {"source": str(can_source), "eof": "wait"},
            "gps": {"enabled": False},
            "storage": {"path": str(self.storage)},
            "usb": {"path": "stdio"},
            "flush_ms": 100,
        }
        config.update(cfg)
        self.cfg_path = work / "cfg.json"
        self.cfg_path.write_text(json.dumps(config))
        master, slave = os.openpty()
        tty.setraw(slave)
        self.slave = slave
        self.port = os.ttyname(slave)
        self.stderr = open(work / "firmware.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [micropython_path(), str(FIRMWARE / "main.py")],
            stdin=master,
            stdout=master,
            stderr=self.stderr,
            env=firmware_env(self.cfg_path),
        )
        os.close(master)

    def log(self) -> str:
        return (self.work / "firmware.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.slave)
        self.stderr.close()

    def __enter__(self) -> FirmwareOnPty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Relay(threading.Thread):
    """Copies bytes between the firmware's pty and a second pty whose slave path the
    host opens, flipping one bit of a byte with probability ``flip_rate`` (seeded);
    ``pull()`` hangs the host's side up, as pulling a USB cable does."""

    def __init__(self, device_port: str, flip_rate: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.dev = os.open(device_port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.dev)
        master, slave = os.openpty()
        tty.setraw(slave)
        self.master = master
        self.slave = slave
        self.port = os.ttyname(slave)
        self.rng = random.Random(seed)
        self.flip_rate = flip_rate
        self.flipped = 0
        self.stopped = threading.Event()
        self.pulled = threading.Event()

    def damage(self, data: bytes) -> bytes:
        out = bytearray(data)
        for i in range(len(out)):
            if self.rng.random() < self.flip_rate:
                out[i] ^= 1 << self.rng.randrange(8)
                self.flipped += 1
        return bytes(out)

    def pull(self) -> None:
        """Pull the cable: the host's side of the link hangs up."""
        self.pulled.set()

    def run(self) -> None:
        pairs = {self.dev: self.master, self.master: self.dev}
        while not self.stopped.is_set():
            if self.pulled.is_set() and self.master >= 0:
                os.close(self.master)
                self.master = -1
                return
            ready, _, _ = select.select(list(pairs), [], [], 0.05)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if data:
                    os.write(pairs[fd], self.damage(data))

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)
        for fd in (self.dev, self.master, self.slave):
            if fd >= 0:
                os.close(fd)


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
