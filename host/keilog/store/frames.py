"""Raw CAN frames in the database: packed blocks, and the one reader every consumer uses.

Raw frames are most of a database's rows, and a row per frame costs ~40 bytes in SQLite
(cell, record header, rowid, a BLOB of the payload). Schema 3 stores them as blocks in
``frame_blocks`` (docs/database.md): each block holds the frames of **one identifier**
of one segment (at most :data:`BLOCK_FRAMES` frames spanning at most
:data:`BLOCK_SPAN_S` seconds), as zlib-compressed columns, with its identifier, its
frame numbers and its time span in plain columns. So

- "frames of id X between t1 and t2" is one indexed query on
  ``frame_blocks (arbitration_id, t_start)``: a block starts at most BLOCK_SPAN_S
  before any of its frames, so the blocks that can hold a frame of the window are those
  with ``t_start between t1 - BLOCK_SPAN_S and t2``;
- every frame still has its number (``frames.id`` of schema 2): decoded ``msg_`` rows
  point at it, and a segment's frames are the numbers ``segments.first_frame`` ..
  ``first_frame + frames - 1``.

A block's bytes (``data``): a little-endian header (format version, frame count, payload
width) and then, zlib-compressed, these columns of ``n`` values each: frame number minus
``first_frame`` (uint32), ``mono_us`` as differences (int64; absent when the frames have
none), the timestamp's IEEE-754 bits as differences (int64: exact, NaN included, and
small between close times), dlc (uint8), flags (uint8: remote, error, fd, bitrate switch,
error state indicator), then the payload byte by byte (``width`` planes of ``n`` bytes).
Differences and byte planes are what make a slow-changing signal compress (no library
packs CAN frames like this; numpy does the work, zlib the compression).
"""

from __future__ import annotations

import sqlite3
import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from keilog.decode import FrameBatch
from keilog.errors import StoreError

BLOCK_FRAMES = 4096
BLOCK_SPAN_S = 60.0
CHUNK_FRAMES = 32_768  # frames per chunk a reader yields (memory stays flat)
_VERSION = 1
_HEAD = struct.Struct("<BIHB")  # version, frames, payload width, has mono_us
_FLAGS = ("is_remote", "is_error", "is_fd", "bitrate_switch", "error_state_indicator")
_LEVEL = 1  # zlib level: 9 saves 10 % of the blocks' bytes at 20 times the time (measured)


@dataclass(eq=False)
class StoredFrames:
    """Frames read from the database, in frame-number order, as columns."""

    frame_id: NDArray[np.int64]
    segment: NDArray[np.int64]
    mono_us: NDArray[np.int64]  # 0 where has_mono is False
    has_mono: NDArray[np.bool_]
    batch: FrameBatch  # timestamp NaN where the frame has no UTC time

    def __len__(self) -> int:
        return len(self.frame_id)

    def take(self, rows: Any) -> StoredFrames:
        return StoredFrames(
            self.frame_id[rows],
            self.segment[rows],
            self.mono_us[rows],
            self.has_mono[rows],
            self.batch.take(rows),
        )


def write_frames(
    conn: sqlite3.Connection,
    first_id: int,
    segment: int,
    batch: FrameBatch,
    mono_us: NDArray[np.int64] | None,
) -> int:
    """Store a batch of frames (numbers first_id .. first_id + len - 1) as blocks of
    one identifier each; returns the number of blocks written."""
    n = len(batch)
    if not n:
        return 0
    key = batch.arbitration_id.astype(np.int64) | (batch.is_extended.astype(np.int64) << 32)
    order = np.argsort(key, kind="stable")  # frames of one id together, in frame order
    sorted_key = key[order]
    cuts = np.flatnonzero(np.diff(sorted_key)) + 1
    rows: list[tuple[Any, ...]] = []
    for group in np.split(order, cuts):
        for block in _blocks(group, batch.timestamp):
            rows.append(_block_row(first_id, segment, batch, mono_us, block))
    conn.executemany(
        "insert into frame_blocks (segment, arbitration_id, is_extended, first_frame, "
        "last_frame, frames, t_start, t_end, data) values (?,?,?,?,?,?,?,?,?)",
        rows,
    )
    return len(rows)


