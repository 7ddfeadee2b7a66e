"""The SQLite store: idempotent, atomic, bulk import of log segments and other logs.

Schema (keilog.store.schema, docs/database.md): ``devices``, ``segments`` (one row per
imported segment or log file, keyed by the SHA-256 of its bytes), ``frames`` (raw CAN
frames, compact), ``gps_fixes``, ``events``, ``clock_anchors``, ``signals`` (units and
comments from the DBC), one table ``msg_<MESSAGE>`` per decoded DBC message with a
column per signal, and ``trips`` (kept up to date by keilog.store.trips).

Importing a segment is one transaction: a crash mid-import leaves the database as it
was before that segment, and importing the same bytes again changes nothing. Segments
are read into columns (keilog.logformat.columns) and stored in chunks of frames, so memory
stays bounded whatever the log's size.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cantools.database
import numpy as np
import sqlite_utils
from numpy.typing import NDArray

from keilog.decode import Decoder, FrameBatch, open_log
from keilog.decode.dbc import inputs_database
from keilog.decode.logs import CanLog, Progress, ProgressCallback
from keilog.errors import LogFormatError, StoreError
from keilog.logformat.clock import Clock
from keilog.logformat.columns import (
    CanColumns,
    SegmentColumns,
    read_columns,
    segment_clock,
    utc_seconds,
)
from keilog.logformat.reader import CanFrame, Event, GpsFix, InputFrame, Segment
from keilog.outputs import check_parent, undo_on_failure
from keilog.store import trips as dbtrips
from keilog.store.bulk import insert_columns
from keilog.store.decoded import message_rows
from keilog.store.schema import ensure_message_table, ensure_schema, message_table

__all__ = [
    "SegmentImport",
    "ensure_schema",
    "import_files",
    "import_log",
    "import_segment",
    "message_table",
    "open_db",
]

FilesProgress = Callable[[int, int], None]
CHUNK_FRAMES = 32_768  # frames per insert batch: bounds the Python objects alive at once

# One compiled decoder per cantools database (compiling a large DBC takes milliseconds,
# a segment import may be far shorter).
_DECODERS: weakref.WeakKeyDictionary[cantools.database.Database, Decoder] = (
    weakref.WeakKeyDictionary()
)

_FRAME_COLUMNS = (
    "id", "segment", "mono_us", "timestamp", "arbitration_id", "is_extended", "is_remote",
    "is_error", "is_fd", "bitrate_switch", "error_state_indicator", "dlc", "data",
)  # fmt: skip


@dataclass
class SegmentImport:
    """What happened to one segment (or log file)."""

    path: str
    sha256: str
    status: str  # "imported" or "already imported"
    frames: int = 0
    decoded: int = 0
    gps_fixes: int = 0
    events: int = 0
    damage: list[str] = field(default_factory=list)


def open_db(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) a keilog database with its schema in place."""
    check_parent(path, "--db")
    try:
        db = sqlite_utils.Database(str(path))
        db.execute("select count(*) from sqlite_master")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable SQLite database: {exc}") from exc
    ensure_schema(db)
    return db


def _imported(db: sqlite_utils.Database, sha: str) -> bool:
    return db.execute("select 1 from segments where sha256 = ?", [sha]).fetchone() is not None


def import_segment(
    db: sqlite_utils.Database,
    data: bytes,
    name: str,
    can_db: cantools.database.Database | None = None,
    on_frames: Callable[[int, int], None] | None = None,
) -> SegmentImport:
    """Import one segment's bytes. Idempotent (by SHA-256) and atomic.

    ``on_frames(stored, total)`` is called after each chunk of frames is stored.
    """
    sha = hashlib.sha256(data).hexdigest()
    if _imported(db, sha):
        return SegmentImport(name, sha, "already imported")
    cols = read_columns(data)
    cols.name = name
    if cols.header is None and cols.blocks == 0:
        first = f" ({cols.damage[0]})" if cols.damage else ""
        raise LogFormatError(
            f"{name}: not a keilog log segment: no readable block in {len(data)} bytes{first}; "
            "nothing was imported from it"
        )
    return _store_columns(db, cols, sha, name, can_db, on_frames)


