"""Decode whole log files chunk by chunk: what ``keilog decode`` runs."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from keilog.decode.candump import read_candump
from keilog.decode.decoder import Decoder
from keilog.decode.logs import CHUNK_FRAMES, CanLog, ProgressCallback, open_log
from keilog.decode.result import DecodeResult, DecodeStats
from keilog.errors import DamagedFileError


@dataclass
class LogDecoding:
    """Totals over the logs decoded so far."""

    logs: list[CanLog] = field(default_factory=list)
    stats: DecodeStats = field(default_factory=DecodeStats)

    @property
    def problems(self) -> list[str]:
        return [f"{log.path}: {p}" for log in self.logs for p in log.problems]

    def damage_error(self) -> DamagedFileError | None:
        """The error to end with when a log had damage that was not allowed: the frames
        decoded are the readable ones, the exit status says the logs were not whole."""
        damaged = [log for log in self.logs if log.problem_count]
        if not damaged:
            return None
        first = damaged[0]
        return DamagedFileError(
            f"{first.path}: {first.problem_count} damaged part"
            f"{'s' if first.problem_count != 1 else ''} (first: {first.problems[0]})"
            + (f", and {len(damaged) - 1} more damaged logs" if len(damaged) > 1 else "")
            + "; the frames printed are the readable ones: pass --allow-damage to accept "
            "damaged logs (and skip bad candump/CSV lines)"
        )


def decode_logs(
    paths: Iterable[str | Path],
    decoder: Decoder,
    *,
    choices: bool = False,
    chunk_frames: int = CHUNK_FRAMES,
    progress: ProgressCallback | None = None,
    totals: LogDecoding | None = None,
    skip_bad_lines: bool = False,
) -> Iterator[DecodeResult]:
    """Decode each log in turn, one DecodeResult per chunk of frames.

    Every path is recognised before any is read, so a typo fails fast. ``totals``, when
    given, accumulates the logs' problems and the decode counts as chunks go by.
    """
    logs = [open_log(p, skip_bad_lines=skip_bad_lines) for p in paths]
    for log in logs:
        if totals is not None:
            totals.logs.append(log)
        for batch in log.batches(chunk_frames, progress):
            result = decoder.decode(batch, choices=choices)
            if totals is not None:
                totals.stats.add(result.stats)
            yield result


def decode_stream(
    stream: BinaryIO,
    decoder: Decoder,
    *,
    choices: bool = False,
    name: str = "stdin",
    totals: LogDecoding | None = None,
) -> Iterator[DecodeResult]:
    """Decode candump output read from ``stream`` (keilog.decode.candump), one
    DecodeResult per read, so a live pipe's frames come out as they arrive."""
    for batch in read_candump(stream, name):
        result = decoder.decode(batch, choices=choices)
        if totals is not None:
            totals.stats.add(result.stats)
        yield result
