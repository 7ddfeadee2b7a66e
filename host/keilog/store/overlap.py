"""No frame stored twice: a file that continues one already stored adds only what is new.

The same recording often arrives twice, the second time longer: a segment copied while
the logger was still writing it, then complete; a truncated BLF, then the whole one; a
candump log, then the same log with more lines. Import is idempotent by SHA-256, but
these are different bytes with the same frames at their start. The rule
(docs/database.md, "No frame twice"):

- **keilog segments** are the same recording when device id, boot and segment number
  are: the frames, fixes, events and clock anchors stored for it must be the new file's
  first ones (compared frame by frame); the import then stores only the records after
  them. A file that is no longer than what is stored adds nothing ("already imported").
- **Other loggers' logs** are the same recording when a stored log of the same format
  starts with the same frames (timestamp, identifier, flags, data; its first 64, or all
  it has); its last frame must then be the new file's frame at the same index, and the
  frames up to there are skipped. Links chain: a third, longer copy skips both stored
  parts.
- Anything else that shares that start but differs is refused with a message naming the
  stored file and the frame: nothing of the new file is stored.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from keilog.decode import FrameBatch
from keilog.errors import StoreError
from keilog.store.frames import FrameQuery, read_frames

SAME_START = 64  # frames that must match for a stored log to be this one's start


class OverlapError(StoreError):
    """A file starts like a stored recording but differs from it: refused."""


class NothingNew(Exception):
    """Every frame of the file is stored already (it is a copy's start)."""


@dataclass
class Stored:
    """What is stored of one keilog segment (device, boot, seq), over all its imports."""

    names: list[str] = field(default_factory=list)
    frames: list[tuple[Any, ...]] = field(default_factory=list)  # (mono_us, id, data)
    gps_fixes: int = 0
    events: int = 0
    anchors: int = 0


def stored_segment(conn: sqlite3.Connection, device_id: str, boot: int, seq: int) -> Stored:
    out = Stored()
    rows = conn.execute(
        "select s.id, s.name, s.gps_fixes, s.events from segments s join devices d on "
        "s.device = d.id where d.device_id = ? and s.boot = ? and s.seq = ? order by s.id",
        [device_id, boot, seq],
    ).fetchall()
    for segment, name, fixes, events in rows:
        out.names.append(name)
        out.gps_fixes += fixes
        out.events += events
        out.anchors += conn.execute(
            "select count(*) from clock_anchors where segment = ?", [segment]
        ).fetchone()[0]
        for part in read_frames(conn, FrameQuery(segments=[segment])):
            b = part.batch
            out.frames += zip(
                part.mono_us.tolist(),
                b.arbitration_id.tolist(),
                [b.payload(i) for i in range(len(b))],
                strict=True,
            )
    return out


def check_segment_prefix(
    stored: Stored, mono_us: np.ndarray, ids: np.ndarray, payloads: list[bytes], name: str
) -> None:
    """Refuse unless the stored frames are the first frames of the new file."""
    n = min(len(stored.frames), len(ids))
    for i in range(n):
        mono, arb, data = stored.frames[i]
        if (mono, arb, bytes(data)) != (int(mono_us[i]), int(ids[i]), payloads[i]):
            raise OverlapError(
                f"{name}: is the same segment (device, boot and number) as "
                f"{', '.join(stored.names)}, already stored, but differs from it at frame "
                f"{i}: refused, nothing of it was stored; the two files cannot both be "
                "right: check which one the logger wrote"
            )


@dataclass
class LogChain:
    """Walks a log's frames against stored logs of the same format that it continues."""

    conn: sqlite3.Connection
    device_id: str
    name: str
    skip_to: int = 0  # frames before this index are stored already
    check_at: int | None = None  # index whose frame must equal check_frame
    check_frame: tuple[Any, ...] | None = None
    check_name: str = ""
    link_first: int = 0  # frames.id of the current stored link's first frame
    link_start: int = 0  # the file's index of that frame
    seen: set[int] = field(default_factory=set)
    parts: list[str] = field(default_factory=list)

    def skip(self, batch: FrameBatch, start: int) -> int:
        """How many of the batch's first frames are stored already (batch = frames
        start .. start + len - 1 of the file); refuses a file that differs."""
        end = start + len(batch)
        while True:
            if self.check_at is not None and start <= self.check_at < end:
                got = frame_key(batch, self.check_at - start)
                if got != self.check_frame:
                    self._refuse(self.check_at)
                self.check_at = None
            if self.check_at is None and start <= self.skip_to < end:
                row = self._stored_starting(batch, self.skip_to - start)
                if row is not None:
                    segment, first, frames, last, stored_name = row
                    self.seen.add(segment)
                    self.parts.append(stored_name)
                    self.link_first, self.link_start = first, self.skip_to
                    self.check_at = self.skip_to + frames - 1
                    self.check_frame = last
                    self.check_name = stored_name
                    self.skip_to += frames
                    continue
            break
        return max(0, min(self.skip_to, end) - start)

    def finish(self, frames: int, last: tuple[Any, ...] | None) -> bool:
        """After the whole file (frames long, last its last frame): True if all of it
        was stored already (it is the start of a longer stored copy); refuses a file
        that differs."""
        if not frames or not self.skip_to or last is None:
            return False
        if self.check_at is None:
            return self.skip_to >= frames
        # The file ended inside a stored copy: its last frame must be that copy's.
        at = self.link_first + frames - 1 - self.link_start
        if stored_keys(self.conn, at, at) != [last]:
            self._refuse(frames - 1)
        return True

    def _refuse(self, index: int) -> None:
        raise OverlapError(
            f"{self.name}: starts like {self.check_name}, already stored, but differs from "
            f"it at frame {index}: refused, nothing of it was stored; if both are real "
            "recordings, import this one into another database"
        )

    def _stored_starting(self, batch: FrameBatch, at: int) -> tuple[int, int, int, Any, str] | None:
        """A stored log whose first frames (up to SAME_START of them, as far as the batch
        goes) are the batch's from index at: two recordings that merely begin with the
        same frame (relative timestamps from 0, the same first message) are separate."""
        key = frame_key(batch, at)
        for segment, first, frames, stored_name in self.conn.execute(
            "select s.id, s.first_frame, s.frames, s.name from segments s join devices d "
            "on s.device = d.id where d.device_id = ? and s.first_frame is not null "
            "order by s.id",
            [self.device_id],
        ):
            if segment in self.seen or not frames:
                continue
            if stored_keys(self.conn, first, first) != [key]:
                continue
            n = min(SAME_START, frames, len(batch) - at)
            if stored_keys(self.conn, first, first + n - 1) != [
                frame_key(batch, at + i) for i in range(n)
            ]:
                continue
            last = stored_keys(self.conn, first + frames - 1, first + frames - 1)
            return segment, first, frames, last[0], stored_name
        return None


def stored_keys(conn: sqlite3.Connection, lo: int, hi: int) -> list[tuple[Any, ...]]:
    """The frame_key of stored frames lo .. hi (frame numbers), in order."""
    out: list[tuple[Any, ...]] = []
    for part in read_frames(conn, FrameQuery(frames=[(lo, hi)])):
        out += [frame_key(part.batch, i) for i in range(len(part))]
    return out


def frame_key(batch: FrameBatch, i: int) -> tuple[Any, ...]:
    ts = float(batch.timestamp[i])
    return (
        None if np.isnan(ts) else ts,
        int(batch.arbitration_id[i]),
        int(bool(batch.is_extended[i])),
        batch.payload(i),
    )
