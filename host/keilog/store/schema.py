"""The keilog database's schema (docs/database.md documents every table and column).

Raw frames are the bulk of a database, so ``frames`` is compact: an integer segment id
(device and boot are on ``segments``), the frame's fields and its bytes as a BLOB, and
no secondary index (frames of a segment are the id range ``segments.first_frame`` ..
``first_frame + frames - 1``; an index on every frame would double the import time).
The small tables repeat ``device_id`` and ``boot`` so the checks and reports query them
without joins; their indexes are the ones those queries use.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlite_utils

from keilog.errors import StoreError
from keilog.store.names import StoredNames, message_table, quote, stored_names

__all__ = ["ensure_message_table", "ensure_schema", "message_table"]

SCHEMA_VERSION = 2  # PRAGMA user_version of a database with this schema

_TABLES = """
create table if not exists devices (
  id integer primary key,
  device_id text not null unique,
  firmware text,
  first_seen real,
  last_seen real
);
create table if not exists segments (
  id integer primary key,
  sha256 text not null unique,
  name text not null,
  device integer not null references devices(id),
  boot integer not null,
  seq integer,
  blocks integer not null,
  first_frame integer,
  frames integer not null,
  gps_fixes integer not null,
  events integer not null,
  start real,
  "end" real,
  damage text not null,
  imported_at text not null
);
create table if not exists frames (
  id integer primary key,
  segment integer not null references segments(id),
  mono_us integer,
  timestamp real,
  arbitration_id integer not null,
  is_extended integer not null,
  is_remote integer not null,
  is_error integer not null,
  is_fd integer not null,
  bitrate_switch integer not null,
  error_state_indicator integer not null,
  dlc integer not null,
  data blob not null
);
create table if not exists gps_fixes (
  id integer primary key,
  segment integer not null references segments(id),
  device_id text not null,
  boot integer not null,
  mono_us integer,
  timestamp real,
  utc real,
  lat real,
  lon real,
  alt_m real,
  speed_mps real,
  course_deg real,
  quality integer,
  satellites integer,
  hdop real
);
create table if not exists events (
  id integer primary key,
  segment integer not null references segments(id),
  device_id text not null,
  boot integer not null,
  mono_us integer,
  timestamp real,
  kind text not null,
  code integer not null,
  value integer not null
);
create table if not exists clock_anchors (
  id integer primary key,
  segment integer not null references segments(id),
  device_id text not null,
  boot integer not null,
  mono_us integer not null,
  utc_us integer not null,
  source text not null
);
create table if not exists signals (
  message text not null,
  frame_id integer,
  is_extended integer,
  signal text not null,
  unit text,
  comment text,
  minimum real,
  maximum real,
  primary key (message, signal)
);
create table if not exists trip_spans (
  id integer primary key,
  segment integer not null references segments(id),
  device_id text not null,
  boot integer not null,
  clock text not null,
  t_start_us integer not null,
  t_end_us integer not null,
  start real,
  "end" real,
  frames integer not null,
  gps_fixes integer not null,
  distance_m real not null,
  first_fix text,
  last_fix text,
  ends_trip text
);
create table if not exists trips (
  id integer primary key,
  device_id text not null,
  boot integer not null,
  start real,
  "end" real,
  mono_start_us integer,
  mono_end_us integer,
  duration_s real,
  distance_m real not null,
  gps_fixes integer not null,
  frames integer not null,
  segments integer not null,
  ended_by text not null
);
create index if not exists segments_device_boot on segments (device, boot);
create index if not exists gps_fixes_device_boot_mono on gps_fixes (device_id, boot, mono_us);
create index if not exists gps_fixes_timestamp on gps_fixes (timestamp);
create index if not exists events_timestamp on events (timestamp);
create index if not exists clock_anchors_device_boot on clock_anchors (device_id, boot);
create index if not exists trip_spans_device_boot on trip_spans (device_id, boot, t_start_us);
create index if not exists trips_device_boot on trips (device_id, boot);
"""


def ensure_schema(db: sqlite_utils.Database) -> None:
    """Create what is missing; refuse a database an older keilog wrote."""
    conn = db.conn
    version = conn.execute("pragma user_version").fetchone()[0]
    if version not in (0, SCHEMA_VERSION):
        raise StoreError(
            f"{_file(conn)}: has database schema {version}; this keilog writes schema "
            f"{SCHEMA_VERSION}. Import the logs into a new database file"
        )
    if version == 0 and _columns(conn, "frames"):
        raise StoreError(
            f"{_file(conn)}: was written by an older keilog (raw frames with a device "
            "string per row); import the logs into a new database file"
        )
    conn.executescript(_TABLES)
    if version == 0:
        conn.execute(f"pragma user_version = {SCHEMA_VERSION}")


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"pragma table_info({quote(table)})")]


def _file(conn: sqlite3.Connection) -> str:
    for _, name, path in conn.execute("pragma database_list").fetchall():
        if name == "main":
            return str(path) or ":memory:"
    return ":memory:"


# Columns every message table has before its signals (keilog.store.decoded fills them).
MESSAGE_LEAD = {
    "frame_id": int,
    "timestamp": float,
    "device_id": str,
    "boot": int,
    "mono_us": int,
}


def ensure_message_table(
    db: sqlite_utils.Database,
    msg: Any,
    names: StoredNames | None = None,
    raw_frames: bool = True,
) -> str:
    """The table of a cantools message (``msg_<MESSAGE>``, renamed by
    :mod:`keilog.store.names` if it collides), created with its signals' units and
    comments in ``signals`` the first time; new signals become new columns. names: the
    stored names of the message's whole database (default: of this message alone).
    raw_frames: each row decodes the ``frames`` row of its ``frame_id``; False for the
    logger's input records (no raw CAN frame: ``frame_id`` is the row's own id)."""
    if names is None:
        names = stored_names([msg])
    table = names.table(msg.name)
    columns = [(names.column(msg.name, s.name), s) for s in msg.signals]
    if not db.table(table).exists():
        cols: dict[str, Any] = dict(MESSAGE_LEAD)
        for column, sig in columns:
            cols[column] = float if is_float_signal(sig) else int
        fks = [("frame_id", "frames", "id")] if raw_frames else []
        db.table(table).create(cols, pk="frame_id", foreign_keys=fks)
        db.table(table).create_index(["timestamp"])
        db.table("signals").upsert_all(
            [
                {
                    "message": table.removeprefix("msg_"),
                    "frame_id": msg.frame_id,
                    "is_extended": int(bool(msg.is_extended_frame)),
                    "signal": column,
                    "unit": sig.unit or "",
                    "comment": sig.comment or "",
                    "minimum": sig.minimum,
                    "maximum": sig.maximum,
                }
                for column, sig in columns
            ],
            pk=("message", "signal"),
        )
    else:
        have = {c.lower() for c in db.table(table).columns_dict}
        for column, sig in columns:
            if column.lower() not in have:
                db.table(table).add_column(column, float if is_float_signal(sig) else int)
    return table


def is_float_signal(sig: Any) -> bool:
    # cantools returns floats for IEEE signals and for non-integer scale or offset;
    # integers (up to 64-bit counters) stay exact in INTEGER columns.
    return bool(sig.is_float) or not (
        float(sig.scale).is_integer() and float(sig.offset).is_integer()
    )