def _store_segment(
    db: sqlite_utils.Database,
    seg: Segment,
    sha: str,
    name: str,
    can_db: cantools.database.Database | None,
) -> SegmentImport:
    """Import a segment whose records were read or built as objects."""
    return _store_columns(db, SegmentColumns.from_segment(seg), sha, name, can_db, None)


def _store_columns(
    db: sqlite_utils.Database,
    cols: SegmentColumns,
    sha: str,
    name: str,
    can_db: cantools.database.Database | None,
    on_frames: Callable[[int, int], None] | None,
) -> SegmentImport:
    result = SegmentImport(name, sha, "imported", damage=[str(d) for d in cols.damage])
    header = cols.header
    device_id = header.device_id if header else "unknown"
    boot = header.boot if header else 0
    conn = db.conn
    can = cols.can
    with db.atomic():  # one transaction per segment
        clock = segment_clock(cols, _known_points(conn, device_id, boot))
        segment = _next_id(conn, "segments")
        first_frame = _next_id(conn, "frames")
        utc = utc_seconds(can.mono_us, clock)
        for start in range(0, len(can), CHUNK_FRAMES):
            part = can.take(slice(start, start + CHUNK_FRAMES))
            ts = None if utc is None else utc[start : start + CHUNK_FRAMES]
            batch = _batch(part, ts)
            _insert_frames(conn, first_frame + start, segment, batch, part.mono_us)
            if can_db is not None:
                result.decoded += _write_decoded(
                    db, can_db, batch, first_frame + start, device_id, boot, part.mono_us
                )
            if on_frames:
                on_frames(start + len(part), len(can))
        inputs = [r for r in cols.others if isinstance(r, InputFrame)]
        if inputs:
            result.decoded += _write_inputs(db, inputs, clock, device_id, boot)
        key = (segment, device_id, boot)
        fixes = [r for r in cols.others if isinstance(r, GpsFix)]
        events = [r for r in cols.others if isinstance(r, Event)]
        fix_utc = _utc_list([f.mono_us for f in fixes], clock)
        event_utc = _utc_list([e.mono_us for e in events], clock)
        conn.executemany(
            "insert into gps_fixes (segment, device_id, boot, mono_us, timestamp, utc, lat, "
            "lon, alt_m, speed_mps, course_deg, quality, satellites, hdop) "
            "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (*key, r.mono_us, t, r.utc_us / 1e6 if r.utc_us else None, r.lat, r.lon,
                 r.alt_m, r.speed_mps, r.course_deg, r.quality, r.satellites, r.hdop)
                for r, t in zip(fixes, fix_utc, strict=True)
            ],
        )  # fmt: skip
        conn.executemany(
            "insert into events (segment, device_id, boot, mono_us, timestamp, kind, code, "
            "value) values (?,?,?,?,?,?,?,?)",
            [
                (*key, r.mono_us, t, r.kind, r.code, r.value)
                for r, t in zip(events, event_utc, strict=True)
            ],
        )
        conn.executemany(
            "insert into clock_anchors (segment, device_id, boot, mono_us, utc_us, source) "
            "values (?,?,?,?,?,?)",
            [(*key, a.mono_us, a.utc_us, a.source) for a in cols.anchors],
        )
        result.frames, result.gps_fixes, result.events = len(can), len(fixes), len(events)
        spans = dbtrips.segment_spans(
            can.mono_us,
            _fix_columns(fixes),
            [(e.mono_us, e.kind) for e in events if e.kind in dbtrips.ENDING_EVENTS],
        )
        dbtrips.store_spans(conn, segment, device_id, boot, "mono", spans, clock.utc_one)
        monos = [r.mono_us for r in cols.others if r.mono_us is not None]
        if len(can):
            monos += [int(can.mono_us.min()), int(can.mono_us.max())]
        span_utc = _utc_list([min(monos), max(monos)] if monos else [], clock)
        _insert_segment(
            conn,
            segment,
            sha,
            name,
            _device(conn, device_id, header.firmware if header else None),
            boot,
            header.seq if header else None,
            cols.blocks,
            first_frame if len(can) else None,
            result,
            span_utc or [None, None],
        )
        dbtrips.rebuild_trips(conn, device_id, boot)
    return result


