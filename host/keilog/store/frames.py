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
width, layout bits) and then, zlib-compressed, these columns of ``n`` values each: the
gaps between the block's frame numbers (uint32), each frame's time on its segment's time
base as differences (int64: ``mono_us`` of a keilog segment, a log's own timestamp in
microseconds; absent when there is none), the UTC timestamp's IEEE-754 bits as
differences (int64, exact, NaN included; **only when the segment's clock cannot give
them back**: for a keilog segment the reader recomputes them from ``mono_us`` with the
segment's ``clock_pieces``, exactly as the import and the ``msg_`` views do, and for a
candump log from its whole microseconds; the writer checks bit for bit and stores them
otherwise), dlc (uint8), flags (uint8: remote, error, fd, bitrate switch, error state
indicator), then the payload byte by byte (``width`` planes of ``n`` bytes). The
integer columns are stored byte plane by byte plane too (all low bytes, then the next
...), so the zero high bytes of small differences become runs zlib all but removes:
differences and byte planes are what make a CAN log compress (no library packs CAN
frames like this; numpy does the work, zlib the compression).
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
from keilog.store.timebase import Piece, load_pieces, utc_at

BLOCK_FRAMES = 4096
BLOCK_SPAN_S = 60.0
CHUNK_FRAMES = 32_768  # frames per chunk a reader yields (memory stays flat)
_VERSION = 2
_HEAD = struct.Struct("<BIHB")  # version, frames, payload width, layout (bits below)
_HAS_TIME = 1  # the block holds each frame's time on its segment's time base
_TIME_IS_MONO = 2  # ... which is the logger's mono_us (else: a log's own microseconds)
_HAS_TIMESTAMP = 4  # the block holds each frame's UTC timestamp (the clock cannot give it)
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
    time_us: NDArray[np.int64] | None = None,
    pieces: Sequence[Piece] = (),
) -> int:
    """Store a batch of frames (numbers first_id .. first_id + len - 1) as blocks of
    one identifier each; returns the number of blocks written.

    time_us: each frame's time on its segment's time base (default: ``mono_us``; a
    log's own timestamps in microseconds), and pieces the segment's clock
    (keilog.store.timebase): where the clock gives each frame's timestamp back bit for
    bit, a block stores only the time and its reader recomputes the timestamp."""
    n = len(batch)
    if not n:
        return 0
    if time_us is None:
        time_us = mono_us
    exact = False
    if time_us is not None:
        again = utc_at(pieces, time_us)
        ts = batch.timestamp
        exact = bool(np.array_equal(again.view(np.int64), ts.view(np.int64)))
        if not exact and not pieces:
            exact = bool(np.isnan(ts).all())
    key = batch.arbitration_id.astype(np.int64) | (batch.is_extended.astype(np.int64) << 32)
    order = np.argsort(key, kind="stable")  # frames of one id together, in frame order
    sorted_key = key[order]
    cuts = np.flatnonzero(np.diff(sorted_key)) + 1
    rows: list[tuple[Any, ...]] = []
    flags = np.zeros(n, np.uint8)
    for bit, name in enumerate(_FLAGS):
        value = getattr(batch, name)
        if value is not None:
            flags |= value.astype(np.uint8) << bit
    layout = (
        (_HAS_TIME if time_us is not None else 0)
        | (_TIME_IS_MONO if mono_us is not None else 0)
        | (0 if exact else _HAS_TIMESTAMP)
    )
    for group in np.split(order, cuts):
        for block in _blocks(group, batch.timestamp):
            rows.append(_block_row(first_id, segment, batch, flags, time_us, layout, block))
    conn.executemany(
        "insert into frame_blocks (segment, arbitration_id, is_extended, first_frame, "
        "last_frame, frames, t_start, t_end, data) values (?,?,?,?,?,?,?,?,?)",
        rows,
    )
    _write_marks(conn, first_id, time_us, n)
    return len(rows)


MARK_SHIFT = 6
"""Frame numbers ``mark << MARK_SHIFT`` .. ``(mark + 1 << MARK_SHIFT) - 1`` share a mark."""


def _write_marks(
    conn: sqlite3.Connection, first_id: int, time_us: NDArray[np.int64] | None, n: int
) -> None:
    """Give each mark the frames first_id .. first_id + n - 1 reach (and no earlier
    write gave one) the time of its first frame: the base of the decoded rows' time."""
    marks = np.arange(first_id >> MARK_SHIFT, ((first_id + n - 1) >> MARK_SHIFT) + 1)
    first = np.maximum(marks << MARK_SHIFT, first_id) - first_id
    times = np.zeros(len(marks), np.int64) if time_us is None else time_us[first]
    conn.executemany(
        "insert or ignore into frame_marks (mark, mono_us) values (?, ?)",
        zip(marks.tolist(), times.tolist(), strict=True),
    )


