"""This computer as the logger: frames from a python-can bus into KLG segments.

The segments are the firmware's (docs/log-format.md), written by the firmware's own
encoder and segment store (``keilog.bus.firmware``), so ``keilog import`` reads them as
it reads a board's. The layout is the board's too: a segment header and a clock anchor
(source 4, the system clock) at the start of every segment, a boot event in the first,
blocks sealed when full and at least every ``flush_s`` (a crash loses at most that), a
new segment every ``rotate_bytes``, and the frame count and a clean-shutdown event at the
end. The "boot" is the run: its counter is the ``BOOT`` file in the folder, as on a
board's card, and times are microseconds since the run started.

What the format cannot hold is counted, not written: CAN FD frames with more than 8 data
bytes (format version 1 is classic CAN).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from threading import Event
from typing import Any

import can

from keilog import __version__
from keilog.bus.connect import BusError
from keilog.bus.firmware import firmware_module
from keilog.errors import KeilogError

ROTATE_BYTES = 4 * 1024 * 1024  # the firmware's storage.rotate_bytes default
FLUSH_S = 1.0  # the firmware's flush_ms default
# A message timestamp further than this from the computer's clock is not UTC (some
# interfaces count from their own start): the frame is timed when it arrived instead.
UTC_TOLERANCE_S = 86_400.0
DEVICE_ID = "keilog-host"
BASE_MARGIN_US = 2_000_000  # the firmware's _BASE_MARGIN_US


@dataclass
class RecordProgress:
    frames: int
    seconds: float
    segment: Path


@dataclass
class RecordResult:
    """What a recording wrote."""

    directory: Path
    boot: int
    segments: list[Path] = field(default_factory=list)
    frames: int = 0
    skipped_fd: int = 0  # CAN FD frames longer than 8 bytes (format v1 cannot hold them)
    seconds: float = 0.0
    stopped_by: str = ""  # "duration", "frames", "interrupt" or "stop"

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "boot": self.boot,
            "segments": [str(p) for p in self.segments],
            "frames": self.frames,
            "skipped_fd": self.skipped_fd,
            "seconds": round(self.seconds, 3),
            "stopped_by": self.stopped_by,
        }


def record(
    bus: can.BusABC,
    directory: str | Path,
    *,
    duration: float | None = None,
    frames: int | None = None,
    device_id: str = DEVICE_ID,
    rotate_bytes: int = ROTATE_BYTES,
    flush_s: float = FLUSH_S,
    stop: Event | None = None,
    progress: Callable[[RecordProgress], None] | None = None,
) -> RecordResult:
    """Record ``bus`` into segments in ``directory`` until ``duration`` seconds have
    passed, ``frames`` frames were recorded, ``stop`` is set or Ctrl-C; whatever stops
    it, the segment is finished (sealed, shutdown event) before this returns."""
    writer = _SegmentWriter(Path(directory), device_id, rotate_bytes)
    result = writer.result
    started = time.monotonic()
    next_flush = started + flush_s
    try:
        while True:
            now = time.monotonic()
            if duration is not None and now - started >= duration:
                result.stopped_by = "duration"
                break
            if frames is not None and result.frames >= frames:
                result.stopped_by = "frames"
                break
            if stop is not None and stop.is_set():
                result.stopped_by = "stop"
                break
            wait = next_flush - now
            if duration is not None:
                wait = min(wait, started + duration - now)
            try:
                msg = bus.recv(timeout=max(0.0, min(wait, 0.1)))
            except (can.CanError, OSError) as exc:
                raise BusError(
                    f"the CAN bus failed after {result.frames:,} frames: {exc}; what was "
                    f"recorded is in {writer.segment}"
                ) from exc
            if msg is not None:
                writer.frame(msg)
            if time.monotonic() >= next_flush:
                writer.flush()
                next_flush = time.monotonic() + flush_s
                if progress is not None:
                    elapsed = time.monotonic() - started
                    progress(RecordProgress(result.frames, elapsed, writer.segment))
    except KeyboardInterrupt:
        result.stopped_by = "interrupt"
    finally:
        writer.close()
        result.seconds = time.monotonic() - started
    return result


class _SegmentWriter:
    """Frames into segments with the firmware's BlockEncoder and SegmentStore."""

    def __init__(self, directory: Path, device_id: str, rotate_bytes: int) -> None:
        self.rec = firmware_module("record")
        segment = firmware_module("segment")
        try:
            self.store = segment.SegmentStore(str(directory))
            boot = self.store.next_boot()
        except OSError as exc:
            raise KeilogError(
                f"{directory}: cannot write segments there: {exc.strerror or exc}; "
                "pass a folder you can write with --to"
            ) from exc
        self.enc = self.rec.BlockEncoder()
        self.result = RecordResult(directory, boot)
        self.device_id = device_id.encode("ascii", "replace")[:16]
        self.firmware = tuple(int(p) for p in __version__.split(".")[:3])
        self.rotate_bytes = rotate_bytes
        self.t0 = time.time()  # UTC of microsecond 0 of the run
        self.seg_seq = 0
        self.block_seq = 0
        self.segment = directory
        self.opened = False

    def _start(self, first: float) -> None:
        """Open the first segment; its time 0 is the start, or the first frame's time
        when that is earlier (frames an interface had queued before the run)."""
        self.t0 = min(self.t0, first)
        self.opened = True
        self._open(0)
        self._event(0, self.rec.EV_BOOT, self.result.boot)

    def _utc(self, timestamp: float | None) -> float:
        now = time.time()
        return timestamp if timestamp and abs(timestamp - now) < UTC_TOLERANCE_S else now

    def mono_us(self, timestamp: float | None = None) -> int:
        if not self.opened:
            self._start(self._utc(timestamp))
        return max(0, round((self._utc(timestamp) - self.t0) * 1e6))

    def frame(self, msg: can.Message) -> None:
        rec = self.rec
        dlc = len(msg.data)
        if dlc > 8:
            self.result.skipped_fd += 1
            return
        flags = (
            (rec.F_EXT if msg.is_extended_id else 0)
            | (rec.F_RTR if msg.is_remote_frame else 0)
            | (rec.F_ERR if msg.is_error_frame else 0)
        )
        if msg.is_remote_frame:
            dlc = min(msg.dlc, 8)
        ticks = self.mono_us(msg.timestamp)
        data = bytes(msg.data)
        if self.store.size >= self.rotate_bytes:
            self._open(ticks)
        if not self._put(ticks, lambda: self.enc.can(ticks, msg.arbitration_id, flags, dlc, data)):
            raise KeilogError(
                f"{self.segment}: frame 0x{msg.arbitration_id:x} at {msg.timestamp} does not "
                "fit an empty block; this is a bug in keilog log, please report it"
            )
        self.result.frames += 1

    def flush(self) -> None:
        if not self.opened:
            self._start(self.t0)
        self._emit()
        self.store.flush()

    def close(self) -> None:
        rec = self.rec
        ticks = self.mono_us()
        self._event(ticks, rec.EV_FRAMES, self.result.frames & 0x3FFFFFFF)
        self._event(ticks, rec.EV_SHUTDOWN, rec.STOP_CLEAN)
        self._emit()
        self.store.close()

    def _put(self, ticks: int, add: Callable[[], bool]) -> bool:
        """Add a record to the block, or to the next one when it does not fit."""
        if not self.enc.active:
            self._begin(ticks)
        if add():
            return True
        self._emit()
        self._begin(ticks)
        return bool(add())

    def _begin(self, ticks: int) -> None:
        # As the firmware does, the base lies a little before the first record, so that
        # a slightly older record (interfaces time frames on their own) still fits.
        base = max(0, ticks - BASE_MARGIN_US)
        period = self.rec.PERIOD_US
        self.enc.begin(self.block_seq, base // period, base % period, base)
        self.block_seq += 1

    def _emit(self) -> None:
        if self.enc.count:
            try:
                self.store.write(self.enc.seal())
            except OSError as exc:
                raise KeilogError(
                    f"{self.segment}: cannot write: {exc.strerror or exc}; the blocks "
                    "before this one are complete"
                ) from exc
        self.enc.reset()

    def _open(self, ticks: int) -> None:
        self._emit()
        self.store.close()
        seq = self.store.open(self.result.boot, self.seg_seq)
        self.seg_seq = seq + 1
        self.segment = self.result.directory / self.store.name
        self.result.segments.append(self.segment)
        self.block_seq = 0
        self._begin(ticks)
        self.enc.segment(self.result.boot, seq, self.device_id, self.firmware)
        utc = self.t0 + ticks / 1e6
        day, rest = divmod(round(utc * 1e6), 86_400_000_000)
        tod_ms, us = divmod(rest, 1000)
        self.enc.anchor(ticks, day, tod_ms, us, self.rec.SRC_SYSTEM)

    def _event(self, ticks: int, code: int, value: int) -> None:
        self._put(ticks, lambda: self.enc.event(ticks, code, value))