def _insert_segment(
    conn: sqlite3.Connection,
    segment: int,
    sha: str,
    name: str,
    device: int,
    boot: int,
    seq: int | None,
    blocks: int,
    first_frame: int | None,
    result: SegmentImport,
    span_utc: list[float | None],
) -> None:
    conn.execute(
        "insert into segments (id, sha256, name, device, boot, seq, blocks, first_frame, "
        'frames, gps_fixes, events, start, "end", damage, imported_at) '
        "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            segment,
            sha,
            name,
            device,
            boot,
            seq,
            blocks,
            first_frame,
            result.frames,
            result.gps_fixes,
            result.events,
            span_utc[0],
            span_utc[-1],
            "\n".join(result.damage),
            dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        ),
    )
    first, last = span_utc[0], span_utc[-1]
    if first is not None and last is not None:
        conn.execute(
            "update devices set first_seen = min(coalesce(first_seen, ?), ?), "
            "last_seen = max(coalesce(last_seen, ?), ?) where id = ?",
            (first, first, last, last, device),
        )


def _device(conn: sqlite3.Connection, device_id: str, firmware: tuple[int, ...] | None) -> int:
    """The devices.id of a device, added on first sight; its latest firmware noted."""
    version = ".".join(map(str, firmware)) if firmware else None
    row = conn.execute("select id from devices where device_id = ?", (device_id,)).fetchone()
    if row is None:
        cur = conn.execute(
            "insert into devices (device_id, firmware) values (?, ?)", (device_id, version)
        )
        return int(cur.lastrowid or 0)
    if version:
        conn.execute("update devices set firmware = ? where id = ?", (version, row[0]))
    return int(row[0])


def _known_points(conn: sqlite3.Connection, device: str, boot: int) -> list[tuple[int, int, str]]:
    """The clock reference points of a boot in segments imported before: clock anchors
    and GPS fixes with a time (keilog.logformat.reader.clock_points)."""
    rows = conn.execute(
        "select mono_us, utc_us, source from clock_anchors where device_id = ? and boot = ?",
        (device, boot),
    ).fetchall()
    fixes = conn.execute(
        "select mono_us, utc from gps_fixes where device_id = ? and boot = ? and utc is not "
        "null and quality > 0",
        (device, boot),
    ).fetchall()
    return [(m, u, s) for m, u, s in rows] + [(m, round(u * 1e6), "gps") for m, u in fixes]


def _utc_list(monos: list[int], clock: Clock) -> list[float | None]:
    utc = utc_seconds(np.array(monos, np.int64), clock)
    return [None] * len(monos) if utc is None else utc.tolist()


def _fix_columns(fixes: list[GpsFix]) -> dbtrips.Fixes:
    def column(values: list[float | None]) -> NDArray[np.float64]:
        return np.array([np.nan if v is None else v for v in values], np.float64)

    return dbtrips.Fixes(
        np.array([f.mono_us for f in fixes], np.int64),
        column([f.lat for f in fixes]),
        column([f.lon for f in fixes]),
        column([f.speed_mps for f in fixes]),
        np.array([f.quality for f in fixes], np.int64),
    )


def _next_id(conn: sqlite3.Connection, table: str) -> int:
    row = conn.execute(f"select coalesce(max(id), 0) from [{table}]").fetchone()
    return int(row[0]) + 1


def _batch(part: CanColumns, utc: NDArray[np.float64] | None) -> FrameBatch:
    """Decoder columns for segment frames; NaN timestamps (stored as NULL) without a clock."""
    return FrameBatch(
        timestamp=np.full(len(part), np.nan) if utc is None else utc,
        arbitration_id=part.arbitration_id,
        is_extended=part.is_extended,
        dlc=part.dlc,
        data=part.data,
        is_remote=part.is_remote,
        is_error=part.is_error,
    )


