"""Which frames an export writes, read from the database a chunk at a time.

The whole database, or one trip (``trips``, docs/database.md): the frames of the trip's
device and boot (the id ranges of its segments, so no index on ``frames`` is needed),
within the trip's logger-time window (its UTC window for other loggers' logs).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils
from numpy.typing import NDArray

from keilog.errors import KeilogError

CHUNK_FRAMES = 32_768

FRAME_COLUMNS = (
    "timestamp", "mono_us", "arbitration_id", "is_extended", "is_remote", "is_error",
    "is_fd", "bitrate_switch", "error_state_indicator", "dlc", "data",
)  # fmt: skip


class ExportError(KeilogError):
    """An export cannot be made from what was given."""


@dataclass(frozen=True)
class Selection:
    """Frames by id ranges (inclusive), optionally within a time window."""

    ranges: list[tuple[int, int]]
    where: str = ""  # extra SQL condition on frames
    args: tuple[Any, ...] = ()
    estimate: int = 0  # frames at most (for progress)
    trip: int | None = None
    window: tuple[float, float] | None = None  # UTC seconds, for the other tables


def select(db: sqlite_utils.Database, trip: int | None = None) -> Selection:
    """All frames of the database, or those of trip number ``trip``."""
    if trip is None:
        lo, hi = db.execute("select min(id), max(id) from frames").fetchone()
        if lo is None:
            return Selection([], estimate=0)
        total = db.execute("select coalesce(sum(frames), 0) from segments").fetchone()[0]
        return Selection([(int(lo), int(hi))], estimate=int(total))
    found = db.execute(
        'select device_id, boot, mono_start_us, mono_end_us, start, "end" from trips where id = ?',
        [trip],
    ).fetchone()
    if found is None:
        last = db.execute("select max(id) from trips").fetchone()[0]
        have = f"trips 1..{last}" if last else "no trips"
        raise ExportError(
            f"no trip {trip}; the database has {have} (list them with keilog trips --db FILE)"
        )
    device, boot, mono0, mono1, start, end = found
    ranges = [
        (int(first), int(first) + int(n) - 1)
        for first, n in db.execute(
            "select s.first_frame, s.frames from segments s join devices d on d.id = s.device "
            "where d.device_id = ? and s.boot = ? and s.first_frame is not null "
            "order by s.first_frame",
            [device, boot],
        ).fetchall()
    ]
    if mono0 is not None:
        where, args = "mono_us between ? and ?", (mono0, mono1)
    else:
        where, args = "timestamp between ? and ?", (start, end)
    window = (float(start), float(end)) if start is not None and end is not None else None
    return Selection(ranges, where, args, sum(b - a + 1 for a, b in ranges), trip, window)


@dataclass(eq=False)
class FrameChunk:
    """Consecutive frames as columns (``timestamp``: UTC, or logger seconds when the
    frame has no UTC time)."""

    timestamp: NDArray[np.float64]
    arbitration_id: NDArray[np.uint32]
    is_extended: NDArray[np.bool_]
    is_remote: NDArray[np.bool_]
    is_error: NDArray[np.bool_]
    is_fd: NDArray[np.bool_]
    bitrate_switch: NDArray[np.bool_]
    error_state_indicator: NDArray[np.bool_]
    dlc: NDArray[np.uint8]
    data: list[bytes]

    def __len__(self) -> int:
        return len(self.data)


def frame_chunks(
    db: sqlite_utils.Database, sel: Selection, chunk: int = CHUNK_FRAMES
) -> Iterator[FrameChunk]:
    """The selected frames in id order, ``chunk`` at a time."""
    cols = ", ".join(FRAME_COLUMNS)
    extra = f" and {sel.where}" if sel.where else ""
    for lo, hi in sel.ranges:
        cur = db.conn.execute(
            f"select {cols} from frames where id between ? and ?{extra} order by id",
            (lo, hi, *sel.args),
        )
        while rows := cur.fetchmany(chunk):
            yield _chunk(rows)


def _chunk(rows: list[tuple[Any, ...]]) -> FrameChunk:
    ts, mono, ids, ext, rtr, err, fd, brs, esi, dlc, data = zip(*rows, strict=True)
    stamps = np.array([np.nan if t is None else t for t in ts], np.float64)
    missing = np.isnan(stamps)
    if missing.any():  # no UTC: seconds of the logger's clock, as keilog decode shows them
        monos = np.array([0 if m is None else m for m in mono], np.float64)
        stamps[missing] = monos[missing] / 1e6

    def flag(values: tuple[int, ...]) -> NDArray[np.bool_]:
        return np.array(values, np.bool_)

    return FrameChunk(
        stamps,
        np.array(ids, np.uint32),
        flag(ext),
        flag(rtr),
        flag(err),
        flag(fd),
        flag(brs),
        flag(esi),
        np.array(dlc, np.uint8),
        [bytes(d) for d in data],
    )
