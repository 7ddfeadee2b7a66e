"""Forward frames from a python-can bus into the unix-port firmware's CAN stream.

On the board the CAN controller hands frames to the firmware; on the unix port a
FIFO does, and this bridge fills it from any python-can bus (``virtual`` in tests
and the demo, ``socketcan`` or a USB adapter for real traffic).
"""

from __future__ import annotations

import array
import fcntl
import os
import termios
import threading
from pathlib import Path

import can

from keilog.unixport.firmware import pack_can_frame


class BusToStream(threading.Thread):
    """Receive from bus and write each frame to the FIFO at path until stopped.

    Opening a FIFO for writing waits for the reader (the firmware), so this runs in a
    thread. stop() closes the stream, which the firmware sees as end of input.
    """

    def __init__(self, bus: can.BusABC, path: str | Path, expect: int | None = None) -> None:
        super().__init__(name="keilog-bridge", daemon=True)
        self.bus = bus
        self.path = Path(path)
        self.expect = expect
        self.forwarded = 0
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._fd = -1

    def pending_bytes(self) -> int:
        """Bytes written into the FIFO that its reader has not read yet (0 if closed)."""
        fd = self._fd
        if fd < 0:
            return 0
        buf = array.array("i", [0])
        try:
            fcntl.ioctl(fd, termios.FIONREAD, buf)
        except OSError:
            return 0
        return int(buf[0])

    def run(self) -> None:
        try:
            fd = os.open(self.path, os.O_WRONLY)
            self._fd = fd
            try:
                while not self._halt.is_set():
                    msg = self.bus.recv(timeout=0.05)
                    if msg is None:
                        continue
                    frame = pack_can_frame(
                        msg.arbitration_id,
                        bytes(msg.data),
                        msg.is_extended_id,
                        msg.is_remote_frame,
                        msg.is_error_frame,
                        msg.dlc,
                    )
                    os.write(fd, frame)  # 16 bytes <= PIPE_BUF: written whole
                    self.forwarded += 1
                    if self.expect is not None and self.forwarded >= self.expect:
                        break
            finally:
                self._fd = -1
                os.close(fd)
        except BaseException as exc:  # reported to the caller by join_checked()
            self.error = exc

    def stop(self) -> None:
        self._halt.set()

    def join_checked(self, timeout: float) -> int:
        self.join(timeout)
        if self.error is not None:
            raise self.error
        return self.forwarded
