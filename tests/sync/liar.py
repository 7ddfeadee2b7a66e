"""A lying device: speaks the sync protocol correctly (the firmware's own ``syncproto``
frames) but says whatever the test wants: device ids, segment names, HELLO fields and
segment bytes no keilog firmware would send.

``Liar`` is the device's logic, fed the host's bytes and returning its replies.
``LiarLink`` is what :class:`keilog.sync.DeviceClient` needs of a pyserial port, in
memory; ``LiarOnPty`` serves the same device on a real pty from a thread, so that the
host opens it by path exactly like /dev/ttyACM0 (``keilog sync --port``).
"""

from __future__ import annotations

import hashlib
import os
import select
import struct
import threading
import tty
from dataclasses import dataclass, field
from typing import Any

from keilog.sync.proto import load


@dataclass
class Segment:
    name: bytes  # sent as is (12 bytes on the wire, zero-padded or cut)
    data: bytes
    sealed: bool = True
    hashed: bool = True
    acked: bool = False


@dataclass
class Liar:
    device_id: bytes = b"liar-unit"
    board: bytes = b"unix"
    max_data: int = 4096
    free_kib: int = 100
    total_kib: int = 200
    mono_lo: int = 0
    utc: tuple[int, int, int, int] = (0, 0, 0, 0)  # known, day, ms, us
    rotate_name: bytes = b""
    config: bytes = b""
    garble: dict[int, bytes] = field(default_factory=dict)  # command -> reply payload
    segments: list[Segment] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.p: Any = load()
        self.decoder = self.p.Decoder()

    def _entry(self, s: Segment) -> bytes:
        p = self.p
        flags = (p.F_SEALED if s.sealed else 0) | (p.F_ACKED if s.acked else 0)
        sha = hashlib.sha256(s.data).digest() if s.hashed else bytes(32)
        if s.hashed:
            flags |= p.F_HASHED
        return struct.pack(p.FMT_ENTRY, s.name, len(s.data), flags, sha)

    def _find(self, raw: bytes) -> Segment | None:
        for s in self.segments:
            if s.name[:12].ljust(12, b"\0") == raw:
                return s
        return None

    def answer(self, kind: int, seq: int, body: bytes) -> list[bytes]:
        p = self.p
        self.requests.append(kind)
        reply = kind | p.REPLY

        def one(payload: bytes) -> list[bytes]:
            return [p.encode(reply, seq, self.garble.get(kind, payload))]

        if kind in self.garble and kind == p.READ:
            return one(b"")

        if kind == p.HELLO:
            known, day, ms, us = self.utc
            return one(
                struct.pack(
                    p.FMT_HELLO,
                    p.PROTOCOL_VERSION,
                    1,
                    p.CAP_CLOCK | p.CAP_ROTATE,
                    0,
                    1,
                    0,
                    self.max_data,
                    1,
                    self.device_id,
                    self.board,
                    self.free_kib,
                    self.total_kib,
                    0,
                    self.mono_lo,
                    known,
                    day,
                    ms,
                    us,
                )
            )
        if kind == p.SET_CLOCK:
            return one(struct.pack(p.FMT_CLOCK, 0, 0, 0, 0, 0, 0))
        if kind == p.ROTATE:
            return one(struct.pack(p.FMT_NAME, self.rotate_name))
        if kind == p.LIST:
            after = body[:12]
            todo = [s for s in self.segments if not after.strip(b"\0") or s.name > after]
            return one(struct.pack(p.FMT_LIST, len(todo), 0) + b"".join(map(self._entry, todo)))
        if kind in (p.STAT, p.ACK):
            s = self._find(body[:12])
            if s is None:
                return [p.encode(p.ERROR, seq, struct.pack(p.FMT_ERROR, p.E_NOT_FOUND))]
            s.acked = s.acked or kind == p.ACK
            return one(self._entry(s))
        if kind == p.READ:
            raw, offset, length = struct.unpack_from(p.FMT_READ_REQ, body)
            s = self._find(raw)
            if s is None:
                return [p.encode(p.ERROR, seq, struct.pack(p.FMT_ERROR, p.E_NOT_FOUND))]
            end = min(offset + length, len(s.data))
            step = max(self.max_data, 1)
            out = []
            pos = offset
            while True:
                chunk = s.data[pos : min(pos + step, end)]
                head = struct.pack(p.FMT_READ, pos, len(s.data), 1)
                out.append(p.encode(reply, seq, head + chunk))
                pos += len(chunk)
                if pos >= end or not chunk:
                    return out
        if kind == p.CONFIG_GET:
            (offset,) = struct.unpack_from(p.FMT_OFFSET, body)
            piece = self.config[offset : offset + self.max_data - 4]
            return one(struct.pack(p.FMT_OFFSET, len(self.config)) + piece)
        if kind == p.COUNTERS:
            return one(b"{}")
        if kind == p.BYE:
            return one(b"")
        return [p.encode(p.ERROR, seq, struct.pack(p.FMT_ERROR, p.E_UNKNOWN))]

    def feed(self, stuffed: bytes) -> bytes:
        """The host's bytes in; the device's replies out."""
        out = []
        for kind, seq, body in self.decoder.feed(self.p.unstuff(stuffed)):
            out += self.answer(kind, seq, body)
        return b"".join(out)


class LiarLink:
    """The liar behind pyserial's names, in memory."""

    def __init__(self, liar: Liar) -> None:
        self.liar = liar
        self.out = bytearray()

    @property
    def in_waiting(self) -> int:
        return len(self.out)

    def read(self, size: int = 1) -> bytes:
        data = bytes(self.out[:size])
        del self.out[:size]
        return data

    def write(self, data: bytes, /) -> int:
        self.out += self.liar.feed(bytes(data))
        return len(data)

    def reset_input_buffer(self) -> None:
        self.out.clear()


class LiarOnPty:
    """The liar on the master side of a pty; ``path`` is the slave to open."""

    def __init__(self, liar: Liar) -> None:
        self.liar = liar
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self.stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            reply = self.liar.feed(data)
            while reply:
                reply = reply[os.write(self.master, reply) :]

    def __enter__(self) -> LiarOnPty:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        os.close(self.master)
        os.close(self.slave)
