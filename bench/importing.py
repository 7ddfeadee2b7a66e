"""Importing logs into SQLite: keilog's import vs the pipeline owners write by hand.

- import_frames_per_s (KLG segments), import_frames_per_s_candump, import_frames_per_s_blf:
  end to end, one log -> SQLite (raw frames + one decoded table per message), keilog's
  ``store.import_files`` against the pipeline a competent owner writes on the SAME file:
  a per-frame reader (python-can's CanutilsLogReader / BLFReader; for segments, keilog's
  own per-frame ``logformat.reader.iter_frames``, python-can having no KLG reader) ->
  cantools ``decode`` per frame -> ``executemany`` of tuples into plain tables, all in ONE
  real transaction (``BEGIN`` ... ``COMMIT``), 50k rows per executemany. Beside them,
  SQLite's floor for the same rows: the reference's own ``executemany`` time alone (the
  tuples ready-made), i.e. what no pipeline storing these rows as rows can beat, and
  ``reader_only_frames_per_s``, python-can's reader alone on the file. The segments are
  real: the simulated kei car's frames (bench/decode.py's synthetic log) logged through
  the firmware's own encoder under the MicroPython unix port, rotated at its default
  4 MB; the candump and BLF files hold the same frames, written by python-can. KLG's
  entry also says where keilog's time goes (reading segments and the clock, decoding,
  SQLite inserts of raw frames and of decoded rows, the rest).
- import_peak_rss_mb: peak resident memory of a process importing 10M frames (200k with
  --quick), vs the same import of a tenth as many frames: a ratio near 1 means memory
  does not grow with the log (segments are imported one at a time, each in chunks of
  frames; other logs in chunks).

Skipped (no entries) when the ``micropython`` binary is missing.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import can
import numpy as np
from cantools.database import Database
from cantools.database.errors import DecodeError
from keilog import store
from keilog.decode import Decoder, FrameBatch, load_database
from keilog.logformat.reader import iter_frames, read_segment
from keilog.paths import keicar_dbc
from keilog.store import ingest, rows

from bench import entry
from bench.decode import keicar_log

ROOT = Path(__file__).resolve().parents[1]
FRAME_RECORD = np.dtype([("t", "<u4"), ("id", "<u2"), ("dlc", "u1"), ("data", "u1", 8)])


def log_segments(log: FrameBatch, out: Path) -> list[Path]:
    """Run the firmware's logging path over ``log``; return the segment files."""
    records = np.zeros(len(log), FRAME_RECORD)
    records["t"] = np.arange(len(log)) * 100  # 10 kHz: any spacing, within 30-bit ticks
    records["id"] = log.arbitration_id
    records["dlc"] = log.dlc
    records["data"] = log.data[:, :8]
    frames = out / "frames.bin"
    records.tofile(frames)
    storage = out / "storage"
    storage.mkdir()
    subprocess.run(
        ["micropython", str(ROOT / "bench" / "_mp_segments.py"), str(frames), str(storage)],
        env=dict(os.environ, MICROPYPATH=str(ROOT / "firmware" / "lib")),
        check=True,
        timeout=3600,
    )
    return sorted(storage.glob("*.KLG"))


ROWS_PER_EXECUTEMANY = 50_000
REFERENCE = "per-frame reader + cantools decode + executemany, one transaction"


