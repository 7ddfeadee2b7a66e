"""The keilog database's schema (docs/database.md documents every table and column).

Schema 3 is lean where the rows are many (docs/database.md, "Bytes"):

- raw frames are packed blocks in ``frame_blocks`` (keilog.store.frames), one identifier
  per block, found by identifier and time through one index;
- a decoded message is stored in ``sig_<MESSAGE>``: its frame number, its time on the
  segment's time base (``mono_us``) and its signals, a signal with a fractional scale or
  offset as its raw integer (1-2 bytes instead of an 8-byte REAL). The view
  ``msg_<MESSAGE>`` gives every row as schema 2 stored it (``frame_id``, ``timestamp``,
  ``device_id``, ``boot``, ``mono_us``, physical values), taking device and boot from
  ``segments`` and UTC from ``clock_pieces`` (the segment's clock, exactly as
  keilog.logformat.clock computes it), so SQL, Datasette and every reader keep working.

The small tables repeat ``device_id`` and ``boot`` so the checks and reports query them
without joins; their indexes are the ones those queries use.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlite_utils

from keilog.errors import StoreError
from keilog.store.frames import MARK_SHIFT
from keilog.store.names import StoredNames, message_table, quote, stored_names

__all__ = ["ensure_message_table", "ensure_schema", "message_table"]

SCHEMA_VERSION = 3  # PRAGMA user_version of a database with this schema

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
  clock text not null default 'mono',
  gps_fixes integer not null,
  events integer not null,
  start real,
  "end" real,
  damage text not null,
  imported_at text not null
);
create table if not exists frame_blocks (
  id integer primary key,
  segment integer not null references segments(id),
  arbitration_id integer not null,
  is_extended integer not null,
  first_frame integer not null,
  last_frame integer not null,
  frames integer not null,
  t_start real,
  t_end real,
  data blob not null
);
create table if not exists frame_marks (
  mark integer primary key,
  mono_us integer not null
);
create table if not exists clock_pieces (
  segment integer not null references segments(id),
  mono_from integer not null,
  mono_ref integer not null,
  utc_ref integer not null,
  slope real,
  primary key (segment, mono_from)
) without rowid;
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
  scale real,
  "offset" real,
  raw integer not null default 0,
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
create index if not exists frame_blocks_id_time on frame_blocks (arbitration_id, t_start);
create index if not exists frame_blocks_segment on frame_blocks (segment, first_frame);
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
    if version not in (0, SCHEMA_VERSION) or (version == 0 and _columns(conn, "frames")):
        raise StoreError(
            f"{_file(conn)}: has database schema {version or 1}; this keilog writes schema "
            f"{SCHEMA_VERSION} (docs/database.md). Re-import its logs with keilog import "
            "into a new database file"
        )
    # One transaction: each statement on its own would be a transaction with its syncs
    # (0.3 s for a new database here, a fifth of importing a million frames).
    mark = f"pragma user_version = {SCHEMA_VERSION};" if version == 0 else ""
    conn.executescript(f"begin; {_TABLES} {mark} commit;")


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f"pragma table_info({quote(table)})")]


def _file(conn: sqlite3.Connection) -> str:
    for _, name, path in conn.execute("pragma database_list").fetchall():
        if name == "main":
            return str(path) or ":memory:"
    return ":memory:"


def stored_table(table: str) -> str:
    """The table that stores the rows of message view ``msg_<MESSAGE>``."""
    return "sig_" + table.removeprefix("msg_")


def ensure_message_table(
    db: sqlite_utils.Database,
    msg: Any,
    names: StoredNames | None = None,
    raw_frames: bool = True,
) -> str:
    """The stored table of a cantools message (``sig_<MESSAGE>``, named by
    :mod:`keilog.store.names`), created with its view ``msg_<MESSAGE>`` and its signals'
    units, comments, scales and offsets in ``signals`` the first time; new signals become
    new columns. names: the stored names of the message's whole database (default: of
    this message alone). raw_frames: each row decodes the raw frame of its ``frame_id``;
    False for the logger's input records (no raw CAN frame: ``frame_id`` is the row's
    own id and the row names its segment)."""
    if names is None:
        names = stored_names([msg])
    view = names.table(msg.name)
    table = stored_table(view)
    message = view.removeprefix("msg_")
    columns = [(names.column(msg.name, s.name), s) for s in msg.signals]
    conn = db.conn
    known = {
        row[0].lower(): row[1:]
        for row in conn.execute(
            'select signal, scale, "offset", raw from signals where message = ?', [message]
        )
    }
    new = []
    for column, sig in columns:
        if column.lower() in known:
            _, _, raw = known[column.lower()]
            if raw and (sig.scale, sig.offset) != known[column.lower()][:2]:
                raise StoreError(
                    f"signal {sig.name} of message {msg.name} has scale {sig.scale} and "
                    f"offset {sig.offset} in this DBC, but the database stores it with scale "
                    f"{known[column.lower()][0]} and offset {known[column.lower()][1]}; use the "
                    "DBC the database was made with, or keilog redecode --db FILE --dbc NEW.dbc"
                )
        else:
            new.append((column, sig))
    if not new and db.table(table).exists():
        return table
    if not db.table(table).exists():
        lead: dict[str, Any] = {"frame_id": int, "mono_us": int}
        if not raw_frames:
            lead["segment"] = int
        # One CREATE with every column (an ALTER TABLE per signal rewrote the schema
        # as many times: half the fixed cost of a first import).
        signals = {column: _column_type(conn, sig) for column, sig in new}
        db.table(table).create({**lead, **signals}, pk="frame_id")
    else:
        have = {c.lower() for c in db.table(table).columns_dict}
        for column, sig in new:
            if column.lower() not in have:
                db.table(table).add_column(column, _column_type(conn, sig))
    db.table("signals").upsert_all(
        [
            {
                "message": message,
                "frame_id": msg.frame_id,
                "is_extended": int(bool(msg.is_extended_frame)),
                "signal": column,
                "unit": sig.unit or "",
                "comment": sig.comment or "",
                "minimum": sig.minimum,
                "maximum": sig.maximum,
                "scale": sig.scale,
                "offset": sig.offset,
                "raw": int(stores_raw(conn, sig)),
            }
            for column, sig in new
        ],
        pk=("message", "signal"),
    )
    create_view(conn, view)
    return table


def _column_type(conn: sqlite3.Connection, sig: Any) -> type:
    return float if is_float_signal(sig) and not stores_raw(conn, sig) else int


def stores_raw(conn: sqlite3.Connection, sig: Any) -> bool:
    """Whether a signal is stored as its raw integer: an integer signal whose scale or
    offset is fractional, when SQLite reads both back exactly from their SQL text."""
    if sig.is_float or not is_float_signal(sig):
        return False
    scale, offset = float(sig.scale), float(sig.offset)
    same = conn.execute(f"select ? = {scale!r} and ? = {offset!r}", [scale, offset]).fetchone()
    return bool(same[0])


def create_view(conn: sqlite3.Connection, view: str) -> None:
    """(Re)create the view ``msg_<MESSAGE>`` over its stored table: the rows as schema 2
    stored them. Every name is quoted: names are data."""
    table = stored_table(view)
    message = view.removeprefix("msg_")
    cols = _columns(conn, table)
    scaled = {
        row[0].lower(): (float(row[1]), float(row[2]))
        for row in conn.execute(
            'select signal, scale, "offset" from signals where message = ? and raw', [message]
        )
    }
    lead = {"frame_id", "mono_us", "segment"}
    values = []
    for c in cols:
        if c in lead:
            continue
        q = f"m.{quote(c)}"
        if c.lower() in scaled:
            scale, offset = scaled[c.lower()]
            # Rows whose value was not a whole raw number keep the value itself.
            expr = (
                f"case when typeof({q}) = 'integer' then {q} * {scale!r} + {offset!r} else {q} end"
            )
            values.append(f"{expr} as {quote(c)}")
        else:
            values.append(f"{q} as {quote(c)}")
    if "segment" in cols:
        join = "join segments s on s.id = m.segment"
        time = "m.mono_us"
    else:
        join = (
            "join segments s on m.frame_id between s.first_frame and s.first_frame + s.frames - 1 "
            f"join frame_marks k on k.mark = m.frame_id >> {MARK_SHIFT}"
        )
        time = "(m.mono_us + k.mono_us)"  # stored after the frame's mark (frames.since_mark)
    sql = f"""create view {quote(view)} as select m.frame_id as frame_id,
  (select case when c.slope is null then (c.utc_ref + ({time} - c.mono_ref)) / 1e6
     else (c.slope * ({time} - c.mono_ref) + c.utc_ref) / 1e6 end
   from clock_pieces c where c.segment = s.id and c.mono_from <= {time}
   order by c.mono_from desc limit 1) as timestamp,
  d.device_id as device_id, s.boot as boot,
  case when s.clock = 'mono' then {time} end as mono_us{"".join(", " + v for v in values)}