def _blocks(group: NDArray[np.int64], timestamp: NDArray[np.float64]) -> Iterator[NDArray[Any]]:
    """Cut one identifier's rows into blocks of at most BLOCK_FRAMES frames whose
    timestamps lie within BLOCK_SPAN_S of each other (NaN timestamps are ignored)."""
    start = 0
    while start < len(group):
        part = group[start : start + BLOCK_FRAMES]
        ts = timestamp[part]
        with np.errstate(invalid="ignore"):
            spread = np.fmax.accumulate(ts) - np.fmin.accumulate(ts)
            over = np.flatnonzero(spread > BLOCK_SPAN_S)
        end = int(over[0]) if len(over) else len(part)
        yield part[:end]
        start += end


def _block_row(
    first_id: int,
    segment: int,
    batch: FrameBatch,
    mono_us: NDArray[np.int64] | None,
    rows: NDArray[np.int64],
) -> tuple[Any, ...]:
    n = len(rows)
    ts = batch.timestamp[rows]
    dlc = batch.dlc[rows]
    width = int(dlc.max()) if n else 0
    flags = np.zeros(n, np.uint8)
    for bit, name in enumerate(_FLAGS):
        value = getattr(batch, name)
        if value is not None:
            flags |= value[rows].astype(np.uint8) << bit
    if batch.is_remote is not None:
        width = int(np.where(batch.is_remote[rows], 0, dlc).max())
    parts = [(rows - rows[0]).astype(np.uint32).tobytes()]
    if mono_us is not None:
        parts.append(np.diff(mono_us[rows], prepend=0).tobytes())
    parts += [
        np.diff(ts.view(np.int64), prepend=0).tobytes(),
        dlc.tobytes(),
        flags.tobytes(),
        np.ascontiguousarray(batch.data[rows, :width].T).tobytes(),
    ]
    blob = _HEAD.pack(_VERSION, n, width, mono_us is not None) + zlib.compress(
        b"".join(parts), _LEVEL
    )
    finite = ts[np.isfinite(ts)]
    return (
        segment,
        int(batch.arbitration_id[rows[0]]),
        int(batch.is_extended[rows[0]]),
        first_id + int(rows[0]),
        first_id + int(rows[-1]),
        n,
        float(finite.min()) if len(finite) else None,
        float(finite.max()) if len(finite) else None,
        blob,
    )


