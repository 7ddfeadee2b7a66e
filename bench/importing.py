"""Importing logs into SQLite: keilog's import vs the pipeline owners write by hand.

- import_frames_per_s: end to end, log segments -> SQLite (raw frames + one decoded table
  per message). The segments are real: the simulated kei car's frames (bench/decode.py's
  synthetic log) logged through the firmware's own encoder under the MicroPython unix
  port, rotated at its default 4 MB. The reference: the same frames as a candump log,
  read with python-can's reader, decoded with cantools ``decode_message`` per frame and
  stored with sqlite-utils ``insert_all`` (inside one transaction, its fast setting).
  Extra fields say where keilog's time goes (segment parsing and clock, decoding, SQLite).
- import_peak_rss_mb: peak resident memory of a process importing many frames, vs the
  same import of a tenth as many frames: a ratio near 1 means memory does not grow with
  the log (segments are imported one at a time, other logs in chunks).

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
from keilog.logfile import iter_frames, read_segment
from keilog.paths import keicar_dbc

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


def where_time_goes(segments: list[Path], decoder: Decoder) -> dict[str, float]:
    t0 = time.perf_counter()
    frames = [f for s in segments for f in iter_frames(read_segment(s))]
    t1 = time.perf_counter()
    batch = store._frame_batch(frames)
    t2 = time.perf_counter()
    decoder.decode(batch)
    t3 = time.perf_counter()
    return {
        "parse_and_clock_s": round(t1 - t0, 3),
        "columns_s": round(t2 - t1, 3),
        "decode_s": round(t3 - t2, 4),
    }


def peak_rss_mb(segments: list[Path]) -> float:
    code = (
        "import resource, sys\n"
        "from keilog import store\n"
        "from keilog.decode import load_database\n"
        "from keilog.paths import keicar_dbc\n"
        "store.import_files(sys.argv[1], sys.argv[2:], load_database(keicar_dbc()))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-c", code, str(Path(tmp) / "k.db"), *map(str, segments)],
            capture_output=True,
            text=True,
            check=True,
            timeout=3600,
        )
    return int(proc.stdout.split()[-1]) / 1024  # Linux reports KiB


def run(quick: bool = False) -> dict[str, Any]:
    if not shutil.which("micropython"):
        return {}
    can_db = load_database(keicar_dbc())
    frames = 20_000 if quick else 300_000
    big = 100_000 if quick else 2_000_000
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
        breakdown = where_time_goes(segments, Decoder(can_db))
        rest = keilog_s - sum(breakdown.values())
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
            where_keilog_time_goes={**breakdown, "sqlite_and_rest_s": round(rest, 3)},
        )

        (work / "big").mkdir()
        big_segments = log_segments(keicar_log(can_db, big), work / "big")
        small = big_segments[: max(1, len(big_segments) // 10)]
        out["import_peak_rss_mb"] = entry(
            peak_rss_mb(big_segments),
            peak_rss_mb(small),
            f"the same import of a tenth of the frames ({len(small)} of {len(big_segments)} "
            "segments)",
            "MB",
            False,
            frames=big,
        )
    return out