def reference_import(db_path: Path, frames: Iterable[Any], can_db: Database) -> dict[str, float]:
    """The competent pipeline: ``frames`` (python-can messages, or keilog's CanFrame) ->
    cantools per frame -> executemany into plain tables in ONE transaction. Returns
    frames, total seconds and seconds inside executemany (SQLite's floor for the rows)."""
    t0 = time.perf_counter()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute(
        "create table frames (id integer primary key, timestamp real, "
        "arbitration_id integer, is_extended integer, dlc integer, data blob)"
    )
    by_id = {m.frame_id: m for m in can_db.messages}
    inserts: dict[str, str] = {}
    for m in can_db.messages:
        names = ", ".join(f'"{s.name}"' for s in m.signals)
        conn.execute(f'create table "msg_{m.name}" (frame_id integer primary key, '
                     f"timestamp real, {names})")  # fmt: skip
        marks = ", ".join("?" * (len(m.signals) + 2))
        inserts[m.name] = f'insert into "msg_{m.name}" values ({marks})'
    sqlite_s = 0.0
    rows: list[tuple[Any, ...]] = []
    decoded: dict[str, list[tuple[Any, ...]]] = {m.name: [] for m in can_db.messages}

    def flush() -> None:
        nonlocal sqlite_s
        t = time.perf_counter()
        conn.executemany("insert into frames values (?, ?, ?, ?, ?, ?)", rows)
        for name, values in decoded.items():
            if values:
                conn.executemany(inserts[name], values)
                values.clear()
        rows.clear()
        sqlite_s += time.perf_counter() - t

    conn.execute("begin")
    n = 0
    for n, f in enumerate(frames, 1):
        ts = f.timestamp if f.timestamp is not None else f.mono_us / 1e6
        data = bytes(f.data)
        ident = f.arbitration_id
        rows.append((n, ts, ident, int(f.is_extended_id), len(data), data))
        message = by_id.get(ident)
        if message is not None and not f.is_remote_frame and not f.is_error_frame:
            try:
                values = message.decode(data, decode_choices=False)
            except DecodeError:
                values = None
            if values is not None:
                decoded[message.name].append((n, ts, *values.values()))
        if len(rows) >= ROWS_PER_EXECUTEMANY:
            flush()
    flush()
    t = time.perf_counter()
    conn.execute("commit")
    conn.close()
    sqlite_s += time.perf_counter() - t
    return {"frames": n, "seconds": time.perf_counter() - t0, "sqlite_seconds": sqlite_s}


