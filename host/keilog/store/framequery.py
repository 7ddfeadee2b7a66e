"""Raw frames by identifier, time window and trip (``keilog frames``), and the SQL
functions that unpack frame blocks inside SQLite (``keilog serve``'s canned queries).

"The raw frames of id X between t1 and t2" is one :class:`~keilog.store.frames.FrameQuery`
read by :func:`keilog.store.frames.read_frames`, whose one block query is served by the
index ``frame_blocks (arbitration_id, t_start)`` (docs/database.md). This module only
says which frames (:func:`frames_query`) and prints them (:func:`print_frames`): as
``candump -L`` lines through python-can's writer (so ``keilog import`` reads them back),
CSV, a JSON array or newline-delimited JSON with schema 2's ``frames`` columns.

:func:`register_functions` gives a connection ``keilog_frames(segment, arbitration_id,
is_extended, first_frame, data)``, a block's frames as a JSON array of rows for SQLite's
``json_each``, plus ``keilog_id`` and ``keilog_utc`` to read an identifier (``0x1D0``)
and a time (ISO 8601 or Unix seconds) typed into a form; :data:`FRAMES_OF_ID_SQL` and
:data:`FRAMES_BETWEEN_SQL` are the queries Datasette runs with them.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import math
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import sqlite_utils

from keilog.errors import StoreError
from keilog.store.frames import (
    BLOCK_SPAN_S,
    FRAME_COLUMNS,
    SKIP_IDS_SQL,
    FrameQuery,
    StoredFrames,
    frame_rows,
    read_frames,
    unpack_block,
)
from keilog.store.trips import trip_extent

FORMATS = ("candump", "csv", "json", "nl")
_FLAGS = ("is_remote", "is_error", "is_fd", "bitrate_switch", "error_state_indicator")
CANDUMP_CHANNEL = "can0"  # the channel of a multi-channel log is not stored


def parse_id(text: str) -> int:
    """A CAN identifier typed by a person: ``0x1D0`` (hex), or decimal ``464``."""
    try:
        value = int(text.strip(), 0)
    except ValueError:
        raise StoreError(
            f"{text!r} is not a CAN identifier; give 0x1D0 (hex) or 464 (decimal)"
        ) from None
    if not 0 <= value < 1 << 29:
        raise StoreError(f"{text!r} is not a CAN identifier (0 .. 0x1FFFFFFF)")
    return value


def parse_utc(text: str) -> float:
    """A time typed by a person as UTC seconds: Unix seconds, or ISO 8601 (UTC unless it
    carries an offset such as ``+09:00`` or ``Z``)."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise StoreError(f"{text!r} is not a time; give ISO 8601 or Unix seconds")
        return seconds
    try:
        when = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise StoreError(
            f"{text!r} is not a time; give ISO 8601 (2026-06-01T14:00:00, UTC unless it "
            "says +09:00 or Z) or Unix seconds"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def trip_query(db: sqlite_utils.Database, trip: int) -> FrameQuery:
    """The frames of trip ``trip`` (docs/database.md, trips): those of its device and
    boot within its logger-time window (its UTC window for other loggers' logs)."""
    extent = trip_extent(db, trip)
    if extent.mono is not None:
        return FrameQuery(segments=extent.segments, mono=extent.mono)
    return FrameQuery(segments=extent.segments, start=extent.start, end=extent.end)


def frames_query(
    db: sqlite_utils.Database,
    ids: Sequence[int] | None = None,
    start: float | None = None,
    end: float | None = None,
    trip: int | None = None,
) -> FrameQuery:
    """Frames of these identifiers (any: None), between two UTC times (inclusive,
    either open), of trip N: all conditions hold."""
    query = trip_query(db, trip) if trip is not None else FrameQuery()
    if ids is not None:
        query = replace(query, arbitration_ids=list(ids))
    if start is not None:
        query = replace(query, start=start if query.start is None else max(start, query.start))
    if end is not None:
        query = replace(query, end=end if query.end is None else min(end, query.end))
    return query


def open_read_only(path: str | Path) -> sqlite_utils.Database:
    """An existing keilog database, opened read-only (nothing is created or changed)."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no such database; create it with keilog import")
    try:
        db = sqlite_utils.Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))
        version = db.execute("pragma user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not a usable SQLite database: {exc}") from None
    if "frame_blocks" not in db.table_names():
        raise StoreError(
            f"{path}: no frame_blocks table (schema {version}); re-import its logs with "
            "keilog import into a new database file"
        )
    return db


def print_frames(
    db_path: str | Path,
    out: TextIO,
    fmt: str = "candump",
    ids: Sequence[int] | None = None,
    start: float | None = None,
    end: float | None = None,
    trip: int | None = None,
) -> int:
    """Write the raw frames that :func:`frames_query` selects to ``out`` in frame order;
    returns how many. ``fmt``: ``candump`` (``candump -L`` lines, UTC seconds, or the
    logger's seconds for a frame without UTC), ``csv``, ``json`` (one array) or ``nl``
    (one JSON object a line); CSV and JSON have schema 2's ``frames`` columns with
    ``data`` in hex."""
    if fmt not in FORMATS:
        raise StoreError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    db = open_read_only(db_path)
    try:
        parts = read_frames(db.conn, frames_query(db, ids, start, end, trip))
        if fmt == "candump":
            return _candump(parts, out)
        return _rows(parts, out, fmt)
    finally:
        db.close()


def _candump(parts: Iterator[StoredFrames], out: TextIO) -> int:
    import can

    # python-can's writer: its lines are what candump -L and python-can's reader (and so
    # keilog import) read. It must not close ``out`` (stdout), so it is never stopped.
    writer = can.CanutilsLogWriter(out, channel=CANDUMP_CHANNEL)
    n = 0
    for part in parts:
        b = part.batch
        stamps = np.where(np.isnan(b.timestamp), part.mono_us / 1e6, b.timestamp).tolist()
        ident = b.arbitration_id.tolist()
        ext = b.is_extended.tolist()
        flags = [getattr(b, name).tolist() for name in _FLAGS]
        dlc = b.dlc.tolist()
        for i in range(len(part)):
            remote, error, fd, brs, esi = (f[i] for f in flags)
            writer.on_message_received(
                can.Message(
                    timestamp=stamps[i],
                    arbitration_id=ident[i],
                    is_extended_id=ext[i],
                    is_remote_frame=remote,
                    is_error_frame=error,
                    is_fd=fd,
                    bitrate_switch=brs,
                    error_state_indicator=esi,
                    dlc=dlc[i],
                    data=None if remote else b.payload(i),
                    check=False,
                )
            )
        n += len(part)
    out.flush()
    return n


def _rows(parts: Iterator[StoredFrames], out: TextIO, fmt: str) -> int:
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(FRAME_COLUMNS)
    elif fmt == "json":
        out.write("[")
    n = 0
    for part in parts:
        for row in frame_rows(part):
            values = [*row[:-1], bytes(row[-1]).hex()]
            if writer is not None:
                writer.writerow(["" if v is None else v for v in values])
            else:
                text = json.dumps(dict(zip(FRAME_COLUMNS, values, strict=True)))
                if fmt == "json":
                    out.write(("\n " if n == 0 else ",\n ") + text)
                else:
                    out.write(text + "\n")
            n += 1
    if fmt == "json":
        out.write("\n]\n" if n else "]\n")
    out.flush()
    return n


# --- SQL functions: raw frames inside SQLite (Datasette, ad-hoc SQL) ---------------------


def block_frames_json(
    conn: sqlite3.Connection,
    segment: int,
    arbitration_id: int,
    is_extended: int,
    first_frame: int,
    data: bytes,
) -> str:
    """A frame block's frames as a JSON array of rows with schema 2's ``frames``
    columns (FRAME_COLUMNS, ``data`` in hex), for ``json_each``."""
    frames = unpack_block(conn, segment, arbitration_id, is_extended, first_frame, data)
    rows = [[*row[:-1], bytes(row[-1]).hex()] for row in frame_rows(frames)]
    return json.dumps(rows)


def _sql_id(text: Any) -> int | None:
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    return text if isinstance(text, int) else parse_id(str(text))


def _sql_utc(text: Any) -> float | None:
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    return float(text) if isinstance(text, int | float) else parse_utc(str(text))


def register_functions(conn: sqlite3.Connection) -> None:
    """``keilog_frames(segment, arbitration_id, is_extended, first_frame, data)``,
    ``keilog_id(text)`` and ``keilog_utc(text)`` on this connection (a bad identifier or
    time is an SQL error with the reason)."""
    conn.create_function(
        "keilog_frames", 5, functools.partial(block_frames_json, conn), deterministic=True
    )
    conn.create_function("keilog_id", 1, _sql_id, deterministic=True)
    conn.create_function("keilog_utc", 1, _sql_utc, deterministic=True)


# Every frame column from a block's JSON rows (FRAME_COLUMNS order).
_SELECT_FRAME = ",\n  ".join(
    f"json_extract(f.value, '$[{i}]') as {name}" if name != "id"
    else f"json_extract(f.value, '$[{i}]') as frame"
    for i, name in enumerate(FRAME_COLUMNS)
)  # fmt: skip
_UNPACK = (
    "json_each(keilog_frames(b.segment, b.arbitration_id, b.is_extended, b.first_frame, b.data)) f"
)

_UTC = "strftime('%Y-%m-%d %H:%M:%f', json_extract(f.value, '$[3]'), 'unixepoch') as utc"

FRAMES_OF_ID_SQL = f"""
select {_UTC},
  {_SELECT_FRAME}
from frame_blocks b, {_UNPACK}
where b.arbitration_id = keilog_id(:id)
  and b.t_start between keilog_utc(:start) - {BLOCK_SPAN_S!r} and keilog_utc(:end)
  and b.t_end >= keilog_utc(:start)
  and json_extract(f.value, '$[3]') between keilog_utc(:start) and keilog_utc(:end)
order by frame
"""
"""The raw frames of one identifier between two times (``:id``: 0x1D0 or 464;
``:start``, ``:end``: ISO 8601, UTC unless with an offset, or Unix seconds): the
blocks found through the index ``frame_blocks_id_time``, as block_sql finds them."""

FRAMES_BETWEEN_SQL = f"""
{SKIP_IDS_SQL.strip()}
select {_UTC},
  {_SELECT_FRAME}
from frame_blocks b, {_UNPACK}
where b.arbitration_id in (select arb from skip_ids)
  and b.t_start between keilog_utc(:start) - {BLOCK_SPAN_S!r} and keilog_utc(:end)
  and b.t_end >= keilog_utc(:start)
  and json_extract(f.value, '$[3]') between keilog_utc(:start) and keilog_utc(:end)
order by frame
"""
"""Every raw frame between two times, through the same index (one range per identifier)."""