def _unpack(
    segment: int, arbitration_id: int, is_extended: int, first_frame: int, blob: bytes
) -> StoredFrames:
    try:
        version, n, width, has_mono = _HEAD.unpack_from(blob)
        if version != _VERSION:
            raise ValueError(f"block format {version}, this keilog reads {_VERSION}")
        raw = zlib.decompress(blob[_HEAD.size :])
        at = 0

        def column(dtype: Any, count: int) -> NDArray[Any]:
            nonlocal at
            size = np.dtype(dtype).itemsize * count
            out = np.frombuffer(raw, dtype, count, at)
            at += size
            return out

        fid = column(np.uint32, n).astype(np.int64) + first_frame
        mono = np.cumsum(column(np.int64, n)) if has_mono else np.zeros(n, np.int64)
        ts = np.cumsum(column(np.int64, n)).view(np.float64)
        dlc = column(np.uint8, n)
        flags = column(np.uint8, n)
        payload = column(np.uint8, n * width).reshape(width, n).T
        if at != len(raw):
            raise ValueError(f"{len(raw) - at} bytes left over")
    except (ValueError, zlib.error, struct.error) as exc:
        raise StoreError(
            f"frame block of segment {segment} (frames from {first_frame}) is damaged: "
            f"{exc}; re-import its segment into a new database"
        ) from exc
    wide = max(width, int(dlc.max()) if n else 0)  # a remote frame's dlc may exceed its data
    data = np.zeros((n, max(8, -(-wide // 8) * 8)), np.uint8)
    data[:, :width] = payload
    bits = {name: (flags >> bit & 1).astype(np.bool_) for bit, name in enumerate(_FLAGS)}
    batch = FrameBatch(
        timestamp=ts,
        arbitration_id=np.full(n, arbitration_id, np.uint32),
        is_extended=np.full(n, bool(is_extended)),
        dlc=dlc.copy(),
        data=data,
        **bits,
    )
    return StoredFrames(fid, np.full(n, segment, np.int64), mono, np.full(n, bool(has_mono)), batch)


def _concat(parts: Sequence[StoredFrames]) -> StoredFrames:
    width = max(p.batch.data.shape[1] for p in parts)
    data = np.zeros((sum(len(p) for p in parts), width), np.uint8)
    at = 0
    for p in parts:
        data[at : at + len(p), : p.batch.data.shape[1]] = p.batch.data
        at += len(p)

    def cat(name: str) -> NDArray[Any]:
        return np.concatenate([getattr(p.batch, name) for p in parts])

    batch = FrameBatch(
        timestamp=cat("timestamp"),
        arbitration_id=cat("arbitration_id"),
        is_extended=cat("is_extended"),
        dlc=cat("dlc"),
        data=data,
        **{name: cat(name) for name in _FLAGS},
    )
    out = StoredFrames(
        np.concatenate([p.frame_id for p in parts]),
        np.concatenate([p.segment for p in parts]),
        np.concatenate([p.mono_us for p in parts]),
        np.concatenate([p.has_mono for p in parts]),
        batch,
    )
    return out.take(np.argsort(out.frame_id, kind="stable"))


@dataclass(frozen=True)
class FrameQuery:
    """Which raw frames to read; every condition is optional (None: any).

    frames: frame numbers (inclusive ranges); segments: segment ids; arbitration_ids:
    identifiers (standard and extended alike); start/end: UTC seconds (frames without a
    UTC time are then left out); mono: logger microseconds (inclusive; frames without
    them are then left out)."""

    frames: Sequence[tuple[int, int]] | None = None
    segments: Sequence[int] | None = None
    arbitration_ids: Sequence[int] | None = None
    start: float | None = None
    end: float | None = None
    mono: tuple[int, int] | None = None


SKIP_IDS_SQL = (
    "with recursive skip_ids(arb) as (select (select min(arbitration_id) from frame_blocks) "
    "union all select (select min(b.arbitration_id) from frame_blocks b "
    "where b.arbitration_id > skip_ids.arb) from skip_ids where skip_ids.arb is not null) "
)
"""The identifiers of ``frame_blocks``, one index seek each (SQLite's skip-scan by hand:
it skips by itself only after ANALYZE)."""


def block_sql(query: FrameQuery) -> tuple[str, list[Any]]:
    """The one query on ``frame_blocks`` that finds the blocks a FrameQuery needs."""
    where: list[str] = []
    args: list[Any] = []
    prefix = ""
    if query.arbitration_ids is not None:
        where.append(f"arbitration_id in ({','.join('?' * len(query.arbitration_ids))})")
        args += list(query.arbitration_ids)
    elif query.start is not None or query.end is not None:
        # A window of every identifier: the same index, one range per identifier, its
        # identifiers found by skipping through the index (a seek each). Measured on
        # 10 M frames: 0.05 ms, against 4 ms for a scan of frame_blocks; an index on
        # t_start alone took 0.03 ms and cost 17 bytes a block (bench/store.py).
        prefix = SKIP_IDS_SQL
        where.append("arbitration_id in (select arb from skip_ids)")
    if query.start is not None or query.end is not None:
        if query.start is not None:
            # A block starts at most BLOCK_SPAN_S before any of its frames: a range
            # on t_start, which the index on (arbitration_id, t_start) serves.
            where.append("t_start >= ? and t_end >= ?")
            args += [query.start - BLOCK_SPAN_S, query.start]
        if query.end is not None:
            where.append("t_start <= ?")
            args.append(query.end)
    if query.segments is not None:
        where.append(f"segment in ({','.join('?' * len(query.segments))})")
        args += list(query.segments)
    if query.frames is not None:
        where.append(
            "(" + " or ".join("(last_frame >= ? and first_frame <= ?)" for _ in query.frames) + ")"
            if query.frames
            else "0"
        )
        args += [v for lo, hi in query.frames for v in (lo, hi)]
    clause = " where " + " and ".join(where) if where else ""
    sql = (
        f"{prefix}select segment, arbitration_id, is_extended, first_frame, last_frame, data "
        f"from frame_blocks{clause} order by first_frame"
    )
    return sql, args


def read_frames(
    conn: sqlite3.Connection, query: FrameQuery = FrameQuery(), chunk: int = CHUNK_FRAMES
) -> Iterator[StoredFrames]:
    """The frames a query selects, in frame-number order, about ``chunk`` at a time.

    Blocks are read in order of their first frame and merged once no later block can
    hold an earlier frame, so memory stays bounded by the blocks of one import chunk."""
    sql, args = block_sql(query)
    pending: list[StoredFrames] = []
    reach = -1  # the highest frame number the pending blocks hold
    count = 0
    for segment, arb, ext, first, last, blob in conn.execute(sql, args):
        if pending and first > reach and count >= chunk:
            yield from _emit(pending, query)
            pending, count = [], 0
        pending.append(_unpack(segment, arb, ext, first, blob))
        reach = max(reach, last)
        count += len(pending[-1])
    if pending:
        yield from _emit(pending, query)


def _emit(parts: list[StoredFrames], query: FrameQuery) -> Iterator[StoredFrames]:
    frames = _concat(parts)
    keep = np.ones(len(frames), np.bool_)
    if query.frames is not None:
        inside = np.zeros(len(frames), np.bool_)
        for lo, hi in query.frames:
            inside |= (frames.frame_id >= lo) & (frames.frame_id <= hi)
        keep &= inside
    ts = frames.batch.timestamp
    with np.errstate(invalid="ignore"):
        if query.start is not None:
            keep &= ts >= query.start
        if query.end is not None:
            keep &= ts <= query.end
    if query.mono is not None:
        lo, hi = query.mono
        keep &= frames.has_mono & (frames.mono_us >= lo) & (frames.mono_us <= hi)
    if query.arbitration_ids is not None:
        keep &= np.isin(frames.batch.arbitration_id, np.asarray(query.arbitration_ids))
    if not keep.all():
        frames = frames.take(np.flatnonzero(keep))
    if len(frames):
        yield frames


def frame_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("select coalesce(sum(frames), 0) from frame_blocks").fetchone()[0])


def frame_rows(frames: StoredFrames) -> Iterable[tuple[Any, ...]]:
    """Rows like schema 2's ``frames`` table (id, segment, mono_us, timestamp,
    arbitration_id, is_extended, is_remote, is_error, is_fd, bitrate_switch,
    error_state_indicator, dlc, data): for JSON/CSV output and tests."""
    b = frames.batch
    ts = [None if t != t else t for t in b.timestamp.tolist()]
    mono = [
        m if h else None
        for m, h in zip(frames.mono_us.tolist(), frames.has_mono.tolist(), strict=True)
    ]
    flags = [getattr(b, name).astype(np.uint8).tolist() for name in _FLAGS]
    return zip(
        frames.frame_id.tolist(),
        frames.segment.tolist(),
        mono,
        ts,
        b.arbitration_id.tolist(),
        b.is_extended.astype(np.uint8).tolist(),
        *flags,
        b.dlc.tolist(),
        [b.payload(i) for i in range(len(b))],
        strict=True,
    )


FRAME_COLUMNS = (
    "id", "segment", "mono_us", "timestamp", "arbitration_id", "is_extended", "is_remote",
    "is_error", "is_fd", "bitrate_switch", "error_state_indicator", "dlc", "data",
)  # fmt: skip
"""The columns of :func:`frame_rows` (schema 2's ``frames`` table)."""


def temp_frames(conn: sqlite3.Connection, query: FrameQuery = FrameQuery()) -> int:
    """Unpack the frames a query selects into the connection's temporary table
    ``frames`` (schema 2's columns), for ad-hoc SQL on raw frames; returns their number.
    Only for small selections: it holds a row per frame."""
    conn.execute("drop table if exists temp.frames")
    conn.execute(
        "create temp table frames (id integer primary key, segment integer, mono_us integer, "
        "timestamp real, arbitration_id integer, is_extended integer, is_remote integer, "
        "is_error integer, is_fd integer, bitrate_switch integer, "
        "error_state_indicator integer, dlc integer, data blob)"
    )
    n = 0
    for part in read_frames(conn, query):
        conn.executemany(
            f"insert into temp.frames values ({','.join('?' * len(FRAME_COLUMNS))})",
            frame_rows(part),
        )
        n += len(part)
    return n
