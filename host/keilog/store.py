"""The SQLite store: schema and idempotent, atomic import of log segments.

Schema (docs/database.md): ``segments`` (one row per imported segment, keyed by the
SHA-256 of its bytes), ``frames`` (raw CAN frames), ``gps_fixes``, ``events``,
``clock_anchors``, ``signals`` (units and comments from the DBC) and one table
``msg_<MESSAGE>`` per decoded DBC message with a column per signal.

Importing a segment is one transaction: a crash mid-import leaves the database as it
was before that segment, and importing the same bytes again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cantools.database
import numpy as np
import sqlite_utils

from keilog.decode import Decoder, FrameBatch, open_log
from keilog.decode.logs import ProgressCallback
from keilog.decoded_rows import message_rows
from keilog.errors import StoreError
from keilog.logfile import (
    CanFrame,
    ClockAnchor,
    Event,
    GpsFix,
    Segment,
    apply_clock,
    parse,
)

Progress = Callable[[int, int], None]

# One compiled decoder per cantools database (compiling a large DBC takes milliseconds,
# a segment import may be far shorter).
_DECODERS: weakref.WeakKeyDictionary[cantools.database.Database, Decoder] = (
    weakref.WeakKeyDictionary()
)


@dataclass
class SegmentImport:
    """What happened to one segment."""

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
    try:
        db = sqlite_utils.Database(str(path))
        db.execute("select count(*) from sqlite_master")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable SQLite database: {exc}") from exc
    ensure_schema(db)
    return db


def ensure_schema(db: sqlite_utils.Database) -> None:
    db.table("segments").create(
        {
            "sha256": str,
            "name": str,
            "device_id": str,
            "boot": int,
            "seq": int,
            "blocks": int,
            "frames": int,
            "gps_fixes": int,
            "events": int,
            "damage": str,
            "imported_at": str,
        },
        pk="sha256",
        if_not_exists=True,
    )
    common = {"id": int, "segment": str, "device_id": str, "boot": int, "mono_us": int}
    db.table("frames").create(
        {
            **common,
            "timestamp": float,
            "arbitration_id": int,
            "is_extended": int,
            "is_remote": int,
            "is_error": int,
            "dlc": int,
            "data": bytes,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table("gps_fixes").create(
        {
            **common,
            "timestamp": float,
            "utc": float,
            "lat": float,
            "lon": float,
            "alt_m": float,
            "speed_mps": float,
            "course_deg": float,
            "quality": int,
            "satellites": int,
            "hdop": float,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table("events").create(
        {**common, "timestamp": float, "kind": str, "code": int, "value": int},
        pk="id",
        if_not_exists=True,
    )
    db.table("clock_anchors").create(
        {**common, "utc_us": int, "source": str}, pk="id", if_not_exists=True
    )
    db.table("signals").create(
        {
            "message": str,
            "frame_id": int,
            "is_extended": int,
            "signal": str,
            "unit": str,
            "comment": str,
            "minimum": float,
            "maximum": float,
        },
        pk=("message", "signal"),
        if_not_exists=True,
    )
    for table in ("frames", "gps_fixes", "events"):
        db.table(table).create_index(["timestamp"], if_not_exists=True)
    db.table("frames").create_index(["arbitration_id", "timestamp"], if_not_exists=True)
    db.table("clock_anchors").create_index(["device_id", "boot"], if_not_exists=True)


def message_table(name: str) -> str:
    return f"msg_{name}"


def _ensure_message_table(db: sqlite_utils.Database, msg: Any) -> str:
    table = message_table(msg.name)
    if not db.table(table).exists():
        cols: dict[str, Any] = {
            "frame_id": int,
            "timestamp": float,
            "device_id": str,
            "boot": int,
            "mono_us": int,
        }
        for sig in msg.signals:
            cols[sig.name] = float if _is_float_signal(sig) else int
        db.table(table).create(cols, pk="frame_id", foreign_keys=[("frame_id", "frames", "id")])
        db.table(table).create_index(["timestamp"])
        db.table("signals").upsert_all(
            [
                {
                    "message": msg.name,
                    "frame_id": msg.frame_id,
                    "is_extended": int(bool(msg.is_extended_frame)),
                    "signal": sig.name,
                    "unit": sig.unit or "",
                    "comment": sig.comment or "",
                    "minimum": sig.minimum,
                    "maximum": sig.maximum,
                }
                for sig in msg.signals
            ],
            pk=("message", "signal"),
        )
    else:
        have = set(db.table(table).columns_dict)
        for sig in msg.signals:
            if sig.name not in have:
                db.table(table).add_column(sig.name, float)
    return table


def _is_float_signal(sig: Any) -> bool:
    # cantools returns floats for IEEE signals and for non-integer scale or offset;
    # integers (up to 64-bit counters) stay exact in INTEGER columns.
    return bool(sig.is_float) or not (
        float(sig.scale).is_integer() and float(sig.offset).is_integer()
    )


def _known_anchors(db: sqlite_utils.Database, device: str, boot: int) -> list[ClockAnchor]:
    rows = db.execute(
        "select mono_us, utc_us, source from clock_anchors where device_id = ? and boot = ?",
        [device, boot],
    ).fetchall()
    return [ClockAnchor(m, u, s) for m, u, s in rows]


def _next_id(conn: sqlite3.Connection, table: str) -> int:
    row = conn.execute(f"select coalesce(max(id), 0) from [{table}]").fetchone()
    return int(row[0]) + 1


def import_segment(
    db: sqlite_utils.Database,
    data: bytes,
    name: str,
    can_db: cantools.database.Database | None = None,
) -> SegmentImport:
    """Import one segment's bytes. Idempotent (by SHA-256) and atomic."""
    sha = hashlib.sha256(data).hexdigest()
    if db.table("segments").count_where("sha256 = ?", [sha]):
        return SegmentImport(name, sha, "already imported")
    seg = parse(data)
    return _store_segment(db, seg, sha, name, can_db)


