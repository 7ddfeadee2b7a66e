"""Check results kept in the database: ``keilog check`` stores each result it makes, so
``keilog report`` and ``keilog serve`` show the latest one without extra flags.

The result is kept whole, as the JSON ``keilog check --json`` prints (docs/rules.md), with
when it was made, the vehicle's state and class, and the road file it used.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import sqlite_utils

from keilog.errors import StoreError

SCHEMA = """
create table if not exists checks (
  id integer primary key,
  made text not null,
  state text,
  vehicle_class text,
  roads text,
  trips text not null,
  result text not null
);
"""


def save_check(db_path: str | Path, result: dict[str, Any]) -> int:
    """Store a check result in the database it was made from; return its id."""
    path = Path(db_path)
    if not path.is_file():
        raise StoreError(f"{path}: no such database; create it with keilog import")
    vehicle = result.get("vehicle") or {}
    db = sqlite_utils.Database(str(path))
    try:
        with db.conn:
            db.conn.executescript(SCHEMA)
            cur = db.conn.execute(
                "insert into checks (made, state, vehicle_class, roads, trips, result) "
                "values (?, ?, ?, ?, ?, ?)",
                (
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                    vehicle.get("registration_state"),
                    vehicle.get("class"),
                    result.get("roads"),
                    ",".join(str(t.get("id")) for t in result.get("trips", [])),
                    json.dumps(result, allow_nan=False),
                ),
            )
            return int(cur.lastrowid or 0)
    finally:
        db.close()


def last_check(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """The latest stored check result (its JSON object), or None if none was stored."""
    if not db.table("checks").exists():
        return None
    row = db.execute("select result from checks order by id desc limit 1").fetchone()
    return None if row is None else dict(json.loads(row[0]))
