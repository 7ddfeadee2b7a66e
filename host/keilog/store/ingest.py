"""The SQLite store: idempotent, atomic, bulk import of log segments and other logs.

Schema (keilog.store.schema, docs/database.md): ``devices``, ``segments`` (one row per
imported segment or log file, keyed by the SHA-256 of its bytes), ``frame_blocks`` (raw
CAN frames, packed: keilog.store.frames), ``gps_fixes``, ``events``, ``clock_anchors``,
``signals`` (units and comments from the DBC), one view ``msg_<MESSAGE>`` per decoded DBC
message with a column per signal over its stored table ``sig_<MESSAGE>``, and ``trips``
(kept up to date by keilog.store.trips).

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cantools.database
import numpy as np
import sqlite_utils
from numpy.typing import NDArray

from keilog.decode import FrameBatch, open_log
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
from keilog.store import overlap, rows, timebase
from keilog.store import trips as dbtrips
from keilog.store.coverage import stored_coverage
from keilog.store.damage import refuse_damage, summarise_damage
from keilog.store.frames import write_frames
from keilog.store.schema import ensure_schema, message_table

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
    renamed: list[str] = field(default_factory=list)  # DBC names stored under another
    already_stored: int = 0  # frames skipped: stored from an earlier copy (overlap)
    continues: list[str] = field(default_factory=list)  # names of those earlier copies
    # Raw frames stored, per DBC message and per identifier no DBC defines (most first):
    # keilog.store.coverage words the warnings.
    message_frames: dict[str, int] = field(default_factory=dict)
    unknown_ids: dict[str, int] = field(default_factory=dict)


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
    allow_damage: bool = True,
) -> SegmentImport:
    """Import one segment's bytes. Idempotent (by SHA-256) and atomic.

    ``on_frames(stored, total)`` is called after each chunk of frames is stored.
    allow_damage: store a damaged segment's readable records and its damage (sync does:
    the bytes are the device's own); otherwise refuse it (DamagedFileError).
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
    if cols.damage and not allow_damage:
        result = SegmentImport(name, sha, "refused", frames=len(cols.can))
        result.damage = summarise_damage(cols.damage)
        refuse_damage(name, result, len(cols.damage))
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
    result = SegmentImport(name, sha, "imported")
    result.damage = summarise_damage(cols.damage)
    header = cols.header
    device_id = header.device_id if header else "unknown"
    boot = header.boot if header else 0
    conn = db.conn
    can = cols.can
    fixes = [r for r in cols.others if isinstance(r, GpsFix)]
    events = [r for r in cols.others if isinstance(r, Event)]
    anchors = list(cols.anchors)
    others: list[Any] = list(cols.others)
    if header is not None:
        # No frame twice: a longer copy of a segment already stored adds what is new.
        stored = overlap.stored_segment(conn, device_id, boot, header.seq)
        if stored.names:
            n = min(len(stored.frames), len(can))
            head = _batch(can.take(slice(0, n)), None)
            payloads = [head.payload(i) for i in range(n)]
            overlap.check_segment_prefix(stored, can.mono_us, can.arbitration_id, payloads, name)
            if (
                len(can) <= len(stored.frames)
                and len(fixes) <= stored.gps_fixes
                and len(events) <= stored.events
                and len(anchors) <= stored.anchors
            ):
                return SegmentImport(name, sha, "already imported", continues=stored.names)
            can = can.take(slice(len(stored.frames), None))
            fixes, events = fixes[stored.gps_fixes :], events[stored.events :]
            anchors = anchors[stored.anchors :]
            others = [*fixes, *events]
            result.already_stored, result.continues = n, stored.names
    with db.atomic():  # one transaction per segment
        clock = segment_clock(cols, _known_points(conn, device_id, boot))
        segment = rows.next_id(conn, "segments")
        first_frame = rows.next_frame(conn)
        utc = utc_seconds(can.mono_us, clock)
        pieces = timebase.pieces(clock)
        timebase.store_pieces(conn, segment, pieces)
        for start in range(0, len(can), CHUNK_FRAMES):
            part = can.take(slice(start, start + CHUNK_FRAMES))
            ts = None if utc is None else utc[start : start + CHUNK_FRAMES]
            batch = _batch(part, ts)
            write_frames(
                conn, first_frame + start, segment, batch, part.mono_us, part.mono_us, pieces
            )
            if can_db is not None:
                result.decoded += rows.write_decoded(
                    db, can_db, batch, first_frame + start, part.mono_us, result.renamed
                )
            if on_frames:
                on_frames(start + len(part), len(can))
        _note_coverage(conn, segment, can_db, result)
        inputs = [r for r in cols.others if isinstance(r, InputFrame)]
        if inputs:
            frames_in = CanColumns.from_frames(
                [CanFrame(r.mono_us, r.message_id, False, False, False, 8, r.data) for r in inputs]
            )
            result.decoded += rows.write_inputs(
                db,
                frames_in,
                _batch(frames_in, utc_seconds(frames_in.mono_us, clock)),
                segment,
            )
        key = (segment, device_id, boot)
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
            [(*key, a.mono_us, a.utc_us, a.source) for a in anchors],
        )
        result.frames, result.gps_fixes, result.events = len(can), len(fixes), len(events)
        spans = dbtrips.segment_spans(
            can.mono_us,
            _fix_columns(fixes),
            [(e.mono_us, e.kind) for e in events if e.kind in dbtrips.ENDING_EVENTS],
        )
        dbtrips.store_spans(conn, segment, device_id, boot, "mono", spans, clock.utc_one)
        monos = [r.mono_us for r in others if r.mono_us is not None]
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


