"""Read keilog log segments (format v1, docs/log-format.md).

The mirror of the firmware's encoder (firmware/lib/logger/record.py). The reader is
sans-I/O at its core: :func:`parse` takes the bytes of a whole or partial segment and
returns every record of every intact block plus a list of the damage it found. It
never raises on bad bytes: a torn write, a truncated file or flipped bits cost the
blocks they touch and are reported, every other block is still read.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from keilog.errors import LogFormatError
from keilog.logformat.clock import build_clock

FORMAT_VERSION = 1
BLOCK_SIZE = 512
HEADER_SIZE = 24
PAYLOAD_SIZE = BLOCK_SIZE - HEADER_SIZE
MAGIC = b"KLB1"
PERIOD_US = 1 << 30
_US_PER_DAY = 86_400_000_000

_HEADER = struct.Struct("<4sIIIHHI")
_CAN_STD = struct.Struct("<IH")
_CAN_EXT = struct.Struct("<II")
_CAN_RTR = struct.Struct("<IIB")
_GPS = struct.Struct("<IHIiiiHHHBBB")
_EVENT = struct.Struct("<IBI")
_ANCHOR = struct.Struct("<IHIHB")
_SEGMENT = struct.Struct("<BBII16s3B")
_INPUT = struct.Struct("<IH8s")

T_CAN_STD, T_CAN_EXT, T_CAN_RTR, T_CAN_ERR = 0x1, 0x2, 0x3, 0x4
T_GPS, T_EVENT, T_ANCHOR, T_SEGMENT = 0x5, 0x6, 0x7, 0x8
T_EXTENSION = 0xF
TAG_INPUT = 0xF1
"""Extension tag of an input record (pulse, analog and switch inputs)."""
INPUT_LENGTH = _INPUT.size

EVENT_NAMES = {
    1: "boot",
    2: "clock_set",
    3: "overrun",
    4: "bus_state",
    5: "ignition_on",
    6: "ignition_off",
    7: "frames",
    8: "config_error",
    9: "dropped",
    10: "flush_ms_max",
    11: "bytes_written",
    12: "gps_fix_lost",
    13: "storage_full",
    14: "shutdown",
    15: "bitrate",
    16: "autobaud",
    17: "recovered",
    18: "segment_deleted",
    19: "storage_error",
}
ANCHOR_SOURCES = {1: "gps", 2: "host", 3: "rtc", 4: "system"}

GPS_POS, GPS_ALT, GPS_MOTION, GPS_HDOP, GPS_TIME = 1, 2, 4, 8, 16


@dataclass(frozen=True, slots=True)
class CanFrame:
    mono_us: int
    arbitration_id: int
    is_extended_id: bool
    is_remote_frame: bool
    is_error_frame: bool
    dlc: int
    data: bytes
    timestamp: float | None = None  # UTC seconds, once clock anchors are applied


@dataclass(frozen=True, slots=True)
class GpsFix:
    mono_us: int
    utc_us: int | None  # the receiver's own UTC time, if it had one
    lat: float | None
    lon: float | None
    alt_m: float | None
    speed_mps: float | None
    course_deg: float | None
    hdop: float | None
    quality: int
    satellites: int
    timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class Event:
    mono_us: int
    code: int
    value: int
    timestamp: float | None = None

    @property
    def kind(self) -> str:
        return EVENT_NAMES.get(self.code, f"event_{self.code}")


@dataclass(frozen=True, slots=True)
class ClockAnchor:
    mono_us: int
    utc_us: int
    source: str
    timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    mono_us: int
    version: int
    flags: int
    boot: int
    seq: int
    device_id: str
    firmware: tuple[int, int, int]
    timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class InputFrame:
    """A sample of the logger's own inputs (VSS, tach, analog, switches): an 11-bit
    message id of ``dbc/keilog_inputs.dbc`` and 8 data bytes, like a CAN frame."""

    mono_us: int
    message_id: int
    data: bytes
    timestamp: float | None = None


Record = CanFrame | GpsFix | Event | ClockAnchor | SegmentHeader | InputFrame


@dataclass(frozen=True, slots=True)
class Damage:
    """A part of a segment that could not be read, and why."""

    block: int
    offset: int
    reason: str

    def __str__(self) -> str:
        return f"block {self.block} (byte {self.offset}): {self.reason}"


@dataclass
class Segment:
    """Everything read from one segment."""

    header: SegmentHeader | None
    records: list[Record] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)
    blocks: int = 0
    name: str = ""

    @property
    def frames(self) -> list[CanFrame]:
        return [r for r in self.records if isinstance(r, CanFrame)]

    @property
    def anchors(self) -> list[ClockAnchor]:
        return [r for r in self.records if isinstance(r, ClockAnchor)]


def block_crc(block: bytes | bytearray | memoryview) -> int:
    """CRC-32 (zlib) of a block with its CRC field (bytes 20..23) read as zero."""
    crc = zlib.crc32(block[:20])
    crc = zlib.crc32(b"\0\0\0\0", crc)
    return zlib.crc32(block[24:BLOCK_SIZE], crc) & 0xFFFFFFFF


def _parse_payload(
    payload: memoryview, base: int, index: int, offset: int, out: list[Record]
) -> Damage | None:
    """Append the records of one payload to out; return the damage that stopped it."""
    p = 0
    n = len(payload)
    while p < n:
        tag = payload[p]
        kind, low = tag >> 4, tag & 0xF
        body = p + 1
        try:
            if kind in (T_CAN_STD, T_CAN_EXT, T_CAN_ERR):
                if low > 8:
                    return Damage(index, offset + HEADER_SIZE + p, f"CAN record with DLC {low}")
                if kind == T_CAN_STD:
                    off, raw_id = _CAN_STD.unpack_from(payload, body)
                    head = 6
                    ext = False
                    can_id = raw_id & 0x7FF
                else:
                    off, can_id = _CAN_EXT.unpack_from(payload, body)
                    head = 8
                    ext = kind == T_CAN_EXT  # error frames carry a class, not an id
                end = body + head + low
                if end > n:
                    raise struct.error("record runs past the payload")
                out.append(
                    CanFrame(
                        base + off,
                        can_id,
                        ext,
                        False,
                        kind == T_CAN_ERR,
                        low,
                        bytes(payload[body + head : end]),
                    )
                )
                p = end
            elif kind == T_CAN_RTR:
                if low > 8:
                    return Damage(index, offset + HEADER_SIZE + p, f"RTR record with DLC {low}")
                off, can_id, rflags = _CAN_RTR.unpack_from(payload, body)
                out.append(CanFrame(base + off, can_id, bool(rflags & 1), True, False, low, b""))
                p = body + _CAN_RTR.size
            elif kind == T_GPS and low == 0:
                out.append(_gps(base, _GPS.unpack_from(payload, body)))
                p = body + _GPS.size
            elif kind == T_EVENT and low == 0:
                off, code, value = _EVENT.unpack_from(payload, body)
                out.append(Event(base + off, code, value))
                p = body + _EVENT.size
            elif kind == T_ANCHOR and low == 0:
                off, day, tod_ms, us, src = _ANCHOR.unpack_from(payload, body)
                utc_us = day * _US_PER_DAY + tod_ms * 1000 + us
                out.append(ClockAnchor(base + off, utc_us, ANCHOR_SOURCES.get(src, f"src{src}")))
                p = body + _ANCHOR.size
            elif kind == T_SEGMENT and low == 0:
                ver, flags, boot, seq, dev, a, b, c = _SEGMENT.unpack_from(payload, body)
                device = dev.rstrip(b"\0").decode("ascii", "replace")
                out.append(SegmentHeader(base, ver, flags, boot, seq, device, (a, b, c)))
                p = body + _SEGMENT.size
            elif kind == T_EXTENSION:
                length = payload[body]
                if body + 1 + length > n:
                    raise struct.error("extension record runs past the payload")
                if tag == TAG_INPUT and length == INPUT_LENGTH:
                    off, mid, data = _INPUT.unpack_from(payload, body + 1)
                    out.append(InputFrame(base + off, mid & 0x7FF, data))
                p = body + 1 + length
            else:
                return Damage(index, offset + HEADER_SIZE + p, f"unknown record tag 0x{tag:02X}")
        except (struct.error, IndexError):
            return Damage(index, offset + HEADER_SIZE + p, f"truncated record (tag 0x{tag:02X})")
    return None


def _gps(base: int, v: tuple[int, ...]) -> GpsFix:
    off, day, tod_ms, lat, lon, alt_dm, speed, course, hdop, quality, sats, valid = v
    pos = bool(valid & GPS_POS)
    motion = bool(valid & GPS_MOTION)
    return GpsFix(
        mono_us=base + off,
        utc_us=day * _US_PER_DAY + tod_ms * 1000 if valid & GPS_TIME else None,
        lat=lat / 1e6 if pos else None,
        lon=lon / 1e6 if pos else None,
        alt_m=alt_dm / 10 if valid & GPS_ALT else None,
        speed_mps=speed / 100 if motion else None,
        course_deg=course / 100 if motion else None,
        hdop=hdop / 100 if valid & GPS_HDOP else None,
        quality=quality,
        satellites=sats,
    )


def parse(data: bytes | bytearray | memoryview) -> Segment:
    """Read every intact block of a segment's bytes. Never raises on bad bytes."""
    view = memoryview(data)
    seg = Segment(header=None)
    records = seg.records
    nblocks, tail = divmod(len(view), BLOCK_SIZE)
    for index in range(nblocks):
        offset = index * BLOCK_SIZE
        block = view[offset : offset + BLOCK_SIZE]
        magic, seq, base_hi, base_lo, used, count, crc = _HEADER.unpack_from(block)
        if magic != MAGIC:
            if block.tobytes() == bytes(BLOCK_SIZE):
                seg.damage.append(Damage(index, offset, "empty (all-zero) block"))
            else:
                seg.damage.append(Damage(index, offset, "bad magic: not a keilog v1 block"))
            continue
        if block_crc(block) != crc:
            seg.damage.append(Damage(index, offset, "CRC mismatch (torn write or bit flip)"))
            continue
        if used > PAYLOAD_SIZE or base_lo >= PERIOD_US:
            seg.damage.append(Damage(index, offset, "header values out of range"))
            continue
        if seq != index:
            seg.damage.append(Damage(index, offset, f"block sequence {seq}, expected {index}"))
        seg.blocks += 1
        before = len(records)
        base = base_hi * PERIOD_US + base_lo
        stop = _parse_payload(block[HEADER_SIZE : HEADER_SIZE + used], base, index, offset, records)
        if stop is not None:
            seg.damage.append(stop)
        elif len(records) - before != count:
            seg.damage.append(
                Damage(index, offset, f"{len(records) - before} records, header says {count}")
            )
    if tail:
        seg.damage.append(
            Damage(nblocks, nblocks * BLOCK_SIZE, f"truncated: {tail} trailing bytes of a block")
        )
    for r in records:
        if isinstance(r, SegmentHeader):
            seg.header = r
            break
    if seg.header is None and seg.blocks:
        seg.damage.append(Damage(0, 0, "no segment header record"))
    return seg


