"""An in-memory USB cable between the host client and the device's sync service.

The device end is the firmware's own ``SyncService`` (logger/syncdev.py) running
in-process under CPython on a real ``SegmentStore`` folder; the host end is what
:class:`keilog.sync.DeviceClient` needs of a pyserial port. Time is simulated: a read
that finds nothing polls the device, and if it still has nothing to say the clock
moves on by the read timeout, so timeouts cost no wall time.

Faults, all seeded: ``cut_after`` pulls the cable once that many bytes crossed it
(both directions counted; later host reads and writes raise ``SerialException``, as
pyserial does when a USB port vanishes); ``flip_rate`` flips one bit of a byte with
that probability; ``drop_rate`` loses a byte; ``cut_before`` pulls the cable as the
host starts to send a request of that command code.
"""

from __future__ import annotations

import random
from typing import Any

import serial


class DeviceEnd:
    """The link object the device's SyncService reads and writes."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire

    def readinto(self, buf: bytearray, wait_ms: int) -> int:
        q = self.wire.to_dev
        n = min(len(buf), len(q))
        buf[:n] = q[:n]
        del q[:n]
        return n

    def write(self, frame: Any) -> bool:
        w = self.wire
        if w.cut:
            return False
        w.to_host.extend(w.carry(bytes(frame)))
        return True


class Wire:
    """The cable. Plug a service in with ``Wire(service, ...)``; the service keeps its
    state when the cable is replaced (a re-plug)."""

    def __init__(
        self,
        service: Any,
        *,
        seed: int = 0,
        cut_after: int | None = None,
        flip_rate: float = 0.0,
        drop_rate: float = 0.0,
        cut_before: int | None = None,
        read_timeout: float = 0.05,
        polls_per_read: int = 4,
    ) -> None:
        self.service = service
        self.rng = random.Random(seed)
        self.cut_after = cut_after
        self.flip_rate = flip_rate
        self.drop_rate = drop_rate
        self.cut_before = cut_before
        self.read_timeout = read_timeout
        self.polls_per_read = polls_per_read
        self.crossed = 0
        self.cut = False
        self.now = 0.0
        self.to_dev = bytearray()
        self.to_host = bytearray()
        self.device = DeviceEnd(self)
        service.link = self.device

    # -- faults ----------------------------------------------------------------------
    def carry(self, data: bytes) -> bytes:
        """The bytes that come out of the cable's far end."""
        if self.cut:
            return b""
        if self.cut_after is not None and self.crossed + len(data) >= self.cut_after:
            data = data[: self.cut_after - self.crossed]
            self.cut = True
        self.crossed += len(data)
        if not (self.flip_rate or self.drop_rate):
            return data
        out = bytearray()
        rng = self.rng
        for b in data:
            if self.drop_rate and rng.random() < self.drop_rate:
                continue
            if self.flip_rate and rng.random() < self.flip_rate:
                b ^= 1 << rng.randrange(8)
            out.append(b)
        return bytes(out)

    def _check(self) -> None:
        if self.cut:
            raise serial.SerialException("device reports readiness to read but returned no data")

    def pump(self) -> None:
        for _ in range(self.polls_per_read):
            self.service.poll(None, 0)
            if self.to_host:
                break

    # -- the host end (pyserial's names) -------------------------------------------------
    @property
    def in_waiting(self) -> int:
        self._check()
        if not self.to_host:
            self.pump()
        return len(self.to_host)

    def read(self, size: int = 1) -> bytes:
        self._check()
        if not self.to_host:
            self.pump()
        if not self.to_host:
            self.now += self.read_timeout
            return b""
        out = bytes(self.to_host[:size])
        del self.to_host[:size]
        return out

    def write(self, data: bytes, /) -> int:
        self._check()
        if self.cut_before is not None and data[2:3] == bytes([self.cut_before]):
            self.cut = True  # command codes never need stuffing: byte 2 is the type
        self.to_dev.extend(self.carry(bytes(data)))
        self._check()
        return len(data)

    def reset_input_buffer(self) -> None:
        self.to_host.clear()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.pump()
