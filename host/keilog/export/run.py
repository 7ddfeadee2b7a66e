"""Dispatch an export by the output's extension; report progress through a callback."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keilog.export.archive import ARCHIVE_SUFFIX, write_archive
from keilog.export.canlogs import CAN_LOG_SUFFIXES, MF4_SUFFIX, write_can_log, write_mf4
from keilog.export.source import ExportError, frame_chunks, select
from keilog.outputs import check_parent, undo_on_failure
from keilog.progress import RateEta

MAP_SUFFIXES = (".gpx", ".geojson", ".kml")
FORMATS = (*CAN_LOG_SUFFIXES, MF4_SUFFIX, ARCHIVE_SUFFIX, *MAP_SUFFIXES)


@dataclass
class ExportProgress(RateEta):
    """How far an export has got: passed to progress callbacks."""

    path: Path
    frames: int  # frames written so far
    total: int  # frames to write (at most: a trip's window may hold fewer)
    seconds: float

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.frames / self.total) if self.total else None


@dataclass
class ExportResult:
    out: Path
    format: str
    trip: int | None
    frames: int = 0
    tables: dict[str, int] = field(default_factory=dict)  # rows per table (Parquet archive)
    files: int = 0  # files written (Parquet archive)
    bytes: int = 0  # bytes written (Parquet archive)
    map: dict[str, Any] | None = None  # what keilog.export.maps wrote
    signals: list[dict[str, Any]] = field(default_factory=list)  # name, unit, samples
    samples: int = 0  # signal values written (signals)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "format": self.format,
            "trip": self.trip,
            "frames": self.frames,
            "tables": self.tables,
            "files": self.files,
            "bytes": self.bytes,
            "map": self.map,
            "signals": self.signals,
            "samples": self.samples,
        }


def export(
    db_path: str | Path,
    to: str | Path,
    trip: int | None = None,
    progress: Callable[[ExportProgress], None] | None = None,
    check: Any = None,
    signals: Sequence[str] | None = None,
    start: float | None = None,
    end: float | None = None,
    force: bool = False,
) -> ExportResult:
    """Write the database (or trip number ``trip``) to ``to``, in the format its
    extension names. ``check`` (a keilog check result) adds violations to maps.

    With ``signals`` (names; empty for every signal): decoded signals with units
    instead of frames, to .csv or .mf4 (keilog.export.signals), within the trip and/or
    the UTC window ``start``..``end``.

    ``.parquet`` writes the analytics archive (keilog.export.archive), refusing to
    replace an existing one unless ``force``."""
    from keilog import store

    db_path, out = Path(db_path), check_parent(to, "--to")
    suffix = out.suffix.lower()
    if signals is not None:
        return _export_signals(db_path, out, signals, trip, start, end)
    if start is not None or end is not None:
        raise ExportError("a time window (--from/--until) is for --signals exports only")
    if suffix not in FORMATS:
        raise ExportError(
            f"{out}: unknown export format {suffix or '(no extension)'}; use one of "
            f"{', '.join(FORMATS)}"
        )
    if not db_path.is_file():
        raise ExportError(f"{db_path}: no such database; create it with keilog import")
    if suffix in MAP_SUFFIXES:
        from keilog.export.maps import export_map

        written = export_map(db_path, out, trip=trip, all_trips=trip is None, check=check)
        return ExportResult(out, suffix[1:], trip, map=written.to_dict())
    db = store.open_db(db_path)
    sel = select(db, trip)
    started = time.perf_counter()
    counter = [0]

    def done(n: int) -> None:
        counter[0] += n
        if progress is not None:
            elapsed = time.perf_counter() - started
            progress(ExportProgress(out, counter[0], sel.estimate, elapsed))

    result = ExportResult(out, suffix[1:], trip)
    try:
        if suffix == ARCHIVE_SUFFIX:
            archived = write_archive(db, out, trip, force, done)
            result.tables, result.frames = archived.tables, archived.frames
            result.files, result.bytes = archived.files, archived.bytes
        elif suffix == MF4_SUFFIX:
            result.frames = write_mf4(out, frame_chunks(db, sel), done)
        else:
            result.frames = write_can_log(out, frame_chunks(db, sel), done)
    except OSError as exc:
        raise ExportError(f"{out}: cannot write: {exc.strerror or exc}") from exc
    return result


def _export_signals(
    db_path: Path,
    out: Path,
    names: Sequence[str],
    trip: int | None,
    start: float | None,
    end: float | None,
) -> ExportResult:
    from keilog import store
    from keilog.export.signals import export_signals

    if not db_path.is_file():
        raise ExportError(f"{db_path}: no such database; create it with keilog import")
    db = store.open_db(db_path)
    with undo_on_failure(out):
        try:
            series, samples = export_signals(db, out, names, trip, start, end)
        except OSError as exc:
            raise ExportError(f"{out}: cannot write: {exc.strerror or exc}") from exc
    result = ExportResult(out, out.suffix.lower()[1:], trip, samples=samples)
    result.signals = [{"name": s.name, "unit": s.unit, "samples": len(s.t)} for s in series]
    return result
