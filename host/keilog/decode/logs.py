"""Read CAN logs of every format owners already have into FrameBatch chunks.

* keilog segments (``*.KLG``, or any file starting with a keilog block) through
  ``keilog.logformat.reader``: timestamps are UTC where the segment's clock anchors allow, else
  seconds of the logger's monotonic clock;
* python-can's formats through its readers: candump ``.log``, Vector ``.asc`` and
  ``.blf``, PEAK ``.trc``, python-can ``.csv`` and ``.db``, each also gzip-compressed
  (``.asc.gz``); timestamps as the reader gives them (``.asc``: absolute, from its
  ``date`` line);
* ASAM MDF 4 bus logging (``.mf4``, as CSS Electronics' CANedge and python-can write it)
  through python-can's MF4 reader, which uses asammdf.

Reading streams: the file is read in chunks of frames, never whole into memory (a
keilog segment is at most a few MB and is read at once).
"""

from __future__ import annotations

import gzip
import io
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import can
import can.io.generic
import can.io.player

from keilog.decode.frames import FrameBatch, FrameBuilder
from keilog.errors import LogFormatError
from keilog.logformat import columns, reader
from keilog.progress import RateEta

CHUNK_FRAMES = 65_536
KEILOG_SUFFIX = ".klg"


@dataclass
class Progress(RateEta):
    """How far reading one log has got: passed to progress callbacks."""

    path: Path
    frames: int  # frames read so far
    bytes_read: int  # of the file (compressed bytes for .gz); 0 when unknown
    bytes_total: int
    seconds: float  # since reading started

    @property
    def fraction(self) -> float | None:
        if not self.bytes_total or not self.bytes_read:
            return None
        return min(1.0, self.bytes_read / self.bytes_total)


ProgressCallback = Callable[[Progress], None]


@dataclass
class CanLog:
    """One log file: its format and, once read, what was wrong with it."""

    path: Path
    format: str  # "keilog", "mf4" or a python-can suffix without the dot ("asc", "log", ...)
    compressed: bool = False
    problems: list[str] = field(default_factory=list)

    def batches(
        self, chunk_frames: int = CHUNK_FRAMES, progress: ProgressCallback | None = None
    ) -> Iterator[FrameBatch]:
        """The log's frames, ``chunk_frames`` at a time, in file order."""
        started = time.perf_counter()
        total = self.path.stat().st_size
        counter = _Counter()
        frames = 0
        for batch in self._read(chunk_frames, counter):
            frames += len(batch)
            if progress:
                elapsed = time.perf_counter() - started
                progress(Progress(self.path, frames, counter.bytes, total, elapsed))
            yield batch

    def _read(self, chunk_frames: int, counter: _Counter) -> Iterator[FrameBatch]:
        if self.format == "keilog":
            yield from self._read_keilog(chunk_frames, counter)
            return
        with self._open_reader(counter) as log_reader:
            messages = iter(log_reader)
            while True:
                builder = FrameBuilder(None)
                try:
                    builder.extend(_take(messages, chunk_frames))
                except (ValueError, KeyError, IndexError, struct.error, EOFError) as exc:
                    raise LogFormatError(
                        f"{self.path}: python-can cannot read this {self.format} log after "
                        f"{counter.bytes} bytes: {exc}; check that the file is complete and "
                        "its suffix matches its format"
                    ) from exc
                if not builder.payloads:
                    return
                yield builder.build()

    def _read_keilog(self, chunk_frames: int, counter: _Counter) -> Iterator[FrameBatch]:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise LogFormatError(f"{self.path}: cannot read the segment: {exc.strerror}") from exc
        cols = columns.read_columns(data)
        self.problems.extend(f"{self.path}: {damage}" for damage in cols.damage)
        counter.bytes = len(data)
        can = cols.can
        utc = columns.utc_seconds(can.mono_us, columns.segment_clock(cols))
        # Without clock anchors: seconds of the logger's monotonic clock.
        times = can.mono_us / 1e6 if utc is None else utc
        for start in range(0, len(can), chunk_frames):
            part = slice(start, start + chunk_frames)
            yield FrameBatch(
                timestamp=times[part],
                arbitration_id=can.arbitration_id[part],
                is_extended=can.is_extended[part],
                dlc=can.dlc[part],
                data=can.data[part],
                is_remote=can.is_remote[part] if can.is_remote.any() else None,
                is_error=can.is_error[part] if can.is_error.any() else None,
            )

    def _open_reader(self, counter: _Counter) -> can.io.generic.MessageReader:
        reader_type: Any = can.io.player.MESSAGE_READERS[f".{self.format}"]
        kwargs: dict[str, Any] = {}
        if self.format == "asc":
            kwargs["relative_timestamp"] = False
        if self.format in ("db", "mf4") and not self.compressed:
            return reader_type(str(self.path), **kwargs)
        raw: IO[bytes] = io.BufferedReader(_CountingFile(self.path, counter))
        if self.compressed:
            raw = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
        if issubclass(reader_type, can.io.generic.TextIOMessageReader):
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
            return reader_type(text, **kwargs)
        return reader_type(raw, **kwargs)


def open_log(path: str | Path) -> CanLog:
    """Recognise a log file by its suffix (or a keilog segment by its first bytes)."""
    p = Path(path)
    if not p.is_file():
        raise LogFormatError(f"{p}: no such log file")
    suffixes = [s.lower() for s in p.suffixes]
    compressed = bool(suffixes) and suffixes[-1] == ".gz"
    suffix = (
        suffixes[-2] if compressed and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    )
    if not compressed and (suffix == KEILOG_SUFFIX or _starts_like_keilog(p)):
        return CanLog(p, "keilog")
    if suffix in can.io.player.MESSAGE_READERS:
        return CanLog(p, suffix.lstrip("."), compressed=compressed)
    known = ", ".join(sorted([*can.io.player.MESSAGE_READERS, KEILOG_SUFFIX]))
    raise LogFormatError(
        f"{p}: unknown log format {suffix or '(no suffix)'}; keilog reads {known} "
        "(and .gz-compressed text logs)"
    )


def _starts_like_keilog(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(reader.MAGIC)) == reader.MAGIC


def _take(messages: Iterator[can.Message], n: int) -> Iterator[can.Message]:
    for _ in range(n):
        try:
            yield next(messages)
        except StopIteration:
            return


class _Counter:
    def __init__(self) -> None:
        self.bytes = 0


class _CountingFile(io.RawIOBase):
    """A read-only file that counts the bytes read from it (for progress)."""

    def __init__(self, path: Path, counter: _Counter) -> None:
        self._file = path.open("rb", buffering=0)
        self._counter = counter

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._file.readinto(buffer) or 0
        self._counter.bytes += n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()