def clock_points(records: list[Record], anchors: list[ClockAnchor]) -> list[tuple[int, int, str]]:
    """The (mono_us, utc_us, source) reference points: anchors and timed GPS fixes."""
    points = [(a.mono_us, a.utc_us, a.source) for a in anchors]
    points += [
        (r.mono_us, r.utc_us, "gps")
        for r in records
        if isinstance(r, GpsFix) and r.utc_us is not None and r.quality > 0
    ]
    return points


def apply_clock(records: list[Record], anchors: list[ClockAnchor]) -> list[Record]:
    """Give every record a UTC ``timestamp`` (see keilog.logformat.clock for how).

    The reference points are the clock anchors given (those of the record's boot) and
    the GPS fixes among the records. With none, the timestamps stay None.
    """
    clock = build_clock(clock_points(records, anchors))
    if not clock.known:
        return records
    utc = clock.utc([r.mono_us for r in records])
    return [replace(r, timestamp=float(t)) for r, t in zip(records, utc, strict=True)]


def read_segment(path: str | Path) -> Segment:
    """Read a segment file; raises LogFormatError only when the file cannot be opened."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise LogFormatError(f"{p}: cannot read the segment: {exc.strerror}") from exc
    seg = parse(data)
    seg.name = p.name
    return seg


def iter_frames(seg: Segment) -> Iterator[CanFrame]:
    """The CAN frames of a segment, with UTC timestamps where anchors allow."""
    for r in apply_clock(seg.records, seg.anchors):
        if isinstance(r, CanFrame):
            yield r