def compare_import(
    name: str, path: list[Path], frames: Callable[[], Iterable[Any]], can_db: Database,
    work: Path, reader_only: Callable[[], int] | None = None, **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """keilog's import of ``path`` vs the reference pipeline over the same file."""
    t0 = time.perf_counter()
    results = store.import_files(work / f"keilog_{name}.db", path, can_db)
    keilog_s = time.perf_counter() - t0
    imported = sum(r.frames for r in results)
    ref = reference_import(work / f"reference_{name}.db", frames(), can_db)
    if reader_only is not None:
        t0 = time.perf_counter()
        read = reader_only()
        extra["reader_only_frames_per_s"] = round(read / (time.perf_counter() - t0))
    assert ref["frames"] == imported, (name, ref["frames"], imported)
    return entry(
        imported / keilog_s,
        ref["frames"] / ref["seconds"],
        f"{REFERENCE} ({name})",
        "frames/s",
        True,
        frames=imported,
        keilog_seconds=round(keilog_s, 3),
        reference_seconds=round(ref["seconds"], 3),
        sqlite_floor_frames_per_s=round(ref["frames"] / ref["sqlite_seconds"]),
        keilog_share_of_floor=round(ref["sqlite_seconds"] / keilog_s, 3),
        **extra,
    )


def where_time_goes(segments: list[Path], can_db: Database, db_path: Path) -> dict[str, float]:
    """Seconds of one more keilog import, by step: reading segments into columns (with
    the clock), decoding, packing and inserting the raw frames' blocks, inserting the
    decoded rows into SQLite, and the rest (building rows, trips, small tables, commit).

    Measured by wrapping the store's steps (instrumentation for this bench only).
    """
    spent = dict.fromkeys(("read_and_clock_s", "decode_s", "frame_blocks_s",
                           "sqlite_decoded_s"), 0.0)  # fmt: skip

    def timed(key: str, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t0

        return wrapper

    saved = (ingest.read_columns, ingest.segment_clock, rows.insert_columns,
             ingest.write_frames, Decoder.decode)  # fmt: skip
    ingest.read_columns = timed("read_and_clock_s", ingest.read_columns)
    ingest.segment_clock = timed("read_and_clock_s", ingest.segment_clock)
    rows.insert_columns = timed("sqlite_decoded_s", rows.insert_columns)
    ingest.write_frames = timed("frame_blocks_s", ingest.write_frames)  # packing and inserting
    Decoder.decode = timed("decode_s", Decoder.decode)  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        store.import_files(db_path, segments, can_db)
        total = time.perf_counter() - t0
    finally:
        ingest.read_columns, ingest.segment_clock, rows.insert_columns = saved[:3]
        ingest.write_frames = saved[3]
        Decoder.decode = saved[4]  # type: ignore[method-assign]
    out = {k: round(v, 3) for k, v in spent.items()}
    out["rest_s"] = round(total - sum(spent.values()), 3)
    out["total_s"] = round(total, 3)
    return out


def peak_rss_mb(segments: list[Path]) -> tuple[float, float]:
    """Peak RSS of a process importing ``segments``, and its RSS before the import (the
    interpreter and its modules: python-can alone brings asammdf and pandas)."""
    # VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across exec, so a child of
    # this (large) process would report the parent's size.
    code = (
        "import sys\n"
        "from keilog import store\n"
        "from keilog.decode import load_database\n"
        "from keilog.paths import keicar_dbc\n"
        "def hwm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmHWM:'):\n"
        "            return int(line.split()[1])\n"
        "can_db = load_database(keicar_dbc())\n"
        "print(hwm())\n"
        "store.import_files(sys.argv[1], sys.argv[2:], can_db)\n"
        "print(hwm())\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(Path(tmp) / "k.db"), *map(str, segments)],
            capture_output=True,
            text=True,
            check=True,
            timeout=3600,
        )
    before, peak = (int(v) / 1024 for v in proc.stdout.split()[-2:])  # kB
    return peak, before


def run(quick: bool = False) -> dict[str, Any]:
    if not shutil.which("micropython"):
        return {}
    can_db = load_database(keicar_dbc())
    frames = 20_000 if quick else 1_000_000
    big = 200_000 if quick else 10_000_000
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log = keicar_log(can_db, frames)
        (work / "a").mkdir()
        segments = log_segments(log, work / "a")
        candump, blf = work / "frames.log", work / "frames.blf"
        with (
            can.CanutilsLogWriter(str(candump), channel="can0") as log_writer,
            can.BLFWriter(str(blf)) as blf_writer,
        ):
            for i in range(len(log)):
                message = can.Message(
                    timestamp=float(log.timestamp[i]),
                    arbitration_id=int(log.arbitration_id[i]),
                    is_extended_id=False,
                    data=log.payload(i),
                )
                log_writer.on_message_received(message)
                blf_writer.on_message_received(message)
        klg = compare_import(
            "KLG segments",
            segments,
            lambda: (f for s in segments for f in iter_frames(read_segment(s))),
            can_db,
            work,
            segments=len(segments),
        )
        klg["where_keilog_time_goes"] = where_time_goes(segments, can_db, work / "again.db")
        out["import_frames_per_s"] = klg
        for key, path, reader in (("candump", candump, can.CanutilsLogReader),
                                  ("blf", blf, can.BLFReader)):  # fmt: skip
            out[f"import_frames_per_s_{key}"] = compare_import(
                key,
                [path],
                lambda path=path, reader=reader: reader(str(path)),
                can_db,
                work,
                reader_only=lambda path=path, reader=reader: sum(1 for _ in reader(str(path))),
                file_mb=round(path.stat().st_size / 1e6, 1),
            )

        (work / "big").mkdir()
        big_segments = log_segments(keicar_log(can_db, big), work / "big")
        small = big_segments[: max(1, len(big_segments) // 10)]
        peak, before = peak_rss_mb(big_segments)
        small_peak, _ = peak_rss_mb(small)
        out["import_peak_rss_mb"] = entry(
            peak,
            small_peak,
            f"the same import of a tenth of the frames ({len(small)} of {len(big_segments)} "
            "segments)",
            "MB",
            False,
            frames=big,
            rss_before_import_mb=round(before, 1),
            growth_during_import_mb=round(peak - before, 1),
        )
    return out
