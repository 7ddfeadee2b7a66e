"""Decode again: rebuild every decoded table from the stored raw frames with new DBCs.

A database imported with no DBC, or the wrong one, still holds every raw frame
(``frame_blocks``). :func:`redecode` drops the decoded tables of CAN messages
(``sig_<MESSAGE>``, their ``msg_<MESSAGE>`` views and their ``signals`` rows) and
decodes every stored frame again through the import's own path
(keilog.store.rows.write_decoded: the vectorised decoder, keilog.store.decoded,
keilog.store.bulk), so a redecoded database equals a fresh import with the same DBCs.

All of it is one transaction: an error (a damaged frame block, a full disk) or Ctrl-C
rolls back to the old decoded tables. The logger's own inputs (``msg_INPUT_*``) have no
raw frames and stay as they are; so do trips, GPS fixes, events and stored checks (a
check made before may have used the old values: the result says how many there are).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cantools.database
import numpy as np
import sqlite_utils

from keilog.errors import KeilogError, StoreError
from keilog.store import rows
from keilog.store.coverage import stored_coverage
from keilog.store.frames import StoredFrames, frame_count, read_frames
from keilog.store.ingest import open_db
from keilog.store.names import quote

FramesProgress = Callable[[int, int], None]  # (frames decoded so far, frames in all)


@dataclass
class Redecode:
    """What decoding a database again did."""

    db: str
    frames: int = 0  # raw frames read
    decoded: int = 0  # decoded rows written
    tables: dict[str, int] = field(default_factory=dict)  # msg_ view -> its rows now
    removed: list[str] = field(default_factory=list)  # msg_ views the new DBCs do not make
    renamed: list[str] = field(default_factory=list)  # DBC names stored under another
    message_frames: dict[str, int] = field(default_factory=dict)  # as keilog.store.coverage
    unknown_ids: dict[str, int] = field(default_factory=dict)
    checks: int = 0  # stored checks, made from the decoded values before


def redecode(
    db_path: str | Path,
    can_db: cantools.database.Database,
    on_frames: FramesProgress | None = None,
) -> Redecode:
    """Rebuild the decoded tables of ``db_path`` from its raw frames with ``can_db``
    (keilog.decode.dbc.load_databases), atomically."""
    path = Path(db_path)
    if not path.is_file():
        raise StoreError(f"{path}: no such database; give the file keilog import wrote")
    db = open_db(path)
    try:
        try:
            with db.atomic():
                result = _redecode(db, can_db, on_frames)
        except sqlite3.Error as exc:
            raise StoreError(
                f"{path}: decoding again failed and the database is as it was ({exc}); "
                "fix the cause and run keilog redecode again"
            ) from exc
        except KeilogError as exc:  # a damaged frame block, a DBC the decoder refuses
            raise type(exc)(f"{exc} (the decoded tables are as they were)") from exc
    finally:
        db.close()
    result.db = str(path)
    return result


def _redecode(
    db: sqlite_utils.Database,
    can_db: cantools.database.Database,
    on_frames: FramesProgress | None,
) -> Redecode:
    conn = db.conn
    result = Redecode("")
    old = _frame_tables(conn)
    for table in old:
        message = table.removeprefix("sig_")
        conn.execute(f"drop view if exists {quote('msg_' + message)}")
        conn.execute(f"drop table {quote(table)}")
        conn.execute("delete from signals where message = ?", [message])
    total = frame_count(conn)
    # The frames are read by one open statement while their rows are written; SQLite
    # refuses a DROP TABLE meanwhile, and sqlite-utils' upsert (the signals rows) probes
    # its SQLite with one the first time: let it probe now.
    db.supports_on_conflict  # noqa: B018 (the property probes)
    for run in _runs(read_frames(conn)):
        first = int(run.frame_id[0])
        time_us = run.mono_us if run.has_mono.all() else rows.log_time_us(run.batch)
        result.decoded += rows.write_decoded(db, can_db, run.batch, first, time_us, result.renamed)
        result.frames += len(run)
        if on_frames:
            on_frames(result.frames, total)
    new = _frame_tables(conn)
    for table in new:
        view = "msg_" + table.removeprefix("sig_")
        result.tables[view] = conn.execute(f"select count(*) from {quote(table)}").fetchone()[0]
    made = {t.lower() for t in new}
    result.removed = sorted("msg_" + t.removeprefix("sig_") for t in old if t.lower() not in made)
    found = stored_coverage(conn, can_db)
    result.message_frames, result.unknown_ids = found.message_frames, found.unknown_ids
    if db["checks"].exists():
        result.checks = conn.execute("select count(*) from checks").fetchone()[0]
    return result


def _frame_tables(conn: sqlite3.Connection) -> list[str]:
    """The stored tables of decoded CAN messages: every ``sig_`` table whose rows point
    at raw frames (the logger's input tables name a segment instead)."""
    names = [
        str(row[0])
        for row in conn.execute(
            "select name from sqlite_master where type = 'table' and name like 'sig\\_%' "
            "escape '\\' order by name"
        )
    ]
    return [
        t
        for t in names
        if "segment" not in {r[1] for r in conn.execute(f"pragma table_info({quote(t)})")}
    ]


def _runs(chunks: Iterator[StoredFrames]) -> Iterator[StoredFrames]:
    """Each chunk cut where the segment changes or the frame numbers skip: the import
    decodes consecutive frames of one segment, on one time base."""
    for chunk in chunks:
        ids, segments = chunk.frame_id, chunk.segment
        cuts = np.flatnonzero((np.diff(ids) != 1) | (np.diff(segments) != 0)) + 1
        start = 0
        for end in [*cuts.tolist(), len(chunk)]:
            yield chunk.take(slice(start, end))
            start = end