def _payloads(batch: FrameBatch) -> list[bytes]:
    """Each frame's data bytes (none for remote frames) as one bytes object per frame."""
    lengths = np.where(batch.flag("is_remote"), 0, batch.dlc)
    sizes = np.unique(lengths)
    if len(sizes) == 1:
        return _fixed_bytes(batch.data, int(sizes[0]))
    out = np.empty(len(batch), object)
    for size in sizes.tolist():
        rows = np.flatnonzero(lengths == size)
        out[rows] = _fixed_bytes(batch.data[rows], size)
    return list(out.tolist())


def _fixed_bytes(data: NDArray[np.uint8], size: int) -> list[bytes]:
    """The first ``size`` bytes of each row (numpy's void view: no Python loop)."""
    if size == 0:
        return [b""] * len(data)
    return list(np.ascontiguousarray(data[:, :size]).view(f"V{size}").ravel().tolist())


def _insert_frames(
    conn: sqlite3.Connection,
    first_id: int,
    segment: int,
    batch: FrameBatch,
    mono_us: NDArray[np.int64] | None,
) -> None:
    n = len(batch)
    columns: list[Iterable[Any]] = [
        list(range(first_id, first_id + n)),
        [segment] * n,
        [None] * n if mono_us is None else mono_us.tolist(),
        batch.timestamp.tolist(),  # NaN (no clock) is stored as NULL by SQLite
        batch.arbitration_id.tolist(),
        batch.is_extended.view(np.uint8).tolist(),
        *(_flag_column(batch, name, n) for name in _FLAG_COLUMNS),
        batch.dlc.tolist(),
        _payloads(batch),
    ]
    insert_columns(conn, "frames", _FRAME_COLUMNS, columns, n)


_FLAG_COLUMNS = ("is_remote", "is_error", "is_fd", "bitrate_switch", "error_state_indicator")


def _flag_column(batch: FrameBatch, name: str, n: int) -> list[int]:
    value = getattr(batch, name)
    return [0] * n if value is None else list(value.view(np.uint8).tolist())


def _decoder(can_db: cantools.database.Database) -> Decoder:
    decoder = _DECODERS.get(can_db)
    if decoder is None:
        decoder = _DECODERS[can_db] = Decoder(can_db)
    return decoder


def _write_decoded(
    db: sqlite_utils.Database,
    can_db: cantools.database.Database,
    batch: FrameBatch,
    first_id: int,
    device: str,
    boot: int,
    mono_us: NDArray[np.int64] | None,
) -> int:
    """Decode a batch (vectorised) and insert its rows into the msg_ tables."""
    result = _decoder(can_db).decode(batch)
    frame_ids = np.arange(first_id, first_id + len(batch), dtype=np.int64)
    written = 0
    for part in message_rows(result, frame_ids, device, boot, mono_us):
        table = ensure_message_table(db, can_db.get_message_by_name(part.message))
        insert_columns(db.conn, table, part.columns, part.values, part.count)
        written += part.count
    return written


def _write_inputs(
    db: sqlite_utils.Database,
    inputs: list[InputFrame],
    clock: Clock,
    device: str,
    boot: int,
) -> int:
    """Decode the logger's input records with dbc/keilog_inputs.dbc into their
    ``msg_INPUT_*`` tables: the one path every decoded signal takes. They have no raw
    CAN frame (``frames`` is the car's bus), so each row's ``frame_id`` is its own id."""
    inputs_db = inputs_database()
    part = CanColumns.from_frames(
        [CanFrame(r.mono_us, r.message_id, False, False, False, 8, r.data) for r in inputs]
    )
    batch = _batch(part, utc_seconds(part.mono_us, clock))
    result = _decoder(inputs_db).decode(batch)
    written = 0
    for rows in message_rows(result, np.zeros(len(batch), np.int64), device, boot, part.mono_us):
        table = ensure_message_table(
            db, inputs_db.get_message_by_name(rows.message), raw_frames=False
        )
        last = db.conn.execute(f"select coalesce(max(frame_id), 0) from [{table}]").fetchone()
        rows.values[0] = range(int(last[0]) + 1, int(last[0]) + 1 + rows.count)
        insert_columns(db.conn, table, rows.columns, rows.values, rows.count)
        written += rows.count
    return written


