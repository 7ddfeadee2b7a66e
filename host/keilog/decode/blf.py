"""Read Vector BLF logs in bulk: zlib containers inflated a few MB at a time, their CAN
objects parsed with numpy over the whole buffer.

Why a reader of our own: python-can's BLFReader (the reference of the format for this
module: its header layouts, flags and quirks are followed here) builds one
``can.Message`` per object in Python (~300k frames/s), which caps an import. Here the
file's log containers are read and inflated one by one, the objects of several
containers are found at once (every ``LOBJ`` signature, then the chain of object sizes
from the first one), and the fields of all CAN_MESSAGE, CAN_MESSAGE2, CAN_ERROR_EXT,
CAN_FD_MESSAGE and CAN_FD_MESSAGE_64 objects are gathered as columns. The frames are
those python-can gives, as :class:`FrameBatch` keeps them (tests compare the two on
python-can's sample logs). Timestamps are exact: ticks below 2**53 divide exactly into
the correctly rounded value python-can gets from ``Decimal``; larger ones go through
``Decimal`` too.

Damage, as with python-can's reader plus what it passes over in silence: an object that
runs past the end of the file is noted in ``short_at`` and what it holds is read; a
container of unknown compression, an object of unknown header version or too small for
its type is skipped and listed in ``problems``; a chain of objects that breaks (no
``LOBJ`` where the last object's size points) raises ``BLFParseError`` after the frames
before it.
"""

from __future__ import annotations

import struct
import zlib
from bisect import bisect_left
from collections.abc import Generator, Iterator
from decimal import Decimal
from typing import IO

import numpy as np
from can.io.blf import BLFParseError, systemtime_to_timestamp
from numpy.typing import NDArray

from keilog.decode.frames import MAX_WIDTH, FrameBatch

BULK_BYTES = 4 << 20  # inflated bytes parsed at once
_FILE_HEADER = struct.Struct("<4sLBBBBBBBBQQLL8H8H")
_OBJ_HEADER = struct.Struct("<4sHHLL")  # signature, header size, version, size, type
_CONTAINER = struct.Struct("<H6xL4x")  # compression method, inflated size
_READ_PIECE = 16 << 20  # an object is read in pieces: a damaged size never allocates GBs
_PAD = 128  # zero bytes after a buffer, so that gathers never index past it

LOG_CONTAINER = 10
CAN_MESSAGE = 1
CAN_MESSAGE2 = 86
CAN_ERROR_EXT = 73
CAN_FD_MESSAGE = 100
CAN_FD_MESSAGE_64 = 101
# Bytes after an object's header that each type's fields take (python-can's structs).
_BODY = {CAN_MESSAGE: 16, CAN_MESSAGE2: 16, CAN_ERROR_EXT: 32, CAN_FD_MESSAGE: 84,
         CAN_FD_MESSAGE_64: 40}  # fmt: skip
_BODY_BYTES = np.array([_BODY.get(k, 0) for k in range(max(_BODY) + 1)], np.int64)
_EXT = 0x80000000
_DLC_LEN = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64] + [64] * 240, np.int64)
# An object's header (python-can's base and v1/v2 headers agree on these offsets) and
# a CAN_MESSAGE's fields.
_HEAD = np.dtype({"names": ["header_size", "version", "type", "flags", "ticks"],
                  "formats": ["<u2", "<u2", "<u4", "<u4", "<u8"],
                  "offsets": [4, 6, 12, 16, 24], "itemsize": 32})  # fmt: skip
_CLASSIC = np.dtype({"names": ["flags", "dlc", "id"], "formats": ["u1", "u1", "<u4"],
                     "offsets": [2, 3, 4], "itemsize": 8})  # fmt: skip
_SIGNATURE = np.frombuffer(b"LOBJ", np.uint8)


