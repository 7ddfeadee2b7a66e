"""Rows of the store's big tables, shared by segment and log imports: raw frames (many
rows per INSERT), decoded ``msg_`` rows, and the next free id of a table."""

from __future__ import annotations

import sqlite3
import weakref

import cantools.database
import numpy as np
import sqlite_utils
from numpy.typing import NDArray

from keilog.decode import Decoder, FrameBatch
from keilog.decode.dbc import inputs_database
from keilog.logformat.columns import CanColumns
from keilog.store.bulk import insert_columns
from keilog.store.decoded import message_rows
from keilog.store.frames import since_mark
from keilog.store.names import names_of, quote
from keilog.store.schema import ensure_message_table

# One compiled decoder per cantools database (compiling a large DBC takes milliseconds,
# a segment import may be far shorter).
_DECODERS: weakref.WeakKeyDictionary[cantools.database.Database, Decoder] = (
    weakref.WeakKeyDictionary()
)


def next_id(conn: sqlite3.Connection, table: str) -> int:
    row = conn.execute(f"select coalesce(max(id), 0) from {quote(table)}").fetchone()
    return int(row[0]) + 1


def next_frame(conn: sqlite3.Connection) -> int:
    """The number the next stored raw frame gets."""
    row = conn.execute("select coalesce(max(last_frame), 0) from frame_blocks").fetchone()
    return int(row[0]) + 1


def _decoder(can_db: cantools.database.Database) -> Decoder:
    decoder = _DECODERS.get(can_db)
    if decoder is None:
        decoder = _DECODERS[can_db] = Decoder(can_db)
    return decoder


def log_time_us(batch: FrameBatch) -> NDArray[np.int64] | None:
    """A log's timestamps as the microseconds its decoded rows store (None: none)."""
    ts = batch.timestamp
    if not np.isfinite(ts).all():
        return None
    return np.round(ts * 1e6).astype(np.int64)


def write_decoded(
    db: sqlite_utils.Database,
    can_db: cantools.database.Database,
    batch: FrameBatch,
    first_id: int,
    time_us: NDArray[np.int64] | None,
    renamed: list[str],
) -> int:
    """Decode a batch (vectorised) and insert its rows into the sig_ tables; the
    renames of the messages written (keilog.store.names) are added to renamed.
    time_us: each frame's time on its segment's time base (``mono_us``)."""
    result = _decoder(can_db).decode(batch)
    frame_ids = np.arange(first_id, first_id + len(batch), dtype=np.int64)
    if time_us is not None:
        time_us = since_mark(db.conn, frame_ids, time_us)
    written = 0
    names = names_of(can_db)
    tables = {
        name: ensure_message_table(db, can_db.get_message_by_name(name), names)
        for name, decoded in result.items()
        if decoded.signals
    }

    def scales(message: str) -> dict[str, tuple[float, float]]:
        return raw_scales(db.conn, tables[message])

    for part in message_rows(result, frame_ids, time_us, names, scales):
        table = tables[part.message]
        insert_columns(db.conn, table, part.columns, part.values, part.count)
        written += part.count
        renamed += [r for r in names.renamed.get(part.message, []) if r not in renamed]
    return written


def write_inputs(
    db: sqlite_utils.Database,
    part: CanColumns,
    batch: FrameBatch,
    segment: int,
) -> int:
    """Decode the logger's input records (as frames of dbc/keilog_inputs.dbc) into their
    ``msg_INPUT_*`` tables: the one path every decoded signal takes. They have no raw
    CAN frame (raw frames are the car's bus), so each row's ``frame_id`` is its own id
    and the row names its segment."""
    inputs_db = inputs_database()
    result = _decoder(inputs_db).decode(batch)
    names = names_of(inputs_db)
    written = 0
    zeros = np.zeros(len(batch), np.int64)
    tables = {
        name: ensure_message_table(db, inputs_db.get_message_by_name(name), names, raw_frames=False)
        for name, decoded in result.items()
        if decoded.signals
    }

    def scales(message: str) -> dict[str, tuple[float, float]]:
        return raw_scales(db.conn, tables[message])

    for rows in message_rows(result, zeros, part.mono_us, names, scales):
        table = tables[rows.message]
        last = db.conn.execute(f"select coalesce(max(frame_id), 0) from {quote(table)}").fetchone()
        rows.values[0] = range(int(last[0]) + 1, int(last[0]) + 1 + rows.count)
        rows.columns.append("segment")
        rows.values.append([segment] * rows.count)
        insert_columns(db.conn, table, rows.columns, rows.values, rows.count)
        written += rows.count
    return written


def raw_scales(conn: sqlite3.Connection, table: str) -> dict[str, tuple[float, float]]:
    """The signals of a sig_ table stored as raw integers: column -> (scale, offset)."""
    message = table.removeprefix("sig_")
    return {
        str(signal).lower(): (float(scale), float(offset))
        for signal, scale, offset in conn.execute(
            'select signal, scale, "offset" from signals where message = ? and raw', [message]
        )
    }
