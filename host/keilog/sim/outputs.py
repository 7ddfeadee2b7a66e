"""Where NMEA text goes: a serial port (pyserial), a new pty, a FIFO or a file.

``pty`` makes a pseudo-terminal pair and writes to its master; give the slave's path
(``NmeaOutput.path``) to the firmware as ``gps.source``, as if a GPS module were
plugged in. Like a real serial line, a pty that nobody reads drops what overflows
instead of stalling the car.
"""

from __future__ import annotations

import os
import stat
import tty
from pathlib import Path
from typing import IO, Any

import serial

from keilog.errors import ConfigError


class NmeaOutput:
    """A line sink for NMEA sentences; each line is ended with CR LF."""

    def __init__(self, target: str, baud: int = 9600) -> None:
        self.target = target
        self.path = target
        self.lines = 0
        self.dropped_bytes = 0
        self._serial: Any = None
        self._file: IO[bytes] | None = None
        self._master: int | None = None
        self._slave: int | None = None
        try:
            if target == "pty":
                master, slave = os.openpty()
                tty.setraw(slave)  # no echo, no CR/LF translation
                os.set_blocking(master, False)
                self._master, self._slave = master, slave
                self.path = os.ttyname(slave)
            elif "://" in target:
                self._serial = serial.serial_for_url(target, baudrate=baud, write_timeout=1.0)
            else:
                mode = os.stat(target).st_mode if os.path.exists(target) else 0
                if stat.S_ISCHR(mode):
                    self._serial = serial.Serial(target, baudrate=baud, write_timeout=1.0)
                elif stat.S_ISFIFO(mode):
                    self._file = open(target, "wb", buffering=0)  # noqa: SIM115
                else:
                    Path(target).parent.mkdir(parents=True, exist_ok=True)
                    self._file = open(target, "wb")  # noqa: SIM115
        except (OSError, serial.SerialException, ValueError) as exc:
            raise ConfigError(f"cannot open NMEA output {target!r}: {exc}") from None

    def write_line(self, text: str) -> None:
        data = text.encode("ascii") + b"\r\n"
        self.lines += 1
        if self._master is not None:
            try:
                n = os.write(self._master, data)
            except BlockingIOError:
                n = 0
            self.dropped_bytes += len(data) - n
        elif self._serial is not None:
            try:
                self._serial.write(data)
            except serial.SerialTimeoutException:
                self.dropped_bytes += len(data)
        elif self._file is not None:
            self._file.write(data)

    def close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None
        if self._file is not None:
            self._file.close()
            self._file = None
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def __enter__(self) -> NmeaOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
