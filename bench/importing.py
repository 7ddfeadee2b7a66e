"""Importing logs into SQLite: keilog's import vs the pipeline owners write by hand.

- import_frames_per_s: end to end, log segments -> SQLite (raw frames + one decoded table
  per message). The segments are real: the simulated kei car's frames (bench/decode.py's
  synthetic log) logged through the firmware's own encoder under the MicroPython unix
  port, rotated at its default 4 MB. The reference: the same frames as a candump log,
  read with python-can's reader, decoded with cantools ``decode_message`` per frame and
  stored with sqlite-utils ``insert_all`` (inside one transaction, its fast setting).
  Extra fields say where keilog's time goes (reading segments and the clock, decoding,
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
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import can
import numpy as np
import sqlite_utils
from cantools.database import Database
from cantools.database.errors import DecodeError
from keilog import store
from keilog.decode import Decoder, FrameBatch, load_database
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


def baseline(db_path: Path, candump: Path, can_db: Database) -> int:
    """python-can reader + cantools per frame + sqlite-utils insert_all."""
    db = sqlite_utils.Database(str(db_path))
    frames: list[dict[str, Any]] = []
    decoded: dict[str, list[dict[str, Any]]] = {}
    with db.conn:
        for i, m in enumerate(can.LogReader(str(candump))):
            frames.append(
                {
                    "id": i,
                    "timestamp": m.timestamp,
                    "arbitration_id": m.arbitration_id,
                    "is_extended": int(m.is_extended_id),
                    "dlc": m.dlc,
                    "data": bytes(m.data),
                }
            )
            try:
                message = can_db.get_message_by_frame_id(m.arbitration_id)
                values = message.decode(bytes(m.data), decode_choices=False)
            except (KeyError, DecodeError):
                continue
            decoded.setdefault(message.name, []).append(
                {"frame_id": i, "timestamp": m.timestamp, **values}
            )
        db["frames"].insert_all(frames, pk="id")
        for name, rows in decoded.items():
            db[f"msg_{name}"].insert_all(rows, pk="frame_id")
    return len(frames)


def where_time_goes(segments: list[Path], can_db: Database, db_path: Path) -> dict[str, float]:
    """Seconds of one more keilog import, by step: reading segments into columns (with
    the clock), decoding, building rows and inserting into SQLite (raw frames, decoded
    tables), and the rest (trips, small tables, commit).

    Measured by wrapping the store's steps (instrumentation for this bench only).
    """
    spent = dict.fromkeys(("read_and_clock_s", "decode_s", "sqlite_frames_s",
                           "sqlite_decoded_s"), 0.0)  # fmt: skip

    def timed(key: str | None, fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                name = key or ("sqlite_frames_s" if args[1] == "frames" else "sqlite_decoded_s")
                spent[name] += time.perf_counter() - t0

        return wrapper

    saved = (ingest.read_columns, ingest.segment_clock, rows.insert_columns, Decoder.decode)
    ingest.read_columns = timed("read_and_clock_s", ingest.read_columns)
    ingest.segment_clock = timed("read_and_clock_s", ingest.segment_clock)
    rows.insert_columns = timed(None, rows.insert_columns)
    Decoder.decode = timed("decode_s", Decoder.decode)  # type: ignore[method-assign]
    try:
        t0 = time.perf_counter()
        store.import_files(db_path, segments, can_db)
        total = time.perf_counter() - t0
    finally:
        ingest.read_columns, ingest.segment_clock, rows.insert_columns = saved[:3]
        Decoder.decode = saved[3]  # type: ignore[method-assign]
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
    frames = 20_000 if quick else 300_000
    big = 200_000 if quick else 10_000_000
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        log = keicar_log(can_db, frames)
        (work / "a").mkdir()
        segments = log_segments(log, work / "a")
        candump = work / "frames.log"
        with can.CanutilsLogWriter(str(candump), channel="can0") as writer:
            for i in range(len(log)):
                writer.on_message_received(
                    can.Message(
                        timestamp=float(log.timestamp[i]),
                        arbitration_id=int(log.arbitration_id[i]),
                        is_extended_id=False,
                        data=log.payload(i),
                    )
                )
        t0 = time.perf_counter()
        results = store.import_files(work / "keilog.db", segments, can_db)
        keilog_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref_frames = baseline(work / "baseline.db", candump, can_db)
        ref_s = time.perf_counter() - t0
        imported = sum(r.frames for r in results)
        breakdown = where_time_goes(segments, can_db, work / "again.db")
        out["import_frames_per_s"] = entry(
            imported / keilog_s,
            ref_frames / ref_s,
            "python-can reader + cantools per frame + sqlite-utils insert_all",
            "frames/s",
            True,
            frames=imported,
            segments=len(segments),
            keilog_seconds=round(keilog_s, 3),
            reference_seconds=round(ref_s, 3),
            where_keilog_time_goes=breakdown,
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
