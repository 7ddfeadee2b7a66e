"""Read CAN logs of every format owners already have into FrameBatch chunks.

* keilog segments (``*.KLG``, or any file starting with a keilog block) through
  ``keilog.logformat.reader``: timestamps are UTC where the segment's clock anchors allow, else
  seconds of the logger's monotonic clock;
* candump ``.log`` and Vector ``.blf`` through keilog's bulk readers
  (``keilog.decode.candump``, ``keilog.decode.blf``), which give python-can's frames;
* python-can's other formats through its readers: Vector ``.asc``, PEAK ``.trc``,
  python-can ``.csv`` and ``.db``, each also gzip-compressed (``.asc.gz``); timestamps as
  the reader gives them (``.asc``: absolute, from its ``date`` line);
* ASAM MDF 4 bus logging (``.mf4``, as CSS Electronics' CANedge and python-can write it)
  through python-can's MF4 reader, which uses asammdf.

Reading streams: the file is read in chunks of frames, never whole into memory (a
keilog segment is at most a few MB and is read at once).

Logs are untrusted bytes: whatever a reader raises on them becomes a
:class:`~keilog.errors.LogFormatError` naming the file, the frame count and the byte
(or line) where reading stopped. A text log's bad line (candump, CSV) is skipped and
recorded as damage when the log was opened with ``skip_bad_lines``, else refused by line
number; a binary object that runs past the end of the file (a truncated BLF, or one
with a damaged size) is recorded as damage with the frames read before it.
"""

from __future__ import annotations

import gzip
import io
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO, cast

import can
import can.io.blf
import can.io.generic
import can.io.player

from keilog.decode.blf import BlfReader
from keilog.decode.candump import CandumpLogParser
from keilog.decode.frames import FrameBatch, FrameBuilder
from keilog.errors import LogFormatError
from keilog.logformat import columns, reader
from keilog.progress import RateEta

CHUNK_FRAMES = 65_536
TEXT_CHUNK_BYTES = 1 << 20  # of candump text parsed at once (~23k lines)
MAX_PROBLEMS = 1000
KEILOG_SUFFIX = ".klg"
# Text formats whose reader can resume on the line after a bad one (a fresh reader over
# the rest of the file): ASC and TRC readers keep header state, so they are refused.
_SKIPPABLE = ("log", "csv")
# What a text reader raises on a line it cannot parse (not on a damaged stream: gzip's
# and zlib's errors are OSError, EOFError or zlib.error and end the reading).
_LINE_ERRORS = (ValueError, KeyError, IndexError, TypeError, AttributeError)
_NAMES = {"log": "candump", "db": "python-can SQLite"}


