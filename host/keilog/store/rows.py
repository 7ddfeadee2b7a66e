"""Rows of the store's big tables, shared by segment and log imports: raw frames (many
rows per INSERT), decoded ``msg_`` rows, and the next free id of a table."""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Iterable
from typing import Any

import cantools.database
import numpy as np
import sqlite_utils
from numpy.typing import NDArray

from keilog.decode import Decoder, FrameBatch
from keilog.decode.dbc import inputs_database
from keilog.logformat.columns import CanColumns
from keilog.store.bulk import insert_columns
from keilog.store.decoded import message_rows
from keilog.store.names import names_of, quote
from keilog.store.schema import ensure_message_table

# One compiled decoder per cantools database (compiling a large DBC takes milliseconds,
# a segment import may be far shorter).
_DECODERS: weakref.WeakKeyDictionary[cantools.database.Database, Decoder] = (
    weakref.WeakKeyDictionary()
)

_FRAME_COLUMNS = (
    "id", "segment", "mono_us", "timestamp", "arbitration_id", "is_extended", "is_remote",
    "is_error", "is_fd", "bitrate_switch", "error_state_indicator", "dlc", "data",
)  # fmt: skip


def next_id(conn: sqlite3.Connection, table: str) -> int:
    row = conn.execute(f"select coalesce(max(id), 0) from {quote(table)}").fetchone()
    return int(row[0]) + 1


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


def insert_frames(
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


def write_decoded(
    db: sqlite_utils.Database,
    can_db: cantools.database.Database,
    batch: FrameBatch,
    first_id: int,
    device: str,
    boot: int,
    mono_us: NDArray[np.int64] | None,
    renamed: list[str],
) -> int:
    """Decode a batch (vectorised) and insert its rows into the msg_ tables; the
    renames of the messages written (keilog.store.names) are added to renamed."""
    result = _decoder(can_db).decode(batch)
    frame_ids = np.arange(first_id, first_id + len(batch), dtype=np.int64)
    written = 0
    names = names_of(can_db)
    for part in message_rows(result, frame_ids, device, boot, mono_us, names):
        table = ensure_message_table(db, can_db.get_message_by_name(part.message), names)
        insert_columns(db.conn, table, part.columns, part.values, part.count)
        written += part.count
        renamed += [r for r in names.renamed.get(part.message, []) if r not in renamed]
    return written


def write_inputs(
    db: sqlite_utils.Database,
    part: CanColumns,
    batch: FrameBatch,
    device: str,
    boot: int,
) -> int:
    """Decode the logger's input records (as frames of dbc/keilog_inputs.dbc) into their
    ``msg_INPUT_*`` tables: the one path every decoded signal takes. They have no raw
    CAN frame (``frames`` is the car's bus), so each row's ``frame_id`` is its own id."""
    inputs_db = inputs_database()
    result = _decoder(inputs_db).decode(batch)
    names = names_of(inputs_db)
    written = 0
    zeros = np.zeros(len(batch), np.int64)
    for rows in message_rows(result, zeros, device, boot, part.mono_us, names):
        msg = inputs_db.get_message_by_name(rows.message)
        table = ensure_message_table(db, msg, names, raw_frames=False)
        last = db.conn.execute(f"select coalesce(max(frame_id), 0) from {quote(table)}").fetchone()
        rows.values[0] = range(int(last[0]) + 1, int(last[0]) + 1 + rows.count)
        insert_columns(db.conn, table, rows.columns, rows.values, rows.count)
        written += rows.count
    return written