def _store_segment(
    db: sqlite_utils.Database,
    seg: Segment,
    sha: str,
    name: str,
    can_db: cantools.database.Database | None,
) -> SegmentImport:
    result = SegmentImport(name, sha, "imported", damage=[str(d) for d in seg.damage])
    device = seg.header.device_id if seg.header else "unknown"
    boot = seg.header.boot if seg.header else 0
    anchors = seg.anchors + _known_anchors(db, device, boot)
    records = apply_clock(seg.records, anchors)
    conn = db.conn
    with conn:  # one transaction per segment
        key = (sha, device, boot)
        frame_rows: list[tuple[Any, ...]] = []
        fid = _next_id(conn, "frames")
        can_frames: list[CanFrame] = []
        gps_rows, event_rows, anchor_rows = [], [], []
        for r in records:
            if isinstance(r, CanFrame):
                frame_rows.append(
                    (
                        fid,
                        *key,
                        r.mono_us,
                        r.timestamp,
                        r.arbitration_id,
                        int(r.is_extended_id),
                        int(r.is_remote_frame),
                        int(r.is_error_frame),
                        r.dlc,
                        r.data,
                    )
                )
                can_frames.append(r)
                fid += 1
            elif isinstance(r, GpsFix):
                gps_rows.append(
                    (
                        *key,
                        r.mono_us,
                        r.timestamp,
                        r.utc_us / 1e6 if r.utc_us else None,
                        r.lat,
                        r.lon,
                        r.alt_m,
                        r.speed_mps,
                        r.course_deg,
                        r.quality,
                        r.satellites,
                        r.hdop,
                    )
                )
            elif isinstance(r, Event):
                event_rows.append((*key, r.mono_us, r.timestamp, r.kind, r.code, r.value))
            elif isinstance(r, ClockAnchor):
                anchor_rows.append((*key, r.mono_us, r.utc_us, r.source))
        conn.executemany(
            "insert into frames (id, segment, device_id, boot, mono_us, timestamp, "
            "arbitration_id, is_extended, is_remote, is_error, dlc, data) "
            "values (?,?,?,?,?,?,?,?,?,?,?,?)",
            frame_rows,
        )
        conn.executemany(
            "insert into gps_fixes (segment, device_id, boot, mono_us, timestamp, utc, lat, "
            "lon, alt_m, speed_mps, course_deg, quality, satellites, hdop) "
            "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            gps_rows,
        )
        conn.executemany(
            "insert into events (segment, device_id, boot, mono_us, timestamp, kind, code, "
            "value) values (?,?,?,?,?,?,?,?)",
            event_rows,
        )
        conn.executemany(
            "insert into clock_anchors (segment, device_id, boot, mono_us, utc_us, source) "
            "values (?,?,?,?,?,?)",
            anchor_rows,
        )
        if can_db is not None and can_frames:
            first_id = fid - len(can_frames)
            batch = _frame_batch(can_frames)
            result.decoded += _write_decoded(
                db, can_db, batch, first_id, device, boot, [f.mono_us for f in can_frames]
            )
        result.frames = len(frame_rows)
        result.gps_fixes = len(gps_rows)
        result.events = len(event_rows)
        conn.execute(
            "insert into segments (sha256, name, device_id, boot, seq, blocks, frames, "
            "gps_fixes, events, damage, imported_at) values (?,?,?,?,?,?,?,?,?,?,?)",
            (
                sha,
                name,
                device,
                boot,
                seg.header.seq if seg.header else None,
                seg.blocks,
                result.frames,
                result.gps_fixes,
                result.events,
                "\n".join(result.damage),
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            ),
        )
    return result


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
    mono_us: list[int] | None,
) -> int:
    """Decode a batch (vectorised) and insert its rows into the msg_ tables."""
    result = _decoder(can_db).decode(batch)
    frame_ids = np.arange(first_id, first_id + len(batch), dtype=np.int64)
    written = 0
    for part in message_rows(result, frame_ids, device, boot, mono_us):
        table = _ensure_message_table(db, can_db.get_message_by_name(part.message))
        db.conn.executemany(
            f"insert into [{table}] ({', '.join(f'[{c}]' for c in part.columns)}) "
            f"values ({', '.join('?' for _ in part.columns)})",
            part.rows,
        )
        written += len(part.rows)
    return written