def reader_errors() -> tuple[type[BaseException], ...]:
    """What python-can's, gzip's and asammdf's readers raise on damaged bytes (found by
    fuzzing them: tests/decode/test_hostile_logs.py). Listed, not ``Exception``, so that
    a bug of ours is never dressed up as a damaged file."""
    errors: list[type[BaseException]] = [
        ValueError,  # also UnicodeDecodeError, gzip.BadGzipFile is an OSError
        KeyError,
        IndexError,
        TypeError,
        AttributeError,  # asammdf on a damaged block
        OverflowError,
        struct.error,
        EOFError,  # a truncated gzip stream
        OSError,
        zlib.error,
        can.io.blf.BLFParseError,
    ]
    mdf = sys.modules.get("asammdf.blocks.utils")
    if mdf is not None:
        errors.append(mdf.MdfException)
    isal = sys.modules.get("isal.igzip_lib")  # asammdf's zlib, when installed
    if isal is not None:
        errors.append(isal.IsalError)
    return tuple(errors)


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
    problems: list[str] = field(default_factory=list)  # the first MAX_PROBLEMS
    skip_bad_lines: bool = False  # candump/CSV: a bad line is damage, not the end
    problem_count: int = 0  # all of them (a garbage file has one per line)

    def problem(self, text: str) -> None:
        """Note damage; memory stays bounded however many lines are bad."""
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("(more damage not listed)")

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
        if self.format == "log":
            yield from self._read_candump(chunk_frames, counter)
            return
        if self.format == "blf":
            yield from self._read_blf(chunk_frames, counter)
            return
        frames = 0
        skipped = -1
        lines: _Lines | None = None
        try:
            log_reader, lines = self._open_reader(counter)
        except reader_errors() as exc:
            raise self._error(exc, counter, 0, None) from exc
        try:
            messages = iter(log_reader)
            while True:
                builder = FrameBuilder(None)
                while len(builder.payloads) < chunk_frames:
                    try:
                        msg = next(messages)
                    except StopIteration:
                        break
                    except reader_errors() as exc:
                        if (
                            lines is None
                            or not isinstance(exc, _LINE_ERRORS)
                            or not (self.skip_bad_lines and self.format in _SKIPPABLE)
                            or lines.line == skipped
                        ):
                            raise self._error(exc, counter, frames, _line(lines, exc)) from exc
                        skipped = lines.line
                        self.problem(f"line {lines.line}: skipped ({_what(exc)})")
                        # Resume on the next line with a fresh reader (CSV: its header
                        # line is skipped by the reader, so give it one back).
                        if self.format == "csv":
                            lines.push("timestamp,arbitration_id,extended,remote,error,dlc,data")
                        messages = iter(self._text_reader(lines))
                        continue
                    builder.extend((msg,))
                    frames += 1
                if not builder.payloads:
                    break
                try:
                    batch = builder.build()
                except (ValueError, OverflowError, TypeError) as exc:
                    raise self._error(exc, counter, frames, _line(lines, exc)) from exc
                yield batch
        finally:
            if counter.short_at is not None:
                self.problem(
                    f"byte {counter.short_at}: an object runs past the end of the file "
                    f"(truncated, or its size is damaged); {frames} frames read before it"
                )
            _close(log_reader)

    def _error(
        self, exc: BaseException, counter: _Counter, frames: int, line: int | None
    ) -> LogFormatError:
        """Reading stopped at ``line`` of a text log (or, None, at the bytes read so far)."""
        where = f"line {line}" if line is not None else f"byte {counter.bytes}"
        hint = ""
        if line is not None and self.format in _SKIPPABLE:
            hint = ", or import with --allow-damage to skip bad lines"
        return LogFormatError(
            f"{self.path}: cannot read this {_NAMES.get(self.format, self.format)} log at "
            f"{where}, after {frames} frames ({_what(exc)}); check that the file is complete "
            f"and its suffix matches its format{hint}"
        )

    def _read_candump(self, chunk_frames: int, counter: _Counter) -> Iterator[FrameBatch]:
        """A candump log through keilog.decode.candump's bulk parser."""
        parser = CandumpLogParser(str(self.path), skip_bad_lines=self.skip_bad_lines)
        frames = 0
        try:
            stream = self._open_binary(counter)
        except reader_errors() as exc:
            raise self._error(exc, counter, 0, None) from exc
        with stream:
            while True:
                try:
                    chunk = stream.read(TEXT_CHUNK_BYTES)
                except reader_errors() as exc:  # a damaged gzip stream
                    raise self._error(exc, counter, frames, None) from exc
                batch = parser.feed(chunk) if chunk else parser.close()
                for bad in parser.skipped:
                    self.problem(f"line {bad.line}: skipped ({_what(bad.error)})")
                parser.skipped.clear()
                for part in _parts(batch, chunk_frames):
                    frames += len(part)
                    yield part
                if parser.stopped is not None:
                    bad = parser.stopped
                    raise self._error(bad.error, counter, frames, bad.line) from bad.error
                if not chunk:
                    return

    def _read_blf(self, chunk_frames: int, counter: _Counter) -> Iterator[FrameBatch]:
        """A BLF log through keilog.decode.blf's bulk reader."""
        frames = 0
        try:
            stream = self._open_binary(counter)
        except reader_errors() as exc:
            raise self._error(exc, counter, 0, None) from exc
        with stream:
            try:
                blf = BlfReader(stream)
            except reader_errors() as exc:
                raise self._error(exc, counter, 0, None) from exc
            try:
                for batch in blf.batches():
                    for part in _parts(batch, chunk_frames):
                        frames += len(part)
                        yield part
            except reader_errors() as exc:
                raise self._error(exc, counter, frames, None) from exc
            finally:
                for problem in blf.problems:
                    self.problem(problem)
                if blf.short_at is not None:
                    self.problem(
                        f"byte {blf.short_at}: an object runs past the end of the file "
                        f"(truncated, or its size is damaged); {frames} frames read before it"
                    )

    def _open_binary(self, counter: _Counter) -> IO[bytes]:
        """The file's bytes (uncompressed), counting the bytes read from the file."""
        raw: IO[bytes] = io.BufferedReader(_CountingFile(self.path, counter))
        if self.compressed:
            raw = cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
        return raw

    def _read_keilog(self, chunk_frames: int, counter: _Counter) -> Iterator[FrameBatch]:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise LogFormatError(f"{self.path}: cannot read the segment: {exc.strerror}") from exc
        cols = columns.read_columns(data)
        for damage in cols.damage:
            self.problem(str(damage))
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

    def _open_reader(self, counter: _Counter) -> tuple[Any, _Lines | None]:
        """The python-can reader, and for a text log the line counter it reads from."""
        reader_type: Any = can.io.player.MESSAGE_READERS[f".{self.format}"]
        if self.format in ("db", "mf4") and not self.compressed:
            return reader_type(str(self.path)), None
        raw = self._open_binary(counter)
        if issubclass(reader_type, can.io.generic.TextIOMessageReader):
            lines = _Lines(io.TextIOWrapper(raw, encoding="utf-8", errors="replace"))
            return self._text_reader(lines), lines
        if not self.compressed:
            raw = cast(IO[bytes], _ShortReads(raw, counter))
        return reader_type(raw), None

    def _text_reader(self, lines: _Lines) -> Any:
        reader_type: Any = can.io.player.MESSAGE_READERS[f".{self.format}"]
        kwargs: dict[str, Any] = {"relative_timestamp": False} if self.format == "asc" else {}
        return reader_type(cast(TextIO, lines), **kwargs)