class BlfReader:
    """The frames of one BLF stream, ``bulk_bytes`` of inflated objects at a time."""

    def __init__(self, stream: IO[bytes], bulk_bytes: int = BULK_BYTES) -> None:
        self.stream = stream
        self.bulk_bytes = bulk_bytes
        self.problems: list[str] = []  # damage passed over (python-can warns or is silent)
        self.short_at: int | None = None  # file offset of an object cut short
        self.frames = 0
        head = stream.read(_FILE_HEADER.size)
        fields = _FILE_HEADER.unpack(head)  # struct.error on a short file, as python-can
        if fields[0] != b"LOGG":
            raise BLFParseError("not a BLF file (no LOGG signature)")
        self.start_timestamp = float(systemtime_to_timestamp(fields[14:22]))
        self.offset = _FILE_HEADER.size + len(_read(stream, max(0, fields[1] - _FILE_HEADER.size)))

    def batches(self) -> Iterator[FrameBatch]:
        """Batches of frames, one per BULK_BYTES of inflated objects, in file order."""
        tail = b""
        pending: list[bytes] = []
        size = 0
        for data in self._containers():
            pending.append(data)
            size += len(data)
            if size >= self.bulk_bytes:
                tail = yield from self._parse(b"".join([tail, *pending]))
                pending, size = [], 0
        yield from self._parse(b"".join([tail, *pending]))

    def _containers(self) -> Iterator[bytes]:
        """The inflated data of each log container, in file order."""
        stream = self.stream
        while True:
            at = self.offset
            head = stream.read(_OBJ_HEADER.size)
            if not head:
                return
            signature, _, _, obj_size, obj_type = _OBJ_HEADER.unpack(head)
            if signature != b"LOBJ":
                raise BLFParseError(f"no object at byte {at} (no LOBJ signature)")
            if obj_size < _OBJ_HEADER.size:
                raise BLFParseError(f"the object at byte {at} has size {obj_size}")
            want = obj_size - _OBJ_HEADER.size
            body = _read(stream, want)
            padding = stream.read(obj_size % 4)
            self.offset += len(head) + len(body) + len(padding)
            if len(body) < want and self.short_at is None:
                self.short_at = at
            if obj_type != LOG_CONTAINER:
                continue
            method, _ = _CONTAINER.unpack_from(body)
            packed = body[_CONTAINER.size :]
            if method == 0:
                yield packed
            elif method == 2:
                yield zlib.decompressobj().decompress(packed)
            else:
                self.problems.append(
                    f"byte {at}: a container with unknown compression method {method} "
                    "skipped (its frames are not read)"
                )

    def _parse(self, data: bytes) -> Generator[FrameBatch, None, bytes]:
        """Yield the frames of the whole objects in ``data``; return the bytes left after
        them (raise after the frames when the chain of objects breaks)."""
        end = len(data)
        buf = np.frombuffer(data + bytes(_PAD), np.uint8)
        cand = np.flatnonzero(buf[: max(end - 3, 0)] == _SIGNATURE[0])
        for i in (1, 2, 3):
            cand = cand[buf[cand + i] == _SIGNATURE[i]]
        sizes = _gather(buf, cand + 8, "<u4").astype(np.int64)
        chain, rest, error = _chain(cand, sizes, end)
        where = cand[chain]
        batch = self._frames(buf, where, sizes[chain])
        self.frames += len(batch)
        if len(batch):
            yield batch
        if error is not None:
            raise BLFParseError(error)
        return data[rest:]

    def _frames(
        self, buf: NDArray[np.uint8], where: NDArray[np.int64], sizes: NDArray[np.int64]
    ) -> FrameBatch:
        """The frames of the objects at ``where`` (the rest are skipped)."""
        head = _records(buf, where, _HEAD)
        version = head["version"].astype(np.int64)
        kind = head["type"].astype(np.int64)
        header = np.where(version == 1, 32, np.where(version == 2, 40, 0))
        known = np.isin(kind, list(_BODY))
        bad_version = known & (header == 0)
        need = header + _BODY_BYTES[np.where(known, kind, 0)]
        small = known & ~bad_version & (sizes < need)
        for at in where[bad_version][:3].tolist():
            self.problems.append(f"container byte {at}: an object of unknown header version")
        for at in where[small][:3].tolist():
            self.problems.append(f"container byte {at}: an object too small for its type")
        rows = known & ~bad_version & ~small
        where, kind, sizes, header = where[rows], kind[rows], sizes[rows], header[rows]
        head = head[rows]
        n = len(where)
        body = where + header
        ticks = head["ticks"]
        ten_us = head["flags"] == 1
        timestamp = np.where(ten_us, ticks / 1e5, ticks / 1e9)
        for i in np.flatnonzero(ticks > 1 << 53).tolist():  # not exact as a double
            factor = Decimal("1e-5") if ten_us[i] else Decimal("1e-9")
            timestamp[i] = float(Decimal(int(ticks[i])) * factor)
        timestamp = timestamp + self.start_timestamp

        ident = np.zeros(n, np.int64)
        dlc = np.zeros(n, np.int64)
        remote = np.zeros(n, np.bool_)
        fd_flags = np.zeros(n, np.int64)  # python-can's is_fd 1, brs 2, esi 4
        width = 8
        starts = np.zeros(n, np.int64)  # where each frame's data begins
        lengths = np.zeros(n, np.int64)  # data bytes in the object
        classic = (kind == CAN_MESSAGE) | (kind == CAN_MESSAGE2)
        error = kind == CAN_ERROR_EXT
        fd = kind == CAN_FD_MESSAGE
        fd64 = kind == CAN_FD_MESSAGE_64

        b = body[classic]
        fields = _records(buf, b, _CLASSIC)
        ident[classic] = fields["id"]
        raw_dlc = fields["dlc"].astype(np.int64)
        remote[classic] = (fields["flags"] & 0x80) != 0
        dlc[classic] = np.where(remote[classic], np.minimum(raw_dlc, 64), np.minimum(raw_dlc, 8))
        starts[classic], lengths[classic] = b + 8, np.minimum(raw_dlc, 8)

        b = body[error]
        ident[error] = _gather(buf, b + 16, "<u4")
        dlc[error] = lengths[error] = np.minimum(buf[b + 10], 8)
        starts[error] = b + 24

        b = body[fd]
        ident[fd] = _gather(buf, b + 4, "<u4")
        remote[fd] = (buf[b + 2] & 0x80) != 0
        fd_flags[fd] = buf[b + 13] & 7
        valid = np.minimum(buf[b + 14].astype(np.int64), 64)
        dlc[fd] = np.where(remote[fd], _DLC_LEN[buf[b + 3]], valid)
        starts[fd], lengths[fd] = b + 20, valid

        b = body[fd64]
        ident[fd64] = _gather(buf, b + 4, "<u4")
        flags = _gather(buf, b + 12, "<u4").astype(np.int64)
        remote[fd64] = (flags & 0x10) != 0
        fd_flags[fd64] = (flags >> 12) & 7
        valid = buf[b + 2].astype(np.int64)
        if np.any(~remote[fd64] & (valid > MAX_WIDTH)):
            raise ValueError(f"a frame carries more than {MAX_WIDTH} data bytes (CAN FD's most)")
        ext_offset = buf[b + 35].astype(np.int64)
        own = np.where(ext_offset > 0, ext_offset, sizes[fd64])
        own = own - head["header_size"][fd64].astype(np.int64) - 40
        stored = np.clip(np.minimum(valid, own), 0, None)  # issue 1905: zero-padded
        dlc[fd64] = np.where(remote[fd64], _DLC_LEN[buf[b + 1]], valid)
        starts[fd64] = b + 40
        lengths[fd64] = np.minimum(stored, len(buf) - _PAD - (b + 40)).clip(0)

        lengths[remote] = 0
        if n and int(dlc.max()) > 8:
            width = MAX_WIDTH
        columns = np.arange(width)
        data = buf[np.minimum(starts[:, None] + columns, len(buf) - 1)]
        data[columns >= lengths[:, None]] = 0

        def flag(values: NDArray[np.bool_]) -> NDArray[np.bool_] | None:
            return values if values.any() else None

        return FrameBatch(
            timestamp=timestamp,
            arbitration_id=(ident & 0x1FFFFFFF).astype(np.uint32),
            is_extended=(ident & _EXT) != 0,
            dlc=dlc.astype(np.uint8),
            data=data,
            is_remote=flag(remote),
            is_error=flag(error),
            is_fd=flag((fd_flags & 1) != 0),
            bitrate_switch=flag((fd_flags & 2) != 0),
            error_state_indicator=flag((fd_flags & 4) != 0),
        )


