"""Progress lines on stderr for long reads, imports and exports: frames, rate and ETA,
only on a terminal."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Protocol, TextIO


class Progress(Protocol):
    """What the library's progress callbacks pass (keilog.decode.Progress for reading
    and importing logs, keilog.export.ExportProgress for exports)."""

    @property
    def path(self) -> Path: ...
    @property
    def frames(self) -> int: ...
    @property
    def rate(self) -> float: ...
    @property
    def fraction(self) -> float | None: ...
    @property
    def eta(self) -> float | None: ...


class TerminalProgress:
    """A progress callback that redraws one stderr line, at most 5 times a second.

    Silent when ``quiet`` or when stderr is not a terminal (so scripts and logs stay
    clean); call ``done()`` at the end to finish the line.
    """

    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = not quiet and self.stream.isatty()
        self._last = 0.0
        self._drawn = False

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        self.stream.write("\r\x1b[K" + describe(progress))
        self.stream.flush()
        self._drawn = True

    def done(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False


def describe(progress: Progress) -> str:
    """``drive.asc: 1,234,567 frames, 812,345 frames/s, 45%, 3 s left``."""
    parts = [f"{progress.path.name}: {progress.frames:,} frames", f"{progress.rate:,.0f} frames/s"]
    if progress.fraction is not None:
        parts.append(f"{progress.fraction:.0%}")
    if progress.eta is not None:
        parts.append(f"{progress.eta:,.0f} s left")
    return ", ".join(parts)
