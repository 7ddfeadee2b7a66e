"""Which frames an export writes, read from the database a chunk at a time.

The whole database, or one trip (``trips``, docs/database.md): the frames of the trip's
device and boot (the frame-number ranges of its segments), within the trip's logger-time
window (its UTC window for other loggers' logs). Frames are read with
keilog.store.frames.read_frames, the one reader of the packed raw frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils
from numpy.typing import NDArray

from keilog.errors import KeilogError, StoreError
from keilog.store.frames import FrameQuery, StoredFrames, read_frames
from keilog.store.trips import TripExtent, trip_extent

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

    def query(self) -> FrameQuery:
        """The selection as a query of keilog.store.frames."""
        if self.where.startswith("mono_us"):
            return FrameQuery(frames=self.ranges, mono=(self.args[0], self.args[1]))
        if self.where.startswith("timestamp"):
            return FrameQuery(frames=self.ranges, start=self.args[0], end=self.args[1])
        return FrameQuery(frames=self.ranges)


def trip_extent_or_export_error(db: sqlite_utils.Database, trip: int) -> TripExtent:
    """keilog.store.trips.trip_extent, its error an export's."""
    try:
        return trip_extent(db, trip)
    except StoreError as exc:
        raise ExportError(str(exc)) from None


def select(db: sqlite_utils.Database, trip: int | None = None) -> Selection:
    """All frames of the database, or those of trip number ``trip``."""
    if trip is None:
        lo, hi, total = db.execute(
            "select min(first_frame), max(first_frame + frames - 1), coalesce(sum(frames), 0) "
            "from segments where first_frame is not null and frames > 0"
        ).fetchone()
        if lo is None:
            return Selection([], estimate=0)
        return Selection([(int(lo), int(hi))], estimate=int(total))
    extent = trip_extent_or_export_error(db, trip)
    ranges = extent.frames
    args: tuple[Any, ...]
    if extent.mono is not None:
        where, args = "mono_us between ? and ?", extent.mono
    else:
        where, args = "timestamp between ? and ?", (extent.start, extent.end)
    start, end = extent.start, extent.end
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
    """The selected frames in id order, about ``chunk`` at a time."""
    if not sel.ranges:
        return
    for part in read_frames(db.conn, sel.query(), chunk):
        yield _chunk(part)


def _chunk(part: StoredFrames) -> FrameChunk:
    b = part.batch
    stamps = b.timestamp.copy()
    missing = np.isnan(stamps)
    if missing.any():  # no UTC: seconds of the logger's clock, as keilog decode shows them
        stamps[missing] = part.mono_us[missing] / 1e6

    def flag(value: NDArray[np.bool_] | None) -> NDArray[np.bool_]:
        return np.zeros(len(b), np.bool_) if value is None else value

    return FrameChunk(
        stamps,
        b.arbitration_id,
        b.is_extended,
        flag(b.is_remote),
        flag(b.is_error),
        flag(b.is_fd),
        flag(b.bitrate_switch),
        flag(b.error_state_indicator),
        b.dlc,
        [b.payload(i) for i in range(len(b))],
    )