def _parts(batch: FrameBatch, chunk_frames: int) -> Iterator[FrameBatch]:
    """``batch`` in slices of at most ``chunk_frames`` frames (none when it is empty)."""
    if len(batch) <= chunk_frames:
        if len(batch):
            yield batch
        return
    yield from batch.chunks(chunk_frames)


def _line(lines: _Lines | None, exc: BaseException) -> int | None:
    """The line a text reader stopped at, when the error is about a line."""
    return lines.line if lines is not None and isinstance(exc, _LINE_ERRORS) else None


def _what(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _close(log_reader: Any) -> None:
    stop = getattr(log_reader, "stop", None)
    if stop is not None:
        try:
            stop()
        except reader_errors():
            pass  # closing a reader of a damaged file: the error was reported already


class _Lines:
    """A text stream as python-can's text readers iterate it, counting lines."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self.text = text
        self.line = 0
        self.pushed: list[str] = []

    def push(self, line: str) -> None:
        self.pushed.append(line + "\n")

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.pushed:
            return self.pushed.pop()
        line = self.text.readline()
        if not line:
            raise StopIteration
        self.line += 1
        return line

    def readline(self) -> str:
        try:
            return next(self)
        except StopIteration:
            return ""

    def read(self, size: int = -1) -> str:
        return self.text.read(size)

    def close(self) -> None:
        self.text.close()


class _ShortReads:
    """A binary stream that notes where a read came back short of what was asked (an
    object that claims more bytes than the file has left)."""

    def __init__(self, raw: IO[bytes], counter: _Counter) -> None:
        self.raw = raw
        self.counter = counter
        self.pos = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if 0 < len(data) < size and self.counter.short_at is None:
            self.counter.short_at = self.pos
        self.pos += len(data)
        return data

    def close(self) -> None:
        self.raw.close()


def open_log(path: str | Path, skip_bad_lines: bool = False) -> CanLog:
    """Recognise a log file by its suffix (or a keilog segment by its first bytes).
    skip_bad_lines: a candump or CSV line python-can cannot read is recorded as damage
    and skipped (otherwise reading stops there with an error naming the line)."""
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
        return CanLog(p, suffix.lstrip("."), compressed, skip_bad_lines=skip_bad_lines)
    known = ", ".join(sorted([*can.io.player.MESSAGE_READERS, KEILOG_SUFFIX]))
    raise LogFormatError(
        f"{p}: unknown log format {suffix or '(no suffix)'}; keilog reads {known} "
        "(and .gz-compressed text logs)"
    )


def _starts_like_keilog(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(len(reader.MAGIC)) == reader.MAGIC


class _Counter:
    def __init__(self) -> None:
        self.bytes = 0
        self.short_at: int | None = None


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
