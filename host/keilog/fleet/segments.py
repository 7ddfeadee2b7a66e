"""Write log segments on the host, record for record as docs/log-format.md specifies.

The firmware's encoder (``firmware/lib/logger/record.py``) is MicroPython that writes
from preallocated buffers into files on the board; the host has only a reader. A fleet
simulation needs thousands of segments without running the firmware for every vehicle,
so this writes the same bytes from Python with ``struct`` (the struct layouts are the
reader's own, ``keilog.logformat.reader``), and the tests read every segment back with
that reader.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from keilog.logformat.reader import (
    BLOCK_SIZE,
    FORMAT_VERSION,
    GPS_MOTION,
    GPS_POS,
    GPS_TIME,
    HEADER_SIZE,
    MAGIC,
    PAYLOAD_SIZE,
    PERIOD_US,
    block_crc,
)

_HEADER = struct.Struct("<4sIIIHHI")
_CAN_STD = struct.Struct("<IH")
_GPS = struct.Struct("<IHIiiiHHHBBB")
_EVENT = struct.Struct("<IBI")
_ANCHOR = struct.Struct("<IHIHB")
_SEGMENT = struct.Struct("<BBII16s3B")
_MAX_OFFSET_US = 1 << 29  # record offsets from the block base stay below this (spec)
_US_PER_DAY = 86_400_000_000

EVENT_IGNITION_OFF = 6
ANCHOR_GPS = 1


@dataclass(frozen=True, slots=True)
class Fix:
    """A GPS epoch with position, motion and UTC time (quality 1, 8 satellites)."""

    mono_us: int
    utc_us: int
    lat: float
    lon: float
    speed_mps: float
    course_deg: float


@dataclass(frozen=True, slots=True)
class Frame:
    """An 11-bit CAN data frame."""

    mono_us: int
    arbitration_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Event:
    mono_us: int
    code: int
    value: int


@dataclass(frozen=True, slots=True)
class Anchor:
    mono_us: int
    utc_us: int
    source: int = ANCHOR_GPS


Item = Fix | Frame | Event | Anchor


def _record(item: Item, base: int) -> bytes:
    off = item.mono_us - base
    if isinstance(item, Frame):
        return bytes([0x10 | len(item.data)]) + _CAN_STD.pack(off, item.arbitration_id) + item.data
    if isinstance(item, Fix):
        day, rest = divmod(item.utc_us, _US_PER_DAY)
        return b"\x50" + _GPS.pack(
            off,
            day,
            rest // 1000,
            round(item.lat * 1e6),
            round(item.lon * 1e6),
            0,
            round(item.speed_mps * 100),
            round(item.course_deg % 360 * 100) % 36000,
            100,
            1,
            8,
            GPS_POS | GPS_MOTION | GPS_TIME,
        )
    if isinstance(item, Event):
        return b"\x60" + _EVENT.pack(off, item.code, item.value)
    day, rest = divmod(item.utc_us, _US_PER_DAY)
    return b"\x70" + _ANCHOR.pack(off, day, rest // 1000, rest % 1000, item.source)


def _block(seq: int, base: int, payload: bytes, count: int) -> bytes:
    out = bytearray(BLOCK_SIZE)
    _HEADER.pack_into(
        out, 0, MAGIC, seq, base // PERIOD_US, base % PERIOD_US, len(payload), count, 0
    )
    out[HEADER_SIZE : HEADER_SIZE + len(payload)] = payload
    struct.pack_into("<I", out, 20, block_crc(out))
    return bytes(out)


def encode_segment(
    device_id: str,
    boot: int,
    seq: int,
    start_us: int,
    items: Iterable[Item],
    firmware: tuple[int, int, int] = (0, 1, 0),
) -> bytes:
    """One segment's bytes: the header record at ``start_us``, then ``items`` in time order."""
    raw = device_id.encode("ascii")
    if len(raw) > 16:
        raise ValueError(f"device id {device_id!r} is longer than 16 bytes")
    blocks: list[bytes] = []
    base = start_us
    payload = bytearray(b"\x80" + _SEGMENT.pack(FORMAT_VERSION, 0, boot, seq, raw, *firmware))
    count = 1
    for item in items:
        if item.mono_us < base:
            raise ValueError(f"records must be in time order ({item.mono_us} < {base})")
        rec = _record(item, base) if item.mono_us - base < _MAX_OFFSET_US else b""
        if not rec or len(payload) + len(rec) > PAYLOAD_SIZE:
            blocks.append(_block(len(blocks), base, bytes(payload), count))
            base, payload, count = item.mono_us, bytearray(), 0
            rec = _record(item, base)
        payload += rec
        count += 1
    blocks.append(_block(len(blocks), base, bytes(payload), count))
    return b"".join(blocks)


def segment_name(boot: int, seq: int) -> str:
    """``BBBBSSSS.KLG``: boot and segment number, 4 upper-case hex digits each."""
    return f"{boot & 0xFFFF:04X}{seq & 0xFFFF:04X}.KLG"