def _records(buf: NDArray[np.uint8], at: NDArray[np.int64], dtype: np.dtype) -> NDArray:
    """Records of the structured ``dtype`` at byte offsets ``at`` of ``buf``."""
    rows = buf[at[:, None] + np.arange(dtype.itemsize)]
    return np.ascontiguousarray(rows).view(dtype).ravel()


def _gather(buf: NDArray[np.uint8], at: NDArray[np.int64], dtype: str) -> NDArray[np.generic]:
    """Little-endian numbers of ``dtype`` at byte offsets ``at`` of ``buf``."""
    width = np.dtype(dtype).itemsize
    return np.ascontiguousarray(buf[at[:, None] + np.arange(width)]).view(dtype).ravel()


def _chain(
    cand: NDArray[np.int64], sizes: NDArray[np.int64], end: int
) -> tuple[NDArray[np.int64], int, str | None]:
    """Which ``LOBJ`` candidates are objects: from byte 0, each object's size leads to
    the next, found within 4 bytes of padding (python-can's rule); a signature inside a
    frame's data is passed over. Returns their indexes, where the unread rest begins
    and, when the chain breaks, why."""
    m = len(cand)
    nxt = cand + sizes
    # The common case checked at once: every candidate is the object the one before it
    # points to, from the first (within 4 bytes of byte 0) to the one before the last.
    if m >= 2 and cand[0] <= 4 and np.all(sizes[:-1] >= 16):
        link = (nxt[:-1] <= cand[1:]) & (cand[1:] <= nxt[:-1] + 4)
        if link.all():
            chain, pos, error = _walk(cand[-1:], sizes[-1:], end, int(nxt[-2]))
            last = np.array(chain, np.int64) + m - 1
            return np.concatenate([np.arange(m - 1), last]).astype(np.int64), pos, error
    chain, pos, error = _walk(cand, sizes, end, 0)
    return np.array(chain, np.int64), pos, error


def _walk(
    cand: NDArray[np.int64], sizes: NDArray[np.int64], end: int, pos: int
) -> tuple[list[int], int, str | None]:
    """_chain's rule object by object, from byte ``pos`` on."""
    places = cand.tolist()
    lengths = sizes.tolist()
    chain: list[int] = []
    k = bisect_left(places, pos)
    while True:
        if k >= len(places) or places[k] > pos + 4:
            if pos + 8 > end:
                return chain, pos, None  # the rest may begin an object of the next container
            return chain, pos, f"no object where the one before it ends (byte {pos})"
        at = places[k]
        if at + 16 > end or at + lengths[k] > end:
            return chain, pos, None  # this object continues in the next container
        if lengths[k] < 16:
            return chain, pos, f"the object at byte {at} has size {lengths[k]}"
        chain.append(k)
        pos = at + lengths[k]
        k = bisect_left(places, pos, k + 1)


def _read(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes (fewer at the end of the file), read in bounded pieces."""
    parts = []
    while size > 0:
        part = stream.read(min(size, _READ_PIECE))
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return b"".join(parts)
