"""Tables out as Apache Parquet: the way out for fleets that outgrow one SQLite file.

``--to drive.parquet`` writes a folder ``drive.parquet/`` with one file per table:
``frames.parquet``, ``gps_fixes.parquet``, ``events.parquet``, ``trips.parquet`` and
``msg_<MESSAGE>.parquet`` per decoded message (signal units and comments from the DBC
as field metadata). DuckDB reads them as they are (``select * from
'drive.parquet/msg_VEHICLE_SPEED.parquet'``), so does Spark. Written with pyarrow, a
row group per chunk, so memory stays bounded; pyarrow is an optional extra
(``pip install 'keilog[parquet]'``).

Types follow SQLite's declared ones: INTEGER int64, REAL float64, TEXT string, BLOB
binary. A float signal stored as the text ``'NaN'`` becomes NaN again; an INTEGER column
holding unsigned 64-bit values above 2^63 - 1 (stored as text) becomes uint64.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from keilog.export.source import CHUNK_FRAMES, ExportError, Selection
from keilog.store.frames import frame_rows, read_frames
from keilog.store.names import file_name, quote
from keilog.store.schema import message_columns

INSTALL_HINT = "pyarrow is not installed; install it with: pip install 'keilog[parquet]'"
PARQUET_SUFFIX = ".parquet"


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ExportError(INSTALL_HINT) from exc
    return pa, pq


def write_parquet(
    db: sqlite_utils.Database, out: Path, sel: Selection, done: Callable[[int], None]
) -> dict[str, int]:
    """Write every table of the selection into the folder ``out``; rows per file."""
    pa, pq = _pyarrow()
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder; Parquet export writes a folder")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    counts: dict[str, int] = {}
    names = [*db.table_names(), *db.view_names(), "frames"]
    tables = ["frames", "gps_fixes", "events", "trips"]
    tables += sorted(t for t in names if t.startswith("msg_"))
    files: set[str] = set()
    for table in tables:
        if table not in names:
            continue
        where, args = _where(db, table, sel)
        # A DBC name may hold '/' or control characters: the file gets a safe name
        # (the first free one, compared without case), the table keeps its own.
        file = _free_file(file_name(table), files)
        if table == "frames":
            counts[table] = _write_frames(pa, pq, db, sel, out / f"{file}{PARQUET_SUFFIX}", done)
            continue
        counts[table] = _write_table(
            pa, pq, db, table, where, args, out / f"{file}{PARQUET_SUFFIX}",
            done if table == "frames" else None,
        )  # fmt: skip
    return counts


def _free_file(name: str, taken: set[str]) -> str:
    out, n = name, 1
    while out.lower() in taken:
        n += 1
        out = f"{name}_{n}"
    taken.add(out.lower())
    return out


def _where(db: sqlite_utils.Database, table: str, sel: Selection) -> tuple[str, tuple[Any, ...]]:
    if sel.trip is None:
        return "", ()
    if table == "trips":
        return "id = ?", (sel.trip,)
    if table == "frames":
        ranges = " or ".join("id between ? and ?" for _ in sel.ranges) or "0"
        args = tuple(v for r in sel.ranges for v in r)
        return f"({ranges}) and {sel.where}", (*args, *sel.args)
    if table.startswith("msg_"):
        # The views have the frame's mono_us and timestamp: the trip's window applies.
        ranges = " or ".join("frame_id between ? and ?" for _ in sel.ranges) or "0"
        args = tuple(v for r in sel.ranges for v in r)
        return f"({ranges}) and {sel.where}", (*args, *sel.args)
    if sel.window is None:
        return "0", ()
    return "timestamp between ? and ?", sel.window


def _write_table(
    pa: Any,
    pq: Any,
    db: sqlite_utils.Database,
    table: str,
    where: str,
    args: tuple[Any, ...],
    path: Path,
    done: Callable[[int], None] | None,
) -> int:
    if table.startswith("msg_") and table in db.view_names():
        declared = message_columns(db.conn, table)
    else:
        info = db.execute(f"pragma table_info({quote(table)})").fetchall()
        declared = {row[1]: (row[2] or "").upper() for row in info}
    columns = list(declared)
    clause = f" where {where}" if where else ""
    text_in = _text_columns(db, table, columns, declared, clause, args)
    units = _units(db, table)
    fields = [
        pa.field(c, _type(pa, declared[c], c in text_in), metadata=units.get(c)) for c in columns
    ]
    schema = pa.schema(fields)
    order = " order by frame_id" if table.startswith("msg_") else " order by id"
    cur = db.conn.execute(f"select * from {quote(table)}{clause}{order}", args)
    rows = 0
    with pq.ParquetWriter(path, schema) as writer:
        while chunk := cur.fetchmany(CHUNK_FRAMES):
            values = [list(col) for col in zip(*chunk, strict=True)]
            for j, c in enumerate(columns):
                if c in text_in:
                    values[j] = [_number(v, declared[c]) for v in values[j]]
            writer.write_table(pa.table(values, schema=schema))
            rows += len(chunk)
            if done:
                done(len(chunk))
        if not rows:
            writer.write_table(schema.empty_table())
    return rows


_FRAME_FIELDS = (
    ("id", "int64"), ("segment", "int64"), ("mono_us", "int64"), ("timestamp", "float64"),
    ("arbitration_id", "int64"), ("is_extended", "int64"), ("is_remote", "int64"),
    ("is_error", "int64"), ("is_fd", "int64"), ("bitrate_switch", "int64"),
    ("error_state_indicator", "int64"), ("dlc", "int64"), ("data", "binary"),
)  # fmt: skip


def _write_frames(
    pa: Any, pq: Any, db: sqlite_utils.Database, sel: Selection, path: Path,
    done: Callable[[int], None],
) -> int:  # fmt: skip
    """Raw frames, a row each as schema 2's ``frames`` table had them (the database
    packs them in blocks: keilog.store.frames)."""
    schema = pa.schema([pa.field(name, getattr(pa, kind)()) for name, kind in _FRAME_FIELDS])
    rows = 0
    with pq.ParquetWriter(path, schema) as writer:
        if sel.ranges:
            for part in read_frames(db.conn, sel.query()):
                columns = [list(c) for c in zip(*frame_rows(part), strict=True)]
                writer.write_table(pa.table(columns, schema=schema))
                rows += len(part)
                done(len(part))
        if not rows:
            writer.write_table(schema.empty_table())
    return rows


def _text_columns(
    db: sqlite_utils.Database,
    table: str,
    columns: list[str],
    declared: dict[str, str],
    clause: str,
    args: tuple[Any, ...],
) -> set[str]:
    """Numeric columns that hold text somewhere ('NaN', or integers over 2^63 - 1)."""
    numeric = [c for c in columns if declared[c] in ("INTEGER", "REAL", "FLOAT")]
    if not numeric:
        return set()
    probes = ", ".join(f"max(typeof({quote(c)}) = 'text')" for c in numeric)
    found = db.execute(f"select {probes} from {quote(table)}{clause}", args).fetchone()
    return {c for c, hit in zip(numeric, found, strict=True) if hit}


def _type(pa: Any, declared: str, has_text: bool) -> Any:
    if declared == "INTEGER":
        return pa.uint64() if has_text else pa.int64()
    if declared in ("REAL", "FLOAT"):
        return pa.float64()
    if declared == "BLOB":
        return pa.binary()
    return pa.string()


def _number(value: Any, declared: str) -> Any:
    if value is None or not isinstance(value, str):
        return value
    return float(value) if declared in ("REAL", "FLOAT") else int(value)


def _units(db: sqlite_utils.Database, table: str) -> dict[str, dict[str, str]]:
    if not table.startswith("msg_") or "signals" not in db.table_names():
        return {}
    rows = db.execute(
        "select signal, unit, comment from signals where message = ?", [table[4:]]
    ).fetchall()
    return {s: {"unit": u or "", "comment": c or ""} for s, u, c in rows}
