"""The analytics archive: a database as a Parquet dataset that DuckDB, Spark and pandas read.

``keilog export --db trips.db --to drive.parquet`` writes a folder (docs/archive.md)::

    drive.parquet/archive.json                                   what was written
    drive.parquet/frames/device=KEI00001/date=2026-06-01/trip-3.parquet
    drive.parquet/msg_VEHICLE_SPEED/device=KEI00001/date=2026-06-01/trip-3.parquet
    drive.parquet/gps_fixes/device=.../date=.../trip-3.parquet
    drive.parquet/trips/device=.../date=.../trip-3.parquet

One folder per table, Hive-partitioned by device (percent-encoded, as the fleet lake
does) and the UTC date the trip started; one file per trip, so a trip never spans files
and ``date`` is the trip's day. Every table has ``time`` (``timestamp[us, UTC]``: int64
microseconds; logger time since boot, shown from 1970-01-01, for a boot without a
clock) and ``trip``.

- ``frames``: the raw CAN frames, compact: ``arbitration_id`` uint32, ``dlc`` uint8,
  ``data`` binary (classic and FD), the six python-can flags as booleans. Rows are
  sorted by (arbitration_id, time) within a row group, so one id's frames are adjacent
  (they compress together, and the id statistics let a reader skip the rest).
- ``msg_<MESSAGE>``: one table per decoded message, a typed column per signal (int64
  for integer signals, float64 for the others; null where the signal is absent), its
  unit and comment in the field's metadata (``unit``).
- ``gps_fixes``: the trip's fixes; ``trips``: one row per trip.

Encodings (measured in bench/export.py, ``archive_bytes_per_frame``): zstd, time
delta-encoded (``DELTA_BINARY_PACKED``; dictionaries of unique timestamps only cost
bytes), ``data`` as ``DELTA_LENGTH_BYTE_ARRAY``, dictionaries for ids and signal values.

Frames are read through keilog.export.source (``select``/``frame_chunks``) and signals
through keilog.export.signals, never from the store's tables directly. The folder is
written beside its final place and renamed into it: an error leaves nothing half-made,
and an existing archive is replaced only with ``force``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from keilog.export.signals import SignalSeries, available, read_signals, window
from keilog.export.source import ExportError, frame_chunks, select
from keilog.store.fixes import read_fixes
from keilog.store.names import file_name
from keilog.store.trips import Trip, list_trips

ARCHIVE_SUFFIX = ".parquet"
MANIFEST = "archive.json"
ARCHIVE_FORMAT = 1
INSTALL_HINT = "pyarrow is not installed; install it with: pip install 'keilog[parquet]'"
ROW_GROUP_ROWS = 1 << 20  # frames sorted and written together; bounds the memory used
ZSTD_LEVEL = 9  # bench/export.py: past 9 the archive shrinks < 1% and writes slower
LEAD = ("time", "trip")
FLAGS = (
    "is_extended", "is_remote", "is_error", "is_fd", "bitrate_switch", "error_state_indicator",
)  # fmt: skip


@dataclass
class ArchiveResult:
    """What an archive holds: rows per table, files and bytes written, trips."""

    tables: dict[str, int] = field(default_factory=dict)
    trips: list[int] = field(default_factory=list)
    files: int = 0
    bytes: int = 0

    @property
    def frames(self) -> int:
        return self.tables.get("frames", 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": ARCHIVE_FORMAT,
            "tables": self.tables,
            "trips": self.trips,
            "files": self.files,
            "bytes": self.bytes,
        }


def pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ExportError(INSTALL_HINT) from exc
    return pa, pq


def partition(device_id: str, start: float) -> str:
    """``device=<id>/date=<YYYY-MM-DD>``: the id percent-encoded as Hive does, the UTC
    date of ``start`` (logger seconds from 1970-01-01 for a boot without a clock)."""
    day = dt.datetime.fromtimestamp(start, dt.UTC).date().isoformat()
    return f"device={urllib.parse.quote(device_id, safe='')}/date={day}"


def write_archive(
    db: sqlite_utils.Database,
    out: Path,
    trip: int | None = None,
    force: bool = False,
    done: Callable[[int], None] | None = None,
) -> ArchiveResult:
    """Write the database's trips (or trip number ``trip``) as an archive at ``out``."""
    pa, pq = pyarrow()
    _check_target(out, force)
    trips = list_trips(db)
    if trip is not None:
        trips = [t for t in trips if t.id == trip]
        if not trips:
            select(db, trip)  # raises the one message for a trip that does not exist
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the archive is not
        writer = _Writer(pa, pq, tmp)
        messages = _message_folders(db)
        for t in trips:
            writer.trip(db, t, messages, done)
        result = writer.result
        result.trips = [t.id for t in trips]
        (tmp / MANIFEST).write_text(json.dumps(result.to_dict(), indent=1) + "\n")
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def _check_target(out: Path, force: bool) -> None:
    if not out.exists() and not out.is_symlink():
        return
    if not force:
        raise ExportError(f"{out}: exists; give --force to replace it, or another --to path")
    is_archive = out.is_dir() and (
        (out / MANIFEST).is_file() or not any(out.iterdir())
    )  # fmt: skip
    if not is_archive:
        raise ExportError(
            f"{out}: exists and is not a keilog archive (no {MANIFEST}); --force replaces "
            "only an archive: remove it yourself or give another --to path"
        )


