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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cantools.database
import sqlite_utils

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
            cols[sig.name] = float
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
        decoded: dict[str, list[dict[str, Any]]] = {}
        tables: dict[str, str] = {}
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
                if can_db is not None and not (r.is_remote_frame or r.is_error_frame):
                    row = _decode(can_db, r)
                    if row is not None:
                        msg_name, signals = row
                        if msg_name not in tables:
                            msg = can_db.get_message_by_name(msg_name)
                            tables[msg_name] = _ensure_message_table(db, msg)
                        decoded.setdefault(msg_name, []).append(
                            {
                                "frame_id": fid,
                                "timestamp": r.timestamp,
                                "device_id": device,
                                "boot": boot,
                                "mono_us": r.mono_us,
                                **signals,
                            }
                        )
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
        for msg_name, rows in decoded.items():
            table = tables[msg_name]
            cols = list(db.table(table).columns_dict)
            conn.executemany(
                f"insert into [{table}] ({', '.join(f'[{c}]' for c in cols)}) "
                f"values ({', '.join('?' for _ in cols)})",
                [tuple(row.get(c) for c in cols) for row in rows],
            )
            result.decoded += len(rows)
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


def _decode(
    can_db: cantools.database.Database, frame: CanFrame
) -> tuple[str, dict[str, Any]] | None:
    try:
        msg = can_db.get_message_by_frame_id(frame.arbitration_id)
    except KeyError:
        return None
    if bool(msg.is_extended_frame) != frame.is_extended_id:
        return None
    try:
        values = msg.decode(frame.data, decode_choices=False, allow_truncated=True)
    except (ValueError, KeyError, IndexError, cantools.database.DecodeError):
        return None  # counted by the caller as frames without a decoded row
    if not isinstance(values, dict):
        return None
    return msg.name, {k: float(v) for k, v in values.items() if isinstance(v, int | float)}


def import_files(
    db_path: str | Path,
    paths: Sequence[str | Path],
    can_db: cantools.database.Database | None = None,
    progress: Progress | None = None,
) -> list[SegmentImport]:
    """Import segment files into the database at db_path, in order."""
    db = open_db(db_path)
    results = []
    files = _expand(paths)
    for i, path in enumerate(files):
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
