"""What the sync tests compare: the frames in a keilog database, in logging order."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils
from keilog.store.frames import temp_frames


def db_frames(db: sqlite_utils.Database | str | Path) -> list[tuple[int, bytes]]:
    """(id, data) of every frame, ordered by segment name, then as imported."""
    d = db if isinstance(db, sqlite_utils.Database) else sqlite_utils.Database(str(db))
    temp_frames(d.conn)
    rows = d.execute(
        "select f.arbitration_id, f.data from frames f join segments s on f.segment = s.id "
        "order by s.name, f.id"
    ).fetchall()
    return [(a, bytes(b)) for a, b in rows]


def db_segment_names(db: sqlite_utils.Database | str | Path) -> list[str]:
    d = db if isinstance(db, sqlite_utils.Database) else sqlite_utils.Database(str(db))
    return [r[0] for r in d.execute("select name from segments order by name").fetchall()]