from {quote(table)} m {join} join devices d on d.id = s.device"""
    conn.execute(f"drop view if exists {quote(view)}")
    conn.execute(sql)


def has_raw_frames(conn: sqlite3.Connection, view: str) -> bool:
    """Whether the rows of ``msg_<MESSAGE>`` decode raw frames, so that their
    ``frame_id`` is a frame's number; the logger's input records have no raw frame
    (their stored table names its segment and ``frame_id`` is the row's own id)."""
    return "segment" not in _columns(conn, stored_table(view))


def message_columns(conn: sqlite3.Connection, view: str) -> dict[str, str]:
    """The columns of a ``msg_`` view with the types they hold (a view declares none)."""
    table = stored_table(view)
    message = view.removeprefix("msg_")
    raw = {
        row[0].lower()
        for row in conn.execute("select signal from signals where message = ? and raw", [message])
    }
    out = {"frame_id": "INTEGER", "timestamp": "REAL", "device_id": "TEXT", "boot": "INTEGER",
           "mono_us": "INTEGER"}  # fmt: skip
    for _, name, kind, *_ in conn.execute(f"pragma table_info({quote(table)})"):
        if name not in ("frame_id", "mono_us", "segment"):
            out[name] = "REAL" if name.lower() in raw else (kind or "").upper()
    return out


def is_float_signal(sig: Any) -> bool:
    # cantools returns floats for IEEE signals and for non-integer scale or offset;
    # integers (up to 64-bit counters) stay exact in INTEGER columns.
    return bool(sig.is_float) or not (
        float(sig.scale).is_integer() and float(sig.offset).is_integer()
    )