def import_log(
    db: sqlite_utils.Database,
    path: str | Path,
    can_db: cantools.database.Database | None = None,
    progress: ProgressCallback | None = None,
) -> SegmentImport:
    """Import a log of another logger (any format ``keilog decode`` reads).

    Like a segment: idempotent (by the SHA-256 of the file) and atomic (one transaction
    for the whole file), streamed in chunks of frames so memory stays bounded. The log
    is recorded in ``segments`` with device ``"<format> log"`` and boot 0; its trips
    split at gaps on the log's own time base.
    """
    log = open_log(path)
    p = Path(path)
    sha = _file_sha256(p)
    if _imported(db, sha):
        return SegmentImport(p.name, sha, "already imported")
    result = SegmentImport(p.name, sha, "imported")
    device_id = f"{log.format} log"
    conn = db.conn
    span_points: list[tuple[NDArray[np.int64], NDArray[np.int64]]] = []
    first_ts: float | None = None
    last_ts: float | None = None
    with db.atomic():
        segment = _next_id(conn, "segments")
        first_frame = fid = _next_id(conn, "frames")
        for batch in log.batches(chunk_frames=CHUNK_FRAMES, progress=progress):
            n = len(batch)
            _insert_frames(conn, fid, segment, batch, None)
            if can_db is not None:
                result.decoded += _write_decoded(db, can_db, batch, fid, device_id, 0, None)
            finite = batch.timestamp[np.isfinite(batch.timestamp)]
            if len(finite):
                span_points.append(_activity(np.round(finite * 1e6).astype(np.int64)))
                lo, hi = float(finite.min()), float(finite.max())
                first_ts = lo if first_ts is None else min(first_ts, lo)
                last_ts = hi if last_ts is None else max(last_ts, hi)
            fid += n
            result.frames += n
        result.damage = list(log.problems)
        times = (
            np.concatenate([t for t, _ in span_points]) if span_points else np.zeros(0, np.int64)
        )
        weights = np.concatenate([w for _, w in span_points]) if span_points else None
        spans = dbtrips.segment_spans(times, dbtrips.Fixes.empty(), [], frame_weights=weights)
        dbtrips.store_spans(conn, segment, device_id, 0, "log", spans, lambda t: t / 1e6)
        _insert_segment(
            conn, segment, sha, p.name, _device(conn, device_id, None), 0, None, 0,
            first_frame if result.frames else None, result, [first_ts, last_ts],
        )  # fmt: skip
        dbtrips.rebuild_trips(conn, device_id, 0)
    return result


