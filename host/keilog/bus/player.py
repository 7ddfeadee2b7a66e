"""Replay frames onto a bus, paced by their timestamps (like ``python -m can.player``).

Sources: any log ``keilog decode`` reads (through keilog.decode's readers, so a KLG
segment plays as well as a candump or BLF file), or a database, whole or one trip
(through keilog.export's frame selection). Error frames are not sent (a controller
cannot transmit one); they are counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from threading import Event
from typing import Any

import can

from keilog.bus.connect import BusError
from keilog.decode import FrameBatch, open_log
from keilog.errors import KeilogError

SEND_TIMEOUT_S = 1.0
# A gap longer than this between two frames (a log of several drives) is not waited out
# in full: playback resumes after this long, as can.player's --gap does for short gaps.
MAX_GAP_S = 10.0


@dataclass
class PlayProgress:
    frames: int
    seconds: float


@dataclass
class PlayResult:
    frames: int = 0  # sent
    error_frames: int = 0  # read but not sent
    seconds: float = 0.0
    log_seconds: float = 0.0  # the span of the frames' own timestamps
    stopped_by: str = "end"  # "end", "frames", "interrupt", "stop"

    def to_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "error_frames": self.error_frames,
            "seconds": round(self.seconds, 3),
            "log_seconds": round(self.log_seconds, 6),
            "stopped_by": self.stopped_by,
        }


def log_messages(paths: Iterable[str | Path]) -> Iterator[can.Message]:
    """The frames of log files, in file order, as python-can messages. Every path is
    checked here, before a bus is opened or a frame sent."""
    logs = [open_log(p) for p in paths]
    return (msg for log in logs for batch in log.batches() for msg in batch_messages(batch))


def batch_messages(batch: FrameBatch) -> Iterator[can.Message]:
    n = len(batch)
    flags = {
        name: (getattr(batch, name).tolist() if getattr(batch, name) is not None else [False] * n)
        for name in ("is_remote", "is_error", "is_fd", "bitrate_switch", "error_state_indicator")
    }
    for i, (t, frame_id, ext, dlc) in enumerate(
        zip(
            batch.timestamp.tolist(),
            batch.arbitration_id.tolist(),
            batch.is_extended.tolist(),
            batch.dlc.tolist(),
            strict=True,
        )
    ):
        remote = flags["is_remote"][i]
        yield can.Message(
            timestamp=t,
            arbitration_id=frame_id,
            is_extended_id=ext,
            is_remote_frame=remote,
            is_error_frame=flags["is_error"][i],
            is_fd=flags["is_fd"][i],
            bitrate_switch=flags["bitrate_switch"][i],
            error_state_indicator=flags["error_state_indicator"][i],
            dlc=dlc,
            data=None if remote else batch.data[i, :dlc].tobytes(),
            check=False,
        )


def db_messages(db_path: str | Path, trip: int | None = None) -> Iterator[can.Message]:
    """The frames of a keilog database (or of trip number ``trip``) in logging order."""
    from keilog import store
    from keilog.export.canlogs import messages
    from keilog.export.source import frame_chunks, select

    path = Path(db_path)
    if not path.is_file():
        raise KeilogError(f"{path}: no such database; create it with keilog import")
    db = store.open_db(path)
    sel = select(db, trip)  # an unknown trip fails here, before a bus is opened
    return (msg for chunk in frame_chunks(db, sel) for msg in messages(chunk))


def play(
    bus: can.BusABC,
    frames: Iterable[can.Message],
    *,
    speedup: float = 1.0,
    as_fast_as_possible: bool = False,
    max_gap_s: float = MAX_GAP_S,
    limit: int | None = None,
    stop: Event | None = None,
    progress: Callable[[PlayProgress], None] | None = None,
) -> PlayResult:
    """Send ``frames`` on ``bus``: frame k goes out when (its timestamp - the first's) /
    ``speedup`` seconds have passed, or at once with ``as_fast_as_possible``."""
    if speedup <= 0:
        raise KeilogError(f"--speedup {speedup} must be above 0 (2 plays twice as fast)")
    result = PlayResult()
    started = time.monotonic()
    first: float | None = None
    anchor = started
    last_t = 0.0
    skipped = 0.0  # log seconds of long gaps not waited out
    last_report = started
    try:
        for msg in frames:
            if limit is not None and result.frames >= limit:
                result.stopped_by = "frames"
                break
            if stop is not None and stop.is_set():
                result.stopped_by = "stop"
                break
            if first is None:
                first = last_t = msg.timestamp
                anchor = time.monotonic()  # time 0: when the first frame is ready
            gap = msg.timestamp - last_t
            if gap > max_gap_s:
                skipped += gap - max_gap_s
            last_t = max(last_t, msg.timestamp)
            if msg.is_error_frame:
                result.error_frames += 1
                continue
            if not as_fast_as_possible:
                due = anchor + (msg.timestamp - first - skipped) / speedup
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            try:
                bus.send(msg, timeout=SEND_TIMEOUT_S)
            except (can.CanError, OSError) as exc:
                raise BusError(
                    f"cannot send frame {result.frames + 1} (id 0x{msg.arbitration_id:x}): "
                    f"{exc}; check the bus is up and the bitrate matches"
                ) from exc
            result.frames += 1
            if progress is not None and time.monotonic() - last_report >= 0.2:
                last_report = time.monotonic()
                progress(PlayProgress(result.frames, last_report - started))
    except KeyboardInterrupt:
        result.stopped_by = "interrupt"
    result.seconds = time.monotonic() - started
    result.log_seconds = (last_t - first) if first is not None else 0.0
    return result