def since_mark(
    conn: sqlite3.Connection, frame_ids: NDArray[np.int64], time_us: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Times of stored frames (ascending numbers) as microseconds after their mark's
    time, as the ``sig_`` tables of raw frames store them: 2 bytes in SQLite where the
    times themselves take 3 to 6 (docs/database.md, "Bytes")."""
    if not len(frame_ids):
        return time_us
    lo, hi = int(frame_ids[0]) >> MARK_SHIFT, int(frame_ids[-1]) >> MARK_SHIFT
    base = np.zeros(hi - lo + 1, np.int64)
    for mark, mono in conn.execute(
        "select mark, mono_us from frame_marks where mark between ? and ?", [lo, hi]
    ):
        base[mark - lo] = mono
    return time_us - base[(frame_ids >> MARK_SHIFT) - lo]


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


def _planes(values: NDArray[Any]) -> bytes:
    """An array's bytes plane by plane (all first bytes, then all second bytes, ...):
    the high bytes of small numbers become runs of zeros that zlib all but removes."""
    width = values.dtype.itemsize
    return np.ascontiguousarray(values.view(np.uint8).reshape(len(values), width).T).tobytes()


def _block_row(
    first_id: int,
    segment: int,
    batch: FrameBatch,
    flags: NDArray[np.uint8],
    time_us: NDArray[np.int64] | None,
    layout: int,
    rows: NDArray[np.int64],
) -> tuple[Any, ...]:
    n = len(rows)
    ts = batch.timestamp[rows]
    dlc = batch.dlc[rows]
    if batch.is_remote is not None:
        width = int(np.where(batch.is_remote[rows], 0, dlc).max())
    else:
        width = int(dlc.max())
    parts = [_planes(np.diff(rows, prepend=rows[0]).astype(np.uint32))]
    if time_us is not None:
        parts.append(_planes(np.diff(time_us[rows], prepend=0)))
    if layout & _HAS_TIMESTAMP:
        parts.append(_planes(np.diff(ts.view(np.int64), prepend=0)))
    parts += [
        dlc.tobytes(),
        flags[rows].tobytes(),
        np.ascontiguousarray(batch.data[rows, :width].T).tobytes(),
    ]
    blob = _HEAD.pack(_VERSION, n, width, layout) + zlib.compress(b"".join(parts), _LEVEL)
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
    segment: int,
    arbitration_id: int,
    is_extended: int,
    first_frame: int,
    blob: bytes,
    clocks: _Clocks,
) -> StoredFrames:
    try:
        version, n, width, layout = _HEAD.unpack_from(blob)
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

        def planes(dtype: Any) -> NDArray[Any]:
            width = np.dtype(dtype).itemsize
            return np.ascontiguousarray(column(np.uint8, n * width).reshape(width, n).T).view(
                dtype
            )[:, 0]

        fid = np.cumsum(planes(np.uint32).astype(np.int64)) + first_frame
        time = np.cumsum(planes(np.int64)) if layout & _HAS_TIME else None
        stamps = np.cumsum(planes(np.int64)).view(np.float64) if layout & _HAS_TIMESTAMP else None
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
    if stamps is not None:
        ts = stamps
    elif time is not None:
        ts = utc_at(clocks.of(segment), time)
    else:
        ts = np.full(n, np.nan)
    has_mono = bool(layout & _TIME_IS_MONO) and time is not None
    mono = time if has_mono and time is not None else np.zeros(n, np.int64)
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
    return StoredFrames(fid, np.full(n, segment, np.int64), mono, np.full(n, has_mono), batch)


def unpack_block(
    conn: sqlite3.Connection,
    segment: int,
    arbitration_id: int,
    is_extended: int,
    first_frame: int,
    blob: bytes,
) -> StoredFrames:
    """The frames of one ``frame_blocks`` row (its columns as given), with their UTC
    timestamps from the segment's clock in ``conn`` where the block does not hold them
    (read_frames reads many blocks; this is for one, e.g. inside an SQL function)."""
    return _unpack(segment, arbitration_id, is_extended, first_frame, blob, _Clocks(conn))


class _Clocks:
    """The clocks of the segments a read meets, loaded once each."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.known: dict[int, list[Piece]] = {}

    def of(self, segment: int) -> list[Piece]:
        if segment not in self.known:
            self.known[segment] = load_pieces(self.conn, segment)
        return self.known[segment]


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
    clocks = _Clocks(conn)
    for segment, arb, ext, first, last, blob in conn.execute(sql, args):
        if pending and first > reach and count >= chunk:
            yield from _emit(pending, query)
            pending, count = [], 0
        pending.append(_unpack(segment, arb, ext, first, blob, clocks))
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
