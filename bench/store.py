"""The SQLite store: bytes per frame, and the time-window query on raw frames.

- store_bytes_per_frame: the demo database (``keilog demo``'s pipeline: the simulated
  kei car logged by the firmware under the MicroPython unix port, imported with
  dbc/keicar.dbc and obd2.dbc), every table and index summed through ``dbstat``, per
  raw frame. The reference, measured in the same run on the same frames and decoded
  values: what a competent user writes by hand, one plain ``frames`` table (schema 2's
  columns) plus one table per message (frame id, timestamp, signals), one transaction,
  no index. Beside it: python-can's ``SqliteWriter`` table of the raw frames alone
  (keilog's raw part compares with it), schema 2's figure (:data:`SCHEMA_2_BYTES`, a
  constant from docs/database.md, context only), and two floors for the raw frames:
  the firmware's ``.KLG`` segments and zstd -19 of their columns (int64 us, uint32
  id, uint8 dlc, 8 data bytes).
- store_query_window_ms: "the frames of one id in a 60 s window" on a database of
  10 M frames (500 k with --quick): keilog's :func:`keilog.store.frames.read_frames`
  (index ``frame_blocks_id_time``) against the same frames in a plain ``frames`` table
  queried with ``where arbitration_id = ? and timestamp between ? and ?`` (no time
  index, a full scan, as schema 2 did). Beside it: the same reference with a competent
  index ``(arbitration_id, timestamp)`` (and what the index costs in bytes), and the
  time-only window (every id, 60 s) both ways.

The big database is made without the simulator: the kei car's frames of one simulated
drive repeated (numpy columns), written by the store's own block writer
(keilog.store.frames.write_frames) in segments of 1 M frames.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from keilog import store
from keilog.decode import FrameBatch, load_database
from keilog.paths import keicar_dbc
from keilog.store.frames import FRAME_COLUMNS, FrameQuery, frame_rows, read_frames, write_frames

from bench import best_of, entry
from bench.decode import keicar_log

SCHEMA_2_BYTES = 119.4  # docs/database.md: the demo database under schema 2 (context only)
SEGMENT_FRAMES = 1_000_000
WINDOW_S = 60.0
T0 = 1_780_322_400.0  # 2026-06-01T14:00:00Z


def table_bytes(path: Path) -> dict[str, int]:
    """Bytes of every table and index of a database file (SQLite's dbstat)."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("select name, sum(pgsize) from dbstat group by name").fetchall()
    finally:
        conn.close()
    return {str(name): int(size) for name, size in rows}


def _stored_frames(db_path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return [row for part in read_frames(conn) for row in frame_rows(part)]
    finally:
        conn.close()


def _reference_db(db_path: Path, path: Path) -> int:
    """The demo database's frames and decoded rows as plain tables, one transaction."""
    src = store.open_db(db_path)
    ref = sqlite3.connect(path, isolation_level=None)
    ref.execute("begin")
    ref.execute(
        "create table frames (id integer primary key, segment integer, mono_us integer, "
        "timestamp real, arbitration_id integer, is_extended integer, is_remote integer, "
        "is_error integer, is_fd integer, bitrate_switch integer, "
        "error_state_indicator integer, dlc integer, data blob)"
    )
    ref.executemany(
        f"insert into frames values ({','.join('?' * len(FRAME_COLUMNS))})",
        _stored_frames(db_path),
    )
    for view in src.view_names():
        if not view.startswith("msg_"):
            continue
        columns = [c for c in src[view].columns_dict if c not in ("device_id", "boot", "mono_us")]
        names = ", ".join(f'"{c}"' for c in columns)
        ref.execute(f'create table "{view}" ({names})')
        ref.executemany(
            f'insert into "{view}" values ({",".join("?" * len(columns))})',
            src.execute(f'select {names} from "{view}"').fetchall(),
        )
    ref.execute("commit")
    ref.close()
    src.close()
    return sum(table_bytes(path).values())


def _python_can_bytes(db_path: Path, path: Path) -> int:
    """The raw frames in python-can's SqliteWriter table (its schema, as its
    ``_create_db`` makes it), written in one transaction: the writer itself inserts from a
    thread and commits every batch, which changes the time, not the bytes."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "create table messages (ts real, arbitration_id integer, extended integer, "
        "remote integer, error integer, dlc integer, data blob)"
    )
    conn.execute("begin")
    conn.executemany(
        "insert into messages values (?, ?, ?, ?, ?, ?, ?)",
        [(r[3], r[4], r[5], r[6], r[7], r[11], r[12]) for r in _stored_frames(db_path)],
    )
    conn.execute("commit")
    conn.close()
    return sum(table_bytes(path).values())


def _zstd_columns(db_path: Path) -> int:
    """zstd -19 of the raw frames as packed columns (pyarrow's zstd)."""
    import pyarrow as pa

    rows = _stored_frames(db_path)
    us = np.rint(np.array([r[3] for r in rows]) * 1e6).astype(np.int64)
    data = np.zeros((len(rows), 8), np.uint8)
    for i, r in enumerate(rows):
        data[i, : len(r[12][:8])] = np.frombuffer(bytes(r[12][:8]), np.uint8)
    columns = b"".join([
        np.diff(us, prepend=0).tobytes(),
        np.array([r[4] for r in rows], np.uint32).tobytes(),
        np.array([r[11] for r in rows], np.uint8).tobytes(),
        data.T.tobytes(),
    ])  # fmt: skip
    return len(pa.Codec("zstd", compression_level=19).compress(columns, asbytes=True))


def bytes_per_frame(work: Path) -> dict[str, Any]:
    from keilog.demo import run_demo

    demo = run_demo(work / "demo", sync=False)
    db_path = demo.db_path
    frames = demo.frames_logged
    by_table = table_bytes(db_path)
    keilog = sum(by_table.values())
    reference = _reference_db(db_path, work / "reference.db")
    ref_tables = table_bytes(work / "reference.db")
    python_can = _python_can_bytes(db_path, work / "python_can.db")
    klg = sum(p.stat().st_size for p in demo.segments)
    return entry(
        keilog / frames,
        reference / frames,
        "plain frames table + one table per message, one transaction, no index",
        "bytes/frame",
        False,
        frames=frames,
        keilog_by_table={k: round(v / frames, 2) for k, v in sorted(by_table.items())},
        keilog_raw_frames=round(by_table.get("frame_blocks", 0) / frames, 2),
        reference_raw_frames=round(ref_tables["frames"] / frames, 2),
        python_can_sqlitewriter_raw_frames=round(python_can / frames, 2),
        schema_2_context=SCHEMA_2_BYTES,
        floor_klg_segments=round(klg / frames, 2),
        floor_zstd19_raw_columns=round(_zstd_columns(db_path) / frames, 2),
    )


# --- the big database ---------------------------------------------------------------------


def big_database(path: Path, frames: int) -> FrameBatch:
    """``frames`` frames of the kei car into a keilog database, written by the store's
    block writer from numpy columns (one simulated drive, repeated); returns the drive."""
    can_db = load_database(keicar_dbc())
    base = keicar_log(can_db, 60_000)
    span = float(base.timestamp[-1] - base.timestamp[0]) + 0.01
    rng = np.random.default_rng(18)
    db = store.open_db(path)
    conn = db.conn
    conn.execute("begin")
    conn.execute("insert into devices (device_id, firmware) values ('BENCH-1', 'bench')")
    written = 0
    seg = 0
    while written < frames:
        seg += 1
        n_seg = min(SEGMENT_FRAMES, frames - written)
        first = written + 1
        done = 0
        while done < n_seg:
            k = (written + done) // len(base)
            at = (written + done) % len(base)
            n = min(len(base) - at, n_seg - done)
            part = base.take(slice(at, at + n))
            stamps = T0 + (part.timestamp - base.timestamp[0]) + k * span
            # the logger's clock: microseconds, with the jitter of a real bus's arrivals
            mono = np.rint((stamps - T0) * 1e6).astype(np.int64) + rng.integers(0, 200, n)
            stamps = T0 + mono / 1e6
            batch = FrameBatch(stamps, part.arbitration_id, part.is_extended, part.dlc, part.data)
            write_frames(conn, first + done, seg, batch, mono)
            done += n
        conn.execute(
            "insert into segments (id, sha256, name, device, boot, seq, blocks, first_frame, "
            "frames, gps_fixes, events, damage, imported_at) "
            "values (?, ?, ?, 1, 1, ?, 0, ?, ?, 0, 0, '', '')",
            (seg, f"bench{seg}", f"bench{seg}.KLG", seg, first, n_seg),
        )
        written += n_seg
    conn.execute("commit")
    db.close()
    return base


def plain_frames(src: Path, path: Path) -> None:
    """The same frames in schema 2's plain ``frames`` table (one transaction, no index)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "create table frames (id integer primary key, segment integer, mono_us integer, "
        "timestamp real, arbitration_id integer, is_extended integer, is_remote integer, "
        "is_error integer, is_fd integer, bitrate_switch integer, "
        "error_state_indicator integer, dlc integer, data blob)"
    )
    conn.execute("begin")
    reader = sqlite3.connect(src)
    for part in read_frames(reader):
        conn.executemany(
            f"insert into frames values ({','.join('?' * len(FRAME_COLUMNS))})",
            frame_rows(part),
        )
    reader.close()
    conn.execute("commit")
    conn.close()


def query_window(work: Path, frames: int, repeat: int) -> dict[str, Any]:
    keilog_path, plain_path = work / "big.db", work / "plain.db"
    t0 = time.perf_counter()
    base = big_database(keilog_path, frames)
    build_s = time.perf_counter() - t0
    plain_frames(keilog_path, plain_path)
    span_s = frames / len(base) * float(base.timestamp[-1] - base.timestamp[0])
    ident = int(base.arbitration_id[0])
    start = T0 + span_s / 2  # the middle of the data
    end = start + WINDOW_S
    conn = sqlite3.connect(keilog_path)
    plain = sqlite3.connect(plain_path)

    def keilog_query(ids: list[int] | None) -> int:
        query = FrameQuery(arbitration_ids=ids, start=start, end=end)
        return sum(len(p) for p in read_frames(conn, query))

    def plain_query(ids: list[int] | None) -> int:
        where = "timestamp between ? and ?"
        args: list[Any] = [start, end]
        if ids is not None:
            where = "arbitration_id = ? and " + where
            args.insert(0, ids[0])
        return len(plain.execute(f"select * from frames where {where}", args).fetchall())

    keilog_s, n = best_of(lambda: keilog_query([ident]), repeat)
    plain_s, n_plain = best_of(lambda: plain_query([ident]), repeat)
    all_s, n_all = best_of(lambda: keilog_query(None), repeat)
    plain_all_s, n_plain_all = best_of(lambda: plain_query(None), repeat)
    assert (n, n_all) == (n_plain, n_plain_all), (n, n_plain, n_all, n_plain_all)
    before = sum(table_bytes(plain_path).values())
    plain.execute("create index frames_id_time on frames (arbitration_id, timestamp)")
    index_bytes = sum(table_bytes(plain_path).values()) - before
    indexed_s, n_indexed = best_of(lambda: plain_query([ident]), repeat)
    assert n_indexed == n
    plan = conn.execute(
        "explain query plan select * from frame_blocks where arbitration_id = ? "
        "and t_start between ? and ?",
        [ident, start - 60, end],
    ).fetchall()
    conn.close()
    plain.close()
    return entry(
        keilog_s * 1e3,
        plain_s * 1e3,
        "plain frames table, no time index (full scan, as schema 2)",
        "ms",
        False,
        frames=frames,
        window_frames=n,
        keilog_plan=" / ".join(str(r[-1]) for r in plan),
        build_database_s=round(build_s, 1),
        keilog_db_mb=round(keilog_path.stat().st_size / 1e6, 1),
        plain_db_mb=round(plain_path.stat().st_size / 1e6, 1),
        reference_indexed_ms=round(indexed_s * 1e3, 2),
        ratio_vs_indexed=round(indexed_s / keilog_s, 3),
        reference_index_bytes_per_frame=round(index_bytes / frames, 2),
        time_only_window_frames=n_all,
        time_only_keilog_ms=round(all_s * 1e3, 2),
        time_only_plain_ms=round(plain_all_s * 1e3, 2),
    )


def run(quick: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        import shutil

        if shutil.which("micropython"):  # the demo's firmware runs under it
            out["store_bytes_per_frame"] = bytes_per_frame(work)
        out["store_query_window_ms"] = query_window(
            work, 500_000 if quick else 10_000_000, 3 if quick else 5
        )
    return out