def _activity(t_us: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """A log chunk's frame times as trip-span points: per second of activity, its first
    time (weighing as many frames as the second has) and its last time (weighing none).

    Spans only need where activity starts, stops and pauses, and how many frames each
    part has; two points per second keep that exact and a long log's memory small.
    """
    t = np.sort(t_us)
    second = t // 1_000_000
    starts = np.flatnonzero(np.r_[True, second[1:] != second[:-1]])
    ends = np.r_[starts[1:], len(t)] - 1
    times = np.concatenate([t[starts], t[ends]])
    weights = np.concatenate([ends - starts + 1, np.zeros(len(ends), np.int64)])
    return times, weights


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise StoreError(f"{path}: cannot read: {exc.strerror}") from exc
    return digest.hexdigest()


def import_files(
    db_path: str | Path,
    paths: Sequence[str | Path],
    can_db: cantools.database.Database | None = None,
    progress: FilesProgress | None = None,
    frame_progress: ProgressCallback | None = None,
) -> list[SegmentImport]:
    """Import segment files (or folders of them) and other loggers' logs, in order.

    Logs of other loggers (candump, ASC, BLF, TRC, CSV, MF4: any format ``keilog
    decode`` reads) are imported with :func:`import_log`. ``progress(done, total)`` is
    called after each file; ``frame_progress`` with a :class:`Progress` over the whole
    import (frames so far, bytes of the files so far, rate and ETA) as chunks are stored.
    """
    files = _expand(paths)
    logs = [open_log(path) for path in files]  # every input recognised before the database
    # A database this run creates is removed if the run fails before storing any file.
    with undo_on_failure(db_path, keep_if=lambda: _holds_imports(db_path)):
        db = open_db(db_path)
        try:
            return _import_all(db, db_path, logs, can_db, progress, frame_progress)
        finally:
            db.close()


def _holds_imports(db_path: str | Path) -> bool:
    try:
        uri = Path(db_path).resolve().as_uri() + "?mode=ro"
        with sqlite3.connect(uri, uri=True) as conn:
            return conn.execute("select count(*) from segments").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def _import_all(
    db: sqlite_utils.Database,
    db_path: str | Path,
    logs: list[CanLog],
    can_db: cantools.database.Database | None,
    progress: FilesProgress | None,
    frame_progress: ProgressCallback | None,
) -> list[SegmentImport]:
    results = []
    files = [log.path for log in logs]
    tracker = _Tracker(files, frame_progress)
    for i, (path, log) in enumerate(zip(files, logs, strict=True)):
        what = "segment" if log.format == "keilog" else "log"
        try:
            if log.format == "keilog":
                data = _read(path)
                tracker.start_file(path, len(data))
                results.append(import_segment(db, data, path.name, can_db, tracker.frames))
            else:
                results.append(import_log(db, path, can_db, tracker.log_progress))
        except sqlite3.Error as exc:
            raise StoreError(
                f"{path}: import failed and nothing of this {what} was stored ({exc}); "
                f"files before it are in {db_path}. Fix the cause and import again: "
                "finished files are skipped"
            ) from exc
        tracker.file_done(path)
        if progress:
            progress(i + 1, len(files))
    return results


class _Tracker:
    """Turns per-file progress into one Progress over all files of an import."""

    def __init__(self, files: list[Path], callback: ProgressCallback | None) -> None:
        self.callback = callback
        self.total = sum(p.stat().st_size for p in files) if callback else 0
        self.started = time.perf_counter()
        self.frames_done = 0  # in finished files
        self.bytes_done = 0
        self.current = 0  # frames of the file being imported
        self.path = files[0] if files else Path()
        self.path_size = 0

    def frames(self, stored: int, total: int) -> None:
        self.current = stored
        size = self.path_size * stored // total if total else 0
        self._report(self.bytes_done + size)

    def start_file(self, path: Path, size: int) -> None:
        self.path, self.path_size = path, size

    def log_progress(self, p: Progress) -> None:
        self.path = p.path
        self.current = p.frames
        self._report(self.bytes_done + p.bytes_read)

    def file_done(self, path: Path) -> None:
        self.frames_done += self.current
        self.current = 0
        if self.callback:
            self.bytes_done += path.stat().st_size
        self._report(self.bytes_done)

    def _report(self, bytes_read: int) -> None:
        if self.callback is not None:
            elapsed = time.perf_counter() - self.started
            frames = self.frames_done + self.current
            self.callback(Progress(self.path, frames, bytes_read, self.total, elapsed))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StoreError(f"{path}: cannot read: {exc.strerror}") from exc


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() == ".klg" and q.is_file())
            if not found:
                raise StoreError(
                    f"{p}: no log segments (*.KLG) in this folder; give the folder the "
                    "logger's SD card or keilog sync --into wrote, or the log files themselves"
                )
            out.extend(found)
        else:
            out.append(p)
    if not out:
        raise StoreError("nothing to import: give log segments, folders of them, or CAN logs")
    return out
