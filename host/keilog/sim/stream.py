"""The firmware's CAN input on the unix port: 16-byte Linux SocketCAN frames.

Each frame is ``struct can_frame`` of ``<linux/can.h>`` in little-endian byte order:
``u32 can_id`` (11- or 29-bit id plus the flags CAN_EFF_FLAG 0x80000000, CAN_RTR_FLAG
0x40000000, CAN_ERR_FLAG 0x20000000), ``u8 len`` (DLC), three bytes of padding and eight
data bytes: ``struct.pack("<IB3x8s", ...)``. The firmware stamps each frame on receipt,
so the stream carries no time; pace the writes to give it realistic timing.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import BinaryIO

import can

from keilog.errors import LogFormatError
from keilog.unixport.firmware import (
    CAN_EFF_FLAG,
    CAN_ERR_FLAG,
    CAN_FRAME,
    CAN_RTR_FLAG,
    pack_can_frame,
)

FRAME = CAN_FRAME
FRAME_SIZE = FRAME.size  # 16
CAN_SFF_MASK = 0x000007FF
CAN_EFF_MASK = 0x1FFFFFFF


def pack(msg: can.Message) -> bytes:
    """One python-can message as a 16-byte SocketCAN frame (classic CAN only)."""
    if msg.is_fd or msg.dlc > 8:
        raise ValueError(f"frame 0x{msg.arbitration_id:X}: CAN FD frames do not fit can_frame")
    return pack_can_frame(
        msg.arbitration_id,
        bytes(msg.data),
        msg.is_extended_id,
        msg.is_remote_frame,
        msg.is_error_frame,
        msg.dlc,
    )


def unpack(frame: bytes, offset: int = 0, where: str = "stream") -> can.Message:
    """A python-can message from 16 bytes at ``offset`` of ``frame``."""
    if len(frame) - offset < FRAME_SIZE:
        raise LogFormatError(
            f"{where}: byte {offset}: {len(frame) - offset} bytes left, a frame needs 16"
        )
    can_id, dlc, data = FRAME.unpack_from(frame, offset)
    if dlc > 8:
        raise LogFormatError(f"{where}: byte {offset}: DLC {dlc} is above 8")
    extended = bool(can_id & CAN_EFF_FLAG)
    return can.Message(
        arbitration_id=can_id & (CAN_EFF_MASK if extended else CAN_SFF_MASK),
        is_extended_id=extended,
        is_remote_frame=bool(can_id & CAN_RTR_FLAG),
        is_error_frame=bool(can_id & CAN_ERR_FLAG),
        dlc=dlc,
        data=b"" if can_id & CAN_RTR_FLAG else data[:dlc],
    )


def unpack_all(blob: bytes, where: str = "stream") -> list[can.Message]:
    """Every frame of a stream; a torn frame at the end is an error naming its offset."""
    return [unpack(blob, off, where) for off in range(0, len(blob), FRAME_SIZE)]


class StreamWriter:
    """Writes frames to a file, a FIFO, or a listening unix stream socket.

    A FIFO blocks on open until its reader (the firmware) opens it; a regular file is
    created or truncated.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.frames = 0
        self._sock: socket.socket | None = None
        self._file: BinaryIO | None = None
        mode = os.stat(self.path).st_mode if self.path.exists() else 0
        if stat.S_ISSOCK(mode):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(str(self.path))
            self._sock = sock
        elif stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
            # unbuffered so that a paced run delivers each frame when it is due
            self._file = open(self.path, "wb", buffering=0)  # noqa: SIM115
        else:
            self._file = open(self.path, "wb")  # noqa: SIM115

    def write(self, msg: can.Message) -> None:
        data = pack(msg)
        if self._sock is not None:
            self._sock.sendall(data)
        elif self._file is not None:
            self._file.write(data)
        self.frames += 1

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> StreamWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