def _swap(tmp: Path, out: Path) -> None:
    """Rename the finished folder into place; an old archive goes only once it has."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.replace(out, old / "archive")
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old / "archive", out)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _message_folders(db: sqlite_utils.Database) -> dict[str, str]:
    """The folder of each decoded message: ``msg_<MESSAGE>`` made a safe file name, the
    first free one when case is ignored (a DBC may name messages ``a/b`` and ``A_B``)."""
    taken = {"frames", "gps_fixes", "trips"}
    folders: dict[str, str] = {}
    for message in dict.fromkeys(m for m, _, _ in available(db)):
        folders[message] = _free(file_name(f"msg_{message}"), taken)
    return folders


def _free(name: str, taken: set[str]) -> str:
    out, n = name, 1
    while out.lower() in taken:
        n += 1
        out = f"{name}_{n}"
    taken.add(out.lower())
    return out


class _Writer:
    """Writes one trip's files into each table's partition folder."""

    def __init__(self, pa: Any, pq: Any, root: Path) -> None:
        self.pa, self.pq, self.root = pa, pq, root
        self.result = ArchiveResult()
        self.time = pa.timestamp("us", tz="UTC")
        self.frames_schema = pa.schema(
            [
                ("time", self.time),
                ("trip", pa.int32()),
                ("arbitration_id", pa.uint32()),
                ("dlc", pa.uint8()),
                ("data", pa.binary()),
                *[(f, pa.bool_()) for f in FLAGS],
            ]
        )

    def _open(
        self, table: str, part: str, trip: int, schema: Any, dictionary: Sequence[str]
    ) -> Any:
        folder = self.root / table / part
        folder.mkdir(parents=True, exist_ok=True)
        encodings = {"time": "DELTA_BINARY_PACKED"}
        if table == "frames":
            encodings["data"] = "DELTA_LENGTH_BYTE_ARRAY"
        return self.pq.ParquetWriter(
            str(folder / f"trip-{trip}.parquet"),
            schema,
            compression="zstd",
            compression_level=ZSTD_LEVEL,
            use_dictionary=list(dictionary),
            column_encoding=encodings,
            write_page_index=True,
        )

    def _close(self, writer: Any, table: str, rows: int) -> None:
        writer.close()
        self.result.tables[table] = self.result.tables.get(table, 0) + rows
        self.result.files += 1
        self.result.bytes += os.path.getsize(writer.where)  # the path given

    def trip(
        self,
        db: sqlite_utils.Database,
        trip: Trip,
        messages: dict[str, str],
        done: Callable[[int], None] | None,
    ) -> None:
        part = partition(trip.device_id, trip.start)
        self._frames(db, trip, part, done)
        where = window(db, trip.id)
        chosen = [k for k in available(db) if k[0] in messages]
        by_message: dict[str, list[SignalSeries]] = {}
        for s in read_signals(db, chosen, where):
            by_message.setdefault(s.message, []).append(s)
        for message, series in by_message.items():
            self._signals(messages[message], part, trip.id, series)
        self._fixes(db, trip, part)
        self._trip_row(trip, part)

    def _frames(
        self, db: sqlite_utils.Database, trip: Trip, part: str, done: Callable[[int], None] | None
    ) -> None:
        pa = self.pa
        writer = None
        pending: list[Any] = []
        rows = held = 0

        def flush() -> None:
            nonlocal writer, held
            if writer is None:
                writer = self._open(
                    "frames", part, trip.id, self.frames_schema, ("arbitration_id", "dlc", "trip")
                )
            group = pa.concat_tables(pending).sort_by(
                [("arbitration_id", "ascending"), ("time", "ascending")]
            )
            writer.write_table(group, row_group_size=ROW_GROUP_ROWS)
            pending.clear()
            held = 0

        for chunk in frame_chunks(db, select(db, trip.id)):
            n = len(chunk)
            columns = [
                pa.array(_micros(chunk.timestamp), self.time),
                pa.array(np.full(n, trip.id, np.int32)),
                pa.array(chunk.arbitration_id, pa.uint32()),
                pa.array(chunk.dlc, pa.uint8()),
                pa.array(chunk.data, pa.binary()),
                *[pa.array(getattr(chunk, f)) for f in FLAGS],
            ]
            pending.append(pa.Table.from_arrays(columns, schema=self.frames_schema))
            rows += n
            held += n
            if held >= ROW_GROUP_ROWS:
                flush()
            if done is not None:
                done(n)
        if pending:
            flush()
        if writer is not None:
            self._close(writer, "frames", rows)

    def _signals(self, folder: str, part: str, trip: int, series: list[SignalSeries]) -> None:
        pa = self.pa
        rows = len(series[0].t)
        if not rows:
            return
        taken = {c.lower() for c in LEAD}
        fields = [pa.field("time", self.time), pa.field("trip", pa.int32())]
        arrays = [
            pa.array(_micros(series[0].t), self.time),
            pa.array(np.full(rows, trip, np.int32)),
        ]
        for s in series:
            meta = {"unit": s.unit, "message": s.message, "signal": s.signal}
            absent = np.isnan(s.v)
            if s.integer:
                values = pa.array(
                    np.where(absent, 0, s.v).astype(np.int64), pa.int64(), mask=absent
                )
            else:
                values = pa.array(s.v, pa.float64())
            fields.append(pa.field(_free(s.signal, taken), values.type, metadata=meta))
            arrays.append(values)
        schema = _with_units(pa.schema(fields))
        writer = self._open(
            folder, part, trip, schema, [f.name for f in fields if f.name != "time"]
        )
        writer.write_table(
            pa.Table.from_arrays(arrays, schema=schema), row_group_size=ROW_GROUP_ROWS
        )
        self._close(writer, folder, rows)

    def _fixes(self, db: sqlite_utils.Database, trip: Trip, part: str) -> None:
        pa = self.pa
        fixes = read_fixes(db, trip)
        if not len(fixes):
            return
        units = {"lat": "deg", "lon": "deg", "alt_m": "m", "speed_mps": "m/s", "course_deg": "deg"}
        fields = [pa.field("time", self.time), pa.field("trip", pa.int32())]
        fields += [pa.field(c, pa.float64(), metadata={"unit": u}) for c, u in units.items()]
        fields.append(pa.field("quality", pa.uint8()))
        arrays = [
            pa.array(_micros(fixes.t), self.time),
            pa.array(np.full(len(fixes), trip.id, np.int32)),
            *[pa.array(getattr(fixes, c), pa.float64()) for c in units],
            pa.array(fixes.quality.astype(np.uint8)),
        ]
        schema = _with_units(pa.schema(fields))
        writer = self._open("gps_fixes", part, trip.id, schema, ["trip", "quality"])
        writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
        self._close(writer, "gps_fixes", len(fixes))

    def _trip_row(self, trip: Trip, part: str) -> None:
        pa = self.pa
        schema = pa.schema(
            [
                ("time", self.time),
                ("trip", pa.int32()),
                ("boot", pa.int64()),
                ("end", self.time),
                pa.field("duration_s", pa.float64(), metadata={"unit": "s"}),
                ("frames", pa.int64()),
                ("gps_fixes", pa.int64()),
            ]
        )
        values = [
            _micros([trip.start]), [trip.id], [trip.boot], _micros([trip.end]),
            [trip.duration_s], [trip.frames], [trip.gps_fixes],
        ]  # fmt: skip
        row = pa.Table.from_arrays(
            [pa.array(v, f.type) for v, f in zip(values, schema, strict=True)], schema=schema
        )
        writer = self._open("trips", part, trip.id, schema, [])
        writer.write_table(row)
        self._close(writer, "trips", 1)


def _with_units(schema: Any) -> Any:
    """The units also as one file-level key (``keilog.units``: JSON column -> unit), which
    DuckDB shows (``parquet_kv_metadata``); field metadata only pyarrow and Spark read."""
    units = {f.name: f.metadata[b"unit"].decode() for f in schema if f.metadata}
    return schema.with_metadata({"keilog.units": json.dumps(units)})


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _micros(seconds: Any) -> Any:
    """Seconds (float64) as int64 microseconds, rounded: a float64 UTC time holds the
    logger's microsecond exactly."""
    return np.rint(np.asarray(seconds, np.float64) * 1e6).astype(np.int64)