def _note_coverage(
    conn: sqlite3.Connection,
    segment: int,
    can_db: cantools.database.Database | None,
    result: SegmentImport,
) -> None:
    found = stored_coverage(conn, can_db, segment)
    result.message_frames, result.unknown_ids = found.message_frames, found.unknown_ids


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
    clock: str = "mono",
) -> None:
    conn.execute(
        "insert into segments (id, sha256, name, device, boot, seq, blocks, first_frame, "
        'frames, clock, gps_fixes, events, start, "end", damage, imported_at) '
        "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
            clock,
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


def import_log(
    db: sqlite_utils.Database,
    path: str | Path,
    can_db: cantools.database.Database | None = None,
    progress: ProgressCallback | None = None,
    allow_damage: bool = True,
) -> SegmentImport:
    """Import a log of another logger (any format ``keilog decode`` reads).

    allow_damage: skip a bad candump/CSV line and store what a truncated or damaged
    log holds, recording the damage; otherwise refuse the log (DamagedFileError, or
    the reader's LogFormatError naming the line), storing nothing of it.

    Like a segment: idempotent (by the SHA-256 of the file) and atomic (one transaction
    for the whole file), streamed in chunks of frames so memory stays bounded. The log
    is recorded in ``segments`` with device ``"<format> log"`` and boot 0; its trips
    split at gaps on the log's own time base.
    """
    log = open_log(path, skip_bad_lines=allow_damage)
    p = Path(path)
    sha = _file_sha256(p)
    if _imported(db, sha):
        return SegmentImport(p.name, sha, "already imported")
    result = SegmentImport(p.name, sha, "imported")
    chain = overlap.LogChain(db.conn, f"{log.format} log", p.name)
    try:
        with db.atomic():
            _store_log(db, log, can_db, progress, allow_damage, chain, result, sha, p)
    except overlap.NothingNew:
        return SegmentImport(p.name, sha, "already imported", continues=chain.parts)
    return result


def _store_log(
    db: sqlite_utils.Database,
    log: CanLog,
    can_db: cantools.database.Database | None,
    progress: ProgressCallback | None,
    allow_damage: bool,
    chain: overlap.LogChain,
    result: SegmentImport,
    sha: str,
    p: Path,
) -> None:
    """import_log's transaction (raises overlap.NothingNew to roll it back)."""
    device_id = f"{log.format} log"
    conn = db.conn
    span_points: list[tuple[NDArray[np.int64], NDArray[np.int64]]] = []
    first_ts: float | None = None
    last_ts: float | None = None
    read = 0
    last: tuple[Any, ...] | None = None
    segment = rows.next_id(conn, "segments")
    first_frame = fid = rows.next_frame(conn)
    timebase.store_pieces(conn, segment, timebase.LOG_PIECES)
    for batch in log.batches(chunk_frames=CHUNK_FRAMES, progress=progress):
        if len(batch):
            last = overlap.frame_key(batch, len(batch) - 1)
        # No frame twice: frames a stored copy of this log holds are skipped.
        skip = chain.skip(batch, read)
        read += len(batch)
        if skip:
            result.already_stored += skip
            batch = batch.take(slice(skip, None))
        n = len(batch)
        if not n:
            continue
        time_us = rows.log_time_us(batch)
        write_frames(conn, fid, segment, batch, None, time_us, timebase.LOG_PIECES)
        if can_db is not None:
            result.decoded += rows.write_decoded(db, can_db, batch, fid, time_us, result.renamed)
        finite = batch.timestamp[np.isfinite(batch.timestamp)]
        if len(finite):
            span_points.append(_activity(np.round(finite * 1e6).astype(np.int64)))
            lo, hi = float(finite.min()), float(finite.max())
            first_ts = lo if first_ts is None else min(first_ts, lo)
            last_ts = hi if last_ts is None else max(last_ts, hi)
        fid += n
        result.frames += n
    _note_coverage(conn, segment, can_db, result)
    if chain.finish(read, last) or (read and not result.frames):
        raise overlap.NothingNew
    result.continues = chain.parts
    result.damage = summarise_damage(log.problems, log.problem_count)
    if log.problems and not allow_damage:
        refuse_damage(p.name, result, log.problem_count)
    times = np.concatenate([t for t, _ in span_points]) if span_points else np.zeros(0, np.int64)
    weights = np.concatenate([w for _, w in span_points]) if span_points else None
    spans = dbtrips.segment_spans(times, dbtrips.Fixes.empty(), [], frame_weights=weights)
    dbtrips.store_spans(conn, segment, device_id, 0, "log", spans, lambda t: t / 1e6)
    _insert_segment(
        conn, segment, sha, p.name, _device(conn, device_id, None), 0, None, 0,
        first_frame if result.frames else None, result, [first_ts, last_ts], "log",
    )  # fmt: skip
    dbtrips.rebuild_trips(conn, device_id, 0)


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
    allow_damage: bool = True,
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
            return _import_all(db, db_path, logs, can_db, progress, frame_progress, allow_damage)
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
    allow_damage: bool,
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
                results.append(
                    import_segment(db, data, path.name, can_db, tracker.frames, allow_damage)
                )
            else:
                results.append(import_log(db, path, can_db, tracker.log_progress, allow_damage))
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