def _frame_batch(frames: list[CanFrame]) -> FrameBatch:
    """The segment's CAN frames as decoder columns (no per-frame objects)."""
    n = len(frames)
    blob = b"".join(f.data[:8].ljust(8, b"\0") for f in frames)
    return FrameBatch(
        timestamp=np.array(
            [f.mono_us / 1e6 if f.timestamp is None else f.timestamp for f in frames], np.float64
        ),
        arbitration_id=np.array([f.arbitration_id for f in frames], np.uint32),
        is_extended=np.array([f.is_extended_id for f in frames], np.bool_),
        dlc=np.array([min(len(f.data), 8) for f in frames], np.uint8),
        data=np.frombuffer(blob, np.uint8).reshape(n, 8),
        is_remote=np.array([f.is_remote_frame for f in frames], np.bool_),
        is_error=np.array([f.is_error_frame for f in frames], np.bool_),
    )


def import_log(
    db: sqlite_utils.Database,
    path: str | Path,
    can_db: cantools.database.Database | None = None,
    progress: ProgressCallback | None = None,
) -> SegmentImport:
    """Import a log of another logger (any format ``keilog decode`` reads).

    Like a segment: idempotent (by the SHA-256 of the file) and atomic (one transaction
    for the whole file), streamed in chunks of frames so memory stays bounded. The log
    is recorded in ``segments`` with device_id ``"<format> log"``.
    """
    log = open_log(path)
    p = Path(path)
    sha = _file_sha256(p)
    if db.table("segments").count_where("sha256 = ?", [sha]):
        return SegmentImport(p.name, sha, "already imported")
    result = SegmentImport(p.name, sha, "imported")
    device = f"{log.format} log"
    conn = db.conn
    with conn:
        fid = _next_id(conn, "frames")
        for batch in log.batches(progress=progress):
            n = len(batch)
            width = batch.width
            blob = batch.data.tobytes()
            dlc = batch.dlc.tolist()
            none = [None] * n
            flags = [
                [0] * n if f is None else f.astype(np.int64).tolist()
                for f in (batch.is_remote, batch.is_error)
            ]
            conn.executemany(
                "insert into frames (id, segment, device_id, boot, mono_us, timestamp, "
                "arbitration_id, is_extended, is_remote, is_error, dlc, data) "
                "values (?,?,?,?,?,?,?,?,?,?,?,?)",
                zip(
                    range(fid, fid + n),
                    [sha] * n,
                    [device] * n,
                    [0] * n,
                    none,
                    batch.timestamp.tolist(),
                    batch.arbitration_id.tolist(),
                    batch.is_extended.astype(np.int64).tolist(),
                    *flags,
                    dlc,
                    [blob[i * width : i * width + d] for i, d in enumerate(dlc)],
                    strict=True,
                ),
            )
            if can_db is not None:
                result.decoded += _write_decoded(db, can_db, batch, fid, device, 0, None)
            fid += n
            result.frames += n
        result.damage = list(log.problems)
        conn.execute(
            "insert into segments (sha256, name, device_id, boot, seq, blocks, frames, "
            "gps_fixes, events, damage, imported_at) values (?,?,?,?,?,?,?,?,?,?,?)",
            (
                sha,
                p.name,
                device,
                0,
                None,
                0,
                result.frames,
                0,
                0,
                "\n".join(result.damage),
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            ),
        )
    return result


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
    progress: Progress | None = None,
    frame_progress: ProgressCallback | None = None,
) -> list[SegmentImport]:
    """Import segment files into the database at db_path, in order.

    Logs of other loggers (candump, ASC, BLF, TRC, CSV, MF4: any format ``keilog
    decode`` reads) are imported with :func:`import_log`; ``frame_progress`` reports
    how far each of those has got.
    """
    db = open_db(db_path)
    results = []
    files = _expand(paths)
    for i, path in enumerate(files):
        if open_log(path).format != "keilog":
            try:
                results.append(import_log(db, path, can_db, frame_progress))
            except sqlite3.Error as exc:
                raise StoreError(
                    f"{path}: import failed and nothing of this log was stored ({exc}); "
                    f"files before it are in {db_path}. Fix the cause and import again"
                ) from exc
            if progress:
                progress(i + 1, len(files))
            continue
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise StoreError(f"{path}: cannot read: {exc.strerror}") from exc
        try:
            results.append(import_segment(db, data, Path(path).name, can_db))
        except sqlite3.Error as exc:
            raise StoreError(
                f"{path}: import failed and nothing of this segment was stored "
                f"({exc}); segments before it are in {db_path}. Fix the cause and "
                "import again: finished segments are skipped"
            ) from exc
        if progress:
            progress(i + 1, len(files))
    return results


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(p.glob("*.KLG")))
        else:
            out.append(p)
    return out
